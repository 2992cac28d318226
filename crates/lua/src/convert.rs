//! Lua values ↔ payloads (SPEC §6): the one place values cross a process boundary.
//!
//! Copying out of Lua walks tables iteratively (deep nesting cannot overflow the Rust stack) and
//! keeps one arena slot per distinct table, so shared sub-tables and cycles keep their shape.
//! Functions, threads and userdata other than error objects become `nil`; metatables are dropped.
//!
//! Every Lua value Rust holds takes a slot of mlua's reference stack, which one VM shares and
//! which ends near a million slots. A copy holds few: a payload of many tables parks the tables
//! waiting to be walked, or built, in one Lua table beyond [`PARK_AFTER`] of them, so its size
//! is bounded by memory only (the receiving VM's memory limit included).

use std::ffi::c_void;

use mlua::{Lua, Table as LuaTable, Value as LuaValue};
use rustc_hash::FxHashMap;
use starling_core::{MAX_ERROR_DEPTH, Payload, Table, Value};

use crate::userdata::error_object::LuaErrorObject;

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

/// Tables a copy keeps as Rust references before parking the rest in a Lua table.
const PARK_AFTER: usize = 4096;

#[derive(Default)]
struct Copier {
    seen: FxHashMap<*const c_void, u32>,
    tables: Vec<Table>,
    todo: Vec<(u32, LuaTable)>,
    /// Tables waiting to be walked beyond [`PARK_AFTER`]: `parked[i + 1]` is arena table `i`.
    parked: Option<LuaTable>,
    parked_ids: Vec<u32>,
}

impl Copier {
    fn value(&mut self, v: &LuaValue) -> mlua::Result<Value> {
        Ok(match v {
            LuaValue::Nil => Value::Nil,
            LuaValue::Boolean(b) => Value::Bool(*b),
            LuaValue::Integer(i) => Value::Int(*i),
            LuaValue::Number(n) => Value::number(*n),
            LuaValue::String(s) => Value::Str(s.as_bytes().as_ref().into()),
            LuaValue::Table(t) => {
                let p = t.to_pointer();
                if let Some(i) = self.seen.get(&p) {
                    Value::Table(*i)
                } else {
                    let i = self.tables.len() as u32;
                    self.tables.push(Table::default());
                    self.seen.insert(p, i);
                    if self.todo.len() < PARK_AFTER {
                        self.todo.push((i, t.clone()));
                    } else {
                        self.park(i, t)?;
                    }
                    Value::Table(i)
                }
            }
            LuaValue::UserData(ud) => match ud.borrow::<LuaErrorObject>() {
                // Errors nest through details too: keep them shallow (see MAX_ERROR_DEPTH).
                Ok(e) => Value::Error(Box::new(e.0.clamped(MAX_ERROR_DEPTH - 1))),
                Err(_) => Value::Nil,
            },
            _ => Value::Nil,
        })
    }

    fn park(&mut self, i: u32, t: &LuaTable) -> mlua::Result<()> {
        let parked = match &self.parked {
            Some(p) => p,
            None => self.parked.insert(t.weak_lua().upgrade().create_table()?),
        };
        parked.raw_set(i as i64 + 1, t)?;
        self.parked_ids.push(i);
        Ok(())
    }

    fn next(&mut self) -> mlua::Result<Option<(u32, LuaTable)>> {
        if let Some(item) = self.todo.pop() {
            return Ok(Some(item));
        }
        let (Some(i), Some(parked)) = (self.parked_ids.pop(), &self.parked) else {
            return Ok(None);
        };
        let key = i as i64 + 1;
        let t: LuaTable = parked.raw_get(key)?;
        parked.raw_set(key, LuaValue::Nil)?;
        Ok(Some((i, t)))
    }

    fn drain(&mut self) -> mlua::Result<()> {
        while let Some((i, t)) = self.next()? {
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
                // Both halves are checked before either is copied: a table key whose value is
                // dropped (a function, say) must not be copied into the arena for nothing.
                if !crosses(&k) || !crosses(&v) {
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
        return scalar(lua, v, &Built::Few(Vec::new()));
    }
    let tables = build_tables(lua, p)?;
    scalar(lua, v, &tables)
}

/// The Lua tables of a payload being built: Rust references for a few, one Lua array for many.
enum Built {
    Few(Vec<LuaTable>),
    Many(LuaTable),
}

impl Built {
    fn get(&self, i: u32) -> mlua::Result<LuaTable> {
        match self {
            Built::Few(v) => Ok(v[i as usize].clone()),
            Built::Many(all) => all.raw_get(i as i64 + 1),
        }
    }
}

fn build_tables(lua: &Lua, p: &Payload) -> mlua::Result<Built> {
    if p.tables.len() <= PARK_AFTER {
        let mut tables = Vec::with_capacity(p.tables.len());
        for t in &p.tables {
            tables.push(lua.create_table_with_capacity(t.array.len(), t.hash.len())?);
        }
        let built = Built::Few(tables);
        if let Built::Few(tables) = &built {
            for (t, lt) in p.tables.iter().zip(tables) {
                fill(lua, t, lt, &built)?;
            }
        }
        return Ok(built);
    }
    let all = lua.create_table_with_capacity(p.tables.len(), 0)?;
    for (i, t) in p.tables.iter().enumerate() {
        all.raw_set(
            i + 1,
            lua.create_table_with_capacity(t.array.len(), t.hash.len())?,
        )?;
    }
    let built = Built::Many(all);
    for (i, t) in p.tables.iter().enumerate() {
        fill(lua, t, &built.get(i as u32)?, &built)?;
    }
    Ok(built)
}

fn fill(lua: &Lua, t: &Table, lt: &LuaTable, tables: &Built) -> mlua::Result<()> {
    for (i, v) in t.array.iter().enumerate() {
        lt.raw_set(i + 1, scalar(lua, v, tables)?)?;
    }
    for (k, v) in &t.hash {
        lt.raw_set(scalar(lua, k, tables)?, scalar(lua, v, tables)?)?;
    }
    Ok(())
}

fn scalar(lua: &Lua, v: &Value, tables: &Built) -> mlua::Result<LuaValue> {
    Ok(match v {
        Value::Nil => LuaValue::Nil,
        Value::Bool(b) => LuaValue::Boolean(*b),
        Value::Int(i) => LuaValue::Number(*i as f64),
        Value::Float(f) => LuaValue::Number(*f),
        Value::Str(s) => LuaValue::String(lua.create_string(&**s)?),
        Value::Table(i) => LuaValue::Table(tables.get(*i)?),
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
