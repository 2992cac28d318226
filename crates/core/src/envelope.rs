//! What travels between workers: messages, signals, spawn requests and completions.
//!
//! # Ordering
//! Each worker has one inbound FIFO queue. Everything a worker sends to another worker goes
//! through that queue, so a message sent before its sender exits is queued before the EXIT or
//! LINK_DOWN signal the exit produces (SPEC §5.8). Same-worker deliveries are applied directly, in
//! program order.

use std::sync::Arc;

use crate::message::{Event, ExitReason, ExitResult, Message, MessageBody};
use crate::pid::{HostId, Pid};
use crate::value::{ErrorValue, Payload};

/// Where to send the outcome of an asynchronous request.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ReplyTo {
    /// The waiting process (or control receiver).
    pub pid: Pid,
    /// Opaque token the waiter uses to match the reply.
    pub token: u64,
}

/// Relationship a spawn sets up between parent and child atomically with the spawn.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SpawnFlags {
    /// The parent monitors the child.
    pub monitor: bool,
    /// Parent and child are linked.
    pub link: bool,
    /// Send the child's exit result here when it ends, and the spawn error if it fails
    /// (`process.exec`: the waiting coroutine of the parent).
    pub exit_to: Option<ReplyTo>,
}

/// Things to do to a new process before its first step (`with_name`, `with_message`).
#[derive(Debug, Default)]
pub struct SpawnSetup {
    /// Register this name for the child; the spawn fails if the name is taken.
    pub name: Option<Box<str>>,
    /// Messages placed in the child's mailbox, in order, before it runs.
    pub messages: Vec<Message>,
    /// The child is a `function.lua` call, not a process entry.
    pub function: bool,
}

/// A request to start a process on a given host.
#[derive(Debug)]
pub struct SpawnRequest {
    /// Entry id of the code to run (`app:worker`).
    pub entry: Arc<str>,
    /// Host to run it on.
    pub host: HostId,
    /// Arguments for the main function.
    pub args: Payload,
    /// The spawning process, if any (monitor/link partner).
    pub parent: Option<Pid>,
    /// Monitor/link set up with the parent.
    pub flags: SpawnFlags,
    /// Where to send the new pid (or the error); `None` for fire-and-forget.
    pub reply: Option<ReplyTo>,
    /// Pid number chosen in advance, so callers can reproduce Wippy's numbering (0 = allocate).
    pub num: u64,
    /// Name and initial messages for the child, if any.
    pub setup: Option<Box<SpawnSetup>>,
}

/// One item in a worker's inbound queue.
#[derive(Debug)]
pub enum Envelope {
    /// A user message for `to`.
    Message {
        /// Receiver.
        to: Pid,
        /// Receiver's slot on the target worker.
        slot: u32,
        /// The message.
        msg: Message,
    },
    /// An event (EXIT, CANCEL…) for `to`'s events queue.
    Event {
        /// Receiver.
        to: Pid,
        /// Receiver's slot.
        slot: u32,
        /// The event.
        event: Event,
    },
    /// A linked process `from` ended; `reason` says how.
    LinkExit {
        /// Receiver.
        to: Pid,
        /// Receiver's slot.
        slot: u32,
        /// The process that ended.
        from: Pid,
        /// How it ended (normal ends only remove the link).
        reason: ExitReason,
    },
    /// Monitor, link and their inverses, applied at the target.
    Relation {
        /// The process being monitored/linked.
        to: Pid,
        /// Its slot.
        slot: u32,
        /// The other side.
        other: Pid,
        /// What to do.
        op: RelationOp,
    },
    /// End `to` now with `reason` (terminate, failed link).
    Kill {
        /// Receiver.
        to: Pid,
        /// Its slot.
        slot: u32,
        /// The error it ends with.
        reason: ErrorValue,
    },
    /// Start a process on the receiving worker.
    Spawn(Box<SpawnRequest>),
    /// The outcome of an asynchronous request made by `to`.
    Wake {
        /// The waiting process.
        to: Pid,
        /// Its slot.
        slot: u32,
        /// The token it is waiting on.
        token: u64,
        /// The outcome.
        result: ExitResult,
    },
    /// Step `to` again: something it waits on outside the runtime (a future's waker, see
    /// the native engine) has news.
    Poll {
        /// The process.
        to: Pid,
        /// Its slot.
        slot: u32,
    },
    /// Node `node` of the cluster was declared down: fire, once, the monitors and links this
    /// worker's processes hold towards its pids (see [`crate::remote`]).
    NodeDown {
        /// The node's index in the node table.
        node: u32,
    },
    /// Stop the worker loop; processes are dropped without notifications.
    Shutdown,
}

/// Relation changes carried by [`Envelope::Relation`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RelationOp {
    /// `other` starts monitoring the receiver.
    Monitor,
    /// `other` stops monitoring the receiver.
    Demonitor,
    /// `other` links with the receiver.
    Link,
    /// `other` removes its link with the receiver.
    Unlink,
}

/// The message an undeliverable [`Envelope::Message`] carried.
pub(crate) fn message_of(env: Envelope) -> Message {
    match env {
        Envelope::Message { msg, .. } => msg,
        _ => Message {
            from: None,
            topic: "".into(),
            payload: MessageBody::default(),
        },
    }
}
