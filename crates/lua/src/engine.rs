//! The Lua engine's worker-wide state ([`Ctx`]): the processes of this worker's VM, the one
//! running now, the entries loaded into the VM, and what every module needs to reach.
//!
//! Each process is a set of sandboxed coroutines sharing a private global table that reads
//! through to its entry's template (the modules it may use) and from there to the VM's sealed
//! globals. An entry's chunk is loaded once per VM.
//!
//! # Guarantees
//! - No Lua value is shared between processes: everything crossing goes through payloads.
//! - A Lua error ends only its own process, with the error object and traceback as its result.

use std::cell::{Cell, OnceCell, RefCell};
use std::os::raw::c_int;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use mlua::{Function, Lua, MultiValue, Table, Value};
use rustc_hash::FxHashMap;
use starling_core::{ByteStr, ErrorKind, ErrorValue, HostId, HostKind, Local, Pid};

use crate::program::{Code, CodeKind, Program};
use crate::rt::prepared::Prepared;
use crate::rt::proc::{Completion, ProcState};
use crate::rt::task::{WaitKind, Waker};
use crate::rt::values::PidStrings;
use crate::services::Services;

/// Values the prelude hands back, kept for the engine.
pub(crate) struct Refs {
    pub(crate) task_body: Function,
    /// The same, as a registry reference.
    pub(crate) task_body_ref: c_int,
    pub(crate) globals: Table,
    /// The inbox and events channel objects (registry references) and their receive cases.
    pub(crate) inbox: c_int,
    pub(crate) events: c_int,
    pub(crate) inbox_case: c_int,
    pub(crate) events_case: c_int,
    /// Those two cases' identities and their channels' state (see `select`).
    pub(crate) inbox_case_id: *const std::ffi::c_void,
    pub(crate) events_case_id: *const std::ffi::c_void,
    pub(crate) inbox_st: Rc<RefCell<crate::rt::chan::ChanState>>,
    pub(crate) events_st: Rc<RefCell<crate::rt::chan::ChanState>>,
    /// Metatable of select cases (registry reference) and its identity.
    pub(crate) case_meta: c_int,
    pub(crate) case_meta_id: *const std::ffi::c_void,
    /// The key `default` (registry reference), for `cases.default` without interning.
    pub(crate) default_key: c_int,
}

thread_local! {
    /// The engine of this worker thread while it runs a process (see [`Ctx::enter`]).
    static CURRENT: RefCell<Option<Rc<Ctx>>> = const { RefCell::new(None) };
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
    pub(crate) prepared: RefCell<FxHashMap<Arc<str>, Rc<Prepared>>>,
    /// Library chunks loaded in this VM (each process runs its own copy).
    pub(crate) libraries: RefCell<FxHashMap<Arc<str>, Function>>,
    /// Module values installed into templates, by name.
    pub(crate) modules: RefCell<FxHashMap<&'static str, Value>>,
    /// How long code may run where it cannot yield before it is ended.
    pub(crate) watchdog: Duration,
    /// Printed pids as Lua strings.
    pub(crate) pid_strings: Rc<PidStrings>,
    /// Destinations of sends already parsed as pids (a direct-mapped cache by text).
    dests: RefCell<Vec<Option<DestSlot>>>,
    /// The last spawn target resolved from its names (see [`Ctx::spawn_target`]).
    spawn_target: RefCell<Option<SpawnTarget>>,
    /// The VM (weak: the VM's functions hold the context).
    lua: OnceCell<mlua::WeakLua>,
}

/// An entry id and a host name as a script passed them to a spawn, and what they named.
struct SpawnTarget {
    id: Box<[u8]>,
    host_name: Box<[u8]>,
    entry: Arc<str>,
    host: HostId,
}

/// One destination cache slot: the text as sent, and the pid it names.
type DestSlot = (Box<[u8]>, Pid);

/// Slots of the destination cache.
const DEST_SLOTS: usize = 128;

/// A failure that raises in the calling script (misuse) rather than returning `nil, err`.
pub(crate) fn misuse(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::runtime(msg.into())
}

/// How much CPU time code may use where it cannot yield (a metamethod, a `table.sort`
/// comparator, a user coroutine, a pattern match) before it is ended, unless the host sets
/// another bound (`host.watchdog`).
pub const DEFAULT_WATCHDOG: Duration = starling_entry::kind::DEFAULT_WATCHDOG;

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
            watchdog: DEFAULT_WATCHDOG,
            pid_strings: Rc::new(PidStrings::new()),
            dests: RefCell::new(vec![None; DEST_SLOTS]),
            spawn_target: RefCell::new(None),
            lua: OnceCell::new(),
        }
    }

    /// The entry and host a spawn names by `id` and `host_name` (`None` when either is not
    /// UTF-8 or the host is unknown; an unknown entry comes back as given, for the spawn to
    /// report). The last target of a worker's VM is kept, so a relay spawning the same entry
    /// again skips the UTF-8 checks and both lookups; only this node's own hosts are kept (a
    /// `node@host` name resolves through the cluster, which changes).
    pub(crate) fn spawn_target(&self, id: &[u8], host_name: &[u8]) -> Option<(Arc<str>, HostId)> {
        if let Some(t) = self.spawn_target.borrow().as_ref() {
            if *t.id == *id && *t.host_name == *host_name {
                return Some((t.entry.clone(), t.host));
            }
        }
        let (Ok(id_text), Ok(host_text)) =
            (std::str::from_utf8(id), std::str::from_utf8(host_name))
        else {
            return None;
        };
        let host = self.local.node().host_id(host_text)?;
        let entry: Arc<str> = match self.program.get(id_text) {
            Some(code) => code.id.clone(),
            None => id_text.into(),
        };
        if !host_text.contains('@') {
            *self.spawn_target.borrow_mut() = Some(SpawnTarget {
                id: id.into(),
                host_name: host_name.into(),
                entry: entry.clone(),
                host,
            });
        }
        Some((entry, host))
    }

    /// Remembers the VM this context belongs to.
    pub(crate) fn set_lua(&self, lua: &Lua) {
        let _ = self.lua.set(lua.weak());
    }

    /// The VM, for raw functions that need mlua (loading an entry, say).
    pub(crate) fn lua(&self) -> Option<Lua> {
        self.lua.get().and_then(|w| w.try_upgrade())
    }

    /// The engine of this thread, while it runs a process or a spawn.
    pub(crate) fn get() -> Option<Rc<Ctx>> {
        CURRENT.with(|c| c.try_borrow().ok().and_then(|c| c.clone()))
    }

    /// Makes `ctx` this thread's engine until the guard is dropped.
    pub(crate) fn enter(ctx: &Rc<Ctx>) -> Entered {
        let previous = CURRENT.with(|c| {
            c.try_borrow_mut()
                .ok()
                .and_then(|mut c| c.replace(ctx.clone()))
        });
        Entered { previous }
    }

    pub(crate) fn refs(&self) -> &Refs {
        self.refs.get().expect("prelude installed at VM creation")
    }

    /// The process currently running (or being initialised).
    pub(crate) fn current(&self) -> mlua::Result<Rc<ProcState>> {
        self.try_current()
            .ok_or_else(|| misuse("no current process"))
    }

    /// The process currently running, if any.
    pub(crate) fn try_current(&self) -> Option<Rc<ProcState>> {
        self.cur.try_borrow().ok().and_then(|c| c.clone())
    }

    /// Makes `p` the running process (and `task` its running task); returns the previous.
    pub(crate) fn set_current(
        &self,
        p: Option<Rc<ProcState>>,
        task: Option<u32>,
    ) -> (Option<Rc<ProcState>>, Option<u32>) {
        let prev = self.cur.replace(p);
        let prev_task = self.cur_task.replace(task);
        (prev, prev_task)
    }

    /// The running task, for functions that block. `None` during chunk initialisation.
    pub(crate) fn task(&self) -> Option<u32> {
        self.cur_task.get()
    }

    /// Sets the running task.
    pub(crate) fn set_task(&self, task: Option<u32>) {
        self.cur_task.set(task);
    }

    /// The running task, for functions that block. Raises during chunk initialisation.
    pub(crate) fn current_task(&self) -> mlua::Result<u32> {
        self.cur_task.get().ok_or_else(|| misuse(INIT_BLOCK))
    }

    /// The PENDING marker as a return value: "I registered a wait, yield".
    pub(crate) fn pending(&self) -> MultiValue {
        MultiValue::from_vec(vec![Value::LightUserData(mlua::LightUserData(
            crate::ffi::PENDING,
        ))])
    }

    /// A fresh token for worker timers and requests, owned by `p`, completed by `c`.
    pub(crate) fn token(&self, p: &ProcState, c: Box<dyn Completion>) -> u64 {
        let t = p.next_id();
        p.add_token(&self.local, t, c);
        t
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
        let wait = p.set_wait(task, WaitKind::Call);
        let token = self.token(&p, Box::new(Answered { task, wait }));
        Ok(starling_core::ReplyTo { pid: p.pid, token })
    }

    #[allow(dead_code)] // the seam for modules whose work can fail to start
    /// Withdraws a request begun with [`Ctx::begin_request`] that could not be started; the
    /// module then returns its error instead of [`Ctx::pending`].
    pub(crate) fn cancel_request(&self, reply: starling_core::ReplyTo) {
        let Ok(p) = self.current() else { return };
        p.rare().tokens.borrow_mut().remove(reply.token);
        if let Some(task) = self.cur_task.get() {
            if let Some(t) = p.tasks.borrow_mut().get_mut(task as usize) {
                t.wait = None;
            }
        }
    }

    /// Resolves a destination (a printed pid, or a registered name) for a send. Pids parsed
    /// once are cached by their text (a pure function of it); names are looked up each time.
    pub(crate) fn resolve(&self, dest: &[u8]) -> Option<Pid> {
        let is_pid = dest.first() == Some(&b'{');
        let slot = if is_pid {
            let h = dest.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3)
            });
            let slot = (h % DEST_SLOTS as u64) as usize;
            if let Ok(d) = self.dests.try_borrow() {
                if let Some(Some((text, pid))) = d.get(slot) {
                    if **text == *dest {
                        return Some(*pid);
                    }
                }
            }
            Some(slot)
        } else {
            None
        };
        let text = std::str::from_utf8(dest).ok()?;
        let node = self.local.node();
        match node.parse_pid(text) {
            Ok(pid) => {
                if let (Some(slot), Ok(mut d)) = (slot, self.dests.try_borrow_mut()) {
                    if let Some(e) = d.get_mut(slot) {
                        *e = Some((dest.into(), pid));
                    }
                }
                Some(pid)
            }
            Err(starling_core::PidError::UnknownHost) => None,
            Err(_) => self.local.lookup_name(text),
        }
    }

    /// A printed pid as a result item: the cached Lua string, or one to cache.
    pub(crate) fn pid_item(&self, pid: Pid) -> crate::ffi::Item {
        match self.pid_strings.get(pid) {
            Some(r) => crate::ffi::Item::Ref(r),
            None => crate::ffi::Item::PidStr(self.pid_bytes(pid), self.pid_strings.clone(), pid),
        }
    }

    pub(crate) fn pid_string(&self, pid: Pid) -> String {
        self.local.node().format_pid(pid)
    }

    /// [`Ctx::pid_string`] as a [`ByteStr`] (in place when short: no allocation).
    pub(crate) fn pid_bytes(&self, pid: Pid) -> ByteStr {
        self.local.node().pid_bytes(pid)
    }

    pub(crate) fn proc(&self, slot: u32) -> Option<Rc<ProcState>> {
        self.procs
            .borrow()
            .get(slot as usize)
            .and_then(|p| p.clone())
    }

    pub(crate) fn store(&self, slot: u32, p: Option<Rc<ProcState>>) {
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
        let prepared = self
            .load(lua, code)
            .map_err(|e| crate::userdata::error::from_mlua(&e))?;
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
        let recipe = crate::ffi::Recipe {
            meta: crate::ffi::make_ref(lua, &meta)?,
            chunk: crate::ffi::make_ref(lua, &chunk)?,
            body: refs.task_body_ref,
            method: match &code.method {
                Some(m) => crate::ffi::make_ref(lua, m.as_str())?,
                None => mlua::ffi::LUA_NOREF,
            },
            inert: crate::ffi::chunk_is_inert(lua, &chunk)?,
        };
        Ok(Prepared {
            code,
            chunk,
            meta,
            recipe,
            method_cache: std::cell::Cell::new(mlua::ffi::LUA_NOREF),
        })
    }
}

/// The message of the error raised by a blocking call at the top level of a chunk.
pub(crate) const INIT_BLOCK: &str =
    "cannot block while a process is initialising (top level of its chunk)";

/// Restores the previous engine of the thread when dropped (see [`Ctx::enter`]).
pub(crate) struct Entered {
    previous: Option<Rc<Ctx>>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| {
            if let Ok(mut c) = c.try_borrow_mut() {
                *c = previous;
            }
        });
    }
}

/// The completion of a request: wakes the waiting task with the outcome (its first value,
/// or `nil, err`).
pub(crate) struct Answered {
    pub(crate) task: u32,
    pub(crate) wait: u64,
}

impl Completion for Answered {
    fn complete(
        self: Box<Self>,
        _lua: &Lua,
        p: &ProcState,
        _token: u64,
        result: Option<starling_core::ExitResult>,
    ) -> mlua::Result<()> {
        let result = result.unwrap_or_else(|| Ok(starling_core::Payload::empty()));
        let w = crate::rt::task::Waiter {
            task: self.task,
            wait: self.wait,
            case: 0,
        };
        let _ = p.wake(w, crate::rt::task::Got::Result(result), true);
        Ok(())
    }
}
