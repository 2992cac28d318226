//! The engine half of a process: its tasks, waits, tokens, subscriptions and channels.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use mlua::Lua;
use starling_core::{ErrorValue, ExitResult, Pid};

use crate::ffi::Thread;
use crate::rt::chan::ChanState;
use crate::rt::prepared::Prepared;
use crate::rt::task::{Answer, Got, Registry, Special, Task, Wait, WaitKind, Waiter, Waker};

/// What completes when a worker token comes back (a timer fired, a request was answered).
/// Modules implement it for their own waits; the engine only calls it.
pub(crate) trait Completion {
    /// Handles the token's wake-up: `result` is `None` for a timer, the outcome for a
    /// request.
    fn complete(
        self: Box<Self>,
        lua: &Lua,
        p: &ProcState,
        token: u64,
        result: Option<ExitResult>,
    ) -> mlua::Result<()>;

    /// `Some(n)` once nothing can come of the token any more (a timer whose channel was
    /// collected): it is dropped, and its `n` entries in the worker's timer heap cancelled.
    fn stale(&self) -> Option<u32> {
        None
    }
}

/// A process's outstanding worker tokens. Most processes hold none or one, so a small vector
/// (grown one slot at a time) is both faster and smaller than a hash map; a process holding
/// many (a loop of `time.after`) gets an index beside it, since finding each token by a scan
/// made firing N timers cost N² (400,000 timers took 30 s of the worker).
#[derive(Default)]
pub(crate) struct Tokens {
    list: Vec<(u64, Box<dyn Completion>)>,
    /// Each token's position in `list`, kept once the list is longer than [`INDEX_FROM`].
    index: Option<Box<rustc_hash::FxHashMap<u64, usize>>>,
}

/// Tokens past which [`Tokens`] keeps an index.
const INDEX_FROM: usize = 32;

impl Tokens {
    /// Adds a token. Before the table grows, stale tokens are dropped and their timer
    /// entries handed to `cancel` (token, entries), so the table stays within about twice
    /// the live tokens.
    pub(crate) fn insert(
        &mut self,
        token: u64,
        c: Box<dyn Completion>,
        cancel: &mut dyn FnMut(u64, u32),
    ) {
        let list = &mut self.list;
        if list.len() == list.capacity() && list.len() >= 8 {
            let before = list.len();
            list.retain(|(t, c)| match c.stale() {
                Some(n) => {
                    cancel(*t, n);
                    false
                }
                None => true,
            });
            if list.len() * 2 > list.capacity() {
                // Mostly live: grow now, so the next sweep is as many insertions away.
                list.reserve_exact(list.len());
            }
            if list.len() != before {
                self.reindex();
            }
        }
        let list = &mut self.list;
        if list.len() == list.capacity() {
            list.reserve_exact(list.len().max(1));
        }
        list.push((token, c));
        match &mut self.index {
            Some(ix) => {
                ix.insert(token, self.list.len() - 1);
            }
            None if self.list.len() > INDEX_FROM => self.reindex(),
            None => {}
        }
    }

    /// Rebuilds the index from the list (or drops it when the list is short again).
    fn reindex(&mut self) {
        if self.list.len() <= INDEX_FROM / 2 {
            self.index = None;
            return;
        }
        let ix = self.index.get_or_insert_with(Default::default);
        ix.clear();
        ix.extend(self.list.iter().enumerate().map(|(i, (t, _))| (*t, i)));
    }

    pub(crate) fn remove(&mut self, token: u64) -> Option<Box<dyn Completion>> {
        let i = match &mut self.index {
            Some(ix) => ix.remove(&token)?,
            None => self.list.iter().position(|(t, _)| *t == token)?,
        };
        let (_, c) = self.list.swap_remove(i);
        if let (Some(ix), Some((moved, _))) = (&mut self.index, self.list.get(i)) {
            ix.insert(*moved, i);
        }
        Some(c)
    }
}

/// A `listen` subscription: its topic, its channel and the channel's registry reference.
pub(crate) type Listening = (Box<str>, Rc<RefCell<ChanState>>, i32);

/// The parts of a process most never use (see [`ProcState::rare`]).
#[derive(Default)]
pub(crate) struct Rare {
    /// Outstanding worker tokens (timers, requests).
    pub(crate) tokens: RefCell<Tokens>,
    /// `listen` subscriptions.
    pub(crate) listeners: RefCell<Vec<Listening>>,
    /// The process's channels that keep values, to empty their stores when it ends.
    pub(crate) chans: RefCell<Vec<Weak<RefCell<ChanState>>>>,
    /// Raw-mode references held by this process (reset when it ends).
    pub(crate) raw_mode: Cell<u32>,
    /// Its own random generator, made by its first `math.randomseed` (see `rt::random`).
    pub(crate) rng: std::cell::OnceCell<Cell<u64>>,
    /// The error its failed task ended with, captured by the task body's handler.
    pub(crate) error: RefCell<Option<ErrorValue>>,
    /// Set when the process ran out of Lua memory: it is ending.
    pub(crate) out_of_memory: Cell<bool>,
}

/// The task id of a process's main task: the first task of its (empty) task table.
pub(crate) const MAIN_TASK: u32 = 0;

/// The engine half of a process.
pub(crate) struct ProcState {
    pub(crate) slot: u32,
    pub(crate) pid: Pid,
    pub(crate) entry: Rc<Prepared>,
    pub(crate) tasks: RefCell<slab::Slab<Task>>,
    pub(crate) ready: RefCell<VecDeque<u32>>,
    next_id: Cell<u64>,
    /// Tasks waiting on the inbox or the events (shared channel objects: the process is the
    /// one running).
    pub(crate) special_waits: RefCell<Vec<(Special, Waiter)>>,
    /// What few processes use (worker tokens, subscriptions, channels, raw mode, the error of
    /// a failed task, running out of memory): made on first use, so an idle process pays 8
    /// bytes for it.
    rare: OnceCell<Box<Rare>>,
    /// How it ended, set by the task body's last call when the main task returns or a task
    /// fails.
    pub(crate) exit: Cell<Option<starling_core::ExitReason>>,
    /// Its global table (a registry reference).
    pub(crate) env: Cell<i32>,
}

impl ProcState {
    pub(crate) fn new(slot: u32, pid: Pid, entry: Rc<Prepared>, env: i32) -> ProcState {
        ProcState {
            slot,
            pid,
            entry,
            // Nearly every process has exactly one task: no room for more until needed.
            tasks: RefCell::new(slab::Slab::with_capacity(1)),
            // Its first push (the main task) would reserve 4 slots: 1 fits the usual process.
            ready: RefCell::new(VecDeque::with_capacity(1)),
            next_id: Cell::new(1),
            special_waits: RefCell::new(Vec::new()),
            rare: OnceCell::new(),
            exit: Cell::new(None),
            env: Cell::new(env),
        }
    }

    /// The rarely used parts, made on first use.
    pub(crate) fn rare(&self) -> &Rare {
        self.rare.get_or_init(Default::default)
    }

    /// The rarely used parts if they were ever made.
    pub(crate) fn rare_if_made(&self) -> Option<&Rare> {
        self.rare.get().map(|r| &**r)
    }

    /// Whether the process ran out of Lua memory (it is ending).
    pub(crate) fn out_of_memory(&self) -> bool {
        self.rare_if_made().is_some_and(|r| r.out_of_memory.get())
    }

    /// Marks the process as out of memory; true if it already was.
    pub(crate) fn set_out_of_memory(&self) -> bool {
        self.rare().out_of_memory.replace(true)
    }

    /// Takes the error a failed task ended with, if the handler captured one.
    pub(crate) fn take_error(&self) -> Option<ErrorValue> {
        self.rare_if_made()
            .and_then(|r| r.error.borrow_mut().take())
    }

    /// Adds a worker token completed by `c` (stale timers are cancelled on `local`'s heap
    /// as the table grows, see [`Tokens::insert`]).
    pub(crate) fn add_token(
        &self,
        local: &starling_core::Local,
        token: u64,
        c: Box<dyn Completion>,
    ) {
        let slot = self.slot;
        self.rare()
            .tokens
            .borrow_mut()
            .insert(token, c, &mut |t, n| local.cancel_timer(slot, t, n));
    }

    /// A fresh, process-unique id (waits and worker tokens share the sequence).
    pub(crate) fn next_id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }

    /// Adds a task running `thread` (made with its function and arguments), ready to start.
    pub(crate) fn add_task(&self, thread: Thread) -> u32 {
        let id = self.tasks.borrow_mut().insert(Task {
            thread,
            wait: None,
            answer: None,
            fresh: true,
        }) as u32;
        self.ready.borrow_mut().push_back(id);
        id
    }

    /// Records that `task` now waits; returns the wait id.
    pub(crate) fn set_wait(&self, task: u32, kind: WaitKind) -> u64 {
        let id = self.next_id();
        if let Some(t) = self.tasks.borrow_mut().get_mut(task as usize) {
            t.wait = Some(Wait {
                id,
                kind,
                cases: Vec::new(),
            });
        }
        id
    }

    /// Records the channels a wait registered on, for withdrawing later.
    pub(crate) fn set_cases(&self, task: u32, cases: Vec<Rc<dyn Registry>>) {
        if let Some(Some(w)) = self
            .tasks
            .borrow_mut()
            .get_mut(task as usize)
            .map(|t| t.wait.as_mut())
        {
            w.cases = cases;
        }
    }

    /// True while `task` still waits on wait `id`.
    fn waiting(&self, task: u32, id: u64) -> bool {
        self.tasks
            .borrow()
            .get(task as usize)
            .and_then(|t| t.wait.as_ref())
            .is_some_and(|w| w.id == id)
    }

    /// Completes the wait of waiter `w` with `got` (and `ok`): the task is ready to run and
    /// its other registrations are withdrawn. Hands `got` back when the waiter is stale.
    /// Channel borrows must be released first.
    fn complete_wait(&self, w: Waiter, got: Got, ok: bool) -> Result<(), Got> {
        let wait = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(t) = tasks.get_mut(w.task as usize) else {
                return Err(got);
            };
            if t.wait.as_ref().is_none_or(|x| x.id != w.wait) {
                return Err(got);
            }
            let wait = t.wait.take();
            let kind = wait.as_ref().map_or(WaitKind::Call, |x| x.kind);
            t.answer = Some(Box::new(Answer {
                kind,
                got,
                ok,
                case: w.case,
            }));
            wait
        };
        self.withdraw(w.task, wait);
        self.ready.borrow_mut().push_back(w.task);
        Ok(())
    }

    /// Ends `task`'s wait `id` without waking it (a wait that failed to register while its
    /// task is still running). Channel borrows must be released first.
    pub(crate) fn abandon_wait(&self, task: u32, id: u64) {
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
        self.withdraw(task, wait);
    }

    /// Ends `task` for good (`coroutine.close` on a `coroutine.spawn` task): off the ready
    /// list, its wait withdrawn from every channel and queue it was registered on (a value
    /// sent afterwards goes to another receiver, or the sender waits), its thread released.
    pub(crate) fn end_task(&self, task: u32) {
        let Some(t) = self.tasks.borrow_mut().try_remove(task as usize) else {
            return;
        };
        self.ready.borrow_mut().retain(|x| *x != task);
        self.withdraw(task, t.wait);
        t.thread.release();
    }

    /// Withdraws the waits of every task (the process is ending).
    pub(crate) fn withdraw_all(&self) {
        let waits: Vec<(u32, Wait)> = self
            .tasks
            .borrow_mut()
            .iter_mut()
            .filter_map(|(id, t)| t.wait.take().map(|w| (id as u32, w)))
            .collect();
        for (task, wait) in waits {
            self.withdraw(task, Some(wait));
        }
    }

    /// Withdraws an ended wait's registrations from every channel it was on.
    fn withdraw(&self, task: u32, wait: Option<Wait>) {
        let Some(wait) = wait else { return };
        for st in &wait.cases {
            st.forget(task, wait.id);
        }
        let mut sw = self.special_waits.borrow_mut();
        if !sw.is_empty() {
            sw.retain(|(_, w)| !(w.task == task && w.wait == wait.id));
        }
    }

    /// Takes the answer left for `task`.
    pub(crate) fn take_answer(&self, task: u32) -> Option<Box<Answer>> {
        self.tasks
            .borrow_mut()
            .get_mut(task as usize)
            .and_then(|t| t.answer.take())
    }

    /// Records a channel that keeps values, so its store is emptied when the process ends.
    pub(crate) fn track(&self, st: &Rc<RefCell<ChanState>>) {
        let mut chans = self.rare().chans.borrow_mut();
        if chans.len() == chans.capacity() && chans.len() >= 8 {
            // Forget channels that are gone before growing.
            chans.retain(|w| w.strong_count() > 0);
        }
        chans.push(Rc::downgrade(st));
    }
}

impl Waker for ProcState {
    fn is_waiting(&self, task: u32, id: u64) -> bool {
        self.waiting(task, id)
    }

    fn wake(&self, w: Waiter, got: Got, ok: bool) -> Result<(), Got> {
        self.complete_wait(w, got, ok)
    }
}

#[cfg(test)]
mod tests {
    use super::{Completion, ProcState, Tokens};
    use mlua::Lua;
    use starling_core::ExitResult;

    /// A completion that reports itself stale when `stale` is set.
    struct Mark {
        stale: bool,
    }

    impl Completion for Mark {
        fn complete(
            self: Box<Self>,
            _: &Lua,
            _: &ProcState,
            _: u64,
            _: Option<ExitResult>,
        ) -> mlua::Result<()> {
            Ok(())
        }

        fn stale(&self) -> Option<u32> {
            self.stale.then_some(1)
        }
    }

    fn mark(stale: bool) -> Box<dyn Completion> {
        Box::new(Mark { stale })
    }

    /// Every token comes out exactly once, whatever the order, below and above the size at
    /// which the index is kept.
    #[test]
    fn tokens_come_out_once_in_any_order() {
        for n in [5u64, 40, 5_000] {
            let mut t = Tokens::default();
            for k in 0..n {
                t.insert(k, mark(false), &mut |_, _| panic!("nothing is stale"));
            }
            // Firing order (oldest first), then the rest from the newest.
            for k in (0..n).filter(|k| k % 3 == 0) {
                assert!(t.remove(k).is_some(), "{k} of {n}");
                assert!(t.remove(k).is_none(), "{k} of {n} twice");
            }
            for k in (0..n).rev().filter(|k| k % 3 != 0) {
                assert!(t.remove(k).is_some(), "{k} of {n}");
            }
            assert!(t.list.is_empty());
            assert!(t.remove(0).is_none());
        }
    }

    /// Stale tokens are swept as the list grows; the ones left are still found.
    #[test]
    fn stale_tokens_are_swept_and_the_rest_still_found() {
        let mut t = Tokens::default();
        let mut cancelled = Vec::new();
        for k in 0..1_000u64 {
            t.insert(k, mark(k % 2 == 1), &mut |tok, n| cancelled.push((tok, n)));
        }
        assert!(!cancelled.is_empty());
        assert!(cancelled.iter().all(|(tok, n)| tok % 2 == 1 && *n == 1));
        for k in (0..1_000u64).step_by(2) {
            assert!(t.remove(k).is_some(), "live token {k}");
        }
        for (tok, _) in &cancelled {
            assert!(t.remove(*tok).is_none(), "swept token {tok}");
        }
    }

    /// Past `INDEX_FROM` tokens the index is kept, and stays exact through removals: what
    /// keeps firing N timers linear instead of N².
    #[test]
    fn many_tokens_use_the_index() {
        let mut t = Tokens::default();
        for k in 0..100u64 {
            t.insert(k, mark(false), &mut |_, _| {});
        }
        assert!(t.index.is_some());
        assert_eq!(t.index.as_ref().map(|ix| ix.len()), Some(100));
        for k in 0..100u64 {
            assert!(t.remove(k).is_some());
            let ix = t.index.as_ref().expect("index kept");
            assert_eq!(ix.len(), t.list.len());
            for (i, (tok, _)) in t.list.iter().enumerate() {
                assert_eq!(ix.get(tok), Some(&i));
            }
        }
    }
}
