//! What every server, handler and client request of one node shares: the tokio runtime
//! (started on first use), the node, the log, and the exchanges of handlers in flight.

use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use serde_json::Value as Json;
use starling_core::{Envelope, ExitResult, Level, Node, Pid, ReplyTo};
use starling_lua::services::http::{Exchange, Http, OutgoingRequest, WsConnect, WsSend};
use tokio::runtime::{Handle, Runtime};

use crate::exchange::ExchangeImpl;

/// Where the HTTP side's own log lines go (the host's runtime log): level, message, fields.
pub type LogFn = Arc<dyn Fn(Level, &str, Vec<(String, Json)>) + Send + Sync>;

/// Threads of the tokio runtime that runs sockets (handlers run on the servers' workers, one
/// per CPU by default): `STARLING_HTTP_THREADS`, else one per two CPUs (at least one, at most
/// [`MAX_IO_THREADS`]). Socket work is light next to the handlers', and on two CPUs one socket
/// thread instead of two served 2% more hello and 15% more JSON echo requests
/// (BENCHMARKS.md, HTTP).
fn io_threads() -> usize {
    std::env::var("STARLING_HTTP_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| {
            (std::thread::available_parallelism().map_or(1, |n| n.get()) / 2)
                .clamp(1, MAX_IO_THREADS)
        })
}

/// The default number of I/O threads is capped here (sockets need few).
const MAX_IO_THREADS: usize = 4;

const SHARDS: usize = 16;

/// Handlers in flight, by the pid number of their function call.
#[derive(Default)]
pub(crate) struct Exchanges {
    shards: [Mutex<FxHashMap<u64, Arc<ExchangeImpl>>>; SHARDS],
}

impl Exchanges {
    pub(crate) fn insert(&self, num: u64, ex: Arc<ExchangeImpl>) {
        self.shards[num as usize % SHARDS].lock().insert(num, ex);
    }

    pub(crate) fn get(&self, num: u64) -> Option<Arc<ExchangeImpl>> {
        self.shards[num as usize % SHARDS].lock().get(&num).cloned()
    }

    pub(crate) fn remove(&self, num: u64) -> Option<Arc<ExchangeImpl>> {
        self.shards[num as usize % SHARDS].lock().remove(&num)
    }
}

/// State shared by the servers, handlers and client of one node.
pub(crate) struct Shared {
    node: OnceLock<Arc<Node>>,
    runtime: OnceLock<Runtime>,
    pub(crate) exchanges: Exchanges,
    pub(crate) log: LogFn,
    pub(crate) client: crate::client::ClientState,
    pub(crate) ws: crate::websocket::WsClients,
}

impl Shared {
    /// The node (set by [`HttpRuntime::attach`] before anything runs).
    pub(crate) fn node(&self) -> &Arc<Node> {
        self.node
            .get()
            .expect("the HTTP runtime is attached to its node at boot")
    }

    /// The tokio runtime, started on first use.
    pub(crate) fn handle(&self) -> Result<Handle, std::io::Error> {
        if let Some(rt) = self.runtime.get() {
            return Ok(rt.handle().clone());
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(io_threads())
            .thread_name("http")
            .enable_io()
            .enable_time()
            .build()?;
        // Two threads may race here: the loser's runtime is dropped unused.
        let _ = self.runtime.set(rt);
        Ok(self.runtime.get().expect("set above").handle().clone())
    }

    /// Answers a request made with [`starling_lua`]'s `begin_request`.
    pub(crate) fn wake(&self, reply: ReplyTo, result: ExitResult) {
        self.node().post(reply.pid, |slot| Envelope::Wake {
            to: reply.pid,
            slot,
            token: reply.token,
            result,
        });
    }

    pub(crate) fn log(&self, level: Level, message: &str, fields: Vec<(String, Json)>) {
        (self.log)(level, message, fields)
    }
}

/// The HTTP side of one node: implements [`Http`] for the Lua modules and starts servers.
#[derive(Clone)]
pub struct HttpRuntime {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for HttpRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRuntime")
            .field("started", &self.shared.runtime.get().is_some())
            .finish()
    }
}

impl HttpRuntime {
    /// A runtime that logs through `log`; no thread starts until it is used.
    pub fn new(log: LogFn) -> HttpRuntime {
        HttpRuntime {
            shared: Arc::new(Shared {
                node: OnceLock::new(),
                runtime: OnceLock::new(),
                exchanges: Exchanges::default(),
                log,
                client: crate::client::ClientState::default(),
                ws: crate::websocket::WsClients::default(),
            }),
        }
    }

    /// Binds the runtime to its node (once, before any server starts or script runs).
    pub fn attach(&self, node: Arc<Node>) {
        let _ = self.shared.node.set(node);
    }
}

impl Http for HttpRuntime {
    fn exchange(&self, pid: Pid) -> Option<Arc<dyn Exchange>> {
        let ex = self.shared.exchanges.get(pid.num)?;
        (ex.pid() == pid).then_some(ex as Arc<dyn Exchange>)
    }

    fn fetch(&self, request: OutgoingRequest, reply: ReplyTo) {
        crate::client::fetch(&self.shared, request, reply);
    }

    fn stream_read(&self, stream: u64, max: usize, reply: ReplyTo) {
        crate::client::stream_read(&self.shared, stream, max, reply);
    }

    fn stream_close(&self, stream: u64) {
        self.shared.client.close(stream);
    }

    fn ws_connect(&self, request: WsConnect, reply: ReplyTo) {
        crate::websocket::connect(&self.shared, request, reply);
    }

    fn ws_send(&self, conn: u64, data: Vec<u8>, kind: WsSend, reply: ReplyTo) {
        crate::websocket::send(&self.shared, conn, data, kind, reply);
    }

    fn ws_recv(&self, conn: u64, reply: ReplyTo) {
        crate::websocket::recv(&self.shared, conn, reply);
    }

    fn ws_close(&self, conn: u64, code: u16, reason: String, reply: ReplyTo) {
        crate::websocket::close(&self.shared, conn, code, reason, reply);
    }
}
