//! The native engine of one worker: the futures of the Rust processes living there.
//!
//! A process is its body future plus the tasks it started ([`Context::task`]). The worker steps
//! a process when it has news (a message, an event, a fired timer, a spawn reply, a waker
//! call); a step polls the body and every task once, and again while tasks are being added.
//! The runtime's own futures ([`Context::recv`], [`Context::sleep`], …) need no waker: news
//! for the process is what makes the worker step it. A [`Waker`] is still given to every poll,
//! for futures from elsewhere (a thread doing blocking work, a channel of another library):
//! waking it queues a step of the process on its worker.
//!
//! # Guarantees
//! - A process's futures are polled only on its worker thread, never concurrently, and never
//!   again once it has ended or been killed (they are dropped at once).
//! - A panic in a process body ends only that process (the worker catches it), with an
//!   INTERNAL error naming the panic.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::{Poll, Wake, Waker};

use starling_core::{
    Engine, Envelope, ErrorKind, ErrorValue, ExitReason, Local, Node, Pid, StartArgs, Step, Wakeup,
    panic_error,
};

use crate::context::Context;
use crate::kinds::{Kinds, ProcessFuture};
use crate::proc::{ProcData, ProcInner, StartHere, TaskFuture};

/// State of the worker's native processes, shared with their contexts.
pub(crate) struct Shared {
    pub(crate) local: Rc<Local>,
    pub(crate) kinds: Arc<Kinds>,
    procs: RefCell<Vec<Option<Box<Proc>>>>,
}

/// One process as the engine keeps it.
struct Proc {
    inner: Rc<ProcInner>,
    /// The body; `None` while it is being polled.
    main: Option<ProcessFuture>,
    tasks: Vec<TaskFuture>,
    waker: Waker,
}

/// Wakes a process from any thread by queueing a step on its worker.
struct PollWaker {
    node: Arc<Node>,
    pid: Pid,
}

impl Wake for PollWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let to = self.pid;
        self.node.post(to, |slot| Envelope::Poll { to, slot });
    }
}

impl Shared {
    /// Creates the native half of a process in `slot` (the worker made the core half).
    pub(crate) fn start(
        self: &Rc<Self>,
        slot: u32,
        pid: Pid,
        args: StartArgs,
    ) -> Result<(), ErrorValue> {
        let Some(kind) = self.kinds.get(&args.entry).cloned() else {
            return Err(ErrorValue::new(
                ErrorKind::NotFound,
                format!("entry not found: {}", args.entry),
            ));
        };
        let inner = Rc::new(ProcInner {
            shared: Rc::downgrade(self) as Weak<dyn StartHere>,
            local: self.local.clone(),
            slot,
            pid,
            state: RefCell::new(ProcData::default()),
        });
        let ctx = Context::new(inner.clone());
        // Building the body runs user code: a panic there fails this spawn only.
        let main =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| kind.start(ctx, args.args)))
                .map_err(|p| panic_error(p.as_ref()))?;
        let waker = Waker::from(Arc::new(PollWaker {
            node: self.local.node().clone(),
            pid,
        }));
        self.store(
            slot,
            Some(Box::new(Proc {
                inner,
                main: Some(main),
                tasks: Vec::new(),
                waker,
            })),
        );
        Ok(())
    }

    fn store(&self, slot: u32, p: Option<Box<Proc>>) {
        let mut procs = self.procs.borrow_mut();
        let i = slot as usize;
        if procs.len() <= i {
            procs.resize_with(i + 1, || None);
        }
        procs[i] = p;
    }

    fn step(&self, slot: u32) -> Step {
        let taken = {
            let mut procs = self.procs.borrow_mut();
            procs
                .get_mut(slot as usize)
                .and_then(|p| p.as_mut())
                .map(|p| {
                    (
                        p.main.take(),
                        std::mem::take(&mut p.tasks),
                        p.inner.clone(),
                        p.waker.clone(),
                    )
                })
        };
        let Some((Some(mut main), mut tasks, inner, waker)) = taken else {
            return Step::Exit(ExitReason::error(ErrorValue::new(
                ErrorKind::Internal,
                "process state missing",
            )));
        };
        let wakeups = self.local.take_wakeups(slot);
        {
            let mut st = inner.state.borrow_mut();
            for w in wakeups {
                // Timers only make the process run; the sleeping future checks the clock.
                if let Wakeup::Done(token, result) = w {
                    st.deliver(token, result);
                }
            }
        }
        let mut cx = std::task::Context::from_waker(&waker);
        loop {
            if let Poll::Ready(result) = main.as_mut().poll(&mut cx) {
                // The tasks end with the body, like Lua coroutines with their process.
                drop(tasks);
                let reason = match result {
                    Ok(p) => ExitReason::normal(p.first()),
                    Err(e) => ExitReason::error(e),
                };
                return Step::Exit(reason);
            }
            tasks.retain_mut(|t| t.as_mut().poll(&mut cx).is_pending());
            let new = std::mem::take(&mut inner.state.borrow_mut().new_tasks);
            if new.is_empty() {
                break;
            }
            // Poll the new tasks (and, harmlessly, everything else) once more.
            tasks.extend(new);
        }
        if let Some(Some(p)) = self.procs.borrow_mut().get_mut(slot as usize) {
            p.main = Some(main);
            p.tasks = tasks;
        }
        Step::Blocked
    }

    fn release(&self, slot: u32) {
        // Taken out before it is dropped: dropping futures runs user destructors, which may
        // use the context.
        let p = self
            .procs
            .borrow_mut()
            .get_mut(slot as usize)
            .and_then(|p| p.take());
        drop(p);
    }
}

impl StartHere for Shared {
    fn start_here(self: Rc<Self>, slot: u32, pid: Pid, args: StartArgs) -> Result<(), ErrorValue> {
        self.start(slot, pid, args)
    }
}

/// The engine of native processes on one worker thread.
///
/// A worker runs Lua and native processes side by side: the worker's router sends spawns of
/// registered native kinds here ([`NativeEngine::handles`]).
pub struct NativeEngine {
    shared: Rc<Shared>,
}

impl std::fmt::Debug for NativeEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeEngine")
            .field("kinds", &self.shared.kinds)
            .finish_non_exhaustive()
    }
}

impl NativeEngine {
    /// The native engine of the worker `local`, running the processes of `kinds`.
    pub fn new(local: Rc<Local>, kinds: Arc<Kinds>) -> NativeEngine {
        NativeEngine {
            shared: Rc::new(Shared {
                local,
                kinds,
                procs: RefCell::new(Vec::new()),
            }),
        }
    }

    /// True when `entry` is a native kind (spawns of it come here).
    pub fn handles(&self, entry: &str) -> bool {
        self.shared.kinds.contains(entry)
    }
}

impl Engine for NativeEngine {
    fn start(&mut self, slot: u32, pid: Pid, args: StartArgs) -> Result<(), ErrorValue> {
        self.shared.start(slot, pid, args)
    }

    fn step(&mut self, slot: u32) -> Step {
        self.shared.step(slot)
    }

    fn release(&mut self, slot: u32) {
        self.shared.release(slot);
    }
}
