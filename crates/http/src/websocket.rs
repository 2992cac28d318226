//! `websocket`: client connections (tokio-tungstenite), owned by the process that opened
//! them.
//!
//! # Guarantees
//! - Sends from one connection go out in call order (one writer lock per connection).
//! - Pings from the server are answered by the library; pongs and pings are not shown to Lua.
//! - A connection whose owner process has ended is closed within [`SWEEP`] (nothing else
//!   would ever read or close it).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use starling_core::{ErrorKind, ErrorValue, Payload, Pid, ReplyTo, Table, Value};
use starling_lua::services::http::{WsConnect, WsSend};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::runtime::Shared;

/// How often connections of ended processes are looked for.
const SWEEP: Duration = Duration::from_secs(5);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Sink = futures_util::stream::SplitSink<Ws, Message>;
type Source = futures_util::stream::SplitStream<Ws>;

struct Conn {
    owner: Pid,
    writer: tokio::sync::Mutex<Sink>,
    reader: tokio::sync::Mutex<Source>,
    read_timeout: Option<Duration>,
}

/// Open connections, by id.
#[derive(Default)]
pub(crate) struct WsClients {
    conns: Mutex<FxHashMap<u64, Arc<Conn>>>,
    next: AtomicU64,
    sweeping: std::sync::atomic::AtomicBool,
}

fn failed(message: impl Into<String>) -> ErrorValue {
    ErrorValue::new(ErrorKind::Internal, message).retryable(Some(true))
}

fn closed() -> ErrorValue {
    ErrorValue::new(
        ErrorKind::Internal,
        "invalid connection: the websocket is closed",
    )
}

fn get(shared: &Shared, id: u64) -> Option<Arc<Conn>> {
    shared.ws.conns.lock().get(&id).cloned()
}

fn spawn(
    shared: &Arc<Shared>,
    reply: ReplyTo,
    f: impl std::future::Future<Output = starling_core::ExitResult> + Send + 'static,
) {
    match shared.handle() {
        Ok(h) => {
            let shared = shared.clone();
            h.spawn(async move {
                let r = f.await;
                shared.wake(reply, r);
            });
        }
        Err(e) => shared.wake(reply, Err(failed(format!("no HTTP runtime: {e}")))),
    }
}

/// Closes the connections of processes that are gone.
fn start_sweeper(shared: &Arc<Shared>) {
    if shared.ws.sweeping.swap(true, Ordering::AcqRel) {
        return;
    }
    let Ok(h) = shared.handle() else { return };
    let weak = Arc::downgrade(shared);
    h.spawn(async move {
        loop {
            tokio::time::sleep(SWEEP).await;
            let Some(shared) = weak.upgrade() else { return };
            let node = shared.node().clone();
            let dead: Vec<Arc<Conn>> = {
                let mut conns = shared.ws.conns.lock();
                let ids: Vec<u64> = conns
                    .iter()
                    .filter(|(_, c)| !node.is_alive(c.owner))
                    .map(|(id, _)| *id)
                    .collect();
                ids.iter().filter_map(|id| conns.remove(id)).collect()
            };
            for c in dead {
                let _ = c.writer.lock().await.close().await;
            }
        }
    });
}

pub(crate) fn connect(shared: &Arc<Shared>, r: WsConnect, reply: ReplyTo) {
    let s = shared.clone();
    spawn(shared, reply, async move {
        if r.url.to_ascii_lowercase().starts_with("wss://") {
            return Err(ErrorValue::new(
                ErrorKind::Invalid,
                format!(
                    "{}: wss:// is not supported yet by starling's websocket client",
                    r.url
                ),
            ));
        }
        let mut req = r.url.as_str().into_client_request().map_err(|e| {
            ErrorValue::new(ErrorKind::Invalid, format!("invalid URL {}: {e}", r.url))
        })?;
        for (k, v) in &r.headers {
            let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| {
                ErrorValue::new(ErrorKind::Invalid, format!("invalid header name {k:?}"))
            })?;
            let value = HeaderValue::from_str(v).map_err(|_| {
                ErrorValue::new(ErrorKind::Invalid, format!("invalid value for header {k}"))
            })?;
            req.headers_mut().insert(name, value);
        }
        if !r.protocols.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&r.protocols.join(", ")) {
                req.headers_mut().insert("sec-websocket-protocol", v);
            }
        }
        let mut config = WebSocketConfig::default();
        if let Some(limit) = r.read_limit {
            config = config
                .max_message_size(Some(limit))
                .max_frame_size(Some(limit));
        }
        let dial = tokio_tungstenite::connect_async_with_config(req, Some(config), true);
        let (ws, _resp) = match r.dial_timeout {
            Some(t) => tokio::time::timeout(t, dial)
                .await
                .map_err(|_| failed(format!("connecting to {} timed out", r.url)))?,
            None => dial.await,
        }
        .map_err(|e| failed(format!("cannot connect to {}: {e}", r.url)))?;
        let (writer, reader) = ws.split();
        let id = s.ws.next.fetch_add(1, Ordering::Relaxed) + 1;
        s.ws.conns.lock().insert(
            id,
            Arc::new(Conn {
                owner: reply.pid,
                writer: tokio::sync::Mutex::new(writer),
                reader: tokio::sync::Mutex::new(reader),
                read_timeout: r.read_timeout,
            }),
        );
        start_sweeper(&s);
        Ok(Payload::one(Value::Int(id as i64)))
    });
}

pub(crate) fn send(shared: &Arc<Shared>, conn: u64, data: Vec<u8>, kind: WsSend, reply: ReplyTo) {
    let Some(c) = get(shared, conn) else {
        return shared.wake(reply, Err(closed()));
    };
    spawn(shared, reply, async move {
        let msg = match kind {
            WsSend::Text => match String::from_utf8(data) {
                Ok(s) => Message::Text(Utf8Bytes::from(s)),
                Err(_) => {
                    return Err(ErrorValue::new(
                        ErrorKind::Invalid,
                        "a text message must be UTF-8 (send it as websocket.BINARY)",
                    ));
                }
            },
            WsSend::Binary => Message::Binary(Bytes::from(data)),
            WsSend::Ping => Message::Ping(Bytes::new()),
        };
        c.writer
            .lock()
            .await
            .send(msg)
            .await
            .map_err(|e| failed(format!("send failed: {e}")))?;
        Ok(Payload::one(Value::Bool(true)))
    });
}

fn message_table(kind: &str, data: &[u8]) -> Payload {
    Payload {
        values: vec![Value::Table(0)],
        tables: vec![Table {
            array: Vec::new(),
            hash: vec![
                (Value::str("type"), Value::str(kind)),
                (Value::str("data"), Value::Str(data.into())),
            ],
        }],
    }
}

pub(crate) fn recv(shared: &Arc<Shared>, conn: u64, reply: ReplyTo) {
    let Some(c) = get(shared, conn) else {
        return shared.wake(reply, Ok(Payload::empty()));
    };
    let s = shared.clone();
    spawn(shared, reply, async move {
        let mut reader = c.reader.lock().await;
        loop {
            let next = match c.read_timeout {
                Some(t) => match tokio::time::timeout(t, reader.next()).await {
                    Ok(n) => n,
                    Err(_) => return Err(failed("read timeout")),
                },
                None => reader.next().await,
            };
            match next {
                Some(Ok(Message::Text(t))) => return Ok(message_table("text", t.as_bytes())),
                Some(Ok(Message::Binary(b))) => return Ok(message_table("binary", &b)),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Close(_))) | None => {
                    s.ws.conns.lock().remove(&conn);
                    return Ok(Payload::empty());
                }
                Some(Err(e)) => {
                    s.ws.conns.lock().remove(&conn);
                    return Err(failed(format!("receive failed: {e}")));
                }
            }
        }
    });
}

pub(crate) fn close(shared: &Arc<Shared>, conn: u64, code: u16, reason: String, reply: ReplyTo) {
    let Some(c) = shared.ws.conns.lock().remove(&conn) else {
        return shared.wake(reply, Ok(Payload::one(Value::Bool(true))));
    };
    spawn(shared, reply, async move {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: Utf8Bytes::from(reason),
        };
        let mut w = c.writer.lock().await;
        let _ = w.send(Message::Close(Some(frame))).await;
        let _ = w.close().await;
        Ok(Payload::one(Value::Bool(true)))
    });
}
