//! The Response object of `http.response()`.
//!
//! Setters and writers return nil on success or an error object (Wippy's convention: `local
//! err = res:set_status(200)`); misuse (a wrong argument type) raises.

use std::rc::Rc;
use std::sync::Arc;

use mlua::{AnyUserData, Function, Lua, MultiValue, Table, UserData, UserDataFields, Value};
use starling_core::{ErrorKind, ErrorValue};

use crate::args::tostring;
use crate::args::{arg_type, str_arg};
use crate::engine::Ctx;
use crate::modules::http::json;
use crate::services::http::{Exchange, Transfer};
use crate::userdata::error::{LuaErrorObject, fail_with};

/// Named registry key of the Response method table.
pub(super) const REGISTRY_KEY: &str = "starling.http.response";

/// `http.response()`: the response being built.
pub(crate) struct LuaResponse {
    ex: Arc<dyn Exchange>,
}

impl LuaResponse {
    pub(super) fn new(ex: Arc<dyn Exchange>) -> LuaResponse {
        LuaResponse { ex }
    }
}

impl UserData for LuaResponse {
    fn add_fields<F: UserDataFields<Self>>(f: &mut F) {
        f.add_meta_field_with("__index", |lua| {
            lua.named_registry_value::<Table>(REGISTRY_KEY)
        });
        f.add_meta_field("__type", "http.Response");
    }
}

fn this(ud: &AnyUserData) -> mlua::Result<mlua::UserDataRef<LuaResponse>> {
    ud.borrow::<LuaResponse>()
        .map_err(|_| mlua::Error::runtime("expected a Response (call methods with ':')"))
}

/// nil on success, the error object otherwise.
fn outcome(lua: &Lua, r: Result<(), ErrorValue>) -> mlua::Result<Value> {
    match r {
        Ok(()) => Ok(Value::Nil),
        Err(e) => Ok(Value::UserData(lua.create_userdata(LuaErrorObject(e))?)),
    }
}

/// Text of a value written as a body or header: strings as they are, numbers and booleans
/// through `tostring`; anything else raises.
fn text_arg(lua: &Lua, v: &Value, func: &str, pos: usize) -> mlua::Result<Vec<u8>> {
    match v {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Integer(_) | Value::Number(_) | Value::Boolean(_) => {
            Ok(tostring(lua, v)?.into_bytes())
        }
        other => Err(mlua::Error::runtime(format!(
            "bad argument #{pos} to '{func}' (string expected, got {})",
            arg_type(other)
        ))),
    }
}

/// JSON of a Lua value, or an INVALID error.
fn to_json(v: &Value) -> Result<Vec<u8>, ErrorValue> {
    json::encode_lua(v)
        .map_err(|e| ErrorValue::new(ErrorKind::Invalid, format!("cannot encode JSON: {e}")))
}

/// Sends what was written; `true`, `nil, err`, or PENDING when the client is slow.
fn flush(lua: &Lua, ctx: &Ctx, ex: &dyn Exchange) -> mlua::Result<MultiValue> {
    let mut waiting = None;
    let r = ex.flush(&mut || {
        let reply = ctx.begin_request().ok();
        waiting = reply;
        reply
    });
    match r {
        Ok(true) => {
            if let Some(reply) = waiting {
                ctx.cancel_request(reply);
            }
            Ok(MultiValue::from_vec(vec![Value::Boolean(true)]))
        }
        Ok(false) if waiting.is_some() => Ok(ctx.pending()),
        Ok(false) => Ok(MultiValue::from_vec(vec![Value::Boolean(true)])),
        Err(e) => {
            if let Some(reply) = waiting {
                ctx.cancel_request(reply);
            }
            fail_with(lua, e)
        }
    }
}

/// One server-sent event: `event:`, `id:`, `retry:` lines, then the data as JSON.
fn event_text(ev: &Table) -> Result<Vec<u8>, ErrorValue> {
    let line = |key: &str| -> Result<Option<String>, ErrorValue> {
        match ev.raw_get::<Value>(key) {
            Ok(Value::Nil) => Ok(None),
            Ok(Value::String(s)) => Ok(Some(s.to_string_lossy())),
            Ok(Value::Integer(i)) => Ok(Some(i.to_string())),
            Ok(Value::Number(n)) => Ok(Some(n.to_string())),
            Ok(other) => Err(ErrorValue::new(
                ErrorKind::Invalid,
                format!("event {key} must be a string, got {}", arg_type(&other)),
            )),
            Err(e) => Err(ErrorValue::new(ErrorKind::Invalid, e.to_string())),
        }
    };
    let mut out = Vec::with_capacity(64);
    for key in ["id", "name", "retry"] {
        if let Some(v) = line(key)? {
            if v.contains(['\n', '\r']) {
                return Err(ErrorValue::new(
                    ErrorKind::Invalid,
                    format!("event {key} must not contain a line break"),
                ));
            }
            let field = if key == "name" { "event" } else { key };
            out.extend_from_slice(format!("{field}: {v}\n").as_bytes());
        }
    }
    let data: Value = ev
        .raw_get("data")
        .map_err(|e| ErrorValue::new(ErrorKind::Invalid, e.to_string()))?;
    let json = to_json(&data)?;
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(&json);
    out.extend_from_slice(b"\n\n");
    Ok(out)
}

/// The Response methods; `raw` gets the blocking ones `http.lua` wraps.
pub(super) fn methods(
    lua: &Lua,
    ctx: &Rc<Ctx>,
    raw: &Table,
    blocking: &Function,
) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    m.raw_set(
        "set_status",
        lua.create_function(|lua, (ud, code): (AnyUserData, Value)| {
            let code = match code {
                Value::Integer(i) => i as f64,
                Value::Number(n) => n,
                other => {
                    return Err(mlua::Error::runtime(format!(
                        "bad argument #1 to 'set_status' (number expected, got {})",
                        arg_type(&other)
                    )));
                }
            };
            let r = if (100.0..=999.0).contains(&code) && code.fract() == 0.0 {
                this(&ud)?.ex.set_status(code as u16)
            } else {
                Err(ErrorValue::new(
                    ErrorKind::Invalid,
                    format!("invalid status code {code}"),
                ))
            };
            outcome(lua, r)
        })?,
    )?;
    m.raw_set(
        "set_header",
        lua.create_function(|lua, (ud, name, value): (AnyUserData, Value, Value)| {
            let name = str_arg(Some(&name), "set_header", 1)?;
            let value = text_arg(lua, &value, "set_header", 2)?;
            outcome(lua, this(&ud)?.ex.set_header(&name, &value))
        })?,
    )?;
    m.raw_set(
        "set_content_type",
        lua.create_function(|lua, (ud, ct): (AnyUserData, Value)| {
            let ct = str_arg(Some(&ct), "set_content_type", 1)?;
            outcome(lua, this(&ud)?.ex.set_header("content-type", ct.as_bytes()))
        })?,
    )?;
    m.raw_set(
        "set_transfer",
        lua.create_function(|lua, (ud, mode): (AnyUserData, Value)| {
            let mode = str_arg(Some(&mode), "set_transfer", 1)?;
            let r = match mode.as_str() {
                "chunked" => this(&ud)?.ex.set_transfer(Transfer::Chunked),
                "sse" => this(&ud)?.ex.set_transfer(Transfer::Sse),
                other => Err(ErrorValue::new(
                    ErrorKind::Invalid,
                    format!("unknown transfer mode {other:?} (expected chunked or sse)"),
                )),
            };
            outcome(lua, r)
        })?,
    )?;
    m.raw_set(
        "write",
        lua.create_function(|lua, (ud, data): (AnyUserData, Value)| {
            let data = text_arg(lua, &data, "write", 1)?;
            outcome(lua, this(&ud)?.ex.write(&data))
        })?,
    )?;
    m.raw_set(
        "write_json",
        lua.create_function(|lua, (ud, data): (AnyUserData, Value)| {
            let r = this(&ud)?;
            let body = match to_json(&data) {
                Ok(b) => b,
                Err(e) => return outcome(lua, Err(e)),
            };
            if r.ex.response_header("content-type").is_none() {
                // Only possible before the head is sent; afterwards the body goes as it is.
                let _ = r.ex.set_header("content-type", b"application/json");
            }
            outcome(lua, r.ex.write(&body))
        })?,
    )?;

    let c = ctx.clone();
    let flush_raw = lua.create_function(move |lua, ud: AnyUserData| {
        let ex = this(&ud)?.ex.clone();
        flush(lua, &c, &*ex)
    })?;
    raw.raw_set("flush", blocking.call::<Function>(flush_raw)?)?;

    let c = ctx.clone();
    let event_raw = lua.create_function(move |lua, (ud, ev): (AnyUserData, Value)| {
        let ex = this(&ud)?.ex.clone();
        let Value::Table(ev) = ev else {
            return Err(mlua::Error::runtime(format!(
                "bad argument #1 to 'write_event' (table expected, got {})",
                arg_type(&ev)
            )));
        };
        let text = match event_text(&ev) {
            Ok(t) => t,
            Err(e) => return fail_with(lua, e),
        };
        // The first event switches the response to SSE; later ones find it so already (or
        // the head sent, when the handler streamed before: then the bytes just follow).
        let _ = ex.set_transfer(Transfer::Sse);
        if let Err(e) = ex.write(&text) {
            return fail_with(lua, e);
        }
        flush(lua, &c, &*ex)
    })?;
    raw.raw_set("write_event", blocking.call::<Function>(event_raw)?)?;
    Ok(m)
}
