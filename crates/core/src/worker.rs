//! One scheduler worker: a thread, its run queue, its timers and the processes it owns.
//!
//! Processes never move between workers: an engine (the Lua VM of this thread) holds their
//! state. The worker owns the process-model half of each process ([`ProcCore`]: mailbox,
//! events, monitors, links) and asks the [`Engine`] to run a process when it has news.
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
//! A kill (terminate, failed link) marks the process; the worker ends it before its next step.
//! A process that is running when killed from this worker is ended by its engine at the next
//! resume boundary. Shutdown drops every process without notifying anyone.

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use slab::Slab;

use crate::directory::Addr;
use crate::envelope::{Envelope, RelationOp, ReplyTo, SpawnFlags, SpawnRequest, SpawnSetup};
use crate::message::{Event, EventKind, ExitReason, ExitResult, Message, unix_now};
use crate::node::Node;
use crate::pid::{HostId, Pid};
use crate::registry::RegisterError;
use crate::value::{ErrorKind, ErrorValue, Payload};

/// How long an idle worker keeps polling its queue (yielding the CPU between polls) before it
/// parks. Waking a parked worker costs the sender a futex call and the worker a context
/// switch, tens of microseconds on a VM, which would dominate request/reply latency between
/// workers; Erlang's schedulers busy-wait for the same reason.
const POLL_WINDOW: std::time::Duration = std::time::Duration::from_micros(200);

/// What a step of a process ended with.
#[derive(Debug)]
pub enum Step {
    /// Every coroutine is waiting for something.
    Blocked,
    /// The time slice ran out; run again later.
    Preempted,
    /// The process finished.
    Exit(ExitReason),
}

/// The per-worker code runner (the Lua VM, or native processes later).
///
/// Engines are called only from their worker's loop, never re-entrantly: code running inside
/// a step reaches the worker through [`Local`], not through the engine.
pub trait Engine {
    /// Runs the process in `slot` until it blocks, is preempted or ends.
    fn step(&mut self, slot: u32) -> Step;
    /// Starts a process requested by another worker or the control plane.
    fn spawn(&mut self, req: SpawnRequest) -> Result<Pid, ErrorValue>;
    /// Drops the engine half of a process that has ended or was killed.
    fn release(&mut self, slot: u32);
}

/// Something a blocked coroutine may be waiting for, delivered to its process.
#[derive(Debug)]
pub enum Wakeup {
    /// Timer `token` fired.
    Timer(u64),
    /// Request `token` completed.
    Done(u64, ExitResult),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum RunState {
    Idle,
    Queued,
    Running,
}

/// A `listen` subscription: a topic and the messages routed to it.
#[derive(Debug)]
pub struct Listener {
    /// The topic.
    pub topic: Box<str>,
    /// Messages waiting to be received.
    pub queue: VecDeque<Message>,
}

/// Rarely used parts of a process, boxed to keep idle processes small.
#[derive(Debug, Default)]
pub struct ProcExtra {
    /// Processes monitoring this one.
    pub watchers: Vec<Pid>,
    /// Processes this one monitors. A set: a relay may monitor many thousands of children at
    /// once, and each EXIT removes one (a `Vec` made that quadratic).
    pub watching: rustc_hash::FxHashSet<Pid>,
    /// Linked processes.
    pub links: Vec<Pid>,
    /// Topic subscriptions.
    pub listeners: Vec<Listener>,
    /// Convert link failures into LINK_DOWN events instead of dying.
    pub trap_links: bool,
    /// Waiters for this process's result (`process.exec`).
    pub exit_to: Vec<ReplyTo>,
}

/// The process-model half of a process: queues and relations.
#[derive(Debug)]
pub struct ProcCore {
    /// Its pid.
    pub pid: Pid,
    run: RunState,
    news: bool,
    /// Mailbox: messages for the inbox, or not yet routed anywhere.
    pub mailbox: VecDeque<Message>,
    /// Events (EXIT, LINK_DOWN, CANCEL) not yet received.
    pub events: VecDeque<Event>,
    /// Timers fired and requests completed since the last step.
    pub wakeups: Vec<Wakeup>,
    /// Set when the process must end before its next step.
    pub kill: Option<Box<ErrorValue>>,
    /// Monitors, links, listeners.
    pub extra: Option<Box<ProcExtra>>,
}

impl ProcCore {
    fn new(pid: Pid) -> ProcCore {
        ProcCore {
            pid,
            run: RunState::Idle,
            news: false,
            mailbox: VecDeque::new(),
            events: VecDeque::new(),
            wakeups: Vec::new(),
            kill: None,
            extra: None,
        }
    }

    /// The boxed extras, created on first use.
    pub fn extra(&mut self) -> &mut ProcExtra {
        self.extra.get_or_insert_with(Default::default)
    }

    fn route(&mut self, msg: Message) {
        if let Some(x) = &mut self.extra {
            if let Some(l) = x.listeners.iter_mut().find(|l| l.topic == msg.topic) {
                l.queue.push_back(msg);
                return;
            }
        }
        self.mailbox.push_back(msg);
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

/// Errors of relation and delivery calls.
#[derive(Debug, PartialEq, Eq)]
pub enum RelationError {
    /// The other process is not alive.
    NotFound,
    /// Already monitoring it.
    AlreadyExists,
}

/// The worker's state, shared (on its own thread) by the loop and the engine's callbacks.
#[derive(Debug)]
pub struct Local {
    node: Arc<Node>,
    host: HostId,
    index: u16,
    rx: Receiver<Envelope>,
    live: Arc<AtomicUsize>,
    procs: RefCell<Slab<ProcCore>>,
    ready: RefCell<VecDeque<u32>>,
    timers: RefCell<BinaryHeap<Reverse<TimerEntry>>>,
    timer_seq: Cell<u64>,
    current: Cell<Option<u32>>,
    stop: Cell<bool>,
    /// This host's mailbox limit (see [`crate::mailbox`]).
    max_mailbox: usize,
}

impl Local {
    pub(crate) fn new(
        node: Arc<Node>,
        host: HostId,
        index: u16,
        rx: Receiver<Envelope>,
        live: Arc<AtomicUsize>,
    ) -> Rc<Local> {
        Rc::new(Local {
            max_mailbox: node.max_mailbox(host),
            node,
            host,
            index,
            rx,
            live,
            procs: RefCell::new(Slab::new()),
            ready: RefCell::new(VecDeque::new()),
            timers: RefCell::new(BinaryHeap::new()),
            timer_seq: Cell::new(0),
            current: Cell::new(None),
            stop: Cell::new(false),
        })
    }

    /// The node.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// This worker's host.
    pub fn host(&self) -> HostId {
        self.host
    }

    /// Slot of the process being stepped (or initialised), if any.
    pub fn current(&self) -> Option<u32> {
        self.current.get()
    }

    /// Sets the current process; returns the previous one (for nested spawns).
    pub fn set_current(&self, slot: Option<u32>) -> Option<u32> {
        self.current.replace(slot)
    }

    /// The pid of a local process.
    pub fn pid_of(&self, slot: u32) -> Pid {
        self.procs.borrow()[slot as usize].pid
    }

    /// Runs `f` on a local process's core state. `f` must not call back into the worker.
    pub fn with<R>(&self, slot: u32, f: impl FnOnce(&mut ProcCore) -> R) -> R {
        f(&mut self.procs.borrow_mut()[slot as usize])
    }

    /// Runs `f` on the core state of `pid` if it is still the process in `slot` (a slot is
    /// reused once its process ends).
    pub fn with_pid<R>(
        &self,
        slot: u32,
        pid: Pid,
        f: impl FnOnce(&mut ProcCore) -> R,
    ) -> Option<R> {
        self.with_live(slot, pid, f)
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

    fn my_addr(&self, slot: u32) -> Addr {
        Addr {
            host: self.host.0 as u16,
            worker: self.index,
            slot,
        }
    }

    /// Creates a process on this worker. `init` builds the engine half and may fail, in which
    /// case nothing is left behind. `num` = 0 allocates a fresh pid number.
    pub fn spawn_local(
        &self,
        parent: Option<Pid>,
        flags: SpawnFlags,
        num: u64,
        init: impl FnOnce(u32, Pid) -> Result<(), ErrorValue>,
    ) -> Result<Pid, ErrorValue> {
        let num = if num == 0 { self.node.next_num() } else { num };
        let pid = Pid::local(self.host, num);
        let slot = {
            let mut procs = self.procs.borrow_mut();
            let entry = procs.vacant_entry();
            let slot = entry.key() as u32;
            entry.insert(ProcCore::new(pid));
            slot
        };
        self.node.directory.insert(num, self.my_addr(slot));
        if let Err(e) = init(slot, pid) {
            self.node.directory.remove(num);
            self.procs.borrow_mut().remove(slot as usize);
            return Err(e);
        }
        self.live.fetch_add(1, Ordering::Relaxed);
        if let Some(parent) = parent {
            if flags.monitor {
                self.with(slot, |p| p.extra().watchers.push(parent));
            }
            if flags.link {
                self.with(slot, |p| p.extra().links.push(parent));
            }
        }
        if let Some(to) = flags.exit_to {
            self.with(slot, |p| p.extra().exit_to.push(to));
        }
        self.notify(slot);
        Ok(pid)
    }

    /// Fails when the name a spawn's setup asks for is taken; call it before creating the
    /// child, so a failed spawn leaves nothing behind.
    pub fn check_setup(&self, setup: Option<&SpawnSetup>) -> Result<(), ErrorValue> {
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
    pub fn apply_setup(&self, pid: Pid, setup: Option<Box<SpawnSetup>>) {
        let Some(setup) = setup else { return };
        if let Some(name) = &setup.name {
            // Checked by `check_setup`; nothing ran on this worker in between.
            let _ = self.register(name, pid);
        }
        for msg in setup.messages {
            let _ = self.send(pid, msg);
        }
    }

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
            RunState::Queued => {}
            RunState::Running => p.news = true,
        }
    }

    /// Delivers an envelope to wherever `to` lives; `false` when it is not alive.
    pub fn post(&self, to: Pid, make: impl FnOnce(u32) -> Envelope) -> bool {
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

    /// Sends a user message (SPEC §5.2): `Err` when the receiver is not alive.
    pub fn send(&self, to: Pid, msg: Message) -> Result<(), Message> {
        let Some(addr) = self.node.route(to.num) else {
            return Err(msg);
        };
        if addr.host == Addr::CONTROL {
            // Supervisors and watchers have pids but no mailbox.
            return Ok(());
        }

        let env = Envelope::Message {
            to,
            slot: addr.slot,
            msg,
        };
        if self.is_local(addr) {
            self.apply(env);
        } else {
            self.node.post_addr(addr, env);
        }
        Ok(())
    }

    /// Queues a spawn on this worker, to be handled by its loop like one from another worker
    /// (through [`Engine::spawn`]). Used when the code to run belongs to another engine of
    /// this worker than the caller's.
    pub fn spawn_later(&self, req: SpawnRequest) {
        // Our own queue cannot be disconnected while we run.
        let _ = self
            .node
            .post_addr(self.my_addr(0), Envelope::Spawn(Box::new(req)));
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

    /// `slot` starts monitoring `target`.
    pub fn monitor(&self, slot: u32, target: Pid) -> Result<(), RelationError> {
        let me = self.pid_of(slot);
        if self.with(slot, |p| p.extra().watching.contains(&target)) {
            return Err(RelationError::AlreadyExists);
        }
        if !self.post(target, |s| Envelope::Relation {
            to: target,
            slot: s,
            other: me,
            op: RelationOp::Monitor,
        }) {
            return Err(RelationError::NotFound);
        }
        self.with(slot, |p| p.extra().watching.insert(target));
        Ok(())
    }

    /// `slot` stops monitoring `target`; no EXIT from it arrives afterwards.
    pub fn demonitor(&self, slot: u32, target: Pid) -> Result<(), RelationError> {
        let me = self.pid_of(slot);
        let was = self.with(slot, |p| p.extra().watching.remove(&target));
        // Drop an EXIT that may already be queued.
        self.with(slot, |p| {
            p.events
                .retain(|e| !(e.kind == EventKind::Exit && e.from == target))
        });
        let alive = self.post(target, |s| Envelope::Relation {
            to: target,
            slot: s,
            other: me,
            op: RelationOp::Demonitor,
        });
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
        if self.with(slot, |p| p.extra().links.contains(&target)) {
            return Ok(());
        }
        if !self.post(target, |s| Envelope::Relation {
            to: target,
            slot: s,
            other: me,
            op: RelationOp::Link,
        }) {
            return Err(RelationError::NotFound);
        }
        self.with(slot, |p| p.extra().links.push(target));
        Ok(())
    }

    /// Removes the link between `slot` and `target`.
    pub fn unlink(&self, slot: u32, target: Pid) -> Result<(), RelationError> {
        let me = self.pid_of(slot);
        self.with(slot, |p| p.extra().links.retain(|x| *x != target));
        if self.post(target, |s| Envelope::Relation {
            to: target,
            slot: s,
            other: me,
            op: RelationOp::Unlink,
        }) {
            Ok(())
        } else {
            Err(RelationError::NotFound)
        }
    }

    /// Registers `name` for `pid` (SPEC §5.6).
    pub fn register(&self, name: &str, pid: Pid) -> Result<(), RegisterError> {
        self.node.registry.insert(name, pid)?;
        if !self.node.is_alive(pid) {
            // It ended meanwhile: its exit may have released names before we inserted.
            self.node.registry.release(pid);
        }
        Ok(())
    }

    /// Arms a timer that wakes `slot` with [`Wakeup::Timer`]`(token)` at `at`.
    pub fn add_timer(&self, slot: u32, at: Instant, token: u64) {
        let seq = self.timer_seq.get() + 1;
        self.timer_seq.set(seq);
        let num = self.pid_of(slot).num;
        self.timers.borrow_mut().push(Reverse(TimerEntry {
            at,
            seq,
            slot,
            num,
            token,
        }));
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

    /// Applies an envelope addressed to a process on this worker.
    fn apply(&self, env: Envelope) {
        match env {
            Envelope::Message { to, slot, msg } => {
                let limit = self.max_mailbox;
                let over = self.with_live(slot, to, |p| {
                    // A process being killed reads nothing more: drop it, as its exit would.
                    if p.kill.is_some() {
                        return false;
                    }
                    p.route(msg);
                    crate::mailbox::enforce(p, limit)
                });
                if over == Some(true) {
                    crate::mailbox::warn(&self.node, to, limit);
                }
                if over.is_some() {
                    self.notify(slot);
                }
            }
            Envelope::Event { to, slot, event } => {
                if self
                    .with_live(slot, to, |p| {
                        if event.kind == EventKind::Exit {
                            // A monitor fires once: forget it, or a long-lived process that
                            // monitors many short ones grows this set forever.
                            if let Some(x) = &mut p.extra {
                                x.watching.remove(&event.from);
                            }
                        }
                        p.events.push_back(event)
                    })
                    .is_some()
                {
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
                    let x = p.extra();
                    let before = x.links.len();
                    x.links.retain(|l| *l != from);
                    if before == x.links.len() || !reason.is_error() {
                        return false;
                    }
                    if x.trap_links {
                        p.events.push_back(Event {
                            kind: EventKind::LinkDown,
                            from,
                            result: Some(reason),
                            reason: None,
                            at: unix_now(),
                        });
                    } else if p.kill.is_none() {
                        p.kill = Some(Box::new(
                            ErrorValue::new(ErrorKind::Canceled, "linked process failed")
                                .retryable(None),
                        ));
                    }
                    true
                });
                if hit == Some(true) {
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
                    let x = p.extra();
                    match op {
                        RelationOp::Monitor => x.watchers.push(other),
                        RelationOp::Demonitor => x.watchers.retain(|w| *w != other),
                        RelationOp::Link => {
                            if !x.links.contains(&other) {
                                x.links.push(other)
                            }
                        }
                        RelationOp::Unlink => x.links.retain(|w| *w != other),
                    }
                });
                if alive.is_none() {
                    self.relation_to_dead(to, other, op);
                }
            }
            Envelope::Kill { to, slot, reason } => {
                if self
                    .with_live(slot, to, |p| {
                        if p.kill.is_none() {
                            p.kill = Some(Box::new(reason))
                        }
                    })
                    .is_some()
                {
                    self.notify(slot);
                }
            }
            Envelope::Wake {
                to,
                slot,
                token,
                result,
            } => {
                if self
                    .with_live(slot, to, |p| p.wakeups.push(Wakeup::Done(token, result)))
                    .is_some()
                {
                    self.notify(slot);
                }
            }
            Envelope::Poll { to, slot } => {
                if self.with_live(slot, to, |_| ()).is_some() {
                    self.notify(slot);
                }
            }
            Envelope::Spawn(_) => unreachable!("spawn requests are handled by the loop"),
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

    fn with_live<R>(&self, slot: u32, pid: Pid, f: impl FnOnce(&mut ProcCore) -> R) -> Option<R> {
        let mut procs = self.procs.borrow_mut();
        match procs.get_mut(slot as usize) {
            Some(p) if p.pid == pid => Some(f(p)),
            _ => None,
        }
    }

    /// Ends a process: releases its pid and names and tells monitors and links.
    fn finish(&self, slot: u32, reason: ExitReason) {
        let p = self.procs.borrow_mut().remove(slot as usize);
        self.live.fetch_sub(1, Ordering::Relaxed);
        self.node.directory.remove(p.pid.num);
        self.node.registry.release(p.pid);
        let Some(x) = p.extra else { return };
        let from = p.pid;
        let at = unix_now();
        for w in x.watchers {
            let event = Event {
                kind: EventKind::Exit,
                from,
                result: Some(reason.clone()),
                reason: None,
                at,
            };
            self.post(w, |slot| Envelope::Event { to: w, slot, event });
        }
        for l in x.links {
            let reason = reason.clone();
            self.post(l, |slot| Envelope::LinkExit {
                to: l,
                slot,
                from,
                reason,
            });
        }
        for to in x.exit_to {
            self.reply(to, (*reason.0).clone());
        }
        for t in x.watching {
            self.post(t, |slot| Envelope::Relation {
                to: t,
                slot,
                other: from,
                op: RelationOp::Demonitor,
            });
        }
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
            let hit = {
                let mut procs = self.procs.borrow_mut();
                match procs.get_mut(t.slot as usize) {
                    Some(p) if p.pid.num == t.num => {
                        p.wakeups.push(Wakeup::Timer(t.token));
                        true
                    }
                    _ => false,
                }
            };
            if hit {
                self.notify(t.slot);
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.timers.borrow().peek().map(|Reverse(t)| t.at)
    }

    fn handle(&self, env: Envelope, engine: &mut dyn Engine) {
        match env {
            Envelope::Spawn(req) => {
                let reply = req.reply;
                let exit_to = req.flags.exit_to;
                // Like a step, a panic while creating the process fails only this spawn.
                let result =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine.spawn(*req)))
                        .unwrap_or_else(|panic| Err(panic_error(panic.as_ref())));
                if let (Err(e), Some(to)) = (&result, exit_to) {
                    // An exec waiter hears of a failed spawn as the child's error.
                    self.reply(to, Err(e.clone()));
                }
                if let Some(reply) = reply {
                    let result = result.map(|pid| {
                        Payload::one(crate::value::Value::str(self.node.format_pid(pid)))
                    });
                    self.reply(reply, result);
                }
            }
            other => self.apply(other),
        }
    }

    /// Runs the worker loop until shutdown.
    pub(crate) fn run(self: &Rc<Self>, engine: &mut dyn Engine) {
        let mut spins = 0u32;
        let mut idle_since: Option<Instant> = None;
        while !self.stop.get() {
            while let Ok(env) = self.rx.try_recv() {
                self.handle(env, engine);
            }
            if self.timers.borrow().peek().is_some() {
                self.fire_timers(Instant::now());
            }
            let next = self.ready.borrow_mut().pop_front();
            if let Some(slot) = next {
                spins = 0;
                idle_since = None;
                self.run_one(slot, engine);
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
            let got = match self.next_deadline() {
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
                self.handle(env, engine);
            }
        }
    }

    fn run_one(&self, slot: u32, engine: &mut dyn Engine) {
        let kill = {
            let mut procs = self.procs.borrow_mut();
            let Some(p) = procs.get_mut(slot as usize) else {
                return;
            };
            p.run = RunState::Running;
            p.news = false;
            p.kill.take()
        };
        if let Some(reason) = kill {
            self.release(slot, engine);
            self.finish(slot, ExitReason::error(*reason));
            return;
        }
        self.current.set(Some(slot));
        // A panic in engine code (a bug, or a library giving up, such as mlua out of handle
        // space) ends only the process being stepped; the worker and its other processes go on.
        let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine.step(slot)))
            .unwrap_or_else(|panic| Step::Exit(ExitReason::error(panic_error(panic.as_ref()))));
        self.current.set(None);
        match step {
            Step::Exit(reason) => {
                self.release(slot, engine);
                self.finish(slot, reason);
            }
            Step::Blocked | Step::Preempted => {
                let mut procs = self.procs.borrow_mut();
                let Some(p) = procs.get_mut(slot as usize) else {
                    return;
                };
                if matches!(step, Step::Preempted) || p.news || p.kill.is_some() {
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

    /// Subscribes `slot`'s inbox: returns nothing, messages stay in the mailbox queue.
    pub fn listen(&self, slot: u32, topic: &str) -> usize {
        self.with(slot, |p| {
            let x = p.extra.get_or_insert_with(Default::default);
            if let Some(i) = x.listeners.iter().position(|l| &*l.topic == topic) {
                return i;
            }
            let mut queue = VecDeque::new();
            let mut rest = VecDeque::with_capacity(p.mailbox.len());
            for m in p.mailbox.drain(..) {
                if &*m.topic == topic {
                    queue.push_back(m)
                } else {
                    rest.push_back(m)
                }
            }
            p.mailbox = rest;
            x.listeners.push(Listener {
                topic: topic.into(),
                queue,
            });
            x.listeners.len() - 1
        })
    }

    /// Removes a topic subscription; its undelivered messages go back to the mailbox front.
    pub fn unlisten(&self, slot: u32, topic: &str) {
        self.with(slot, |p| {
            let Some(x) = &mut p.extra else { return };
            if let Some(i) = x.listeners.iter().position(|l| &*l.topic == topic) {
                let l = x.listeners.remove(i);
                for m in l.queue.into_iter().rev() {
                    p.mailbox.push_front(m);
                }
            }
        })
    }
}

/// The INTERNAL error a caught panic becomes (`runtime panic: <message>`).
pub fn panic_error(panic: &(dyn std::any::Any + Send)) -> ErrorValue {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown cause".to_string());
    ErrorValue::new(ErrorKind::Internal, format!("runtime panic: {what}"))
}
