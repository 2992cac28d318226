//! Booting a project and running it until it is done: `starling run` and `starling run -x`.
//!
//! Boot: load entries, compile Lua, build the node with every host, start the auto-start
//! hosts' workers, then the control loop on the calling thread starts services in dependency
//! order and, in exec mode, the exec process once every auto-start service is running.
//!
//! # Shutdown
//! - Exec mode, process finished: services get CANCEL and a short grace period
//!   ([`EXEC_GRACE`]); whatever is left (the Echo relay ignores CANCEL) ends with the OS process.
//! - Exec mode, SIGINT/SIGTERM: the exec process gets CANCEL and [`INTERRUPT_GRACE`] to end,
//!   then the same; exit 130/143.
//! - Service mode, SIGINT/SIGTERM: services stop one by one in reverse start order, each with
//!   CANCEL, up to its `stop_timeout`, then a kill; the whole sequence is bounded by
//!   `shutdown.timeout`; exit 0.
//! - A second signal exits at once with status 1.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, select};
use serde_json::Value as Json;
use starling_core::{
    Envelope, ErrorKind, ErrorValue, Event, EventKind, ExitResult, HostKind, Node, Payload, Pid,
    ReplyTo, SpawnFlags, SpawnRequest, Value, message::unix_now,
};
use starling_entry::{EntrySpec, LoadOptions, Project, load_project};
use starling_lua::{Level, LuaEngine, Program, Services};

use crate::error::BootError;
use crate::exec::{ExecTarget, exit_outcome, resolve_target};
use crate::log::{Encoding, LogSink};
use crate::services::HostServices;
use crate::supervisor::{Jitter, Service, State};
use crate::terminal::StdTerminal;

/// Time services get to end after the exec process has finished.
pub const EXEC_GRACE: Duration = Duration::from_millis(100);
/// Time the exec process gets to end after SIGINT/SIGTERM before it is terminated.
pub const INTERRUPT_GRACE: Duration = Duration::from_millis(500);
/// How long exec mode waits for auto-start services to be running.
pub const BOOT_WAIT: Duration = Duration::from_secs(5);

const EXEC_SLOT: u32 = u32::MAX;

/// Log flags from the command line.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogFlags {
    /// `-v`: debug level for all logs.
    pub verbose: bool,
    /// `-c`: coloured console format.
    pub color: bool,
    /// `-s`: no log output.
    pub silent: bool,
    /// `--very-verbose`: a failed exec process prints its Lua stack trace after the message.
    pub stacks: bool,
}

/// What `run -x` should start.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    /// `app:cli` or `app:terminal/app:cli`.
    pub spec: String,
    /// `--host`.
    pub host: Option<String>,
    /// Arguments after the spec.
    pub args: Vec<String>,
}

/// Everything `run` needs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Project directory (where `wippy.lock` is).
    pub dir: PathBuf,
    /// Lock file, config files, `--set`, `-o`.
    pub load: LoadOptions,
    /// Log flags.
    pub log: LogFlags,
    /// Exec mode target, or `None` for service mode.
    pub exec: Option<ExecRequest>,
}

fn level_of(n: i64) -> Level {
    match n {
        i64::MIN..=-1 => Level::Debug,
        0 => Level::Info,
        1 => Level::Warn,
        _ => Level::Error,
    }
}

fn make_sink(project: &Project, flags: LogFlags, exec: bool) -> LogSink {
    let cfg = &project.config;
    let encoding = if cfg.logger_encoding() == "json" {
        Encoding::Json
    } else if flags.color {
        Encoding::Color
    } else {
        Encoding::Console
    };
    if flags.silent || !cfg.propagate_downstream() {
        return LogSink::new(encoding, None, None);
    }
    let app = if flags.verbose {
        Level::Debug
    } else {
        cfg.min_level().map(level_of).unwrap_or(Level::Info)
    };
    let runtime = if exec && !flags.verbose && !flags.color {
        Level::Warn.max(app)
    } else {
        app
    };
    LogSink::new(encoding, Some(app), Some(runtime))
}

/// Boots the project and runs it; returns the exit status.
pub fn run(opts: RunOptions) -> Result<i32, BootError> {
    let project = load_project(&opts.dir, &opts.load)?;
    let program = Arc::new(Program::build(&project.entries).map_err(BootError::Program)?);
    let target = match &opts.exec {
        Some(x) => Some(resolve_target(&project, &x.spec, x.host.as_deref())?),
        None => None,
    };
    let log = Arc::new(make_sink(&project, opts.log, target.is_some()));
    for w in &project.warnings {
        log.runtime(Level::Warn, w, Vec::new());
    }

    let mut builder = Node::builder();
    for e in &project.entries {
        match &e.spec {
            EntrySpec::ProcessHost(_) => {
                builder.host(&e.id.to_string(), HostKind::Process);
            }
            EntrySpec::TerminalHost(_) => {
                builder.host(&e.id.to_string(), HostKind::Terminal);
            }
            _ => {}
        }
    }
    let node = builder.build();
    let args = opts
        .exec
        .as_ref()
        .map(|x| x.args.clone())
        .unwrap_or_default();
    let terminal = Arc::new(StdTerminal::new(args.clone()));
    terminal.attach(node.clone());
    log.attach_terminal(terminal.clone());
    let services: Arc<dyn Services> = Arc::new(HostServices {
        log: log.clone(),
        terminal: terminal.clone(),
    });
    let factory: starling_core::EngineFactory = {
        let program = program.clone();
        Arc::new(move |local| {
            match LuaEngine::new(local.clone(), program.clone(), services.clone()) {
                Ok(engine) => Box::new(engine),
                Err(e) => {
                    eprintln!("starling: cannot create a Lua VM: {e}");
                    std::process::exit(1);
                }
            }
        })
    };
    for e in &project.entries {
        let (workers, auto) = match &e.spec {
            EntrySpec::ProcessHost(h) => (h.workers, h.lifecycle.auto_start),
            EntrySpec::TerminalHost(t) => (1, t.lifecycle.auto_start),
            _ => continue,
        };
        if !auto {
            continue;
        }
        let id = e.id.to_string();
        let host = node.host_id(&id).expect("host declared above");
        node.start_host(host, workers, factory.clone())
            .map_err(|source| BootError::Host {
                host: id.clone(),
                source,
            })?;
        log.runtime(
            Level::Debug,
            &format!("host {id} started"),
            vec![("workers".into(), Json::from(workers))],
        );
    }

    let (tx, rx) = crossbeam_channel::unbounded();
    node.set_control(tx);
    let signals = install_signals()?;
    let mut control = Control::new(node, log, rx, signals, &project);
    control.terminal = Some(terminal.clone());
    let code = match target {
        Some(t) => {
            let hide = project.entries.iter().any(|e| {
                e.id == t.host && matches!(&e.spec, EntrySpec::TerminalHost(h) if h.hide_logs)
            });
            control.stacks = opts.log.stacks;
            control.run_exec(&t, args, hide)
        }
        None => control.run_services(project.config.shutdown_timeout()),
    };
    terminal.restore();
    Ok(code)
}

fn install_signals() -> Result<Receiver<i32>, BootError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals =
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).map_err(BootError::Signals)?;
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if tx.send(sig).is_err() {
                    break;
                }
            }
        })
        .map_err(BootError::Signals)?;
    Ok(rx)
}

struct ExecState {
    watcher: Pid,
    token: u64,
    child: Option<Pid>,
    result: Option<ExitResult>,
}

/// The control plane: supervisors, the exec watcher, signals.
struct Control {
    node: Arc<Node>,
    log: Arc<LogSink>,
    rx: Receiver<Envelope>,
    signals: Receiver<i32>,
    services: Vec<Service>,
    started_order: Vec<usize>,
    exec: Option<ExecState>,
    signal: Option<i32>,
    jitter: Jitter,
    next_token: u64,
    /// Restored before an immediate exit.
    terminal: Option<Arc<StdTerminal>>,
    /// `--very-verbose`: print the stack of a failed exec process.
    stacks: bool,
}

impl Control {
    fn new(
        node: Arc<Node>,
        log: Arc<LogSink>,
        rx: Receiver<Envelope>,
        signals: Receiver<i32>,
        project: &Project,
    ) -> Control {
        let ids: Vec<String> = project
            .entries
            .iter()
            .filter(|e| matches!(e.spec, EntrySpec::Service(_)))
            .map(|e| e.id.to_string())
            .collect();
        let mut services = Vec::new();
        for e in &project.entries {
            let EntrySpec::Service(s) = &e.spec else {
                continue;
            };
            let requires = s
                .lifecycle
                .requires
                .iter()
                .map(|r| {
                    let r = r.to_string();
                    ids.iter().position(|i| *i == r).ok_or(r)
                })
                .collect::<Result<Vec<_>, _>>();
            services.push(Service {
                id: e.id.clone(),
                process: s.process.to_string(),
                host: node.host_id(&s.host.to_string()),
                input: json_payload(&s.input),
                lifecycle: s.lifecycle.clone(),
                requires,
                pid: None,
                state: State::Unknown,
                child: None,
                pending: None,
                attempts: 0,
                failures: 0,
                started: None,
                restart_at: None,
            });
        }
        Control {
            node,
            log,
            rx,
            signals,
            services,
            started_order: Vec::new(),
            exec: None,
            signal: None,
            jitter: Jitter::new(),
            next_token: 1,
            terminal: None,
            stacks: false,
        }
    }

    fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    fn info(&self, msg: &str) {
        self.log.runtime(Level::Info, msg, Vec::new());
    }

    fn error(&self, msg: &str, err: &str) {
        self.log.runtime(
            Level::Error,
            msg,
            vec![("error".into(), Json::String(err.to_string()))],
        );
    }

    /// Starts every auto-start service whose requirements are running.
    fn start_ready(&mut self) {
        for i in 0..self.services.len() {
            let s = &self.services[i];
            if !s.auto_start() || s.state != State::Unknown {
                continue;
            }
            match &s.requires {
                Err(missing) => {
                    let msg = format!(
                        "service {} requires {missing}, which is not a service",
                        s.id
                    );
                    self.services[i].state = State::Failed;
                    self.error(&msg, "missing dependency");
                }
                Ok(deps) => {
                    if deps
                        .iter()
                        .all(|d| self.services[*d].state == State::Running)
                    {
                        self.start(i);
                    }
                }
            }
        }
    }

    fn start(&mut self, i: usize) {
        let token = self.token();
        let s = &mut self.services[i];
        s.restart_at = None;
        let Some(host) = s.host else {
            let msg = format!("service {} cannot start", s.id);
            s.attempts += 1;
            let delay = s.on_failure(None, Instant::now(), self.jitter.sample());
            self.schedule(i, delay);
            self.error(&msg, "host not found");
            return;
        };
        let sup = match s.pid {
            Some(p) => p,
            None => {
                let num = self.node.next_num();
                let pid = self.node.register_control(host, num, i as u32);
                s.pid = Some(pid);
                pid
            }
        };
        s.attempts += 1;
        s.state = State::Starting;
        s.pending = Some(token);
        self.log.runtime(
            Level::Debug,
            &format!("service {} is starting", s.id),
            Vec::new(),
        );
        let req = SpawnRequest {
            entry: s.process.as_str().into(),
            host,
            args: s.input.clone(),
            parent: Some(sup),
            flags: SpawnFlags {
                monitor: true,
                link: false,
            },
            reply: Some(ReplyTo { pid: sup, token }),
            num: 0,
        };
        if let Err(e) = self.node.request_spawn(req) {
            self.spawn_failed(i, &e);
        }
    }

    fn spawn_failed(&mut self, i: usize, e: &ErrorValue) {
        let s = &mut self.services[i];
        s.pending = None;
        let msg = format!("service {} failed to start", s.id);
        let delay = s.on_failure(None, Instant::now(), self.jitter.sample());
        self.error(&msg, &e.full_message());
        self.schedule(i, delay);
    }

    fn schedule(&mut self, i: usize, delay: Option<Duration>) {
        let s = &mut self.services[i];
        match delay {
            Some(d) => {
                s.restart_at = Some(Instant::now() + d);
                let msg = format!("service {} will restart in {:.2}s", s.id, d.as_secs_f64());
                self.log.runtime(
                    Level::Warn,
                    &msg,
                    vec![("attempt".into(), Json::from(s.attempts + 1))],
                );
            }
            None if s.state == State::Failed => {
                let msg = format!(
                    "service {} failed after {} attempts, giving up",
                    s.id, s.attempts
                );
                self.log.runtime(Level::Error, &msg, Vec::new());
            }
            None => {}
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.services.iter().filter_map(|s| s.restart_at).min()
    }

    /// Waits for one event (or until `until`), handles it and due restarts.
    fn pump(&mut self, until: Option<Instant>) {
        let deadline = match (until, self.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(3600));
        select! {
            recv(self.rx) -> env => if let Ok(env) = env { self.handle(env) },
            recv(self.signals) -> sig => if let Ok(sig) = sig { self.on_signal(sig) },
            default(timeout) => {}
        }
        let now = Instant::now();
        for i in 0..self.services.len() {
            if self.services[i].restart_at.is_some_and(|t| t <= now) {
                self.start(i);
            }
        }
    }

    fn on_signal(&mut self, sig: i32) {
        if self.signal.is_some() {
            // Second signal: give up on a graceful stop.
            if let Some(t) = &self.terminal {
                t.restore();
            }
            std::process::exit(1);
        }
        self.signal = Some(sig);
    }

    fn handle(&mut self, env: Envelope) {
        match env {
            Envelope::Wake {
                slot,
                token,
                result,
                ..
            } => {
                if slot == EXEC_SLOT {
                    let Some(x) = &mut self.exec else { return };
                    if x.token != token {
                        return;
                    }
                    match result {
                        Ok(p) => x.child = pid_of(&self.node, &p),
                        Err(e) => x.result = Some(Err(e)),
                    }
                    return;
                }
                let i = slot as usize;
                let Some(s) = self.services.get_mut(i) else {
                    return;
                };
                if s.pending != Some(token) {
                    return;
                }
                s.pending = None;
                match result {
                    Ok(p) => {
                        s.child = pid_of(&self.node, &p);
                        s.started = Some(Instant::now());
                        if s.state == State::Starting {
                            s.state = State::Running;
                        }
                        let msg = format!("service {} is running", s.id);
                        if !self.started_order.contains(&i) {
                            self.started_order.push(i);
                        }
                        self.info(&msg);
                        self.start_ready();
                    }
                    Err(e) => self.spawn_failed(i, &e),
                }
            }
            Envelope::Event { slot, event, .. } if event.kind == EventKind::Exit => {
                let result = event
                    .result
                    .map(|r| r.result().clone())
                    .unwrap_or(Ok(Payload::empty()));
                if slot == EXEC_SLOT {
                    if let Some(x) = &mut self.exec {
                        if x.child.is_none_or(|c| c == event.from) {
                            x.result = Some(result);
                        }
                    }
                    return;
                }
                self.child_exit(slot as usize, event.from, result);
            }
            _ => {}
        }
    }

    fn child_exit(&mut self, i: usize, from: Pid, result: ExitResult) {
        let Some(s) = self.services.get_mut(i) else {
            return;
        };
        if s.child != Some(from) {
            return;
        }
        if s.state == State::Stopping {
            s.child = None;
            s.state = State::Stopped;
            let msg = format!("service {} stopped", s.id);
            self.info(&msg);
            return;
        }
        match result {
            Ok(_) => {
                s.child = None;
                s.state = State::Exited;
                let msg = format!("service {} exited", s.id);
                self.info(&msg);
            }
            Err(e) => {
                let msg = format!("service {} failed", s.id);
                let delay = s.on_failure(Some(&e), Instant::now(), self.jitter.sample());
                let final_ = s.state == State::Exited;
                self.error(&msg, &e.full_message());
                if final_ {
                    let msg = format!(
                        "service {} exited with a non-retryable error",
                        self.services[i].id
                    );
                    self.info(&msg);
                } else {
                    self.schedule(i, delay);
                }
            }
        }
    }

    fn settled(&self) -> bool {
        self.services.iter().filter(|s| s.auto_start()).all(|s| {
            matches!(s.state, State::Running | State::Exited)
                || (s.state == State::Failed && s.restart_at.is_none())
        })
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
            reason: Some("service stopping".into()),
            at: unix_now(),
        };
        self.node.post(child, |slot| Envelope::Event {
            to: child,
            slot,
            event,
        });
    }

    fn kill(&self, pid: Pid) {
        let reason = ErrorValue::new(ErrorKind::Canceled, "process terminated").retryable(None);
        self.node.post(pid, |slot| Envelope::Kill {
            to: pid,
            slot,
            reason,
        });
    }

    /// Exec mode (SPEC §3.4-3.6).
    fn run_exec(&mut self, target: &ExecTarget, args: Vec<String>, hide_logs: bool) -> i32 {
        self.start_ready();
        let boot_deadline = Instant::now() + BOOT_WAIT;
        while !self.settled() && Instant::now() < boot_deadline && self.signal.is_none() {
            self.pump(Some(boot_deadline));
        }
        if let Some(sig) = self.signal {
            return 128 + sig;
        }
        let host = self
            .node
            .host_id(&target.host.to_string())
            .expect("resolved terminal host");
        let watcher = self.node.register_control(host, 0, EXEC_SLOT);
        let token = self.token();
        self.exec = Some(ExecState {
            watcher,
            token,
            child: None,
            result: None,
        });
        let req = SpawnRequest {
            entry: target.entry.to_string().into(),
            host,
            args: Payload {
                values: args.into_iter().map(Value::str).collect(),
                tables: Vec::new(),
            },
            parent: Some(watcher),
            flags: SpawnFlags {
                monitor: true,
                link: false,
            },
            reply: Some(ReplyTo {
                pid: watcher,
                token,
            }),
            num: 0,
        };
        if hide_logs {
            self.log.set_hidden(true);
        }
        if let Err(e) = self.node.request_spawn(req) {
            self.log.set_hidden(false);
            eprintln!("starling: {}", e.full_message());
            return 1;
        }
        let result = loop {
            if let Some(r) = self.exec.as_mut().and_then(|x| x.result.take()) {
                break r;
            }
            if let Some(sig) = self.signal {
                self.log.set_hidden(false);
                self.interrupt_exec();
                self.stop_all_fast();
                return 128 + sig;
            }
            self.pump(None);
        };
        self.log.set_hidden(false);
        let mut outcome = exit_outcome(&result);
        if let (true, Err(e), Some(text)) = (self.stacks, &result, outcome.stderr.as_mut()) {
            if let Some(stack) = e.stack.as_deref().filter(|s| !s.trim().is_empty()) {
                text.push_str("stack traceback:\n");
                for line in stack.lines().filter(|l| !l.trim().is_empty()) {
                    text.push('\t');
                    text.push_str(line.trim());
                    text.push('\n');
                }
            }
        }
        {
            use std::io::Write;
            if let Some(s) = &outcome.stdout {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(s.as_bytes());
                let _ = out.flush();
            }
            if let Some(s) = &outcome.stderr {
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(s.as_bytes());
                let _ = err.flush();
            }
        }
        self.stop_all_fast();
        outcome.code
    }

    /// SIGINT/SIGTERM in exec mode: CANCEL the exec process, wait a little, terminate it.
    fn interrupt_exec(&mut self) {
        let Some(x) = &self.exec else { return };
        let (Some(child), watcher) = (x.child, x.watcher) else {
            return;
        };
        let event = Event {
            kind: EventKind::Cancel,
            from: watcher,
            result: None,
            reason: Some("interrupted".into()),
            at: unix_now(),
        };
        self.node.post(child, |slot| Envelope::Event {
            to: child,
            slot,
            event,
        });
        let deadline = Instant::now() + INTERRUPT_GRACE;
        while Instant::now() < deadline && self.exec.as_ref().is_some_and(|x| x.result.is_none()) {
            self.pump(Some(deadline));
        }
        if self.exec.as_ref().is_some_and(|x| x.result.is_none()) {
            self.kill(child);
        }
    }

    /// Exec-mode shutdown: CANCEL every service at once and wait at most [`EXEC_GRACE`].
    fn stop_all_fast(&mut self) {
        for i in 0..self.services.len() {
            if self.services[i].child.is_some() {
                self.services[i].state = State::Stopping;
                self.cancel_child(i);
            }
            self.services[i].restart_at = None;
        }
        let deadline = Instant::now() + EXEC_GRACE;
        while Instant::now() < deadline && self.services.iter().any(|s| s.child.is_some()) {
            self.pump(Some(deadline));
        }
        self.node.shutdown();
    }

    /// Service mode (SPEC §3.3): run until a signal, then stop in reverse order.
    fn run_services(&mut self, shutdown_timeout: Duration) -> i32 {
        self.start_ready();
        while self.signal.is_none() {
            self.pump(None);
        }
        self.info("shutting down");
        let deadline = Instant::now() + shutdown_timeout;
        let mut order: Vec<usize> = self.started_order.iter().rev().copied().collect();
        for i in 0..self.services.len() {
            if !order.contains(&i) {
                order.push(i);
            }
        }
        for i in order {
            self.services[i].restart_at = None;
            if self.services[i].child.is_none() {
                continue;
            }
            self.services[i].state = State::Stopping;
            let msg = format!("service {} is stopping", self.services[i].id);
            self.info(&msg);
            self.cancel_child(i);
            let stop_by = (Instant::now() + self.services[i].lifecycle.stop_timeout).min(deadline);
            while Instant::now() < stop_by && self.services[i].child.is_some() {
                self.pump(Some(stop_by));
            }
            if let Some(child) = self.services[i].child {
                self.kill(child);
                let kill_by = Instant::now() + Duration::from_millis(500);
                while Instant::now() < kill_by && self.services[i].child.is_some() {
                    self.pump(Some(kill_by));
                }
                if self.services[i].child.take().is_some() {
                    self.services[i].state = State::Stopped;
                }
            }
        }
        self.node.shutdown();
        self.info("stopped");
        0
    }
}

fn pid_of(node: &Node, p: &Payload) -> Option<Pid> {
    match p.values.first() {
        Some(Value::Str(s)) => node.parse_pid(std::str::from_utf8(s).ok()?).ok(),
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

fn json_into(p: &mut Payload, v: &Json) -> Value {
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
        other => json_value(other),
    }
}

fn json_value(v: &Json) -> Value {
    match v {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => Value::str(s),
        _ => Value::Nil,
    }
}
