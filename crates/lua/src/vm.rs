//! The Luau VM of one worker thread: creation, sandboxing, time slices, the memory limit and
//! the few raw calls mlua does not expose.
//!
//! # Unsafe code
//! This is the only module with `unsafe`. Its invariants:
//! - The interrupt callback only touches this thread's `SLICE` cell and calls `lua_yield` /
//!   `luaL_error` on the `lua_State` Luau passes in, which is the running thread of this VM.
//!   It holds no Rust values with destructors when it raises, so Luau's error unwinding (a C++
//!   exception through an `extern "C-unwind"` frame) skips no Rust cleanup.
//! - `exec_raw` closures only use stack slots mlua pushed for them (the arguments) and leave the
//!   stack balanced; mlua runs them in protected mode.
//! - Memory categories: `lua_setmemcat` and `lua_totalbytes` get the `lua_State` of a thread
//!   value (its pointer) that the caller holds, so it is alive; they only store a category
//!   number below 256 in it, or read the VM's per-category counters.

#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::c_void;
use std::os::raw::c_int;
use std::time::{Duration, Instant};

use mlua::{Lua, LuaOptions, StdLib, Table, Value, ffi};
use starling_core::{ErrorKind, ErrorValue, ExitReason, Step};

use crate::engine::Ctx;
use crate::task::ProcState;

/// How long a process may run before it is preempted (SPEC §4.5: about 1 ms).
pub(crate) const SLICE: Duration = Duration::from_millis(1);

/// Interrupts between clock checks. Interrupts fire at calls and loop back-edges, a few
/// nanoseconds of work each, so 1024 of them cost far less than the slice.
const CHECK_EVERY: i32 = 1024;

/// Preemption stress mode for testing the scheduler: with `STARLING_STRESS_PREEMPT=1` in the
/// environment, a task is preempted at every second interrupt point (never twice in a row, so
/// the re-executed instruction always makes progress). Programs run much slower but must
/// behave exactly the same; the test suite runs some scripts this way.
fn stress() -> bool {
    static STRESS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *STRESS.get_or_init(|| std::env::var_os("STARLING_STRESS_PREEMPT").is_some_and(|v| v == "1"))
}

fn check_every() -> i32 {
    if stress() { 2 } else { CHECK_EVERY }
}

#[derive(Copy, Clone)]
struct SliceState {
    /// The coroutine the scheduler resumed: the only thread that may be preempted.
    task: *const c_void,
    started: Instant,
    countdown: i32,
    /// Set when the running process must stop (terminate, shutdown).
    kill: bool,
    /// Set by the interrupt when it preempted `task`.
    preempted: bool,
    /// Set by the interrupt when the heap crossed half the memory limit (see `pace_limit`).
    arm: bool,
    /// [`ARM_AT`] when the slice began (it changes only between steps).
    arm_at: usize,
    limit: usize,
}

thread_local! {
    static SLICE_STATE: Cell<Option<SliceState>> = const { Cell::new(None) };
}

/// Runs the coroutine whose thread pointer is `task` within the slice that began at `started`
/// (one slice covers a whole step of a process, whichever of its coroutines run in it).
pub(crate) fn begin_slice(task: *const c_void, started: Instant) {
    let (arm_at, limit) = ARM_AT.with(|a| a.get());
    SLICE_STATE.with(|s| {
        s.set(Some(SliceState {
            task,
            started,
            countdown: check_every(),
            kill: false,
            preempted: false,
            arm: false,
            arm_at,
            limit,
        }))
    });
}

/// Ends the current slice; returns whether the interrupt preempted the task.
pub(crate) fn end_slice() -> bool {
    SLICE_STATE.with(|s| s.take().is_some_and(|st| st.preempted))
}

/// Asks the running slice to stop at the next interrupt.
pub(crate) fn request_kill() {
    SLICE_STATE.with(|s| {
        if let Some(mut st) = s.get() {
            st.kill = true;
            st.countdown = 0;
            s.set(Some(st));
        }
    });
}

unsafe extern "C-unwind" fn interrupt(state: *mut ffi::lua_State, gc: std::os::raw::c_int) {
    if gc >= 0 {
        return;
    }
    let Some(mut st) = SLICE_STATE.with(|s| s.get()) else {
        return;
    };
    // SAFETY: `state` is the running thread of this VM; this only reads the heap size.
    let heap = if st.arm_at > 0 {
        unsafe { ffi::lua_totalbytes(state, -1) }
    } else {
        0
    };
    if st.arm_at > 0 && heap >= st.arm_at {
        // End the step so the engine arms the hard limit (see `pace_limit`).
        st.countdown = 0;
        st.arm = true;
    }
    st.countdown -= 1;
    if st.countdown > 0 {
        SLICE_STATE.with(|s| s.set(Some(st)));
        return;
    }
    st.countdown = check_every();
    let over = st.kill || st.arm || stress() || st.started.elapsed() >= SLICE;
    if !over {
        SLICE_STATE.with(|s| s.set(Some(st)));
        return;
    }
    // SAFETY: `state` is the running thread of this VM, handed to us by Luau.
    let yieldable = unsafe { ffi::lua_isyieldable(state) } != 0;
    if state as *const c_void == st.task && yieldable {
        st.preempted = true;
        SLICE_STATE.with(|s| s.set(Some(st)));
        // SAFETY: yielding from an interrupt at a yieldable point is supported by Luau; the
        // interrupted instruction is re-executed when the thread is resumed.
        unsafe { ffi::lua_yield(state, 0) };
        return;
    }
    SLICE_STATE.with(|s| s.set(Some(st)));
    if st.arm && heap > st.limit {
        // Past the limit where the step cannot be suspended (a user coroutine, a metamethod):
        // fail as the allocator would have. No Rust value with a destructor is alive here.
        // SAFETY: raising from the interrupt is how Luau aborts running code.
        // The message is the allocator's own, without a position, so `out_of_memory` knows it.
        unsafe {
            ffi::lua_pushstring(state, c"not enough memory".as_ptr());
            ffi::lua_error(state);
        }
    }
    if st.kill {
        // A busy loop inside a user coroutine or at a non-yieldable point cannot be suspended:
        // end it with an error instead. No Rust value with a destructor is alive here.
        // SAFETY: raising from the interrupt is how Luau aborts running code.
        unsafe { ffi::luaL_error(state, c"process terminated".as_ptr()) };
    }
}

/// Creates a VM with the standard libraries Starling exposes (the debug library is loaded so
/// the prelude can capture `debug.traceback`; it is removed from the globals afterwards).
pub(crate) fn new_lua() -> mlua::Result<Lua> {
    let libs = StdLib::COROUTINE
        | StdLib::TABLE
        | StdLib::OS
        | StdLib::STRING
        | StdLib::BIT
        | StdLib::MATH
        | StdLib::DEBUG;
    let lua = Lua::new_with(libs, LuaOptions::new())?;
    // SAFETY: sets the VM-wide interrupt callback on the state mlua hands us; see module docs.
    unsafe {
        lua.exec_raw::<()>((), |state| {
            (*ffi::lua_callbacks(state)).interrupt = Some(interrupt);
        })?;
    }
    Ok(lua)
}

/// Marks a process's global table as a "safe environment", so Luau may use the import
/// constants resolved when the chunk was loaded (they were resolved against the entry's
/// template, which the process table reads through to).
pub(crate) fn set_safe_env(lua: &Lua, env: &Table) -> mlua::Result<()> {
    // SAFETY: the table is the single argument mlua pushed; we only flag it.
    unsafe { lua.exec_raw::<()>(env, |state| ffi::lua_setsafeenv(state, -1, 1)) }
}

/// The Lua memory budget of this VM (`host.memory_limit`), kept as app data.
struct Memory {
    limit: usize,
    /// Above this (7/8 of the limit) after a step, the VM collects garbage and, if it is still
    /// above, ends the process that holds the most memory if that is the one that just ran.
    soft: usize,
    /// VM memory right after the last collection the soft limit triggered, so that a VM whose
    /// live data sits above the soft limit does not collect after every step.
    collected: Cell<usize>,
    /// Whether mlua's hard limit is set (see [`pace_limit`]).
    armed: Cell<bool>,
}

thread_local! {
    /// Heap size (bytes) at which the interrupt asks for the hard limit to be armed, and the
    /// limit itself; 0 when there is no limit or it is armed already.
    static ARM_AT: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// Limits the Lua memory of the VM: an allocation that would pass `bytes` fails with a memory
/// error in whichever process is running (see [`out_of_memory`]); a process that holds most of
/// the memory is ended before that happens (see [`after_step`]).
///
/// mlua's hard limit is armed only while the VM holds at least half of it ([`pace_limit`]):
/// with a limit set, mlua wraps every table, string and thread it creates in a protected call,
/// which doubled the cost of a spawn and grew each idle process by about 400 bytes.
pub(crate) fn set_memory_limit(lua: &Lua, bytes: usize) -> mlua::Result<()> {
    lua.set_app_data(Memory {
        limit: bytes,
        soft: bytes / 8 * 7,
        collected: Cell::new(0),
        armed: Cell::new(false),
    });
    ARM_AT.with(|a| a.set((bytes / 2, bytes)));
    Ok(())
}

/// Arms mlua's hard limit when the VM holds half of it or more, and disarms it below a quarter.
/// Runs after every step; the interrupt ends a step early when the heap crosses half the limit
/// (or raises a memory error past the limit where it cannot), so a process cannot allocate far
/// beyond the limit before it is armed.
fn pace_limit(lua: &Lua, mem: &Memory, used: usize) -> mlua::Result<()> {
    if !mem.armed.get() && used >= mem.limit / 2 {
        lua.set_memory_limit(mem.limit)?;
        mem.armed.set(true);
        ARM_AT.with(|a| a.set((0, 0)));
    } else if mem.armed.get() && used < mem.limit / 4 {
        lua.set_memory_limit(0)?;
        mem.armed.set(false);
        ARM_AT.with(|a| a.set((mem.limit / 2, mem.limit)));
    }
    Ok(())
}

/// Luau memory categories other than 0 (the VM's own data) that processes are spread over.
const CATEGORIES: u32 = 255;

/// The memory category of the process in `slot`. With more than 255 processes on a worker,
/// processes share categories.
fn category(slot: u32) -> c_int {
    (slot % CATEGORIES + 1) as c_int
}

/// Charges what `thread` allocates from now on (and the coroutines it creates) to the memory
/// category of the process in `slot`, so the soft limit can tell which process holds memory.
pub(crate) fn set_category(thread: &mlua::Thread, slot: u32) {
    // SAFETY: a thread value's pointer is its `lua_State`, alive while `thread` is held;
    // `lua_setmemcat` only stores the category (< LUA_MEMORY_CATEGORIES) in it.
    unsafe { ffi::lua_setmemcat(thread.to_pointer() as *mut ffi::lua_State, category(slot)) }
}

/// Luau's message for a failed allocation (`LUA_MEMERRMSG`).
const MEMORY_ERROR: &str = "not enough memory";
/// The same, reported by mlua for an allocation that failed in Rust code of the engine.
const MLUA_MEMORY_ERROR: &str = "out of memory: not enough memory";

/// Whether `e`, an error value caught in a process, means the process ran out of memory: Luau's
/// allocation-failure message, an mlua memory error from a Rust function, or any error at all
/// once the process was marked. The first detection marks the process and asks the worker to
/// end it, so a `pcall` loop cannot swallow the error: the prelude re-raises every error a
/// marked process catches, and the next interrupt stops it even if something else catches.
pub(crate) fn out_of_memory(lua: &Lua, ctx: &Ctx, e: &Value) -> bool {
    let Ok(p) = ctx.current() else {
        return false;
    };
    if p.out_of_memory.get() {
        return true;
    }
    let oom = match e {
        Value::String(s) => s.as_bytes() == MEMORY_ERROR.as_bytes(),
        Value::Error(err) => is_memory_error(err),
        _ => false,
    };
    if oom {
        mark_out_of_memory(lua, ctx, &p);
    }
    oom
}

/// Whether an mlua error is (or wraps) a memory error.
pub(crate) fn is_memory_error(e: &mlua::Error) -> bool {
    match e {
        mlua::Error::MemoryError(_) => true,
        mlua::Error::CallbackError { cause, .. } | mlua::Error::WithContext { cause, .. } => {
            is_memory_error(cause)
        }
        _ => false,
    }
}

/// Marks `p` as out of memory and asks the worker to end it at its next interrupt.
pub(crate) fn mark_out_of_memory(lua: &Lua, ctx: &Ctx, p: &ProcState) {
    if p.out_of_memory.replace(true) {
        return;
    }
    ctx.local.kill(p.pid, memory_error(lua));
    // The slice belongs to a task of `p`, unless `p` is still running its chunk at spawn (then
    // it is the spawner's): the failed spawn reports the error there.
    if ctx.current_task().is_ok() {
        request_kill();
    }
}

/// The exit error of a process that ran out of memory.
pub(crate) fn memory_error(lua: &Lua) -> ErrorValue {
    memory_error_value(lua.app_data_ref::<Memory>().map(|m| m.limit))
}

fn memory_error_value(limit: Option<usize>) -> ErrorValue {
    let message = match limit {
        Some(bytes) => format!(
            "out of memory: the worker's Lua memory limit ({}) was reached",
            format_size(bytes)
        ),
        None => "out of memory: the worker's Lua memory limit was reached".to_string(),
    };
    ErrorValue::new(ErrorKind::Internal, message)
}

/// Memory bookkeeping after a step of `p`; returns the step, with the exit error of a process
/// that ran out of memory replaced by the memory error (what it raised on the way out, Luau's
/// bare message or an error from a catch that saw the process was ending, says less).
///
/// While the VM holds more than 7/8 of its limit, each step ends with a garbage collection
/// (at most one per 1/16 of the limit allocated since the last) and, if the VM is still above
/// after it, a look at the memory categories: if the process that just ran holds the most, and
/// at least a quarter of the limit, it ends with the memory error. So a process that grows
/// without bound is stopped before its neighbours find the VM full.
pub(crate) fn after_step(lua: &Lua, ctx: &Ctx, p: &ProcState, step: Step) -> Step {
    // One look at the budget per step, shared by the pacing and the soft limit.
    let mem = lua.app_data_ref::<Memory>();
    let used = if mem.is_some() { lua.used_memory() } else { 0 };
    if let Some(m) = &mem {
        let _ = pace_limit(lua, m, used);
    }
    let Step::Exit(reason) = step else {
        if let Some(m) = mem {
            soft_limit(lua, ctx, p, m, used);
        }
        return step;
    };
    drop(mem);
    let oom = p.out_of_memory.get()
        || reason
            .result()
            .as_ref()
            .err()
            .is_some_and(|e| e.message == MEMORY_ERROR || e.message == MLUA_MEMORY_ERROR);
    if !oom {
        return Step::Exit(reason);
    }
    p.out_of_memory.set(true);
    let mut err = memory_error(lua);
    if let Err(raised) = reason.result() {
        err.stack = raised.stack.clone();
    }
    Step::Exit(ExitReason::error(err))
}

fn soft_limit(
    lua: &Lua,
    ctx: &Ctx,
    p: &ProcState,
    mem: mlua::AppDataRef<'_, Memory>,
    mut used: usize,
) {
    if used <= mem.soft || p.out_of_memory.get() {
        return;
    }
    if used >= mem.collected.get() + mem.limit / 16 {
        lua.expire_registry_values();
        let _ = lua.gc_collect();
        used = lua.used_memory();
        mem.collected.set(used);
        if used <= mem.soft {
            return;
        }
    }
    let tasks = p.tasks.borrow();
    let Some(task) = tasks.get(p.main.get() as usize) else {
        return;
    };
    let Ok(thread) = lua.registry_value::<mlua::Thread>(&task.thread) else {
        return;
    };
    let state = thread.to_pointer() as *mut ffi::lua_State;
    // SAFETY: `state` is a live thread of this VM (held by `thread`); `lua_totalbytes` only
    // reads the VM's per-category byte counts.
    let bytes = |cat: c_int| unsafe { ffi::lua_totalbytes(state, cat) };
    let mine = bytes(category(p.slot));
    if mine < mem.limit / 4 {
        return;
    }
    let most = (1..=CATEGORIES as c_int).map(bytes).max().unwrap_or(0);
    drop(tasks);
    if mine >= most {
        let limit = mem.limit;
        drop(mem);
        p.out_of_memory.set(true);
        ctx.local.kill(p.pid, memory_error_value(Some(limit)));
    }
}

/// After a process that ran out of memory is released: collect its garbage at once, so the
/// processes left on the worker find the memory free (Luau has no emergency collection, and
/// its pacing would otherwise wait for a heap twice the size the limit allows).
pub(crate) fn reclaim(lua: &Lua) {
    // Ended processes' threads and globals are held by registry keys until the keys are
    // expired: expire first, or the collection would keep them.
    lua.expire_registry_values();
    let _ = lua.gc_collect();
    if let Some(mem) = lua.app_data_ref::<Memory>() {
        mem.collected.set(lua.used_memory());
    }
}

/// `64 MiB`, `1 GiB`, `1536 KiB`, `100 B`: the largest binary unit that divides `bytes`.
fn format_size(bytes: usize) -> String {
    for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    format!("{bytes} B")
}

#[cfg(test)]
mod luau_tests;
