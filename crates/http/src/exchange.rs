//! One request being served by a Lua handler, and the response it builds
//! ([`starling_lua::services::http::Exchange`]).
//!
//! # Ordering
//! The handler's calls arrive from its worker thread, body reads complete on the HTTP
//! runtime's thread, and the end of the handler arrives on the worker that ran it: every
//! piece of state sits behind its own mutex, held only for bookkeeping, never across I/O.
//!
//! # Guarantees
//! - The head (status and headers) is sent exactly once: at the first flush, or when the
//!   handler ends, or never when the handler timed out or the client left first.
//! - A handler error before the head was sent becomes a 500; after it, a truncated body.
//! - A response buffered without flushing is capped at [`MAX_BUFFERED`] bytes.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{HeaderMap, Response, StatusCode};
use parking_lot::Mutex;
use serde_json::Value as Json;
use starling_core::{ErrorKind, ErrorValue, ExitResult, Level, Payload, Pid, ReplyTo, Value};
use starling_lua::services::http::{Exchange, Transfer};
use tokio::sync::{mpsc, oneshot};

use crate::body::{self, Body, Chunk, Flow};
use crate::runtime::Shared;

/// Most bytes a handler may write without flushing.
pub(crate) const MAX_BUFFERED: usize = 64 << 20;

/// The request body as the handler sees it.
pub(crate) enum BodyState {
    /// Received in full.
    Ready(Arc<[u8]>),
    /// Not read yet.
    Unread(Incoming),
    /// A whole-body read is in flight; these wait for it.
    Reading(Vec<ReplyTo>),
    /// Being read piece by piece (`req:stream()`).
    Streaming(Arc<tokio::sync::Mutex<Piecewise>>),
    /// Reading failed.
    Failed(ErrorValue),
}

/// A body read piece by piece.
pub(crate) struct Piecewise {
    body: Option<Incoming>,
    left: Bytes,
    read: u64,
    max: u64,
}

/// Where the response head stands.
enum Head {
    /// Not sent: the server waits on the other end.
    Pending(oneshot::Sender<Response<Body>>),
    /// Sent; the body streams through `tx`.
    Streaming {
        tx: mpsc::UnboundedSender<Chunk>,
        flow: Arc<Flow>,
    },
    /// The response is complete (or abandoned).
    Done,
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    transfer: Option<Transfer>,
    buf: Vec<u8>,
    head: Head,
}

/// One request and its response.
pub(crate) struct ExchangeImpl {
    shared: Arc<Shared>,
    pid: Pid,
    func: Arc<str>,
    parts: Parts,
    params: Vec<(String, String)>,
    remote: crate::middleware::Remote,
    max_body: u64,
    write_timeout: Option<Duration>,
    body: Mutex<BodyState>,
    /// Read position of `req:stream()` over a body that was received in full.
    cursor: Mutex<usize>,
    resp: Mutex<Resp>,
}

/// What [`ExchangeImpl::new`] is built from.
pub(crate) struct ExchangeParts {
    pub(crate) pid: Pid,
    pub(crate) func: Arc<str>,
    pub(crate) parts: Parts,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) remote: crate::middleware::Remote,
    pub(crate) max_body: u64,
    pub(crate) write_timeout: Option<Duration>,
    pub(crate) body: BodyState,
    pub(crate) respond: oneshot::Sender<Response<Body>>,
}

fn invalid(message: impl Into<String>) -> ErrorValue {
    ErrorValue::new(ErrorKind::Invalid, message)
}

fn headers_sent() -> ErrorValue {
    invalid("headers already sent")
}

/// Reads a whole body, at most `max` bytes, within `timeout`.
pub(crate) async fn collect(
    body: Incoming,
    max: u64,
    timeout: Option<Duration>,
) -> Result<Vec<u8>, ErrorValue> {
    let read = async move {
        let mut body = body;
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                ErrorValue::new(
                    ErrorKind::Internal,
                    format!("reading the request body failed: {e}"),
                )
            })?;
            if let Ok(data) = frame.into_data() {
                if (out.len() + data.len()) as u64 > max {
                    return Err(too_large(max));
                }
                out.extend_from_slice(&data);
            }
        }
        Ok(out)
    };
    match timeout {
        Some(t) => tokio::time::timeout(t, read).await.unwrap_or_else(|_| {
            Err(ErrorValue::new(
                ErrorKind::Internal,
                "request body read timeout",
            ))
        }),
        None => read.await,
    }
}

/// The error of a body over its limit.
pub(crate) fn too_large(max: u64) -> ErrorValue {
    invalid(format!("request body too large (limit {max} bytes)"))
}

/// A guess at the type of a body written without a `Content-Type`, as Go's server does.
fn sniff(body: &[u8]) -> &'static str {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let head = &body[start..body.len().min(start + 14)];
    let lower: Vec<u8> = head.iter().map(|b| b.to_ascii_lowercase()).collect();
    if lower.starts_with(b"<!doctype html") || lower.starts_with(b"<html") {
        "text/html; charset=utf-8"
    } else if std::str::from_utf8(body).is_ok() {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

impl ExchangeImpl {
    pub(crate) fn new(shared: Arc<Shared>, p: ExchangeParts) -> ExchangeImpl {
        ExchangeImpl {
            shared,
            pid: p.pid,
            func: p.func,
            parts: p.parts,
            params: p.params,
            remote: p.remote,
            max_body: p.max_body,
            write_timeout: p.write_timeout,
            body: Mutex::new(p.body),
            cursor: Mutex::new(0),
            resp: Mutex::new(Resp {
                status: StatusCode::OK,
                headers: HeaderMap::new(),
                transfer: None,
                buf: Vec::new(),
                head: Head::Pending(p.respond),
            }),
        }
    }

    /// The handler's pid.
    pub(crate) fn pid(&self) -> Pid {
        self.pid
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The whole body, read now if needed (for multipart forms).
    pub(crate) async fn whole_body(&self, timeout: Duration) -> Result<Arc<[u8]>, ErrorValue> {
        let incoming = {
            let mut state = self.body.lock();
            match std::mem::replace(&mut *state, BodyState::Reading(Vec::new())) {
                BodyState::Unread(b) => b,
                BodyState::Ready(b) => {
                    *state = BodyState::Ready(b.clone());
                    return Ok(b);
                }
                BodyState::Failed(e) => {
                    *state = BodyState::Failed(e.clone());
                    return Err(e);
                }
                other => {
                    *state = other;
                    return Err(invalid("the body is being read already"));
                }
            }
        };
        let got = collect(incoming, self.max_body, Some(timeout)).await;
        let mut state = self.body.lock();
        let waiters = match std::mem::replace(
            &mut *state,
            match &got {
                Ok(b) => BodyState::Ready(b.clone().into()),
                Err(e) => BodyState::Failed(e.clone()),
            },
        ) {
            BodyState::Reading(w) => w,
            _ => Vec::new(),
        };
        drop(state);
        for w in waiters {
            let result = match &got {
                Ok(b) => Ok(Payload::one(Value::Str(b[..].into()))),
                Err(e) => Err(e.clone()),
            };
            self.shared.wake(w, result);
        }
        got.map(Into::into)
    }

    /// The first value of a request header, as text.
    pub(crate) fn header_text(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The response head from what the handler set; `first` (the first bytes of the body,
    /// when there are some) decides a missing `Content-Type`.
    fn head_response(r: &mut Resp, body: Body, first: Option<&[u8]>) -> Response<Body> {
        let mut resp = Response::new(body);
        *resp.status_mut() = r.status;
        let mut headers = std::mem::take(&mut r.headers);
        if let Some(first) = first.filter(|b| !b.is_empty()) {
            if !headers.contains_key(CONTENT_TYPE) {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static(sniff(first)));
            }
        }
        *resp.headers_mut() = headers;
        resp
    }

    /// The handler ended with `result`: complete the response.
    pub(crate) fn finish(&self, result: ExitResult) {
        if let Err(e) = &result {
            // A handler killed because its client left is no failure of the handler.
            let level = if e.kind == ErrorKind::Canceled {
                Level::Debug
            } else {
                Level::Error
            };
            self.shared.log(
                level,
                "http handler failed",
                vec![
                    ("entry".into(), Json::from(&*self.func)),
                    ("method".into(), Json::from(self.parts.method.as_str())),
                    ("path".into(), Json::from(self.parts.uri.path())),
                    ("error".into(), Json::from(e.full_message())),
                ],
            );
        }
        let mut r = self.resp.lock();
        match std::mem::replace(&mut r.head, Head::Done) {
            Head::Pending(tx) => {
                let resp = match result {
                    Ok(_) => {
                        let buf = std::mem::take(&mut r.buf);
                        let mut resp = Self::head_response(&mut r, Body::Empty, Some(&buf));
                        *resp.body_mut() = Body::full(buf);
                        resp
                    }
                    Err(_) => crate::server::plain(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal server error\n",
                    ),
                };
                let _ = tx.send(resp);
            }
            Head::Streaming { tx, flow } => {
                flow.finished();
                if !r.buf.is_empty() {
                    let chunk = Bytes::from(std::mem::take(&mut r.buf));
                    flow.pushed(chunk.len());
                    let _ = tx.send(Chunk::Data(chunk));
                }
                if let Err(e) = result {
                    let _ = tx.send(Chunk::Fail(e.full_message()));
                }
            }
            Head::Done => {}
        }
    }

    /// Sends the head with a streamed body; the caller holds the lock.
    fn start_stream(&self, r: &mut Resp) -> Result<(), ErrorValue> {
        let Head::Pending(_) = &r.head else {
            return Ok(());
        };
        let (tx, flow, body) = body::stream(self.shared.clone(), self.pid);
        let first = std::mem::take(&mut r.buf);
        let resp = Self::head_response(r, body, Some(&first));
        r.buf = first;
        let Head::Pending(respond) = std::mem::replace(
            &mut r.head,
            Head::Streaming {
                tx,
                flow: flow.clone(),
            },
        ) else {
            unreachable!("checked above");
        };
        if respond.send(resp).is_err() {
            r.head = Head::Done;
            return Err(ErrorValue::new(ErrorKind::Internal, "client disconnected"));
        }
        Ok(())
    }
}

impl Exchange for ExchangeImpl {
    fn method(&self) -> &str {
        self.parts.method.as_str()
    }

    fn path(&self) -> &str {
        self.parts.uri.path()
    }

    fn query(&self) -> &str {
        self.parts.uri.query().unwrap_or("")
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn params(&self) -> Vec<(String, String)> {
        self.params.clone()
    }

    fn header(&self, name: &str) -> Vec<&[u8]> {
        self.parts
            .headers
            .get_all(name)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect()
    }

    fn headers(&self) -> Vec<(String, Vec<u8>)> {
        self.parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect()
    }

    fn remote_addr(&self) -> String {
        self.remote.text()
    }

    fn has_body(&self) -> bool {
        match &*self.body.lock() {
            BodyState::Ready(b) => !b.is_empty(),
            BodyState::Unread(b) => !hyper::body::Body::is_end_stream(b),
            BodyState::Failed(_) => false,
            BodyState::Reading(_) | BodyState::Streaming(_) => true,
        }
    }

    fn body_ready(&self) -> Option<Result<Arc<[u8]>, ErrorValue>> {
        match &*self.body.lock() {
            BodyState::Ready(b) => Some(Ok(b.clone())),
            BodyState::Failed(e) => Some(Err(e.clone())),
            BodyState::Streaming(_) => Some(Err(invalid(
                "the body is being read as a stream (req:stream())",
            ))),
            _ => None,
        }
    }

    fn read_body(&self, max: Option<u64>, timeout: Option<Duration>, reply: ReplyTo) {
        let max = max.unwrap_or(u64::MAX).min(self.max_body);
        let mut state = self.body.lock();
        let incoming = match std::mem::replace(&mut *state, BodyState::Reading(Vec::new())) {
            BodyState::Unread(b) => b,
            BodyState::Reading(mut waiters) => {
                waiters.push(reply);
                *state = BodyState::Reading(waiters);
                return;
            }
            other => {
                // Ready, Failed or Streaming: answer from what is known.
                *state = other;
                drop(state);
                let result = match self.body_ready() {
                    Some(Ok(b)) => Ok(Payload::one(Value::Str(b[..].into()))),
                    Some(Err(e)) => Err(e),
                    None => Err(ErrorValue::new(ErrorKind::Internal, "body unavailable")),
                };
                self.shared.wake(reply, result);
                return;
            }
        };
        *state = BodyState::Reading(vec![reply]);
        drop(state);
        let Some(ex) = self.shared.exchanges.get(self.pid.num) else {
            return;
        };
        let handle = match self.shared.handle() {
            Ok(h) => h,
            Err(e) => {
                let err = ErrorValue::new(ErrorKind::Internal, format!("no HTTP runtime: {e}"));
                *self.body.lock() = BodyState::Failed(err.clone());
                self.shared.wake(reply, Err(err));
                return;
            }
        };
        handle.spawn(async move {
            let got = collect(incoming, max, timeout).await;
            let waiters = {
                let mut state = ex.body.lock();
                let waiters = match std::mem::replace(&mut *state, BodyState::Reading(Vec::new())) {
                    BodyState::Reading(w) => w,
                    _ => Vec::new(),
                };
                *state = match &got {
                    Ok(b) => BodyState::Ready(b.clone().into()),
                    Err(e) => BodyState::Failed(e.clone()),
                };
                waiters
            };
            for w in waiters {
                let result = match &got {
                    Ok(b) => Ok(Payload::one(Value::Str(b[..].into()))),
                    Err(e) => Err(e.clone()),
                };
                ex.shared.wake(w, result);
            }
        });
    }

    fn read_chunk(&self, max: usize, reply: ReplyTo) {
        let mut state = self.body.lock();
        let reader = match &mut *state {
            BodyState::Ready(b) => {
                let b = b.clone();
                drop(state);
                let mut cursor = self.cursor.lock();
                let start = (*cursor).min(b.len());
                let end = (start + max).min(b.len());
                *cursor = end;
                let result = if start == end {
                    Ok(Payload::empty())
                } else {
                    Ok(Payload::one(Value::Str(b[start..end].into())))
                };
                self.shared.wake(reply, result);
                return;
            }
            BodyState::Failed(e) => {
                let e = e.clone();
                drop(state);
                self.shared.wake(reply, Err(e));
                return;
            }
            BodyState::Reading(_) => {
                drop(state);
                self.shared.wake(
                    reply,
                    Err(invalid("the body is being read in full (req:body())")),
                );
                return;
            }
            BodyState::Streaming(r) => r.clone(),
            BodyState::Unread(_) => {
                let BodyState::Unread(b) =
                    std::mem::replace(&mut *state, BodyState::Reading(Vec::new()))
                else {
                    unreachable!("matched above");
                };
                let r = Arc::new(tokio::sync::Mutex::new(Piecewise {
                    body: Some(b),
                    left: Bytes::new(),
                    read: 0,
                    max: self.max_body,
                }));
                *state = BodyState::Streaming(r.clone());
                r
            }
        };
        drop(state);
        let shared = self.shared.clone();
        let handle = match shared.handle() {
            Ok(h) => h,
            Err(e) => {
                shared.wake(
                    reply,
                    Err(ErrorValue::new(ErrorKind::Internal, e.to_string())),
                );
                return;
            }
        };
        handle.spawn(async move {
            let mut r = reader.lock().await;
            let result = loop {
                if !r.left.is_empty() {
                    let n = max.min(r.left.len());
                    let piece = r.left.split_to(n);
                    break Ok(Payload::one(Value::Str(piece[..].into())));
                }
                let Some(body) = r.body.as_mut() else {
                    break Ok(Payload::empty());
                };
                match body.frame().await {
                    None => {
                        r.body = None;
                    }
                    Some(Err(e)) => {
                        r.body = None;
                        break Err(ErrorValue::new(
                            ErrorKind::Internal,
                            format!("reading the request body failed: {e}"),
                        ));
                    }
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            r.read += data.len() as u64;
                            if r.read > r.max {
                                r.body = None;
                                break Err(too_large(r.max));
                            }
                            r.left = data;
                        }
                    }
                }
            };
            drop(r);
            shared.wake(reply, result);
        });
    }

    fn parse_multipart(&self, max_memory: u64, reply: ReplyTo) {
        crate::multipart::parse(self, max_memory, reply);
    }

    fn set_status(&self, code: u16) -> Result<(), ErrorValue> {
        let mut r = self.resp.lock();
        if !matches!(r.head, Head::Pending(_)) {
            return Err(headers_sent());
        }
        r.status = StatusCode::from_u16(code)
            .map_err(|_| invalid(format!("invalid status code {code}")))?;
        Ok(())
    }

    fn set_header(&self, name: &str, value: &[u8]) -> Result<(), ErrorValue> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid(format!("invalid header name {name:?}")))?;
        let value = HeaderValue::from_bytes(value)
            .map_err(|_| invalid(format!("invalid value for header {name}")))?;
        let mut r = self.resp.lock();
        if !matches!(r.head, Head::Pending(_)) {
            return Err(headers_sent());
        }
        r.headers.insert(name, value);
        Ok(())
    }

    fn response_header(&self, name: &str) -> Option<Vec<u8>> {
        self.resp
            .lock()
            .headers
            .get(name)
            .map(|v| v.as_bytes().to_vec())
    }

    fn set_transfer(&self, mode: Transfer) -> Result<(), ErrorValue> {
        let mut r = self.resp.lock();
        if r.transfer == Some(mode) {
            return Ok(());
        }
        if !matches!(r.head, Head::Pending(_)) {
            return Err(headers_sent());
        }
        r.transfer = Some(mode);
        if mode == Transfer::Sse {
            r.headers
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
            r.headers
                .entry(CACHE_CONTROL)
                .or_insert(HeaderValue::from_static("no-cache"));
        }
        Ok(())
    }

    fn write(&self, data: &[u8]) -> Result<(), ErrorValue> {
        let mut r = self.resp.lock();
        match &r.head {
            Head::Done => return Err(invalid("response already finished")),
            Head::Streaming { flow, .. } if flow.is_gone() => {
                return Err(ErrorValue::new(ErrorKind::Internal, "client disconnected"));
            }
            _ => {}
        }
        if r.buf.len() + data.len() > MAX_BUFFERED {
            return Err(ErrorValue::new(
                ErrorKind::Internal,
                format!(
                    "response buffer full ({MAX_BUFFERED} bytes): call res:flush() to stream large responses"
                ),
            ));
        }
        r.buf.extend_from_slice(data);
        Ok(())
    }

    fn flush(&self, wait: &mut dyn FnMut() -> Option<ReplyTo>) -> Result<bool, ErrorValue> {
        let mut r = self.resp.lock();
        self.start_stream(&mut r)?;
        let buf = std::mem::take(&mut r.buf);
        let flow = match &r.head {
            Head::Done => return Err(invalid("response already finished")),
            Head::Pending(_) => unreachable!("started above"),
            Head::Streaming { flow, .. } if flow.is_gone() => {
                return Err(ErrorValue::new(ErrorKind::Internal, "client disconnected"));
            }
            Head::Streaming { tx, flow } => {
                if !buf.is_empty() {
                    let chunk = Bytes::from(buf);
                    flow.pushed(chunk.len());
                    if tx.send(Chunk::Data(chunk)).is_err() {
                        return Err(ErrorValue::new(ErrorKind::Internal, "client disconnected"));
                    }
                }
                flow.clone()
            }
        };
        drop(r);
        if !flow.over() {
            return Ok(true);
        }
        let Some(reply) = wait() else {
            return Ok(true);
        };
        if !flow.wait(reply) {
            return Ok(true);
        }
        if let (Some(t), Ok(handle)) = (self.write_timeout, self.shared.handle()) {
            handle.spawn(async move {
                tokio::time::sleep(t).await;
                flow.give_up(reply);
            });
        }
        Ok(false)
    }
}
