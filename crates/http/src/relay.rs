//! `websocket_relay` and `sse_relay` (post-match middleware): a handler names a target process
//! in an `X-WS-Relay` / `X-SSE-Relay` response header (JSON), and the connection becomes a
//! pid of its own that relays between the client and that process.
//!
//! ```text
//! client ──frame──► relay (client pid) ──message_topic──► target process
//! client ◄─frame─── relay ◄──── any topic (process.send(client_pid, ...)) ──── anyone
//! ```
//!
//! - On connect the target gets `ws.join` / `sse.join` `{client_pid, metadata}`, every
//!   `heartbeat_interval` a `*.heartbeat`, and on disconnect a `*.leave`.
//! - The relay monitors the target: when it ends, the connection closes (SSE clients get a
//!   `done` event first).
//! - `ws.close` / `sse.close` sent to the client pid close it; `ws.control` / `sse.control`
//!   change the target, topic or timeouts.
//! - WebSocket: each message to the client is one text frame `{"topic": ..., "data": ...}`;
//!   client frames reach the target as strings (text or binary bytes) from the client pid.
//! - SSE: only messages on `message_topic` are sent, as events named by their topic; without
//!   a target the client first gets a `ready` event with its `stream_pid`.
//! - Origins: `wsrelay.allowed.origins` / `sserelay.allowed.origins` (comma-separated,
//!   `*.example.com` wildcards); without it, browsers may only connect from the same origin.
//!
//! Client pids are external receivers: they can be sent to, and they monitor their target,
//! but they cannot themselves be monitored or linked.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::http::request::Parts;
use hyper::upgrade::OnUpgrade;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value as Json, json};
use starling_core::{Envelope, EventKind, HostId, Level, Message as Msg, Payload, Pid, RelationOp};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};

use crate::body::Body;
use crate::runtime::Shared;
use crate::server::plain;

/// Which relay a router's post-match middleware asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    WebSocket,
    Sse,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::WebSocket => "ws",
            Kind::Sse => "sse",
        }
    }
}

/// A relay middleware with its allowed origins.
#[derive(Debug, Clone)]
pub(crate) struct Relay {
    pub(crate) kind: Kind,
    origins: Vec<String>,
}

/// The relay configuration a handler gives in its response header.
#[derive(Debug, Clone)]
struct Config {
    target: Option<Pid>,
    topic: String,
    heartbeat: Duration,
    idle: Option<Duration>,
    hard: Option<Duration>,
    metadata: Json,
}

fn duration(v: Option<&Json>) -> Option<Duration> {
    let s = v?.as_str()?;
    let ns = starling_entry::parse_go_duration(s).ok()?;
    (ns > 0).then(|| Duration::from_nanos(ns as u64))
}

impl Relay {
    pub(crate) fn new(kind: Kind, origins: Vec<String>) -> Relay {
        Relay {
            kind,
            origins: origins
                .into_iter()
                .map(|o| o.to_ascii_lowercase())
                .collect(),
        }
    }

    /// The response header that asks for this relay.
    pub(crate) fn header(&self) -> &'static str {
        match self.kind {
            Kind::WebSocket => "x-ws-relay",
            Kind::Sse => "x-sse-relay",
        }
    }

    fn origin_ok(&self, parts: &Parts) -> bool {
        let Some(origin) = parts
            .headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
        else {
            return true; // not a browser
        };
        let origin = origin.to_ascii_lowercase();
        if self.origins.is_empty() {
            let host = parts
                .headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_ascii_lowercase();
            return origin
                .split_once("://")
                .is_some_and(|(_, rest)| rest == host);
        }
        self.origins.iter().any(|o| {
            o == "*"
                || *o == origin
                || o.split_once("*.").is_some_and(|(scheme, domain)| {
                    origin.starts_with(scheme) && origin.ends_with(&format!(".{domain}"))
                })
        })
    }

    fn config(&self, shared: &Shared, text: &str) -> Result<Config, String> {
        let v: Json =
            serde_json::from_str(text).map_err(|e| format!("invalid relay config: {e}"))?;
        let node = shared.node();
        let target = match v.get("target_pid").and_then(Json::as_str) {
            None | Some("") => None,
            Some(p) => Some(
                node.parse_pid(p)
                    .map_err(|_| format!("invalid target_pid {p:?}"))?,
            ),
        };
        if target.is_none() && self.kind == Kind::WebSocket {
            return Err("target_pid is required".into());
        }
        Ok(Config {
            target,
            topic: v
                .get("message_topic")
                .and_then(Json::as_str)
                .filter(|t| !t.is_empty())
                .unwrap_or(if self.kind == Kind::WebSocket {
                    "ws.message"
                } else {
                    "sse.message"
                })
                .to_owned(),
            heartbeat: duration(v.get("heartbeat_interval")).unwrap_or(Duration::from_secs(30)),
            idle: duration(v.get("idle_timeout")),
            hard: duration(v.get("hard_timeout")),
            metadata: v.get("metadata").cloned().unwrap_or(Json::Null),
        })
    }

    /// Turns a handler's response that carries the relay header into the relay; other
    /// responses pass unchanged.
    pub(crate) fn take_over(
        &self,
        shared: &Arc<Shared>,
        host: HostId,
        parts: &Parts,
        upgrade: Option<OnUpgrade>,
        resp: Response<Body>,
    ) -> Response<Body> {
        let Some(text) = resp
            .headers()
            .get(self.header())
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
        else {
            return resp;
        };
        if !self.origin_ok(parts) {
            return plain(StatusCode::FORBIDDEN, "origin not allowed\n");
        }
        let cfg = match self.config(shared, &text) {
            Ok(c) => c,
            Err(e) => {
                shared.log(
                    Level::Warn,
                    &format!("{} relay refused: {e}", self.kind.prefix()),
                    Vec::new(),
                );
                return plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "invalid relay configuration\n",
                );
            }
        };
        match self.kind {
            Kind::WebSocket => websocket(shared, host, parts, upgrade, cfg),
            Kind::Sse => sse(shared, host, cfg),
        }
    }
}

/// The client side of a relay: its pid and what reaches it.
struct Endpoint {
    shared: Arc<Shared>,
    pid: Pid,
    rx: mpsc::UnboundedReceiver<Envelope>,
    target: Option<Pid>,
    prefix: &'static str,
    metadata: Json,
}

impl Endpoint {
    fn open(shared: &Arc<Shared>, host: HostId, prefix: &'static str, metadata: Json) -> Endpoint {
        let (tx, rx) = mpsc::unbounded_channel();
        let pid = shared.node().register_external(
            host,
            Arc::new(move |env| {
                let _ = tx.send(env);
            }),
        );
        Endpoint {
            shared: shared.clone(),
            pid,
            rx,
            target: None,
            prefix,
            metadata,
        }
    }

    fn send(&self, to: Pid, topic: &str, payload: Payload) -> bool {
        let msg = Msg {
            from: Some(self.pid),
            topic: topic.into(),
            payload: payload.into(),
        };
        self.shared
            .node()
            .post(to, |slot| Envelope::Message { to, slot, msg })
    }

    fn notice(&self, what: &str, extra: Json) {
        let Some(t) = self.target else { return };
        let mut v = json!({
            "client_pid": self.shared.node().format_pid(self.pid),
            "metadata": self.metadata,
        });
        if let (Json::Object(m), Json::Object(e)) = (&mut v, extra) {
            m.extend(e);
        }
        if let Ok(p) = starling_core::to_payload(&v) {
            self.send(t, &format!("{}.{what}", self.prefix), p);
        }
    }

    /// Starts watching `target` (and tells it we joined); `false` when it is gone.
    fn attach(&mut self, target: Pid) -> bool {
        let me = self.pid;
        let alive = self.shared.node().post(target, |slot| Envelope::Relation {
            to: target,
            slot,
            other: me,
            op: RelationOp::Monitor,
        });
        if alive {
            self.target = Some(target);
            self.notice("join", json!({}));
        }
        alive
    }

    /// Tells `target` we left and stops watching it.
    fn leave(&self, target: Pid) {
        let v = json!({
            "client_pid": self.shared.node().format_pid(self.pid),
            "metadata": self.metadata,
        });
        if let Ok(p) = starling_core::to_payload(&v) {
            self.send(target, &format!("{}.leave", self.prefix), p);
        }
        let me = self.pid;
        self.shared.node().post(target, |slot| Envelope::Relation {
            to: target,
            slot,
            other: me,
            op: RelationOp::Demonitor,
        });
    }

    fn detach(&mut self) {
        if let Some(t) = self.target.take() {
            self.leave(t);
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.detach();
        self.shared.node().unregister_external(self.pid);
    }
}

/// The JSON of a message's payload (one value as is, several as an array).
fn payload_json(p: &Payload) -> Json {
    let values: Vec<Json> = (0..p.values.len())
        .map(|i| {
            let one = Payload {
                values: vec![p.values[i].clone()],
                tables: p.tables.clone(),
            };
            starling_core::from_payload::<Json>(&one).unwrap_or(Json::Null)
        })
        .collect();
    match values.len() {
        0 => Json::Null,
        1 => values.into_iter().next().expect("one value"),
        _ => Json::Array(values),
    }
}

fn payload_text(p: &Payload) -> String {
    match p.values.first() {
        Some(starling_core::Value::Str(s)) => String::from_utf8_lossy(s).into_owned(),
        _ => String::new(),
    }
}

/// Applies a `*.control` message: a new target, topic or timeouts.
fn control(ep: &mut Endpoint, cfg: &mut Config, p: &Payload) {
    let v = payload_json(p);
    if let Some(t) = v
        .get("message_topic")
        .and_then(Json::as_str)
        .filter(|t| !t.is_empty())
    {
        cfg.topic = t.to_owned();
    }
    if let Some(d) = duration(v.get("heartbeat_interval")) {
        cfg.heartbeat = d;
    }
    if let Some(d) = duration(v.get("idle_timeout")) {
        cfg.idle = Some(d);
    }
    if let Some(t) = v.get("target_pid").and_then(Json::as_str) {
        let new = if t.is_empty() {
            None
        } else {
            ep.shared.node().parse_pid(t).ok()
        };
        if new != ep.target {
            // Join the new target first, then leave the old one (as Wippy does).
            let old = ep.target.take();
            if let Some(n) = new {
                ep.attach(n);
            }
            if let Some(o) = old {
                ep.leave(o);
            }
        }
    }
}

fn websocket(
    shared: &Arc<Shared>,
    host: HostId,
    parts: &Parts,
    upgrade: Option<OnUpgrade>,
    mut cfg: Config,
) -> Response<Body> {
    let key = parts
        .headers
        .get("sec-websocket-key")
        .map(|k| k.as_bytes().to_vec());
    let is_upgrade = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let (Some(key), Some(upgrade), true) = (key, upgrade, is_upgrade) else {
        return plain(StatusCode::BAD_REQUEST, "websocket upgrade expected\n");
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(&key);
    let shared = shared.clone();
    tokio::spawn(async move {
        let Ok(io) = upgrade.await else { return };
        let mut ws = WebSocketStream::from_raw_socket(TokioIo::new(io), Role::Server, None).await;
        let mut ep = Endpoint::open(&shared, host, "ws", cfg.metadata.clone());
        let Some(target) = cfg.target else { return };
        if !ep.attach(target) {
            let _ = ws
                .close(Some(CloseFrame {
                    code: CloseCode::Error,
                    reason: "target process not found".into(),
                }))
                .await;
            return;
        }
        use futures_util::{SinkExt, StreamExt};
        let started = Instant::now();
        let mut count: u64 = 0;
        let mut beat =
            tokio::time::interval_at(tokio::time::Instant::now() + cfg.heartbeat, cfg.heartbeat);
        let close = |reason: &str, code: CloseCode| {
            Message::Close(Some(CloseFrame {
                code,
                reason: reason.to_owned().into(),
            }))
        };
        loop {
            tokio::select! {
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(t))) => {
                        count += 1;
                        if let Some(t2) = ep.target {
                            ep.send(t2, &cfg.topic, Payload::one(starling_core::Value::Str(t.as_bytes().into())));
                        }
                    }
                    Some(Ok(Message::Binary(b))) => {
                        count += 1;
                        if let Some(t2) = ep.target {
                            ep.send(t2, &cfg.topic, Payload::one(starling_core::Value::Str(b.to_vec().into())));
                        }
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                },
                env = ep.rx.recv() => match env {
                    Some(Envelope::Message { msg, .. }) => match &*msg.topic {
                        "ws.close" => {
                            let _ = ws.send(close(&payload_text(&msg.payload.to_payload()), CloseCode::Normal)).await;
                            break;
                        }
                        "ws.control" => control(&mut ep, &mut cfg, &msg.payload.to_payload()),
                        topic => {
                            let text = json!({"topic": topic, "data": payload_json(&msg.payload.to_payload())}).to_string();
                            if ws.send(Message::Text(text.into())).await.is_err() {
                                break;
                            }
                        }
                    },
                    Some(Envelope::Event { event, .. }) if event.kind == EventKind::Exit && Some(event.from) == ep.target => {
                        ep.target = None;
                        let _ = ws.send(close("target process exited", CloseCode::Away)).await;
                        break;
                    }
                    Some(_) => {}
                    None => break,
                },
                _ = beat.tick() => {
                    ep.notice("heartbeat", json!({
                        "uptime": started.elapsed().as_secs(),
                        "message_count": count,
                    }));
                }
            }
        }
        let _ = ws.close(None).await;
        drop(ep);
    });
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert("sec-websocket-accept", v);
    }
    resp
}

fn sse_event(name: &str, data: &Json) -> Bytes {
    let name = name.replace(['\n', '\r'], " ");
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

fn sse(shared: &Arc<Shared>, host: HostId, mut cfg: Config) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let mut ep = Endpoint::open(shared, host, "sse", cfg.metadata.clone());
    tokio::spawn(async move {
        let started = Instant::now();
        let mut count: u64 = 0;
        match cfg.target {
            Some(t) => {
                if !ep.attach(t) {
                    let _ = tx
                        .send(sse_event(
                            "done",
                            &json!({"reason": "target process not found"}),
                        ))
                        .await;
                    return;
                }
            }
            None => {
                let ready = json!({
                    "stream_pid": ep.shared.node().format_pid(ep.pid),
                    "message_topic": cfg.topic,
                });
                if tx.send(sse_event("ready", &ready)).await.is_err() {
                    return;
                }
            }
        }
        let hard = cfg.hard.map(|h| tokio::time::Instant::now() + h);
        let mut last = tokio::time::Instant::now();
        let mut beat =
            tokio::time::interval_at(tokio::time::Instant::now() + cfg.heartbeat, cfg.heartbeat);
        loop {
            let idle_at = cfg.idle.map(|i| last + i);
            let deadline = match (idle_at, hard) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                env = ep.rx.recv() => match env {
                    Some(Envelope::Message { msg, .. }) => match &*msg.topic {
                        "sse.close" => break,
                        "sse.control" => control(&mut ep, &mut cfg, &msg.payload.to_payload()),
                        topic if topic == cfg.topic => {
                            count += 1;
                            last = tokio::time::Instant::now();
                            if tx.send(sse_event(topic, &payload_json(&msg.payload.to_payload()))).await.is_err() {
                                break;
                            }
                        }
                        _ => {}
                    },
                    Some(Envelope::Event { event, .. }) if event.kind == EventKind::Exit && Some(event.from) == ep.target => {
                        ep.target = None;
                        let _ = tx.send(sse_event("done", &json!({"reason": "target process exited"}))).await;
                        break;
                    }
                    Some(_) => {}
                    None => break,
                },
                _ = beat.tick() => {
                    ep.notice("heartbeat", json!({
                        "uptime": started.elapsed().as_secs(),
                        "message_count": count,
                    }));
                    // A comment line keeps proxies from closing a quiet stream, and tells us
                    // when the client is gone.
                    if tx.send(Bytes::from_static(b": ping\n\n")).await.is_err() {
                        break;
                    }
                }
                () = sleep => break,
                () = tx.closed() => break,
            }
        }
        drop(ep);
    });
    let mut resp = Response::new(Body::Channel(rx));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
