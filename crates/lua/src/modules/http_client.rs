//! `http_client` (Wippy's HTTP client): outgoing requests from any process.
//!
//! Each request is a blocking point of the calling coroutine only: the options are read here
//! into an [`OutgoingRequest`], the host's HTTP side performs it and wakes the coroutine with
//! the response table (`status_code`, `headers`, `body`, `body_size`, `url`, `cookies`). A
//! streamed body (`stream = true`) stays on the HTTP side and is read piece by piece;
//! `http_client.lua` wraps it as an object, runs `request_batch` as one coroutine per request,
//! and gives the method shortcuts.
//!
//! Security policies (private address blocking, permissions) are not enforced: Starling has
//! no policy engine (SPEC 5.7).

use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Duration;

use mlua::{Function, Lua, MultiValue, Table, Value};
use starling_core::ErrorKind;

use crate::args::{arg_type, seal, str_arg};
use crate::engine::Ctx;
use crate::modules::http::request::decode_component;
use crate::services::http::OutgoingRequest;
use crate::userdata::error::fail;
use crate::userdata::time::duration_arg;

const HTTP_CLIENT_LUA: &str = include_str!("http_client.lua");

/// Percent-encodes a query component (`application/x-www-form-urlencoded`: space as `+`).
pub(crate) fn encode_component(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// Standard base64 with padding (for `Authorization: Basic`).
pub(crate) fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Text of a scalar option value.
fn scalar(v: &Value, what: &str) -> mlua::Result<Vec<u8>> {
    match v {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Integer(i) => Ok(i.to_string().into_bytes()),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
            Ok((*n as i64).to_string().into_bytes())
        }
        Value::Number(n) => Ok(n.to_string().into_bytes()),
        Value::Boolean(b) => Ok(b.to_string().into_bytes()),
        other => Err(mlua::Error::runtime(format!(
            "{what} must be a string, got {}",
            arg_type(other)
        ))),
    }
}

/// The pairs of a table option, keys sorted (so requests are reproducible).
fn pairs(t: &Table, what: &str) -> mlua::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair?;
        let key = scalar(&k, what)?;
        match &v {
            Value::Table(list) => {
                for item in list.sequence_values::<Value>() {
                    out.push((key.clone(), scalar(&item?, what)?));
                }
            }
            other => out.push((key, scalar(other, what)?)),
        }
    }
    out.sort();
    Ok(out)
}

fn form_encode(pairs: &[(Vec<u8>, Vec<u8>)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A `multipart/form-data` body of form values and files; returns it and its boundary.
fn multipart(form: &[(Vec<u8>, Vec<u8>)], files: &Table) -> mlua::Result<(Vec<u8>, String)> {
    let boundary = format!("starling{:016x}{:016x}", rand_u64(), rand_u64());
    let mut body = Vec::new();
    let quote = |s: &[u8]| String::from_utf8_lossy(s).replace(['"', '\r', '\n'], "_");
    for (k, v) in form {
        let _ = write!(
            Bytes(&mut body),
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n",
            quote(k)
        );
        body.extend_from_slice(v);
        body.extend_from_slice(b"\r\n");
    }
    for (i, f) in files.sequence_values::<Table>().enumerate() {
        let f = f.map_err(|_| mlua::Error::runtime(format!("files[{}] must be a table", i + 1)))?;
        let name: Option<mlua::LuaString> = f.get("name")?;
        let name =
            name.ok_or_else(|| mlua::Error::runtime(format!("files[{}].name is required", i + 1)))?;
        let filename: Option<mlua::LuaString> = f.get("filename")?;
        let content: Option<mlua::LuaString> = f.get("content")?;
        let content = content
            .ok_or_else(|| mlua::Error::runtime(format!("files[{}].content is required", i + 1)))?;
        let filename = filename
            .map(|s| quote(&s.as_bytes()))
            .unwrap_or_else(|| quote(&name.as_bytes()));
        let _ = write!(
            Bytes(&mut body),
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
            quote(&name.as_bytes())
        );
        body.extend_from_slice(&content.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    let _ = write!(Bytes(&mut body), "--{boundary}--\r\n");
    Ok((body, boundary))
}

/// `write!` into a byte vector.
struct Bytes<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// A random number for multipart boundaries (not for secrets).
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// Reads `(method, url, options)` into a request.
fn build(method: &str, url: &str, opts: &Value) -> mlua::Result<Result<OutgoingRequest, String>> {
    let mut req = OutgoingRequest {
        method: method.to_ascii_uppercase(),
        url: url.trim().to_owned(),
        ..OutgoingRequest::default()
    };
    let lower = req.url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Ok(Err(format!(
            "invalid URL {url:?}: expected http:// or https://"
        )));
    }
    if req.method.is_empty() || !req.method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Ok(Err(format!("invalid method {method:?}")));
    }
    let t = match opts {
        Value::Nil => return Ok(Ok(req)),
        Value::Table(t) => t,
        other => {
            return Err(mlua::Error::runtime(format!(
                "bad argument #2 (options table expected, got {})",
                arg_type(other)
            )));
        }
    };
    if let Value::Table(h) = t.get::<Value>("headers")? {
        for (k, v) in pairs(&h, "header")? {
            req.headers
                .push((String::from_utf8_lossy(&k).into_owned(), v));
        }
    }
    if let Value::Table(q) = t.get::<Value>("query")? {
        let q = form_encode(&pairs(&q, "query value")?);
        if !q.is_empty() {
            req.url.push(if req.url.contains('?') { '&' } else { '?' });
            req.url.push_str(&q);
        }
    }
    match t.get::<Value>("body")? {
        Value::Nil => {}
        Value::String(s) => req.body = Some(s.as_bytes().to_vec()),
        other => req.body = Some(scalar(&other, "body")?),
    }
    let form = match t.get::<Value>("form")? {
        Value::Table(f) => pairs(&f, "form value")?,
        _ => Vec::new(),
    };
    let has_header = |req: &OutgoingRequest, name: &str| {
        req.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    match t.get::<Value>("files")? {
        Value::Table(files) if files.raw_len() > 0 => {
            let (body, boundary) = multipart(&form, &files)?;
            req.body = Some(body);
            if !has_header(&req, "content-type") {
                req.headers.push((
                    "Content-Type".into(),
                    format!("multipart/form-data; boundary={boundary}").into_bytes(),
                ));
            }
        }
        _ if !form.is_empty() && req.body.is_none() => {
            req.body = Some(form_encode(&form).into_bytes());
            if !has_header(&req, "content-type") {
                req.headers.push((
                    "Content-Type".into(),
                    b"application/x-www-form-urlencoded".to_vec(),
                ));
            }
        }
        _ => {}
    }
    if let Value::Table(c) = t.get::<Value>("cookies")? {
        let cookie = pairs(&c, "cookie")?
            .into_iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(&v)
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        if !cookie.is_empty() {
            req.headers.push(("Cookie".into(), cookie.into_bytes()));
        }
    }
    if let Value::Table(a) = t.get::<Value>("auth")? {
        let user: Option<mlua::LuaString> = a.get("user")?;
        let pass: Option<mlua::LuaString> = a.get("pass")?;
        let mut cred = user.map(|u| u.as_bytes().to_vec()).unwrap_or_default();
        cred.push(b':');
        cred.extend_from_slice(&pass.map(|p| p.as_bytes().to_vec()).unwrap_or_default());
        req.headers.push((
            "Authorization".into(),
            format!("Basic {}", base64(&cred)).into_bytes(),
        ));
    }
    match t.get::<Value>("timeout")? {
        Value::Nil => {}
        Value::Integer(s) if s > 0 => req.timeout = Some(Duration::from_secs(s as u64)),
        Value::Number(s) if s > 0.0 && s.is_finite() => {
            req.timeout = Some(Duration::from_secs_f64(s))
        }
        Value::Integer(_) | Value::Number(_) => {}
        other => match duration_arg(&other) {
            Ok(ns) if ns > 0 => req.timeout = Some(Duration::from_nanos(ns as u64)),
            Ok(_) => {}
            Err(e) => return Ok(Err(format!("timeout: {e}"))),
        },
    }
    req.stream = matches!(t.get::<Value>("stream")?, Value::Boolean(true));
    if let Value::Integer(n) = t.get::<Value>("max_response_body")? {
        req.max_response_body = n.max(0) as u64;
    } else if let Value::Number(n) = t.get::<Value>("max_response_body")? {
        req.max_response_body = n.max(0.0) as u64;
    }
    if let Value::String(s) = t.get::<Value>("unix_socket")? {
        req.unix_socket = Some(s.to_str()?.to_string());
    }
    if !matches!(t.get::<Value>("overlay_network")?, Value::Nil) {
        return Ok(Err(
            "overlay_network: network overlays are not supported by starling".into(),
        ));
    }
    Ok(Ok(req))
}

/// `raw.fetch(method, url, options)`: blocking.
fn fetch(lua: &Lua, ctx: &Ctx, args: MultiValue) -> mlua::Result<MultiValue> {
    let args: Vec<Value> = args.into_iter().collect();
    let method = str_arg(args.first(), "request", 1)?;
    let url = str_arg(args.get(1), "request", 2)?;
    let req = match build(&method, &url, args.get(2).unwrap_or(&Value::Nil))? {
        Ok(r) => r,
        Err(msg) => return fail(lua, ErrorKind::Invalid, msg),
    };
    let Some(http) = ctx.services.http() else {
        return fail(
            lua,
            ErrorKind::Internal,
            "http_client is not available: starling was built without the http feature",
        );
    };
    let reply = ctx.begin_request()?;
    http.fetch(req, reply);
    Ok(ctx.pending())
}

/// Builds the module table (shared, read-only) for one VM.
pub(crate) fn module(lua: &Lua, ctx: &Rc<Ctx>, blocking: &Function) -> mlua::Result<Value> {
    let raw = lua.create_table()?;
    let c = ctx.clone();
    raw.raw_set(
        "fetch",
        blocking.call::<Function>(
            lua.create_function(move |lua, args: MultiValue| fetch(lua, &c, args))?,
        )?,
    )?;
    let c = ctx.clone();
    raw.raw_set(
        "stream_read",
        blocking.call::<Function>(lua.create_function(
            move |lua, (id, n): (f64, Option<f64>)| {
                let Some(http) = c.services.http() else {
                    return fail(lua, ErrorKind::Internal, "http_client is not available");
                };
                let n = n
                    .filter(|n| *n >= 1.0)
                    .map_or(64 << 10, |n| (n as usize).min(16 << 20));
                let reply = c.begin_request()?;
                http.stream_read(id as u64, n, reply);
                Ok(c.pending())
            },
        )?)?,
    )?;
    let c = ctx.clone();
    raw.raw_set(
        "stream_close",
        lua.create_function(move |_, id: f64| {
            if let Some(http) = c.services.http() {
                http.stream_close(id as u64);
            }
            Ok(true)
        })?,
    )?;
    raw.raw_set(
        "encode_uri",
        lua.create_function(|lua, s: Value| {
            let s = crate::args::str_ref(Some(&s), "encode_uri", 1)?;
            lua.create_string(encode_component(&s.as_bytes()))
        })?,
    )?;
    raw.raw_set(
        "decode_uri",
        lua.create_function(|lua, s: Value| -> mlua::Result<MultiValue> {
            let s = str_arg(Some(&s), "decode_uri", 1)?;
            let bad = s.match_indices('%').any(|(i, _)| {
                s.as_bytes()
                    .get(i + 1..i + 3)
                    .is_none_or(|h| !h.iter().all(u8::is_ascii_hexdigit))
            });
            if bad {
                return fail(
                    lua,
                    ErrorKind::Invalid,
                    format!("invalid URL escape in {s:?}"),
                );
            }
            Ok(MultiValue::from_vec(vec![Value::String(
                lua.create_string(decode_component(&s))?,
            )]))
        })?,
    )?;
    let t: Table = lua
        .load(HTTP_CLIENT_LUA)
        .set_name("=starling.http_client")
        .call(raw)?;
    Ok(Value::Table(seal(&t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(
            encode_component(b"hello world&x=1/2"),
            "hello+world%26x%3D1%2F2"
        );
        assert_eq!(base64(b"admin:secret"), "YWRtaW46c2VjcmV0");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b""), "");
    }
}
