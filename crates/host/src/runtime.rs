//! Booting a project and running it until it is done: `starling run` and `starling run -x`.
//!
//! Boot: load entries, compile Lua, build the node with every host, start the auto-start
//! hosts' workers, then the control loop on the calling thread starts services in dependency
//! order and, in exec mode, the exec process once every auto-start service is running.
//!
//! # Shutdown
//! - Exec mode, process finished: services get CANCEL and a short grace period
//!   ([`EXEC_GRACE`]); whatever is left (the Echo relay ignores CANCEL) ends with the OS process.
//! - Exec mode, SIGINT/SIGTERM/SIGHUP: the exec process gets CANCEL and [`INTERRUPT_GRACE`]
//!   to end, then the same; exit 130/143/129.
//! - Service mode, SIGINT/SIGTERM/SIGHUP: services stop in reverse dependency order (a service
//!   once nothing that requires it is left), each with CANCEL, up to its `stop_timeout`, then a
//!   kill; the whole sequence is bounded by `shutdown.timeout`; exit 0.
//! - A second signal exits at once with status 1; SIGQUIT exits at once with status 131.
//! - The terminal is put back as it was found (raw mode, echo) on every way out: a return, an
//!   immediate exit, and a panic of the control thread (a guard restores it when dropped).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, select};
use serde_json::Value as Json;
use starling_core::{
    Envelope, Event, EventKind, ExitResult, HostKind, Limits, Node, Payload, Pid, ReplyTo,
    SpawnFlags, SpawnRequest, Value, message::unix_now,
};
use starling_entry::kind::{DEFAULT_MAX_MAILBOX, DEFAULT_MEMORY_LIMIT, DEFAULT_WATCHDOG};
use starling_entry::{EntryId, EntrySpec, LoadOptions, Project, load_definitions, load_project};
use starling_lua::{EntryStore, EntryView, Level, LogRecord, Program, Services};
use starling_native::{KindError, Kinds, Process};

use crate::engine::worker_setup;

use crate::env::HostEnv;
use crate::error::BootError;
use crate::exec::{ExecTarget, exit_outcome, resolve_target};
use crate::log::{Encoding, LogSink};
use crate::services::HostServices;
use crate::supervisor::{KILL_GRACE, Supervisor, kill, pid_of};
use crate::terminal::StdTerminal;

/// Bytes of messages and events one process may have queued (see `starling_core::mailbox`).
pub const DEFAULT_MAILBOX_BYTES: usize = 256 << 20;

/// What `run` returns when the runtime itself failed (the caller gets a `BootError::Internal`).
const EXIT_INTERNAL: i32 = 70;

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

/// Where a runtime's entries come from.
#[derive(Debug, Clone)]
enum Source {
    /// A project directory with its lock file.
    Dir { dir: PathBuf, load: LoadOptions },
    /// Definition texts given in code, with `file://` paths relative to `base`.
    Inline {
        base: PathBuf,
        files: Vec<(PathBuf, String)>,
    },
}

/// A runtime to boot: a project (from a directory or from definitions given in code), the
/// Rust processes registered beside its Lua ones, log flags, and what to run.
///
/// `starling run` is `Runtime::project(".")` with the command line's options; a program
/// embedding Starling adds its native processes:
///
/// ```no_run
/// use starling_host::Runtime;
/// use starling_native::Context;
/// use starling_core::{ErrorValue, Payload};
///
/// async fn relay(ctx: Context, _args: Payload) -> Result<(), ErrorValue> {
///     ctx.register("relay")?;
///     loop {
///         let msg = ctx.recv().await;
///         ctx.info("got", &[("topic", msg.topic.to_string().into())]);
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // myapp's YAML defines the hosts and a `process.service` whose `process` is app:relay.
/// let code = Runtime::project("myapp")
///     .native("app:relay", relay)?
///     .exec("app:cli", Vec::new())
///     .run()?;
/// std::process::exit(code);
/// # }
/// ```
#[derive(Debug)]
pub struct Runtime {
    source: Source,
    kinds: Kinds,
    log: LogFlags,
    exec: Option<ExecRequest>,
}

impl Runtime {
    /// A runtime for the project in `dir` (its `wippy.lock`, configuration and sources).
    pub fn project(dir: impl Into<PathBuf>) -> Runtime {
        Runtime::with_source(Source::Dir {
            dir: dir.into(),
            load: LoadOptions::default(),
        })
    }

    /// A runtime with no project directory: entries come from [`Runtime::definitions`] and
    /// [`Runtime::native`] only.
    pub fn new() -> Runtime {
        Runtime::with_source(Source::Inline {
            base: PathBuf::from("."),
            files: Vec::new(),
        })
    }

    fn with_source(source: Source) -> Runtime {
        Runtime {
            source,
            kinds: Kinds::new(),
            log: LogFlags::default(),
            exec: None,
        }
    }

    /// Lock file, configuration files, `--set` and `-o` options (project directories only).
    pub fn load_options(mut self, opts: LoadOptions) -> Runtime {
        if let Source::Dir { load, .. } = &mut self.source {
            *load = opts;
        }
        self
    }

    /// Where `file://` references of [`Runtime::definitions`] resolve (default: the current
    /// directory).
    pub fn base(mut self, dir: impl Into<PathBuf>) -> Runtime {
        if let Source::Inline { base, .. } = &mut self.source {
            *base = dir.into();
        }
        self
    }

    /// Adds a definition file given as text (the `_index.yaml` format; `name` is what error
    /// messages call it). Only for runtimes made with [`Runtime::new`]; a project directory
    /// reads its own files.
    pub fn definitions(mut self, name: &str, text: &str) -> Runtime {
        if let Source::Inline { files, .. } = &mut self.source {
            files.push((PathBuf::from(name), text.to_string()));
        }
        self
    }

    /// Registers a process written in Rust under the entry id `id` (`namespace:name`). YAML
    /// entries, Lua code and other native processes refer to it by that id: a
    /// `process.service` can run it, `process.spawn` can start it, `-x` can exec it.
    pub fn native(mut self, id: &str, process: impl Process) -> Result<Runtime, KindError> {
        self.kinds.register(id, process)?;
        Ok(self)
    }

    /// Log flags (`-v`, `-c`, `-s`, `--very-verbose`).
    pub fn log(mut self, flags: LogFlags) -> Runtime {
        self.log = flags;
        self
    }

    /// Exec mode: run `spec` (`app:cli` or `app:terminal/app:cli`) with `args`, then stop;
    /// without it the runtime runs its services until SIGINT/SIGTERM.
    pub fn exec(mut self, spec: &str, args: Vec<String>) -> Runtime {
        self.exec = Some(ExecRequest {
            spec: spec.to_string(),
            host: None,
            args,
        });
        self
    }

    /// Exec mode with an explicit `--host`.
    pub fn exec_request(mut self, request: ExecRequest) -> Runtime {
        self.exec = Some(request);
        self
    }

    /// Boots and runs until done; returns the exit status (SPEC §3.5).
    pub fn run(self) -> Result<i32, BootError> {
        let mut project = match &self.source {
            Source::Dir { dir, load } => load_project(dir, load)?,
            Source::Inline { base, files } => load_definitions(base, files)?,
        };
        for id in self.kinds.ids() {
            project.add_native(&id).map_err(BootError::Native)?;
        }
        boot(project, Arc::new(self.kinds), self.log, self.exec)
    }
}

impl Default for Runtime {
    fn default() -> Runtime {
        Runtime::new()
    }
}

/// Boots the project and runs it; returns the exit status. Same as [`Runtime::run`] of
/// [`Runtime::project`] with these options.
pub fn run(opts: RunOptions) -> Result<i32, BootError> {
    let mut rt = Runtime::project(opts.dir)
        .load_options(opts.load)
        .log(opts.log);
    rt.exec = opts.exec;
    rt.run()
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

fn boot(
    mut project: Project,
    kinds: Arc<Kinds>,
    log_flags: LogFlags,
    exec: Option<ExecRequest>,
) -> Result<i32, BootError> {
    // Warnings first: they may explain an error below (a missing source directory explains
    // `no terminal.host found`).
    let log = Arc::new(make_sink(&project, log_flags, exec.is_some()));
    for w in &project.warnings {
        log.runtime(Level::Warn, w, Vec::new());
    }
    let program = Arc::new(Program::build(&project.entries).map_err(BootError::Program)?);
    let target = match &exec {
        Some(x) => Some(resolve_target(&project, &x.spec, x.host.as_deref())?),
        None => None,
    };
    let disabled: std::collections::HashMap<String, String> = program
        .disabled()
        .into_iter()
        .map(|(id, why)| (id.to_string(), why.to_string()))
        .collect();
    for (_, why) in program.disabled() {
        log.runtime(
            Level::Warn,
            &format!("{why}; the entry is disabled: spawning or calling it fails"),
            Vec::new(),
        );
    }
    let cluster = starling_entry::cluster::cluster_config(&project.config)?;
    if let Some(c) = &cluster {
        for w in &c.warnings {
            log.runtime(Level::Warn, w, Vec::new());
        }
        // Services placed on other nodes do not auto-start here.
        for e in &mut project.entries {
            if let EntrySpec::Service(s) = &mut e.spec {
                if !c.runs_service(&e.id.to_string()) {
                    s.lifecycle.auto_start = false;
                }
            }
        }
    }

    let mut builder = Node::builder();
    for e in &project.entries {
        match &e.spec {
            EntrySpec::ProcessHost(h) => {
                let id = builder.host(&e.id.to_string(), HostKind::Process);
                builder.mailbox_limits(
                    id,
                    Limits {
                        items: h.max_mailbox,
                        bytes: DEFAULT_MAILBOX_BYTES,
                    },
                );
            }
            EntrySpec::TerminalHost(_) => {
                let id = builder.host(&e.id.to_string(), HostKind::Terminal);
                builder.mailbox_limits(
                    id,
                    Limits {
                        items: DEFAULT_MAX_MAILBOX,
                        bytes: DEFAULT_MAILBOX_BYTES,
                    },
                );
            }
            _ => {}
        }
    }
    crate::http::declare(&mut builder, &project, DEFAULT_MAILBOX_BYTES);
    let node = builder.build();
    {
        let log = log.clone();
        node.set_warn(Box::new(move |m| log.runtime(Level::Warn, m, Vec::new())));
    }
    node.set_log(Arc::new(NodeLog(log.clone())));
    let args = exec.as_ref().map(|x| x.args.clone()).unwrap_or_default();
    let terminal = Arc::new(StdTerminal::new(args.clone()));
    let _restore = RestoreTerminal(terminal.clone());
    terminal.attach(node.clone());
    log.attach_terminal(terminal.clone());
    let http = crate::http::runtime(&log);
    crate::http::attach(http.as_ref(), &node);
    let states = Arc::new(parking_lot::RwLock::new(Vec::new()));
    let (exit_tx, exit_rx) = crossbeam_channel::unbounded();
    let services: Arc<dyn Services> = Arc::new(HostServices {
        log: log.clone(),
        terminal: terminal.clone(),
        entries: Arc::new(entry_store(&project)),
        env: Arc::new(HostEnv::new(&project.entries, &project.dir)),
        states: states.clone(),
        exit: exit_tx,
        http: http.clone(),
    });
    // A cluster names the node (its pids print with the name) and raises its pid counter
    // before anything runs.
    let joined = match &cluster {
        Some(c) => Some(crate::cluster::join(&node, c)?),
        None => None,
    };
    // One setup per host: each worker's VM gets the host's memory limit and watchdog.
    let setup = |memory_limit: u64, watchdog: Duration| {
        worker_setup(
            program.clone(),
            services.clone(),
            kinds.clone(),
            usize::try_from(memory_limit).unwrap_or(usize::MAX),
            watchdog,
        )
    };
    for e in &project.entries {
        let (workers, auto, memory_limit, watchdog) = match &e.spec {
            EntrySpec::ProcessHost(h) => (
                h.workers,
                h.lifecycle.auto_start,
                h.memory_limit,
                h.watchdog,
            ),
            EntrySpec::TerminalHost(t) => (
                1,
                t.lifecycle.auto_start,
                DEFAULT_MEMORY_LIMIT,
                DEFAULT_WATCHDOG,
            ),
            _ => continue,
        };
        if !auto {
            continue;
        }
        let id = e.id.to_string();
        let host = node.host_id(&id).expect("host declared above");
        starling_core::start_host(&node, host, workers, setup(memory_limit, watchdog)).map_err(
            |source| BootError::Host {
                host: id.clone(),
                source,
            },
        )?;
        log.runtime(
            Level::Debug,
            &format!("host {id} started"),
            vec![("workers".into(), Json::from(workers))],
        );
    }

    let servers = crate::http::start(http.as_ref(), &project, &node, &log, &setup)?;

    let (tx, rx) = crossbeam_channel::unbounded();
    node.set_control(tx);
    let signals = install_signals()?;
    let mut control = Control::new(node.clone(), log, rx, signals, &project);
    control.terminal = Some(terminal.clone());
    control.exits = exit_rx;
    control.sup.set_disabled(disabled);
    control.sup.share_states(states);
    control.auto_processes = auto_processes(&project);
    control.servers = servers;
    let code = match target {
        Some(t) => {
            let hide = project.entries.iter().any(|e| {
                e.id == t.host && matches!(&e.spec, EntrySpec::TerminalHost(h) if h.hide_logs)
            });
            control.stacks = log_flags.stacks;
            control.run_exec(&t, args, hide)
        }
        None => control.run_services(project.config.shutdown_timeout()),
    };
    if let Some(j) = joined {
        j.leave();
    }
    // A failed worker ended the run: report it (the guard restores the terminal).
    if let Some(failure) = node.failure() {
        return Err(BootError::Internal(failure.to_string()));
    }
    Ok(code)
}

/// Restores the terminal when dropped: when `boot` returns, and when the control thread
/// unwinds from a panic, so a program that left raw mode on never leaves the shell without echo.
struct RestoreTerminal(Arc<StdTerminal>);

impl Drop for RestoreTerminal {
    fn drop(&mut self) {
        self.0.restore();
    }
}

/// The registry the `registry` module reads: every entry as loaded.
fn entry_store(project: &Project) -> EntryStore {
    EntryStore::new(
        project
            .entries
            .iter()
            .map(|e| EntryView {
                id: e.id.to_string(),
                kind: e.kind.clone(),
                meta: e.meta.clone(),
                data: Json::Object(e.data.clone()),
            })
            .collect(),
    )
}

/// `process.lua` entries with `lifecycle.auto_start: true` and the host each starts on: its
/// `host:` field, else the first auto-started `process.host` in id order (issue 13).
fn auto_processes(project: &Project) -> Vec<(EntryId, Option<EntryId>)> {
    let default_host = project
        .entries
        .iter()
        .find(|e| matches!(&e.spec, EntrySpec::ProcessHost(h) if h.lifecycle.auto_start))
        .map(|e| e.id.clone());
    project
        .entries
        .iter()
        .filter_map(|e| match &e.spec {
            EntrySpec::LuaProcess(spec) if spec.auto_start => Some((
                e.id.clone(),
                spec.host.clone().or_else(|| default_host.clone()),
            )),
            _ => None,
        })
        .collect()
}

/// The host's log as the node's sink, for native processes.
struct NodeLog(Arc<LogSink>);

impl starling_core::LogSink for NodeLog {
    fn enabled(&self, level: Level) -> bool {
        self.0.app_enabled(level)
    }

    fn log(&self, record: LogRecord) {
        self.0.app(&record);
    }
}

/// Signals that stop the runtime gracefully (SIGHUP: the terminal went away, or a supervisor
/// asks, as for SIGTERM), plus SIGQUIT, which exits at once.
fn install_signals() -> Result<Receiver<i32>, BootError> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT])
        .map_err(BootError::Signals)?;
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
    sup: Supervisor,
    exec: Option<ExecState>,
    signal: Option<i32>,
    next_token: u64,
    /// Restored before an immediate exit.
    terminal: Option<Arc<StdTerminal>>,
    /// `--very-verbose`: print the stack of a failed exec process.
    stacks: bool,
    /// `system.exit` requests.
    exits: Receiver<i32>,
    /// An exit code asked for by `system.exit`.
    exit_code: Option<i32>,
    /// `process.lua` entries to start once at boot, with their hosts.
    auto_processes: Vec<(EntryId, Option<EntryId>)>,
    /// Running `http.service` listeners, stopped before the services.
    servers: Vec<crate::http::Server>,
}

impl Control {
    fn new(
        node: Arc<Node>,
        log: Arc<LogSink>,
        rx: Receiver<Envelope>,
        signals: Receiver<i32>,
        project: &Project,
    ) -> Control {
        let sup = Supervisor::new(node.clone(), log.clone(), &project.entries);
        Control {
            node,
            log,
            rx,
            signals,
            sup,
            exec: None,
            signal: None,
            next_token: 1,
            terminal: None,
            stacks: false,
            exits: crossbeam_channel::never(),
            exit_code: None,
            auto_processes: Vec::new(),
            servers: Vec::new(),
        }
    }

    fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    fn info(&self, msg: &str) {
        self.log.runtime(Level::Info, msg, Vec::new());
    }

    /// Waits for one event (or until `until`), handles it and whatever is due.
    fn pump(&mut self, until: Option<Instant>) {
        let deadline = match (until, self.sup.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(3600));
        select! {
            recv(self.rx) -> env => if let Ok(env) = env { self.handle(env) },
            recv(self.signals) -> sig => if let Ok(sig) = sig { self.on_signal(sig) },
            recv(self.exits) -> code => if let Ok(code) = code { self.exit_code.get_or_insert(code); },
            default(timeout) => {}
        }
        self.sup.tick(Instant::now());
    }

    fn on_signal(&mut self, sig: i32) {
        if sig == signal_hook::consts::SIGQUIT {
            self.log
                .runtime(Level::Warn, "SIGQUIT, exiting at once", Vec::new());
            self.exit_now(128 + sig);
        }
        if self.signal.is_some() {
            // Second signal: give up on a graceful stop (SPEC §3.3, §11.3).
            self.log
                .runtime(Level::Warn, "second signal, exiting at once", Vec::new());
            self.exit_now(1);
        }
        self.signal = Some(sig);
    }

    /// Ends the OS process without a graceful stop, with the terminal restored.
    fn exit_now(&self, code: i32) -> ! {
        if let Some(t) = &self.terminal {
            t.restore();
        }
        std::process::exit(code);
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
                self.sup.on_spawned(slot as usize, token, result);
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
                self.sup.on_exit(slot as usize, event.from, result);
            }
            _ => {}
        }
    }

    /// Exec mode (SPEC §3.4-3.6).
    /// Starts each auto-start `process.lua` once, unsupervised (issue 13).
    fn start_auto_processes(&mut self) {
        for (id, host) in std::mem::take(&mut self.auto_processes) {
            if let Some(why) = self.sup.disabled_reason(&id.to_string()) {
                let msg = format!("process {id} (lifecycle.auto_start) cannot start: {why}");
                self.log.runtime(Level::Error, &msg, Vec::new());
                continue;
            }
            let host_id = host
                .as_ref()
                .and_then(|h| self.node.host_id(&h.to_string()));
            let Some(host_id) = host_id.filter(|h| self.node.host_running(*h)) else {
                let msg = match host {
                    Some(h) => format!(
                        "process {id} (lifecycle.auto_start) cannot start: host {h} is not running"
                    ),
                    None => format!(
                        "process {id} (lifecycle.auto_start) cannot start: no process.host starts at boot"
                    ),
                };
                self.log.runtime(Level::Error, &msg, Vec::new());
                continue;
            };
            let req = SpawnRequest {
                entry: id.to_string().into(),
                host: host_id,
                args: Payload::empty(),
                parent: None,
                flags: SpawnFlags::default(),
                reply: None,
                num: 0,
                setup: None,
            };
            match self.node.request_spawn(req) {
                Ok(()) => self.log.runtime(
                    Level::Debug,
                    &format!("process {id} started (lifecycle.auto_start)"),
                    Vec::new(),
                ),
                Err(e) => self.log.runtime(
                    Level::Error,
                    &format!(
                        "process {id} (lifecycle.auto_start) cannot start: {}",
                        e.full_message()
                    ),
                    Vec::new(),
                ),
            }
        }
    }

    fn run_exec(&mut self, target: &ExecTarget, args: Vec<String>, hide_logs: bool) -> i32 {
        self.sup.warn_blocked();
        self.sup.start_ready();
        self.start_auto_processes();
        let boot_deadline = Instant::now() + BOOT_WAIT;
        while !self.sup.settled() && Instant::now() < boot_deadline && self.signal.is_none() {
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
                ..SpawnFlags::default()
            },
            reply: Some(ReplyTo {
                pid: watcher,
                token,
            }),
            num: 0,
            setup: None,
        };
        if hide_logs {
            self.log.set_hidden(true);
        }
        if let Err(e) = self.node.request_spawn(req) {
            self.log.set_hidden(false);
            use std::io::Write;
            // Not eprintln!: it panics when stderr is gone (a closed terminal after SIGHUP).
            let _ = writeln!(std::io::stderr(), "starling: {}", e.full_message());
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
            if self.node.failure().is_some() {
                // The caller reports it: the workers are gone.
                self.log.set_hidden(false);
                return EXIT_INTERNAL;
            }
            if let Some(code) = self.exit_code {
                self.log.set_hidden(false);
                self.interrupt_exec();
                self.stop_all_fast();
                return code;
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
            kill(&self.node, child);
        }
    }

    /// Exec-mode shutdown: CANCEL every service at once and wait at most [`EXEC_GRACE`].
    fn stop_all_fast(&mut self) {
        crate::http::stop(&self.servers, Instant::now() + EXEC_GRACE);
        self.sup.cancel_all();
        let deadline = Instant::now() + EXEC_GRACE;
        while Instant::now() < deadline && !self.sup.all_stopped() {
            self.pump(Some(deadline));
        }
        self.node.shutdown();
    }

    /// Service mode (SPEC §3.3): run until a signal, then stop in reverse dependency order,
    /// each service within its `stop_timeout`, all within `shutdown.timeout`.
    fn run_services(&mut self, shutdown_timeout: Duration) -> i32 {
        self.sup.warn_blocked();
        self.sup.start_ready();
        self.start_auto_processes();
        while self.signal.is_none() && self.exit_code.is_none() {
            if self.node.failure().is_some() {
                return EXIT_INTERNAL;
            }
            self.pump(None);
        }
        self.info("shutting down");
        let deadline = Instant::now() + shutdown_timeout;
        crate::http::stop(&self.servers, deadline);
        self.sup.begin_stop();
        while !self.sup.all_stopped() && Instant::now() < deadline {
            self.pump(Some(deadline));
        }
        if !self.sup.all_stopped() {
            self.log.runtime(
                Level::Warn,
                "shutdown timeout reached, terminating the remaining services",
                Vec::new(),
            );
            self.sup.kill_all();
            let kill_by = Instant::now() + KILL_GRACE;
            while !self.sup.all_stopped() && Instant::now() < kill_by {
                self.pump(Some(kill_by));
            }
        }
        self.node.shutdown();
        self.info("stopped");
        self.exit_code.unwrap_or(0)
    }
}
