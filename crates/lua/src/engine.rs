//! The Lua engine of one worker: one Luau VM, many processes.
//!
//! Each process is a set of sandboxed coroutines sharing a private global table that reads
//! through to its entry's template (the modules it may use) and from there to the VM's sealed
//! globals. An entry's chunk is loaded once per VM; each spawn clones the chunk closure, points
//! it at the new process's globals and runs it (SPEC §2.3).
//!
//! # Guarantees
//! - No Lua value is shared between processes: everything crossing goes through
//!   [`crate::convert`].
//! - A Lua error ends only its own process, with the error object and traceback as its result.
//! - A step runs the process's ready coroutines until all are blocked, the process ends, or its
//!   time slice is spent (then the worker queues it behind the others).

use std::cell::{Cell, OnceCell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use mlua::{Function, LightUserData, Lua, MultiValue, Table, Thread, Value};
use rustc_hash::FxHashMap;
use starling_core::{
    ErrorKind, ErrorValue, Event, EventKind, ExitReason, HostKind, Local, Payload, Pid,
    SpawnRequest, Step, Wakeup,
};

use crate::chan::{self, ChanKind};
use crate::convert;
use crate::program::{Code, CodeKind, Program};
use crate::services::Services;
use crate::task::{ProcState, TokenUse};
use crate::userdata::error::{LuaErrorObject, from_lua_value, from_mlua};
use crate::userdata::message::LuaMessage;
use crate::userdata::payload::LuaPayload;
use crate::userdata::time::LuaTime;
use crate::vm;

/// Values the prelude hands back, kept for the engine.
pub(crate) struct Refs {
    pub(crate) pending: LightUserData,
    pub(crate) raise: LightUserData,
    pub(crate) task_body: Function,
    pub(crate) globals: Table,
}

/// An entry ready to spawn on this VM.
pub(crate) struct Prepared {
    pub(crate) code: Arc<Code>,
    chunk: Function,
    /// `{__index = template}`: shared metatable of every process global table of this entry.
    meta: Table,
}

/// Worker-wide engine state shared with the Rust functions scripts call.
pub(crate) struct Ctx {
    pub(crate) local: Rc<Local>,
    pub(crate) program: Arc<Program>,
    pub(crate) services: Arc<dyn Services>,
    pub(crate) terminal: bool,
    procs: RefCell<Vec<Option<Rc<ProcState>>>>,
    cur: RefCell<Option<Rc<ProcState>>>,
    cur_task: Cell<Option<u32>>,
    pub(crate) refs: OnceCell<Refs>,
    prepared: RefCell<FxHashMap<Arc<str>, Rc<Prepared>>>,
    /// Library chunks loaded in this VM (each process runs its own copy).
    libraries: RefCell<FxHashMap<Arc<str>, Function>>,
    /// Module values installed into templates, by name.
    pub(crate) modules: RefCell<FxHashMap<&'static str, Value>>,
}

/// A failure that raises in the calling script (misuse) rather than returning `nil, err`.
pub(crate) fn misuse(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::runtime(msg.into())
}

impl Ctx {
    pub(crate) fn new(local: Rc<Local>, program: Arc<Program>, services: Arc<dyn Services>) -> Ctx {
        let terminal = local.node().host_kind(local.host()) == HostKind::Terminal;
        Ctx {
            local,
            program,
            services,
            terminal,
            procs: RefCell::new(Vec::new()),
            cur: RefCell::new(None),
            cur_task: Cell::new(None),
            refs: OnceCell::new(),
            prepared: RefCell::new(FxHashMap::default()),
            libraries: RefCell::new(FxHashMap::default()),
            modules: RefCell::new(FxHashMap::default()),
        }
    }

    pub(crate) fn refs(&self) -> &Refs {
        self.refs.get().expect("prelude installed at VM creation")
    }

    /// The process currently running (or being initialised).
    pub(crate) fn current(&self) -> mlua::Result<Rc<ProcState>> {
        self.cur
            .borrow()
            .clone()
            .ok_or_else(|| misuse("no current process"))
    }

    /// The running task, for functions that block. Raises during chunk initialisation.
    pub(crate) fn current_task(&self) -> mlua::Result<u32> {
        self.cur_task.get().ok_or_else(|| {
            misuse("cannot block while a process is initialising (top level of its chunk)")
        })
    }

    /// The PENDING marker as a return value: "I registered a wait, yield".
    pub(crate) fn pending(&self) -> MultiValue {
        MultiValue::from_vec(vec![Value::LightUserData(self.refs().pending)])
    }

    /// Starts an asynchronous request for the running coroutine (for modules): whoever serves
    /// it answers with an [`starling_core::Envelope::Wake`] to the returned address (for
    /// example with [`starling_core::Local::reply`] or `Node::post` from another thread), and
    /// the coroutine resumes with the answer's first value, or `nil, err`. The module function
    /// returns [`Ctx::pending`] right after starting the work, and must be wrapped with the
    /// prelude's `blocking` when installed. Raises at the top level of a chunk (no coroutine
    /// can wait there). If the work cannot be started, call [`Ctx::cancel_request`].
    pub(crate) fn begin_request(&self) -> mlua::Result<starling_core::ReplyTo> {
        let p = self.current()?;
        let task = self.current_task()?;
        let wait = p.set_wait(task, crate::task::WaitKind::Call);
        let token = self.token(&p, TokenUse::Call { task, wait });
        Ok(starling_core::ReplyTo { pid: p.pid, token })
    }

    /// Withdraws a request begun with [`Ctx::begin_request`] that could not be started; the
    /// module then returns its error instead of [`Ctx::pending`].
    #[allow(dead_code)] // the seam for modules whose work can fail to start
    pub(crate) fn cancel_request(&self, reply: starling_core::ReplyTo) {
        let Ok(p) = self.current() else { return };
        p.tokens.borrow_mut().remove(&reply.token);
        if let Some(task) = self.cur_task.get() {
            if let Some(t) = p.tasks.borrow_mut().get_mut(task as usize) {
                t.wait = None;
            }
        }
    }

    /// A fresh token for worker timers and requests, owned by `p`.
    pub(crate) fn token(&self, p: &ProcState, use_: TokenUse) -> u64 {
        let t = p.next_id();
        p.tokens.borrow_mut().insert(t, use_);
        t
    }

    pub(crate) fn pid_string(&self, pid: Pid) -> String {
        self.local.node().format_pid(pid)
    }

    fn proc(&self, slot: u32) -> Option<Rc<ProcState>> {
        self.procs
            .borrow()
            .get(slot as usize)
            .and_then(|p| p.clone())
    }

    fn store(&self, slot: u32, p: Option<Rc<ProcState>>) {
        let mut procs = self.procs.borrow_mut();
        let i = slot as usize;
        if procs.len() <= i {
            procs.resize_with(i + 1, || None);
        }
        procs[i] = p;
    }

    /// Loads (once per VM) the entry `id`, or says why it cannot be spawned.
    /// `function.lua` entries are accepted only with `function` set (calls through `funcs`).
    pub(crate) fn prepare(
        &self,
        lua: &Lua,
        id: &str,
        function: bool,
    ) -> Result<Rc<Prepared>, ErrorValue> {
        let wanted = if function {
            CodeKind::Function
        } else {
            CodeKind::Process
        };
        if let Some(p) = self.prepared.borrow().get(id) {
            if p.code.kind == wanted {
                return Ok(p.clone());
            }
        }
        let code = self.program.lookup(id)?.clone();
        if function && code.kind != CodeKind::Function {
            return Err(ErrorValue::new(
                ErrorKind::NotFound,
                format!("function not found: {id}"),
            ));
        }
        if !function && code.kind != CodeKind::Process {
            return Err(ErrorValue::new(
                ErrorKind::Invalid,
                format!("entry {id} is not a process.lua entry"),
            ));
        }
        let prepared = self.load(lua, code).map_err(|e| from_mlua(&e))?;
        let prepared = Rc::new(prepared);
        self.prepared
            .borrow_mut()
            .insert(prepared.code.id.clone(), prepared.clone());
        Ok(prepared)
    }

    fn load(&self, lua: &Lua, code: Arc<Code>) -> mlua::Result<Prepared> {
        let refs = self.refs();
        let template = lua.create_table()?;
        {
            let modules = self.modules.borrow();
            for m in &code.modules {
                if let Some(v) = modules.get(m.name()) {
                    template.raw_set(m.name(), v.clone())?;
                }
            }
        }
        let tmeta = lua.create_table()?;
        tmeta.raw_set("__index", refs.globals.clone())?;
        template.set_metatable(Some(tmeta))?;
        template.set_readonly(true);
        let meta = lua.create_table()?;
        meta.raw_set("__index", template.clone())?;
        meta.set_readonly(true);
        let chunk = lua
            .load(&code.bytecode[..])
            .set_name(format!("={}", code.id))
            .set_mode(mlua::chunk::ChunkMode::Binary)
            .set_environment(template)
            .into_function()?;
        Ok(Prepared { code, chunk, meta })
    }

    /// Creates a process on this worker (SPEC §2.3 steps 1-4). The request's `host` must be
    /// this worker's; its `reply` is the caller's business.
    pub(crate) fn spawn_here(&self, lua: &Lua, req: SpawnRequest) -> Result<Pid, ErrorValue> {
        let SpawnRequest {
            entry,
            args,
            parent,
            flags,
            num,
            setup,
            ..
        } = req;
        let args = &args;
        let function = setup.as_ref().is_some_and(|s| s.function);
        let prepared = self.prepare(lua, &entry, function)?;
        self.local.check_setup(setup.as_deref())?;
        let pid = self.local.spawn_local(parent, flags, num, |slot, pid| {
            self.init(lua, slot, pid, prepared, args)
                .map_err(|e| match e {
                    InitError::Lua(e) => from_mlua(&e),
                    InitError::Value(v) => v,
                })
        })?;
        self.local.apply_setup(pid, setup);
        Ok(pid)
    }

    fn init(
        &self,
        lua: &Lua,
        slot: u32,
        pid: Pid,
        prepared: Rc<Prepared>,
        args: &Payload,
    ) -> Result<(), InitError> {
        let env = lua.create_table()?;
        env.set_metatable(Some(prepared.meta.clone()))?;
        vm::set_safe_env(lua, &env)?;
        let chunk = prepared.chunk.deep_clone()?;
        chunk.set_environment(env.clone())?;
        let key = lua.create_registry_value(&env)?;
        let p = Rc::new(ProcState::new(slot, pid, prepared.clone(), key));

        // Run the libraries and the chunk as the new process: their top level may call
        // process.pid() and friends.
        let prev = self.cur.replace(Some(p.clone()));
        let prev_task = self.cur_task.replace(None);
        let ran = self
            .run_libraries(lua, &prepared.code, &env)
            .and_then(|()| chunk.call::<MultiValue>(()));
        self.cur.replace(prev);
        self.cur_task.set(prev_task);
        let started = ran
            .map_err(InitError::from)
            .and_then(|ret| self.start_main(lua, &p, chunk, ret, args));
        match started {
            // The chunk's channels are this process's: their inline values are stored now, for
            // this process (a spawner's step goes on after this).
            Ok(()) => {
                chan::spill(lua, &p);
                self.store(slot, Some(p));
                Ok(())
            }
            // The process never existed; what its channels keep goes now (see `release`).
            Err(e) => {
                let _ = chan::ChanState::release_process(lua, &p);
                Err(e)
            }
        }
    }

    /// The rest of [`Ctx::init`] once the chunk ran and returned `ret`: the main task.
    fn start_main(
        &self,
        lua: &Lua,
        p: &ProcState,
        chunk: Function,
        ret: MultiValue,
        args: &Payload,
    ) -> Result<(), InitError> {
        let main = match &p.entry.code.method {
            None => chunk,
            Some(m) => match ret.into_iter().next() {
                Some(Value::Table(t)) => match t.get::<Value>(m.as_str())? {
                    Value::Function(f) => f,
                    _ => return Err(InitError::method(m)),
                },
                Some(Value::Function(f)) => f,
                _ => return Err(InitError::method(m)),
            },
        };
        let mut targs = Vec::with_capacity(args.len() + 1);
        targs.push(Value::Function(main));
        targs.extend(convert::from_payload(lua, args)?);
        let thread = lua.create_thread(self.refs().task_body.clone())?;
        vm::set_category(&thread, p.slot);
        let main_task = p.add_task(lua, thread, targs)?;
        p.main.set(main_task);
        Ok(())
    }

    /// Installs the entry's libraries (already expanded and ordered, dependencies first) as
    /// globals of the process: each runs its own copy of the library chunk (SPEC §2.5).
    fn run_libraries(&self, lua: &Lua, code: &Code, env: &Table) -> mlua::Result<()> {
        for (alias, lib) in &code.imports {
            let loaded = self.libraries.borrow().get(lib).cloned();
            let f = match loaded {
                Some(f) => f,
                None => {
                    let lib_code = self.program.get(lib).ok_or_else(|| {
                        misuse(format!("library {lib} not found (imported as {alias})"))
                    })?;
                    let f = lua
                        .load(&lib_code.bytecode[..])
                        .set_name(format!("={}", lib_code.id))
                        .set_mode(mlua::chunk::ChunkMode::Binary)
                        .into_function()?;
                    self.libraries.borrow_mut().insert(lib.clone(), f.clone());
                    f
                }
            };
            let f = f.deep_clone()?;
            f.set_environment(env.clone())?;
            let value = f
                .call::<MultiValue>(())?
                .into_iter()
                .next()
                .unwrap_or(Value::Nil);
            env.raw_set(alias.as_str(), value)?;
        }
        Ok(())
    }

    /// Starts a coroutine of the current process (`coroutine.spawn`).
    pub(crate) fn spawn_task(&self, lua: &Lua, f: Function) -> mlua::Result<Thread> {
        let p = self.current()?;
        let thread = lua.create_thread(self.refs().task_body.clone())?;
        vm::set_category(&thread, p.slot);
        p.add_task(lua, thread.clone(), vec![Value::Function(f)])?;
        Ok(thread)
    }

    /// Pops the next item of a special channel and converts it.
    pub(crate) fn pop_special(
        &self,
        lua: &Lua,
        p: &ProcState,
        kind: &ChanKind,
    ) -> mlua::Result<Option<Value>> {
        match kind {
            ChanKind::User => Ok(None),
            ChanKind::Inbox => {
                let Some(msg) = self.local.with(p.slot, |c| c.mailbox.pop_front()) else {
                    return Ok(None);
                };
                Ok(Some(self.message_value(lua, msg)?))
            }
            ChanKind::Events => {
                let Some(ev) = self.local.with(p.slot, |c| c.events.pop_front()) else {
                    return Ok(None);
                };
                Ok(Some(Value::Table(self.event_table(lua, &ev)?)))
            }
            ChanKind::Listen { topic, raw } => {
                let msg = self.local.with(p.slot, |c| {
                    c.extra
                        .as_mut()
                        .and_then(|x| x.listeners.iter_mut().find(|l| l.topic == *topic))
                        .and_then(|l| l.queue.pop_front())
                });
                let Some(msg) = msg else { return Ok(None) };
                if !raw {
                    return Ok(Some(self.message_value(lua, msg)?));
                }
                let vals = convert::from_payload(lua, &msg.payload)?;
                Ok(Some(match vals.len() {
                    0 => Value::Nil,
                    1 => vals.into_iter().next().expect("one value"),
                    _ => Value::Table(lua.create_sequence_from(vals)?),
                }))
            }
        }
    }

    fn message_value(&self, lua: &Lua, msg: starling_core::Message) -> mlua::Result<Value> {
        let node = self.local.node().clone();
        Ok(Value::UserData(
            lua.create_userdata(LuaMessage { msg, node })?,
        ))
    }

    /// An event as the table scripts receive (SPEC §5.4).
    pub(crate) fn event_table(&self, lua: &Lua, ev: &Event) -> mlua::Result<Table> {
        let t = lua.create_table_with_capacity(0, 4)?;
        t.raw_set("kind", ev.kind.as_str())?;
        t.raw_set("from", self.pid_string(ev.from))?;
        t.raw_set("at", ev.at)?;
        match ev.kind {
            EventKind::Cancel => {
                t.raw_set("reason", ev.reason.as_deref().unwrap_or(""))?;
            }
            EventKind::Exit | EventKind::LinkDown => {
                if let Some(r) = &ev.result {
                    t.raw_set("result", result_table(lua, r)?)?;
                }
            }
        }
        Ok(t)
    }

    /// Runs the process in `slot` (see [`starling_core::Engine::step`]).
    fn step(&self, lua: &Lua, slot: u32) -> Step {
        let Some(p) = self.proc(slot) else {
            return Step::Exit(ExitReason::error(ErrorValue::new(
                ErrorKind::Internal,
                "process state missing",
            )));
        };
        self.cur.replace(Some(p.clone()));
        let step = self
            .step_inner(lua, &p)
            .unwrap_or_else(|e| Step::Exit(ExitReason::error(from_mlua(&e))));
        let step = vm::after_step(lua, self, &p, step);
        if !matches!(step, Step::Exit(_)) {
            // An ending process's inline values are dropped at release instead.
            chan::spill(lua, &p);
        }
        chan::end_step(lua);
        self.cur.replace(None);
        self.cur_task.set(None);
        step
    }

    fn step_inner(&self, lua: &Lua, p: &Rc<ProcState>) -> mlua::Result<Step> {
        let wakeups = self.local.with(p.slot, |c| std::mem::take(&mut c.wakeups));
        for w in wakeups {
            self.on_wakeup(lua, p, w)?;
        }
        self.pump(lua, p)?;
        let started = Instant::now();
        loop {
            if started.elapsed() >= vm::SLICE && !p.ready.borrow().is_empty() {
                // Coroutines that keep waking each other must not starve other processes.
                return Ok(Step::Preempted);
            }
            let next = p.ready.borrow_mut().pop_front();
            let Some(tid) = next else {
                if self.pump(lua, p)? == 0 {
                    return Ok(Step::Blocked);
                }
                continue;
            };
            let (thread, args) = {
                let mut tasks = p.tasks.borrow_mut();
                let Some(t) = tasks.get_mut(tid as usize) else {
                    continue;
                };
                let thread: Thread = lua.registry_value(&t.thread)?;
                if t.preempted {
                    t.preempted = false;
                    (thread, Vec::new())
                } else {
                    (thread, t.resume.take().unwrap_or_default())
                }
            };
            self.cur_task.set(Some(tid));
            vm::begin_slice(thread.to_pointer(), started);
            let result = thread.resume::<MultiValue>(MultiValue::from_vec(args));
            let preempted = vm::end_slice();
            self.cur_task.set(None);
            let values = result?;
            if thread.status() == mlua::thread::ThreadStatus::Resumable {
                let first = values.front();
                if !matches!(first, Some(Value::LightUserData(l)) if *l == self.refs().pending) {
                    // Preempted, or a plain coroutine.yield() at task level: run again later.
                    if preempted {
                        if let Some(t) = p.tasks.borrow_mut().get_mut(tid as usize) {
                            t.preempted = true;
                        }
                    }
                    p.ready.borrow_mut().push_front(tid);
                    if preempted || self.local.with(p.slot, |c| c.kill.is_some()) {
                        return Ok(Step::Preempted);
                    }
                    continue;
                }
                // Woken while it was preempted on its way to this PENDING yield: run it again.
                if p.tasks
                    .borrow()
                    .get(tid as usize)
                    .is_some_and(|t| t.wait.is_none() && t.resume.is_some())
                {
                    p.ready.borrow_mut().push_back(tid);
                }
                if self.local.with(p.slot, |c| c.kill.is_some()) {
                    return Ok(Step::Blocked);
                }
                continue;
            }
            // The task finished: xpcall results (ok, ...).
            let mut it = values.into_iter();
            let ok = matches!(it.next(), Some(Value::Boolean(true)));
            if !ok {
                let err = it.next().unwrap_or(Value::Nil);
                return Ok(Step::Exit(ExitReason::error(from_lua_value(&err))));
            }
            if tid == p.main.get() {
                let rest: Vec<Value> = it.collect();
                return Ok(Step::Exit(main_result(&rest)?));
            }
            p.tasks.borrow_mut().try_remove(tid as usize);
            if self.local.with(p.slot, |c| c.kill.is_some()) {
                return Ok(Step::Blocked);
            }
        }
    }

    fn pump(&self, lua: &Lua, p: &ProcState) -> mlua::Result<usize> {
        // Indexed rather than collected: this runs at least once per step. Each channel is
        // taken out of the borrow before pumping, which may touch the specials again.
        let mut n = 0;
        for i in 0.. {
            let st = {
                let s = p.specials.borrow();
                let fixed = [&s.inbox, &s.events];
                match fixed.get(i) {
                    Some(Some((_, st))) => st.clone(),
                    Some(None) => continue,
                    None => match s.listeners.get(i - fixed.len()) {
                        Some((_, _, st)) => st.clone(),
                        None => break,
                    },
                }
            };
            n += chan::pump(lua, self, p, &st)?;
        }
        Ok(n)
    }

    fn on_wakeup(&self, lua: &Lua, p: &ProcState, w: Wakeup) -> mlua::Result<()> {
        let (token, result) = match w {
            Wakeup::Timer(t) => (t, None),
            Wakeup::Done(t, r) => (t, Some(r)),
        };
        let Some(use_) = p.tokens.borrow_mut().remove(&token) else {
            return Ok(());
        };
        match use_ {
            TokenUse::Sleep { task, wait } => {
                p.wake(lua, task, wait, Vec::new());
            }
            TokenUse::After(st) => {
                let now = Value::UserData(lua.create_userdata(LuaTime::now())?);
                // The owner may have closed the channel already; the tick is then dropped.
                let _ = chan::try_send(lua, p, &st, &now);
                chan::close(lua, p, &st, Value::LightUserData(self.refs().raise))?;
            }
            TokenUse::Result { chan: st, state } => {
                state.raw_set("done", true)?;
                match result.unwrap_or_else(|| Ok(Payload::empty())) {
                    Ok(payload) => {
                        let v = Value::UserData(lua.create_userdata(LuaPayload::new(payload))?);
                        state.raw_set("value", v.clone())?;
                        let _ = chan::try_send(lua, p, &st, &v);
                    }
                    Err(e) => {
                        state.raw_set("err", lua.create_userdata(LuaErrorObject(e))?)?;
                    }
                }
                chan::close(lua, p, &st, Value::LightUserData(self.refs().raise))?;
            }
            TokenUse::Timer(t) => {
                crate::userdata::timer::on_fire(lua, self, p, token, t)?;
            }
            TokenUse::Deadline { pid, state } => {
                if !state.raw_get::<bool>("done").unwrap_or(false) {
                    crate::modules::funcs::stop_call(
                        self,
                        pid,
                        ErrorValue::new(ErrorKind::Timeout, "function call timed out"),
                    );
                }
            }
            TokenUse::Call { task, wait } => {
                let r = result.unwrap_or_else(|| Ok(Payload::empty()));
                let vals = match r {
                    Ok(payload) => vec![convert::first_from_payload(lua, &payload)?],
                    Err(e) => {
                        vec![
                            Value::Nil,
                            Value::UserData(lua.create_userdata(LuaErrorObject(e))?),
                        ]
                    }
                };
                p.wake(lua, task, wait, vals);
            }
        }
        Ok(())
    }

    /// Drops the engine half of a process.
    fn release(&self, lua: &Lua, slot: u32) {
        let mut reclaim = false;
        if let Some(p) = self.proc(slot) {
            if p.raw_mode.get() > 0 {
                if let Some(t) = self.services.terminal() {
                    let _ = t.set_raw(false);
                }
            }
            reclaim = p.out_of_memory.get();
            // What its channels keep goes now, cycles included. Should this fail, the collector
            // still takes every store that is not in a cycle.
            let _ = chan::ChanState::release_process(lua, &p);
        }
        self.store(slot, None);
        if reclaim {
            vm::reclaim(lua);
        } else {
            // Let go of the registry slots of the process's threads and globals now, so its
            // memory is garbage even if no other process is spawned on this worker after it.
            lua.expire_registry_values();
        }
    }
}

enum InitError {
    Lua(mlua::Error),
    Value(ErrorValue),
}

impl InitError {
    fn method(m: &str) -> InitError {
        InitError::Value(ErrorValue::new(
            ErrorKind::NotFound,
            format!("method not found: {m}"),
        ))
    }
}

impl From<mlua::Error> for InitError {
    fn from(e: mlua::Error) -> Self {
        InitError::Lua(e)
    }
}

/// The result table of an EXIT/LINK_DOWN event: `{value = v}` or `{error = err}`.
fn result_table(lua: &Lua, r: &ExitReason) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 1)?;
    match r.result() {
        Ok(p) => t.raw_set("value", convert::first_from_payload(lua, p)?)?,
        Err(e) => t.raw_set("error", lua.create_userdata(LuaErrorObject(e.clone()))?)?,
    }
    Ok(t)
}

/// A main function's return values as an exit reason (SPEC §4.4).
fn main_result(rest: &[Value]) -> mlua::Result<ExitReason> {
    if let Some(second) = rest.get(1) {
        let failed = match second {
            Value::String(_) => true,
            Value::UserData(ud) => ud.borrow::<LuaErrorObject>().is_ok(),
            _ => false,
        };
        if failed {
            return Ok(ExitReason::error(from_lua_value(second)));
        }
    }
    let first = rest.first().cloned().unwrap_or(Value::Nil);
    Ok(ExitReason::normal(convert::value_to_payload(&first)?))
}

/// The engine of one worker thread.
pub struct LuaEngine {
    lua: Lua,
    ctx: Rc<Ctx>,
}

impl std::fmt::Debug for LuaEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuaEngine").finish_non_exhaustive()
    }
}

impl LuaEngine {
    /// Creates the VM for a worker and installs every global and module.
    pub fn new(
        local: Rc<Local>,
        program: Arc<Program>,
        services: Arc<dyn Services>,
    ) -> mlua::Result<LuaEngine> {
        let lua = vm::new_lua()?;
        let ctx = Rc::new(Ctx::new(local, program, services));
        crate::modules::install(&lua, &ctx)?;
        Ok(LuaEngine { lua, ctx })
    }

    /// Limits the VM's Lua memory (`host.memory_limit`); a process whose allocation would
    /// pass it ends with an out-of-memory error, the others keep running.
    pub fn set_memory_limit(&self, bytes: usize) -> mlua::Result<()> {
        vm::set_memory_limit(&self.lua, bytes)
    }
}

impl starling_core::Engine for LuaEngine {
    fn step(&mut self, slot: u32) -> Step {
        self.ctx.step(&self.lua, slot)
    }

    fn spawn(&mut self, req: SpawnRequest) -> Result<Pid, ErrorValue> {
        if self.ctx.terminal && !self.ctx.local.is_empty() {
            return Err(ErrorValue::new(
                ErrorKind::Unavailable,
                "terminal host busy",
            ));
        }
        let spawned = self.ctx.spawn_here(&self.lua, req);
        // The child's chunk ran: channel stores it used are let go of as after a step.
        chan::end_step(&self.lua);
        spawned
    }

    fn release(&mut self, slot: u32) {
        self.ctx.release(&self.lua, slot);
    }
}
