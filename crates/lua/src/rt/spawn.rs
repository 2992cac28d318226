//! Making and dropping the Lua half of a process (SPEC §2.3).
//!
//! A process gets its own global table (reading through to its entry's template), runs its
//! imported libraries and its chunk with that table as environment, and starts its main
//! function as its first task. An entry without `method` has no chunk run at spawn: the chunk
//! itself is the main function, run once, as the task, with the spawn's arguments.

use std::rc::Rc;

use mlua::{Function, Lua, MultiValue, Table, Value};
use starling_core::{ErrorKind, ErrorValue, Pid, StartArgs};

use crate::engine::{Ctx, misuse};
use crate::ffi;
use crate::program::Code;
use crate::rt::prepared::Prepared;
use crate::rt::proc::ProcState;
use crate::rt::{chan, memory};
use crate::userdata::error::from_mlua;

/// Creates the Lua half of a process in `slot`; the worker made the core half and undoes it
/// if this fails.
pub(crate) fn start(
    lua: &Lua,
    ctx: &Ctx,
    slot: u32,
    pid: Pid,
    args: StartArgs,
) -> Result<(), ErrorValue> {
    let prepared = ctx.prepare(lua, &args.entry, args.function)?;
    init(
        lua,
        ctx,
        slot,
        pid,
        prepared,
        ffi::Args::Payload(&args.args),
    )
}

/// [`start`] for a child made inside its parent's C function, its arguments read from that
/// function's stack instead of a payload (`args.args` is empty; see
/// `starling_core::Local::spawns_here`).
pub(crate) fn start_from_stack(
    lua: &Lua,
    ctx: &Ctx,
    slot: u32,
    pid: Pid,
    args: StartArgs,
    stack: ffi::StackArgs<'_>,
) -> Result<(), ErrorValue> {
    let prepared = ctx.prepare(lua, &args.entry, args.function)?;
    init(lua, ctx, slot, pid, prepared, ffi::Args::Stack(stack))
}

enum InitError {
    Lua(mlua::Error),
    Value(ErrorValue),
}

impl From<mlua::Error> for InitError {
    fn from(e: mlua::Error) -> Self {
        InitError::Lua(e)
    }
}

impl InitError {
    fn method(m: &str) -> InitError {
        InitError::Value(ErrorValue::new(
            ErrorKind::NotFound,
            format!("method not found: {m}"),
        ))
    }

    fn into_value(self) -> ErrorValue {
        match self {
            InitError::Lua(e) => from_mlua(&e),
            InitError::Value(v) => v,
        }
    }
}

fn init(
    lua: &Lua,
    ctx: &Ctx,
    slot: u32,
    pid: Pid,
    prepared: Rc<Prepared>,
    args: ffi::Args<'_>,
) -> Result<(), ErrorValue> {
    if prepared.code.imports.is_empty() {
        return init_raw(ctx, slot, pid, prepared, args);
    }
    let encoded;
    let args = match args {
        ffi::Args::Payload(p) => p,
        ffi::Args::Stack(a) => {
            encoded = a.encode().ok_or_else(|| {
                ErrorValue::new(ErrorKind::Internal, "spawn arguments could not be copied")
            })?;
            &encoded
        }
    };
    let env = (|| -> mlua::Result<(Table, i32)> {
        let env = lua.create_table()?;
        env.set_metatable(Some(prepared.meta.clone()))?;
        ffi::set_safe_env(lua, &env)?;
        let r = ffi::make_ref(lua, &env)?;
        Ok((env, r))
    })();
    let (env, env_ref) = env.map_err(|e| from_mlua(&e))?;
    let p = Rc::new(ProcState::new(slot, pid, prepared.clone(), env_ref));

    // Run the libraries and the chunk as the new process: their top level may call
    // process.pid() and friends (but cannot block: there is no task yet).
    let prev = ctx.set_current(Some(p.clone()), None);
    let main = main_function(lua, ctx, &prepared, &env);
    ctx.set_current(prev.0, prev.1);
    let started = main.and_then(|main| {
        let thread = ffi::new_thread(lua, &ctx.refs().task_body, &main, args)?;
        memory::set_category(thread, slot);
        let tid = p.add_task(thread);
        debug_assert_eq!(tid, crate::rt::proc::MAIN_TASK);
        Ok(())
    });
    match started {
        Ok(()) => {
            ctx.store(slot, Some(p));
            Ok(())
        }
        Err(e) => {
            // The process never existed; what it made goes now.
            drop_process(lua, &p);
            Err(e.into_value())
        }
    }
}

/// [`init`] for an entry without imported libraries, in one protected raw call.
fn init_raw(
    ctx: &Ctx,
    slot: u32,
    pid: Pid,
    prepared: Rc<Prepared>,
    args: ffi::Args<'_>,
) -> Result<(), ErrorValue> {
    let recipe = prepared.recipe;
    let p = Rc::new(ProcState::new(slot, pid, prepared, mlua::ffi::LUA_NOREF));
    // The chunk runs as the new process: its top level may call process.pid() and friends
    // (but cannot block: there is no task yet). Outside a step (a spawn from another worker)
    // it gets a slice of its own, so a top level that never returns is still ended.
    let prev = ctx.set_current(Some(p.clone()), None);
    let own_slice = !ffi::in_slice();
    if own_slice {
        ffi::begin_slice(None, pid.num, std::time::Instant::now(), ctx.watchdog);
    }
    let made = ffi::make_process(recipe, args, &p.env, &p.entry.method_cache);
    if own_slice {
        ffi::end_slice();
    }
    ctx.set_current(prev.0, prev.1);
    match made {
        Ok(made) => {
            memory::set_category(made.thread, slot);
            let tid = p.add_task(made.thread);
            debug_assert_eq!(tid, crate::rt::proc::MAIN_TASK);
            ctx.store(slot, Some(p));
            Ok(())
        }
        Err(e) => {
            let err = match e {
                ffi::MakeError::NoMethod => ErrorValue::new(
                    ErrorKind::NotFound,
                    format!(
                        "method not found: {}",
                        p.entry.code.method.as_deref().unwrap_or("")
                    ),
                ),
                ffi::MakeError::Raised(msg) => {
                    ErrorValue::new(ErrorKind::Unknown, msg).retryable(None)
                }
            };
            Err(err)
        }
    }
}

/// The function the main task runs: the entry's method from what its chunk returned, or the
/// chunk itself for an entry without one.
fn main_function(
    lua: &Lua,
    ctx: &Ctx,
    prepared: &Prepared,
    env: &Table,
) -> Result<Function, InitError> {
    run_libraries(lua, ctx, &prepared.code, env)?;
    let chunk = prepared.chunk.deep_clone()?;
    chunk.set_environment(env.clone())?;
    let Some(m) = &prepared.code.method else {
        return Ok(chunk);
    };
    let ret = chunk.call::<MultiValue>(())?;
    match ret.into_iter().next() {
        Some(Value::Table(t)) => match t.get::<Value>(m.as_str())? {
            Value::Function(f) => Ok(f),
            _ => Err(InitError::method(m)),
        },
        Some(Value::Function(f)) => Ok(f),
        _ => Err(InitError::method(m)),
    }
}

/// Installs the entry's libraries (already expanded and ordered, dependencies first) as
/// globals of the process: each runs its own copy of the library chunk (SPEC §2.5).
fn run_libraries(lua: &Lua, ctx: &Ctx, code: &Code, env: &Table) -> mlua::Result<()> {
    for (alias, lib) in &code.imports {
        let loaded = ctx.libraries.borrow().get(lib).cloned();
        let f = match loaded {
            Some(f) => f,
            None => {
                let lib_code = ctx.program.get(lib).ok_or_else(|| {
                    misuse(format!("library {lib} not found (imported as {alias})"))
                })?;
                let f = lua
                    .load(&lib_code.bytecode[..])
                    .set_name(format!("={}", lib_code.id))
                    .set_mode(mlua::chunk::ChunkMode::Binary)
                    .into_function()?;
                ctx.libraries.borrow_mut().insert(lib.clone(), f.clone());
                f
            }
        };
        let f = f.deep_clone()?;
        f.set_environment(env.clone())?;
        let value = f
            .call::<MultiValue>(())?
            .into_iter()
            .next()
            .unwrap_or(Value::Nil);
        env.raw_set(alias.as_str(), value)?;
    }
    Ok(())
}

/// Drops what a process made in the VM: its threads, its global table's reference, its
/// `listen` channels, and its channels' values (cycles through them included).
fn drop_process(lua: &Lua, p: &ProcState) {
    // No channel keeps a registration of its tasks.
    p.withdraw_all();
    // What its channels keep goes now, cycles through their values included.
    let rare = p.rare_if_made();
    if let Some(rare) = rare {
        for w in std::mem::take(&mut *rare.chans.borrow_mut()) {
            if let Some(st) = w.upgrade() {
                chan::clear(lua, &st);
            }
        }
    }
    // Its threads can never run again. With a large heap their stacks go now, not when the
    // collector gets to them (long after); a small heap's next cycle is near, and emptying
    // costs a spawn+exit about 4% more instructions.
    let empty = memory::heap_is_large();
    for t in p.tasks.borrow_mut().drain() {
        if empty {
            t.thread.empty();
        }
        t.thread.release();
    }
    if let Some(rare) = rare {
        for (_, _, r) in rare.listeners.borrow_mut().drain(..) {
            ffi::unref(r);
        }
    }
    ffi::unref(p.env.get());
}

/// Starts a coroutine of the current process (`coroutine.spawn`); returns its thread.
pub(crate) fn spawn_task(lua: &Lua, ctx: &Ctx, f: Function) -> mlua::Result<mlua::Thread> {
    let p = ctx.current()?;
    let thread = ffi::new_thread(lua, &ctx.refs().task_body, &f, &Default::default())?;
    memory::set_category(thread, p.slot);
    p.add_task(thread);
    thread.value(lua)
}

/// What `coroutine.close(co)` does to the task `co` runs, before closing the thread: a task
/// of the current process other than the running one ends (see [`ProcState::end_task`]).
/// `Err` for the main task, which cannot be closed.
pub(crate) fn close_task(ctx: &Ctx, co: &mlua::Thread) -> Result<(), &'static str> {
    let Some(p) = ctx.try_current() else {
        return Ok(());
    };
    let id = co.to_pointer();
    let found = p
        .tasks
        .borrow()
        .iter()
        .find(|(_, t)| t.thread.id() == id)
        .map(|(i, _)| i as u32);
    let Some(task) = found else {
        // A plain coroutine.
        return Ok(());
    };
    if task == crate::rt::proc::MAIN_TASK {
        return Err("cannot close the main task of a process");
    }
    if ctx.task() == Some(task) {
        // The running task: closing it raises, as for any running coroutine.
        return Ok(());
    }
    p.end_task(task);
    Ok(())
}

/// Drops the engine half of a process that ended or was killed.
pub(crate) fn release(lua: &Lua, ctx: &Ctx, slot: u32) {
    let mut reclaim = false;
    if let Some(p) = ctx.proc(slot) {
        if p.rare_if_made().is_some_and(|r| r.raw_mode.get() > 0) {
            if let Some(t) = ctx.services.terminal() {
                let _ = t.set_raw(false);
            }
        }
        reclaim = p.out_of_memory();
        drop_process(lua, &p);
    }
    ctx.store(slot, None);
    ffi::release_deferred(lua);
    if reclaim {
        memory::reclaim(lua);
    }
}
