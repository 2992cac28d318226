//! JSON for the HTTP modules (`res:write_json`, `req:body_json`, SSE event data), by way of
//! payloads: Lua values are copied out first ([`crate::convert`], which walks any depth
//! without recursion), then written here with a depth bound.
//!
//! Encoding follows Go's `encoding/json` as Wippy uses it: object keys sorted, a table with
//! only an array part (or no entries) is an array, any other table an object whose integer
//! keys become strings. NaN and infinities are written as `null`; strings that are not UTF-8
//! are written with U+FFFD for the bad bytes. Error objects are written as their message.

use std::fmt::Write as _;

use rustc_hash::FxHashSet;
use serde_json::Value as Json;
use starling_core::{Payload, Table, Value};

/// Deepest nesting written or read; deeper input is an error rather than a stack overflow.
pub(crate) const MAX_DEPTH: usize = 128;

/// Writes the first value of `p` as JSON.
pub(crate) fn encode(p: &Payload) -> Result<Vec<u8>, String> {
    let mut out = String::with_capacity(64);
    let v = p.values.first().unwrap_or(&Value::Nil);
    let mut open = FxHashSet::default();
    write_value(&mut out, v, &p.tables, 0, &mut open)?;
    Ok(out.into_bytes())
}

fn write_value(
    out: &mut String,
    v: &Value,
    tables: &[Table],
    depth: usize,
    open: &mut FxHashSet<u32>,
) -> Result<(), String> {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => {
                let _ = write!(out, "{n}");
            }
            None => out.push_str("null"),
        },
        Value::Str(s) => write_str(out, &String::from_utf8_lossy(s)),
        Value::Error(e) => write_str(out, &e.full_message()),
        Value::Table(i) => {
            if depth >= MAX_DEPTH {
                return Err(format!("value nested deeper than {MAX_DEPTH} levels"));
            }
            if !open.insert(*i) {
                return Err("cannot encode a table that contains itself".into());
            }
            let t = tables
                .get(*i as usize)
                .ok_or_else(|| "broken table reference".to_string())?;
            if t.hash.is_empty() {
                out.push('[');
                for (n, item) in t.array.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    write_value(out, item, tables, depth + 1, open)?;
                }
                out.push(']');
            } else {
                let mut pairs: Vec<(String, &Value)> =
                    Vec::with_capacity(t.array.len() + t.hash.len());
                for (n, item) in t.array.iter().enumerate() {
                    pairs.push(((n + 1).to_string(), item));
                }
                for (k, item) in &t.hash {
                    let key = match k {
                        Value::Str(s) => String::from_utf8_lossy(s).into_owned(),
                        Value::Int(i) => i.to_string(),
                        Value::Float(f) => f.to_string(),
                        Value::Bool(b) => b.to_string(),
                        // Tables and errors as keys have no JSON form: skipped.
                        _ => continue,
                    };
                    pairs.push((key, item));
                }
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
                out.push('{');
                for (n, (k, item)) in pairs.into_iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    write_str(out, &k);
                    out.push(':');
                    write_value(out, item, tables, depth + 1, open)?;
                }
                out.push('}');
            }
            open.remove(i);
        }
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
/// tables).
pub(crate) fn decode(text: &[u8]) -> Result<Payload, String> {
    // serde_json refuses nesting beyond 128 levels by itself.
    let json: Json = serde_json::from_slice(text).map_err(|e| e.to_string())?;
    let mut p = Payload::empty();
    let v = to_value(&json, &mut p.tables);
    p.values.push(v);
    Ok(p)
}

fn to_value(j: &Json, tables: &mut Vec<Table>) -> Value {
    match j {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::number(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::str(s),
        Json::Array(items) => {
            let i = tables.len();
            tables.push(Table::default());
            let array = items.iter().map(|item| to_value(item, tables)).collect();
            tables[i].array = array;
            Value::Table(i as u32)
        }
        Json::Object(map) => {
            let i = tables.len();
            tables.push(Table::default());
            let hash = map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (Value::str(k), to_value(v, tables)))
                .collect();
            tables[i].hash = hash;
            Value::Table(i as u32)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(text: &str) -> String {
        String::from_utf8(encode(&decode(text.as_bytes()).expect("parse")).expect("encode"))
            .expect("utf-8")
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
    fn mixed_tables_and_bad_input() {
        let p = Payload {
            values: vec![Value::Table(0)],
            tables: vec![Table {
                array: vec![Value::Int(10)],
                hash: vec![(Value::str("n"), Value::Float(f64::NAN))],
            }],
        };
        assert_eq!(encode(&p).expect("ok"), br#"{"1":10,"n":null}"#);
        let cyclic = Payload {
            values: vec![Value::Table(0)],
            tables: vec![Table {
                array: vec![Value::Table(0)],
                hash: Vec::new(),
            }],
        };
        assert!(encode(&cyclic).is_err());
        assert!(decode(b"{\"a\":").is_err());
        let deep = "[".repeat(10_000);
        assert!(decode(deep.as_bytes()).is_err());
    }
}
