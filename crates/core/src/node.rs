//! The node: everything the workers of one `starling` instance share.
//!
//! A [`Node`] owns the host table, the pid counter, the [directory](crate::directory) of live
//! processes and the name [`Registry`]. It is built once at boot with every host the project
//! defines; a host's workers are attached when the host starts. Nothing here is a process-wide
//! static, so several nodes can live in one test binary.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// What a worker's kill switch holds to stop whatever it runs (shutdown).
pub const KILL_ALL: u64 = u64::MAX;
use std::sync::{Arc, OnceLock};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::RwLock;
use rustc_hash::FxHashMap;

use crate::bytestr::{ByteStr, FixedWriter, INLINE};
use crate::directory::{Addr, Directory};
use crate::envelope::{Envelope, SpawnRequest};
use crate::log::{Level, LogRecord, LogSink};
use crate::mailbox::Limits;
use crate::peers::Peers;
use crate::pid::{HostId, Pid, parse_pid_text, printed_len, write_pid, write_remote_pid};
use crate::registry::Registry;
use crate::remote::Remote;
use crate::value::{ErrorKind, ErrorValue};

/// What kind of host an entry is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HostKind {
    /// `process.host`: a pool of workers running any number of processes.
    Process,
    /// `terminal.host`: one process at a time, bound to stdin/stdout.
    Terminal,
}

/// Handle to one worker thread's inbound queue.
#[derive(Clone, Debug)]
pub struct WorkerHandle {
    tx: Sender<Envelope>,
    live: Arc<AtomicUsize>,
    /// The pid number of a process of this worker that must stop now, even while it runs
    /// code that never returns to the worker (see `Local::kill_switch`).
    kill: Arc<AtomicU64>,
}

#[derive(Debug)]
struct HostSlot {
    name: Box<str>,
    kind: HostKind,
    /// Mailbox limits of its processes, see [`crate::mailbox`].
    limits: Limits,
    workers: OnceLock<Box<[WorkerHandle]>>,
    next: AtomicUsize,
}

/// What a worker loop is made from (see [`Node::attach_workers`]).
#[derive(Debug)]
pub(crate) struct WorkerParts {
    pub(crate) rx: Receiver<Envelope>,
    pub(crate) live: Arc<AtomicUsize>,
    pub(crate) kill: Arc<AtomicU64>,
}

/// Why a pid string did not resolve.
#[derive(Debug, PartialEq, Eq)]
pub enum PidError {
    /// Not of the form `{host|0x…}`.
    Malformed,
    /// Well-formed, but the host is unknown on this node.
    UnknownHost,
}

/// Builds a [`Node`] from its host list.
#[derive(Debug, Default)]
pub struct NodeBuilder {
    hosts: Vec<(String, HostKind, Limits)>,
}

impl NodeBuilder {
    /// Declares a host, with no mailbox limits; returns its id.
    pub fn host(&mut self, name: &str, kind: HostKind) -> HostId {
        self.hosts.push((name.to_string(), kind, Limits::default()));
        HostId(self.hosts.len() as u32 - 1)
    }

    /// Sets the mailbox limits of a declared host's processes (0 = unbounded).
    pub fn mailbox_limits(&mut self, host: HostId, limits: Limits) -> &mut Self {
        if let Some(h) = self.hosts.get_mut(host.0 as usize) {
            h.2 = limits;
        }
        self
    }

    /// Freezes the host table.
    pub fn build(self) -> Arc<Node> {
        let mut host_ids = FxHashMap::default();
        let hosts = self
            .hosts
            .into_iter()
            .enumerate()
            .map(|(i, (name, kind, limits))| {
                host_ids.insert(name.clone().into_boxed_str(), HostId(i as u32));
                HostSlot {
                    name: name.into(),
                    kind,
                    limits,
                    workers: OnceLock::new(),
                    next: AtomicUsize::new(0),
                }
            })
            .collect();
        Arc::new(Node {
            hosts,
            host_ids,
            next_num: AtomicU64::new(1),
            next_hidden: AtomicU64::new(HIDDEN_BASE),
            directory: Directory::new(),
            registry: Registry::default(),
            control: OnceLock::new(),
            externals: RwLock::new(Externals::default()),
            warn: OnceLock::new(),
            log: OnceLock::new(),
            stopping: AtomicBool::new(false),
            failure: OnceLock::new(),
            bus: crate::bus::Bus::default(),
            peers: Peers::default(),
            remote: OnceLock::new(),
        })
    }
}

/// Shared state of one running node.
#[derive(Debug)]
pub struct Node {
    hosts: Box<[HostSlot]>,
    host_ids: FxHashMap<Box<str>, HostId>,
    next_num: AtomicU64,
    next_hidden: AtomicU64,
    pub(crate) directory: Directory,
    /// The name registry.
    pub registry: Registry,
    control: OnceLock<Sender<Envelope>>,
    externals: RwLock<Externals>,
    warn: OnceLock<WarnHook>,
    log: OnceLock<LogHook>,
    stopping: AtomicBool,
    failure: OnceLock<String>,
    bus: crate::bus::Bus,
    /// The other nodes of a cluster (empty on a single node), see [`crate::peers`].
    pub peers: Peers,
    remote: OnceLock<RemoteHook>,
}

struct RemoteHook(Arc<dyn Remote>);

impl std::fmt::Debug for RemoteHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RemoteHook")
    }
}

/// What an external receiver does with an envelope addressed to its pid (see
/// [`Node::register_external`]). Called on the sending thread (a worker, or whoever sent):
/// it must not block, and must not register or unregister receivers.
pub type ExternalFn = Arc<dyn Fn(Envelope) + Send + Sync>;

/// The external receivers, by id (the slot of their [`Addr`]).
#[derive(Default)]
struct Externals {
    next: u32,
    by_id: FxHashMap<u32, ExternalFn>,
}

impl std::fmt::Debug for Externals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Externals")
            .field("count", &self.by_id.len())
            .finish()
    }
}

/// Where the runtime's own warnings go (the host's log); see [`Node::set_warn`].
pub type WarnFn = Box<dyn Fn(&str) + Send + Sync>;

struct WarnHook(WarnFn);

struct LogHook(Arc<dyn LogSink>);

impl std::fmt::Debug for LogHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogHook")
    }
}

impl std::fmt::Debug for WarnHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WarnHook")
    }
}

thread_local! {
    /// The node of the calling thread, see [`Node::enter`].
    static CURRENT: std::cell::RefCell<Option<Arc<Node>>> = const { std::cell::RefCell::new(None) };
}

/// Keeps a node current on this thread until dropped, see [`Node::enter`].
#[derive(Debug)]
pub struct EnterGuard {
    previous: Option<Arc<Node>>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// Runs `f` with the calling thread's current node, if any (see [`Node::enter`]).
///
/// Worker threads have their node current for their whole life; other threads have one only
/// inside [`Node::enter`]. Printing and parsing pids inside typed payloads
/// ([`crate::codec`]) needs it, since a pid's printed form names its host.
pub fn with_current<R>(f: impl FnOnce(Option<&Node>) -> R) -> R {
    CURRENT.with(|c| f(c.borrow().as_deref()))
}

/// First pid number of internal processes (see [`Node::next_hidden_num`]).
const HIDDEN_BASE: u64 = 1 << 40;

impl Node {
    /// Starts building a node.
    pub fn builder() -> NodeBuilder {
        NodeBuilder::default()
    }

    /// Makes this node the calling thread's current node until the guard is dropped (see
    /// [`with_current`]).
    pub fn enter(self: &Arc<Self>) -> EnterGuard {
        let previous = CURRENT.with(|c| c.borrow_mut().replace(self.clone()));
        EnterGuard { previous }
    }

    /// Looks up a host by entry id. In a cluster, `node@host` names a spawn target on another
    /// node (or this one, for its own name): see [`crate::peers`].
    pub fn host_id(&self, name: &str) -> Option<HostId> {
        if let Some(id) = self.host_ids.get(name) {
            return Some(*id);
        }
        let (node, host) = name.split_once('@')?;
        let host = *self.host_ids.get(host)?;
        match self.peers.own_name()? {
            own if own == node => Some(host),
            _ => self.peers.target(self.peers.intern(node)?, host),
        }
    }

    /// A host's entry id (`?` for a host that is not one of this node's).
    pub fn host_name(&self, id: HostId) -> &str {
        self.try_host_name(id).unwrap_or("?")
    }

    /// A host's entry id, or `None` when `id` is not a host of this node (a pid that was not
    /// made here). Hosts of other nodes' pids have their interned name.
    pub fn try_host_name(&self, id: HostId) -> Option<&str> {
        if let Some(h) = self.hosts.get(id.0 as usize) {
            return Some(&h.name);
        }
        if let Some(name) = self.peers.foreign_host_name(id) {
            return Some(name);
        }
        let (_, host) = self.peers.target_of(id)?;
        self.hosts.get(host.0 as usize).map(|h| &*h.name)
    }

    /// A host's kind (`Process` for an unknown host).
    pub fn host_kind(&self, id: HostId) -> HostKind {
        self.hosts
            .get(id.0 as usize)
            .map_or(HostKind::Process, |h| h.kind)
    }

    /// The mailbox limits of a host's processes.
    pub fn mailbox_limits(&self, id: HostId) -> Limits {
        self.hosts
            .get(id.0 as usize)
            .map_or(Limits::default(), |h| h.limits)
    }

    /// True once the host's workers are running (false for an unknown host). A spawn target
    /// on another node counts as running: that node answers for it.
    pub fn host_running(&self, id: HostId) -> bool {
        match self.hosts.get(id.0 as usize) {
            Some(h) => h.workers.get().is_some(),
            None => self.peers.target_of(id).is_some(),
        }
    }

    /// The printed form of a pid, allocated at its exact length (so turning it into a boxed
    /// string does not reallocate).
    pub fn format_pid(&self, pid: Pid) -> String {
        let (node, host) = self.pid_names(pid);
        let mut s = String::with_capacity(printed_len(node, host, pid.num));
        write_named(&mut s, node, host, pid.num);
        s
    }

    /// [`Node::format_pid`] as a [`ByteStr`], written in place when it fits (a pid printed for
    /// a Lua process, on the message path, needs no `String`).
    pub fn pid_bytes(&self, pid: Pid) -> ByteStr {
        let (node, host) = self.pid_names(pid);
        if printed_len(node, host, pid.num) <= INLINE {
            let mut w = FixedWriter::<INLINE>::new();
            if write_named_to(&mut w, node, host, pid.num).is_ok() {
                return w.finish();
            }
        }
        ByteStr::from(self.format_pid(pid))
    }

    /// The node name (none for this node on a single node) and host name a pid prints with.
    fn pid_names(&self, pid: Pid) -> (Option<&str>, &str) {
        let node = if pid.node == 0 {
            self.peers.own_name()
        } else {
            Some(self.peers.name(pid.node).unwrap_or("?"))
        };
        (node, self.host_name(pid.host))
    }

    /// Appends the printed form of a pid to `out`: `{host|0x…}` on a single node, with the
    /// node's name (`{a@host|0x…}`) in a cluster.
    pub fn write_pid(&self, out: &mut String, pid: Pid) {
        let (node, host) = self.pid_names(pid);
        write_named(out, node, host, pid.num);
    }

    /// Parses a printed pid. `{node@host|0x…}` parses only in a cluster: this node's own name
    /// gives a local pid, any other name a pid of that node (interned in [`Node::peers`]).
    pub fn parse_pid(&self, s: &str) -> Result<Pid, PidError> {
        let t = parse_pid_text(s).ok_or(PidError::Malformed)?;
        let node = match t.node {
            None => 0,
            Some(name) => self.peers.intern(name).ok_or(PidError::UnknownHost)?,
        };
        let host = match self.host_ids.get(t.host) {
            Some(h) => *h,
            None if node != 0 => self
                .peers
                .foreign_host(t.host)
                .ok_or(PidError::UnknownHost)?,
            None => return Err(PidError::UnknownHost),
        };
        Ok(Pid {
            node,
            host,
            num: t.num,
        })
    }

    /// Allocates the next pid number (node-wide, starting at 1).
    pub fn next_num(&self) -> u64 {
        self.next_num.fetch_add(1, Ordering::Relaxed)
    }

    /// The next pid numbers [`Node::next_num`] and [`Node::next_hidden_num`] would give.
    pub fn peek_nums(&self) -> (u64, u64) {
        (
            self.next_num.load(Ordering::Relaxed),
            self.next_hidden.load(Ordering::Relaxed),
        )
    }

    /// Moves both pid counters up to at least `num` and `hidden` (never down): a restarted
    /// cluster node starts above what its previous run may have handed out, so a pid string
    /// held from before never names a new process.
    pub fn raise_nums(&self, num: u64, hidden: u64) {
        self.next_num.fetch_max(num, Ordering::Relaxed);
        self.next_hidden
            .fetch_max(hidden.max(HIDDEN_BASE), Ordering::Relaxed);
    }

    /// Allocates a pid number for an internal process (a `function.lua` call) from a range of
    /// its own, so function calls do not shift the numbers users see.
    pub fn next_hidden_num(&self) -> u64 {
        self.next_hidden.fetch_add(1, Ordering::Relaxed)
    }

    /// A running process host (not the terminal), for work that needs one.
    pub fn any_process_host(&self) -> Option<HostId> {
        (0..self.hosts.len())
            .map(|i| HostId(i as _))
            .find(|h| self.host_kind(*h) == HostKind::Process && self.host_running(*h))
    }

    /// True while `pid` names a live process (or control receiver) of this node (false for
    /// another node's pid).
    pub fn is_alive(&self, pid: Pid) -> bool {
        pid.node == 0 && self.directory.get(pid.num).is_some()
    }

    /// Number of live processes and control receivers.
    pub fn live_count(&self) -> usize {
        self.directory.len()
    }

    /// Attaches `workers` inbound queues to a host, once; the worker loops that read them are
    /// made by [`crate::worker::start_host`] (or a test driver).
    pub(crate) fn attach_workers(
        &self,
        host: HostId,
        workers: usize,
    ) -> std::io::Result<Vec<WorkerParts>> {
        let slot = self.hosts.get(host.0 as usize).ok_or_else(|| {
            std::io::Error::other(format!("host {} is not a host of this node", host.0))
        })?;
        let mut handles = Vec::with_capacity(workers);
        let mut receivers = Vec::with_capacity(workers);
        for _ in 0..workers.max(1) {
            let (tx, rx) = crossbeam_channel::unbounded();
            let live = Arc::new(AtomicUsize::new(0));
            let kill = Arc::new(AtomicU64::new(0));
            handles.push(WorkerHandle {
                tx,
                live: live.clone(),
                kill: kill.clone(),
            });
            receivers.push(WorkerParts { rx, live, kill });
        }
        if slot.workers.set(handles.into_boxed_slice()).is_err() {
            return Err(std::io::Error::other(format!(
                "host {} already started",
                slot.name
            )));
        }
        Ok(receivers)
    }

    /// Sets the queue of the control plane (supervisors, exec watcher).
    pub fn set_control(&self, tx: Sender<Envelope>) {
        let _ = self.control.set(tx);
    }

    /// Sets where runtime warnings go (once; later calls are ignored). Without it they are
    /// dropped: the core has no log of its own.
    pub fn set_warn(&self, f: WarnFn) {
        let _ = self.warn.set(WarnHook(f));
    }

    /// Reports a failure of the runtime itself (a worker loop died): warns, records it for
    /// [`Node::failure`] and shuts every worker down. The host decides how the process ends.
    pub fn fail(&self, message: &str) {
        self.warn(message);
        let _ = self.failure.set(message.to_string());
        self.shutdown();
        // Wake the control plane so it notices.
        if let Some(tx) = self.control.get() {
            let _ = tx.send(Envelope::Shutdown);
        }
    }

    /// The first failure reported by [`Node::fail`], if any.
    pub fn failure(&self) -> Option<&str> {
        self.failure.get().map(String::as_str)
    }

    /// Reports a runtime warning. Called from worker threads; the hook must not block long.
    pub fn warn(&self, message: &str) {
        if let Some(w) = self.warn.get() {
            (w.0)(message);
        }
    }

    /// Sets where application log records go (once; later calls are ignored). Without it
    /// they are dropped.
    pub fn set_log(&self, sink: Arc<dyn LogSink>) {
        let _ = self.log.set(LogHook(sink));
    }

    /// True when a record at `level` would be printed.
    pub fn log_enabled(&self, level: Level) -> bool {
        self.log.get().is_some_and(|l| l.0.enabled(level))
    }

    /// Emits an application log record (see [`crate::log`]).
    pub fn log(&self, record: LogRecord) {
        if let Some(l) = self.log.get() {
            if l.0.enabled(record.level) {
                l.0.log(record);
            }
        }
    }

    /// Registers a control-plane receiver under pid `num` (on `host`, for printing) with id `slot`.
    pub fn register_control(&self, host: HostId, num: u64, slot: u32) -> Pid {
        self.directory.insert(
            num,
            Addr {
                host: Addr::CONTROL,
                worker: 0,
                slot,
            },
        );
        Pid::local(host, num)
    }

    /// Removes a control-plane receiver.
    pub fn unregister_control(&self, pid: Pid) {
        self.directory.remove(pid.num);
    }

    /// Gives something outside the workers a pid (printed on `host`): every envelope
    /// addressed to it (a message, an event, the [`Envelope::Wake`] answering a request it
    /// made, such as a function call's result) is handed to `f`. For servers that start
    /// processes and wait for their results (HTTP handlers), and bridges to other nodes.
    /// The pid number comes from the hidden range, so it does not shift the numbers users see.
    pub fn register_external(&self, host: HostId, f: ExternalFn) -> Pid {
        let id = {
            let mut x = self.externals.write();
            let mut id = x.next;
            while x.by_id.contains_key(&id) {
                id = id.wrapping_add(1);
            }
            x.next = id.wrapping_add(1);
            x.by_id.insert(id, f);
            id
        };
        let num = self.next_hidden_num();
        self.directory.insert(
            num,
            Addr {
                host: Addr::EXTERNAL,
                worker: 0,
                slot: id,
            },
        );
        Pid::local(host, num)
    }

    /// Removes an external receiver; envelopes for its pid are dropped from now on.
    pub fn unregister_external(&self, pid: Pid) {
        if let Some(addr) = self.directory.get(pid.num) {
            if addr.host == Addr::EXTERNAL {
                self.directory.remove(pid.num);
                self.externals.write().by_id.remove(&addr.slot);
            }
        }
    }

    pub(crate) fn worker(&self, addr: Addr) -> Option<&WorkerHandle> {
        self.hosts
            .get(addr.host as usize)?
            .workers
            .get()?
            .get(addr.worker as usize)
    }

    pub(crate) fn route(&self, num: u64) -> Option<Addr> {
        self.directory.get(num)
    }

    /// The node's event bus (`events` module).
    pub fn bus(&self) -> &crate::bus::Bus {
        &self.bus
    }

    /// Publishes an event-bus event from `from` to every matching subscriber of this node
    /// (see [`crate::bus::Bus::publish`]); returns how many it was posted to.
    pub fn publish(
        &self,
        from: Option<Pid>,
        system: &str,
        kind: &str,
        make: impl Fn() -> crate::value::Payload,
    ) -> usize {
        self.bus.publish(
            |to, msg| self.post(to, |slot| Envelope::Message { to, slot, msg }),
            from,
            system,
            kind,
            make,
        )
    }

    /// Sends an envelope to wherever `to` lives; `false` when it is not alive (or, for a pid
    /// of another node, when that node cannot be reached).
    pub fn post(&self, to: Pid, make: impl FnOnce(u32) -> Envelope) -> bool {
        if to.node != 0 {
            return self.post_remote(make(0)).is_ok();
        }
        let Some(addr) = self.route(to.num) else {
            return false;
        };
        self.post_addr(addr, make(addr.slot))
    }

    /// Hands an envelope for another node's pid to the cluster; back when there is none or the
    /// node cannot be reached.
    pub(crate) fn post_remote(&self, env: Envelope) -> Result<(), Envelope> {
        match self.remote.get() {
            Some(r) => r.0.deliver(env),
            None => Err(env),
        }
    }

    /// Installs the cluster's side of remote deliveries (once; later calls are ignored). See
    /// [`crate::remote`].
    pub fn set_remote(&self, remote: Arc<dyn Remote>) {
        let _ = self.remote.set(RemoteHook(remote));
    }

    /// The cluster's side, if any.
    pub fn remote(&self) -> Option<&Arc<dyn Remote>> {
        self.remote.get().map(|r| &r.0)
    }

    /// Node `node` was declared down: every worker of every running host gets one
    /// [`Envelope::NodeDown`], queued behind whatever was already delivered to it, and fires
    /// the monitors and links its processes hold towards that node's pids.
    pub fn node_down(&self, node: u32) {
        if node == 0 {
            return;
        }
        for h in self.hosts.iter() {
            if let Some(ws) = h.workers.get() {
                for w in ws.iter() {
                    let _ = w.tx.send(Envelope::NodeDown { node });
                }
            }
        }
    }

    pub(crate) fn post_addr(&self, addr: Addr, env: Envelope) -> bool {
        if addr.host == Addr::CONTROL {
            return self.control.get().is_some_and(|tx| tx.send(env).is_ok());
        }
        if let Envelope::Kill { to, .. } = &env {
            // The worker may be busy running the target and not read its queue for a while.
            if let Some(w) = self.worker(addr) {
                w.kill.store(to.num, Ordering::Relaxed);
            }
        }
        if addr.host == Addr::EXTERNAL {
            // Called outside the lock: the receiver may send to other externals.
            let f = self.externals.read().by_id.get(&addr.slot).cloned();
            return match f {
                Some(f) => {
                    f(env);
                    true
                }
                None => false,
            };
        }
        self.worker(addr).is_some_and(|w| w.tx.send(env).is_ok())
    }

    /// Queues a spawn on the least-loaded worker of `req.host`.
    pub fn request_spawn(&self, req: SpawnRequest) -> Result<(), ErrorValue> {
        let Some(slot) = self.hosts.get(req.host.0 as usize) else {
            return Err(ErrorValue::new(ErrorKind::NotFound, "host not found"));
        };
        let Some(workers) = slot.workers.get() else {
            return Err(ErrorValue::new(
                ErrorKind::Unavailable,
                format!("host {} not running", slot.name),
            ));
        };
        let start = slot.next.fetch_add(1, Ordering::Relaxed);
        let mut best = start % workers.len();
        let mut best_load = usize::MAX;
        for i in 0..workers.len() {
            let w = (start + i) % workers.len();
            let load = workers[w].live.load(Ordering::Relaxed);
            if load < best_load {
                best = w;
                best_load = load;
            }
        }
        workers[best]
            .tx
            .send(Envelope::Spawn(Box::new(req)))
            .map_err(|_| {
                ErrorValue::new(
                    ErrorKind::Unavailable,
                    format!("host {} not running", slot.name),
                )
            })
    }

    /// Asks every worker of every host to stop.
    pub fn shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        for h in self.hosts.iter() {
            if let Some(ws) = h.workers.get() {
                for w in ws.iter() {
                    w.kill.store(KILL_ALL, Ordering::Relaxed);
                    let _ = w.tx.send(Envelope::Shutdown);
                }
            }
        }
    }

    /// True after [`Node::shutdown`].
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

/// Appends a printed pid from its names (see [`Node::write_pid`]).
fn write_named(out: &mut String, node: Option<&str>, host: &str, num: u64) {
    write_named_to(out, node, host, num).expect("writing to a String");
}

/// [`write_named`] to any writer.
fn write_named_to(
    out: &mut impl std::fmt::Write,
    node: Option<&str>,
    host: &str,
    num: u64,
) -> std::fmt::Result {
    match node {
        None => write_pid(out, host, num),
        Some(node) => write_remote_pid(out, node, host, num),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_bytes_prints_as_format_pid_does() {
        let mut b = Node::builder();
        let short = b.host("app:p", HostKind::Process);
        let long = b.host("a.rather.long.namespace:processes", HostKind::Process);
        let node = b.build();
        for host in [short, long] {
            for num in [0, 1, 0xfffff, 0x100000, u64::MAX] {
                let pid = Pid::local(host, num);
                let bytes = node.pid_bytes(pid);
                assert_eq!(bytes.as_bytes(), node.format_pid(pid).as_bytes());
                assert_eq!(node.parse_pid(&node.format_pid(pid)), Ok(pid));
            }
        }
    }
}
