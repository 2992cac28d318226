//! `http_client`: outgoing requests on the HTTP runtime, answered to the waiting coroutine.
//!
//! - Connections to the same host are pooled (hyper's client); `unix_socket` requests use a
//!   fresh connection each.
//! - Redirects are followed (at most [`MAX_REDIRECTS`]); a 303, or a 301/302 after a `POST`,
//!   continues as a body-less `GET`, as browsers and Go do.
//! - The whole request (connect, send, head, and the body unless streamed) is bounded by the
//!   `timeout` option; without one it may wait as long as the server does.
//! - Bodies read into memory are capped by `max_response_body` (default [`DEFAULT_MAX_BODY`]).
//! - A streamed body stays here until read to its end, closed, or left unread for
//!   [`STREAM_IDLE`] (then it is dropped).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, LOCATION, USER_AGENT};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use starling_core::{ErrorKind, ErrorValue, ExitResult, Payload, ReplyTo, Table, Value};
use starling_lua::services::http::OutgoingRequest;
use std::sync::OnceLock;

use crate::runtime::Shared;

/// Redirects followed before giving up.
pub(crate) const MAX_REDIRECTS: usize = 10;
/// Largest body read into memory when `max_response_body` is 0.
pub(crate) const DEFAULT_MAX_BODY: u64 = 128 << 20;
/// A streamed body nobody reads for this long is dropped.
pub(crate) const STREAM_IDLE: Duration = Duration::from_secs(300);

type Pool = Client<HttpConnector, Full<Bytes>>;

struct Streamed {
    body: Option<Incoming>,
    left: Bytes,
}

struct StreamEntry {
    body: Arc<tokio::sync::Mutex<Streamed>>,
    touched: Instant,
}

/// The client's pool and the streamed bodies, by id.
#[derive(Default)]
pub(crate) struct ClientState {
    pool: OnceLock<Pool>,
    streams: Mutex<FxHashMap<u64, StreamEntry>>,
    next: AtomicU64,
}

impl ClientState {
    pub(crate) fn close(&self, stream: u64) {
        self.streams.lock().remove(&stream);
    }

    fn pool(&self) -> &Pool {
        self.pool.get_or_init(|| {
            let mut http = HttpConnector::new();
            http.set_nodelay(true);
            http.enforce_http(true);
            Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(90))
                .build(http)
        })
    }

    fn add(&self, body: Incoming) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let now = Instant::now();
        let mut streams = self.streams.lock();
        streams.retain(|_, s| now.duration_since(s.touched) < STREAM_IDLE);
        streams.insert(
            id,
            StreamEntry {
                body: Arc::new(tokio::sync::Mutex::new(Streamed {
                    body: Some(body),
                    left: Bytes::new(),
                })),
                touched: now,
            },
        );
        id
    }
}

fn internal(message: impl Into<String>) -> ErrorValue {
    ErrorValue::new(ErrorKind::Internal, message)
}

fn network(message: impl Into<String>) -> ErrorValue {
    ErrorValue::new(ErrorKind::Internal, message).retryable(Some(true))
}

fn invalid(message: impl Into<String>) -> ErrorValue {
    ErrorValue::new(ErrorKind::Invalid, message)
}

/// `Content-Type` → `Content-Type`; `x-request-id` → `X-Request-Id` (Go's canonical form).
fn canonical(name: &str) -> String {
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

/// Builds payload tables.
struct Builder {
    tables: Vec<Table>,
}

impl Builder {
    fn table(&mut self, hash: Vec<(Value, Value)>) -> Value {
        self.tables.push(Table {
            array: Vec::new(),
            hash,
        });
        Value::Table(self.tables.len() as u32 - 1)
    }
}

fn s(text: impl AsRef<[u8]>) -> Value {
    Value::Str(text.as_ref().into())
}

/// Resolves a `Location` against the URL it came from.
fn resolve(base: &Uri, location: &str) -> Option<String> {
    if location.contains("://") {
        return Some(location.to_owned());
    }
    let scheme = base.scheme_str()?;
    let auth = base.authority()?.as_str();
    if let Some(rest) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{rest}"));
    }
    if location.starts_with('/') {
        return Some(format!("{scheme}://{auth}{location}"));
    }
    let path = base.path();
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    Some(format!("{scheme}://{auth}{dir}{location}"))
}

async fn send(
    shared: &Shared,
    unix: Option<&str>,
    req: Request<Full<Bytes>>,
) -> Result<Response<Incoming>, ErrorValue> {
    match unix {
        None => shared
            .client
            .pool()
            .request(req)
            .await
            .map_err(|e| network(format!("request failed: {}", error_chain(&e)))),
        Some(path) => {
            #[cfg(unix)]
            {
                let stream = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(|e| network(format!("cannot connect to {path}: {e}")))?;
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .map_err(|e| network(format!("handshake with {path} failed: {e}")))?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                sender
                    .send_request(req)
                    .await
                    .map_err(|e| network(format!("request failed: {e}")))
            }
            #[cfg(not(unix))]
            {
                let _ = req;
                Err(invalid(format!(
                    "unix_socket {path}: not supported on this system"
                )))
            }
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

async fn perform(shared: &Shared, r: OutgoingRequest) -> ExitResult {
    let mut url = r.url.clone();
    let mut method = Method::from_bytes(r.method.as_bytes())
        .map_err(|_| invalid(format!("invalid method {}", r.method)))?;
    let mut body = r.body.clone().map(Bytes::from);
    for _ in 0..=MAX_REDIRECTS {
        let uri: Uri = url
            .parse()
            .map_err(|e| invalid(format!("invalid URL {url:?}: {e}")))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(invalid(format!(
                    "{url}: https is not supported yet by starling's http_client"
                )));
            }
            _ => {
                return Err(invalid(format!(
                    "invalid URL {url:?}: expected http:// or https://"
                )));
            }
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(invalid(format!("invalid URL {url:?}: no host")));
        }
        let mut req = Request::new(Full::new(body.clone().unwrap_or_default()));
        *req.method_mut() = method.clone();
        *req.uri_mut() = uri.clone();
        for (k, v) in &r.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| invalid(format!("invalid header name {k:?}")))?;
            let value = HeaderValue::from_bytes(v)
                .map_err(|_| invalid(format!("invalid value for header {k}")))?;
            req.headers_mut().append(name, value);
        }
        if !req.headers().contains_key(USER_AGENT) {
            req.headers_mut().insert(
                USER_AGENT,
                HeaderValue::from_static("starling-http-client/1"),
            );
        }
        if r.unix_socket.is_some() && !req.headers().contains_key(hyper::header::HOST) {
            if let Some(auth) = uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            {
                req.headers_mut().insert(hyper::header::HOST, auth);
            }
        }
        let resp = send(shared, r.unix_socket.as_deref(), req).await?;
        let status = resp.status();
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            if let Some(next) = resp
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| resolve(&uri, l))
            {
                if status == StatusCode::SEE_OTHER
                    || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                        && method == Method::POST)
                {
                    method = Method::GET;
                    body = None;
                }
                url = next;
                continue;
            }
        }
        if r.stream {
            let (parts, incoming) = resp.into_parts();
            let id = shared.client.add(incoming);
            return Ok(response_table(
                &Response::from_parts(parts, ()),
                &url,
                Err(id),
            ));
        }
        let max = if r.max_response_body == 0 {
            DEFAULT_MAX_BODY
        } else {
            r.max_response_body
        };
        let (parts, mut incoming) = resp.into_parts();
        let mut bytes = Vec::new();
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|e| network(format!("reading the response failed: {e}")))?;
            if let Ok(data) = frame.into_data() {
                if (bytes.len() + data.len()) as u64 > max {
                    return Err(invalid(format!(
                        "response body larger than max_response_body ({max} bytes)"
                    )));
                }
                bytes.extend_from_slice(&data);
            }
        }
        let head = Response::from_parts(parts, ());
        return Ok(response_table(&head, &url, Ok(Bytes::from(bytes))));
    }
    Err(network(format!("stopped after {MAX_REDIRECTS} redirects")))
}

/// The response table of a finished request: head fields, and the body or its stream id.
fn response_table<B>(resp: &Response<B>, url: &str, body: Result<Bytes, u64>) -> Payload {
    let mut b = Builder { tables: Vec::new() };
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    let mut cookies: Vec<(Value, Value)> = Vec::new();
    for (k, v) in resp.headers() {
        if k == hyper::header::SET_COOKIE {
            if let Some((name, value)) = v
                .to_str()
                .ok()
                .and_then(|c| c.split(';').next())
                .and_then(|c| c.split_once('='))
            {
                cookies.push((s(name.trim()), s(value.trim())));
            }
        }
        let name = canonical(k.as_str());
        match headers.iter_mut().find(|(n, _)| *n == name) {
            Some((_, all)) => {
                all.extend_from_slice(b", ");
                all.extend_from_slice(v.as_bytes());
            }
            None => headers.push((name, v.as_bytes().to_vec())),
        }
    }
    let headers = b.table(headers.into_iter().map(|(k, v)| (s(k), s(v))).collect());
    let cookies = b.table(cookies);
    let mut fields = vec![
        (
            s("status_code"),
            Value::Int(i64::from(resp.status().as_u16())),
        ),
        (s("headers"), headers),
        (s("cookies"), cookies),
        (s("url"), s(url)),
    ];
    match body {
        Ok(bytes) => {
            fields.push((s("body_size"), Value::Int(bytes.len() as i64)));
            fields.push((s("body"), s(&bytes)));
        }
        Err(stream) => {
            fields.push((s("body_size"), Value::Int(-1)));
            fields.push((s("stream"), Value::Int(stream as i64)));
        }
    }
    let top = b.table(fields);
    Payload {
        values: vec![top],
        tables: b.tables,
    }
}

/// Starts a request; the outcome goes to `reply`.
pub(crate) fn fetch(shared: &Arc<Shared>, r: OutgoingRequest, reply: ReplyTo) {
    let handle = match shared.handle() {
        Ok(h) => h,
        Err(e) => return shared.wake(reply, Err(internal(format!("no HTTP runtime: {e}")))),
    };
    let shared = shared.clone();
    handle.spawn(async move {
        let timeout = r.timeout;
        let url = r.url.clone();
        let work = perform(&shared, r);
        let result = match timeout {
            Some(t) => tokio::time::timeout(t, work)
                .await
                .unwrap_or_else(|_| Err(network(format!("request to {url} timed out")))),
            None => work.await,
        };
        shared.wake(reply, result);
    });
}

/// Reads the next piece of a streamed body; `reply` gets a string, or nil at its end.
pub(crate) fn stream_read(shared: &Arc<Shared>, stream: u64, max: usize, reply: ReplyTo) {
    let body = {
        let mut streams = shared.client.streams.lock();
        match streams.get_mut(&stream) {
            Some(e) => {
                e.touched = Instant::now();
                e.body.clone()
            }
            None => {
                drop(streams);
                return shared.wake(reply, Ok(Payload::empty()));
            }
        }
    };
    let handle = match shared.handle() {
        Ok(h) => h,
        Err(e) => return shared.wake(reply, Err(internal(format!("no HTTP runtime: {e}")))),
    };
    let shared = shared.clone();
    handle.spawn(async move {
        let mut st = body.lock().await;
        let result = loop {
            if !st.left.is_empty() {
                let n = max.min(st.left.len());
                let piece = st.left.split_to(n);
                break Ok(Payload::one(Value::Str(piece[..].into())));
            }
            let Some(b) = st.body.as_mut() else {
                break Ok(Payload::empty());
            };
            match b.frame().await {
                None => st.body = None,
                Some(Err(e)) => {
                    st.body = None;
                    break Err(network(format!("reading the response failed: {e}")));
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        st.left = data;
                    }
                }
            }
        };
        let ended = st.body.is_none() && st.left.is_empty();
        drop(st);
        if ended {
            shared.client.close(stream);
        }
        shared.wake(reply, result);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_resolve() {
        let base: Uri = "http://h:8/a/b?x=1".parse().expect("uri");
        assert_eq!(resolve(&base, "/c").as_deref(), Some("http://h:8/c"));
        assert_eq!(resolve(&base, "c").as_deref(), Some("http://h:8/a/c"));
        assert_eq!(resolve(&base, "//o/p").as_deref(), Some("http://o/p"));
        assert_eq!(
            resolve(&base, "https://x/y").as_deref(),
            Some("https://x/y")
        );
        assert_eq!(canonical("content-type"), "Content-Type");
    }
}
