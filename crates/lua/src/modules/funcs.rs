//! `funcs` (SPEC §2.6): calling `function.lua` entries.
//!
//! Each call runs the function's `method` as an internal process (pid numbers from a range of
//! its own, see `Node::next_hidden_num`), on the caller's worker when the caller is on a
//! process host, so arguments and the result are copied like any payload (SPEC §6) and the
//! function gets a fresh environment of its own. Its result reaches the caller through a
//! one-value channel filled by the worker (`TokenUse::Result`); a timeout is a timer that
//! ends the call with a TIMEOUT error (`TokenUse::Deadline`). The API surface (futures,
//! executors) is Lua, in `funcs.lua`.

use std::rc::Rc;
use std::time::Duration;

use mlua::{Lua, MultiValue, Table, Value};
use starling_core::{ErrorKind, ErrorValue, Pid, ReplyTo, SpawnFlags, SpawnRequest, SpawnSetup};

use crate::args::str_arg;
use crate::convert;
use crate::engine::Ctx;
use crate::modules::channel::new_chan;
use crate::rt::chan::{self, ChanKind, ChanState};
use crate::rt::proc::{Completion, ProcState};
use crate::userdata::error::{fail, fail_with};

const FUNCS_LUA: &str = include_str!("funcs.lua");

/// Checks a `namespace:name` target (SPEC §2.6 error messages).
fn check_target(target: &str) -> Result<(), &'static str> {
    if target.is_empty() {
        return Err("target empty");
    }
    match target.split_once(':') {
        None => Err("namespace missing"),
        Some(("", _)) => Err("namespace missing"),
        Some((_, "")) => Err("name missing"),
        Some(_) => Ok(()),
    }
}

/// `start(target, timeout_ms, state, ...)` → channel, pid | nil, err.
fn start(lua: &Lua, ctx: &Ctx, args: MultiValue) -> mlua::Result<MultiValue> {
    let args: Vec<Value> = args.into_iter().collect();
    let target = str_arg(args.first(), "call", 1)?;
    if let Err(msg) = check_target(&target) {
        return fail(lua, ErrorKind::Invalid, msg);
    }
    let timeout = match args.get(1) {
        Some(Value::Integer(n)) => *n as f64,
        Some(Value::Number(n)) => *n,
        _ => 0.0,
    };
    let Some(Value::Table(state)) = args.get(2) else {
        return Err(mlua::Error::runtime("funcs: internal state missing"));
    };
    let p = ctx.current()?;
    let node = ctx.local.node().clone();
    let host = if ctx.terminal {
        match node.any_process_host() {
            Some(h) => h,
            None => {
                return fail(
                    lua,
                    ErrorKind::Unavailable,
                    "no process host running to run functions on",
                );
            }
        }
    } else {
        ctx.local.host()
    };
    let payload = convert::to_payload(args.get(3..).unwrap_or(&[]))?;
    let (ud, st) = new_chan(lua, ctx, ChanKind::User, 1)?;
    let token = ctx.token(
        &p,
        Box::new(CallEnded {
            chan: st,
            state: lua.create_registry_value(state)?,
        }),
    );
    let num = node.next_hidden_num();
    let child = Pid::local(host, num);
    let req = SpawnRequest {
        entry: target.as_str().into(),
        host,
        args: payload,
        parent: Some(p.pid),
        flags: SpawnFlags {
            exit_to: Some(ReplyTo { pid: p.pid, token }),
            ..SpawnFlags::default()
        },
        reply: None,
        num,
        setup: Some(Box::new(SpawnSetup {
            function: true,
            ..SpawnSetup::default()
        })),
    };
    let started = ctx.local.spawn(p.slot, req, &mut |slot, pid, args| {
        crate::rt::spawn::start(lua, ctx, slot, pid, args)
    });
    if let Err(e) = started {
        p.rare().tokens.borrow_mut().remove(token);
        return fail_with(lua, e);
    }
    if timeout > 0.0 {
        let t = ctx.token(
            &p,
            Box::new(CallDeadline {
                pid: child,
                state: lua.create_registry_value(state)?,
                local: ctx.local.clone(),
            }),
        );
        let at = ctx.local.now() + Duration::from_secs_f64(timeout / 1000.0);
        ctx.local.add_timer(p.slot, at, t);
    }
    Ok(MultiValue::from_vec(vec![
        Value::UserData(ud),
        Value::String(lua.create_string(ctx.pid_string(child))?),
    ]))
}

/// A function call ended: its outcome is recorded in its state table and its result (a
/// payload object) sent on its channel, which then closes.
struct CallEnded {
    chan: Rc<std::cell::RefCell<ChanState>>,
    state: mlua::RegistryKey,
}

impl Completion for CallEnded {
    fn complete(
        self: Box<Self>,
        lua: &Lua,
        p: &ProcState,
        _token: u64,
        result: Option<starling_core::ExitResult>,
    ) -> mlua::Result<()> {
        let state: Table = lua.registry_value(&self.state)?;
        state.raw_set("done", true)?;
        match result.unwrap_or_else(|| Ok(starling_core::Payload::empty())) {
            Ok(payload) => {
                let data = crate::rt::values::PayloadData::of(payload.first());
                let v = Value::UserData(crate::ffi::new_udata(lua, data)?);
                state.raw_set("value", v.clone())?;
                chan::offer(lua, p, &self.chan, v);
            }
            Err(e) => {
                state.raw_set(
                    "err",
                    lua.create_userdata(crate::userdata::error::LuaErrorObject(e))?,
                )?;
            }
        }
        chan::close_outside(lua, p, &self.chan);
        Ok(())
    }
}

/// A function call's timeout: ends the call unless it is done.
struct CallDeadline {
    pid: Pid,
    state: mlua::RegistryKey,
    local: Rc<starling_core::Local>,
}

impl Completion for CallDeadline {
    fn complete(
        self: Box<Self>,
        lua: &Lua,
        _p: &ProcState,
        _token: u64,
        _result: Option<starling_core::ExitResult>,
    ) -> mlua::Result<()> {
        let state: Table = lua.registry_value(&self.state)?;
        if !state.raw_get::<bool>("done").unwrap_or(false) {
            self.local.kill(
                self.pid,
                ErrorValue::new(ErrorKind::Timeout, "function call timed out"),
            );
        }
        Ok(())
    }
}

/// Ends a call that has not finished (`future:cancel()`, timeouts).
pub(crate) fn stop_call(ctx: &Ctx, pid: Pid, err: ErrorValue) {
    ctx.local.kill(pid, err);
}

/// Builds the module table (shared, read-only) for one VM.
pub(crate) fn module(lua: &Lua, ctx: &Rc<Ctx>) -> mlua::Result<Value> {
    let raw = lua.create_table()?;
    let c = ctx.clone();
    raw.raw_set(
        "start",
        lua.create_function(move |lua, args: MultiValue| start(lua, &c, args))?,
    )?;
    let c = ctx.clone();
    raw.raw_set(
        "stop",
        lua.create_function(move |_, pid: String| {
            if let Ok(pid) = c.local.node().parse_pid(&pid) {
                stop_call(
                    &c,
                    pid,
                    ErrorValue::new(ErrorKind::Canceled, "function call canceled").retryable(None),
                );
            }
            Ok(())
        })?,
    )?;
    let t: Table = lua.load(FUNCS_LUA).set_name("=starling.funcs").call(raw)?;
    Ok(Value::Table(t))
}

#[cfg(test)]
mod tests {
    use super::check_target;

    #[test]
    fn targets() {
        assert_eq!(check_target(""), Err("target empty"));
        assert_eq!(check_target("noColon"), Err("namespace missing"));
        assert_eq!(check_target(":x"), Err("namespace missing"));
        assert_eq!(check_target("app:"), Err("name missing"));
        assert_eq!(check_target("app.fn:double"), Ok(()));
    }
}
