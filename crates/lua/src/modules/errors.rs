//! The `errors` global (SPEC §9.3).

use mlua::{Lua, Table, Value};
use starling_core::{ErrorKind, ErrorValue};

use crate::convert;
use crate::engine::misuse;
use crate::modules::seal;
use crate::userdata::error::{LuaErrorObject, from_lua_value};

fn error_of(v: &Value) -> Option<ErrorValue> {
    match v {
        Value::UserData(ud) => ud.borrow::<LuaErrorObject>().ok().map(|e| e.0.clone()),
        _ => None,
    }
}

/// `capture_error(e, traceback)`: used by the prelude's xpcall handler.
pub(crate) fn install_raw(lua: &Lua, raw: &Table) -> mlua::Result<()> {
    raw.raw_set(
        "capture_error",
        lua.create_function(|_, (e, tb): (Value, Option<String>)| {
            let mut err = from_lua_value(&e);
            if err.stack.is_none() {
                err.stack = tb;
            }
            Ok(LuaErrorObject(err))
        })?,
    )
}

fn kind_arg(v: &Value) -> Option<ErrorKind> {
    match v {
        Value::String(s) => ErrorKind::parse(&s.to_str().ok()?),
        _ => None,
    }
}

pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.raw_set(
        "new",
        lua.create_function(|lua, (a, b): (Value, Option<Value>)| {
            let e = match (&a, &b) {
                (Value::String(s), Some(Value::String(m))) if kind_arg(&a).is_some() => {
                    let _ = s;
                    ErrorValue::new(kind_arg(&a).expect("checked"), m.to_str()?.to_string())
                        .retryable(None)
                }
                (Value::String(s), _) => {
                    ErrorValue::new(ErrorKind::Unknown, s.to_str()?.to_string()).retryable(None)
                }
                (Value::Table(t), _) => {
                    let message = match t.get::<Value>("message")? {
                        Value::String(s) => s.to_str()?.to_string(),
                        _ => return Err(misuse("errors.new: message is required")),
                    };
                    let kind = match t.get::<Value>("kind")? {
                        Value::Nil => ErrorKind::Unknown,
                        k => kind_arg(&k).ok_or_else(|| misuse("errors.new: unknown kind"))?,
                    };
                    let retryable = t.get::<Option<bool>>("retryable")?;
                    let details = match t.get::<Value>("details")? {
                        Value::Nil => None,
                        d => Some(Box::new(convert::value_to_payload(&d)?)),
                    };
                    let mut e = ErrorValue::new(kind, message).retryable(retryable);
                    e.details = details;
                    e
                }
                (other, _) => {
                    return Err(misuse(format!(
                        "bad argument #1 to 'new' (string or table expected, got {})",
                        other.type_name()
                    )));
                }
            };
            lua.create_userdata(LuaErrorObject(e))
        })?,
    )?;
    t.raw_set(
        "wrap",
        lua.create_function(|lua, (err, msg): (Value, String)| {
            if err.is_nil() {
                return Ok(Value::Nil);
            }
            let inner = error_of(&err).unwrap_or_else(|| from_lua_value(&err));
            let mut outer = ErrorValue::new(inner.kind, msg).retryable(inner.retryable);
            outer.details = inner.details.clone();
            outer.cause = Some(Box::new(inner));
            Ok(Value::UserData(lua.create_userdata(LuaErrorObject(outer))?))
        })?,
    )?;
    t.raw_set(
        "is",
        lua.create_function(|_, (err, kind): (Value, Value)| {
            let Some(e) = error_of(&err) else {
                return Ok(false);
            };
            Ok(match &kind {
                Value::String(s) if s.to_str()?.is_empty() => e.is(ErrorKind::Unknown),
                k => kind_arg(k).is_some_and(|k| e.is(k)),
            })
        })?,
    )?;
    t.raw_set(
        "call_stack",
        lua.create_function(|lua, err: Value| {
            let Some(e) = error_of(&err) else {
                return Ok(Value::Nil);
            };
            let Some(stack) = e.stack else {
                return Ok(Value::Nil);
            };
            let frames = lua.create_table()?;
            for line in stack.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let (loc, name) = match line.split_once(" function ") {
                    Some((l, n)) => (l, n),
                    None => (line, ""),
                };
                let (source, lno) = match loc.rsplit_once(':') {
                    Some((s, n)) if n.chars().all(|c| c.is_ascii_digit()) => {
                        (s, n.parse().unwrap_or(0))
                    }
                    _ => (loc, 0),
                };
                let f = lua.create_table()?;
                f.raw_set("source", source)?;
                f.raw_set("line", lno)?;
                f.raw_set("name", name)?;
                frames.raw_push(f)?;
            }
            let t = lua.create_table()?;
            t.raw_set("thread", "main")?;
            t.raw_set("frames", frames)?;
            Ok(Value::Table(t))
        })?,
    )?;
    for (_, constant, value) in ErrorKind::ALL {
        t.raw_set(constant, value)?;
    }
    globals.raw_set("errors", seal(&t))
}
