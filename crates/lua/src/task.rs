//! Processes as the engine sees them: coroutines (tasks), what each is waiting for, and waking.
//!
//! A process is one or more tasks: its main function and every `coroutine.spawn`ed function.
//! Each task is a Luau thread resumed by the scheduler. A task that blocks registers a [`Wait`]
//! and yields PENDING; whoever completes the wait stores the values to resume it with and puts
//! it on the process's ready list.
//!
//! # Guarantees
//! Within a process tasks run one at a time and switch only when one blocks (SPEC §4.5, §7.4).
//! A task is woken at most once per wait: every wait has a process-unique id and a waiter whose
//! id no longer matches its task's current wait is stale and skipped.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use mlua::{AnyUserData, Lua, RegistryKey, Table, Thread, Value};
use slab::Slab;
use starling_core::Pid;

use crate::chan::{ChanState, ProcChans};
use crate::engine::Prepared;

/// What a blocked task waits for.
pub(crate) enum WaitKind {
    /// `ch:receive()`.
    Recv,
    /// `ch:send(v)`.
    Send,
    /// `channel.select`: the channels of each case, by case index.
    Select(Vec<(AnyUserData, Rc<RefCell<ChanState>>)>),
    /// `time.sleep`.
    Sleep,
    /// A request answered through the worker (spawn elsewhere, terminal input).
    Call,
}

/// A task's current wait.
pub(crate) struct Wait {
    pub(crate) id: u64,
    pub(crate) kind: WaitKind,
}

/// One coroutine of a process.
///
/// Lua objects a process keeps while idle (its threads, globals, inbox channel) are held as
/// registry keys, not as mlua handles: handles live on a per-VM auxiliary stack capped at
/// about a million slots, which a million idle processes on one worker would exhaust.
pub(crate) struct Task {
    pub(crate) thread: RegistryKey,
    pub(crate) wait: Option<Wait>,
    /// Values to resume with; `None` means "resume with nothing".
    pub(crate) resume: Option<Vec<Value>>,
    /// Preempted by the slice interrupt: already on the ready list, and must be resumed with
    /// nothing (Luau re-executes the interrupted instruction).
    pub(crate) preempted: bool,
}

/// A wait that completes through a worker token (timers and requests).
pub(crate) enum TokenUse {
    /// Wake task after a sleep.
    Sleep { task: u32, wait: u64 },
    /// Fill and close a `time.after` channel.
    After(Rc<RefCell<ChanState>>),
    /// Wake task with a request's result: its first value, or `nil, err`.
    Call { task: u32, wait: u64 },
    /// A function call ended: record it in `state` and fill (or just close) `chan`.
    Result {
        chan: Rc<RefCell<ChanState>>,
        state: Table,
    },
    /// A timer or ticker heap entry (see `userdata::timer`).
    Timer(Rc<crate::userdata::timer::TimerState>),
    /// A function call's timeout: end the call unless `state` says it is done.
    Deadline { pid: Pid, state: Table },
}

/// A process's outstanding worker tokens. Most processes hold none or one, so a small vector
/// (grown one slot at a time) is both faster and smaller than a hash map.
#[derive(Default)]
pub(crate) struct Tokens(Vec<(u64, TokenUse)>);

impl Tokens {
    pub(crate) fn insert(&mut self, token: u64, use_: TokenUse) {
        if self.0.len() == self.0.capacity() {
            self.0.reserve_exact(self.0.len().max(1));
        }
        self.0.push((token, use_));
    }

    pub(crate) fn remove(&mut self, token: &u64) -> Option<TokenUse> {
        let i = self.0.iter().position(|(t, _)| t == token)?;
        Some(self.0.swap_remove(i).1)
    }
}

/// Subscriptions whose values come from the worker's queues.
#[derive(Default)]
pub(crate) struct Specials {
    pub(crate) inbox: Option<(RegistryKey, Rc<RefCell<ChanState>>)>,
    pub(crate) events: Option<(RegistryKey, Rc<RefCell<ChanState>>)>,
    pub(crate) listeners: Vec<(Box<str>, RegistryKey, Rc<RefCell<ChanState>>)>,
}

/// The engine half of a process.
pub(crate) struct ProcState {
    pub(crate) slot: u32,
    pub(crate) pid: Pid,
    pub(crate) entry: Rc<Prepared>,
    pub(crate) env: RegistryKey,
    pub(crate) tasks: RefCell<Slab<Task>>,
    pub(crate) ready: RefCell<VecDeque<u32>>,
    pub(crate) main: Cell<u32>,
    next_id: Cell<u64>,
    pub(crate) tokens: RefCell<Tokens>,
    pub(crate) specials: RefCell<Specials>,
    /// Raw-mode references held by this process (reset when it ends).
    pub(crate) raw_mode: Cell<u32>,
    /// Set when the process ran out of Lua memory: it is ending (see `vm::out_of_memory`).
    pub(crate) out_of_memory: Cell<bool>,
    /// Bookkeeping of this process's channels, made when one first keeps a value (see
    /// `crate::chan`). Boxed: most processes never need it.
    pub(crate) chans: RefCell<Option<Box<ProcChans>>>,
}

impl ProcState {
    pub(crate) fn new(slot: u32, pid: Pid, entry: Rc<Prepared>, env: RegistryKey) -> ProcState {
        ProcState {
            slot,
            pid,
            entry,
            env,
            // Nearly every process has exactly one task: no room for more until needed.
            tasks: RefCell::new(Slab::with_capacity(1)),
            ready: RefCell::new(VecDeque::new()),
            main: Cell::new(0),
            next_id: Cell::new(1),
            tokens: RefCell::new(Tokens::default()),
            specials: RefCell::new(Specials::default()),
            raw_mode: Cell::new(0),
            out_of_memory: Cell::new(false),
            chans: RefCell::new(None),
        }
    }

    /// A fresh, process-unique id (waits and worker tokens share the sequence).
    pub(crate) fn next_id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }

    /// Adds a task that runs `thread`, ready to start with `args`.
    pub(crate) fn add_task(
        &self,
        lua: &Lua,
        thread: Thread,
        args: Vec<Value>,
    ) -> mlua::Result<u32> {
        let thread = lua.create_registry_value(thread)?;
        let id = self.tasks.borrow_mut().insert(Task {
            thread,
            wait: None,
            resume: Some(args),
            preempted: false,
        }) as u32;
        self.ready.borrow_mut().push_back(id);
        Ok(id)
    }

    /// The process's global table.
    pub(crate) fn env(&self, lua: &Lua) -> mlua::Result<Table> {
        lua.registry_value(&self.env)
    }

    /// Records that `task` now waits; returns the wait id.
    pub(crate) fn set_wait(&self, task: u32, kind: WaitKind) -> u64 {
        let id = self.next_id();
        if let Some(t) = self.tasks.borrow_mut().get_mut(task as usize) {
            t.wait = Some(Wait { id, kind });
        }
        id
    }

    /// True while `task` still waits on wait `id`.
    pub(crate) fn is_waiting(&self, task: u32, id: u64) -> bool {
        self.tasks
            .borrow()
            .get(task as usize)
            .and_then(|t| t.wait.as_ref())
            .is_some_and(|w| w.id == id)
    }

    /// The select case channels of a waiting task (to build its result).
    pub(crate) fn case_channel(&self, task: u32, case: usize) -> Option<AnyUserData> {
        let tasks = self.tasks.borrow();
        match &tasks.get(task as usize)?.wait.as_ref()?.kind {
            WaitKind::Select(cases) => cases.get(case).map(|(ud, _)| ud.clone()),
            _ => None,
        }
    }

    /// True when the waiting task is in a select.
    pub(crate) fn in_select(&self, task: u32) -> bool {
        let tasks = self.tasks.borrow();
        tasks
            .get(task as usize)
            .and_then(|t| t.wait.as_ref())
            .is_some_and(|w| matches!(w.kind, WaitKind::Select(_)))
    }

    /// Completes `task`'s wait `id` with `values`. Channel borrows must be released first:
    /// this removes the task's other select registrations.
    pub(crate) fn wake(&self, lua: &Lua, task: u32, id: u64, values: Vec<Value>) -> bool {
        let (wait, preempted) = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(t) = tasks.get_mut(task as usize) else {
                return false;
            };
            if t.wait.as_ref().is_none_or(|w| w.id != id) {
                return false;
            }
            t.resume = Some(values);
            (t.wait.take(), t.preempted)
        };
        withdraw(lua, task, wait);
        if !preempted {
            self.ready.borrow_mut().push_back(task);
        }
        true
    }

    /// Ends `task`'s wait `id` without waking it, for a wait that failed to register (a value
    /// could not be stored) while its task is still running: a registration left behind would
    /// wake a running task. Channel borrows must be released first.
    pub(crate) fn abandon_wait(&self, lua: &Lua, task: u32, id: u64) {
        let wait = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(t) = tasks.get_mut(task as usize) else {
                return;
            };
            if t.wait.as_ref().is_none_or(|w| w.id != id) {
                return;
            }
            t.wait.take()
        };
        withdraw(lua, task, wait);
    }
}

/// Withdraws an ended select's registrations from every case channel.
fn withdraw(lua: &Lua, task: u32, wait: Option<Wait>) {
    if let Some(Wait {
        kind: WaitKind::Select(cases),
        id,
    }) = wait
    {
        for (_, st) in cases {
            st.borrow_mut().forget(lua, task, id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Idle processes are the memory budget (SPEC §4.5): these structures exist once per
    /// process, so growing them should be a deliberate choice.
    #[test]
    fn per_process_structures_stay_small() {
        assert!(std::mem::size_of::<ProcState>() <= 288);
        assert!(std::mem::size_of::<Task>() <= 96);
    }

    #[test]
    fn tokens_grow_one_slot_at_a_time() {
        let mut t = Tokens::default();
        t.insert(1, TokenUse::Sleep { task: 0, wait: 1 });
        assert_eq!(t.0.capacity(), 1);
        t.insert(2, TokenUse::Sleep { task: 0, wait: 2 });
        assert!(matches!(
            t.remove(&1),
            Some(TokenUse::Sleep { wait: 1, .. })
        ));
        assert!(t.remove(&1).is_none());
        assert!(matches!(
            t.remove(&2),
            Some(TokenUse::Sleep { wait: 2, .. })
        ));
    }
}
