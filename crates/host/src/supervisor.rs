//! Services (`process.service`, SPEC §2.4): start in dependency order, restart with backoff,
//! stop gracefully in reverse dependency order.
//!
//! Who calls whom: the control loop ([`crate::runtime`]) owns the [`Supervisor`] and feeds it
//! what arrives on the control queue (spawn replies, EXIT events) and the passing of time
//! ([`Supervisor::tick`]). Each service has its own pid, a control-plane receiver: it asks its
//! host's worker to spawn the child (monitored by that pid), learns of the spawn's outcome
//! from the reply, and of the child's end from the EXIT event. Restarts and timeouts are
//! deadlines the control loop waits for.
//!
//! States: `Unknown` → `Starting` → `Running` → `Stopping` → `Stopped`;
//! `Starting`/`Running` → `Failed` (will retry, or has given up) or `Exited` (final). Every
//! change is logged as `service <id> is <state>`: at info, failures at error with the error.
//!
//! # Ordering
//! - A service starts only when its host is running and everything in its `requires` is
//!   `Running` (hosts named in `requires` count when they run). Services whose requirements
//!   are met start together, without waiting for each other.
//! - A restart that comes due while a requirement is not `Running` waits for it.
//! - On shutdown a service is asked to stop once every service that requires it has ended.
//!
//! # Cancellation
//! Stopping sends CANCEL (reason `"service stopping"`), waits up to `stop_timeout`, then
//! terminates the child; the caller bounds the whole sequence (`shutdown.timeout`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use starling_core::{
    Envelope, ErrorKind, ErrorValue, Event, EventKind, ExitResult, HostId, Node, Payload, Pid,
    ReplyTo, SpawnFlags, SpawnRequest, message::unix_now,
};
use starling_entry::{Entry, EntryId, EntrySpec, Lifecycle, format_go_duration};
use starling_lua::Level;

use crate::log::LogSink;

/// Reason carried by the CANCEL a stopping service sends its child.
pub const STOP_REASON: &str = "service stopping";
/// How long a terminated child may take to be gone before the service stops waiting.
pub const KILL_GRACE: Duration = Duration::from_millis(500);

/// Lifecycle state of a service.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Registered, not started yet (waiting for its host or requirements).
    Unknown,
    /// Spawn requested.
    Starting,
    /// The child is alive.
    Running,
    /// Asked to stop; waiting for the child to end.
    Stopping,
    /// Stopped on request.
    Stopped,
    /// Ended with an error; a restart is scheduled unless the policy gave up.
    Failed,
    /// Ended normally, or with a non-retryable error: never restarted.
    Exited,
}

impl State {
    /// Lower-case name for log lines.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Unknown => "unknown",
            State::Starting => "starting",
            State::Running => "running",
            State::Stopping => "stopping",
            State::Stopped => "stopped",
            State::Failed => "failed",
            State::Exited => "exited",
        }
    }
}

/// Something a service needs running before it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dep {
    /// Another service (index in the supervisor).
    Service(usize),
    /// A host entry.
    Host(HostId),
    /// An entry id that names nothing: every start attempt fails (SPEC §2.7).
    Missing(String),
}

/// One supervised process.
#[derive(Debug)]
pub struct Service {
    /// Entry id of the service.
    pub id: EntryId,
    /// Entry id of the process it runs.
    pub process: String,
    /// Host it runs on.
    pub host: HostId,
    /// Spawn arguments.
    pub input: Payload,
    /// The lifecycle block.
    pub lifecycle: Lifecycle,
    /// Its host, then its `requires`, resolved.
    pub deps: Vec<Dep>,
    /// The supervisor's own pid (allocated when first started).
    pub pid: Option<Pid>,
    /// Current state.
    pub state: State,
    /// The running child (or the one being spawned).
    pub child: Option<Pid>,
    /// Token of the spawn request in flight.
    pub pending: Option<u64>,
    /// When the spawn in flight times out.
    pub start_by: Option<Instant>,
    /// Start attempts so far (the first start counts; a stable run resets it to 1).
    pub attempts: u32,
    /// Consecutive failures (a run of at least `stable_threshold` resets it).
    pub failures: u32,
    /// When the current child started.
    pub started: Option<Instant>,
    /// When a scheduled restart is due.
    pub restart_at: Option<Instant>,
    /// A restart came due while a requirement was not running: start as soon as it is.
    pub waiting: bool,
    /// While stopping: when the child gets terminated.
    pub stop_by: Option<Instant>,
    /// While stopping: when to stop waiting for a terminated child.
    pub kill_by: Option<Instant>,
}

/// What a failure leads to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Restart after this delay.
    Restart(Duration),
    /// `max_attempts` reached: stays `Failed`.
    GiveUp,
    /// Non-retryable error: `Exited`.
    Exit,
}

impl Service {
    /// True when `auto_start` is set.
    pub fn auto_start(&self) -> bool {
        self.lifecycle.auto_start
    }

    /// True while the service has a child alive or being spawned.
    pub fn is_live(&self) -> bool {
        self.child.is_some() || self.pending.is_some()
    }

    /// Records a failed attempt (the child's error, or `None` when the start itself failed,
    /// which is always retried) and decides the next step; sets the state.
    pub fn on_failure(&mut self, err: Option<&ErrorValue>, now: Instant, random: f64) -> Next {
        if let Some(started) = self.started {
            if now.duration_since(started) >= self.lifecycle.stable_threshold {
                // A stable run: backoff and the attempt budget start over.
                self.failures = 0;
                self.attempts = 1;
            }
        }
        self.failures += 1;
        self.child = None;
        self.started = None;
        self.pending = None;
        self.start_by = None;
        if err.is_some_and(|e| e.retryable == Some(false)) {
            self.state = State::Exited;
            return Next::Exit;
        }
        self.state = State::Failed;
        let max = self.lifecycle.restart.max_attempts;
        if max > 0 && self.attempts >= max {
            return Next::GiveUp;
        }
        Next::Restart(backoff(&self.lifecycle, self.failures, random))
    }
}

/// Delay before the restart after the `n`-th consecutive failure (SPEC §2.4):
/// `min(initial × factor^(n−1), max)` times a uniform factor in `[1 − jitter, 1 + jitter]`,
/// where `random` is uniform in `[0, 1)`.
pub fn backoff(l: &Lifecycle, n: u32, random: f64) -> Duration {
    let r = &l.restart;
    let exp = n.saturating_sub(1).min(1024) as i32;
    let base = r.initial_delay.as_secs_f64() * r.backoff_factor.powi(exp);
    let capped = base.min(r.max_delay.as_secs_f64());
    let spread = 1.0 + r.jitter * (2.0 * random - 1.0);
    let secs = capped * spread;
    if secs.is_finite() && secs > 0.0 {
        Duration::from_secs_f64(secs)
    } else {
        Duration::ZERO
    }
}

/// A small xorshift generator for jitter (no need for a crypto-grade source).
#[derive(Debug)]
pub struct Jitter(u64);

impl Jitter {
    /// Seeded from the clock.
    pub fn new() -> Jitter {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        Jitter(seed | 1)
    }

    /// Uniform in `[0, 1)`.
    pub fn sample(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Default for Jitter {
    fn default() -> Self {
        Jitter::new()
    }
}

/// Every service of the node and the policy that drives them.
#[derive(Debug)]
pub struct Supervisor {
    node: Arc<Node>,
    log: Arc<LogSink>,
    /// The services, in entry id order; the index is the control slot of the service's pid.
    pub services: Vec<Service>,
    jitter: Jitter,
    next_token: u64,
    stopping: bool,
    /// Process entries that cannot run, with the reason (issue 13): their services fail at
    /// once, without retries.
    disabled: std::collections::HashMap<String, String>,
    /// Where `system.supervisor` reads service states.
    states: Option<Arc<parking_lot::RwLock<Vec<starling_lua::ServiceState>>>>,
    /// The last error of each service, for the states.
    last_error: Vec<Option<String>>,
}

impl Supervisor {
    /// Entries that cannot run (a module Starling lacks...): a service of one fails loudly
    /// at its first start instead of retrying forever.
    pub fn set_disabled(&mut self, disabled: std::collections::HashMap<String, String>) {
        self.disabled = disabled;
    }

    /// Why entry `id` cannot run, when it is disabled.
    pub fn disabled_reason(&self, id: &str) -> Option<&str> {
        self.disabled.get(id).map(String::as_str)
    }

    /// Publishes every state change to `states` (for the `system` module).
    pub fn share_states(
        &mut self,
        states: Arc<parking_lot::RwLock<Vec<starling_lua::ServiceState>>>,
    ) {
        self.states = Some(states);
        self.publish_states();
    }

    fn publish_states(&self) {
        let Some(shared) = &self.states else { return };
        let now = starling_core::message::unix_now();
        let list = self
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| starling_lua::ServiceState {
                id: s.id.to_string(),
                status: s.state.as_str().to_string(),
                desired: if self.stopping { "stopped" } else { "running" }.to_string(),
                retry_count: u64::from(s.failures),
                last_update: now,
                started_at: if s.started.is_some() { now } else { 0 },
                details: self.last_error.get(i).cloned().flatten(),
            })
            .collect();
        *shared.write() = list;
    }

    /// One service per `process.service` entry. Hosts and `requires` are resolved here; the
    /// loader has already rejected unknown hosts, wrong kinds and cycles.
    pub fn new(node: Arc<Node>, log: Arc<LogSink>, entries: &[Entry]) -> Supervisor {
        let ids: Vec<&EntryId> = entries
            .iter()
            .filter(|e| matches!(e.spec, EntrySpec::Service(_)))
            .map(|e| &e.id)
            .collect();
        let mut services = Vec::new();
        for e in entries {
            let EntrySpec::Service(s) = &e.spec else {
                continue;
            };
            let host = node
                .host_id(&s.host.to_string())
                .expect("the loader checked that the host exists");
            let mut deps = vec![Dep::Host(host)];
            for r in &s.lifecycle.requires {
                let dep = if let Some(j) = ids.iter().position(|i| *i == r) {
                    Dep::Service(j)
                } else if let Some(h) = node.host_id(&r.to_string()) {
                    Dep::Host(h)
                } else {
                    Dep::Missing(r.to_string())
                };
                if !deps.contains(&dep) {
                    deps.push(dep);
                }
            }
            services.push(Service {
                id: e.id.clone(),
                process: s.process.to_string(),
                host,
                input: json_payload(&s.input),
                lifecycle: s.lifecycle.clone(),
                deps,
                pid: None,
                state: State::Unknown,
                child: None,
                pending: None,
                start_by: None,
                attempts: 0,
                failures: 0,
                started: None,
                restart_at: None,
                waiting: false,
                stop_by: None,
                kill_by: None,
            });
        }
        let count = services.len();
        Supervisor {
            node,
            log,
            services,
            jitter: Jitter::new(),
            next_token: 0,
            stopping: false,
            disabled: std::collections::HashMap::new(),
            states: None,
            last_error: vec![None; count],
        }
    }

    fn log_state(&mut self, i: usize, level: Level, fields: Vec<(String, Json)>) {
        let s = &self.services[i];
        let msg = format!("service {} is {}", s.id, s.state.as_str());
        if let Some((_, Json::String(e))) = fields.iter().find(|(k, _)| k == "error") {
            self.last_error[i] = Some(e.clone());
        }
        self.log.runtime(level, &msg, fields);
        self.publish_states();
    }

    fn set_state(&mut self, i: usize, state: State) {
        self.services[i].state = state;
        self.log_state(i, Level::Info, Vec::new());
    }

    /// Warns about services that can never start because a host they need is not running
    /// or a service they require does not auto-start.
    pub fn warn_blocked(&self) {
        for (i, s) in self.services.iter().enumerate() {
            if !s.auto_start() {
                continue;
            }
            for d in &s.deps {
                let why = match d {
                    Dep::Host(h) if !self.node.host_running(*h) => format!(
                        "host {} is not running (set lifecycle.auto_start: true)",
                        self.node.host_name(*h)
                    ),
                    Dep::Service(j) if !self.will_start(*j) => format!(
                        "required service {} never starts (it, or something it needs, has no lifecycle.auto_start)",
                        self.services[*j].id
                    ),
                    _ => continue,
                };
                let msg = format!("service {} cannot start: {why}", self.services[i].id);
                self.log.runtime(Level::Warn, &msg, Vec::new());
            }
        }
    }

    /// Whether service `j` starts at some point (auto-start, and so do its requirements).
    fn will_start(&self, j: usize) -> bool {
        let s = &self.services[j];
        s.auto_start()
            && s.deps.iter().all(|d| match d {
                Dep::Service(k) => self.will_start(*k),
                Dep::Host(h) => self.node.host_running(*h),
                Dep::Missing(_) => true,
            })
    }

    /// True when a requirement of `i` has ended for good, so `i` can never start.
    fn blocked(&self, i: usize) -> bool {
        self.services[i].deps.iter().any(|d| match d {
            Dep::Host(h) => !self.node.host_running(*h),
            Dep::Service(j) => {
                let s = &self.services[*j];
                match s.state {
                    State::Unknown => !s.auto_start() || self.blocked(*j),
                    State::Exited | State::Stopped | State::Stopping => true,
                    State::Failed => s.restart_at.is_none() && !s.waiting,
                    State::Starting | State::Running => false,
                }
            }
            Dep::Missing(_) => false,
        })
    }

    fn deps_running(&self, i: usize) -> bool {
        self.services[i].deps.iter().all(|d| match d {
            Dep::Host(h) => self.node.host_running(*h),
            Dep::Service(j) => self.services[*j].state == State::Running,
            Dep::Missing(_) => true,
        })
    }

    /// True once every auto-start service is running or will not get there by itself:
    /// exited, given up, or waiting for something that never runs. A service between a
    /// failure and its restart is not settled.
    pub fn settled(&self) -> bool {
        (0..self.services.len()).all(|i| {
            let s = &self.services[i];
            !s.auto_start()
                || match s.state {
                    State::Running | State::Exited | State::Stopped => true,
                    State::Failed => (s.restart_at.is_none() && !s.waiting) || self.blocked(i),
                    State::Unknown => self.blocked(i),
                    State::Starting | State::Stopping => false,
                }
        })
    }

    /// Starts every service that is due (boot, or a restart that waited) and whose
    /// requirements are running.
    pub fn start_ready(&mut self) {
        if self.stopping {
            return;
        }
        for i in 0..self.services.len() {
            let s = &self.services[i];
            let due = (s.state == State::Unknown && s.auto_start()) || s.waiting;
            if due && self.deps_running(i) {
                self.start(i);
            }
        }
    }

    fn start(&mut self, i: usize) {
        self.next_token += 1;
        let token = self.next_token;
        let now = Instant::now();
        let s = &mut self.services[i];
        s.restart_at = None;
        s.waiting = false;
        s.attempts += 1;
        let sup = match s.pid {
            Some(p) => p,
            None => {
                let num = self.node.next_num();
                let pid = self.node.register_control(s.host, num, i as u32);
                s.pid = Some(pid);
                pid
            }
        };
        let missing = s.deps.iter().find_map(|d| match d {
            Dep::Missing(id) => Some(id.clone()),
            _ => None,
        });
        self.set_state(i, State::Starting);
        if let Some(why) = self.disabled.get(&self.services[i].process).cloned() {
            let mut err = ErrorValue::new(
                ErrorKind::NotFound,
                format!("entry {} cannot run: {why}", self.services[i].process),
            );
            err.retryable = Some(false);
            let next = self.services[i].on_failure(Some(&err), Instant::now(), 0.0);
            self.after_failure(i, &err, next);
            return;
        }
        if let Some(id) = missing {
            let err = ErrorValue::new(
                ErrorKind::NotFound,
                format!("required entry {id} not found"),
            );
            self.start_failed(i, &err);
            return;
        }
        let s = &mut self.services[i];
        // The child's number is taken now, right after the supervisor's, as Wippy does.
        let num = self.node.next_num();
        let child = Pid::local(s.host, num);
        s.child = Some(child);
        s.pending = Some(token);
        s.start_by = Some(now + s.lifecycle.start_timeout);
        let req = SpawnRequest {
            entry: s.process.as_str().into(),
            host: s.host,
            args: s.input.clone(),
            parent: Some(sup),
            flags: SpawnFlags {
                monitor: true,
                ..SpawnFlags::default()
            },
            reply: Some(ReplyTo { pid: sup, token }),
            num,
            setup: None,
        };
        if let Err(e) = self.node.request_spawn(req) {
            self.start_failed(i, &e);
        }
    }

    /// A start attempt failed before the child ran: always retried (SPEC §2.7).
    fn start_failed(&mut self, i: usize, e: &ErrorValue) {
        let next = self.services[i].on_failure(None, Instant::now(), self.jitter.sample());
        self.after_failure(i, e, next);
    }

    fn after_failure(&mut self, i: usize, e: &ErrorValue, next: Next) {
        if self.stopping && matches!(next, Next::Restart(_)) {
            // Shutting down: the failure is logged, no restart is planned.
            self.log_state(
                i,
                Level::Error,
                vec![("error".to_string(), Json::String(e.full_message()))],
            );
            return;
        }
        let attempt = self.services[i].attempts;
        let mut fields = vec![
            ("error".to_string(), Json::String(e.full_message())),
            ("attempt".to_string(), Json::from(attempt)),
        ];
        if next == Next::Exit {
            fields.push(("retryable".into(), Json::Bool(false)));
        }
        self.log_state(i, Level::Error, fields);
        let s = &mut self.services[i];
        match next {
            Next::Restart(d) => {
                s.restart_at = Some(Instant::now() + d);
                let msg = format!("service {} will restart in {}", s.id, go_duration(d, true));
                let fields = vec![
                    ("attempt".to_string(), Json::from(attempt + 1)),
                    (
                        "delay_ms".to_string(),
                        Json::from((d.as_secs_f64() * 1000.0).round() as u64),
                    ),
                ];
                self.log.runtime(Level::Info, &msg, fields);
            }
            Next::GiveUp => {
                let msg = format!(
                    "service {} gave up after {} attempts",
                    s.id, s.lifecycle.restart.max_attempts
                );
                self.log.runtime(Level::Error, &msg, Vec::new());
            }
            Next::Exit => {}
        }
    }

    /// A spawn reply for service `i`.
    pub fn on_spawned(&mut self, i: usize, token: u64, result: ExitResult) {
        let Some(s) = self.services.get_mut(i) else {
            return;
        };
        if s.pending != Some(token) {
            // The attempt timed out meanwhile: do not leave its child behind.
            if let Ok(p) = &result {
                if let Some(pid) = pid_of(&self.node, p) {
                    if Some(pid) != s.child {
                        kill(&self.node, pid);
                    }
                }
            }
            return;
        }
        s.pending = None;
        s.start_by = None;
        match result {
            Ok(_) => {
                s.started = Some(Instant::now());
                self.set_state(i, State::Running);
                self.start_ready();
            }
            Err(e) => {
                self.services[i].child = None;
                self.start_failed(i, &e);
            }
        }
    }

    /// The EXIT of a child of service `i`.
    pub fn on_exit(&mut self, i: usize, from: Pid, result: ExitResult) {
        let Some(s) = self.services.get_mut(i) else {
            return;
        };
        if s.child != Some(from) || s.pending.is_some() {
            return;
        }
        if s.state == State::Stopping {
            s.child = None;
            s.stop_by = None;
            s.kill_by = None;
            self.set_state(i, State::Stopped);
            return;
        }
        match result {
            Ok(_) => {
                s.child = None;
                s.started = None;
                self.set_state(i, State::Exited);
            }
            Err(e) => {
                let next = s.on_failure(Some(&e), Instant::now(), self.jitter.sample());
                self.after_failure(i, &e, next);
            }
        }
    }

    /// The earliest deadline (restart, start timeout, stop timeout).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.services
            .iter()
            .flat_map(|s| [s.restart_at, s.start_by, s.stop_by, s.kill_by])
            .flatten()
            .min()
    }

    /// Handles everything due at `now`.
    pub fn tick(&mut self, now: Instant) {
        for i in 0..self.services.len() {
            let s = &mut self.services[i];
            if s.start_by.is_some_and(|t| t <= now) && s.pending.is_some() {
                let timeout = s.lifecycle.start_timeout;
                if let Some(child) = s.child {
                    kill(&self.node, child);
                }
                let e = ErrorValue::new(
                    ErrorKind::Timeout,
                    format!("start timed out after {}", go_duration(timeout, false)),
                );
                self.start_failed(i, &e);
            }
            let s = &mut self.services[i];
            if s.restart_at.is_some_and(|t| t <= now) {
                s.restart_at = None;
                s.waiting = true;
            }
            if s.state == State::Stopping {
                if s.stop_by.is_some_and(|t| t <= now) {
                    s.stop_by = None;
                    s.kill_by = Some(now + KILL_GRACE);
                    if let Some(child) = s.child {
                        let msg = format!("service {} did not stop in time, terminating", s.id);
                        kill(&self.node, child);
                        self.log.runtime(Level::Warn, &msg, Vec::new());
                    }
                } else if s.kill_by.is_some_and(|t| t <= now) {
                    // Terminated but never reported gone (its worker is stuck): stop waiting.
                    s.kill_by = None;
                    s.child = None;
                    self.set_state(i, State::Stopped);
                }
            }
        }
        self.start_ready();
        if self.stopping {
            self.stop_ready(now);
        }
    }

    /// Begins a graceful stop of every service in reverse dependency order.
    pub fn begin_stop(&mut self) {
        self.stopping = true;
        for s in &mut self.services {
            s.restart_at = None;
            s.waiting = false;
        }
        self.stop_ready(Instant::now());
    }

    /// True once no service has a child alive or being spawned.
    pub fn all_stopped(&self) -> bool {
        self.services.iter().all(|s| !s.is_live())
    }

    /// Asks every running service that nothing running requires any more to stop.
    fn stop_ready(&mut self, now: Instant) {
        for i in 0..self.services.len() {
            if self.services[i].state != State::Running || self.services[i].child.is_none() {
                continue;
            }
            let dependents_live = self
                .services
                .iter()
                .any(|o| o.is_live() && o.deps.contains(&Dep::Service(i)));
            if dependents_live {
                continue;
            }
            let s = &mut self.services[i];
            s.stop_by = Some(now + s.lifecycle.stop_timeout);
            self.cancel_child(i);
            self.set_state(i, State::Stopping);
        }
    }

    /// Exec-mode shutdown: CANCEL every child at once, no ordering.
    pub fn cancel_all(&mut self) {
        self.stopping = true;
        for i in 0..self.services.len() {
            let s = &mut self.services[i];
            s.restart_at = None;
            s.waiting = false;
            if s.child.is_some() && s.pending.is_none() && s.state == State::Running {
                s.state = State::Stopping;
                self.cancel_child(i);
            }
        }
    }

    /// Terminates every child still alive (end of the shutdown budget).
    pub fn kill_all(&mut self) {
        for s in &self.services {
            if let Some(child) = s.child {
                kill(&self.node, child);
            }
        }
    }

    fn cancel_child(&self, i: usize) {
        let s = &self.services[i];
        let (Some(child), Some(sup)) = (s.child, s.pid) else {
            return;
        };
        let event = Event {
            kind: EventKind::Cancel,
            from: sup,
            result: None,
            reason: Some(STOP_REASON.into()),
            at: unix_now(),
        };
        self.node.post(child, |slot| Envelope::Event {
            to: child,
            slot,
            event,
        });
    }
}

/// A duration as Go prints it, optionally rounded to whole milliseconds.
fn go_duration(d: Duration, round_ms: bool) -> String {
    let nanos = if round_ms {
        (d.as_secs_f64() * 1000.0).round() as u128 * 1_000_000
    } else {
        d.as_nanos()
    };
    format_go_duration(nanos.min(i64::MAX as u128) as i64)
}

/// Ends `pid` as `process.terminate` does.
pub fn kill(node: &Node, pid: Pid) {
    let reason = ErrorValue::new(ErrorKind::Canceled, "process terminated").retryable(None);
    node.post(pid, |slot| Envelope::Kill {
        to: pid,
        slot,
        reason,
    });
}

/// The pid in a spawn reply.
pub fn pid_of(node: &Node, p: &Payload) -> Option<Pid> {
    match p.values.first() {
        Some(starling_core::Value::Str(s)) => node.parse_pid(std::str::from_utf8(s).ok()?).ok(),
        _ => None,
    }
}

/// Service `input` (YAML values) as a payload with real tables.
fn json_payload(values: &[Json]) -> Payload {
    let mut p = Payload::empty();
    for v in values {
        let v = json_into(&mut p, v);
        p.values.push(v);
    }
    p
}

fn json_into(p: &mut Payload, v: &Json) -> starling_core::Value {
    use starling_core::Value;
    match v {
        Json::Array(a) => {
            let i = p.tables.len();
            p.tables.push(Default::default());
            let items: Vec<Value> = a.iter().map(|x| json_into(p, x)).collect();
            p.tables[i].array = items;
            Value::Table(i as u32)
        }
        Json::Object(m) => {
            let i = p.tables.len();
            p.tables.push(Default::default());
            let items: Vec<(Value, Value)> = m
                .iter()
                .map(|(k, x)| (Value::str(k), json_into(p, x)))
                .collect();
            p.tables[i].hash = items;
            Value::Table(i as u32)
        }
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => Value::str(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use starling_entry::{RestartPolicy, Startup};

    fn lifecycle() -> Lifecycle {
        Lifecycle {
            auto_start: true,
            start_timeout: Duration::from_secs(10),
            stop_timeout: Duration::from_secs(10),
            stable_threshold: Duration::from_secs(5),
            requires: Vec::new(),
            startup: Startup::Required,
            restart: RestartPolicy {
                initial_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(90),
                backoff_factor: 2.0,
                jitter: 0.1,
                max_attempts: 0,
            },
        }
    }

    fn service(l: Lifecycle) -> Service {
        Service {
            id: EntryId::new("app", "svc"),
            process: "app:p".into(),
            host: HostId(0),
            input: Payload::empty(),
            lifecycle: l,
            deps: Vec::new(),
            pid: None,
            state: State::Running,
            child: None,
            pending: None,
            start_by: None,
            attempts: 0,
            failures: 0,
            started: None,
            restart_at: None,
            waiting: false,
            stop_by: None,
            kill_by: None,
        }
    }

    #[test]
    fn backoff_grows_and_caps() {
        let l = lifecycle();
        assert_eq!(backoff(&l, 1, 0.5), Duration::from_secs(1));
        assert_eq!(backoff(&l, 2, 0.5), Duration::from_secs(2));
        assert_eq!(backoff(&l, 3, 0.5), Duration::from_secs(4));
        assert_eq!(backoff(&l, 20, 0.5), Duration::from_secs(90));
        assert_eq!(backoff(&l, u32::MAX, 0.5), Duration::from_secs(90));
        assert!(backoff(&l, 1, 0.0) >= Duration::from_millis(899));
        assert!(backoff(&l, 1, 0.999) <= Duration::from_millis(1101));
    }

    #[test]
    fn jitter_stays_in_range() {
        let mut j = Jitter::new();
        for _ in 0..1000 {
            let x = j.sample();
            assert!((0.0..1.0).contains(&x));
        }
    }

    /// One start attempt that fails after running for `ran`.
    fn fail(s: &mut Service, ran: Duration, err: &ErrorValue) -> Next {
        let now = Instant::now();
        s.attempts += 1;
        s.started = Some(now - ran);
        s.on_failure(Some(err), now, 0.5)
    }

    #[test]
    fn max_attempts_counts_the_first_start() {
        let mut l = lifecycle();
        l.restart.max_attempts = 3;
        let mut s = service(l);
        let boom = ErrorValue::new(ErrorKind::Unknown, "boom").retryable(None);
        let short = Duration::from_millis(1);
        assert_eq!(
            fail(&mut s, short, &boom),
            Next::Restart(Duration::from_secs(1))
        );
        assert_eq!(
            fail(&mut s, short, &boom),
            Next::Restart(Duration::from_secs(2))
        );
        assert_eq!(fail(&mut s, short, &boom), Next::GiveUp);
        assert_eq!(s.state, State::Failed);
    }

    #[test]
    fn a_stable_run_resets_backoff_and_attempts() {
        let mut l = lifecycle();
        l.restart.max_attempts = 2;
        let mut s = service(l);
        let boom = ErrorValue::new(ErrorKind::Unknown, "boom").retryable(None);
        let short = Duration::from_millis(1);
        assert_eq!(
            fail(&mut s, short, &boom),
            Next::Restart(Duration::from_secs(1))
        );
        // The second run lasts longer than stable_threshold: as if it were the first.
        let long = Duration::from_secs(6);
        assert_eq!(
            fail(&mut s, long, &boom),
            Next::Restart(Duration::from_secs(1))
        );
        assert_eq!(
            fail(&mut s, long, &boom),
            Next::Restart(Duration::from_secs(1))
        );
        assert_eq!(fail(&mut s, short, &boom), Next::GiveUp);
    }

    /// An engine whose process starts wait until the test opens `gate`, and whose processes
    /// block forever.
    struct GatedEngine {
        gate: crossbeam_channel::Receiver<()>,
    }

    impl starling_core::Engine for GatedEngine {
        fn step(&mut self, _slot: u32) -> starling_core::Step {
            starling_core::Step::Blocked
        }
        fn start(
            &mut self,
            _slot: u32,
            _pid: Pid,
            _args: starling_core::StartArgs,
        ) -> Result<(), ErrorValue> {
            let _ = self.gate.recv();
            Ok(())
        }
        fn release(&mut self, _slot: u32) {}
    }

    #[test]
    fn start_timeout_fails_the_attempt_and_kills_a_late_child() {
        use starling_entry::{Origin, ServiceSpec};
        let mut b = Node::builder();
        let host = b.host("app:h", starling_core::HostKind::Process);
        let node = b.build();
        // The spawn answers only once the attempt has timed out, however slow the machine.
        let (open, gate) = crossbeam_channel::unbounded::<()>();
        let setup = starling_core::WorkerSetup::single(Arc::new(move |_| {
            Box::new(GatedEngine { gate: gate.clone() })
        }));
        starling_core::start_host(&node, host, 1, setup).expect("start host");
        let (tx, rx) = crossbeam_channel::unbounded();
        node.set_control(tx);
        let mut l = lifecycle();
        l.start_timeout = Duration::from_millis(50);
        l.restart.initial_delay = Duration::from_secs(60);
        let entry = Entry {
            id: EntryId::new("app", "svc"),
            kind: "process.service".into(),
            meta: Default::default(),
            data: Default::default(),
            origin: Origin {
                file: "src/_index.yaml".into(),
                line: None,
                index: None,
            },
            spec: EntrySpec::Service(ServiceSpec {
                process: EntryId::new("app", "p"),
                host: EntryId::new("app", "h"),
                input: Vec::new(),
                lifecycle: l,
            }),
        };
        let log = Arc::new(LogSink::new(crate::log::Encoding::Console, None, None));
        let mut sup = Supervisor::new(node.clone(), log, &[entry]);
        sup.start_ready();
        assert_eq!(sup.services[0].state, State::Starting);
        let child = sup.services[0].child.expect("child pid chosen in advance");
        // A generous deadline: only a hang reaches it.
        let end = Instant::now() + Duration::from_secs(120);
        while sup.services[0].state == State::Starting && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(5));
            sup.tick(Instant::now());
        }
        assert_eq!(
            sup.services[0].state,
            State::Failed,
            "the attempt timed out"
        );
        open.send(()).expect("open the gate");
        let mut late_reply = false;
        while Instant::now() < end && (!late_reply || node.is_alive(child)) {
            if let Ok(Envelope::Wake {
                slot,
                token,
                result,
                ..
            }) = rx.recv_timeout(Duration::from_millis(10))
            {
                late_reply = true;
                sup.on_spawned(slot as usize, token, result);
            }
            sup.tick(Instant::now());
        }
        let s = &sup.services[0];
        assert_eq!(s.state, State::Failed);
        assert_eq!(s.attempts, 1);
        assert!(s.restart_at.is_some(), "a restart is scheduled");
        assert!(late_reply, "the spawn answered after the timeout");
        assert!(!node.is_alive(child), "the late child was terminated");
        node.shutdown();
    }

    #[test]
    fn non_retryable_errors_exit() {
        let mut s = service(lifecycle());
        let fatal = ErrorValue::new(ErrorKind::Invalid, "bad config");
        assert_eq!(fail(&mut s, Duration::ZERO, &fatal), Next::Exit);
        assert_eq!(s.state, State::Exited);
        // A failed start (no error object) is always retried.
        let mut s = service(lifecycle());
        s.attempts = 1;
        assert!(matches!(
            s.on_failure(None, Instant::now(), 0.5),
            Next::Restart(_)
        ));
    }
}
