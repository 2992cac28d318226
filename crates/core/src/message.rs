//! Messages and signals.
//!
//! A [`Message`] is what `process.send` delivers: a topic and a payload. Signals are separate:
//! an [`Event`] (EXIT, LINK_DOWN, CANCEL) goes to the events queue, never the mailbox, and the
//! other control signals travel in [`crate::Envelope`] variants.

use std::borrow::Cow;
use std::sync::Arc;

use crate::bytestr::ShortStr;
use crate::flat::Flat;
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
    pub payload: MessageBody,
}

impl Message {
    /// A message of `payload`'s values.
    pub fn new(from: Option<Pid>, topic: ShortStr, payload: Payload) -> Message {
        Message {
            from,
            topic,
            payload: MessageBody::Values(payload),
        }
    }
}

/// The values a message carries: as they were built, or written into one buffer for the
/// trip to another worker ([`crate::flat`]). Both read the same.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageBody {
    /// A tree of values.
    Values(Payload),
    /// One buffer.
    Flat(Flat),
}

impl Default for MessageBody {
    fn default() -> MessageBody {
        MessageBody::Values(Payload::empty())
    }
}

impl From<Payload> for MessageBody {
    fn from(p: Payload) -> MessageBody {
        MessageBody::Values(p)
    }
}

impl MessageBody {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            MessageBody::Values(p) => p.len(),
            MessageBody::Flat(f) => f.len(),
        }
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// About how many bytes of memory it holds, for the mailbox limits.
    pub fn heap_bytes(&self) -> usize {
        match self {
            MessageBody::Values(p) => p.heap_bytes(),
            MessageBody::Flat(f) => f.heap_bytes(),
        }
    }

    /// The values as a tree (borrowed when they are one).
    pub fn to_payload(&self) -> Cow<'_, Payload> {
        match self {
            MessageBody::Values(p) => Cow::Borrowed(p),
            MessageBody::Flat(f) => Cow::Owned(f.to_payload()),
        }
    }

    /// The values as a tree.
    pub fn into_payload(self) -> Payload {
        match self {
            MessageBody::Values(p) => p,
            MessageBody::Flat(f) => f.to_payload(),
        }
    }

    /// Ready to cross to another worker: a tree with tables becomes one buffer when the
    /// format holds it (scalars already sit in one vector).
    pub fn flattened(self) -> MessageBody {
        match self {
            MessageBody::Values(p) if !p.tables.is_empty() => match Flat::encode(&p) {
                Some(f) => MessageBody::Flat(f),
                None => MessageBody::Values(p),
            },
            other => other,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Table, Value};

    #[test]
    fn a_body_with_tables_flattens_and_reads_the_same() {
        let p = Payload {
            values: vec![Value::Table(0)],
            tables: vec![Table {
                array: vec![Value::Int(1)],
                hash: vec![(Value::str("data"), Value::str("hello world"))],
            }],
        };
        let flat = MessageBody::from(p.clone()).flattened();
        assert!(matches!(flat, MessageBody::Flat(_)), "{flat:?}");
        assert_eq!(flat.len(), 1);
        assert_eq!(*flat.to_payload(), p);
        assert_eq!(flat.into_payload(), p);
    }

    #[test]
    fn scalars_and_what_flat_cannot_hold_stay_values() {
        let scalars = MessageBody::from(Payload::one(Value::str("x"))).flattened();
        assert!(matches!(scalars, MessageBody::Values(_)));
        let err = Payload {
            values: vec![Value::Table(0)],
            tables: vec![Table {
                array: vec![Value::Error(Box::new(ErrorValue::new(
                    crate::value::ErrorKind::Invalid,
                    "bad",
                )))],
                hash: Vec::new(),
            }],
        };
        let kept = MessageBody::from(err.clone()).flattened();
        assert_eq!(kept, MessageBody::Values(err));
    }
}
