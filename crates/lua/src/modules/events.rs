//! `events` (Wippy's event bus, SPEC-free; docs/semantics.md "Event bus"): `subscribe`,
//! `send`, and subscriptions with `channel()` and `close()`. The bus itself is
//! `starling_core::Bus` on the node; the Lua half is `events.lua`.
//!
//! An event arrives as a table `{system, kind, path, data}` (`data` only when the publisher
//! gave one) on the subscription's channel. Errors (`nil, err` INVALID): empty system, kind or
//! path; a non-string argument.

use std::rc::Rc;

use mlua::{Lua, MultiValue, Table, Value};
use starling_core::ErrorKind;

use crate::convert::value_to_payload;
use crate::engine::Ctx;
use crate::userdata::error::fail;

const LUA_HALF: &str = include_str!("events.lua");

/// The text of argument `pos`, or the INVALID message.
fn text(v: Option<&Value>, what: &str, required: bool) -> Result<Option<String>, String> {
    match v {
        Some(Value::String(s)) if !s.as_bytes().is_empty() => Ok(Some(s.to_string_lossy())),
        None | Some(Value::Nil) if !required => Ok(None),
        Some(Value::String(_)) | None | Some(Value::Nil) => Err(format!("{what} cannot be empty")),
        Some(other) => Err(format!(
            "{what} must be a string, got {}",
            other.type_name()
        )),
    }
}

pub(crate) fn module(lua: &Lua, ctx: &Rc<Ctx>) -> mlua::Result<Value> {
    let raw = lua.create_table()?;
    let c = ctx.clone();
    raw.raw_set(
        "subscribe",
        lua.create_function(move |lua, args: MultiValue| {
            let system = match text(args.front(), "system", true) {
                Ok(s) => s.unwrap_or_default(),
                Err(e) => return fail(lua, ErrorKind::Invalid, e),
            };
            let kind = match text(args.get(1), "kind", false) {
                Ok(k) => k,
                Err(e) => return fail(lua, ErrorKind::Invalid, e),
            };
            let pid = c.current()?.pid;
            let node = c.local.node();
            let (id, topic) = node.bus().subscribe(&system, kind.as_deref(), pid, |id| {
                format!("starling.events.{id}")
            });
            Ok(MultiValue::from_vec(vec![
                Value::Number(id as f64),
                Value::String(lua.create_string(&topic)?),
            ]))
        })?,
    )?;
    let c = ctx.clone();
    raw.raw_set(
        "unsubscribe",
        lua.create_function(move |_, id: f64| Ok(c.local.node().bus().unsubscribe(id as u64)))?,
    )?;
    let c = ctx.clone();
    raw.raw_set(
        "send",
        lua.create_function(move |lua, args: MultiValue| {
            let mut fields = Vec::new();
            for (i, what) in ["system", "kind", "path"].iter().enumerate() {
                match text(args.get(i), what, true) {
                    Ok(s) => fields.push(s.unwrap_or_default()),
                    Err(e) => return fail(lua, ErrorKind::Invalid, e),
                }
            }
            let event = lua.create_table()?;
            event.raw_set("system", fields[0].as_str())?;
            event.raw_set("kind", fields[1].as_str())?;
            event.raw_set("path", fields[2].as_str())?;
            if let Some(data) = args.get(3).filter(|v| !v.is_nil()) {
                event.raw_set("data", data.clone())?;
            }
            let payload = value_to_payload(&Value::Table(event))?;
            let from = c.current().ok().map(|p| p.pid);
            c.local
                .node()
                .publish(from, &fields[0], &fields[1], || payload.clone());
            Ok(MultiValue::from_vec(vec![Value::Boolean(true)]))
        })?,
    )?;
    let module: Table = lua.load(LUA_HALF).set_name("=starling.events").call(raw)?;
    Ok(Value::Table(module))
}
