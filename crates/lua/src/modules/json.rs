//! `json` (Wippy's `json` module): `encode` and `decode`.
//!
//! Encoding: `nil` → `null`; a table with keys 1..n → an array; a table with string keys → an
//! object (members in sorted key order); an empty table → `[]`; integral numbers print without
//! a fraction, inf and NaN become `null`; an error object encodes as its message. Mixed or
//! sparse keys, cycles, nesting past 128 levels and values JSON cannot hold (functions,
//! coroutines, other userdata) are `nil, err` INTERNAL. Decoding: objects and arrays become
//! tables, `null` becomes `nil`; invalid JSON is `nil, err` INTERNAL, a non-string or empty
//! input INVALID. Both run in one pass over their input (no quadratic cost on large inputs).

use std::fmt::Write as _;

use mlua::{Lua, MultiValue, Table, Value};
use serde_json::Value as Json;
use starling_core::ErrorKind;

use crate::args::seal;
use crate::userdata::error::{LuaErrorObject, fail};

/// Deepest nesting `encode` accepts (Wippy's limit).
pub(crate) const MAX_DEPTH: usize = 128;

pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        lua.create_function(|lua, v: Value| {
            let mut out = String::new();
            let mut path = Vec::new();
            match encode(&v, &mut out, &mut path) {
                Ok(()) => Ok(MultiValue::from_vec(vec![Value::String(
                    lua.create_string(&out)?,
                )])),
                Err(msg) => fail(lua, ErrorKind::Internal, msg),
            }
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, v: Value| {
            let text = match &v {
                Value::String(s) if !s.as_bytes().is_empty() => s.clone(),
                Value::String(_) => return fail(lua, ErrorKind::Invalid, "empty input"),
                other => {
                    return fail(
                        lua,
                        ErrorKind::Invalid,
                        format!("string expected, got {}", other.type_name()),
                    );
                }
            };
            match serde_json::from_slice::<Json>(&text.as_bytes()) {
                Ok(json) => Ok(MultiValue::from_vec(vec![to_lua(lua, &json)?])),
                Err(e) => fail(lua, ErrorKind::Internal, format!("invalid JSON: {e}")),
            }
        })?,
    )?;
    Ok(seal(&t))
}

/// A JSON value as a fresh Lua value (`null` → `nil`).
pub(crate) fn to_lua(lua: &Lua, json: &Json) -> mlua::Result<Value> {
    Ok(match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        Json::String(s) => Value::String(lua.create_string(s)?),
        Json::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
        Json::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, v) in map {
                t.raw_set(k.as_str(), to_lua(lua, v)?)?;
            }
            Value::Table(t)
        }
    })
}

/// Writes `v` as JSON; `path` holds the tables being encoded (for cycles and depth).
pub(crate) fn encode(v: &Value, out: &mut String, path: &mut Vec<usize>) -> Result<(), String> {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Number(n) => number(*n, out),
        Value::String(s) => string(&s.to_string_lossy(), out),
        Value::Table(t) => table(t, out, path)?,
        Value::UserData(ud) => match ud.borrow::<LuaErrorObject>() {
            Ok(e) => string(&e.0.full_message(), out),
            Err(_) => return Err("cannot encode userdata".into()),
        },
        other => return Err(format!("cannot encode {}", other.type_name())),
    }
    Ok(())
}

fn number(n: f64, out: &mut String) {
    if !n.is_finite() {
        out.push_str("null");
    } else if n.fract() == 0.0 && n.abs() < 1e15 {
        let _ = write!(out, "{}", n as i64);
    } else {
        let _ = write!(out, "{n}");
    }
}

/// A JSON string literal.
pub(crate) fn string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn table(t: &Table, out: &mut String, path: &mut Vec<usize>) -> Result<(), String> {
    let id = t.to_pointer() as usize;
    if path.contains(&id) {
        return Err("cannot encode a table that contains itself (cycle)".into());
    }
    if path.len() >= MAX_DEPTH {
        return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
    }
    let len = t.raw_len();
    let mut count = 0usize;
    let mut strings: Vec<(String, Value)> = Vec::new();
    let mut numeric = false;
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair.map_err(|e| e.to_string())?;
        count += 1;
        match k {
            Value::String(s) => strings.push((s.to_string_lossy(), v)),
            Value::Integer(_) | Value::Number(_) => numeric = true,
            other => {
                return Err(format!(
                    "cannot encode a table key of type {}",
                    other.type_name()
                ));
            }
        }
    }
    if numeric && !strings.is_empty() {
        return Err("cannot encode a table with both number and string keys".into());
    }
    path.push(id);
    if strings.is_empty() {
        if count != len {
            path.pop();
            return Err("cannot encode a sparse array".into());
        }
        out.push('[');
        for i in 1..=len {
            if i > 1 {
                out.push(',');
            }
            let v: Value = t.raw_get(i).map_err(|e| e.to_string())?;
            encode(&v, out, path)?;
        }
        out.push(']');
    } else {
        strings.sort_by(|a, b| a.0.cmp(&b.0));
        out.push('{');
        for (i, (k, v)) in strings.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            string(k, out);
            out.push(':');
            encode(v, out, path)?;
        }
        out.push('}');
    }
    path.pop();
    Ok(())
}

/// A Lua value as JSON for the registry and env modules (same rules as `encode`).
pub(crate) fn to_json(v: &Value) -> Result<Json, String> {
    let mut out = String::new();
    encode(v, &mut out, &mut Vec::new())?;
    serde_json::from_str(&out).map_err(|e| e.to_string())
}
