//! `io` (SPEC §9.1): the terminal, for processes on a terminal host only.

use std::rc::Rc;

use mlua::{Function, Lua, MultiValue, Table, Value};
use starling_core::ErrorKind;

use crate::args::tostring;
use crate::args::{arg_type, seal};
use crate::engine::{Ctx, misuse};
use crate::services::{Stream, Terminal};
use crate::userdata::error::fail;

fn no_terminal(lua: &Lua) -> mlua::Result<MultiValue> {
    fail(lua, ErrorKind::Unavailable, "no terminal context")
}

fn ok_true() -> MultiValue {
    MultiValue::from_vec(vec![Value::Boolean(true)])
}

/// The terminal, when the caller runs on a terminal host.
fn terminal(ctx: &Ctx) -> Option<&dyn Terminal> {
    if ctx.terminal {
        ctx.services.terminal()
    } else {
        None
    }
}

fn write(
    lua: &Lua,
    ctx: &Ctx,
    stream: Stream,
    args: &MultiValue,
    sep: &str,
    nl: bool,
) -> mlua::Result<MultiValue> {
    let Some(t) = terminal(ctx) else {
        return no_terminal(lua);
    };
    let mut buf = Vec::new();
    for (i, v) in args.iter().enumerate() {
        if i > 0 {
            buf.extend_from_slice(sep.as_bytes());
        }
        match v {
            Value::String(s) => buf.extend_from_slice(&s.as_bytes()),
            other => buf.extend_from_slice(tostring(lua, other)?.as_bytes()),
        }
    }
    if nl {
        buf.push(b'\n');
    }
    match t.write(stream, &buf) {
        Ok(()) => Ok(ok_true()),
        Err(e) => fail(lua, ErrorKind::Internal, format!("write failed: {e}")),
    }
}

/// Registers a read request and returns PENDING, or `nil, err`.
fn start_read(lua: &Lua, ctx: &Ctx, n: Option<usize>) -> mlua::Result<MultiValue> {
    let Some(t) = terminal(ctx) else {
        return no_terminal(lua);
    };
    let reply = ctx.begin_request()?;
    match n {
        None => t.read_line(reply),
        Some(n) => t.read(n, reply),
    }
    Ok(ctx.pending())
}

/// Builds the `io` module table.
pub(crate) fn module(lua: &Lua, ctx: &Rc<Ctx>, blocking: &Function) -> mlua::Result<Table> {
    let io = lua.create_table()?;
    let c = ctx.clone();
    io.raw_set(
        "write",
        lua.create_function(move |lua, args: MultiValue| {
            write(lua, &c, Stream::Stdout, &args, "", false)
        })?,
    )?;
    let c = ctx.clone();
    io.raw_set(
        "print",
        lua.create_function(move |lua, args: MultiValue| {
            write(lua, &c, Stream::Stdout, &args, "\t", true)
        })?,
    )?;
    let c = ctx.clone();
    io.raw_set(
        "eprint",
        lua.create_function(move |lua, args: MultiValue| {
            write(lua, &c, Stream::Stderr, &args, "\t", true)
        })?,
    )?;
    let c = ctx.clone();
    io.raw_set(
        "flush",
        lua.create_function(move |lua, ()| {
            let Some(t) = terminal(&c) else {
                return no_terminal(lua);
            };
            // Every write is flushed already; an empty write flushes once more and reports
            // a broken stream.
            match t.write(Stream::Stdout, &[]) {
                Ok(()) => Ok(ok_true()),
                Err(e) => fail(lua, ErrorKind::Internal, format!("flush failed: {e}")),
            }
        })?,
    )?;
    let c = ctx.clone();
    let readline = lua.create_function(move |lua, ()| start_read(lua, &c, None))?;
    io.raw_set("readline", blocking.call::<Function>(readline)?)?;
    let c = ctx.clone();
    let read = lua.create_function(move |lua, n: Value| {
        let n = match n {
            Value::Nil => 1024,
            Value::Integer(i) if i > 0 => usize::try_from(i).unwrap_or(usize::MAX),
            Value::Number(f) if f >= 1.0 => f as usize,
            Value::Integer(_) | Value::Number(_) => 1024,
            other => {
                return Err(misuse(format!(
                    "bad argument #1 to 'read' (number expected, got {})",
                    arg_type(&other)
                )));
            }
        };
        start_read(lua, &c, Some(n))
    })?;
    io.raw_set("read", blocking.call::<Function>(read)?)?;
    let c = ctx.clone();
    io.raw_set(
        "raw",
        lua.create_function(move |lua, on: Value| {
            let on = match on {
                Value::Nil => true,
                Value::Boolean(b) => b,
                other => {
                    return Err(misuse(format!(
                        "bad argument #1 to 'raw' (boolean expected, got {})",
                        arg_type(&other)
                    )));
                }
            };
            let Some(t) = terminal(&c) else {
                return no_terminal(lua);
            };
            let p = c.current()?;
            let held = p.rare().raw_mode.get();
            let next = if on { held + 1 } else { held.saturating_sub(1) };
            let change = (held == 0 && next == 1) || (held == 1 && next == 0);
            if change {
                if let Err(e) = t.set_raw(on) {
                    return fail(
                        lua,
                        ErrorKind::Unavailable,
                        format!("raw mode unavailable: {e}"),
                    );
                }
            }
            p.rare().raw_mode.set(next);
            Ok(ok_true())
        })?,
    )?;
    let c = ctx.clone();
    io.raw_set(
        "args",
        lua.create_function(move |lua, ()| {
            let args = terminal(&c).map(|t| t.args()).unwrap_or_default();
            lua.create_sequence_from(args)
        })?,
    )?;
    Ok(seal(&io))
}
