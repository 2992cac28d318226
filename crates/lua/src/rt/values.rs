//! The Rust values kept inside Starling's tagged userdata (received messages, payload
//! objects, times and durations) and the event tables built for `process.events()`.

use std::cell::Cell;
use std::os::raw::c_int;
use std::rc::Rc;

use jiff::Timestamp;
use starling_core::{EventKind, ExitReason, MessageBody, Payload, Pid, Value};

use crate::userdata::loc::Loc;

/// Userdata tag of channels.
pub(crate) const TAG_CHAN: c_int = 20;
/// Userdata tag of received messages.
pub(crate) const TAG_MSG: c_int = 21;
/// Userdata tag of payload objects.
pub(crate) const TAG_PAYLOAD: c_int = 22;
/// Userdata tag of Time values.
pub(crate) const TAG_TIME: c_int = 23;
/// Userdata tag of Duration values.
pub(crate) const TAG_DURATION: c_int = 24;

/// A Rust value kept in a tagged userdata (see `ffi`).
pub(crate) trait Tagged: 'static {
    /// Its tag.
    const TAG: c_int;
}

/// A point in time with the location it is shown in (a Time, SPEC §8.2; its methods are in
/// `userdata::time`).
#[derive(Debug, Clone)]
pub struct LuaTime {
    /// The instant.
    pub ts: Timestamp,
    /// Location for calendar methods and formatting.
    pub loc: Loc,
}

impl Tagged for LuaTime {
    const TAG: c_int = TAG_TIME;
}

impl LuaTime {
    /// `self:sub(earlier)`: the duration from `earlier` to `self`, clamped to a Duration's
    /// range.
    pub(crate) fn since(&self, earlier: &LuaTime) -> LuaDuration {
        let ns = self.ts.as_nanosecond() - earlier.ts.as_nanosecond();
        LuaDuration(ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
    }
}

/// A span of time in nanoseconds (a Duration: Go's `time.Duration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LuaDuration(pub i64);

impl Tagged for LuaDuration {
    const TAG: c_int = TAG_DURATION;
}

/// A received message (SPEC §5.3): topic, sender and payload, converted to Lua lazily. The
/// payload is shared with the payload objects `msg:payload()` makes, never copied.
#[derive(Debug)]
pub(crate) struct MsgData {
    pub(crate) from: Option<Pid>,
    pub(crate) topic: starling_core::ShortStr,
    pub(crate) payload: Rc<MessageBody>,
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
    pub(crate) payload: Rc<MessageBody>,
    pub(crate) index: u32,
}

impl Tagged for PayloadData {
    const TAG: c_int = TAG_PAYLOAD;
}

impl PayloadData {
    /// A payload object for the only value of `p`.
    pub(crate) fn of(p: Payload) -> PayloadData {
        PayloadData {
            payload: Rc::new(MessageBody::Values(p)),
            index: 0,
        }
    }

    /// Its format string (SPEC §6.1).
    pub(crate) fn format(&self) -> &'static str {
        match &*self.payload {
            MessageBody::Values(p) => match p.values.get(self.index as usize) {
                Some(Value::Error(_)) => "golang/error",
                _ => "lua/any",
            },
            // A flat body never holds an error value.
            MessageBody::Flat(_) => "lua/any",
        }
    }
}

/// An event as the table scripts receive (SPEC §5.4), with its pid already printed.
#[derive(Debug)]
pub(crate) struct EventTable {
    pub(crate) kind: EventKind,
    /// The sender's printed pid.
    pub(crate) from: PidText,
    pub(crate) at: i64,
    pub(crate) reason: Option<Box<str>>,
    pub(crate) result: Option<ExitReason>,
}

/// A printed pid to push: a string cached in [`PidStrings`] (its registry reference), or the
/// text.
#[derive(Debug)]
pub(crate) enum PidText {
    /// The registry reference of the cached string.
    Cached(c_int),
    /// The text, not cached.
    Text(starling_core::ByteStr),
}

/// Printed pids kept as Lua strings (registry references), so `msg:from()` and
/// `process.pid()` for a pid seen recently push an existing string instead of formatting and
/// interning one. Direct-mapped: a pid evicts whatever shared its slot.
#[derive(Debug)]
pub(crate) struct PidStrings {
    slots: Box<[Cell<(Pid, c_int)>]>,
}

/// Slots of [`PidStrings`].
const PID_SLOTS: usize = 256;

impl PidStrings {
    pub(crate) fn new() -> PidStrings {
        let none = (Pid::local(starling_core::HostId(u32::MAX), 0), -1);
        PidStrings {
            slots: (0..PID_SLOTS).map(|_| Cell::new(none)).collect(),
        }
    }

    fn slot(&self, pid: Pid) -> Option<&Cell<(Pid, c_int)>> {
        let h = (pid.num ^ ((pid.host.0 as u64) << 40) ^ ((pid.node as u64) << 52))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.slots.get((h >> 56) as usize % PID_SLOTS)
    }

    /// The registry reference of `pid`'s string, if cached.
    pub(crate) fn get(&self, pid: Pid) -> Option<c_int> {
        let (p, r) = self.slot(pid)?.get();
        (p == pid && r > 0).then_some(r)
    }

    /// Caches `r` (a fresh registry reference) for `pid`; returns the reference it evicts.
    pub(crate) fn put(&self, pid: Pid, r: c_int) -> Option<c_int> {
        let slot = self.slot(pid)?;
        let (_, old) = slot.replace((pid, r));
        (old > 0).then_some(old)
    }
}
