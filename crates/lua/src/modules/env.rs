//! `env` (Wippy's environment variables): `get`, `set`, `get_all`, over the `env.storage.*`
//! and `env.variable` entries the host loaded (see `starling_host` `env.rs` for storages).
//!
//! `get(key)` → value, or `nil, err` NOT_FOUND; `set(key, value)` → `true`, or `nil, err`
//! PERMISSION_DENIED for read-only variables and storages; `get_all()` → table of every
//! declared public variable with a value. An empty key is INVALID.

use std::rc::Rc;

use mlua::{Lua, MultiValue, Value};
use starling_core::ErrorKind;

use crate::args::seal;
use crate::engine::Ctx;
use crate::userdata::error::{fail, fail_with};

/// The key argument, or the INVALID message.
fn key(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) if !s.as_bytes().is_empty() => Ok(s.to_string_lossy()),
        Value::String(_) | Value::Nil => Err("key cannot be empty".into()),
        other => Err(format!("key must be a string, got {}", other.type_name())),
    }
}

/// The value argument of `set`: strings, numbers and booleans as text.
fn text(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.to_string_lossy()),
        Value::Integer(i) => Ok(i.to_string()),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => Ok(format!("{}", *n as i64)),
        Value::Number(n) => Ok(n.to_string()),
        Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!("value must be a string, got {}", other.type_name())),
    }
}

pub(crate) fn module(lua: &Lua, ctx: &Rc<Ctx>) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    let c = ctx.clone();
    t.raw_set(
        "get",
        lua.create_function(move |lua, k: Value| {
            let k = match key(&k) {
                Ok(k) => k,
                Err(e) => return fail(lua, ErrorKind::Invalid, e),
            };
            let Some(env) = c.services.env() else {
                return fail(lua, ErrorKind::NotFound, format!("variable not found: {k}"));
            };
            match env.get(&k) {
                Ok(v) => Ok(MultiValue::from_vec(vec![Value::String(
                    lua.create_string(&v)?,
                )])),
                Err(e) => fail_with(lua, e),
            }
        })?,
    )?;
    let c = ctx.clone();
    t.raw_set(
        "set",
        lua.create_function(move |lua, (k, v): (Value, Value)| {
            let (k, v) = match (key(&k), text(&v)) {
                (Ok(k), Ok(v)) => (k, v),
                (Err(e), _) | (_, Err(e)) => return fail(lua, ErrorKind::Invalid, e),
            };
            let Some(env) = c.services.env() else {
                return fail(lua, ErrorKind::NotFound, format!("variable not found: {k}"));
            };
            match env.set(&k, &v) {
                Ok(()) => Ok(MultiValue::from_vec(vec![Value::Boolean(true)])),
                Err(e) => fail_with(lua, e),
            }
        })?,
    )?;
    let c = ctx.clone();
    t.raw_set(
        "get_all",
        lua.create_function(move |lua, ()| {
            let t = lua.create_table()?;
            if let Some(env) = c.services.env() {
                for (k, v) in env.all() {
                    t.raw_set(k, v)?;
                }
            }
            Ok(t)
        })?,
    )?;
    Ok(Value::Table(seal(&t)))
}
