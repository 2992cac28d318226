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
            let len = t.raw_len();
            let mut array = Vec::with_capacity(len);
            for k in 1..=len {
                let v: LuaValue = t.raw_get(k)?;
                array.push(self.value(&v)?);
            }
            let mut hash = Vec::new();
            for pair in t.pairs::<LuaValue, LuaValue>() {
                let (k, v) = pair?;
                // Both halves are checked before either is copied: a table key whose value is
                // dropped (a function, say) must not be copied into the arena for nothing.
                if !crosses(&k) || !crosses(&v) {
                    continue;
                }
                if let LuaValue::Integer(n) = k {
                    if n >= 1 && (n as usize) <= len {
                        continue;
                    }
                }
                if let LuaValue::Number(n) = k {
                    if n.fract() == 0.0 && n >= 1.0 && (n as usize) <= len {
                        continue;
                    }
                }
                let kv = self.value(&k)?;
                let vv = self.value(&v)?;
                hash.push((kv, vv));
            }
            // Trailing nils (functions in the array part) shorten the sequence as in Lua.
            while array.last() == Some(&Value::Nil) {
                array.pop();
            }
            self.tables[i as usize] = Table { array, hash };
        }
        Ok(())
    }
}

/// True when [`Copier::value`] copies `v` to something other than nil.
fn crosses(v: &LuaValue) -> bool {
    match v {
        LuaValue::Boolean(_)
        | LuaValue::Integer(_)
        | LuaValue::Number(_)
        | LuaValue::String(_)
        | LuaValue::Table(_) => true,
        LuaValue::UserData(ud) => ud.is::<LuaErrorObject>(),
        _ => false,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `payload` fuzz target (issue 4): a table used as a key next to a function
    /// value was copied into the arena, with everything it reaches, though the pair is dropped.
    #[test]
    fn issue_4_key_of_a_dropped_pair_is_not_copied() {
        let lua = Lua::new();
        let t: LuaValue = lua
            .load("local t = { x = 1 }; t[{ inner = {} }] = function() end; return t")
            .eval()
            .expect("chunk");
        let p = value_to_payload(&t).expect("copy");
        assert_eq!(p.values, [Value::Table(0)]);
        assert_eq!(
            p.tables,
            [Table {
                array: Vec::new(),
                hash: vec![(Value::str("x"), Value::Int(1))],
            }]
        );
    }
}
