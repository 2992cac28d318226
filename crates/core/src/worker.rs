//! One scheduler worker: a thread, its run queue, its timers and the processes it owns.
//!
//! Processes never move between workers. The worker owns the process-model half of each
//! process (queues, relations, kills: `process.rs`) and asks the process's engine to
//! run it when it has news. Engines reach the worker through [`Local`] from inside a step.
//!
//! # Guarantees
//! - A process is stepped only by its own worker, one step at a time.
//! - News (a message, an event, a timer, a completion, a kill) for a blocked process puts it
//!   on the run queue exactly once; news for a running process is noticed when its step ends.
//! - A step that is preempted goes to the back of the run queue, so busy processes share the
//!   worker round-robin.
//!
//! # Ordering
//! Deliveries to processes on this worker are applied immediately, in program order. Deliveries
//! to other workers go through their FIFO inbound queue (see [`crate::envelope`]).
//!
//! # Cancellation
//! A kill (terminate, failed link, mailbox overflow) marks the process; the worker ends it
//! before its next step. A process that is running when killed from this worker is ended by
//! its engine at the next resume boundary. Shutdown drops every process without notifying
//! anyone.

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use slab::Slab;

use crate::clock::Clock;
use crate::directory::Addr;
use crate::engine::{Engine, Router, Step, Wakeup, panic_error};
use crate::envelope::{Envelope, RelationOp, ReplyTo, SpawnSetup};
use crate::mailbox::Limits;
use crate::message::{Event, EventKind, ExitReason, ExitResult, Message, unix_now};
use crate::name_cache::NameCache;
use crate::node::{HostKind, Node};
use crate::pid::{HostId, Pid};
use crate::process::{ProcCore, RunState};
use crate::registry::RegisterError;
use crate::relations::LinkOutcome;
use crate::value::{ErrorKind, ErrorValue};

/// How long an idle worker keeps polling its queue (yielding the CPU between polls) before it
/// parks. Waking a parked worker costs the sender a futex call and the worker a context
/// switch, tens of microseconds on a VM, which would dominate request/reply latency between
/// workers; Erlang's schedulers busy-wait for the same reason.
const POLL_WINDOW: std::time::Duration = std::time::Duration::from_micros(200);

/// Creates the engines of one worker (called on its thread): the [`Router`] given with it
/// indexes this list.
pub type EngineFactory = Arc<dyn Fn(&Rc<Local>) -> Vec<Box<dyn Engine>> + Send + Sync>;

/// Creates one engine of a worker (see [`WorkerSetup::single`]).
pub type EngineMaker = Arc<dyn Fn(&Rc<Local>) -> Box<dyn Engine> + Send + Sync>;

/// How the workers of a host are made.
#[derive(Clone)]
pub struct WorkerSetup {
    /// Their engines.
    pub engines: EngineFactory,
    /// Which engine runs an entry.
    pub router: Router,
    /// Their clock.
    pub clock: Clock,
}

impl WorkerSetup {
    /// Workers with one engine on the real clock.
    pub fn single(engine: EngineMaker) -> Self {
        WorkerSetup {
            engines: Arc::new(move |local| vec![engine(local)]),
            router: Arc::new(|_| 0),
            clock: Clock::Real,
        }
    }
}

impl std::fmt::Debug for WorkerSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerSetup")
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct TimerEntry {
    at: Instant,
    seq: u64,
    slot: u32,
    num: u64,
    token: u64,
}

/// Errors of relation calls.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelationError {
    /// The other process is not alive.
    NotFound,
    /// Already monitoring it.
    AlreadyExists,
}

impl std::fmt::Display for RelationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RelationError::NotFound => "pid not registered",
            RelationError::AlreadyExists => "already monitoring pid",
        })
    }
}

impl std::error::Error for RelationError {}

/// The worker's state, shared (on its own thread) by the loop and the engines' callbacks.
pub struct Local {
    pub(crate) node: Arc<Node>,
    pub(crate) host: HostId,
    pub(crate) index: u16,
    rx: Receiver<Envelope>,
    pub(crate) live: Arc<AtomicUsize>,
    kill: Arc<std::sync::atomic::AtomicU64>,
    pub(crate) procs: RefCell<Slab<ProcCore>>,
    ready: RefCell<VecDeque<u32>>,
    timers: RefCell<BinaryHeap<Reverse<TimerEntry>>>,
    timer_seq: Cell<u64>,
    /// Cancelled timers still in the heap: entries left, by pid number and token.
    timers_cancelled: RefCell<std::collections::HashMap<(u64, u64), u32>>,
    /// Heap entries nobody waits for (cancelled, or of a process that ended): when they
    /// outnumber the live ones the heap is compacted.
    timers_stale: Cell<usize>,
    current: Cell<Option<u32>>,
    stop: Cell<bool>,
    /// This host's mailbox limits (see [`crate::mailbox`]).
    limits: Limits,
    /// A terminal host runs one process at a time.
    pub(crate) terminal: bool,
    pub(crate) router: Router,
    clock: Clock,
    /// Names this worker sent to (see [`Local::lookup_name`]).
    names: RefCell<NameCache>,
}

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Local")
            .field("host", &self.host)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// Starts `workers` threads for a host, each running the engines `setup` makes.
///
/// A worker loop that dies (a bug in the runtime itself: engine panics are caught per
/// process) stops the whole runtime loudly, since its processes can neither be recovered nor
/// told apart from the living.
pub fn start_host(
    node: &Arc<Node>,
    host: HostId,
    workers: usize,
    setup: WorkerSetup,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    let receivers = node.attach_workers(host, workers)?;
    let mut threads = Vec::with_capacity(receivers.len());
    for (index, parts) in receivers.into_iter().enumerate() {
        let node = node.clone();
        let setup = setup.clone();
        let name = format!("{}#{index}", node.host_name(host));
        let label = name.clone();
        threads.push(std::thread::Builder::new().name(name).spawn(move || {
            let _current = node.enter();
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let local = Local::new(node.clone(), host, index as u16, parts, &setup);
                let mut engines = (setup.engines)(&local);
                local.run(&mut engines);
            }));
            if let Err(panic) = ran {
                let e = panic_error(panic.as_ref());
                node.fail(&format!("worker {label} failed: {}", e.message));
            }
        })?);
    }
    Ok(threads)
}

/// A worker driven by hand on the calling thread, for deterministic tests: no thread, no
/// parking; [`Worker::turn`] does one round of the loop.
pub struct Worker {
    local: Rc<Local>,
    engines: Vec<Box<dyn Engine>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// Attaches `workers` hand-driven workers to `host`.
    pub fn manual(
        node: &Arc<Node>,
        host: HostId,
        workers: usize,
        setup: &WorkerSetup,
    ) -> std::io::Result<Vec<Worker>> {
        let receivers = node.attach_workers(host, workers)?;
        Ok(receivers
            .into_iter()
            .enumerate()
            .map(|(index, parts)| {
                let local = Local::new(node.clone(), host, index as u16, parts, setup);
                let engines = (setup.engines)(&local);
                Worker { local, engines }
            })
            .collect())
    }

    /// The worker's state.
    pub fn local(&self) -> &Rc<Local> {
        &self.local
    }

    /// One round of the loop: everything queued inbound, due timers, then one process step.
    /// False when there was nothing to do.
    pub fn turn(&mut self) -> bool {
        self.local.turn(&mut self.engines)
    }
}

impl Local {
    fn new(
        node: Arc<Node>,
        host: HostId,
        index: u16,
        parts: crate::node::WorkerParts,
        setup: &WorkerSetup,
    ) -> Rc<Local> {
        Rc::new(Local {
            limits: node.mailbox_limits(host),
            terminal: node.host_kind(host) == HostKind::Terminal,
            node,
            host,
            index,
            rx: parts.rx,
            live: parts.live,
            kill: parts.kill,
            procs: RefCell::new(Slab::new()),
            ready: RefCell::new(VecDeque::new()),
            timers: RefCell::new(BinaryHeap::new()),
            timer_seq: Cell::new(0),
            timers_cancelled: RefCell::new(std::collections::HashMap::new()),
            timers_stale: Cell::new(0),
            current: Cell::new(None),
            stop: Cell::new(false),
            router: setup.router.clone(),
            clock: setup.clock.clone(),
            names: RefCell::new(NameCache::default()),
        })
    }

    /// The pid registered as `name`, as [`crate::Registry::lookup`] gives it, from this
    /// worker's copy while the LOCAL names have not changed (no node-wide lock per send by
    /// name; `crate::name_cache`).
    pub fn lookup_name(&self, name: &str) -> Option<Pid> {
        match self.names.try_borrow_mut() {
            Ok(mut c) => c.lookup(&self.node.registry, name),
            Err(_) => self.node.registry.lookup(name),
        }
    }

    /// The node.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// This worker's host.
    pub fn host(&self) -> HostId {
        self.host
    }

    /// The switch other threads set to the pid number of a process of this worker that must
    /// stop now (or to [`crate::node::KILL_ALL`] at shutdown): an engine running code that
    /// never returns to the worker checks it, so `terminate` and shutdown take effect even
    /// then.
    pub fn kill_switch(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.kill.clone()
    }

    /// The current time, by this worker's clock.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Slot of the process being stepped, if any.
    pub fn current(&self) -> Option<u32> {
        self.current.get()
    }

    /// The pid of a local process.
    pub fn pid_of(&self, slot: u32) -> Pid {
        self.procs.borrow()[slot as usize].pid
    }

    /// True while `pid` is the process in `slot` (a slot is reused once its process ends).
    pub fn is_live(&self, slot: u32, pid: Pid) -> bool {
        self.procs
            .borrow()
            .get(slot as usize)
            .is_some_and(|p| p.pid == pid)
    }

    /// Number of processes on this worker.
    pub fn len(&self) -> usize {
        self.procs.borrow().len()
    }

    /// True when this worker has no processes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_local(&self, addr: Addr) -> bool {
        addr.host as u32 == self.host.0 && addr.worker == self.index
    }

    pub(crate) fn my_addr(&self, slot: u32) -> Addr {
        Addr {
            host: self.host.0 as u16,
            worker: self.index,
            slot,
        }
    }

    pub(crate) fn with_live<R>(
        &self,
        slot: u32,
        pid: Pid,
        f: impl FnOnce(&mut ProcCore) -> R,
    ) -> Option<R> {
        let mut procs = self.procs.borrow_mut();
        match procs.get_mut(slot as usize) {
            Some(p) if p.pid == pid => Some(f(p)),
            _ => None,
        }
    }

    fn with<R>(&self, slot: u32, f: impl FnOnce(&mut ProcCore) -> R) -> Option<R> {
        self.procs.borrow_mut().get_mut(slot as usize).map(f)
    }

    // ----- what engines read during a step -----

    /// Takes the timers fired and requests completed since the last call.
    pub fn take_wakeups(&self, slot: u32) -> Vec<Wakeup> {
        self.with(slot, |p| p.wakeups.take().map(|w| *w))
            .flatten()
            .unwrap_or_default()
    }

    /// True when the process has timers fired or requests completed to look at.
    pub fn has_wakeups(&self, slot: u32) -> bool {
        self.with(slot, |p| p.wakeups.as_ref().is_some_and(|w| !w.is_empty()))
            .unwrap_or(false)
    }

    /// The next message of the inbox.
    pub fn pop_message(&self, slot: u32) -> Option<Message> {
        self.with(slot, |p| p.mailbox.pop_message()).flatten()
    }

    /// The next event.
    pub fn pop_event(&self, slot: u32) -> Option<Event> {
        self.with(slot, |p| p.mailbox.pop_event()).flatten()
    }

    /// True when the inbox has a message queued.
    pub fn has_message(&self, slot: u32) -> bool {
        self.with(slot, |p| p.mailbox.has_message())
            .unwrap_or(false)
    }

    /// True when an event is queued.
    pub fn has_event(&self, slot: u32) -> bool {
        self.with(slot, |p| p.mailbox.has_event()).unwrap_or(false)
    }

    /// The next message of the subscription for `topic`.
    pub fn pop_listened(&self, slot: u32, topic: &str) -> Option<Message> {
        self.with(slot, |p| p.mailbox.pop_listened(topic)).flatten()
    }

    /// True when the process has been marked to end (terminate, failed link, overflow).
    pub fn is_killed(&self, slot: u32) -> bool {
        self.with(slot, |p| p.kill.is_some()).unwrap_or(true)
    }

    /// Subscribes `slot`'s messages of `topic` (SPEC §5.3); queued ones move along.
    pub fn listen(&self, slot: u32, topic: &str) {
        self.with(slot, |p| p.mailbox.listen(topic));
    }

    /// Removes a topic subscription; its undelivered messages go back to the inbox front.
    pub fn unlisten(&self, slot: u32, topic: &str) {
        self.with(slot, |p| p.mailbox.unlisten(topic));
    }

    /// Whether `slot` traps links.
    pub fn trap_links(&self, slot: u32) -> bool {
        self.with(slot, |p| {
            p.relations.as_ref().is_some_and(|r| r.trap_links())
        })
        .unwrap_or(false)
    }

    /// Sets whether `slot` traps links (LINK_DOWN events instead of ending).
    pub fn set_trap_links(&self, slot: u32, on: bool) {
        self.with(slot, |p| p.relations().set_trap_links(on));
    }

    /// Relation entries `slot` holds (monitors both ways, links, waiters, spawns in flight),
    /// for tests and introspection.
    pub fn relation_count(&self, slot: u32) -> usize {
        self.with(slot, |p| p.relations.as_ref().map_or(0, |r| r.len()))
            .unwrap_or(0)
    }

    // ----- delivery -----

    /// Marks a local process as having news.
    pub fn notify(&self, slot: u32) {
        let mut procs = self.procs.borrow_mut();
        let Some(p) = procs.get_mut(slot as usize) else {
            return;
        };
        match p.run {
            RunState::Idle => {
                p.run = RunState::Queued;
                self.ready.borrow_mut().push_back(slot);
            }
            RunState::Running => p.run = RunState::RunningNews,
            RunState::Queued | RunState::RunningNews => {}
        }
    }

    /// Delivers an envelope to wherever `to` lives; `false` when it is not alive.
    pub fn post(&self, to: Pid, make: impl FnOnce(u32) -> Envelope) -> bool {
        if to.node != 0 {
            return self.node.post_remote(make(0)).is_ok();
        }
        let Some(addr) = self.node.route(to.num) else {
            return false;
        };
        let env = make(addr.slot);
        if self.is_local(addr) {
            self.apply(env);
            true
        } else {
            self.node.post_addr(addr, env)
        }
    }

    /// Sends a user message (SPEC §5.2): `Err` with the message when the receiver is not
    /// alive.
    pub fn send(&self, to: Pid, msg: Message) -> Result<(), Message> {
        if to.node != 0 {
            return self
                .node
                .post_remote(Envelope::Message { to, slot: 0, msg })
                .map_err(crate::envelope::message_of);
        }
        let Some(addr) = self.node.route(to.num) else {
            return Err(msg);
        };
        if addr.host == Addr::CONTROL {
            // Supervisors and watchers have pids but no mailbox.
            return Ok(());
        }
        let local = self.is_local(addr);
        let msg = if local {
            msg
        } else {
            // To another thread: the values go as one buffer (`crate::flat`).
            Message {
                payload: msg.payload.flattened(),
                ..msg
            }
        };
        let env = Envelope::Message {
            to,
            slot: addr.slot,
            msg,
        };
        if local {
            self.apply(env);
        } else {
            self.node.post_addr(addr, env);
        }
        Ok(())
    }

    /// Sends a CANCEL event from `from` to `to`.
    pub fn cancel(&self, from: Pid, to: Pid, reason: &str) -> bool {
        let event = Event {
            kind: EventKind::Cancel,
            from,
            result: None,
            reason: Some(reason.into()),
            at: unix_now(),
        };
        self.post(to, |slot| Envelope::Event { to, slot, event })
    }

    /// Ends `to` with `reason` (terminate).
    pub fn kill(&self, to: Pid, reason: ErrorValue) -> bool {
        self.post(to, |slot| Envelope::Kill { to, slot, reason })
    }

    /// Sends the outcome of a request to the process waiting for it.
    pub fn reply(&self, to: ReplyTo, result: ExitResult) {
        self.post(to.pid, |slot| Envelope::Wake {
            to: to.pid,
            slot,
            token: to.token,
            result,
        });
    }

    // ----- relations -----

    fn relation_request(&self, me: Pid, target: Pid, op: RelationOp) -> bool {
        self.post(target, |s| Envelope::Relation {
            to: target,
            slot: s,
            other: me,
            op,
        })
    }

    /// `slot` starts monitoring `target`.
    pub fn monitor(&self, slot: u32, target: Pid) -> Result<(), RelationError> {
        let me = self.pid_of(slot);
        if self
            .with(slot, |p| p.relations().is_watching(target))
            .unwrap_or(false)
        {
            return Err(RelationError::AlreadyExists);
        }
        // Recorded first: the target's worker may answer (an EXIT for a target that just
        // died) before this returns.
        self.with(slot, |p| p.relations().watch(target));
        if !self.relation_request(me, target, RelationOp::Monitor) {
            self.with(slot, |p| p.relations().unwatch(target));
            return Err(RelationError::NotFound);
        }
        Ok(())
    }

    /// `slot` stops monitoring `target`; no EXIT from it is delivered afterwards, even one
    /// already on its way (see [`crate::relations`]).
    pub fn demonitor(&self, slot: u32, target: Pid) -> Result<(), RelationError> {
        let me = self.pid_of(slot);
        let was = self
            .with(slot, |p| {
                let was = p.relations.as_mut().is_some_and(|r| r.unwatch(target));
                // An EXIT already queued goes too.
                p.mailbox
                    .retain_events(|e| !(e.kind == EventKind::Exit && e.from == target));
                was
            })
            .unwrap_or(false);
        let alive = self.relation_request(me, target, RelationOp::Demonitor);
        // A monitor is forgotten once its EXIT is delivered, so for a target that has ended
        // there is nothing to tell apart: the monitor fired, or was never there.
        if was || !alive {
            Ok(())
        } else {
            Err(RelationError::NotFound)
        }
    }

    /// Links `slot` and `target` both ways.
    pub fn link(&self, slot: u32, target: Pid) -> Result<(), RelationError> {
        let me = self.pid_of(slot);
        if self
            .with(slot, |p| p.relations().is_linked(target))
            .unwrap_or(false)
        {
            return Ok(());
        }
        self.with(slot, |p| p.relations().link(target));
        if !self.relation_request(me, target, RelationOp::Link) {
            self.with(slot, |p| p.relations().unlink(target));
            return Err(RelationError::NotFound);
        }
        Ok(())
    }

    /// Removes the link between `slot` and `target`.
    pub fn unlink(&self, slot: u32, target: Pid) -> Result<(), RelationError> {
        let me = self.pid_of(slot);
        self.with(slot, |p| {
            if let Some(r) = &mut p.relations {
                r.unlink(target);
            }
        });
        if self.relation_request(me, target, RelationOp::Unlink) {
            Ok(())
        } else {
            Err(RelationError::NotFound)
        }
    }

    /// Registers `name` for `pid` (SPEC §5.6).
    pub fn register(&self, name: &str, pid: Pid) -> Result<(), RegisterError> {
        self.node.registry.insert(name, pid)?;
        // Pairs with the fence in `Registry::release`: an exit that skipped the lock (it saw
        // no names for `pid`) removed `pid` from the directory before, and this sees it gone.
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        if !self.node.is_alive(pid) {
            // It ended meanwhile: its exit may have released names before we inserted.
            self.node.registry.release(pid);
        }
        Ok(())
    }

    // ----- timers -----

    /// Arms a timer that wakes `slot` with [`Wakeup::Timer`]`(token)` at `at`.
    pub fn add_timer(&self, slot: u32, at: Instant, token: u64) {
        let seq = self.timer_seq.get() + 1;
        self.timer_seq.set(seq);
        let num = self.with(slot, |p| {
            p.timers = p.timers.saturating_add(1);
            p.pid.num
        });
        let Some(num) = num else { return };
        self.timers.borrow_mut().push(Reverse(TimerEntry {
            at,
            seq,
            slot,
            num,
            token,
        }));
    }

    /// Withdraws the `entries` heap entries of `slot`'s timer `token` (its owner lost
    /// interest: the channel is gone, the timer stopped). They are dropped when they come
    /// due, or sooner when the heap is compacted; the token must not be armed again.
    pub fn cancel_timer(&self, slot: u32, token: u64, entries: u32) {
        if entries == 0 {
            return;
        }
        let num = self.with(slot, |p| {
            p.timers = p.timers.saturating_sub(entries);
            p.pid.num
        });
        let Some(num) = num else { return };
        *self
            .timers_cancelled
            .borrow_mut()
            .entry((num, token))
            .or_insert(0) += entries;
        self.timers_stale
            .set(self.timers_stale.get() + entries as usize);
        self.compact_timers();
    }

    /// Entries in the timer heap, live and stale (for tests and introspection).
    pub fn timer_entries(&self) -> usize {
        self.timers.borrow().len()
    }

    /// Drops the stale entries of the timer heap once they outnumber the live ones, so the
    /// heap stays within about twice the live timers (amortised: a compaction costs the
    /// entries that went stale since the last one).
    fn compact_timers(&self) {
        let stale = self.timers_stale.get();
        let len = self.timers.borrow().len();
        if len < 64 || stale * 2 <= len {
            return;
        }
        let mut cancelled = self.timers_cancelled.borrow_mut();
        let procs = self.procs.borrow();
        let mut timers = self.timers.borrow_mut();
        let mut entries = std::mem::take(&mut *timers).into_vec();
        entries.retain(|Reverse(t)| {
            !cancelled.contains_key(&(t.num, t.token))
                && procs
                    .get(t.slot as usize)
                    .is_some_and(|p| p.pid.num == t.num)
        });
        entries.shrink_to(entries.len() * 2);
        *timers = BinaryHeap::from(entries);
        cancelled.clear();
        cancelled.shrink_to_fit();
        self.timers_stale.set(0);
    }

    fn fire_timers(&self, now: Instant) {
        loop {
            let due = {
                let mut timers = self.timers.borrow_mut();
                match timers.peek() {
                    Some(Reverse(t)) if t.at <= now => timers.pop().map(|Reverse(t)| t),
                    _ => None,
                }
            };
            let Some(t) = due else { break };
            {
                let mut cancelled = self.timers_cancelled.borrow_mut();
                if let Some(left) = cancelled.get_mut(&(t.num, t.token)) {
                    *left -= 1;
                    if *left == 0 {
                        cancelled.remove(&(t.num, t.token));
                    }
                    self.timers_stale
                        .set(self.timers_stale.get().saturating_sub(1));
                    continue;
                }
            }
            let hit = {
                let mut procs = self.procs.borrow_mut();
                match procs.get_mut(t.slot as usize) {
                    Some(p) if p.pid.num == t.num => {
                        p.timers = p.timers.saturating_sub(1);
                        p.wakeups
                            .get_or_insert_default()
                            .push(Wakeup::Timer(t.token));
                        true
                    }
                    _ => false,
                }
            };
            if hit {
                self.notify(t.slot);
            } else {
                // Its process ended: counted stale then.
                self.timers_stale
                    .set(self.timers_stale.get().saturating_sub(1));
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.timers.borrow().peek().map(|Reverse(t)| t.at)
    }

    // ----- applying envelopes -----

    /// Kills `to` over its mailbox limits, if it is: frees its queues and tells the node.
    pub(crate) fn enforce_limits(&self, slot: u32, to: Pid) {
        let limits = self.limits;
        let over = self
            .with_live(slot, to, |p| {
                let over = p.mailbox.over(limits)?;
                p.mark_killed(over.error());
                p.mailbox.clear();
                Some(over)
            })
            .flatten();
        if let Some(over) = over {
            self.node.warn(&format!(
                "process {} killed: {} ({} of {})",
                self.node.format_pid(to),
                over.error().message,
                over.setting(),
                self.node.host_name(to.host)
            ));
        }
    }

    /// Applies an envelope addressed to a process on this worker.
    pub(crate) fn apply(&self, env: Envelope) {
        match env {
            Envelope::Message { to, slot, msg } => {
                let queued = self.with_live(slot, to, |p| {
                    // A process being killed reads nothing more: drop it, as its exit would.
                    if p.kill.is_some() {
                        return false;
                    }
                    p.mailbox.push_message(msg);
                    true
                });
                if queued == Some(true) {
                    self.enforce_limits(slot, to);
                    self.notify(slot);
                }
            }
            Envelope::Event { to, slot, event } => {
                let queued = self.with_live(slot, to, |p| {
                    if p.kill.is_some() {
                        return false;
                    }
                    if event.kind == EventKind::Exit {
                        // Delivered only while still monitoring: an unmonitor made after the
                        // EXIT was sent (on another worker) must win.
                        let watching = p
                            .relations
                            .as_mut()
                            .is_some_and(|r| r.exit_arrived(event.from));
                        if !watching {
                            return false;
                        }
                    }
                    p.mailbox.push_event(event);
                    true
                });
                if queued == Some(true) {
                    self.enforce_limits(slot, to);
                    self.notify(slot);
                }
            }
            Envelope::LinkExit {
                to,
                slot,
                from,
                reason,
            } => {
                let hit = self.with_live(slot, to, |p| {
                    let Some(r) = &mut p.relations else {
                        return false;
                    };
                    match r.link_exit(from, &reason) {
                        LinkOutcome::Ignore => false,
                        LinkOutcome::LinkDown => {
                            if p.kill.is_some() {
                                return false;
                            }
                            p.mailbox.push_event(Event {
                                kind: EventKind::LinkDown,
                                from,
                                result: Some(reason),
                                reason: None,
                                at: unix_now(),
                            });
                            true
                        }
                        LinkOutcome::Kill => p.mark_killed(
                            ErrorValue::new(ErrorKind::Canceled, "linked process failed")
                                .retryable(None),
                        ),
                    }
                });
                if hit == Some(true) {
                    self.enforce_limits(slot, to);
                    self.notify(slot);
                }
            }
            Envelope::Relation {
                to,
                slot,
                other,
                op,
            } => {
                let alive = self.with_live(slot, to, |p| {
                    let r = p.relations();
                    match op {
                        RelationOp::Monitor => r.add_watcher(other),
                        RelationOp::Demonitor => r.remove_watcher(other),
                        RelationOp::Link => {
                            r.link(other);
                        }
                        RelationOp::Unlink => {
                            r.unlink(other);
                        }
                    }
                });
                if alive.is_none() {
                    self.relation_to_dead(to, other, op);
                }
            }
            Envelope::Kill { to, slot, reason } => {
                if self.with_live(slot, to, |p| p.mark_killed(reason)) == Some(true) {
                    self.notify(slot);
                } else {
                    // Gone already: the switch must not catch a later process.
                    let _ =
                        self.kill
                            .compare_exchange(to.num, 0, Ordering::Relaxed, Ordering::Relaxed);
                }
            }
            Envelope::Wake {
                to,
                slot,
                token,
                result,
            } => {
                let node = &self.node;
                let hit = self.with_live(slot, to, |p| {
                    if let Some(r) = &mut p.relations {
                        // A spawn's failure undoes the monitor/link recorded when it started; a
                        // remote spawn's success records it for the pid the answer names.
                        r.spawn_answered(token, &result, |s| node.parse_pid(s).ok());
                    }
                    p.wakeups
                        .get_or_insert_default()
                        .push(Wakeup::Done(token, result));
                });
                if hit.is_some() {
                    self.notify(slot);
                }
            }
            Envelope::Poll { to, slot } => {
                if self.with_live(slot, to, |_| ()).is_some() {
                    self.notify(slot);
                }
            }
            Envelope::Spawn(req) => {
                // Only the loop handles spawns (it owns the engines); one applied directly
                // goes back through the queue.
                let _ = self.node.post_addr(self.my_addr(0), Envelope::Spawn(req));
            }
            Envelope::NodeDown { node } => self.node_down(node),
            Envelope::Shutdown => self.stop.set(true),
        }
    }

    /// The target of a monitor/link died before the request reached it. A monitor gets an EXIT
    /// (NOT_FOUND) so the requester is not left waiting forever; a link is simply dropped.
    fn relation_to_dead(&self, target: Pid, other: Pid, op: RelationOp) {
        let reason = ExitReason::error(ErrorValue::new(ErrorKind::NotFound, "process not found"));
        match op {
            RelationOp::Monitor => {
                let event = Event {
                    kind: EventKind::Exit,
                    from: target,
                    result: Some(reason),
                    reason: None,
                    at: unix_now(),
                };
                self.post(other, |slot| Envelope::Event {
                    to: other,
                    slot,
                    event,
                });
            }
            RelationOp::Link => {
                // How the target ended is unknown here (it may have returned normally), so the
                // link is dropped rather than fired; monitors report the end instead.
                self.post(other, |slot| Envelope::Relation {
                    to: other,
                    slot,
                    other: target,
                    op: RelationOp::Unlink,
                });
            }
            RelationOp::Demonitor | RelationOp::Unlink => {}
        }
    }

    /// Ends a process: releases its pid and names and tells monitors and links.
    fn finish(&self, slot: u32, reason: ExitReason) {
        let p = self.procs.borrow_mut().remove(slot as usize);
        self.live.fetch_sub(1, Ordering::Relaxed);
        if p.timers > 0 {
            // Its pending timers now wake nobody.
            self.timers_stale
                .set(self.timers_stale.get() + p.timers as usize);
            self.compact_timers();
        }
        let _ = self
            .kill
            .compare_exchange(p.pid.num, 0, Ordering::Relaxed, Ordering::Relaxed);
        self.node.directory.remove(p.pid.num);
        self.node.registry.release(p.pid);
        let Some(relations) = p.relations else { return };
        let from = p.pid;
        let notices = relations.into_notices();
        let at = unix_now();
        for w in notices.watchers {
            let event = Event {
                kind: EventKind::Exit,
                from,
                result: Some(reason.clone()),
                reason: None,
                at,
            };
            self.post(w, |slot| Envelope::Event { to: w, slot, event });
        }
        for l in notices.links {
            let reason = reason.clone();
            self.post(l, |slot| Envelope::LinkExit {
                to: l,
                slot,
                from,
                reason,
            });
        }
        for to in notices.exit_to {
            self.reply(to, (*reason.0).clone());
        }
        for t in notices.watching {
            self.relation_request(from, t, RelationOp::Demonitor);
        }
    }

    // ----- the loop -----

    /// One round: everything queued inbound, due timers, then one process step. False when
    /// there was nothing to do.
    pub(crate) fn turn(&self, engines: &mut [Box<dyn Engine>]) -> bool {
        let mut did = false;
        while let Ok(env) = self.rx.try_recv() {
            did = true;
            self.handle(env, engines);
        }
        if self.timers.borrow().peek().is_some() {
            self.fire_timers(self.clock.now());
        }
        let next = self.ready.borrow_mut().pop_front();
        if let Some(slot) = next {
            self.run_one(slot, engines);
            did = true;
        }
        did
    }

    fn handle(&self, env: Envelope, engines: &mut [Box<dyn Engine>]) {
        match env {
            Envelope::Spawn(req) => self.handle_spawn(*req, engines),
            other => self.apply(other),
        }
    }

    /// Runs the worker loop until shutdown.
    pub(crate) fn run(self: &Rc<Self>, engines: &mut [Box<dyn Engine>]) {
        let mut spins = 0u32;
        let mut idle_since: Option<Instant> = None;
        while !self.stop.get() {
            if self.turn(engines) {
                spins = 0;
                idle_since = None;
                continue;
            }
            if self.stop.get() {
                break;
            }
            // Nothing to do: spin a little, then yield the CPU between polls until
            // POLL_WINDOW closes, then park.
            if spins < 64 {
                spins += 1;
                std::hint::spin_loop();
                continue;
            }
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() < POLL_WINDOW {
                std::thread::yield_now();
                continue;
            }
            // On a virtual clock a deadline means nothing to the OS: poll instead.
            let deadline = if self.clock.is_virtual() {
                Some(Instant::now() + POLL_WINDOW)
            } else {
                self.next_deadline()
            };
            let got = match deadline {
                Some(at) => match self.rx.recv_deadline(at) {
                    Ok(env) => Some(env),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                },
                None => match self.rx.recv() {
                    Ok(env) => Some(env),
                    Err(_) => break,
                },
            };
            if let Some(env) = got {
                spins = 0;
                idle_since = None;
                self.handle(env, engines);
            }
        }
    }

    fn run_one(&self, slot: u32, engines: &mut [Box<dyn Engine>]) {
        let (kill, engine) = {
            let mut procs = self.procs.borrow_mut();
            let Some(p) = procs.get_mut(slot as usize) else {
                return;
            };
            p.run = RunState::Running;
            (p.kill.take(), p.engine as usize)
        };
        let Some(engine) = engines.get_mut(engine) else {
            return;
        };
        if let Some(reason) = kill {
            self.release(slot, engine.as_mut());
            self.finish(slot, ExitReason::error(*reason));
            return;
        }
        self.current.set(Some(slot));
        // A panic in engine code (a bug, or a library giving up) ends only the process being
        // stepped; the worker and its other processes go on.
        let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine.step(slot)))
            .unwrap_or_else(|panic| Step::Exit(ExitReason::error(panic_error(panic.as_ref()))));
        self.current.set(None);
        match step {
            Step::Exit(reason) => {
                self.release(slot, engine.as_mut());
                self.finish(slot, reason);
            }
            Step::Blocked | Step::Preempted => {
                let mut procs = self.procs.borrow_mut();
                let Some(p) = procs.get_mut(slot as usize) else {
                    return;
                };
                if matches!(step, Step::Preempted)
                    || p.run == RunState::RunningNews
                    || p.kill.is_some()
                {
                    p.run = RunState::Queued;
                    self.ready.borrow_mut().push_back(slot);
                } else {
                    p.run = RunState::Idle;
                }
            }
        }
    }

    /// Drops the engine half of an ended process; a panic there is reported and otherwise
    /// ignored, the process is gone either way.
    fn release(&self, slot: u32, engine: &mut dyn Engine) {
        if let Err(panic) =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine.release(slot)))
        {
            let e = panic_error(panic.as_ref());
            self.node
                .warn(&format!("releasing a process: {}", e.message));
        }
    }

    /// Fails when the name a spawn's setup asks for is taken; checked before the child is
    /// created, so a failed spawn leaves nothing behind.
    pub(crate) fn check_setup(&self, setup: Option<&SpawnSetup>) -> Result<(), ErrorValue> {
        match setup.and_then(|s| s.name.as_deref()) {
            Some(name) if self.node.registry.lookup(name).is_some() => Err(ErrorValue::new(
                ErrorKind::AlreadyExists,
                "name already registered",
            )),
            _ => Ok(()),
        }
    }

    /// Registers the name and queues the first messages of a child that has not run yet, so
    /// both are in place before it does (`with_name`, `with_message`).
    pub(crate) fn apply_setup(&self, pid: Pid, setup: Option<Box<SpawnSetup>>) {
        let Some(setup) = setup else { return };
        if let Some(name) = &setup.name {
            // Checked by `check_setup`; nothing ran on this worker in between.
            let _ = self.register(name, pid);
        }
        for msg in setup.messages {
            let _ = self.send(pid, msg);
        }
    }
}
