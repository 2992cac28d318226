//! `websocket` (Wippy's WebSocket client): outgoing connections from any process.
//!
//! Connecting, sending, pinging and closing are blocking points of the calling coroutine;
//! the connection lives on the host's HTTP side. `websocket.lua` gives the Client object and
//! its `channel()`: a buffered channel fed by a coroutine of the process that waits for the
//! next message, so a reader that falls behind stops the reading from the socket instead of
//! piling messages up.

use std::rc::Rc;
use std::time::Duration;

use mlua::{Function, Lua, MultiValue, Table, Value};
use starling_core::ErrorKind;

use crate::args::{arg_type, seal, str_arg};
use crate::engine::Ctx;
use crate::services::http::{Http, WsConnect, WsSend};
use crate::userdata::error::fail;
use crate::userdata::time::duration_arg;

const WEBSOCKET_LUA: &str = include_str!("websocket.lua");

/// A connection id argument (a number; Luau hands integral numbers over as integers).
fn id_arg(v: Option<&Value>) -> u64 {
    match v {
        Some(Value::Integer(i)) => *i as u64,
        Some(Value::Number(n)) => *n as u64,
        _ => 0,
    }
}

/// A timeout option: a number of milliseconds or a Go duration string.
fn timeout(t: &Table, key: &str) -> mlua::Result<Result<Option<Duration>, String>> {
    Ok(match t.get::<Value>(key)? {
        Value::Nil => Ok(None),
        Value::Integer(ms) => Ok((ms > 0).then(|| Duration::from_millis(ms as u64))),
        Value::Number(ms) => {
            Ok((ms > 0.0 && ms.is_finite()).then(|| Duration::from_secs_f64(ms / 1000.0)))
        }
        other => match duration_arg(&other) {
            Ok(ns) => Ok((ns > 0).then(|| Duration::from_nanos(ns as u64))),
            Err(e) => Err(format!("{key}: {e}")),
        },
    })
}

fn options(url: String, opts: &Value) -> mlua::Result<Result<WsConnect, String>> {
    let mut c = WsConnect {
        url,
        ..WsConnect::default()
    };
    let lower = c.url.to_ascii_lowercase();
    if !(lower.starts_with("ws://") || lower.starts_with("wss://")) {
        return Ok(Err(format!(
            "invalid URL {:?}: expected ws:// or wss://",
            c.url
        )));
    }
    let t = match opts {
        Value::Nil => return Ok(Ok(c)),
        Value::Table(t) => t,
        other => {
            return Err(mlua::Error::runtime(format!(
                "bad argument #2 to 'connect' (table expected, got {})",
                arg_type(other)
            )));
        }
    };
    if let Value::Table(h) = t.get::<Value>("headers")? {
        for pair in h.pairs::<String, String>() {
            let (k, v) = pair?;
            c.headers.push((k, v));
        }
        c.headers.sort();
    }
    if let Value::Table(p) = t.get::<Value>("protocols")? {
        for v in p.sequence_values::<String>() {
            c.protocols.push(v?);
        }
    }
    for (key, slot) in [("dial_timeout", 0), ("read_timeout", 1)] {
        match timeout(t, key)? {
            Ok(d) if slot == 0 => c.dial_timeout = d,
            Ok(d) => c.read_timeout = d,
            Err(e) => return Ok(Err(e)),
        }
    }
    if let Value::Integer(n) = t.get::<Value>("read_limit")? {
        c.read_limit = (n > 0).then(|| (n as usize).min(128 << 20));
    } else if let Value::Number(n) = t.get::<Value>("read_limit")? {
        c.read_limit = (n > 0.0).then(|| (n as usize).min(128 << 20));
    }
    Ok(Ok(c))
}

fn http(lua: &Lua, ctx: &Ctx) -> mlua::Result<Result<(), MultiValue>> {
    if ctx.services.http().is_some() {
        Ok(Ok(()))
    } else {
        Ok(Err(fail(
            lua,
            ErrorKind::Internal,
            "websocket is not available: starling was built without the http feature",
        )?))
    }
}

/// Installs a blocking raw function `name` that calls `f` with the HTTP side and a reply.
fn raw_blocking<F>(
    lua: &Lua,
    ctx: &Rc<Ctx>,
    raw: &Table,
    blocking: &Function,
    name: &str,
    f: F,
) -> mlua::Result<()>
where
    F: Fn(
            &Lua,
            &dyn Http,
            MultiValue,
            starling_core::ReplyTo,
        ) -> mlua::Result<Result<(), MultiValue>>
        + 'static,
{
    let c = ctx.clone();
    let func = lua.create_function(move |lua, args: MultiValue| -> mlua::Result<MultiValue> {
        if let Err(e) = http(lua, &c)? {
            return Ok(e);
        }
        let h = c.services.http().expect("checked above");
        let reply = c.begin_request()?;
        match f(lua, h, args, reply)? {
            Ok(()) => Ok(c.pending()),
            Err(e) => {
                c.cancel_request(reply);
                Ok(e)
            }
        }
    })?;
    raw.raw_set(name, blocking.call::<Function>(func)?)
}

/// Builds the module table (shared, read-only) for one VM.
pub(crate) fn module(lua: &Lua, ctx: &Rc<Ctx>, blocking: &Function) -> mlua::Result<Value> {
    let raw = lua.create_table()?;
    raw_blocking(
        lua,
        ctx,
        &raw,
        blocking,
        "connect",
        |lua, h, args, reply| {
            let args: Vec<Value> = args.into_iter().collect();
            let url = str_arg(args.first(), "connect", 1)?;
            match options(url, args.get(1).unwrap_or(&Value::Nil))? {
                Ok(c) => {
                    h.ws_connect(c, reply);
                    Ok(Ok(()))
                }
                Err(msg) => Ok(Err(fail(lua, ErrorKind::Invalid, msg)?)),
            }
        },
    )?;
    raw_blocking(lua, ctx, &raw, blocking, "send", |lua, h, args, reply| {
        let args: Vec<Value> = args.into_iter().collect();
        let id = id_arg(args.first());
        let data = match args.get(1) {
            Some(Value::String(s)) => s.as_bytes().to_vec(),
            Some(other @ (Value::Integer(_) | Value::Number(_))) => {
                crate::args::tostring(lua, other)?.into_bytes()
            }
            other => {
                return Err(mlua::Error::runtime(format!(
                    "bad argument #1 to 'send' (string expected, got {})",
                    arg_type(other.unwrap_or(&Value::Nil))
                )));
            }
        };
        let kind = match args.get(2) {
            None | Some(Value::Nil) => WsSend::Text,
            Some(Value::Integer(1)) => WsSend::Text,
            Some(Value::Integer(2)) => WsSend::Binary,
            Some(Value::Number(n)) if *n == 1.0 => WsSend::Text,
            Some(Value::Number(n)) if *n == 2.0 => WsSend::Binary,
            Some(Value::String(s)) if s.to_str()?.eq_ignore_ascii_case("binary") => WsSend::Binary,
            Some(Value::String(s)) if s.to_str()?.eq_ignore_ascii_case("text") => WsSend::Text,
            Some(other) => {
                return Ok(Err(fail(
                    lua,
                    ErrorKind::Invalid,
                    format!(
                        "invalid message type {other:?} (expected websocket.TEXT or websocket.BINARY)"
                    ),
                )?));
            }
        };
        h.ws_send(id, data, kind, reply);
        Ok(Ok(()))
    })?;
    raw_blocking(lua, ctx, &raw, blocking, "ping", |_, h, args, reply| {
        let id = id_arg(args.iter().next());
        h.ws_send(id, Vec::new(), WsSend::Ping, reply);
        Ok(Ok(()))
    })?;
    raw_blocking(lua, ctx, &raw, blocking, "recv", |_, h, args, reply| {
        let id = id_arg(args.iter().next());
        h.ws_recv(id, reply);
        Ok(Ok(()))
    })?;
    raw_blocking(lua, ctx, &raw, blocking, "close", |lua, h, args, reply| {
        let args: Vec<Value> = args.into_iter().collect();
        let id = id_arg(args.first());
        let code = match args.get(1) {
            None | Some(Value::Nil) => 1000,
            Some(v) => match id_arg(Some(v)) {
                c @ 1000..=4999 => c as u16,
                _ => {
                    return Ok(Err(fail(
                        lua,
                        ErrorKind::Invalid,
                        "close code must be from 1000 to 4999",
                    )?));
                }
            },
        };
        let reason = match args.get(2) {
            Some(Value::String(s)) => s.to_str()?.to_string(),
            _ => String::new(),
        };
        h.ws_close(id, code, reason, reply);
        Ok(Ok(()))
    })?;
    let t: Table = lua
        .load(WEBSOCKET_LUA)
        .set_name("=starling.websocket")
        .call(raw)?;
    Ok(Value::Table(seal(&t)))
}
