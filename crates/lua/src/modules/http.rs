//! `http` (Wippy's HTTP module): the request and response of the HTTP handler that is
//! running, plus the `METHOD`, `STATUS`, `CONTENT`, `TRANSFER` and `ERROR` constants.
//!
//! A handler is a `function.lua` call started by the host's HTTP server, which registered the
//! request under the call's pid; `http.request()` and `http.response()` find it there through
//! [`crate::services::http::Http::exchange`]. Anywhere else they return `nil, err` (INTERNAL,
//! `no HTTP context`).
//!
//! Request readers and response setters are Rust (`request.rs`, `response.rs`); the few calls
//! that can wait for the client (reading the body, flushing to a slow reader) go through the
//! prelude's `blocking`, and `http.lua` turns their `true | nil, err` results into the
//! error-only returns Wippy documents.

pub(crate) mod json;
pub(crate) mod request;
mod response;

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use mlua::{Function, Lua, MultiValue, Table, Value};
use starling_core::ErrorKind;

use crate::args::seal;
use crate::engine::Ctx;
use crate::services::http::Exchange;
use crate::userdata::error::fail;

pub(crate) use request::LuaRequest;
pub(crate) use response::LuaResponse;

const HTTP_LUA: &str = include_str!("http/http.lua");

/// Default `max_body` of `http.request()` (Wippy's 120 MB; the server's `limits.max_body`
/// applies too).
const DEFAULT_MAX_BODY: u64 = 120 << 20;
/// Default body read timeout of `http.request()`.
const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(300);

/// The exchange of the running handler, or `nil, err`.
fn exchange(lua: &Lua, ctx: &Ctx) -> mlua::Result<Result<Arc<dyn Exchange>, MultiValue>> {
    let found = ctx
        .services
        .http()
        .and_then(|h| ctx.current().ok().and_then(|p| h.exchange(p.pid)));
    match found {
        Some(ex) => Ok(Ok(ex)),
        None => Ok(Err(fail(lua, ErrorKind::Internal, "no HTTP context")?)),
    }
}

/// `http.request(options?)`.
fn request(lua: &Lua, ctx: &Ctx, opts: Value) -> mlua::Result<MultiValue> {
    let ex = match exchange(lua, ctx)? {
        Ok(ex) => ex,
        Err(fail) => return Ok(fail),
    };
    let mut max_body = DEFAULT_MAX_BODY;
    let mut timeout = DEFAULT_BODY_TIMEOUT;
    match opts {
        Value::Nil => {}
        Value::Table(t) => {
            if let Some(ms) = number_field(&t, "timeout")? {
                if ms > 0.0 {
                    timeout = Duration::from_secs_f64(ms / 1000.0);
                }
            }
            if let Some(n) = number_field(&t, "max_body")? {
                if n > 0.0 {
                    max_body = n as u64;
                }
            }
        }
        other => {
            return Err(mlua::Error::runtime(format!(
                "bad argument #1 to 'request' (table expected, got {})",
                crate::args::arg_type(&other)
            )));
        }
    }
    let ud = lua.create_userdata(LuaRequest::new(ex, max_body, timeout))?;
    Ok(MultiValue::from_vec(vec![Value::UserData(ud)]))
}

fn number_field(t: &Table, key: &str) -> mlua::Result<Option<f64>> {
    match t.raw_get::<Value>(key)? {
        Value::Nil => Ok(None),
        Value::Integer(i) => Ok(Some(i as f64)),
        Value::Number(n) => Ok(Some(n)),
        other => Err(mlua::Error::runtime(format!(
            "request option {key} must be a number, got {}",
            crate::args::arg_type(&other)
        ))),
    }
}

/// `http.response()`.
fn response(lua: &Lua, ctx: &Ctx) -> mlua::Result<MultiValue> {
    let ex = match exchange(lua, ctx)? {
        Ok(ex) => ex,
        Err(fail) => return Ok(fail),
    };
    let ud = lua.create_userdata(LuaResponse::new(ex))?;
    Ok(MultiValue::from_vec(vec![Value::UserData(ud)]))
}

fn constants(lua: &Lua, t: &Table) -> mlua::Result<()> {
    let methods = lua.create_table()?;
    for m in ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] {
        methods.raw_set(m, m)?;
    }
    t.raw_set("METHOD", seal(&methods))?;

    let status = lua.create_table()?;
    for (name, code) in [
        ("OK", 200),
        ("CREATED", 201),
        ("ACCEPTED", 202),
        ("NO_CONTENT", 204),
        ("PARTIAL_CONTENT", 206),
        ("MOVED_PERMANENTLY", 301),
        ("FOUND", 302),
        ("SEE_OTHER", 303),
        ("NOT_MODIFIED", 304),
        ("TEMPORARY_REDIRECT", 307),
        ("PERMANENT_REDIRECT", 308),
        ("BAD_REQUEST", 400),
        ("UNAUTHORIZED", 401),
        ("PAYMENT_REQUIRED", 402),
        ("FORBIDDEN", 403),
        ("NOT_FOUND", 404),
        ("METHOD_NOT_ALLOWED", 405),
        ("NOT_ACCEPTABLE", 406),
        ("CONFLICT", 409),
        ("GONE", 410),
        ("UNPROCESSABLE", 422),
        ("TOO_MANY_REQUESTS", 429),
        ("INTERNAL_ERROR", 500),
        ("INTERNAL_SERVER_ERROR", 500),
        ("NOT_IMPLEMENTED", 501),
        ("BAD_GATEWAY", 502),
        ("SERVICE_UNAVAILABLE", 503),
        ("GATEWAY_TIMEOUT", 504),
        ("VERSION_NOT_SUPPORTED", 505),
    ] {
        status.raw_set(name, code)?;
    }
    t.raw_set("STATUS", seal(&status))?;

    let content = lua.create_table()?;
    for (name, v) in [
        ("JSON", "application/json"),
        ("FORM", "application/x-www-form-urlencoded"),
        ("MULTIPART", "multipart/form-data"),
        ("TEXT", "text/plain"),
        ("STREAM", "application/octet-stream"),
    ] {
        content.raw_set(name, v)?;
    }
    t.raw_set("CONTENT", seal(&content))?;

    let transfer = lua.create_table()?;
    transfer.raw_set("CHUNKED", "chunked")?;
    transfer.raw_set("SSE", "sse")?;
    t.raw_set("TRANSFER", seal(&transfer))?;

    let error = lua.create_table()?;
    for (name, v) in [
        ("PARSE_FAILED", "PARSE_FAILED"),
        ("INVALID_STATE", "INVALID_STATE"),
        ("WRITE_FAILED", "WRITE_FAILED"),
        ("STREAM_ERROR", "STREAM_ERROR"),
    ] {
        error.raw_set(name, v)?;
    }
    t.raw_set("ERROR", seal(&error))?;
    Ok(())
}

/// Builds the module table (shared, read-only) for one VM.
pub(crate) fn module(lua: &Lua, ctx: &Rc<Ctx>, blocking: &Function) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    let c = ctx.clone();
    t.raw_set(
        "request",
        lua.create_function(move |lua, opts: Value| request(lua, &c, opts))?,
    )?;
    let c = ctx.clone();
    t.raw_set(
        "response",
        lua.create_function(move |lua, ()| response(lua, &c))?,
    )?;
    constants(lua, &t)?;

    // The raw functions `http.lua` wraps, and the method tables it completes.
    let raw = lua.create_table()?;
    let req_methods = request::methods(lua, ctx, &raw, blocking)?;
    let res_methods = response::methods(lua, ctx, &raw, blocking)?;
    raw.raw_set("request_methods", req_methods.clone())?;
    raw.raw_set("response_methods", res_methods.clone())?;
    let _: Value = lua.load(HTTP_LUA).set_name("=starling.http").call(raw)?;
    lua.set_named_registry_value(request::REGISTRY_KEY, seal(&req_methods))?;
    lua.set_named_registry_value(response::REGISTRY_KEY, seal(&res_methods))?;
    lua.set_named_registry_value(
        request::STREAM_REGISTRY_KEY,
        request::stream_methods(lua, ctx, blocking)?,
    )?;
    Ok(Value::Table(seal(&t)))
}
