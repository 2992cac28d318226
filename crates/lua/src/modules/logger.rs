//! `logger` (SPEC §9.2): structured log lines with `pid` and `location` context fields.

use std::collections::HashSet;
use std::rc::Rc;

use mlua::{Lua, MultiValue, UserData, UserDataMethods, Value};
use serde_json::Value as Json;
use starling_core::log::{MAX_FIELD_DEPTH, TOO_DEEP};

use crate::args::arg_type;
use crate::engine::{Ctx, misuse};
use crate::services::{Level, LogRecord};
use crate::userdata::error::LuaErrorObject;

/// A logger object: a name and fields added to every line.
#[derive(Clone)]
struct Logger {
    ctx: Rc<Ctx>,
    name: String,
    fields: Vec<(String, Json)>,
}

/// Converts a Lua value for a log field; `None` for nil (the field is omitted). A table that
/// contains itself is written as `"<cycle>"` where it recurs, and tables nested deeper than
/// [`MAX_FIELD_DEPTH`] as `"<too deep>"`, so the conversion never recurses without bound.
pub(crate) fn to_json(v: &Value) -> Option<Json> {
    let mut seen = HashSet::new();
    json_inner(v, &mut seen, 1)
}

fn json_inner(
    v: &Value,
    seen: &mut HashSet<*const std::ffi::c_void>,
    depth: usize,
) -> Option<Json> {
    Some(match v {
        Value::Nil => return None,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Integer(i) => Json::from(*i),
        Value::Number(n) => {
            if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
                Json::from(*n as i64)
            } else {
                serde_json::Number::from_f64(*n)
                    .map(Json::Number)
                    .unwrap_or(Json::Null)
            }
        }
        Value::String(s) => Json::String(s.to_string_lossy()),
        Value::Table(_) if depth > MAX_FIELD_DEPTH => Json::String(TOO_DEEP.into()),
        Value::Table(t) => {
            let p = t.to_pointer();
            if !seen.insert(p) {
                return Some(Json::String("<cycle>".into()));
            }
            let len = t.raw_len();
            let mut count = 0usize;
            for pair in t.pairs::<Value, Value>() {
                if pair.is_ok() {
                    count += 1;
                }
            }
            let out = if len > 0 && count == len {
                let mut arr = Vec::with_capacity(len);
                for i in 1..=len {
                    let item: Value = t.raw_get(i).unwrap_or(Value::Nil);
                    arr.push(json_inner(&item, seen, depth + 1).unwrap_or(Json::Null));
                }
                Json::Array(arr)
            } else {
                let mut entries: Vec<(String, Json)> = Vec::new();
                for (k, val) in t.pairs::<Value, Value>().flatten() {
                    let key = match &k {
                        Value::String(s) => s.to_string_lossy(),
                        Value::Integer(i) => i.to_string(),
                        Value::Number(n) => n.to_string(),
                        Value::Boolean(b) => b.to_string(),
                        _ => continue,
                    };
                    if let Some(j) = json_inner(&val, seen, depth + 1) {
                        entries.push((key, j));
                    }
                }
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Json::Object(entries.into_iter().collect())
            };
            seen.remove(&p);
            out
        }
        Value::UserData(ud) => match ud.borrow::<LuaErrorObject>() {
            Ok(e) => Json::String(e.0.full_message()),
            Err(_) => match Value::UserData(ud.clone()).to_string() {
                Ok(s) if !s.is_empty() => Json::String(s),
                _ => Json::String("userdata".into()),
            },
        },
        other => Json::String(arg_type(other).to_string()),
    })
}

/// Reads a fields table (argument `pos` of `func`); nil or absent means none.
fn fields_arg(v: Option<Value>, func: &str, pos: usize) -> mlua::Result<Vec<(String, Json)>> {
    match v {
        None | Some(Value::Nil) => Ok(Vec::new()),
        Some(Value::Table(t)) => {
            let mut out = Vec::new();
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair?;
                let Value::String(k) = k else {
                    return Err(misuse(format!(
                        "bad argument #{pos} to '{func}' (field names must be strings, got {})",
                        arg_type(&k)
                    )));
                };
                if let Some(j) = to_json(&v) {
                    out.push((k.to_string_lossy(), j));
                }
            }
            Ok(out)
        }
        Some(other) => Err(misuse(format!(
            "bad argument #{pos} to '{func}' (table expected, got {})",
            arg_type(&other)
        ))),
    }
}

/// Emits one record with context fields `pid` and `location`.
pub(crate) fn emit(
    lua: &Lua,
    ctx: &Ctx,
    level: Level,
    name: &str,
    msg: &str,
    base: &[(String, Json)],
    call: Vec<(String, Json)>,
) -> mlua::Result<()> {
    let mut fields: Vec<(String, Json)> = Vec::with_capacity(2 + base.len() + call.len());
    if let Ok(p) = ctx.current() {
        fields.push(("pid".into(), Json::String(ctx.pid_string(p.pid))));
    }
    // The first Lua frame up the stack: the caller may be a C function (pcall, xpcall).
    let location = (1..8)
        .map_while(|level| {
            lua.inspect_stack(level, |d| {
                let line = d.current_line()?;
                let src = d.source().short_src.map(|s| s.to_string())?;
                Some(format!("{src}:{line}"))
            })
        })
        .flatten()
        .next();
    if let Some(loc) = location {
        fields.push(("location".into(), Json::String(loc)));
    }
    let context = fields.len();
    let mut rest: Vec<(String, Json)> = base.to_vec();
    for (k, v) in call {
        match rest.iter_mut().find(|(rk, _)| *rk == k) {
            Some(slot) => slot.1 = v,
            None => rest.push((k, v)),
        }
    }
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, v) in rest {
        match fields[..context].iter_mut().find(|(fk, _)| *fk == k) {
            Some(slot) => slot.1 = v,
            None => fields.push((k, v)),
        }
    }
    ctx.services.log(LogRecord {
        level,
        name: name.to_string(),
        message: msg.to_string(),
        fields,
    });
    Ok(())
}

impl UserData for Logger {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        for (method, level) in [
            ("debug", Level::Debug),
            ("info", Level::Info),
            ("warn", Level::Warn),
            ("error", Level::Error),
        ] {
            m.add_method(method, move |lua, lg, args: MultiValue| {
                let mut it = args.into_iter();
                let msg = match it.next() {
                    None | Some(Value::Nil) => {
                        return Err(misuse(format!(
                            "bad argument #1 to '{method}' (string expected, got no value)"
                        )));
                    }
                    Some(v) => crate::args::tostring(lua, &v)?,
                };
                let fields = it.next();
                if !lg.ctx.services.log_enabled(level) {
                    // Filtered out: only the cheap type check, so mistakes raise at any level.
                    return match fields {
                        None | Some(Value::Nil | Value::Table(_)) => Ok(()),
                        other => fields_arg(other, method, 2).map(drop),
                    };
                }
                let fields = fields_arg(fields, method, 2)?;
                emit(lua, &lg.ctx, level, &lg.name, &msg, &lg.fields, fields)
            });
        }
        m.add_method("with", |_, lg, fields: Option<Value>| {
            let mut next = lg.clone();
            for (k, v) in fields_arg(fields, "with", 1)? {
                match next.fields.iter_mut().find(|(fk, _)| *fk == k) {
                    Some(slot) => slot.1 = v,
                    None => next.fields.push((k, v)),
                }
            }
            Ok(next)
        });
        m.add_method("named", |_, lg, name: Value| {
            let name = match name {
                Value::String(s) => s.to_string_lossy(),
                other => {
                    return Err(misuse(format!(
                        "bad argument #1 to 'named' (string expected, got {})",
                        arg_type(&other)
                    )));
                }
            };
            if name.is_empty() {
                return Err(misuse("name cannot be empty"));
            }
            let mut next = lg.clone();
            next.name = if lg.name.is_empty() {
                name
            } else {
                format!("{}.{name}", lg.name)
            };
            Ok(next)
        });
    }
}

/// The value `require("logger")` returns.
pub(crate) fn module(lua: &Lua, ctx: &Rc<Ctx>) -> mlua::Result<Value> {
    Ok(Value::UserData(lua.create_userdata(Logger {
        ctx: ctx.clone(),
        name: String::new(),
        fields: Vec::new(),
    })?))
}
