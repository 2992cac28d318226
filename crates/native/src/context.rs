//! [`Context`]: what a native process uses to reach the runtime.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use serde::Serialize;
use starling_core::codec::PayloadError;
use starling_core::{
    ErrorKind, ErrorValue, Event, Level, LogRecord, Message, MessageBody, Node, Payload, Pid,
    ReplyTo, SpawnFlags, SpawnRequest, SpawnSetup, Spawned,
};

use crate::error::{RegisterError, RelationError, SendError, SpawnError};
use crate::proc::{ProcInner, TaskFuture};

/// A native process's handle on the runtime: its pid, its inbox and events, and everything
/// it can do to other processes.
///
/// A context belongs to its process and its worker thread (it is neither `Send` nor `Sync`);
/// cloning it is cheap, so the tasks of a process ([`Context::task`]) each take a clone. Every
/// receive future here can be raced in `tokio::select!` (or any select over futures): it takes
/// a message or event out of the queue only in the poll that returns it, so a losing branch
/// loses nothing. A context is tied to its process: kept past the process's end (through an
/// `Rc` shared with another process, say), its receives never complete and its relation
/// calls fail with `NotFound`.
///
/// ```
/// # use starling_native::Context;
/// # use starling_core::{ErrorValue, Payload};
/// async fn echo(ctx: Context, _args: Payload) -> Result<(), ErrorValue> {
///     loop {
///         let msg = ctx.recv().await;
///         if let Some(from) = msg.from {
///             ctx.send_payload(from, "echo", msg.payload)?;
///         }
///     }
/// }
/// ```
#[derive(Clone)]
pub struct Context {
    inner: Rc<ProcInner>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("pid", &self.inner.pid)
            .finish_non_exhaustive()
    }
}

/// Where a message goes: a pid, or a name looked up in the registry at send time.
#[derive(Debug, Clone, Copy)]
pub enum Dest<'a> {
    /// A process.
    Pid(Pid),
    /// A registered name.
    Name(&'a str),
}

impl From<Pid> for Dest<'_> {
    fn from(p: Pid) -> Self {
        Dest::Pid(p)
    }
}

impl From<&Pid> for Dest<'_> {
    fn from(p: &Pid) -> Self {
        Dest::Pid(*p)
    }
}

impl<'a> From<&'a str> for Dest<'a> {
    fn from(n: &'a str) -> Self {
        Dest::Name(n)
    }
}

impl<'a> From<&'a String> for Dest<'a> {
    fn from(n: &'a String) -> Self {
        Dest::Name(n)
    }
}

impl Context {
    pub(crate) fn new(inner: Rc<ProcInner>) -> Context {
        Context { inner }
    }

    /// True while this process is alive (a context kept past its process's end must not
    /// reach whoever reuses its slot).
    fn alive(&self) -> bool {
        self.inner.local.is_live(self.inner.slot, self.inner.pid)
    }

    /// This process's pid.
    pub fn pid(&self) -> Pid {
        self.inner.pid
    }

    /// This process's pid in its printed form (`{app:processes|0x00004}`).
    pub fn pid_string(&self) -> String {
        self.node().format_pid(self.inner.pid)
    }

    /// The node this process runs on (hosts, registry, pid printing).
    pub fn node(&self) -> &Arc<Node> {
        self.inner.local.node()
    }

    /// Parses a printed pid, as Lua processes send them.
    pub fn parse_pid(&self, s: &str) -> Option<Pid> {
        self.node().parse_pid(s).ok()
    }

    // ----- messages -----

    /// Sends `value` to `to` under `topic`. The value is converted to a payload (see
    /// [`starling_core::codec`]), the same values a Lua process sends and receives. To send
    /// a [`Payload`] as it is, use [`Context::send_payload`].
    pub fn send<'a, T: Serialize + ?Sized>(
        &self,
        to: impl Into<Dest<'a>>,
        topic: &str,
        value: &T,
    ) -> Result<(), SendError> {
        let payload = Payload::encode(value)?;
        self.send_payload(to, topic, payload)
    }

    /// Sends an already built payload (several values), or a received message's
    /// `msg.payload` passed on.
    pub fn send_payload<'a>(
        &self,
        to: impl Into<Dest<'a>>,
        topic: &str,
        payload: impl Into<MessageBody>,
    ) -> Result<(), SendError> {
        let to = self.resolve(to.into())?;
        let msg = Message {
            from: Some(self.inner.pid),
            topic: topic.into(),
            payload: payload.into(),
        };
        self.inner
            .local
            .send(to, msg)
            .map_err(|_| SendError::NotFound(self.node().format_pid(to)))
    }

    fn resolve(&self, to: Dest<'_>) -> Result<Pid, SendError> {
        match to {
            Dest::Pid(p) => Ok(p),
            Dest::Name(n) => self
                .lookup(n)
                .ok_or_else(|| SendError::NotFound(n.to_string())),
        }
    }

    /// The next message of the inbox.
    pub fn recv(&self) -> Recv<'_> {
        Recv { ctx: self }
    }

    /// The next message if one is queued.
    pub fn try_recv(&self) -> Option<Message> {
        if !self.alive() {
            return None;
        }
        self.inner.local.pop_message(self.inner.slot)
    }

    /// The next event (EXIT of a monitored process, LINK_DOWN, CANCEL).
    pub fn event(&self) -> NextEvent<'_> {
        NextEvent { ctx: self }
    }

    /// The next event if one is queued.
    pub fn try_event(&self) -> Option<Event> {
        if !self.alive() {
            return None;
        }
        self.inner.local.pop_event(self.inner.slot)
    }

    // ----- spawning -----

    /// Starts building a spawn of `entry` (a native or a Lua process entry) on `host`. Await
    /// the builder to spawn:
    ///
    /// ```
    /// # use starling_native::Context;
    /// # async fn f(ctx: Context) -> Result<(), starling_native::SpawnError> {
    /// let worker = ctx
    ///     .spawn_builder("app:worker", "app:processes")
    ///     .args(&(ctx.pid(), "hello"))
    ///     .monitor()
    ///     .await?;
    /// # let _ = worker; Ok(()) }
    /// ```
    pub fn spawn_builder<'a>(&'a self, entry: &str, host: &str) -> Spawn<'a> {
        Spawn {
            ctx: self,
            entry: entry.into(),
            host: host.into(),
            args: Ok(Payload::empty()),
            flags: SpawnFlags::default(),
            name: None,
        }
    }

    /// Spawns `entry` on `host` with `args` (a tuple is several arguments, see
    /// [`Payload::args`]).
    pub async fn spawn<T: Serialize + ?Sized>(
        &self,
        entry: &str,
        host: &str,
        args: &T,
    ) -> Result<Pid, SpawnError> {
        self.spawn_builder(entry, host).args(args).await
    }

    /// Spawns and monitors: this process gets an EXIT event when the child ends.
    pub async fn spawn_monitored<T: Serialize + ?Sized>(
        &self,
        entry: &str,
        host: &str,
        args: &T,
    ) -> Result<Pid, SpawnError> {
        self.spawn_builder(entry, host).args(args).monitor().await
    }

    /// Spawns and links: if either fails, the other is killed (or, with
    /// [`Context::trap_links`], gets a LINK_DOWN event).
    pub async fn spawn_linked<T: Serialize + ?Sized>(
        &self,
        entry: &str,
        host: &str,
        args: &T,
    ) -> Result<Pid, SpawnError> {
        self.spawn_builder(entry, host).args(args).link().await
    }

    // ----- relations -----

    /// Monitors `pid`: an EXIT event arrives when it ends (at once, NOT_FOUND, if it is gone).
    pub fn monitor(&self, pid: Pid) -> Result<(), RelationError> {
        self.relate(|local, slot| local.monitor(slot, pid))
    }

    /// Stops monitoring `pid`; no EXIT from it arrives afterwards.
    pub fn demonitor(&self, pid: Pid) -> Result<(), RelationError> {
        self.relate(|local, slot| local.demonitor(slot, pid))
    }

    /// Links with `pid`.
    pub fn link(&self, pid: Pid) -> Result<(), RelationError> {
        self.relate(|local, slot| local.link(slot, pid))
    }

    /// Removes the link with `pid`.
    pub fn unlink(&self, pid: Pid) -> Result<(), RelationError> {
        self.relate(|local, slot| local.unlink(slot, pid))
    }

    /// Runs a relation call of the core for this process, unless it has ended.
    fn relate(
        &self,
        call: impl FnOnce(&starling_core::Local, u32) -> Result<(), starling_core::RelationError>,
    ) -> Result<(), RelationError> {
        if !self.alive() {
            return Err(RelationError::NotFound);
        }
        call(&self.inner.local, self.inner.slot).map_err(relation_error)
    }

    /// With `true`, a linked process failing sends this process a LINK_DOWN event instead of
    /// killing it.
    pub fn trap_links(&self, on: bool) {
        if self.alive() {
            self.inner.local.set_trap_links(self.inner.slot, on);
        }
    }

    /// Asks `pid` to stop: it gets a CANCEL event with `reason`. False when it is not alive.
    pub fn cancel(&self, pid: Pid, reason: &str) -> bool {
        self.inner.local.cancel(self.inner.pid, pid, reason)
    }

    /// Ends `pid` at once with a CANCELED error. False when it is not alive.
    pub fn terminate(&self, pid: Pid) -> bool {
        let reason = ErrorValue::new(ErrorKind::Canceled, "process terminated").retryable(None);
        self.inner.local.kill(pid, reason)
    }

    // ----- registry -----

    /// Registers `name` for this process until it ends.
    pub fn register(&self, name: &str) -> Result<(), RegisterError> {
        if name.is_empty() {
            return Err(RegisterError::Empty);
        }
        self.inner
            .local
            .register(name, self.inner.pid)
            .map_err(|_| RegisterError::Taken)
    }

    /// Removes a name this process registered; false if it holds no such name.
    pub fn unregister(&self, name: &str) -> bool {
        let registry = &self.node().registry;
        if registry.lookup(name) != Some(self.inner.pid) {
            return false;
        }
        registry.remove(name)
    }

    /// The process registered under `name`.
    pub fn lookup(&self, name: &str) -> Option<Pid> {
        self.inner.local.lookup_name(name)
    }

    // ----- time, tasks, blocking work -----

    /// Completes after `d`.
    pub fn sleep(&self, d: Duration) -> Sleep<'_> {
        self.sleep_until(Instant::now() + d)
    }

    /// Completes at `at`.
    pub fn sleep_until(&self, at: Instant) -> Sleep<'_> {
        Sleep {
            ctx: self,
            at,
            armed: false,
        }
    }

    /// Starts a task of this process: a future polled beside the body, on the same thread,
    /// until it completes or the process ends (like `coroutine.spawn` in Lua).
    pub fn task(&self, fut: impl Future<Output = ()> + 'static) {
        let fut: TaskFuture = Box::pin(fut);
        self.inner.state.borrow_mut().new_tasks.push(fut);
    }

    /// Runs `f` on a thread of its own and completes with its result, so a blocking call
    /// (reading stdin, a synchronous client) does not stall the worker's other processes.
    pub fn blocking<R, F>(&self, f: F) -> Blocking<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let shared = Arc::new(Mutex::new(BlockingState {
            result: None,
            waker: None,
        }));
        let theirs = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("starling-blocking".into())
            .spawn(move || {
                let r = f();
                let waker = {
                    let mut st = theirs.lock().unwrap_or_else(|p| p.into_inner());
                    st.result = Some(r);
                    st.waker.take()
                };
                if let Some(w) = waker {
                    w.wake();
                }
            });
        Blocking {
            shared,
            failed: spawned.is_err(),
        }
    }

    // ----- logging -----

    /// Writes an application log line through the host's log, with this process's pid as
    /// the first field (like Lua's `logger`).
    pub fn log(&self, level: Level, message: &str, fields: &[(&str, serde_json::Value)]) {
        let node = self.node();
        if !node.log_enabled(level) {
            return;
        }
        let mut all = Vec::with_capacity(fields.len() + 1);
        all.push((
            "pid".to_string(),
            serde_json::Value::from(self.pid_string()),
        ));
        let mut rest: Vec<(String, serde_json::Value)> = fields
            .iter()
            .filter(|(k, _)| *k != "pid")
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        all.extend(rest);
        node.log(LogRecord {
            level,
            name: String::new(),
            message: message.to_string(),
            fields: all,
        });
    }

    /// [`Context::log`] at info level.
    pub fn info(&self, message: &str, fields: &[(&str, serde_json::Value)]) {
        self.log(Level::Info, message, fields);
    }

    /// [`Context::log`] at debug level.
    pub fn debug(&self, message: &str, fields: &[(&str, serde_json::Value)]) {
        self.log(Level::Debug, message, fields);
    }

    /// [`Context::log`] at warn level.
    pub fn warn(&self, message: &str, fields: &[(&str, serde_json::Value)]) {
        self.log(Level::Warn, message, fields);
    }

    /// [`Context::log`] at error level.
    pub fn error(&self, message: &str, fields: &[(&str, serde_json::Value)]) {
        self.log(Level::Error, message, fields);
    }
}

fn relation_error(e: starling_core::RelationError) -> RelationError {
    match e {
        starling_core::RelationError::AlreadyExists => RelationError::AlreadyExists,
        _ => RelationError::NotFound,
    }
}

/// Future of [`Context::recv`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Recv<'a> {
    ctx: &'a Context,
}

impl Future for Recv<'_> {
    type Output = Message;
    fn poll(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<Message> {
        // No waker needed: a message for this process makes its worker step it.
        match self.ctx.try_recv() {
            Some(m) => Poll::Ready(m),
            None => Poll::Pending,
        }
    }
}

/// Future of [`Context::event`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct NextEvent<'a> {
    ctx: &'a Context,
}

impl Future for NextEvent<'_> {
    type Output = Event;
    fn poll(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<Event> {
        match self.ctx.try_event() {
            Some(e) => Poll::Ready(e),
            None => Poll::Pending,
        }
    }
}

/// Future of [`Context::sleep`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep<'a> {
    ctx: &'a Context,
    at: Instant,
    armed: bool,
}

impl Future for Sleep<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<()> {
        if Instant::now() >= self.at {
            return Poll::Ready(());
        }
        if !self.armed {
            // The worker's timer steps the process at `at`; token 0 means "just run it".
            let inner = &self.ctx.inner;
            if self.ctx.alive() {
                inner.local.add_timer(inner.slot, self.at, 0);
            }
            self.armed = true;
        }
        Poll::Pending
    }
}

struct BlockingState<R> {
    result: Option<R>,
    waker: Option<Waker>,
}

/// Future of [`Context::blocking`].
#[must_use = "futures do nothing unless awaited"]
pub struct Blocking<R> {
    shared: Arc<Mutex<BlockingState<R>>>,
    failed: bool,
}

impl<R> std::fmt::Debug for Blocking<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocking").finish_non_exhaustive()
    }
}

impl<R> Future for Blocking<R> {
    /// `None` when no thread could be started for the work.
    type Output = Option<R>;
    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Option<R>> {
        if self.failed {
            return Poll::Ready(None);
        }
        let mut st = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        match st.result.take() {
            Some(r) => Poll::Ready(Some(r)),
            None => {
                st.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// A spawn being set up ([`Context::spawn_builder`]); await it to spawn.
#[derive(Debug)]
#[must_use = "a spawn builder does nothing unless awaited"]
pub struct Spawn<'a> {
    ctx: &'a Context,
    entry: String,
    host: String,
    args: Result<Payload, PayloadError>,
    flags: SpawnFlags,
    name: Option<String>,
}

impl Spawn<'_> {
    /// The arguments of the child's main function: a tuple is several arguments, anything
    /// else one (see [`Payload::args`]).
    pub fn args<T: Serialize + ?Sized>(mut self, args: &T) -> Self {
        self.args = Payload::args(args);
        self
    }

    /// The arguments as an already built payload.
    pub fn payload(mut self, args: Payload) -> Self {
        self.args = Ok(args);
        self
    }

    /// Monitor the child: an EXIT event arrives when it ends.
    pub fn monitor(mut self) -> Self {
        self.flags.monitor = true;
        self
    }

    /// Link with the child.
    pub fn link(mut self) -> Self {
        self.flags.link = true;
        self
    }

    /// Register `name` for the child before it runs; the spawn fails if the name is taken.
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }
}

impl<'a> IntoFuture for Spawn<'a> {
    type Output = Result<Pid, SpawnError>;
    type IntoFuture = SpawnFuture<'a>;

    fn into_future(self) -> SpawnFuture<'a> {
        let ctx = self.ctx;
        let state = match start_spawn(self) {
            Ok(Started::Done(pid)) => SpawnState::Done(Some(Ok(pid))),
            Ok(Started::Waiting { token, child }) => SpawnState::Waiting { token, child },
            Err(e) => SpawnState::Done(Some(Err(e))),
        };
        SpawnFuture { ctx, state }
    }
}

enum Started {
    Done(Pid),
    Waiting { token: u64, child: Pid },
}

fn start_spawn(s: Spawn<'_>) -> Result<Started, SpawnError> {
    let ctx = s.ctx;
    let inner = &ctx.inner;
    if !ctx.alive() {
        return Err(SpawnError::Failed(ErrorValue::new(
            ErrorKind::NotFound,
            "process not found",
        )));
    }
    let node = ctx.node().clone();
    let host = node
        .host_id(&s.host)
        .ok_or_else(|| SpawnError::HostNotFound(s.host.clone()))?;
    if !node.host_running(host) {
        return Err(SpawnError::HostNotRunning(s.host));
    }
    let args = s.args?;
    let setup = s.name.map(|name| {
        Box::new(SpawnSetup {
            name: Some(name.into()),
            ..SpawnSetup::default()
        })
    });
    let token = inner.state.borrow_mut().expect();
    let req = SpawnRequest {
        entry: s.entry.into(),
        host,
        args,
        parent: None,
        flags: s.flags,
        reply: Some(ReplyTo {
            pid: inner.pid,
            token,
        }),
        num: 0,
        setup,
    };
    // Where the child goes is the core's decision; a native child on this worker is built
    // at once by this engine.
    let shared = inner.shared.upgrade();
    let spawned = inner
        .local
        .spawn(inner.slot, req, &mut |slot, pid, args| match &shared {
            Some(sh) => sh.clone().start_here(slot, pid, args),
            None => Err(ErrorValue::new(ErrorKind::Internal, "native engine gone")),
        });
    match spawned {
        Ok(Spawned::Done(pid)) => {
            inner.state.borrow_mut().forget(token);
            Ok(Started::Done(pid))
        }
        Ok(Spawned::Pending(child)) => Ok(Started::Waiting { token, child }),
        Err(e) => {
            inner.state.borrow_mut().forget(token);
            Err(SpawnError::Failed(e))
        }
    }
}

enum SpawnState {
    Done(Option<Result<Pid, SpawnError>>),
    Waiting { token: u64, child: Pid },
}

/// Future of a [`Spawn`].
#[must_use = "futures do nothing unless awaited"]
pub struct SpawnFuture<'a> {
    ctx: &'a Context,
    state: SpawnState,
}

impl std::fmt::Debug for SpawnFuture<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpawnFuture").finish_non_exhaustive()
    }
}

impl Future for SpawnFuture<'_> {
    type Output = Result<Pid, SpawnError>;
    fn poll(mut self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            SpawnState::Done(r) => Poll::Ready(r.take().unwrap_or_else(|| {
                Err(SpawnError::Failed(ErrorValue::new(
                    ErrorKind::Invalid,
                    "spawn future polled after completion",
                )))
            })),
            SpawnState::Waiting { token, child } => {
                let (token, child) = (*token, *child);
                let reply = self.ctx.inner.state.borrow_mut().take(token);
                match reply {
                    None => Poll::Pending,
                    Some(Ok(answer)) => {
                        self.state = SpawnState::Done(None);
                        // A child on another node is numbered there: its pid is in the answer.
                        let child = match (child.num, answer.values.first()) {
                            (0, Some(starling_core::Value::Str(s))) => std::str::from_utf8(s)
                                .ok()
                                .and_then(|s| self.ctx.parse_pid(s))
                                .unwrap_or(child),
                            _ => child,
                        };
                        Poll::Ready(Ok(child))
                    }
                    Some(Err(e)) => {
                        // The core undid the monitor/link the spawn had set up.
                        let _ = child;
                        self.state = SpawnState::Done(None);
                        Poll::Ready(Err(SpawnError::Failed(e)))
                    }
                }
            }
        }
    }
}

impl Drop for SpawnFuture<'_> {
    fn drop(&mut self) {
        if let SpawnState::Waiting { token, .. } = self.state {
            // Given up before the reply: the child may still start; nobody waits for it.
            self.ctx.inner.state.borrow_mut().forget(token);
        }
    }
}
