//! Lua values ↔ payloads (SPEC §6): the one place values cross a process boundary.
//!
//! Copying out of Lua walks tables iteratively (deep nesting cannot overflow the Rust stack) and
//! keeps one arena slot per distinct table, so shared sub-tables and cycles keep their shape.
//! Functions, threads and userdata other than error objects become `nil`; metatables are dropped.

use std::ffi::c_void;

use mlua::{Lua, Table as LuaTable, Value as LuaValue};
use rustc_hash::FxHashMap;
use starling_core::{Payload, Table, Value};

use crate::userdata::error::LuaErrorObject;

/// Copies Lua values into a payload.
pub(crate) fn to_payload<'a>(
    values: impl IntoIterator<Item = &'a LuaValue>,
) -> mlua::Result<Payload> {
    let mut c = Copier::default();
    let mut out = Vec::new();
    for v in values {
        out.push(c.value(v)?);
    }
    c.drain()?;
    Ok(Payload {
        values: out,
        tables: c.tables,
    })
}

/// Copies a single Lua value into a payload of one value.
pub(crate) fn value_to_payload(v: &LuaValue) -> mlua::Result<Payload> {
    to_payload(std::iter::once(v))
}

#[derive(Default)]
struct Copier {
    seen: FxHashMap<*const c_void, u32>,
    tables: Vec<Table>,
    todo: Vec<(u32, LuaTable)>,
}

impl Copier {
    fn value(&mut self, v: &LuaValue) -> mlua::Result<Value> {
        Ok(match v {
            LuaValue::Nil => Value::Nil,
            LuaValue::Boolean(b) => Value::Bool(*b),
            LuaValue::Integer(i) => Value::Int(*i),
            LuaValue::Number(n) => Value::number(*n),
            LuaValue::String(s) => Value::Str(s.as_bytes().to_vec().into_boxed_slice()),
            LuaValue::Table(t) => {
                let p = t.to_pointer();
                if let Some(i) = self.seen.get(&p) {
                    Value::Table(*i)
                } else {
                    let i = self.tables.len() as u32;
                    self.tables.push(Table::default());
                    self.seen.insert(p, i);
                    self.todo.push((i, t.clone()));
                    Value::Table(i)
                }
            }
            LuaValue::UserData(ud) => match ud.borrow::<LuaErrorObject>() {
                Ok(e) => Value::Error(Box::new(e.0.clone())),
                Err(_) => Value::Nil,
            },
            _ => Value::Nil,
        })
    }

    fn drain(&mut self) -> mlua::Result<()> {
        while let Some((i, t)) = self.todo.pop() {
            // One raw pass over the table (no metamethods, no protected call per step): keys
            // 1..=len fill the array part, every other key the hash part.
            let len = t.raw_len();
            let mut array = vec![Value::Nil; len];
            let mut hash = Vec::new();
            t.for_each::<LuaValue, LuaValue>(|k, v| {
                let index = match k {
                    LuaValue::Integer(n) if n >= 1 && (n as usize) <= len => Some(n as usize),
                    LuaValue::Number(n) if n.fract() == 0.0 && n >= 1.0 && (n as usize) <= len => {
                        Some(n as usize)
                    }
                    _ => None,
                };
                if let Some(n) = index {
                    array[n - 1] = self.value(&v)?;
                    return Ok(());
                }
                let kv = self.value(&k)?;
                if kv == Value::Nil {
                    return Ok(());
                }
                let vv = self.value(&v)?;
                if vv != Value::Nil {
                    hash.push((kv, vv));
                }
                Ok(())
            })?;
            // Trailing nils (functions in the array part) shorten the sequence as in Lua.
            while array.last() == Some(&Value::Nil) {
                array.pop();
            }
            self.tables[i as usize] = Table { array, hash };
        }
        Ok(())
    }
}

/// Builds Lua values from a payload; returns one Lua value per payload value.
pub(crate) fn from_payload(lua: &Lua, p: &Payload) -> mlua::Result<Vec<LuaValue>> {
    let tables = build_tables(lua, p)?;
    p.values.iter().map(|v| scalar(lua, v, &tables)).collect()
}

/// The first value of a payload as a Lua value (`nil` when empty).
pub(crate) fn first_from_payload(lua: &Lua, p: &Payload) -> mlua::Result<LuaValue> {
    let Some(v) = p.values.first() else {
        return Ok(LuaValue::Nil);
    };
    if p.tables.is_empty() {
        return scalar(lua, v, &[]);
    }
    let tables = build_tables(lua, p)?;
    scalar(lua, v, &tables)
}

fn build_tables(lua: &Lua, p: &Payload) -> mlua::Result<Vec<LuaTable>> {
    let mut tables = Vec::with_capacity(p.tables.len());
    for t in &p.tables {
        tables.push(lua.create_table_with_capacity(t.array.len(), t.hash.len())?);
    }
    for (t, lt) in p.tables.iter().zip(&tables) {
        for (i, v) in t.array.iter().enumerate() {
            lt.raw_set(i + 1, scalar(lua, v, &tables)?)?;
        }
        for (k, v) in &t.hash {
            lt.raw_set(scalar(lua, k, &tables)?, scalar(lua, v, &tables)?)?;
        }
    }
    Ok(tables)
}

fn scalar(lua: &Lua, v: &Value, tables: &[LuaTable]) -> mlua::Result<LuaValue> {
    Ok(match v {
        Value::Nil => LuaValue::Nil,
        Value::Bool(b) => LuaValue::Boolean(*b),
        Value::Int(i) => LuaValue::Number(*i as f64),
        Value::Float(f) => LuaValue::Number(*f),
        Value::Str(s) => LuaValue::String(lua.create_string(&**s)?),
        Value::Table(i) => LuaValue::Table(tables[*i as usize].clone()),
        Value::Error(e) => LuaValue::UserData(lua.create_userdata(LuaErrorObject((**e).clone()))?),
    })
}
