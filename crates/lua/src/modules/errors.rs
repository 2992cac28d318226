//! The `errors` global (SPEC §9.3).

use mlua::{Lua, Table, Value};
use starling_core::{ErrorKind, ErrorValue, MAX_ERROR_DEPTH};

use crate::args::{arg_type, seal};
use crate::convert;
use crate::engine::misuse;
use crate::userdata::error::{LuaErrorObject, from_lua_value};

fn error_of(v: &Value) -> Option<ErrorValue> {
    match v {
        Value::UserData(ud) => ud.borrow::<LuaErrorObject>().ok().map(|e| e.0.clone()),
        _ => None,
    }
}

/// `capture_error(e, traceback)`: used by the prelude's xpcall handler; `clean_error(e)`: the
/// value `pcall` hands to Lua code for an error raised by a Rust function (its message, like
/// a standard library error, instead of mlua's wrapper with a Rust-side traceback).
pub(crate) fn install_raw(
    lua: &Lua,
    ctx: &std::rc::Rc<crate::engine::Ctx>,
    raw: &Table,
) -> mlua::Result<()> {
    raw.raw_set(
        "clean_error",
        lua.create_function(|lua, e: Value| match e {
            Value::Error(err) => Ok(Value::String(
                lua.create_string(crate::userdata::error::from_mlua(&err).message)?,
            )),
            // Inside an xpcall handler mlua hands over its wrapper as plain userdata.
            Value::UserData(ud) if !ud.is::<LuaErrorObject>() => {
                let text = Value::UserData(ud.clone()).to_string()?;
                match text.strip_prefix("runtime error: ") {
                    Some(rest) => {
                        let msg = rest.split("\nstack traceback:").next().unwrap_or(rest);
                        Ok(Value::String(lua.create_string(msg)?))
                    }
                    None => Ok(Value::UserData(ud)),
                }
            }
            other => Ok(other),
        })?,
    )?;
    let c = ctx.clone();
    raw.raw_set(
        "capture_error",
        lua.create_function(move |_, (e, tb): (Value, Option<String>)| {
            let mut err = from_lua_value(&e);
            if err.stack.is_none() {
                err.stack = tb;
            }
            // The task body's `finish` ends the process with it.
            if let Some(p) = c.try_current() {
                let mut slot = p.rare().error.borrow_mut();
                if slot.is_none() {
                    *slot = Some(err.clone());
                }
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

/// The Lua call stack from `level` up, one frame per line in Luau's traceback format
/// (`source:line function name`), leaving out C functions and the engine's prelude.
pub(crate) fn capture_stack(lua: &Lua, level: usize) -> Option<String> {
    let mut out = String::new();
    for lvl in level..level + 64 {
        let frame = lua.inspect_stack(lvl, |d| {
            let src = d.source();
            let short = src.short_src.as_deref().unwrap_or("?").to_string();
            if src.what == "C" || short.starts_with("starling.") {
                return None;
            }
            let line = d.current_line().map_or(0, |l| l as i64);
            let name = d.names().name.map(|n| n.to_string());
            Some(match name {
                Some(n) => format!("{short}:{line} function {n}"),
                None => format!("{short}:{line}"),
            })
        });
        match frame {
            None => break,
            Some(None) => continue,
            Some(Some(f)) => {
                out.push_str(&f);
                out.push('\n');
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

fn bad_new(msg: &str) -> mlua::Error {
    misuse(format!("bad argument #1 to 'new' ({msg})"))
}

/// `errors.new` from a table: `message` required, `kind`, `retryable`, `details` optional.
fn from_table(t: &Table) -> mlua::Result<ErrorValue> {
    let message = match t.get::<Value>("message")? {
        Value::String(s) => s.to_string_lossy(),
        Value::Nil => return Err(bad_new("field 'message' is required")),
        other => {
            return Err(bad_new(&format!(
                "field 'message' must be a string, got {}",
                arg_type(&other)
            )));
        }
    };
    let kind = match t.get::<Value>("kind")? {
        Value::Nil => ErrorKind::Unknown,
        Value::String(k) if k.as_bytes().is_empty() => ErrorKind::Unknown,
        k @ Value::String(_) => kind_arg(&k).ok_or_else(|| {
            bad_new(&format!(
                "unknown error kind '{}'",
                k.to_string().unwrap_or_default()
            ))
        })?,
        other => {
            return Err(bad_new(&format!(
                "field 'kind' must be a string, got {}",
                arg_type(&other)
            )));
        }
    };
    let retryable = match t.get::<Value>("retryable")? {
        Value::Nil => None,
        Value::Boolean(b) => Some(b),
        other => {
            return Err(bad_new(&format!(
                "field 'retryable' must be a boolean, got {}",
                arg_type(&other)
            )));
        }
    };
    let details = match t.get::<Value>("details")? {
        Value::Nil => None,
        d => Some(Box::new(convert::value_to_payload(&d)?)),
    };
    let mut e = ErrorValue::new(kind, message).retryable(retryable);
    e.details = details;
    Ok(e)
}

pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.raw_set(
        "new",
        lua.create_function(|lua, (a, b): (Value, Option<Value>)| {
            let mut e = match (&a, &b) {
                // SPEC §11.21: `new(KIND, message)` when the first string names a kind.
                (Value::String(_), Some(Value::String(m))) if kind_arg(&a).is_some() => {
                    let kind = kind_arg(&a).unwrap_or(ErrorKind::Unknown);
                    ErrorValue::new(kind, m.to_string_lossy()).retryable(None)
                }
                (Value::String(s), _) => {
                    ErrorValue::new(ErrorKind::Unknown, s.to_string_lossy()).retryable(None)
                }
                (Value::Table(t), _) => from_table(t)?,
                (other, _) => {
                    return Err(bad_new(&format!(
                        "string or table expected, got {}",
                        arg_type(other)
                    )));
                }
            };
            e.stack = capture_stack(lua, 1);
            lua.create_userdata(LuaErrorObject(e))
        })?,
    )?;
    t.raw_set(
        "wrap",
        lua.create_function(|lua, (err, msg): (Value, Value)| {
            if err.is_nil() {
                return Ok(Value::Nil);
            }
            let msg = match msg {
                Value::String(s) => s.to_string_lossy(),
                Value::Integer(_) | Value::Number(_) => msg.to_string()?,
                other => {
                    return Err(misuse(format!(
                        "bad argument #2 to 'wrap' (string expected, got {})",
                        arg_type(&other)
                    )));
                }
            };
            let inner = error_of(&err).unwrap_or_else(|| from_lua_value(&err));
            let mut outer = ErrorValue::new(inner.kind, msg).retryable(inner.retryable);
            outer.details = inner.details.clone();
            outer.stack = inner.stack.clone().or_else(|| capture_stack(lua, 1));
            // A chain wrapped in a loop keeps its outer layers and root (MAX_ERROR_DEPTH).
            outer.cause = Some(Box::new(inner.clamped(MAX_ERROR_DEPTH - 1)));
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
