//! What the `http`, `http_client` and `websocket` modules need from the host's HTTP side.
//!
//! The host's HTTP crate implements these; this crate never sees a socket or an HTTP type.
//! Calls that cannot finish at once take a [`ReplyTo`] and answer it later with an
//! [`starling_core::Envelope::Wake`] (the coroutine that asked resumes with the payload's first
//! value, or `nil, err`).
//!
//! Who calls whom, for one request served by a Lua handler:
//!
//! ```text
//! server (HTTP crate)          worker (this crate)
//!   exchange registered under the handler's pid
//!   spawn function.lua ──────► handler runs: http.request()/http.response()
//!                              ──► Http::exchange(pid) ──► Exchange methods
//!   Wake (exit_to) ◄────────── handler returns
//!   response finished from what the Exchange holds
//! ```

use std::sync::Arc;
use std::time::Duration;

use starling_core::{ErrorValue, Pid, ReplyTo};

/// The host's HTTP server and client.
pub trait Http: Send + Sync {
    /// The request served by the function process `pid`, if it is an HTTP handler.
    fn exchange(&self, pid: Pid) -> Option<Arc<dyn Exchange>>;

    /// Starts an outgoing request. `reply` gets one table: `status_code`, `headers`, `body`,
    /// `body_size`, `url`, `cookies`, and for a streamed response `stream` (an id for
    /// [`Http::stream_read`]) instead of `body`; or an error.
    fn fetch(&self, request: OutgoingRequest, reply: ReplyTo);

    /// Reads up to `max` bytes of the streamed body `stream`; `reply` gets a string, or nil
    /// at its end.
    fn stream_read(&self, stream: u64, max: usize, reply: ReplyTo);

    /// Drops a streamed body (idempotent).
    fn stream_close(&self, stream: u64);

    /// Opens a WebSocket client connection; `reply` gets the connection id (a number).
    fn ws_connect(&self, request: WsConnect, reply: ReplyTo);

    /// Sends one message (`binary` or text, or a ping when `ping`); `reply` gets `true`.
    fn ws_send(&self, conn: u64, data: Vec<u8>, kind: WsSend, reply: ReplyTo);

    /// Waits for the next message; `reply` gets `{type = "text"|"binary", data = ...}`, or
    /// nil once the connection is closed.
    fn ws_recv(&self, conn: u64, reply: ReplyTo);

    /// Sends a close frame and drops the connection; `reply` gets `true`.
    fn ws_close(&self, conn: u64, code: u16, reason: String, reply: ReplyTo);
}

/// What a [`Http::ws_send`] sends.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum WsSend {
    /// A text frame.
    Text,
    /// A binary frame.
    Binary,
    /// A ping.
    Ping,
}

/// `websocket.connect(url, options)`.
#[derive(Debug, Clone, Default)]
pub struct WsConnect {
    /// `ws://` or `wss://` URL.
    pub url: String,
    /// Handshake headers.
    pub headers: Vec<(String, String)>,
    /// Subprotocols offered.
    pub protocols: Vec<String>,
    /// Bound on the handshake.
    pub dial_timeout: Option<Duration>,
    /// Bound on each wait for a message.
    pub read_timeout: Option<Duration>,
    /// Largest message accepted.
    pub read_limit: Option<usize>,
}

/// An outgoing request (`http_client`).
#[derive(Debug, Clone, Default)]
pub struct OutgoingRequest {
    /// Method, uppercase.
    pub method: String,
    /// Absolute `http://` or `https://` URL, query included.
    pub url: String,
    /// Header lines in order (a name may repeat).
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
    /// Bound on the whole exchange (connect, send, receive the head and, unless streamed,
    /// the body).
    pub timeout: Option<Duration>,
    /// Return the body as a stream instead of reading it.
    pub stream: bool,
    /// Largest body read into memory (0 = the default).
    pub max_response_body: u64,
    /// Connect through this Unix socket instead of the URL's host.
    pub unix_socket: Option<String>,
}

/// The transfer mode of a response (`res:set_transfer`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Transfer {
    /// Send the body in chunks as the handler flushes.
    Chunked,
    /// Server-sent events: `text/event-stream`, each event flushed.
    Sse,
}

/// One request being served and the response being built for it.
///
/// # Guarantees
/// - Reading the request never blocks the worker: methods either answer from what is held or
///   take a [`ReplyTo`].
/// - The response head (status and headers) can change until the first flush; after that the
///   setters fail with an INVALID error.
/// - What the handler wrote is sent when it flushes or, at the latest, when it ends.
pub trait Exchange: Send + Sync {
    /// The method (`GET`).
    fn method(&self) -> &str;
    /// The path, without the query (`/users/7`).
    fn path(&self) -> &str;
    /// The raw query string, without `?` (empty when there is none).
    fn query(&self) -> &str;
    /// The value of a path parameter of the matched route.
    fn param(&self, name: &str) -> Option<&str>;
    /// Every path parameter, in pattern order.
    fn params(&self) -> Vec<(String, String)>;
    /// Every value of a request header (case-insensitive name), in order.
    fn header(&self, name: &str) -> Vec<&[u8]>;
    /// Every header line, names lowercase, in order.
    fn headers(&self) -> Vec<(String, Vec<u8>)>;
    /// The client address (`ip:port`), after `real_ip` middleware if configured.
    fn remote_addr(&self) -> String;
    /// True when the request has (or may have) a body.
    fn has_body(&self) -> bool;
    /// The whole body when it has been received already.
    fn body_ready(&self) -> Option<Result<Arc<[u8]>, ErrorValue>>;
    /// Receives the whole body (at most `max` bytes, within `timeout`); `reply` gets it as a
    /// string, or an error (INVALID when too large, INTERNAL on a timeout or a broken client).
    fn read_body(&self, max: Option<u64>, timeout: Option<Duration>, reply: ReplyTo);
    /// Receives the next piece of the body, at most `max` bytes; `reply` gets a string, or
    /// nil at the end.
    fn read_chunk(&self, max: usize, reply: ReplyTo);
    /// Parses a `multipart/form-data` body (read first if needed); `reply` gets
    /// `{values = {name = value}, files = {name = {{filename, size, content_type, headers,
    /// data}}}}`, or an error.
    fn parse_multipart(&self, max_memory: u64, reply: ReplyTo);

    /// Sets the status code.
    fn set_status(&self, code: u16) -> Result<(), ErrorValue>;
    /// Sets (replaces) a response header.
    fn set_header(&self, name: &str, value: &[u8]) -> Result<(), ErrorValue>;
    /// The response header `name` as set so far.
    fn response_header(&self, name: &str) -> Option<Vec<u8>>;
    /// Sets the transfer mode.
    fn set_transfer(&self, mode: Transfer) -> Result<(), ErrorValue>;
    /// Appends to the response body.
    fn write(&self, data: &[u8]) -> Result<(), ErrorValue>;
    /// Sends the head and what was written so far. `Ok(true)` when done; `Ok(false)` when the
    /// client is slow: then `wait` was called for a [`ReplyTo`] that gets `true` once sent.
    /// When `wait` has none to give, a slow client makes it wait for nothing (the data stays
    /// queued).
    fn flush(&self, wait: &mut dyn FnMut() -> Option<ReplyTo>) -> Result<bool, ErrorValue>;
}
