//! What a worker does when a node of the cluster is declared down ([`Envelope::NodeDown`]).
//!
//! # Guarantees
//! - Every process of the worker that monitors a pid of that node gets one EXIT from it, with
//!   `result.error` UNAVAILABLE `node disconnected`; one linked to such a pid gets LINK_DOWN
//!   (with `trap_links`) or ends with `linked process failed`, as if the pid had failed.
//! - The relations fire once: they are forgotten as they fire, and so are the halves that
//!   the dead node's processes held here (its monitors of local processes).
//! - The envelope is queued behind everything delivered from that node before it, so a
//!   message sent before the connection was lost is read before the EXIT.

use crate::message::{Event, EventKind, ExitReason, unix_now};
use crate::value::{ErrorKind, ErrorValue};
use crate::worker::Local;

/// The error monitors and links see when a node is lost (Wippy's text).
pub(crate) fn node_disconnected() -> ErrorValue {
    ErrorValue::new(ErrorKind::Unavailable, "node disconnected").retryable(Some(true))
}

impl Local {
    /// Fires this worker's relations towards pids of node `node`.
    pub(crate) fn node_down(&self, node: u32) {
        let slots: Vec<u32> = self
            .procs
            .borrow()
            .iter()
            .filter(|(_, p)| p.relations.is_some())
            .map(|(i, _)| i as u32)
            .collect();
        let reason = ExitReason::error(node_disconnected());
        for slot in slots {
            let pid = self.pid_of(slot);
            let news = self
                .with_live(slot, pid, |p| {
                    let Some(r) = p.relations.as_mut() else {
                        return false;
                    };
                    let (exits, links) = r.node_down(node);
                    let trap = r.trap_links();
                    if p.kill.is_some() {
                        return false;
                    }
                    let mut news = false;
                    for from in exits {
                        p.mailbox.push_event(Event {
                            kind: EventKind::Exit,
                            from,
                            result: Some(reason.clone()),
                            reason: None,
                            at: unix_now(),
                        });
                        news = true;
                    }
                    for from in links {
                        if trap {
                            p.mailbox.push_event(Event {
                                kind: EventKind::LinkDown,
                                from,
                                result: Some(reason.clone()),
                                reason: None,
                                at: unix_now(),
                            });
                            news = true;
                        } else {
                            news |= p.mark_killed(
                                ErrorValue::new(ErrorKind::Canceled, "linked process failed")
                                    .retryable(None),
                            );
                        }
                    }
                    news
                })
                .unwrap_or(false);
            if news {
                self.enforce_limits(slot, pid);
                self.notify(slot);
            }
        }
    }
}
