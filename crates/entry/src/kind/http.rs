//! The HTTP kinds as Wippy documents them: `http.service` (a listener), `http.router` (a
//! prefix with middleware), `http.endpoint` (method + path → a `function.lua`) and
//! `http.static` (files of an `fs.directory` entry, see [`super::fs`]).
//!
//! Routers and static handlers name their server in `meta.server`, endpoints their router in
//! `meta.router` (Wippy's convention: the link lives in the metadata). Links between entries
//! are checked once every entry is loaded (`crate::http`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::LoadError;
use crate::id::EntryId;
use crate::kind::fields::Fields;
use crate::kind::host::{DEFAULT_MEMORY_LIMIT, memory_limit};
use crate::lifecycle::Lifecycle;
use crate::lock::type_name;

/// Default `timeouts.read`: the most a client may take to send a request head (and a small
/// body read before the handler starts).
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `timeouts.write`: the most a handler may take to start its response, and a client
/// to accept each streamed chunk.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default `timeouts.idle`: how long a keep-alive connection may wait for its next request.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Default `limits.max_body`: the largest request body accepted.
pub const DEFAULT_MAX_BODY: u64 = 32 << 20;
/// Default `limits.max_header_bytes`: the largest request head (request line and headers).
pub const DEFAULT_MAX_HEADER_BYTES: u64 = 64 << 10;
/// The smallest `limits.max_header_bytes` accepted (the HTTP library's floor).
pub const MIN_MAX_HEADER_BYTES: u64 = 8 << 10;
/// Default `limits.max_connections`: open connections beyond this wait to be accepted.
pub const DEFAULT_MAX_CONNECTIONS: u64 = 10_000;

/// Middleware a router or static handler may list (Wippy's, plus Starling's `request_id`
/// and `access_log`). What each does is the HTTP server's business; unknown names are a load
/// error here so a typo names its file and line.
pub const MIDDLEWARE: [&str; 16] = [
    "cors",
    "ratelimit",
    "compress",
    "real_ip",
    "token_auth",
    "metrics",
    "sendfile",
    "otel",
    "request_id",
    "access_log",
    "endpoint_firewall",
    "resource_firewall",
    "websocket_relay",
    "sse_relay",
    "wsrelay",
    "sserelay",
];

/// HTTP methods an endpoint may name; `*` means any.
pub const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE",
];

/// `http.service`: a listener hosting routers and static handlers.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpServiceSpec {
    /// `addr` as written (`":8080"`, `"127.0.0.1:9090"`).
    pub addr: String,
    /// The host part of `addr`: empty for every interface (`":8080"`), else a name or address
    /// (brackets of an IPv6 address removed).
    pub bind_host: String,
    /// The port of `addr` (0 = any free port).
    pub port: u16,
    /// `timeouts.read`; `None` when set to 0 (disabled). Default [`DEFAULT_READ_TIMEOUT`].
    pub read_timeout: Option<Duration>,
    /// `timeouts.write`; `None` when 0. Default [`DEFAULT_WRITE_TIMEOUT`].
    pub write_timeout: Option<Duration>,
    /// `timeouts.idle`; `None` when 0. Default [`DEFAULT_IDLE_TIMEOUT`].
    pub idle_timeout: Option<Duration>,
    /// `host.worker_count`: worker threads running the handlers. Default: the number of CPUs.
    pub workers: usize,
    /// `host.memory_limit`: Lua memory of each handler worker's VM. Default 1 GiB.
    pub memory_limit: u64,
    /// `limits.max_body`: largest request body in bytes. Default [`DEFAULT_MAX_BODY`].
    pub max_body: u64,
    /// `limits.max_header_bytes`: largest request head. Default [`DEFAULT_MAX_HEADER_BYTES`].
    pub max_header_bytes: u64,
    /// `limits.max_connections`: most open connections. Default [`DEFAULT_MAX_CONNECTIONS`].
    pub max_connections: u64,
    /// `lifecycle`: `auto_start` starts it at boot; `stop_timeout` bounds the graceful stop.
    pub lifecycle: Lifecycle,
}

/// `http.router`: a URL prefix with middleware, under a server.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRouterSpec {
    /// `meta.server`.
    pub server: EntryId,
    /// `prefix`, normalised: starts with `/`, no trailing `/` except the root. Default `/`.
    pub prefix: String,
    /// `middleware`: run before route matching, in order.
    pub middleware: Vec<String>,
    /// `options`: middleware options (`cors.allow.origins`), values as text.
    pub options: BTreeMap<String, String>,
    /// `post_middleware`: run after a route matched, in order.
    pub post_middleware: Vec<String>,
    /// `post_options`.
    pub post_options: BTreeMap<String, String>,
}

/// `http.endpoint`: a method and path pattern answered by a `function.lua` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpEndpointSpec {
    /// `meta.router`.
    pub router: EntryId,
    /// `method`, uppercase; `None` for `*` (any method).
    pub method: Option<String>,
    /// `path`.
    pub path: RoutePath,
    /// `func`: the handler.
    pub func: EntryId,
}

/// `http.static`: files of a directory, mounted at a path of a server.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpStaticSpec {
    /// `meta.server`.
    pub server: EntryId,
    /// `path`: the mount point, normalised like a router prefix.
    pub path: String,
    /// `fs`: the `fs.directory` entry to serve.
    pub fs: EntryId,
    /// `static_options.spa`: serve the index file for paths that match no file.
    pub spa: bool,
    /// `static_options.index`: the file served for a directory (and the SPA fallback).
    /// Default `index.html`.
    pub index: String,
    /// `static_options.cache`: the `Cache-Control` value, if any.
    pub cache: Option<String>,
    /// `middleware`, in order.
    pub middleware: Vec<String>,
    /// `options`.
    pub options: BTreeMap<String, String>,
}

/// A path pattern: `/users/{id}/posts/{post...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePath {
    /// The pattern as written.
    pub text: String,
    /// Its segments between slashes (empty for `/`).
    pub segments: Vec<RouteSegment>,
}

/// One segment of a [`RoutePath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteSegment {
    /// Matches this text exactly.
    Literal(String),
    /// `{name}`: matches one non-empty segment.
    Param(String),
    /// `{name...}`: matches the rest of the path (possibly empty); last segment only.
    Rest(String),
}

/// Reads a duration where absent takes `default` and 0 disables.
fn timeout(
    block: &Fields<'_>,
    key: &str,
    default: Duration,
) -> Result<Option<Duration>, LoadError> {
    Ok(match block.duration(key)? {
        None => Some(default),
        Some(d) if d.is_zero() => None,
        Some(d) => Some(d),
    })
}

/// A positive count or size; absent or 0 takes `default`. Sizes may be written `"10MB"`.
fn size(block: &Fields<'_>, key: &str, default: u64) -> Result<u64, LoadError> {
    let n = match block.raw(key) {
        None => return Ok(default),
        Some(Value::String(s)) => crate::kind::parse_size(s)
            .ok_or_else(|| block.error(format!("{}: invalid size {s:?}", block.name(key))))?,
        Some(_) => match block.integer(key)? {
            Some(n) if n < 0 => {
                return Err(block.error(format!("{} must be positive, found {n}", block.name(key))));
            }
            n => n.unwrap_or(0) as u64,
        },
    };
    Ok(if n == 0 { default } else { n })
}

/// Splits `addr` into host and port: `:8080`, `0.0.0.0:80`, `localhost:8080`, `[::1]:8080`.
fn split_addr(addr: &str) -> Result<(String, u16), String> {
    let addr = addr.trim();
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| format!("addr {addr:?} must be host:port or :port"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("addr {addr:?}: port {port:?} is not a number from 0 to 65535"))?;
    let host = match host.strip_prefix('[') {
        Some(rest) => rest
            .strip_suffix(']')
            .ok_or_else(|| format!("addr {addr:?}: unbalanced '['"))?
            .to_owned(),
        None if host.contains(':') => {
            return Err(format!(
                "addr {addr:?}: write an IPv6 address in brackets, as [::1]:8080"
            ));
        }
        None => host.to_owned(),
    };
    if host.chars().any(char::is_whitespace) {
        return Err(format!("addr {addr:?}: the host contains a space"));
    }
    Ok((host, port))
}

impl HttpServiceSpec {
    pub(super) fn from_fields(data: &Fields<'_>) -> Result<HttpServiceSpec, LoadError> {
        let addr = data
            .string("addr")?
            .ok_or_else(|| data.error("addr is required (for example \":8080\")"))?
            .to_owned();
        let (bind_host, port) = split_addr(&addr).map_err(|m| data.error(m))?;
        let timeouts = data.block("timeouts")?;
        let host = data.block("host")?;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = match host.integer("worker_count")? {
            None | Some(0) => cpus,
            Some(n) if n < 0 => {
                return Err(host.error(format!(
                    "{} must be positive, found {n}",
                    host.name("worker_count")
                )));
            }
            Some(n) => usize::try_from(n).unwrap_or(cpus).min(1024),
        };
        if let Some(network) = data.string("network")? {
            return Err(data.error(format!(
                "network {network}: network overlays are not supported by starling"
            )));
        }
        let tls = data.block("tls")?;
        if let Some(mode) = tls.string("mode")?.filter(|m| !m.is_empty()) {
            return Err(data.error(format!(
                "tls.mode {mode}: TLS termination is not supported by starling yet; put a TLS proxy in front"
            )));
        }
        let limits = data.block("limits")?;
        let max_header_bytes = size(&limits, "max_header_bytes", DEFAULT_MAX_HEADER_BYTES)?;
        if max_header_bytes < MIN_MAX_HEADER_BYTES {
            return Err(limits.error(format!(
                "{} must be at least 8KB, found {max_header_bytes} bytes",
                limits.name("max_header_bytes")
            )));
        }
        Ok(HttpServiceSpec {
            addr,
            bind_host,
            port,
            read_timeout: timeout(&timeouts, "read", DEFAULT_READ_TIMEOUT)?,
            write_timeout: timeout(&timeouts, "write", DEFAULT_WRITE_TIMEOUT)?,
            idle_timeout: timeout(&timeouts, "idle", DEFAULT_IDLE_TIMEOUT)?,
            workers,
            memory_limit: match host.raw("memory_limit") {
                None => DEFAULT_MEMORY_LIMIT,
                Some(_) => memory_limit(&host)?,
            },
            max_body: size(&limits, "max_body", DEFAULT_MAX_BODY)?,
            max_header_bytes,
            max_connections: size(&limits, "max_connections", DEFAULT_MAX_CONNECTIONS)?,
            lifecycle: Lifecycle::from_fields(data)?,
        })
    }
}

/// The entry named by `meta.<key>` (bare names resolve against the own namespace).
fn meta_link(
    data: &Fields<'_>,
    meta: &Map<String, Value>,
    key: &str,
) -> Result<EntryId, LoadError> {
    let meta = data.sibling(meta, "meta.");
    meta.reference(key)?.ok_or_else(|| {
        data.error(format!(
            "meta.{key} is required (the {} this entry belongs to)",
            if key == "server" {
                "http.service"
            } else {
                "http.router"
            }
        ))
    })
}

/// Normalises a prefix or mount path: leading `/`, no trailing `/` (except the root).
fn mount_path(data: &Fields<'_>, key: &str, text: Option<&str>) -> Result<String, LoadError> {
    let text = text.unwrap_or("/").trim();
    if text.is_empty() {
        return Ok("/".into());
    }
    if !text.starts_with('/') {
        return Err(data.error(format!("{key} {text:?} must start with '/'")));
    }
    if text.contains(['{', '}', '?', '#']) || text.chars().any(char::is_whitespace) {
        return Err(data.error(format!(
            "{key} {text:?} must be a plain path (no parameters, query or spaces)"
        )));
    }
    let trimmed = text.trim_end_matches('/');
    Ok(if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.to_owned()
    })
}

/// A list of middleware names, each one Starling knows.
fn middleware_list(data: &Fields<'_>, key: &str) -> Result<Vec<String>, LoadError> {
    let names = data.strings(key)?;
    for (i, name) in names.iter().enumerate() {
        if !MIDDLEWARE.contains(&name.as_str()) {
            return Err(data.error(format!(
                "{key}[{i}]: unknown middleware {name:?} (known: {})",
                MIDDLEWARE.join(", ")
            )));
        }
    }
    Ok(names)
}

/// Middleware options: a mapping whose values are text; nested mappings flatten to dotted
/// keys (`cors: {allow: {origins: x}}` is `cors.allow.origins: x`).
fn options(data: &Fields<'_>, key: &str) -> Result<BTreeMap<String, String>, LoadError> {
    fn flatten(
        prefix: &str,
        map: &Map<String, Value>,
        out: &mut BTreeMap<String, String>,
    ) -> Result<(), String> {
        for (k, v) in map {
            let name = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            let text = match v {
                Value::Null => continue,
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                Value::Array(items) => {
                    let mut parts = Vec::new();
                    for item in items {
                        match item {
                            Value::String(s) => parts.push(s.clone()),
                            Value::Number(n) => parts.push(n.to_string()),
                            Value::Bool(b) => parts.push(b.to_string()),
                            other => {
                                return Err(format!(
                                    "{name} must be text or a list of text, found a list with {}",
                                    type_name(other)
                                ));
                            }
                        }
                    }
                    parts.join(",")
                }
                Value::Object(inner) => {
                    flatten(&name, inner, out)?;
                    continue;
                }
            };
            out.insert(name, text);
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    match data.raw(key) {
        None => {}
        Some(Value::Object(map)) => {
            flatten("", map, &mut out).map_err(|m| data.error(format!("{key}.{m}")))?
        }
        Some(other) => {
            return Err(data.error(format!(
                "{key} must be a mapping of option to value, found {}",
                type_name(other)
            )));
        }
    }
    Ok(out)
}

impl HttpRouterSpec {
    pub(super) fn from_fields(
        data: &Fields<'_>,
        meta: &Map<String, Value>,
    ) -> Result<HttpRouterSpec, LoadError> {
        Ok(HttpRouterSpec {
            server: meta_link(data, meta, "server")?,
            prefix: mount_path(data, "prefix", data.string("prefix")?)?,
            middleware: middleware_list(data, "middleware")?,
            options: options(data, "options")?,
            post_middleware: middleware_list(data, "post_middleware")?,
            post_options: options(data, "post_options")?,
        })
    }
}

impl RoutePath {
    /// Parses a path pattern; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<RoutePath, String> {
        let t = text.trim();
        if !t.starts_with('/') {
            return Err(format!("path {t:?} must start with '/'"));
        }
        if t.contains(['?', '#']) || t.chars().any(char::is_whitespace) {
            return Err(format!(
                "path {t:?} must not contain a query, '#' or spaces"
            ));
        }
        let mut segments = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        let parts: Vec<&str> = t[1..].split('/').collect();
        let count = parts.len();
        for (i, part) in parts.into_iter().enumerate() {
            if part.is_empty() {
                if i + 1 == count {
                    break; // a trailing slash
                }
                return Err(format!("path {t:?} has an empty segment ('//')"));
            }
            let Some(inner) = part.strip_prefix('{') else {
                if part.contains(['{', '}']) {
                    return Err(format!(
                        "path {t:?}: a parameter must be a whole segment, as /{{name}}/"
                    ));
                }
                segments.push(RouteSegment::Literal(part.to_owned()));
                continue;
            };
            let inner = inner
                .strip_suffix('}')
                .ok_or_else(|| format!("path {t:?}: segment {part:?} is missing its '}}'"))?;
            let (name, rest) = match inner.strip_suffix("...") {
                Some(name) => (name, true),
                None => (inner, false),
            };
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(format!(
                    "path {t:?}: parameter name {name:?} must be letters, digits, _ or -"
                ));
            }
            if names.contains(&name) {
                return Err(format!("path {t:?}: parameter {name:?} appears twice"));
            }
            names.push(name);
            if rest {
                if i + 1 != count {
                    return Err(format!(
                        "path {t:?}: the wildcard {{{name}...}} must be the last segment"
                    ));
                }
                segments.push(RouteSegment::Rest(name.to_owned()));
            } else {
                segments.push(RouteSegment::Param(name.to_owned()));
            }
        }
        Ok(RoutePath {
            text: t.to_owned(),
            segments,
        })
    }
}

impl HttpEndpointSpec {
    pub(super) fn from_fields(
        data: &Fields<'_>,
        meta: &Map<String, Value>,
    ) -> Result<HttpEndpointSpec, LoadError> {
        let router = meta_link(data, meta, "router")?;
        let method = data
            .string("method")?
            .map(str::trim)
            .ok_or_else(|| data.error("method is required (GET, POST, ... or \"*\")"))?;
        let method = if method == "*" {
            None
        } else if METHODS.contains(&method) {
            Some(method.to_owned())
        } else {
            return Err(data.error(format!(
                "method {method:?} is not one of {} or \"*\" (methods are uppercase)",
                METHODS.join(", ")
            )));
        };
        let path = data
            .string("path")?
            .ok_or_else(|| data.error("path is required (for example /users/{id})"))?;
        let path = RoutePath::parse(path).map_err(|m| data.error(m))?;
        let func = data
            .reference("func")?
            .ok_or_else(|| data.error("func is required (the function.lua entry to call)"))?;
        Ok(HttpEndpointSpec {
            router,
            method,
            path,
            func,
        })
    }
}

impl HttpStaticSpec {
    pub(super) fn from_fields(
        data: &Fields<'_>,
        meta: &Map<String, Value>,
    ) -> Result<HttpStaticSpec, LoadError> {
        let server = meta_link(data, meta, "server")?;
        let path = mount_path(
            data,
            "path",
            Some(
                data.string("path")?
                    .ok_or_else(|| data.error("path is required (the mount path, as /static)"))?,
            ),
        )?;
        let fs = data
            .reference("fs")?
            .ok_or_else(|| data.error("fs is required (an fs.directory entry)"))?;
        let opts = data.block("static_options")?;
        let spa = opts.boolean("spa")?.unwrap_or(false);
        let index = opts
            .string("index")?
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if spa && index.is_none() {
            return Err(opts.error("static_options.index is required when spa is true"));
        }
        let index = index.unwrap_or("index.html");
        if index.contains(['/', '\\']) || index == ".." || index == "." {
            return Err(opts.error(format!(
                "static_options.index {index:?} must be a file name"
            )));
        }
        Ok(HttpStaticSpec {
            server,
            path,
            fs,
            spa,
            index: index.to_owned(),
            cache: opts
                .string("cache")?
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            middleware: middleware_list(data, "middleware")?,
            options: options(data, "options")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{EntryRef, Site};
    use serde_json::json;

    fn site() -> Site {
        Site {
            file: "a.yaml".into(),
            line: Some(3),
            column: None,
            entry: Some(EntryRef::Id(EntryId::new("app", "x"))),
        }
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().expect("object").clone()
    }

    fn service(data: Value) -> Result<HttpServiceSpec, String> {
        let site = site();
        let data = map(data);
        HttpServiceSpec::from_fields(&Fields::new(&site, "app", &data)).map_err(|e| e.to_string())
    }

    fn router(data: Value, meta: Value) -> Result<HttpRouterSpec, String> {
        let site = site();
        let (data, meta) = (map(data), map(meta));
        HttpRouterSpec::from_fields(&Fields::new(&site, "app", &data), &meta)
            .map_err(|e| e.to_string())
    }

    fn endpoint(data: Value) -> Result<HttpEndpointSpec, String> {
        let site = site();
        let data = map(data);
        let meta = map(json!({"router": "api"}));
        HttpEndpointSpec::from_fields(&Fields::new(&site, "app", &data), &meta)
            .map_err(|e| e.to_string())
    }

    fn static_files(data: Value) -> Result<HttpStaticSpec, String> {
        let site = site();
        let data = map(data);
        let meta = map(json!({"server": "app:gateway"}));
        HttpStaticSpec::from_fields(&Fields::new(&site, "app", &data), &meta)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn service_defaults_and_addresses() {
        let s = service(json!({"addr": ":8080", "lifecycle": {"auto_start": true}})).expect("ok");
        assert_eq!((s.bind_host.as_str(), s.port), ("", 8080));
        assert_eq!(s.read_timeout, Some(DEFAULT_READ_TIMEOUT));
        assert_eq!(s.write_timeout, Some(DEFAULT_WRITE_TIMEOUT));
        assert_eq!(s.idle_timeout, Some(DEFAULT_IDLE_TIMEOUT));
        assert_eq!(s.max_body, DEFAULT_MAX_BODY);
        assert!(s.lifecycle.auto_start);
        let s = service(
            json!({"addr": "[::1]:0", "timeouts": {"read": "5s", "idle": "0"},
            "limits": {"max_body": "1MB", "max_header_bytes": 16384}, "host": {"worker_count": 3}}),
        )
        .expect("ok");
        assert_eq!((s.bind_host.as_str(), s.port), ("::1", 0));
        assert_eq!(s.read_timeout, Some(Duration::from_secs(5)));
        assert_eq!(s.idle_timeout, None);
        assert_eq!(
            (s.max_body, s.max_header_bytes, s.workers),
            (1 << 20, 16384, 3)
        );
        let s = service(json!({"addr": "localhost:9090"})).expect("ok");
        assert_eq!((s.bind_host.as_str(), s.port), ("localhost", 9090));
    }

    #[test]
    fn service_errors() {
        let cases = [
            (json!({}), "addr is required (for example \":8080\")"),
            (
                json!({"addr": "8080"}),
                "addr \"8080\" must be host:port or :port",
            ),
            (
                json!({"addr": ":http"}),
                "addr \":http\": port \"http\" is not a number from 0 to 65535",
            ),
            (
                json!({"addr": "::1:80"}),
                "addr \"::1:80\": write an IPv6 address in brackets, as [::1]:8080",
            ),
            (
                json!({"addr": ":80", "timeouts": {"read": "5"}}),
                "timeouts.read: missing unit in duration \"5\"",
            ),
            (
                json!({"addr": ":80", "limits": {"max_header_bytes": 100}}),
                "limits.max_header_bytes must be at least 8KB, found 100 bytes",
            ),
            (
                json!({"addr": ":80", "tls": {"mode": "manual"}}),
                "tls.mode manual: TLS termination is not supported by starling yet; put a TLS proxy in front",
            ),
        ];
        for (data, want) in cases {
            assert_eq!(
                service(data.clone()),
                Err(format!("a.yaml:3: entry app:x: {want}")),
                "{data}"
            );
        }
    }

    #[test]
    fn router_fields() {
        let r = router(
            json!({"prefix": "/api/v1/", "middleware": ["cors", "request_id"],
                   "options": {"cors.allow.origins": "*", "ratelimit": {"requests": 100},
                               "cors.allow.methods": ["GET", "POST"]}}),
            json!({"server": "gateway"}),
        )
        .expect("ok");
        assert_eq!(r.server, EntryId::new("app", "gateway"));
        assert_eq!(r.prefix, "/api/v1");
        assert_eq!(r.middleware, ["cors", "request_id"]);
        assert_eq!(r.options["cors.allow.origins"], "*");
        assert_eq!(r.options["ratelimit.requests"], "100");
        assert_eq!(r.options["cors.allow.methods"], "GET,POST");
        assert_eq!(
            router(json!({}), json!({"server": "g"}))
                .expect("ok")
                .prefix,
            "/"
        );
        assert_eq!(
            router(json!({}), json!({})),
            Err("a.yaml:3: entry app:x: meta.server is required (the http.service this entry belongs to)".into())
        );
        assert_eq!(
            router(json!({"middleware": ["corz"]}), json!({"server": "g"}))
                .expect_err("unknown")
                .split(" (known")
                .next()
                .expect("text"),
            "a.yaml:3: entry app:x: middleware[0]: unknown middleware \"corz\""
        );
        assert_eq!(
            router(json!({"prefix": "api"}), json!({"server": "g"})),
            Err("a.yaml:3: entry app:x: prefix \"api\" must start with '/'".into())
        );
    }

    #[test]
    fn route_paths() {
        let p = RoutePath::parse("/users/{id}/files/{rest...}").expect("ok");
        assert_eq!(
            p.segments,
            [
                RouteSegment::Literal("users".into()),
                RouteSegment::Param("id".into()),
                RouteSegment::Literal("files".into()),
                RouteSegment::Rest("rest".into()),
            ]
        );
        assert!(RoutePath::parse("/").expect("root").segments.is_empty());
        assert_eq!(RoutePath::parse("/a/").expect("trailing").segments.len(), 1);
        for (bad, want) in [
            ("users", "must start with '/'"),
            ("/a//b", "empty segment"),
            ("/a/{id", "missing its '}'"),
            ("/a/x{id}", "whole segment"),
            ("/{a}/{a}", "appears twice"),
            ("/{rest...}/x", "must be the last segment"),
            ("/{}", "parameter name \"\""),
            ("/a?b=1", "query"),
        ] {
            let err = RoutePath::parse(bad).expect_err(bad);
            assert!(err.contains(want), "{bad}: {err}");
        }
    }

    #[test]
    fn endpoint_fields() {
        let e = endpoint(json!({"method": "GET", "path": "/hello", "func": "hello"})).expect("ok");
        assert_eq!(e.router, EntryId::new("app", "api"));
        assert_eq!(e.method.as_deref(), Some("GET"));
        assert_eq!(e.func, EntryId::new("app", "hello"));
        assert_eq!(
            endpoint(json!({"method": "*", "path": "/p/{x...}", "func": "f"}))
                .expect("ok")
                .method,
            None
        );
        assert_eq!(
            endpoint(json!({"method": "get", "path": "/", "func": "f"})),
            Err("a.yaml:3: entry app:x: method \"get\" is not one of GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS, TRACE or \"*\" (methods are uppercase)".into())
        );
        assert_eq!(
            endpoint(json!({"method": "GET", "path": "/"})),
            Err("a.yaml:3: entry app:x: func is required (the function.lua entry to call)".into())
        );
        assert_eq!(
            endpoint(json!({"method": "GET", "func": "f"})),
            Err("a.yaml:3: entry app:x: path is required (for example /users/{id})".into())
        );
    }

    #[test]
    fn static_fields() {
        let s = static_files(json!({"path": "/", "fs": "public",
            "static_options": {"spa": true, "index": "app.html", "cache": "public, max-age=60"}}))
        .expect("ok");
        assert_eq!(s.fs, EntryId::new("app", "public"));
        assert!(s.spa);
        assert_eq!(s.index, "app.html");
        assert_eq!(s.cache.as_deref(), Some("public, max-age=60"));
        let plain = static_files(json!({"path": "/static/", "fs": "public"})).expect("ok");
        assert_eq!(
            (plain.path.as_str(), plain.index.as_str()),
            ("/static", "index.html")
        );
        assert_eq!(
            static_files(json!({"path": "/", "fs": "p", "static_options": {"spa": true}})),
            Err("a.yaml:3: entry app:x: static_options.index is required when spa is true".into())
        );
        assert_eq!(
            static_files(json!({"path": "/", "fs": "p", "static_options": {"index": "../x"}})),
            Err("a.yaml:3: entry app:x: static_options.index \"../x\" must be a file name".into())
        );
    }
}
