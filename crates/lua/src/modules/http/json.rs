//! JSON for the HTTP modules (`res:write_json`, `req:body_json`, SSE event data): Lua values
//! are written straight from the Lua tables ([`encode_lua`], depth-bounded, on the hot path of
//! every JSON response); JSON text is read into a payload ([`decode`]) that
//! [`crate::convert`] turns into Lua values.
//!
//! Encoding follows Go's `encoding/json` as Wippy uses it: object keys sorted, a table with
//! only an array part (or no entries) is an array, any other table an object whose integer
//! keys become strings. NaN and infinities are written as `null`; strings that are not UTF-8
//! are written with U+FFFD for the bad bytes. Error objects are written as their message.

use std::fmt::Write as _;

use starling_core::{Payload, Table, Value};

/// Deepest nesting written or read; deeper input is an error rather than a stack overflow.
pub(crate) const MAX_DEPTH: usize = 128;

/// Writes a Lua value as JSON (functions and other userdata are
/// left out of objects and are `null` in arrays).
pub(crate) fn encode_lua(v: &mlua::Value) -> Result<Vec<u8>, String> {
    let mut out = String::with_capacity(64);
    let mut open: Vec<*const std::ffi::c_void> = Vec::new();
    write_lua(&mut out, v, &mut open)?;
    Ok(out.into_bytes())
}

/// True for values an object member can hold (others are left out, as payload copies do).
fn kept(v: &mlua::Value) -> bool {
    match v {
        mlua::Value::Function(_) | mlua::Value::Thread(_) | mlua::Value::LightUserData(_) => false,
        mlua::Value::UserData(ud) => ud.is::<crate::userdata::error::LuaErrorObject>(),
        _ => true,
    }
}

fn write_number(out: &mut String, n: f64) {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        let _ = write!(out, "{}", n as i64);
    } else {
        match serde_json::Number::from_f64(n) {
            Some(num) => {
                let _ = write!(out, "{num}");
            }
            None => out.push_str("null"),
        }
    }
}

fn write_lua(
    out: &mut String,
    v: &mlua::Value,
    open: &mut Vec<*const std::ffi::c_void>,
) -> Result<(), String> {
    use mlua::Value as L;
    match v {
        L::Nil => out.push_str("null"),
        L::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        L::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        L::Number(n) => write_number(out, *n),
        L::String(s) => write_str(out, &s.to_string_lossy()),
        L::UserData(ud) => match ud.borrow::<crate::userdata::error::LuaErrorObject>() {
            Ok(e) => write_str(out, &e.0.full_message()),
            Err(_) => out.push_str("null"),
        },
        L::Table(t) => {
            if open.len() >= MAX_DEPTH {
                return Err(format!("value nested deeper than {MAX_DEPTH} levels"));
            }
            let p = t.to_pointer();
            if open.contains(&p) {
                return Err("cannot encode a table that contains itself".into());
            }
            open.push(p);
            // One pass over the table (each step through mlua costs): keep the members, note
            // whether the keys are exactly 1..n.
            let mut members: Vec<(L, L)> = Vec::new();
            let mut max_index = 0usize;
            let mut sequence = true;
            for pair in t.pairs::<L, L>() {
                let (k, val) = pair.map_err(|e| e.to_string())?;
                match &k {
                    L::Integer(i) if *i >= 1 => max_index = max_index.max(*i as usize),
                    L::Number(n) if n.fract() == 0.0 && *n >= 1.0 && *n < 9.0e15 => {
                        max_index = max_index.max(*n as usize)
                    }
                    _ => sequence = false,
                }
                members.push((k, val));
            }
            if sequence && max_index == members.len() {
                let mut items: Vec<Option<L>> = vec![None; max_index];
                for (k, val) in members {
                    let i = match k {
                        L::Integer(i) => i as usize,
                        L::Number(n) => n as usize,
                        _ => unreachable!("checked above"),
                    };
                    items[i - 1] = Some(val);
                }
                out.push('[');
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    match item {
                        Some(v) if kept(v) => write_lua(out, v, open)?,
                        _ => out.push_str("null"),
                    }
                }
                out.push(']');
            } else {
                let mut pairs: Vec<(String, L)> = Vec::with_capacity(members.len());
                for (k, val) in members {
                    if !kept(&val) {
                        continue;
                    }
                    let key = match &k {
                        L::String(s) => s.to_string_lossy(),
                        L::Integer(i) => i.to_string(),
                        L::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
                            (*n as i64).to_string()
                        }
                        L::Number(n) => n.to_string(),
                        L::Boolean(b) => b.to_string(),
                        _ => continue,
                    };
                    pairs.push((key, val));
                }
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
                out.push('{');
                for (n, (k, val)) in pairs.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    write_str(out, k);
                    out.push(':');
                    write_lua(out, val, open)?;
                }
                out.push('}');
            }
            open.pop();
        }
        _ => out.push_str("null"),
    }
    Ok(())
}

fn write_str(out: &mut String, s: &str) {
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

/// Parses JSON text into a payload of one value (`null` is nil; objects and arrays become
/// tables), straight from the text without an intermediate tree.
pub(crate) fn decode(text: &[u8]) -> Result<Payload, String> {
    use serde::de::DeserializeSeed;
    let mut p = Payload::empty();
    let mut de = serde_json::Deserializer::from_slice(text);
    // serde_json refuses nesting beyond 128 levels by itself.
    let v = Seed(&mut p.tables)
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    p.values.push(v);
    Ok(p)
}

/// Builds payload values into a table arena while serde_json reads.
struct Seed<'a>(&'a mut Vec<Table>);

impl<'de> serde::de::DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::number(f))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::str(s))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let i = self.0.len();
        self.0.push(Table::default());
        let mut array = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(Seed(self.0))? {
            array.push(v);
        }
        self.0[i].array = array;
        Ok(Value::Table(i as u32))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let i = self.0.len();
        self.0.push(Table::default());
        let mut hash = Vec::new();
        while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let v = map.next_value_seed(Seed(self.0))?;
            // A null member is an absent key, as in Lua.
            if v != Value::Nil {
                hash.push((Value::str(&*k), v));
            }
        }
        self.0[i].hash = hash;
        Ok(Value::Table(i as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(text: &str) -> String {
        let lua = mlua::Lua::new();
        let p = decode(text.as_bytes()).expect("parse");
        let v = crate::convert::first_from_payload(&lua, &p).expect("to Lua");
        String::from_utf8(encode_lua(&v).expect("encode")).expect("utf-8")
    }

    fn lua_json(chunk: &str) -> Result<String, String> {
        let lua = mlua::Lua::new();
        let v: mlua::Value = lua.load(chunk).eval().expect("chunk");
        encode_lua(&v).map(|b| String::from_utf8(b).expect("utf-8"))
    }

    #[test]
    fn round_trips_with_sorted_keys() {
        assert_eq!(
            round(r#"{"b":1,"a":[1,2.5,"x",true]}"#),
            r#"{"a":[1,2.5,"x",true],"b":1}"#
        );
        assert_eq!(round("[]"), "[]");
        assert_eq!(round(r#""a\"\n\u0001""#), r#""a\"\n\u0001""#);
        assert_eq!(round("null"), "null");
        assert_eq!(
            round(r#"{"k":null}"#),
            "[]",
            "null members are absent, as in Lua"
        );
    }

    #[test]
    fn lua_tables_and_bad_input() {
        assert_eq!(
            lua_json("return {10, n = 0/0}").expect("ok"),
            r#"{"1":10,"n":null}"#
        );
        assert_eq!(
            lua_json("return {f = function() end, x = 1}").expect("ok"),
            r#"{"x":1}"#
        );
        assert_eq!(
            lua_json("return {1, function() end, 3}").expect("ok"),
            "[1,null,3]"
        );
        assert_eq!(lua_json("return {}").expect("ok"), "[]");
        assert_eq!(lua_json("return 1.5").expect("ok"), "1.5");
        assert!(lua_json("local t = {} t[1] = t return t").is_err());
        assert!(lua_json("local t = {} for i = 1, 300 do t = {t} end return t").is_err());
        let shared = lua_json("local s = {1} return {a = s, b = s}").expect("shared, not cyclic");
        assert_eq!(shared, r#"{"a":[1],"b":[1]}"#);
        assert!(decode(b"{\"a\":").is_err());
        let deep = "[".repeat(10_000);
        assert!(decode(deep.as_bytes()).is_err());
    }
}
