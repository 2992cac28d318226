//! The Lua memory budget of a worker's VM (`host.memory_limit`) and what happens at it.
//!
//! mlua's hard limit is armed only while the VM holds at least half of it ([`pace_limit`]):
//! with a limit set, mlua wraps every table, string and thread it creates in a protected call,
//! which doubled the cost of a spawn and grew each idle process by about 400 bytes. The
//! interrupt ends a step early when the heap crosses half the limit, so the engine arms it
//! before a process can allocate far beyond.
//!
//! # Guarantees
//! - A process that exhausts the budget ends with INTERNAL `out of memory: …`; its neighbours
//!   carry on. `pcall`, `xpcall` and `coroutine.resume` cannot swallow the error.
//! - While the VM holds more than 7/8 of its limit, the process that holds the most memory
//!   (and at least a quarter of the limit) is ended when it runs, before its neighbours find
//!   the VM full.

use std::cell::Cell;
use std::os::raw::c_int;
use std::rc::Rc;

use mlua::{Lua, Value};
use starling_core::{ErrorKind, ErrorValue, ExitReason, Step};

use crate::engine::Ctx;
use crate::ffi::{self, Thread};
use crate::rt::proc::ProcState;

/// The Lua memory budget of this thread's VM (one VM per worker thread).
struct Memory {
    limit: usize,
    /// Above this (7/8 of the limit) after a step, the VM collects garbage and, if it is still
    /// above, ends the process that holds the most memory if that is the one that just ran.
    soft: usize,
    /// VM memory right after the last collection the soft limit triggered.
    collected: Cell<usize>,
    /// Whether mlua's hard limit is set.
    armed: Cell<bool>,
}

thread_local! {
    static MEMORY: std::cell::RefCell<Option<Rc<Memory>>> = const { std::cell::RefCell::new(None) };
}

fn memory() -> Option<Rc<Memory>> {
    MEMORY.with(|m| m.try_borrow().ok().and_then(|m| m.clone()))
}

/// Limits the Lua memory of the VM (see the module docs).
pub(crate) fn set_memory_limit(lua: &Lua, bytes: usize) -> mlua::Result<()> {
    let _ = lua;
    MEMORY.with(|m| {
        if let Ok(mut m) = m.try_borrow_mut() {
            *m = Some(Rc::new(Memory {
                limit: bytes,
                soft: bytes / 8 * 7,
                collected: Cell::new(0),
                armed: Cell::new(false),
            }));
        }
    });
    ffi::set_arm_at(bytes / 2, bytes);
    Ok(())
}

/// Arms mlua's hard limit when the VM holds half of it or more, and disarms it below a quarter.
fn pace_limit(lua: &Lua, mem: &Memory, used: usize) -> mlua::Result<()> {
    if !mem.armed.get() && used >= mem.limit / 2 {
        lua.set_memory_limit(mem.limit)?;
        mem.armed.set(true);
        ffi::set_arm_at(0, 0);
    } else if mem.armed.get() && used < mem.limit / 4 {
        lua.set_memory_limit(0)?;
        mem.armed.set(false);
        ffi::set_arm_at(mem.limit / 2, mem.limit);
    }
    Ok(())
}

/// A VM holding less Lua memory than this collects with goal [`GOAL_SMALL`]; above
/// [`LARGE_HEAP`] it goes back to Luau's default. In between it keeps the goal it has.
const SMALL_HEAP: usize = 16 << 20;
const LARGE_HEAP: usize = 24 << 20;
/// Luau's GC goal (percent of live memory the heap may reach before a cycle starts) for small
/// heaps. Each cycle marks and sweeps the whole heap, which for a small VM is mostly its fixed
/// libraries, so with Luau's 200 a worker running short-lived processes spent a tenth of its
/// instructions in the collector (the Echo shape); 400 makes cycles a third as frequent for at
/// most 48 MB more memory per worker.
const GOAL_SMALL: c_int = 400;
/// Luau's default goal, kept for large heaps (the garbage they may hold grows with them).
const GOAL_LARGE: c_int = 200;

thread_local! {
    /// Whether this thread's VM runs with [`GOAL_SMALL`].
    static SMALL_GOAL: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread's VM holds a large heap (past [`LARGE_HEAP`], until it is back under
/// [`SMALL_HEAP`]): a collection cycle then takes long, so what can be freed without the
/// collector is worth freeing at once.
pub(crate) fn heap_is_large() -> bool {
    !SMALL_GOAL.get()
}

/// Sets the VM's GC goal from how much memory it holds (see [`SMALL_HEAP`]).
fn pace_gc(lua: &Lua, used: usize) {
    let small = SMALL_GOAL.get();
    let want = if small {
        used < LARGE_HEAP
    } else {
        used < SMALL_HEAP
    };
    if want != small {
        let goal = if want { GOAL_SMALL } else { GOAL_LARGE };
        lua.gc_set_mode(mlua::prelude::LuaGcMode::Incremental(
            mlua::prelude::LuaGcIncParams::default().goal(goal),
        ));
        SMALL_GOAL.set(want);
    }
}

/// Luau memory categories other than 0 (the VM's own data) that processes are spread over.
const CATEGORIES: u32 = 255;

/// The memory category of the process in `slot`. With more than 255 processes on a worker,
/// processes share categories.
fn category(slot: u32) -> c_int {
    (slot % CATEGORIES + 1) as c_int
}

/// Charges what `thread` allocates from now on (and the coroutines it creates) to the memory
/// category of the process in `slot`.
pub(crate) fn set_category(thread: Thread, slot: u32) {
    thread.set_category(category(slot));
}

/// Luau's message for a failed allocation (`LUA_MEMERRMSG`).
const MEMORY_ERROR: &str = "not enough memory";
/// The same, reported by mlua for an allocation that failed in Rust code of the engine.
const MLUA_MEMORY_ERROR: &str = "out of memory: not enough memory";

/// Whether `e`, an error value caught in a process, means the process ran out of memory. The
/// first detection marks the process and asks the worker to end it, so a `pcall` loop cannot
/// swallow the error (the prelude re-raises every error a marked process catches).
pub(crate) fn out_of_memory(lua: &Lua, ctx: &Ctx, e: &Value) -> bool {
    let Some(p) = ctx.try_current() else {
        return false;
    };
    if p.out_of_memory() {
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
    if p.set_out_of_memory() {
        return;
    }
    ctx.local.kill(p.pid, memory_error(lua));
    // The slice belongs to a task of `p`, unless `p` is still running its chunk at spawn (then
    // it is the spawner's): the failed spawn reports the error there.
    if ctx.task().is_some() {
        ffi::request_kill();
    }
}

/// The exit error of a process that ran out of memory.
pub(crate) fn memory_error(lua: &Lua) -> ErrorValue {
    let _ = lua;
    memory_error_value(memory().map(|m| m.limit))
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

/// True for the messages an allocation failure leaves.
pub(crate) fn is_memory_message(m: &str) -> bool {
    m == MEMORY_ERROR || m == MLUA_MEMORY_ERROR
}

/// Memory bookkeeping after a step of `p`; returns the step, with the exit error of a process
/// that ran out of memory replaced by the memory error.
pub(crate) fn after_step(lua: &Lua, ctx: &Ctx, p: &ProcState, step: Step) -> Step {
    let mem = memory();
    let used = lua.used_memory();
    pace_gc(lua, used);
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
    let oom = p.out_of_memory()
        || reason
            .result()
            .as_ref()
            .err()
            .is_some_and(|e| is_memory_message(&e.message));
    if !oom {
        return Step::Exit(reason);
    }
    p.set_out_of_memory();
    let mut err = memory_error(lua);
    if let Err(raised) = reason.result() {
        err.stack = raised.stack.clone();
    }
    Step::Exit(ExitReason::error(err))
}

fn soft_limit(lua: &Lua, ctx: &Ctx, p: &ProcState, mem: Rc<Memory>, mut used: usize) {
    if used <= mem.soft || p.out_of_memory() {
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
    let Some(thread) = p
        .tasks
        .borrow()
        .get(crate::rt::proc::MAIN_TASK as usize)
        .map(|t| t.thread)
    else {
        return;
    };
    let mine = thread.category_bytes(category(p.slot));
    if mine < mem.limit / 4 {
        return;
    }
    let most = (1..=CATEGORIES as c_int)
        .map(|c| thread.category_bytes(c))
        .max()
        .unwrap_or(0);
    if mine >= most {
        let limit = mem.limit;
        drop(mem);
        p.set_out_of_memory();
        ctx.local.kill(p.pid, memory_error_value(Some(limit)));
    }
}

/// After a process that ran out of memory is released: collect its garbage at once, so the
/// processes left on the worker find the memory free.
pub(crate) fn reclaim(lua: &Lua) {
    lua.expire_registry_values();
    let _ = lua.gc_collect();
    if let Some(mem) = memory() {
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
