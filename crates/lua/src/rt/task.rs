//! Processes as the engine sees them: coroutines (tasks), what each waits for, and waking.
//!
//! A process is one or more tasks: its main function and every `coroutine.spawn`ed function.
//! Each task is a Luau thread resumed by the scheduler. A task that blocks records a [`Wait`]
//! and yields PENDING; whoever completes the wait leaves an [`Answer`] on the task and puts it
//! on the process's ready list; when the task runs again, the blocked function's continuation
//! turns the answer into its results, on the task's own thread.
//!
//! # Guarantees
//! - Within a process tasks run one at a time and switch only when one blocks (SPEC §4.5,
//!   §7.4).
//! - A task is woken at most once per wait: every wait has a process-unique id, and a waiter
//!   whose id no longer matches its task's current wait is stale and skipped.
//! - A parked task holds no mlua handle: its thread is a registry reference, its wait a few
//!   integers, and the values it waits with live in Lua (channel stores).

use std::rc::Rc;

use starling_core::{Event, ExitResult, Message};

use crate::ffi::Thread;

/// What a blocked task waits for, which decides the shape of its answer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum WaitKind {
    /// `ch:receive()`: answered with `v, ok`.
    Recv,
    /// `ch:send(v)`: answered with `true`.
    Send,
    /// `channel.select`: answered with `case, v, ok`.
    Select,
    /// `time.sleep`: answered with nothing.
    Sleep,
    /// A request answered through the worker (spawn elsewhere, exec, terminal input):
    /// answered with its first value, or `nil, err`.
    Call,
}

/// A task's current wait.
pub(crate) struct Wait {
    pub(crate) id: u64,
    pub(crate) kind: WaitKind,
    /// The channels a blocked receive, send or select registered on (to withdraw from when
    /// one wins).
    pub(crate) cases: Vec<Rc<dyn Registry>>,
}

/// The value a completed wait hands its task.
#[derive(Debug)]
pub(crate) enum Got {
    /// Nothing (a send completed, a sleep ended).
    Nothing,
    /// `nil` (a receive on a closed channel).
    Nil,
    /// A message from the inbox, or a `listen` channel with message objects.
    Message(Message),
    /// A message from a `listen` channel delivering raw values.
    Values(Message),
    /// An event.
    Event(Event),
    /// A channel value, kept in the channel's store (registry ref) at a key.
    Stored(i32, i32),
    /// A request's outcome.
    Result(ExitResult),
    /// Raise this message where the task waited.
    Raise(String),
}

/// A completed wait, left on its task until the task runs again.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) kind: WaitKind,
    pub(crate) got: Got,
    pub(crate) ok: bool,
    /// The winning case of a select (0-based).
    pub(crate) case: u32,
}

/// A task parked on a channel.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Waiter {
    pub(crate) task: u32,
    pub(crate) wait: u64,
    pub(crate) case: u32,
}

/// One coroutine of a process.
pub(crate) struct Task {
    pub(crate) thread: Thread,
    pub(crate) wait: Option<Wait>,
    pub(crate) answer: Option<Box<Answer>>,
    /// Not started yet: its function and arguments are on its stack.
    pub(crate) fresh: bool,
}

/// Something a task registers a wait on (a channel), that forgets the registration when
/// the wait ends another way.
pub(crate) trait Registry {
    /// Withdraws every registration of `task` for wait `wait`.
    fn forget(&self, task: u32, wait: u64);
}

/// Whoever completes waits: the process the waiting tasks belong to.
pub(crate) trait Waker {
    /// True while `task` still waits on wait `id`.
    fn is_waiting(&self, task: u32, id: u64) -> bool;
    /// Completes the wait of waiter `w` with `got` (and `ok`); hands `got` back when the
    /// waiter is stale.
    fn wake(&self, w: Waiter, got: Got, ok: bool) -> Result<(), Got>;
}

/// Which of the process's own queues a waiter waits on.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Special {
    /// The inbox (messages).
    Inbox,
    /// The events.
    Events,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Idle processes are the memory budget (SPEC §4.5): these structures exist once per
    /// process, so growing them should be a deliberate choice.
    #[test]
    fn per_process_structures_stay_small() {
        assert!(
            std::mem::size_of::<Task>() <= 96,
            "{}",
            std::mem::size_of::<Task>()
        );
        // Issue 10: what few processes use is boxed apart (`Rare`, with the error of a failed
        // task and the out-of-memory mark). 176 bytes keeps its `Rc` (16 more) in mimalloc's
        // 192-byte size class; at 177 it takes 224.
        let proc_state = std::mem::size_of::<crate::rt::proc::ProcState>();
        assert!(proc_state <= 176, "ProcState is {proc_state} bytes");
    }
}
