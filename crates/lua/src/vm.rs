//! The Luau VM of one worker thread: creation, sandboxing, time slices and the few raw calls
//! mlua does not expose.
//!
//! # Unsafe code
//! This is the only module with `unsafe`. Its invariants:
//! - The interrupt callback only touches this thread's `SLICE` cell and calls `lua_yield` /
//!   `luaL_error` on the `lua_State` Luau passes in, which is the running thread of this VM.
//!   It holds no Rust values with destructors when it raises, so Luau's error unwinding (a C++
//!   exception through an `extern "C-unwind"` frame) skips no Rust cleanup.
//! - `exec_raw` closures only use stack slots mlua pushed for them (the arguments) and leave the
//!   stack balanced; mlua runs them in protected mode.

#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::c_void;
use std::time::{Duration, Instant};

use mlua::{Lua, LuaOptions, StdLib, Table, ffi};

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
}

thread_local! {
    static SLICE_STATE: Cell<Option<SliceState>> = const { Cell::new(None) };
}

/// Runs the coroutine whose thread pointer is `task` within the slice that began at `started`
/// (one slice covers a whole step of a process, whichever of its coroutines run in it).
pub(crate) fn begin_slice(task: *const c_void, started: Instant) {
    SLICE_STATE.with(|s| {
        s.set(Some(SliceState {
            task,
            started,
            countdown: check_every(),
            kill: false,
            preempted: false,
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
    st.countdown -= 1;
    if st.countdown > 0 {
        SLICE_STATE.with(|s| s.set(Some(st)));
        return;
    }
    st.countdown = check_every();
    let over = st.kill || stress() || st.started.elapsed() >= SLICE;
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
