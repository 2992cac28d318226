//! The event bus: best-effort publish/subscribe between processes of one node (Wippy's
//! `events` module).
//!
//! A subscription names a *system pattern* and an optional *kind*; [`Bus::publish`] of an
//! event `(system, kind, path, data)` sends one message to every process whose subscription
//! matches, on the topic the subscriber chose (the Lua side reads it through a channel).
//!
//! Patterns: `*` alone matches every system; otherwise the pattern is split on `.` and each
//! segment must equal the system's segment, except `*`, which matches any one segment, and a
//! final `**`, which matches the rest (one segment or more): `orders.*` matches
//! `orders.eu` but not `orders` or `orders.eu.north`; `orders.**` matches both of the last two.
//!
//! # Guarantees
//! - Best effort, like Wippy's: a publish returns once the messages are posted; a subscriber
//!   that has ended misses them and its subscriptions are dropped.
//! - Ordering: events from one publisher reach one subscriber in publish order (messages from
//!   one sender are FIFO).
//! - Cost: a publish walks every subscription under a read lock.

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

use crate::bytestr::ShortStr;
use crate::message::Message;
use crate::pid::Pid;
use crate::value::Payload;

/// One subscription.
#[derive(Debug, Clone)]
struct Subscription {
    id: u64,
    pattern: Box<str>,
    kind: Option<Box<str>>,
    subscriber: Pid,
    topic: ShortStr,
}

/// The node's event bus, see the module docs.
#[derive(Debug, Default)]
pub struct Bus {
    subs: RwLock<Vec<Subscription>>,
    next: AtomicU64,
}

/// True when `system` matches the subscription `pattern` (see the module docs).
pub fn system_matches(pattern: &str, system: &str) -> bool {
    if pattern == "*" || pattern == "**" {
        return true;
    }
    let mut want = pattern.split('.');
    let mut have = system.split('.');
    loop {
        match (want.next(), have.next()) {
            (Some("**"), Some(_)) => return want.next().is_none(),
            (Some("*"), Some(_)) => {}
            (Some(w), Some(h)) if w == h => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

impl Bus {
    /// Subscribes `subscriber` to events whose system matches `pattern` (and whose kind is
    /// `kind`, when given); they arrive as messages on the topic `topic(id)` names. Returns
    /// the subscription id and its topic.
    pub fn subscribe(
        &self,
        pattern: &str,
        kind: Option<&str>,
        subscriber: Pid,
        topic: impl FnOnce(u64) -> String,
    ) -> (u64, String) {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let topic = topic(id);
        self.subs.write().push(Subscription {
            id,
            pattern: pattern.into(),
            kind: kind.map(Into::into),
            subscriber,
            topic: topic.as_str().into(),
        });
        (id, topic)
    }

    /// Ends a subscription; false when it did not exist (already closed).
    pub fn unsubscribe(&self, id: u64) -> bool {
        let mut subs = self.subs.write();
        let before = subs.len();
        subs.retain(|s| s.id != id);
        subs.len() != before
    }

    /// Number of live subscriptions.
    pub fn len(&self) -> usize {
        self.subs.read().len()
    }

    /// True when nobody subscribes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sends `payload` (built once per receiver by `make`) from `from` to every matching
    /// subscriber through `post` (false: the subscriber is gone, its subscription goes).
    /// Returns how many subscribers it was posted to. [`crate::Node::publish`] posts to the
    /// node's processes.
    pub fn publish(
        &self,
        post: impl Fn(Pid, Message) -> bool,
        from: Option<Pid>,
        system: &str,
        kind: &str,
        make: impl Fn() -> Payload,
    ) -> usize {
        let mut sent = 0;
        let mut dead = Vec::new();
        for s in self.subs.read().iter() {
            if !system_matches(&s.pattern, system) || s.kind.as_deref().is_some_and(|k| k != kind) {
                continue;
            }
            let msg = Message {
                from,
                topic: s.topic.clone(),
                payload: make().into(),
            };
            let to = s.subscriber;
            if post(to, msg) {
                sent += 1;
            } else {
                dead.push(s.id);
            }
        }
        if !dead.is_empty() {
            self.subs.write().retain(|s| !dead.contains(&s.id));
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::system_matches;

    #[test]
    fn patterns() {
        for (pattern, system, want) in [
            ("users", "users", true),
            ("users", "users.x", false),
            ("*", "anything.at.all", true),
            ("orders.*", "orders.eu", true),
            ("orders.*", "orders", false),
            ("orders.*", "orders.eu.north", false),
            ("orders.**", "orders.eu.north", true),
            ("orders.**", "orders", false),
            ("*.created", "user.created", true),
            ("*.created", "user.deleted", false),
        ] {
            assert_eq!(
                system_matches(pattern, system),
                want,
                "{pattern} ~ {system}"
            );
        }
    }
}
