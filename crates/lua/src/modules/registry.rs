//! `registry` (Wippy's entry registry, read side and change sets): `get`, `find`, `parse_id`,
//! `snapshot`, `current_version`; snapshots (`entries`, `get`, `find`, `namespace`,
//! `version`, `changes`), versions (`id`, `string`, `previous`, `next`) and change sets
//! (`create`, `update`, `delete`, `ops`, `apply`). The entries live in the host's
//! [`EntryStore`]; an entry is the table `{id, kind, meta, data}`.
//!
//! Errors: a missing entry is `nil, err` NOT_FOUND, a malformed argument INVALID, an empty
//! change set INVALID. Version history (`versions`, `history`, `snapshot_at`,
//! `apply_version`) is not kept: those are absent.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use mlua::{Lua, MultiValue, UserData, UserDataMethods, Value};
use serde_json::Value as Json;
use starling_core::ErrorKind;

use crate::args::seal;
use crate::engine::Ctx;
use crate::entries::{Change, EntryStore, EntryView, Filter, Version};
use crate::modules::json::{to_json, to_lua};
use crate::userdata::error::fail;

fn one(v: Value) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_vec(vec![v]))
}

/// An entry as a Lua table.
fn entry_table(lua: &Lua, e: &EntryView) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 4)?;
    t.raw_set("id", e.id.as_str())?;
    t.raw_set("kind", e.kind.as_str())?;
    t.raw_set("meta", to_lua(lua, &Json::Object(e.meta.clone()))?)?;
    let data = match to_lua(lua, &e.data)? {
        Value::Nil => Value::Table(lua.create_table()?),
        v => v,
    };
    t.raw_set("data", data)?;
    Ok(Value::Table(t))
}

fn list(lua: &Lua, entries: impl Iterator<Item = Arc<EntryView>>) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    for (i, e) in entries.enumerate() {
        t.raw_set(i + 1, entry_table(lua, &e)?)?;
    }
    Ok(Value::Table(t))
}

/// The conditions of a `find` filter table.
fn filters(v: &Value) -> Result<Vec<Filter>, String> {
    let Value::Table(t) = v else {
        return Err(format!("filter must be a table, got {}", v.type_name()));
    };
    let mut out = Vec::new();
    for pair in t.pairs::<String, Value>() {
        let (k, v) = pair.map_err(|e| e.to_string())?;
        out.push(Filter::new(&k, to_json(&v)?));
    }
    Ok(out)
}

fn find(lua: &Lua, version: &Version, filter: &Value) -> mlua::Result<MultiValue> {
    let conditions = match filter {
        Value::Nil => Vec::new(),
        v => match filters(v) {
            Ok(f) => f,
            Err(e) => return fail(lua, ErrorKind::Invalid, e),
        },
    };
    let matching = version
        .entries
        .values()
        .filter(|e| conditions.iter().all(|c| c.matches(e)))
        .cloned();
    one(list(lua, matching)?)
}

fn get(lua: &Lua, version: &Version, id: &Value) -> mlua::Result<MultiValue> {
    let Value::String(id) = id else {
        return fail(lua, ErrorKind::Invalid, "entry id must be a string");
    };
    let id = id.to_string_lossy();
    match version.entries.get(&id) {
        Some(e) => one(entry_table(lua, e)?),
        None => fail(lua, ErrorKind::NotFound, format!("entry not found: {id}")),
    }
}

/// An entry table from Lua (`changes:create`/`update`).
fn entry_from(v: &Value) -> Result<EntryView, String> {
    let Value::Table(t) = v else {
        return Err("entry must be a table".into());
    };
    let field = |k: &str| t.raw_get::<Value>(k).map_err(|e| e.to_string());
    let id = match field("id")? {
        Value::String(s) => s.to_string_lossy(),
        Value::Table(p) => {
            let ns: String = p.raw_get("ns").map_err(|e| e.to_string())?;
            let name: String = p.raw_get("name").map_err(|e| e.to_string())?;
            format!("{ns}:{name}")
        }
        _ => return Err("entry id is required".into()),
    };
    match id.split_once(':') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() => {}
        _ => return Err(format!("invalid entry id {id:?}: expected namespace:name")),
    }
    let kind = match field("kind")? {
        Value::String(s) => s.to_string_lossy(),
        _ => return Err("entry kind is required".into()),
    };
    let meta = match to_json(&field("meta")?)? {
        Json::Object(m) => m,
        Json::Null | Json::Array(_) => serde_json::Map::new(),
        _ => return Err("entry meta must be a table".into()),
    };
    let data = to_json(&field("data")?)?;
    Ok(EntryView {
        id,
        kind,
        meta,
        data,
    })
}

#[derive(Clone)]
struct VersionUd(u64);

impl UserData for VersionUd {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("id", |_, v, ()| Ok(v.0 as f64));
        m.add_method("string", |_, v, ()| Ok(format!("v{}", v.0)));
        m.add_method("previous", |_, _, ()| Ok(Value::Nil));
        m.add_method("next", |_, _, ()| Ok(Value::Nil));
    }
}

struct SnapshotUd {
    version: Arc<Version>,
    store: Arc<EntryStore>,
}

impl UserData for SnapshotUd {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("entries", |lua, s, ()| {
            one(list(lua, s.version.entries.values().cloned())?)
        });
        m.add_method("get", |lua, s, id: Value| get(lua, &s.version, &id));
        m.add_method("find", |lua, s, f: Value| find(lua, &s.version, &f));
        m.add_method("namespace", |lua, s, ns: String| {
            one(list(
                lua,
                s.version
                    .entries
                    .values()
                    .filter(|e| e.namespace() == ns)
                    .cloned(),
            )?)
        });
        m.add_method("version", |_, s, ()| Ok(VersionUd(s.version.number)));
        m.add_method("changes", |_, s, ()| {
            Ok(ChangesUd {
                store: s.store.clone(),
                ops: RefCell::new(Vec::new()),
            })
        });
    }
}

struct ChangesUd {
    store: Arc<EntryStore>,
    ops: RefCell<Vec<Change>>,
}

impl UserData for ChangesUd {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        for (name, update) in [("create", false), ("update", true)] {
            m.add_method(name, move |lua, c, v: Value| match entry_from(&v) {
                Ok(e) => {
                    c.ops.borrow_mut().push(if update {
                        Change::Update(e)
                    } else {
                        Change::Create(e)
                    });
                    one(Value::Boolean(true))
                }
                Err(e) => fail(lua, ErrorKind::Invalid, e),
            });
        }
        m.add_method("delete", |lua, c, v: Value| {
            let id = match &v {
                Value::String(s) => s.to_string_lossy(),
                Value::Table(t) => {
                    let ns: String = t.raw_get("ns")?;
                    let name: String = t.raw_get("name")?;
                    format!("{ns}:{name}")
                }
                _ => return fail(lua, ErrorKind::Invalid, "entry id must be a string"),
            };
            c.ops.borrow_mut().push(Change::Delete(id));
            one(Value::Boolean(true))
        });
        m.add_method("ops", |lua, c, ()| {
            let t = lua.create_table()?;
            for (i, op) in c.ops.borrow().iter().enumerate() {
                let o = lua.create_table()?;
                match op {
                    Change::Create(e) | Change::Update(e) => {
                        let kind = if matches!(op, Change::Create(_)) {
                            "entry.create"
                        } else {
                            "entry.update"
                        };
                        o.raw_set("kind", kind)?;
                        o.raw_set("entry", entry_table(lua, e)?)?;
                    }
                    Change::Delete(id) => {
                        o.raw_set("kind", "entry.delete")?;
                        let e = lua.create_table()?;
                        e.raw_set("id", id.as_str())?;
                        o.raw_set("entry", e)?;
                    }
                }
                t.raw_set(i + 1, o)?;
            }
            Ok(t)
        });
        m.add_method("apply", |lua, c, ()| {
            let ops = std::mem::take(&mut *c.ops.borrow_mut());
            match c.store.apply(&ops) {
                Ok(v) => one(Value::UserData(lua.create_userdata(VersionUd(v.number))?)),
                Err(e) => {
                    let kind = if e.starts_with("entry not found") {
                        ErrorKind::NotFound
                    } else {
                        ErrorKind::Invalid
                    };
                    fail(lua, kind, e)
                }
            }
        });
    }
}

pub(crate) fn module(lua: &Lua, ctx: &Rc<Ctx>) -> mlua::Result<Value> {
    let store = ctx.services.entries().unwrap_or_default();
    let t = lua.create_table()?;
    let s = store.clone();
    t.raw_set(
        "get",
        lua.create_function(move |lua, id: Value| get(lua, &s.snapshot(), &id))?,
    )?;
    let s = store.clone();
    t.raw_set(
        "find",
        lua.create_function(move |lua, f: Value| find(lua, &s.snapshot(), &f))?,
    )?;
    t.raw_set(
        "parse_id",
        lua.create_function(|lua, id: String| {
            let t = lua.create_table()?;
            match id.split_once(':') {
                Some((ns, name)) => {
                    t.raw_set("ns", ns)?;
                    t.raw_set("name", name)?;
                }
                None => {
                    t.raw_set("ns", "")?;
                    t.raw_set("name", id.as_str())?;
                }
            }
            Ok(t)
        })?,
    )?;
    let s = store.clone();
    t.raw_set(
        "snapshot",
        lua.create_function(move |_, ()| {
            Ok(SnapshotUd {
                version: s.snapshot(),
                store: s.clone(),
            })
        })?,
    )?;
    let s = store;
    t.raw_set(
        "current_version",
        lua.create_function(move |_, ()| Ok(VersionUd(s.snapshot().number)))?,
    )?;
    Ok(Value::Table(seal(&t)))
}
