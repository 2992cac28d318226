//! Messages and signals.
//!
//! A [`Message`] is what `process.send` delivers: a topic and a payload. Signals are separate:
//! an [`Event`] (EXIT, LINK_DOWN, CANCEL) goes to the events queue, never the mailbox, and the
//! other control signals travel in [`crate::Envelope`] variants.

use std::sync::Arc;

use crate::bytestr::ShortStr;
use crate::pid::Pid;
use crate::value::{ErrorValue, Payload};

/// A user message in a mailbox.
#[derive(Debug, Clone)]
pub struct Message {
    /// Sending process, or `None` when the runtime sent it.
    pub from: Option<Pid>,
    /// Topic string; never starts with `@`. Kept in place when short.
    pub topic: ShortStr,
    /// The values sent.
    pub payload: Payload,
}

/// How a process ended: its first return value, or an error.
pub type ExitResult = Result<Payload, ErrorValue>;

/// Why a process ended, shared by every monitor and link that hears of it.
#[derive(Debug, Clone)]
pub struct ExitReason(pub Arc<ExitResult>);

impl ExitReason {
    /// A normal end with a result value.
    pub fn normal(value: Payload) -> ExitReason {
        ExitReason(Arc::new(Ok(value)))
    }

    /// An abnormal end.
    pub fn error(err: ErrorValue) -> ExitReason {
        ExitReason(Arc::new(Err(err)))
    }

    /// True for an error end (the kind that fires links).
    pub fn is_error(&self) -> bool {
        self.0.is_err()
    }

    /// The result.
    pub fn result(&self) -> &ExitResult {
        &self.0
    }
}

/// Event kinds (SPEC §5.4) with their Lua constants.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// `pid.exit`: a monitored process ended.
    Exit,
    /// `pid.link.down`: a linked process failed and `trap_links` is on.
    LinkDown,
    /// `pid.cancel`: someone asked this process to stop.
    Cancel,
}

impl EventKind {
    /// The Lua constant value.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Exit => "pid.exit",
            EventKind::LinkDown => "pid.link.down",
            EventKind::Cancel => "pid.cancel",
        }
    }
}

/// One entry of a process's events queue.
#[derive(Debug, Clone)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The process it happened to (EXIT, LINK_DOWN) or the canceller (CANCEL).
    pub from: Pid,
    /// Exit result for EXIT and LINK_DOWN.
    pub result: Option<ExitReason>,
    /// Reason text for CANCEL.
    pub reason: Option<Box<str>>,
    /// Unix time in seconds when the event was raised.
    pub at: i64,
}

/// Current Unix time in whole seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
