//! Router middleware (Wippy's `middleware`, `options`, `post_middleware`, `post_options`).
//!
//! Each pre-match middleware may answer a request itself (a CORS preflight, a 429) before it
//! reaches a route, and may adjust every response on the way out; they run in listed order on
//! the way in and in reverse order on the way out. Post-match middleware runs only for a
//! matched endpoint.
//!
//! | Name | What it does here |
//! |---|---|
//! | `cors` | CORS headers; answers preflights (`cors.rs`) |
//! | `ratelimit` | token bucket per client key, 429 when empty (`ratelimit.rs`) |
//! | `real_ip` | client address from proxy headers when the peer is trusted (`real_ip.rs`) |
//! | `compress` | gzip for whole responses of 1 KB and more (`compress.rs`) |
//! | `request_id` | `X-Request-ID`: kept from the request or made, echoed on the response |
//! | `access_log` | one log line per request: method, path, status, duration |
//! | `token_auth`, `endpoint_firewall`, `resource_firewall` | accepted, not enforced (no security policies; a warning at start) |
//! | `metrics`, `otel` | accepted, no effect |
//! | `websocket_relay`, `sse_relay` (post-match) | the connection relays to a process (`relay.rs`) |
//! | `sendfile` | a handler's `X-Sendfile: path` is served from `sendfile.fs` (ranges too) |

mod compress;
mod cors;
mod ratelimit;
mod real_ip;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use hyper::header::HeaderValue;
use hyper::http::request::Parts;
use hyper::{HeaderMap, Response};
use serde_json::Value as Json;
use starling_core::Level;
use starling_entry::Entry;

use crate::body::Body;
use crate::error::HttpError;
use crate::routes::config;
use crate::runtime::Shared;

/// What middleware knows about a request.
pub(crate) struct ReqCtx {
    pub(crate) parts: Parts,
    /// The TCP peer.
    pub(crate) peer: SocketAddr,
    /// The client address handlers see (`real_ip` may replace it).
    pub(crate) remote: Remote,
    pub(crate) start: Instant,
    pub(crate) request_id: Option<String>,
}

/// The client address: the TCP peer, or the address `real_ip` found; printed on demand
/// (most requests never ask).
#[derive(Debug, Clone)]
pub(crate) enum Remote {
    Peer(SocketAddr),
    Forwarded(String),
}

impl Remote {
    /// `ip:port` for a peer, the address alone when forwarded.
    pub(crate) fn text(&self) -> String {
        match self {
            Remote::Peer(a) => a.to_string(),
            Remote::Forwarded(s) => s.clone(),
        }
    }

    /// The address without the port.
    pub(crate) fn ip(&self) -> String {
        match self {
            Remote::Peer(a) => a.ip().to_string(),
            Remote::Forwarded(s) => s.clone(),
        }
    }
}

/// Options of one middleware: `name.key`, or the legacy `name_key` spelling.
pub(crate) struct Opts<'a> {
    map: &'a BTreeMap<String, String>,
    name: &'a str,
    entry: &'a Entry,
}

impl Opts<'_> {
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        let dotted = format!("{}.{key}", self.name);
        if let Some(v) = self.map.get(&dotted) {
            return Some(v.trim());
        }
        let legacy = dotted.replace('.', "_");
        self.map.get(&legacy).map(|v| v.trim())
    }

    /// A configuration error naming the option.
    pub(crate) fn error(&self, key: &str, message: impl std::fmt::Display) -> HttpError {
        config(self.entry, format!("option {}.{key}: {message}", self.name))
    }

    pub(crate) fn bool(&self, key: &str, default: bool) -> Result<bool, HttpError> {
        match self.get(key) {
            None | Some("") => Ok(default),
            Some("true" | "1" | "yes" | "on") => Ok(true),
            Some("false" | "0" | "no" | "off") => Ok(false),
            Some(other) => Err(self.error(key, format!("expected true or false, found {other:?}"))),
        }
    }

    pub(crate) fn number(&self, key: &str, default: f64) -> Result<f64, HttpError> {
        match self.get(key) {
            None | Some("") => Ok(default),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .ok_or_else(|| self.error(key, format!("expected a number, found {v:?}"))),
        }
    }

    pub(crate) fn duration(
        &self,
        key: &str,
        default: std::time::Duration,
    ) -> Result<std::time::Duration, HttpError> {
        match self.get(key) {
            None | Some("") => Ok(default),
            Some(v) => starling_entry::parse_go_duration(v)
                .ok()
                .filter(|n| *n > 0)
                .map(|n| std::time::Duration::from_nanos(n as u64))
                .ok_or_else(|| {
                    self.error(
                        key,
                        format!("expected a duration such as \"1m\", found {v:?}"),
                    )
                }),
        }
    }

    pub(crate) fn list(&self, key: &str, default: &str) -> Vec<String> {
        self.get(key)
            .unwrap_or(default)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

#[derive(Debug)]
enum Mw {
    Cors(cors::Cors),
    RateLimit(ratelimit::RateLimit),
    RealIp(real_ip::RealIp),
    Compress(compress::Compress),
    RequestId,
    AccessLog,
    /// Accepted and without effect.
    Inert,
}

/// The middleware of a router or static mount.
#[derive(Debug, Default)]
pub(crate) struct Chain {
    pre: Vec<Mw>,
    /// Post-match relays (`websocket_relay`, `sse_relay`).
    pub(crate) relays: Vec<crate::relay::Relay>,
    /// `sendfile`: the directory `X-Sendfile` paths are served from.
    pub(crate) sendfile: Option<crate::static_files::StaticFiles>,
    /// Start-up warnings (middleware that is accepted but not enforced).
    pub(crate) warnings: Vec<String>,
}

impl Chain {
    pub(crate) fn build(
        project: &starling_entry::Project,
        e: &Entry,
        pre: &[String],
        options: &BTreeMap<String, String>,
        post: &[String],
        post_options: &BTreeMap<String, String>,
    ) -> Result<Chain, HttpError> {
        let mut chain = Chain::default();
        for name in pre {
            let opts = Opts {
                map: options,
                name,
                entry: e,
            };
            let mw = match name.as_str() {
                "cors" => Mw::Cors(cors::Cors::new(&opts)?),
                "ratelimit" => Mw::RateLimit(ratelimit::RateLimit::new(&opts)?),
                "real_ip" => Mw::RealIp(real_ip::RealIp::new(&opts)?),
                "compress" => Mw::Compress(compress::Compress::new(&opts)?),
                "request_id" => Mw::RequestId,
                "access_log" => Mw::AccessLog,
                "sendfile" => {
                    chain.sendfile = Some(sendfile_dir(project, &opts)?);
                    Mw::Inert
                }
                other => {
                    chain.note(e, other);
                    Mw::Inert
                }
            };
            chain.pre.push(mw);
        }
        for name in post {
            let (kind, opts_name) = match name.as_str() {
                "websocket_relay" | "wsrelay" => (crate::relay::Kind::WebSocket, "wsrelay"),
                "sse_relay" | "sserelay" => (crate::relay::Kind::Sse, "sserelay"),
                other => {
                    chain.note(e, other);
                    continue;
                }
            };
            let opts = Opts {
                map: post_options,
                name: opts_name,
                entry: e,
            };
            chain.relays.push(crate::relay::Relay::new(
                kind,
                opts.list("allowed.origins", ""),
            ));
        }
        Ok(chain)
    }

    fn note(&mut self, e: &Entry, name: &str) {
        let why = match name {
            "token_auth" | "endpoint_firewall" | "resource_firewall" => {
                "is accepted but not enforced: starling has no security policies"
            }
            "metrics" | "otel" => return,
            "websocket_relay" | "wsrelay" | "sse_relay" | "sserelay" => {
                "is post-match middleware: list it under post_middleware"
            }
            _ => "has no effect here",
        };
        self.warnings
            .push(format!("{}: middleware {name} {why}", e.site()));
    }

    /// Runs the pre-match middleware; a response ends the request there (the `after` hooks
    /// of the middleware that ran still apply).
    pub(crate) fn before(
        &self,
        shared: &Shared,
        ctx: &mut ReqCtx,
    ) -> Option<(Response<Body>, usize)> {
        for (i, mw) in self.pre.iter().enumerate() {
            let answer = match mw {
                Mw::Cors(c) => c.before(ctx),
                Mw::RateLimit(r) => r.before(ctx),
                Mw::RealIp(r) => {
                    r.before(ctx);
                    None
                }
                Mw::RequestId => {
                    request_id(ctx);
                    None
                }
                Mw::Compress(_) | Mw::AccessLog | Mw::Inert => None,
            };
            if let Some(resp) = answer {
                let _ = shared;
                return Some((resp, i));
            }
        }
        None
    }

    /// Adjusts the response on its way out, in reverse order, for the first `ran` middleware
    /// (all of them when the request went through).
    pub(crate) fn after(
        &self,
        shared: &Shared,
        ctx: &ReqCtx,
        ran: usize,
        resp: &mut Response<Body>,
    ) {
        for mw in self.pre[..ran.min(self.pre.len())].iter().rev() {
            match mw {
                Mw::Cors(c) => c.after(ctx, resp.headers_mut()),
                Mw::Compress(c) => c.after(ctx, resp),
                Mw::RequestId => {
                    if let Some(id) = ctx
                        .request_id
                        .as_deref()
                        .and_then(|v| HeaderValue::from_str(v).ok())
                    {
                        resp.headers_mut().insert("x-request-id", id);
                    }
                }
                Mw::AccessLog => access_log(shared, ctx, resp),
                Mw::RateLimit(r) => r.after(resp.headers_mut()),
                Mw::RealIp(_) | Mw::Inert => {}
            }
        }
    }

    /// Number of pre-match middleware.
    pub(crate) fn len(&self) -> usize {
        self.pre.len()
    }

    /// True when responses need the request head afterwards.
    pub(crate) fn needs_head(&self) -> bool {
        !self.pre.is_empty() || !self.relays.is_empty()
    }
}

/// The directory of `sendfile.fs` (an `fs.directory` entry).
fn sendfile_dir(
    project: &starling_entry::Project,
    o: &Opts<'_>,
) -> Result<crate::static_files::StaticFiles, HttpError> {
    let name = o
        .get("fs")
        .filter(|f| !f.is_empty())
        .ok_or_else(|| o.error("fs", "is required (an fs.directory entry)"))?;
    let id = starling_entry::EntryId::resolve(name, &o.entry.id.namespace)
        .map_err(|e| o.error("fs", e))?;
    let dir = match project.get(&id).map(|e| &e.spec) {
        Some(starling_entry::EntrySpec::FsDirectory(d)) => d,
        _ => return Err(o.error("fs", format!("{id} is not an fs.directory entry"))),
    };
    let path = if dir.directory.is_absolute() {
        dir.directory.clone()
    } else {
        project.dir.join(&dir.directory)
    };
    let root = path.canonicalize().map_err(|e| {
        o.error(
            "fs",
            format!("directory {} is not usable: {e}", path.display()),
        )
    })?;
    Ok(crate::static_files::StaticFiles::directory(root))
}

/// `request_id`: keeps a sane `X-Request-ID` of the request, or makes one, and shows it to
/// the handler as a request header.
fn request_id(ctx: &mut ReqCtx) {
    let given = ctx
        .parts
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned);
    let id = given.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if let Ok(v) = HeaderValue::from_str(&id) {
        ctx.parts.headers.insert("x-request-id", v);
    }
    ctx.request_id = Some(id);
}

fn access_log(shared: &Shared, ctx: &ReqCtx, resp: &Response<Body>) {
    let mut fields = vec![
        ("method".into(), Json::from(ctx.parts.method.as_str())),
        ("path".into(), Json::from(ctx.parts.uri.path())),
        ("status".into(), Json::from(resp.status().as_u16())),
        (
            "duration_ms".into(),
            Json::from((ctx.start.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0),
        ),
        ("remote".into(), Json::from(ctx.remote.text())),
    ];
    if let Some(id) = &ctx.request_id {
        fields.push(("request_id".into(), Json::from(id.as_str())));
    }
    shared.log(Level::Info, "http request", fields);
}

/// True when `headers` say the client takes gzip.
pub(crate) fn takes_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(hyper::header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f64>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            !refused && (coding.eq_ignore_ascii_case("gzip") || coding == "*")
        })
}
