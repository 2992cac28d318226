//! The Request object of `http.request()` and its body Stream.

use std::cell::OnceCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use mlua::{AnyUserData, Function, Lua, MultiValue, Table, UserData, UserDataFields, Value};
use starling_core::{ErrorKind, ErrorValue};

use crate::args::{arg_type, str_arg};
use crate::convert;
use crate::engine::Ctx;
use crate::modules::http::json;
use crate::services::http::Exchange;
use crate::userdata::error::{fail, fail_with};

/// Named registry key of the Request method table.
pub(super) const REGISTRY_KEY: &str = "starling.http.request";
/// Named registry key of the body Stream method table.
pub(super) const STREAM_REGISTRY_KEY: &str = "starling.http.stream";

/// `http.request()`: the handler's view of the request.
pub(crate) struct LuaRequest {
    ex: Arc<dyn Exchange>,
    max_body: u64,
    timeout: Duration,
    /// The query string, decoded on first use.
    query: OnceCell<Vec<(String, String)>>,
}

impl LuaRequest {
    pub(super) fn new(ex: Arc<dyn Exchange>, max_body: u64, timeout: Duration) -> LuaRequest {
        LuaRequest {
            ex,
            max_body,
            timeout,
            query: OnceCell::new(),
        }
    }

    fn query(&self) -> &[(String, String)] {
        self.query.get_or_init(|| parse_query(self.ex.query()))
    }
}

impl UserData for LuaRequest {
    fn add_fields<F: UserDataFields<Self>>(f: &mut F) {
        f.add_meta_field_with("__index", |lua| {
            lua.named_registry_value::<Table>(REGISTRY_KEY)
        });
        f.add_meta_field("__type", "http.Request");
    }
}

/// A request body read piece by piece (`req:stream()`).
pub(crate) struct LuaBodyStream {
    ex: Arc<dyn Exchange>,
    closed: std::cell::Cell<bool>,
}

impl UserData for LuaBodyStream {
    fn add_fields<F: UserDataFields<Self>>(f: &mut F) {
        f.add_meta_field_with("__index", |lua| {
            lua.named_registry_value::<Table>(STREAM_REGISTRY_KEY)
        });
    }
}

/// Decodes `%XX` escapes and `+` (as a space) of a query component.
pub(crate) fn decode_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a raw query string into decoded pairs, in order.
pub(crate) fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode_component(k), decode_component(v)),
            None => (decode_component(pair), String::new()),
        })
        .collect()
}

/// `content-type` → `Content-Type` (Go's canonical header form, which Wippy shows).
pub(crate) fn canonical_header(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if upper {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        upper = c == '-';
    }
    out
}

/// The media type of a `Content-Type`/`Accept` item: lowercase, parameters dropped.
fn media_type(v: &str) -> String {
    v.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// True when an `Accept` header value admits `wanted` (`type/subtype`).
pub(crate) fn accepts(accept: Option<&str>, wanted: &str) -> bool {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return true;
    };
    let wanted = media_type(wanted);
    let (wtype, _) = wanted.split_once('/').unwrap_or((wanted.as_str(), ""));
    accept.split(',').any(|item| {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f64>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if refused {
            return false;
        }
        range == "*/*" || range == wanted || range.strip_suffix("/*").is_some_and(|t| t == wtype)
    })
}

fn this(ud: &AnyUserData) -> mlua::Result<mlua::UserDataRef<LuaRequest>> {
    ud.borrow::<LuaRequest>()
        .map_err(|_| mlua::Error::runtime("expected a Request (call methods with ':')"))
}

fn header_text(ex: &dyn Exchange, name: &str) -> Option<String> {
    ex.header(name)
        .first()
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

fn string(lua: &Lua, s: impl AsRef<[u8]>) -> mlua::Result<Value> {
    Ok(Value::String(lua.create_string(s)?))
}

/// The Request methods; `raw` gets the functions `http.lua` wraps.
pub(super) fn methods(
    lua: &Lua,
    ctx: &Rc<Ctx>,
    raw: &Table,
    blocking: &Function,
) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    m.raw_set(
        "method",
        lua.create_function(|lua, ud: AnyUserData| string(lua, this(&ud)?.ex.method()))?,
    )?;
    m.raw_set(
        "path",
        lua.create_function(|lua, ud: AnyUserData| string(lua, this(&ud)?.ex.path()))?,
    )?;
    m.raw_set(
        "param",
        lua.create_function(|lua, (ud, name): (AnyUserData, Value)| {
            let name = str_arg(Some(&name), "param", 1)?;
            match this(&ud)?.ex.param(&name) {
                Some(v) => string(lua, v),
                None => Ok(Value::Nil),
            }
        })?,
    )?;
    m.raw_set(
        "params",
        lua.create_function(|lua, ud: AnyUserData| {
            let t = lua.create_table()?;
            for (k, v) in this(&ud)?.ex.params() {
                t.raw_set(k, v)?;
            }
            Ok(t)
        })?,
    )?;
    m.raw_set(
        "query",
        lua.create_function(|lua, (ud, name): (AnyUserData, Value)| {
            let name = str_arg(Some(&name), "query", 1)?;
            let r = this(&ud)?;
            match r.query().iter().find(|(k, _)| *k == name) {
                Some((_, v)) => string(lua, v),
                None => Ok(Value::Nil),
            }
        })?,
    )?;
    m.raw_set(
        "query_params",
        lua.create_function(|lua, ud: AnyUserData| {
            let r = this(&ud)?;
            let mut joined: Vec<(&str, String)> = Vec::new();
            for (k, v) in r.query() {
                match joined.iter_mut().find(|(name, _)| name == k) {
                    Some((_, all)) => {
                        all.push(',');
                        all.push_str(v);
                    }
                    None => joined.push((k, v.clone())),
                }
            }
            let t = lua.create_table()?;
            for (k, v) in joined {
                t.raw_set(k, v)?;
            }
            Ok(t)
        })?,
    )?;
    m.raw_set(
        "header",
        lua.create_function(|lua, (ud, name): (AnyUserData, Value)| {
            let name = str_arg(Some(&name), "header", 1)?;
            let r = this(&ud)?;
            let values = r.ex.header(&name);
            match values.as_slice() {
                [] => Ok(Value::Nil),
                [one] => string(lua, one),
                many => string(lua, many.join(&b", "[..])),
            }
        })?,
    )?;
    m.raw_set(
        "headers",
        lua.create_function(|lua, ud: AnyUserData| {
            let mut joined: Vec<(String, Vec<u8>)> = Vec::new();
            for (k, v) in this(&ud)?.ex.headers() {
                match joined.iter_mut().find(|(name, _)| *name == k) {
                    Some((_, all)) => {
                        all.extend_from_slice(b", ");
                        all.extend_from_slice(&v);
                    }
                    None => joined.push((k, v)),
                }
            }
            let t = lua.create_table()?;
            for (k, v) in joined {
                t.raw_set(canonical_header(&k), lua.create_string(&v)?)?;
            }
            Ok(t)
        })?,
    )?;
    m.raw_set(
        "content_type",
        lua.create_function(|lua, ud: AnyUserData| {
            match header_text(&*this(&ud)?.ex, "content-type") {
                Some(v) => string(lua, v),
                None => Ok(Value::Nil),
            }
        })?,
    )?;
    m.raw_set(
        "content_length",
        lua.create_function(|_, ud: AnyUserData| {
            let r = this(&ud)?;
            if let Some(n) =
                header_text(&*r.ex, "content-length").and_then(|v| v.trim().parse::<i64>().ok())
            {
                return Ok(n);
            }
            Ok(if r.ex.has_body() { -1 } else { 0 })
        })?,
    )?;
    m.raw_set(
        "host",
        lua.create_function(|lua, ud: AnyUserData| {
            string(
                lua,
                header_text(&*this(&ud)?.ex, "host").unwrap_or_default(),
            )
        })?,
    )?;
    m.raw_set(
        "remote_addr",
        lua.create_function(|lua, ud: AnyUserData| string(lua, this(&ud)?.ex.remote_addr()))?,
    )?;
    m.raw_set(
        "has_body",
        lua.create_function(|_, ud: AnyUserData| {
            let r = this(&ud)?;
            Ok(match r.ex.body_ready() {
                Some(Ok(b)) => !b.is_empty(),
                _ => r.ex.has_body(),
            })
        })?,
    )?;
    m.raw_set(
        "accepts",
        lua.create_function(|_, (ud, wanted): (AnyUserData, Value)| {
            let wanted = str_arg(Some(&wanted), "accepts", 1)?;
            let r = this(&ud)?;
            Ok(accepts(header_text(&*r.ex, "accept").as_deref(), &wanted))
        })?,
    )?;
    m.raw_set(
        "is_content_type",
        lua.create_function(|_, (ud, wanted): (AnyUserData, Value)| {
            let wanted = str_arg(Some(&wanted), "is_content_type", 1)?;
            let r = this(&ud)?;
            Ok(header_text(&*r.ex, "content-type")
                .is_some_and(|ct| media_type(&ct) == media_type(&wanted)))
        })?,
    )?;
    m.raw_set(
        "stream",
        lua.create_function(|lua, ud: AnyUserData| {
            let ex = this(&ud)?.ex.clone();
            lua.create_userdata(LuaBodyStream {
                ex,
                closed: std::cell::Cell::new(false),
            })
        })?,
    )?;

    // Blocking: the whole body. Answers at once when it is here already.
    let c = ctx.clone();
    let body = lua.create_function(move |lua, ud: AnyUserData| -> mlua::Result<MultiValue> {
        let r = this(&ud)?;
        match r.ex.body_ready() {
            Some(Ok(b)) => return Ok(MultiValue::from_vec(vec![string(lua, &*b)?])),
            Some(Err(e)) => return fail_with(lua, e),
            None => {}
        }
        let reply = c.begin_request()?;
        r.ex.read_body(Some(r.max_body), Some(r.timeout), reply);
        Ok(c.pending())
    })?;
    let body = blocking.call::<Function>(body)?;
    m.raw_set("body", body.clone())?;
    raw.raw_set("body", body)?;
    raw.raw_set(
        "decode_json",
        lua.create_function(|lua, text: Value| -> mlua::Result<MultiValue> {
            let Value::String(s) = &text else {
                return fail(lua, ErrorKind::Invalid, "invalid JSON: empty body");
            };
            match json::decode(&s.as_bytes()) {
                Ok(p) => Ok(MultiValue::from_vec(vec![convert::first_from_payload(
                    lua, &p,
                )?])),
                Err(e) => fail(lua, ErrorKind::Invalid, format!("invalid JSON: {e}")),
            }
        })?,
    )?;

    let c = ctx.clone();
    let multipart = lua.create_function(
        move |lua, (ud, max): (AnyUserData, Value)| -> mlua::Result<MultiValue> {
            let max = match max {
                Value::Nil => 32 << 20,
                Value::Integer(n) if n > 0 => n as u64,
                Value::Number(n) if n > 0.0 => n as u64,
                Value::Integer(_) | Value::Number(_) => 32 << 20,
                other => {
                    return Err(mlua::Error::runtime(format!(
                        "bad argument #1 to 'parse_multipart' (number expected, got {})",
                        arg_type(&other)
                    )));
                }
            };
            let r = this(&ud)?;
            let ct = header_text(&*r.ex, "content-type").unwrap_or_default();
            if media_type(&ct) != "multipart/form-data" {
                return fail_with(
                    lua,
                    ErrorValue::new(ErrorKind::Invalid, "request is not multipart/form-data"),
                );
            }
            let reply = c.begin_request()?;
            r.ex.parse_multipart(max, reply);
            Ok(c.pending())
        },
    )?;
    raw.raw_set("parse_multipart", blocking.call::<Function>(multipart)?)?;
    Ok(m)
}

fn stream_this(ud: &AnyUserData) -> mlua::Result<mlua::UserDataRef<LuaBodyStream>> {
    ud.borrow::<LuaBodyStream>()
        .map_err(|_| mlua::Error::runtime("expected a Stream (call methods with ':')"))
}

/// The body Stream methods: `read(n)` (blocking; nil at the end) and `close()`.
pub(super) fn stream_methods(lua: &Lua, ctx: &Rc<Ctx>, blocking: &Function) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    let c = ctx.clone();
    let read = lua.create_function(
        move |lua, (ud, n): (AnyUserData, Option<f64>)| -> mlua::Result<MultiValue> {
            let s = stream_this(&ud)?;
            if s.closed.get() {
                return fail(lua, ErrorKind::Invalid, "stream is closed");
            }
            let n = match n {
                Some(n) if n >= 1.0 => (n as usize).min(16 << 20),
                _ => 64 << 10,
            };
            let reply = c.begin_request()?;
            s.ex.read_chunk(n, reply);
            Ok(c.pending())
        },
    )?;
    m.raw_set("read", blocking.call::<Function>(read)?)?;
    m.raw_set(
        "close",
        lua.create_function(|_, ud: AnyUserData| {
            stream_this(&ud)?.closed.set(true);
            Ok(true)
        })?,
    )?;
    Ok(crate::args::seal(&m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_headers() {
        assert_eq!(
            parse_query("q=hello+world&page=2&tags=a%2Cb&empty&x=%zz"),
            [
                ("q".to_string(), "hello world".to_string()),
                ("page".into(), "2".into()),
                ("tags".into(), "a,b".into()),
                ("empty".into(), String::new()),
                ("x".into(), "%zz".into()),
            ]
        );
        assert_eq!(decode_component("%"), "%");
        assert_eq!(decode_component("a%4"), "a%4");
        assert_eq!(canonical_header("content-type"), "Content-Type");
        assert_eq!(canonical_header("x-request-id"), "X-Request-Id");
        assert!(accepts(None, "application/json"));
        assert!(accepts(
            Some("text/html, application/*;q=0.5"),
            "application/json"
        ));
        assert!(!accepts(Some("text/html"), "application/json"));
        assert!(!accepts(Some("application/json;q=0"), "application/json"));
        assert!(accepts(Some("*/*"), "image/png"));
    }
}
