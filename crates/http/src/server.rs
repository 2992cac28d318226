//! One `http.service`: the listener, its connections and the routing of each request.
//!
//! # Guarantees
//! - Malformed requests get 400, request heads over `limits.max_header_bytes` get 431 (both
//!   sent by the HTTP library, then the connection closes), bodies over `limits.max_body`
//!   get 413, bodies slower than `timeouts.read` get 408; each leaves a log line. A client
//!   that does not finish its request head within `timeouts.read` (or stays idle between
//!   requests longer than that or `timeouts.idle`) is disconnected.
//! - At most `limits.max_connections` connections are open; more wait in the OS backlog.
//! - Every connection runs on its own task: a slow client or handler holds up nobody else.
//!
//! # Shutdown
//! [`Server::stop`] closes the listener at once (new connections are refused), lets requests
//! in flight finish and keep-alive connections close after their current response, and after
//! the stop timeout drops whatever is left (their handlers are killed).

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdListener, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use serde_json::Value as Json;
use starling_core::{HostId, Level, Pid};
use starling_entry::{EntryId, Project};
use tokio::sync::watch;

use crate::body::Body;
use crate::dispatch::{self, Call, Target};
use crate::error::HttpError;
use crate::exchange::{BodyState, collect};
use crate::middleware::ReqCtx;
use crate::routes::{self, Found, Routes, split_path};
use crate::runtime::{HttpRuntime, Shared};

/// Bodies announced up to this size are read before the handler starts (most requests fit,
/// and the handler then never waits for its body).
const PREFETCH: u64 = 64 << 10;

/// A plain-text response.
pub(crate) fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::full(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

struct ServerState {
    shared: Arc<Shared>,
    id: String,
    routes: Routes,
    target: Target,
    read_timeout: Option<Duration>,
    header_timeout: Option<Duration>,
    max_header_bytes: usize,
}

/// A running `http.service`.
pub struct Server {
    id: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    external: Pid,
    stop: watch::Sender<Option<Instant>>,
    done: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    stop_timeout: Duration,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("id", &self.id)
            .field("addr", &self.addr)
            .finish()
    }
}

impl Server {
    /// The address the listener is bound to (with the real port when `addr` asked for 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The entry id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The server's `lifecycle.stop_timeout`.
    pub fn stop_timeout(&self) -> Duration {
        self.stop_timeout
    }

    /// Stops accepting, waits up to `grace` for requests in flight, then drops the rest.
    /// Blocks the calling thread; idempotent.
    pub fn stop(&self, grace: Duration) {
        let Some(done) = self.done.lock().take() else {
            return;
        };
        let _ = self.stop.send(Some(Instant::now() + grace));
        let _ = done.recv_timeout(grace + Duration::from_secs(1));
        self.shared.node().unregister_external(self.external);
        self.shared.log(
            Level::Info,
            &format!("service {} stopped", self.id),
            Vec::new(),
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.send(Some(Instant::now()));
    }
}

fn bind(host: &str, port: u16) -> std::io::Result<StdListener> {
    if host.is_empty() {
        // Every interface, IPv6 and IPv4 where the system allows (Go's ":port").
        return StdListener::bind(("::", port)).or_else(|_| StdListener::bind(("0.0.0.0", port)));
    }
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    let mut last = None;
    for a in addrs {
        match StdListener::bind(a) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other(format!("{host} has no address"))))
}

impl HttpRuntime {
    /// Starts the `http.service` entry `id`, whose handlers run on `host` (a running host of
    /// the node, usually the server's own).
    pub fn start_server(
        &self,
        project: &Project,
        id: &EntryId,
        host: HostId,
    ) -> Result<Server, HttpError> {
        let shared = &self.shared;
        let (entry, spec) = routes::service(project, id).ok_or_else(|| HttpError::Config {
            site: id.to_string(),
            message: "not an http.service entry".into(),
        })?;
        let routes = Routes::build(project, id)?;
        for chain in routes
            .routers
            .iter()
            .map(|r| &r.chain)
            .chain(routes.mounts.iter().map(|m| &m.chain))
        {
            for w in &chain.warnings {
                shared.log(Level::Warn, w, Vec::new());
            }
        }
        if routes.is_empty() {
            shared.log(
                Level::Warn,
                &format!(
                    "{}: http.service {id} has no routes or static mounts",
                    entry.site()
                ),
                Vec::new(),
            );
        }
        let listener = bind(&spec.bind_host, spec.port).map_err(|source| HttpError::Bind {
            site: entry.site().to_string(),
            addr: spec.addr.clone(),
            source,
        })?;
        listener.set_nonblocking(true).map_err(HttpError::Runtime)?;
        let addr = listener.local_addr().map_err(HttpError::Runtime)?;
        let handle = shared.handle().map_err(HttpError::Runtime)?;
        let listener = {
            let _enter = handle.enter();
            tokio::net::TcpListener::from_std(listener).map_err(HttpError::Runtime)?
        };
        let node = shared.node().clone();
        let s = shared.clone();
        let external =
            node.register_external(host, Arc::new(move |env| dispatch::on_envelope(&s, env)));
        let header_timeout = match (spec.read_timeout, spec.idle_timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let state = Arc::new(ServerState {
            shared: shared.clone(),
            id: id.to_string(),
            routes,
            target: Target {
                host,
                external,
                max_body: spec.max_body,
                write_timeout: spec.write_timeout,
            },
            read_timeout: spec.read_timeout,
            header_timeout,
            max_header_bytes: usize::try_from(spec.max_header_bytes).unwrap_or(usize::MAX),
        });
        let (stop_tx, stop_rx) = watch::channel(None);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let max_connections = usize::try_from(spec.max_connections).unwrap_or(usize::MAX);
        handle.spawn(accept_loop(
            listener,
            state,
            stop_rx,
            done_tx,
            max_connections,
        ));
        shared.log(
            Level::Info,
            &format!("service {id} is running"),
            vec![(
                "details".into(),
                Json::from(format!("service listening on {}", spec.addr)),
            )],
        );
        Ok(Server {
            id: id.to_string(),
            addr,
            shared: shared.clone(),
            external,
            stop: stop_tx,
            done: Mutex::new(Some(done_rx)),
            stop_timeout: spec.lifecycle.stop_timeout,
        })
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    state: Arc<ServerState>,
    mut stop: watch::Receiver<Option<Instant>>,
    done: std::sync::mpsc::Sender<()>,
    max_connections: usize,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections.max(1)));
    let mut conns = tokio::task::JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let permit = tokio::select! {
            _ = stop.changed() => break,
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let (stream, peer) = tokio::select! {
            _ = stop.changed() => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    state.shared.log(Level::Warn, &format!("http.service {}: accept failed: {e}", state.id), Vec::new());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        conns.spawn(connection(
            state.clone(),
            stream,
            peer,
            stop.clone(),
            permit,
        ));
    }
    // New connections are refused from here; open ones finish their current request.
    drop(listener);
    let deadline = stop
        .borrow()
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
    let drained = tokio::time::timeout_at(deadline.into(), async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        state.shared.log(
            Level::Warn,
            &format!(
                "service {}: stop timeout reached, dropping {} open connection(s)",
                state.id,
                conns.len()
            ),
            Vec::new(),
        );
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
    let _ = done.send(());
}

/// Serves one connection until it closes, or closes it gracefully when the server stops.
async fn connection(
    state: Arc<ServerState>,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<Option<Instant>>,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let st = state.clone();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        .max_buf_size(state.max_header_bytes.max(8192))
        .max_header_size(state.max_header_bytes)
        .header_read_timeout(state.header_timeout);
    let conn = builder
        .serve_connection(
            TokioIo::new(stream),
            service_fn(move |req| {
                let st = st.clone();
                async move { Ok::<_, Infallible>(handle(&st, req, peer).await) }
            }),
        )
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        connection_error(&state, peer, &e);
    }
    drop(permit);
}

fn connection_error(state: &ServerState, peer: SocketAddr, e: &hyper::Error) {
    let (level, what) = if e.is_parse_too_large() {
        (Level::Warn, "request head too large (431)")
    } else if e.is_parse() || e.is_parse_status() {
        (Level::Warn, "malformed request (400)")
    } else if e.is_timeout() {
        (
            Level::Warn,
            "request head not received in time, connection closed",
        )
    } else {
        (Level::Debug, "connection error")
    };
    state.shared.log(
        level,
        &format!("http.service {}: {what}", state.id),
        vec![
            ("remote".into(), Json::from(peer.to_string())),
            ("error".into(), Json::from(e.to_string())),
        ],
    );
}

fn bad_request(state: &ServerState, ctx: &ReqCtx, status: StatusCode, why: &str) -> Response<Body> {
    state.shared.log(
        Level::Warn,
        &format!("http.service {}: {why} ({})", state.id, status.as_u16()),
        vec![
            ("remote".into(), Json::from(ctx.remote.text())),
            ("method".into(), Json::from(ctx.parts.method.as_str())),
            ("path".into(), Json::from(ctx.parts.uri.path())),
        ],
    );
    let text: &'static str = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large\n",
        StatusCode::REQUEST_TIMEOUT => "request timeout\n",
        _ => "bad request\n",
    };
    plain(status, text)
}

async fn handle(
    state: &Arc<ServerState>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let mut ctx = ReqCtx {
        parts,
        peer,
        remote: crate::middleware::Remote::Peer(peer),
        start: Instant::now(),
        request_id: None,
    };
    let Some(path) = split_path(ctx.parts.uri.path()) else {
        return bad_request(state, &ctx, StatusCode::BAD_REQUEST, "invalid path");
    };
    let found = state.routes.find(&ctx.parts.method, &path);
    let chain = match &found {
        Found::Endpoint(ep, _) => Some(&state.routes.routers[ep.router].chain),
        Found::Static(m, _) => Some(&m.chain),
        Found::WrongMethod(_, r) | Found::Nothing(r) => r.map(|i| &state.routes.routers[i].chain),
    };
    if let Some(chain) = chain {
        if let Some((mut resp, ran)) = chain.before(&state.shared, &mut ctx) {
            chain.after(&state.shared, &ctx, ran + 1, &mut resp);
            return resp;
        }
    }
    let mut resp = match found {
        Found::Endpoint(ep, params) => {
            let chain = chain.expect("an endpoint has a router");
            let upgrade = if chain.relays.is_empty() {
                None
            } else {
                ctx.parts.extensions.remove::<hyper::upgrade::OnUpgrade>()
            };
            let mut resp = endpoint(
                state,
                &mut ctx,
                ep.func.clone(),
                params,
                body,
                chain.needs_head(),
            )
            .await;
            let mut upgrade = upgrade;
            if let Some(files) = &chain.sendfile {
                resp = sendfile(state, &ctx, files, resp).await;
            }
            for relay in &chain.relays {
                resp = relay.take_over(
                    &state.shared,
                    state.target.host,
                    &ctx.parts,
                    upgrade.take(),
                    resp,
                );
            }
            resp
        }
        Found::Static(m, rest) => {
            match m
                .files
                .serve(&ctx.parts.method, rest, &ctx.parts.headers)
                .await
            {
                Ok(r) => r,
                Err(why) => bad_request(state, &ctx, StatusCode::BAD_REQUEST, why),
            }
        }
        Found::WrongMethod(allow, _) => {
            let (status, text) = if ctx.parts.method == Method::OPTIONS {
                (StatusCode::NO_CONTENT, "")
            } else {
                (StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
            };
            let mut r = plain(status, text);
            if status == StatusCode::NO_CONTENT {
                *r.body_mut() = Body::Empty;
                r.headers_mut().remove(header::CONTENT_TYPE);
            }
            if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
                r.headers_mut().insert(header::ALLOW, v);
            }
            r
        }
        Found::Nothing(_) => plain(StatusCode::NOT_FOUND, "not found\n"),
    };
    if let Some(chain) = chain {
        chain.after(&state.shared, &ctx, chain.len(), &mut resp);
    }
    resp
}

/// `sendfile`: a response carrying `X-Sendfile: path` becomes that file (with
/// `Content-Disposition` from `X-File-Name`); other responses pass unchanged.
async fn sendfile(
    state: &ServerState,
    ctx: &ReqCtx,
    files: &crate::static_files::StaticFiles,
    resp: Response<Body>,
) -> Response<Body> {
    let Some(path) = resp
        .headers()
        .get("x-sendfile")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return resp;
    };
    let Some(segments) = split_path(&path) else {
        return bad_request(
            state,
            ctx,
            StatusCode::BAD_REQUEST,
            "invalid X-Sendfile path",
        );
    };
    let name = resp.headers().get("x-file-name").cloned();
    let mut file = match files
        .serve(&Method::GET, &segments, &ctx.parts.headers)
        .await
    {
        Ok(r) => r,
        Err(why) => return bad_request(state, ctx, StatusCode::BAD_REQUEST, why),
    };
    // The handler's own headers stay, except the two that asked for the file.
    let (parts, _) = resp.into_parts();
    for (k, v) in parts.headers.iter() {
        if k != "x-sendfile" && k != "x-file-name" && !file.headers().contains_key(k) {
            file.headers_mut().insert(k.clone(), v.clone());
        }
    }
    if let Some(n) = name.and_then(|n| n.to_str().ok().map(|s| s.replace(['"', '\r', '\n'], "_"))) {
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{n}\"")) {
            file.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    file
}

async fn endpoint(
    state: &Arc<ServerState>,
    ctx: &mut ReqCtx,
    func: Arc<str>,
    params: Vec<(String, String)>,
    body: Incoming,
    keep_head: bool,
) -> Response<Body> {
    let max = state.target.max_body;
    let announced = hyper::body::Body::size_hint(&body).exact();
    let body = if hyper::body::Body::is_end_stream(&body) {
        BodyState::Ready(Arc::from(&[][..]))
    } else if announced.is_some_and(|n| n > max) {
        return bad_request(
            state,
            ctx,
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large",
        );
    } else if announced.is_some_and(|n| n <= PREFETCH) {
        match collect(body, max, state.read_timeout).await {
            Ok(bytes) => BodyState::Ready(bytes.into()),
            Err(e) => {
                let status = if e.message.contains("too large") {
                    StatusCode::PAYLOAD_TOO_LARGE
                } else if e.message.contains("timeout") {
                    StatusCode::REQUEST_TIMEOUT
                } else {
                    StatusCode::BAD_REQUEST
                };
                return bad_request(state, ctx, status, &e.message);
            }
        }
    } else {
        BodyState::Unread(body)
    };
    // Middleware that looks at the request on the way out needs its own copy of the head.
    let parts = if keep_head {
        clone_parts(&ctx.parts)
    } else {
        std::mem::replace(&mut ctx.parts, Request::new(()).into_parts().0)
    };
    dispatch::call(
        &state.shared,
        &state.target,
        Call {
            func,
            parts,
            params,
            remote: ctx.remote.clone(),
            body,
        },
    )
    .await
}

/// A copy of a request head (the exchange keeps one, middleware the other).
fn clone_parts(p: &hyper::http::request::Parts) -> hyper::http::request::Parts {
    let mut req = Request::new(());
    *req.method_mut() = p.method.clone();
    *req.uri_mut() = p.uri.clone();
    *req.version_mut() = p.version;
    *req.headers_mut() = p.headers.clone();
    req.into_parts().0
}
