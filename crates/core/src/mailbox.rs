//! A process's queues: its messages, its `listen` subscriptions and its events, with the limits
//! that keep a slow reader from exhausting the node.
//!
//! Delivery of a message (SPEC §5.3): a `listen` subscription for exactly its topic gets it;
//! else it waits in the message queue (for the inbox, or a subscription made later). Events
//! (EXIT, LINK_DOWN, CANCEL) have a queue of their own and never mix with messages.
//!
//! # Limits
//! Sends never block and never fail because the receiver is slow (SPEC §5.2), so a producer
//! that outpaces its consumer would otherwise grow the consumer's queues until the whole node
//! runs out of memory. Everything queued for a process counts: the number of messages (its
//! message queue and subscriptions together), the number of events, each against
//! [`Limits::items`], and the bytes all of them hold ([`Payload::heap_bytes`]) against
//! [`Limits::bytes`]. A delivery that leaves a process over a limit makes [`Mailbox::over`]
//! report it, and the worker kills that process (as Erlang kills a process over its
//! `max_heap_size`).
//!
//! # Guarantees
//! - Messages keep their arrival order, in the message queue and in each subscription; so do
//!   events.
//! - `listen` moves the messages already queued for its topic into the subscription, in order;
//!   `unlisten` puts what the subscription still holds back at the front of the message queue.
//! - The counts always equal what the queues hold.

use std::collections::VecDeque;

use crate::message::{Event, Message};
use crate::value::{ErrorKind, ErrorValue, Payload};

/// Bytes charged for a queued item besides its payload.
const ITEM_OVERHEAD: usize = 64;

/// How much a process may have queued; 0 means no limit.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Messages; and, separately, events.
    pub items: usize,
    /// Bytes messages and events hold together.
    pub bytes: usize,
}

/// Which limit a process went over.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// More than [`Limits::items`] messages queued.
    Items(usize),
    /// More than [`Limits::items`] events queued.
    Events(usize),
    /// More than [`Limits::bytes`] bytes queued.
    Bytes(usize),
}

impl Overflow {
    /// The INTERNAL error the process ends with.
    pub fn error(self) -> ErrorValue {
        let text = match self {
            Overflow::Items(n) => format!("mailbox overflow: more than {n} messages queued"),
            Overflow::Events(n) => format!("mailbox overflow: more than {n} events queued"),
            Overflow::Bytes(n) => format!("mailbox overflow: more than {n} bytes queued"),
        };
        ErrorValue::new(ErrorKind::Internal, text)
    }

    /// The host setting that sets this limit.
    pub fn setting(self) -> &'static str {
        match self {
            Overflow::Items(_) | Overflow::Events(_) => "host.max_mailbox",
            Overflow::Bytes(_) => "host.max_mailbox_bytes",
        }
    }
}

/// An item with the bytes it was charged.
#[derive(Debug)]
struct Queued<T> {
    item: T,
    bytes: usize,
}

/// A `listen` subscription: a topic and the messages routed to it.
#[derive(Debug)]
struct Listener {
    topic: Box<str>,
    queue: VecDeque<Queued<Message>>,
}

/// The queues of one process.
#[derive(Debug, Default)]
pub struct Mailbox {
    messages: VecDeque<Queued<Message>>,
    /// Events are rare (only monitors and links send them): boxed on the first one, to keep
    /// idle processes small (8 bytes instead of a `VecDeque`'s 32).
    #[allow(clippy::box_collection)]
    events: Option<Box<VecDeque<Queued<Event>>>>,
    /// Rare: boxed to keep idle processes small (8 bytes instead of a `Vec`'s 24).
    #[allow(clippy::box_collection)]
    listeners: Option<Box<Vec<Listener>>>,
    /// Counts kept in 32 bits (limits are checked long before they could wrap): messages
    /// (queue and subscriptions), events, and the bytes of both.
    messages_len: u32,
    events_len: u32,
    bytes: u32,
}

fn message_bytes(m: &Message) -> usize {
    ITEM_OVERHEAD + m.topic.len() + m.payload.heap_bytes()
}

fn event_bytes(e: &Event) -> usize {
    ITEM_OVERHEAD
        + e.reason.as_ref().map_or(0, |r| r.len())
        + e.result.as_ref().map_or(0, |r| match r.result() {
            Ok(p) => p.heap_bytes(),
            Err(e) => e.heap_bytes(),
        })
}

impl Mailbox {
    /// Queues a message: into the subscription for its topic, or the message queue.
    pub fn push_message(&mut self, msg: Message) {
        let bytes = message_bytes(&msg);
        self.messages_len = self.messages_len.saturating_add(1);
        self.add(bytes);
        let q = Queued { item: msg, bytes };
        if let Some(ls) = &mut self.listeners {
            if let Some(l) = ls
                .iter_mut()
                .find(|l| l.topic.as_bytes() == q.item.topic.as_bytes())
            {
                l.queue.push_back(q);
                return;
            }
        }
        self.messages.push_back(q);
    }

    /// Queues an event.
    pub fn push_event(&mut self, event: Event) {
        let bytes = event_bytes(&event);
        self.events_len = self.events_len.saturating_add(1);
        self.add(bytes);
        self.events
            .get_or_insert_with(Default::default)
            .push_back(Queued { item: event, bytes });
    }

    fn add(&mut self, bytes: usize) {
        self.bytes = self
            .bytes
            .saturating_add(bytes.min(u32::MAX as usize) as u32);
    }

    fn took(&mut self, bytes: usize) {
        self.bytes = self
            .bytes
            .saturating_sub(bytes.min(u32::MAX as usize) as u32);
    }

    fn took_message(&mut self, bytes: usize) {
        self.messages_len = self.messages_len.saturating_sub(1);
        self.took(bytes);
    }

    fn took_event(&mut self, bytes: usize) {
        self.events_len = self.events_len.saturating_sub(1);
        self.took(bytes);
    }

    /// The oldest message of the message queue (the inbox's next message).
    pub fn pop_message(&mut self) -> Option<Message> {
        let q = self.messages.pop_front()?;
        self.took_message(q.bytes);
        Some(q.item)
    }

    /// The oldest event.
    pub fn pop_event(&mut self) -> Option<Event> {
        let q = self.events.as_mut()?.pop_front()?;
        self.took_event(q.bytes);
        Some(q.item)
    }

    /// The oldest message of the subscription for `topic`.
    pub fn pop_listened(&mut self, topic: &str) -> Option<Message> {
        let l = self
            .listeners
            .as_mut()?
            .iter_mut()
            .find(|l| &*l.topic == topic)?;
        let q = l.queue.pop_front()?;
        self.took_message(q.bytes);
        Some(q.item)
    }

    /// True when the message queue holds a message.
    pub fn has_message(&self) -> bool {
        !self.messages.is_empty()
    }

    /// True when an event is queued.
    pub fn has_event(&self) -> bool {
        self.events.as_ref().is_some_and(|e| !e.is_empty())
    }

    /// Subscribes `topic`: messages already queued for it move to the subscription, in order.
    /// Subscribing twice is a no-op.
    pub fn listen(&mut self, topic: &str) {
        let ls = self.listeners.get_or_insert_with(Default::default);
        if ls.iter().any(|l| &*l.topic == topic) {
            return;
        }
        let mut queue = VecDeque::new();
        if self
            .messages
            .iter()
            .any(|q| q.item.topic.as_bytes() == topic.as_bytes())
        {
            let mut rest = VecDeque::with_capacity(self.messages.len());
            for q in self.messages.drain(..) {
                if q.item.topic.as_bytes() == topic.as_bytes() {
                    queue.push_back(q);
                } else {
                    rest.push_back(q);
                }
            }
            self.messages = rest;
        }
        ls.push(Listener {
            topic: topic.into(),
            queue,
        });
    }

    /// Removes the subscription for `topic`; what it still holds goes back to the front of
    /// the message queue, in order.
    pub fn unlisten(&mut self, topic: &str) {
        let Some(ls) = &mut self.listeners else {
            return;
        };
        let Some(i) = ls.iter().position(|l| &*l.topic == topic) else {
            return;
        };
        let l = ls.remove(i);
        if ls.is_empty() {
            self.listeners = None;
        }
        for q in l.queue.into_iter().rev() {
            self.messages.push_front(q);
        }
    }

    /// Drops the queued events `f` rejects.
    pub fn retain_events(&mut self, mut f: impl FnMut(&Event) -> bool) {
        let Some(events) = &mut self.events else {
            return;
        };
        let mut dropped = Vec::new();
        events.retain(|q| {
            let keep = f(&q.item);
            if !keep {
                dropped.push(q.bytes);
            }
            keep
        });
        for b in dropped {
            self.took_event(b);
        }
    }

    /// Messages and events queued.
    pub fn len(&self) -> usize {
        self.messages_len as usize + self.events_len as usize
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// About how many bytes the queued items hold.
    pub fn bytes(&self) -> usize {
        self.bytes as usize
    }

    /// The limit the queues are over, if any.
    pub fn over(&self, limits: Limits) -> Option<Overflow> {
        if limits.items > 0 && self.messages_len as usize > limits.items {
            return Some(Overflow::Items(limits.items));
        }
        if limits.items > 0 && self.events_len as usize > limits.items {
            return Some(Overflow::Events(limits.items));
        }
        if limits.bytes > 0 && self.bytes() > limits.bytes {
            return Some(Overflow::Bytes(limits.bytes));
        }
        None
    }

    /// Frees everything queued (a killed process reads nothing more); subscriptions stay.
    pub fn clear(&mut self) {
        self.messages = VecDeque::new();
        self.events = None;
        if let Some(ls) = &mut self.listeners {
            for l in ls.iter_mut() {
                l.queue = VecDeque::new();
            }
        }
        self.messages_len = 0;
        self.events_len = 0;
        self.bytes = 0;
    }
}

/// Payload bytes a message or event result would be charged, for callers that want to check a
/// value against the limits before queueing it.
pub fn payload_bytes(p: &Payload) -> usize {
    ITEM_OVERHEAD + p.heap_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{EventKind, ExitReason};
    use crate::pid::{HostId, Pid};
    use crate::value::Value;

    fn msg(topic: &str, n: i64) -> Message {
        Message {
            from: None,
            topic: topic.into(),
            payload: Payload::one(Value::Int(n)).into(),
        }
    }

    fn num(m: Option<Message>) -> i64 {
        match m.map(|m| m.payload.into_payload().values[0].clone()) {
            Some(Value::Int(n)) => n,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn event(kind: EventKind, from: u64) -> Event {
        Event {
            kind,
            from: Pid::local(HostId(0), from),
            result: Some(ExitReason::normal(Payload::empty())),
            reason: None,
            at: 0,
        }
    }

    #[test]
    fn messages_keep_their_order_and_counts_follow() {
        let mut m = Mailbox::default();
        for i in 0..5 {
            m.push_message(msg("a", i));
        }
        assert_eq!(m.len(), 5);
        assert!(m.bytes() >= 5 * ITEM_OVERHEAD);
        for i in 0..5 {
            assert_eq!(num(m.pop_message()), i);
        }
        assert!(m.pop_message().is_none());
        assert!(m.is_empty());
        assert_eq!(m.bytes(), 0);
    }

    #[test]
    fn listen_takes_queued_messages_of_its_topic_in_order() {
        let mut m = Mailbox::default();
        m.push_message(msg("a", 1));
        m.push_message(msg("b", 2));
        m.push_message(msg("a", 3));
        m.listen("a");
        m.push_message(msg("a", 4));
        m.push_message(msg("b", 5));
        assert_eq!(num(m.pop_listened("a")), 1);
        assert_eq!(num(m.pop_listened("a")), 3);
        assert_eq!(num(m.pop_listened("a")), 4);
        assert!(m.pop_listened("a").is_none());
        assert_eq!(num(m.pop_message()), 2);
        assert_eq!(num(m.pop_message()), 5);
        assert!(m.pop_listened("zzz").is_none());
        assert!(m.is_empty());
    }

    #[test]
    fn unlisten_puts_messages_back_in_front() {
        let mut m = Mailbox::default();
        m.listen("a");
        m.push_message(msg("a", 1));
        m.push_message(msg("a", 2));
        m.push_message(msg("b", 3));
        m.unlisten("a");
        assert_eq!(num(m.pop_message()), 1);
        assert_eq!(num(m.pop_message()), 2);
        assert_eq!(num(m.pop_message()), 3);
        m.unlisten("never");
    }

    #[test]
    fn events_are_their_own_queue_and_count() {
        let mut m = Mailbox::default();
        m.push_message(msg("a", 1));
        m.push_event(event(EventKind::Exit, 7));
        m.push_event(event(EventKind::Cancel, 8));
        assert_eq!(m.len(), 3);
        assert!(m.has_event() && m.has_message());
        m.retain_events(|e| e.kind != EventKind::Exit);
        assert_eq!(m.len(), 2);
        assert_eq!(m.pop_event().map(|e| e.from.num), Some(8));
        assert!(m.pop_event().is_none());
        assert_eq!(num(m.pop_message()), 1);
        assert_eq!((m.len(), m.bytes()), (0, 0));
    }

    #[test]
    fn limits_count_items_and_bytes() {
        let mut m = Mailbox::default();
        let items = Limits { items: 2, bytes: 0 };
        m.push_message(msg("a", 1));
        m.push_event(event(EventKind::Cancel, 1));
        m.push_event(event(EventKind::Cancel, 2));
        assert_eq!(m.over(items), None, "messages and events count apart");
        m.push_event(event(EventKind::Cancel, 3));
        assert_eq!(m.over(items), Some(Overflow::Events(2)));
        m.clear();
        assert_eq!(m.over(items), None);
        m.listen("b");
        for i in 0..2 {
            m.push_message(msg("a", i));
        }
        m.push_message(msg("b", 9));
        assert_eq!(
            m.over(items),
            Some(Overflow::Items(2)),
            "subscriptions count with the queue"
        );
        m.clear();

        let bytes = Limits {
            items: 0,
            bytes: 10_000,
        };
        let big = Message {
            from: None,
            topic: "x".into(),
            payload: Payload::one(Value::Str(vec![b'z'; 20_000].into())).into(),
        };
        m.push_message(big);
        assert_eq!(m.over(bytes), Some(Overflow::Bytes(10_000)));
        assert!(
            Overflow::Bytes(10_000)
                .error()
                .message
                .contains("more than 10000 bytes")
        );
        assert_eq!(m.over(Limits::default()), None);
    }
}
