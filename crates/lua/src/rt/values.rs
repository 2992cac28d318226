//! The Rust values kept inside Starling's tagged userdata (received messages, payload
//! objects) and the event tables built for `process.events()`.

use std::os::raw::c_int;
use std::rc::Rc;

use starling_core::{ExitReason, Payload, Pid, Value};

/// Userdata tag of channels.
pub(crate) const TAG_CHAN: c_int = 20;
/// Userdata tag of received messages.
pub(crate) const TAG_MSG: c_int = 21;
/// Userdata tag of payload objects.
pub(crate) const TAG_PAYLOAD: c_int = 22;

/// A Rust value kept in a tagged userdata (see `ffi`).
pub(crate) trait Tagged: 'static {
    /// Its tag.
    const TAG: c_int;
}

/// A received message (SPEC §5.3): topic, sender and payload, converted to Lua lazily. The
/// payload is shared with the payload objects `msg:payload()` makes, never copied.
#[derive(Debug)]
pub(crate) struct MsgData {
    pub(crate) from: Option<Pid>,
    pub(crate) topic: Box<str>,
    pub(crate) payload: Rc<Payload>,
}

impl Tagged for MsgData {
    const TAG: c_int = TAG_MSG;
}

impl From<starling_core::Message> for MsgData {
    fn from(m: starling_core::Message) -> MsgData {
        MsgData {
            from: m.from,
            topic: m.topic,
            payload: Rc::new(m.payload),
        }
    }
}

/// A payload object (SPEC §6.1): value `index` of a shared payload.
#[derive(Debug, Clone)]
pub(crate) struct PayloadData {
    pub(crate) payload: Rc<Payload>,
    pub(crate) index: u32,
}

impl Tagged for PayloadData {
    const TAG: c_int = TAG_PAYLOAD;
}

impl PayloadData {
    /// A payload object for the only value of `p`.
    pub(crate) fn of(p: Payload) -> PayloadData {
        PayloadData {
            payload: Rc::new(p),
            index: 0,
        }
    }

    /// Its format string (SPEC §6.1).
    pub(crate) fn format(&self) -> &'static str {
        match self.payload.values.get(self.index as usize) {
            Some(Value::Error(_)) => "golang/error",
            _ => "lua/any",
        }
    }
}

/// An event as the table scripts receive (SPEC §5.4), with its pid already printed.
#[derive(Debug)]
pub(crate) struct EventTable {
    pub(crate) kind: &'static str,
    pub(crate) from: String,
    pub(crate) at: i64,
    pub(crate) reason: Option<Box<str>>,
    pub(crate) result: Option<ExitReason>,
}
