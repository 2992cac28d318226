//! Mailbox limits: what happens to a process whose queued messages grow without bound.
//!
//! Sends never block and never fail because the receiver is slow (SPEC §5.2), so a producer
//! that outpaces its consumer would otherwise grow the consumer's queues until the whole node
//! runs out of memory. Each host has a limit (`host.max_mailbox`, 0 = none); the process that
//! goes over it is killed, as Erlang kills a process over its `max_heap_size`.
//!
//! # Guarantees
//! - A delivery that leaves more than `limit` messages queued for one process (its mailbox plus
//!   every `listen` queue; events are signals and are not counted) kills that process with
//!   INTERNAL `mailbox overflow: more than <limit> messages queued`. Monitors get EXIT with that
//!   error and links fire, as for any error.
//! - Its queued messages are freed at once, and every later delivery to it is dropped until it
//!   ends (at its worker's next turn), as its exit would drop them.
//! - The sender is not affected: its send succeeded (the receiver was alive) and stays
//!   asynchronous. Other processes, on the same worker or not, carry on.
//! - One warning goes to the node's warning hook per killed process.

use crate::node::Node;
use crate::pid::Pid;
use crate::value::{ErrorKind, ErrorValue};
use crate::worker::ProcCore;

/// Messages `p` has queued: its mailbox plus every `listen` queue.
pub fn queued(p: &ProcCore) -> usize {
    let listened = p
        .extra
        .as_ref()
        .map_or(0, |x| x.listeners.iter().map(|l| l.queue.len()).sum());
    p.mailbox.len() + listened
}

/// The error a process over `limit` ends with.
pub fn overflow_error(limit: usize) -> ErrorValue {
    ErrorValue::new(
        ErrorKind::Internal,
        format!("mailbox overflow: more than {limit} messages queued"),
    )
}

/// Checks `limit` (0 = none) right after a message was queued for `p`. Over it, marks `p`
/// killed and frees its queues; returns true then.
pub(crate) fn enforce(p: &mut ProcCore, limit: usize) -> bool {
    if limit == 0 || queued(p) <= limit {
        return false;
    }
    if p.kill.is_none() {
        p.kill = Some(Box::new(overflow_error(limit)));
    }
    p.mailbox = Default::default();
    if let Some(x) = &mut p.extra {
        for l in &mut x.listeners {
            l.queue = Default::default();
        }
    }
    true
}

/// Logs the kill of `pid` by [`enforce`].
pub(crate) fn warn(node: &Node, pid: Pid, limit: usize) {
    node.warn(&format!(
        "process {} killed: mailbox overflow: more than {limit} messages queued (host.max_mailbox of {})",
        node.format_pid(pid),
        node.host_name(pid.host)
    ));
}
