//! What a native process's [`Context`](crate::Context) shares with the engine that runs it:
//! its slot and pid, its pending requests and new tasks, and a way back to the engine.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};

use rustc_hash::{FxHashMap, FxHashSet};
use starling_core::{ErrorValue, ExitResult, Local, Pid, StartArgs};

/// A task of a process: a future with no result.
pub(crate) type TaskFuture = Pin<Box<dyn Future<Output = ()>>>;

/// What a process's [`Context`](crate::Context) shares with the engine.
pub(crate) struct ProcInner {
    /// The engine, to build a native child spawned onto this worker at once.
    pub(crate) shared: Weak<dyn StartHere>,
    pub(crate) local: Rc<Local>,
    pub(crate) slot: u32,
    pub(crate) pid: Pid,
    pub(crate) state: RefCell<ProcData>,
}

/// Mutable per-process state used by the context's futures.
#[derive(Default)]
pub(crate) struct ProcData {
    next_token: u64,
    /// Tokens of requests (spawns on other workers) still awaited.
    pending: FxHashSet<u64>,
    /// Replies to them, until their future takes them.
    done: FxHashMap<u64, ExitResult>,
    /// Tasks started during the current poll, polled before the step ends.
    pub(crate) new_tasks: Vec<TaskFuture>,
}

impl ProcData {
    /// A fresh request token, awaited until [`ProcData::take`] or [`ProcData::forget`].
    pub(crate) fn expect(&mut self) -> u64 {
        self.next_token += 1;
        self.pending.insert(self.next_token);
        self.next_token
    }

    /// The reply to `token`, once it has come.
    pub(crate) fn take(&mut self, token: u64) -> Option<ExitResult> {
        let r = self.done.remove(&token)?;
        self.pending.remove(&token);
        Some(r)
    }

    /// Keeps `result`, the reply to `token`, if it is still awaited.
    pub(crate) fn deliver(&mut self, token: u64, result: ExitResult) {
        if self.pending.contains(&token) {
            self.done.insert(token, result);
        }
    }

    /// Stops waiting for `token` (its future was dropped).
    pub(crate) fn forget(&mut self, token: u64) {
        self.pending.remove(&token);
        self.done.remove(&token);
    }
}

/// The engine as a process's context reaches it: a native child spawned onto the same worker
/// is built at once through it. The engine's state implements it, so the contexts need no
/// engine type.
pub(crate) trait StartHere {
    /// Creates the native half of a process in `slot` of this worker (the worker made the
    /// core half).
    fn start_here(self: Rc<Self>, slot: u32, pid: Pid, args: StartArgs) -> Result<(), ErrorValue>;
}
