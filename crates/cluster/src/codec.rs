//! Core envelopes to wire items and back, with pids translated between node tables.
//!
//! A pid crosses as (node name, host name, number): the sender's own pids go with an empty
//! node name (the frame says who sent it), others with their node's name, which the receiver
//! interns in its own table (its own name giving `node == 0`).

use std::borrow::Cow;

use starling_core::{
    Envelope, Event, EventKind, ExitReason, HostId, Message, Node, Pid, RelationOp, ReplyTo,
    SpawnFlags, SpawnRequest, SpawnSetup,
};

use crate::wire::{
    self, Item, WMessage, WPid, WSpawn, error_in, error_out, payload_in, payload_out, result_in,
    result_out,
};

/// The wire form of a pid, seen from this node.
pub(crate) fn pid_out(node: &Node, pid: Pid) -> WPid<'_> {
    let name = if pid.node == 0 {
        ""
    } else {
        node.peers.name(pid.node).unwrap_or("?")
    };
    WPid {
        node: Cow::Borrowed(name),
        host: Cow::Borrowed(node.host_name(pid.host)),
        num: pid.num,
    }
}

/// A pid from its wire form, in a frame from node `src`.
pub(crate) fn pid_in(node: &Node, w: &WPid<'_>, src: u32) -> Option<Pid> {
    if w.host.contains('@') {
        return None;
    }
    let n = if w.node.is_empty() {
        src
    } else {
        node.peers.intern(&w.node)?
    };
    let host = match node.host_id(&w.host) {
        Some(h) => h,
        None if n != 0 => node.peers.foreign_host(&w.host)?,
        None => return None,
    };
    Some(Pid {
        node: n,
        host,
        num: w.num,
    })
}

/// A pid of this node from its wire form.
pub(crate) fn local_in(node: &Node, w: &WPid<'_>) -> Option<Pid> {
    if w.host.contains('@') {
        return None;
    }
    Some(Pid::local(node.host_id(&w.host)?, w.num))
}

pub(crate) fn message_out<'a>(node: &'a Node, m: &'a Message) -> WMessage<'a> {
    WMessage {
        from: m.from.map(|p| pid_out(node, p)),
        topic: Cow::Borrowed(&m.topic),
        payload: wire::body_out(&m.payload),
    }
}

pub(crate) fn message_in(node: &Node, m: WMessage<'_>, src: u32) -> Option<Message> {
    let from = match &m.from {
        Some(p) => Some(pid_in(node, p, src)?),
        None => None,
    };
    Some(Message {
        from,
        topic: m.topic.as_ref().into(),
        payload: payload_in(m.payload).ok()?.into(),
    })
}

fn kind_out(k: EventKind) -> u8 {
    match k {
        EventKind::Exit => 0,
        EventKind::LinkDown => 1,
        EventKind::Cancel => 2,
    }
}

fn kind_in(k: u8) -> Option<EventKind> {
    Some(match k {
        0 => EventKind::Exit,
        1 => EventKind::LinkDown,
        2 => EventKind::Cancel,
        _ => return None,
    })
}

fn op_out(op: RelationOp) -> u8 {
    match op {
        RelationOp::Monitor => 0,
        RelationOp::Demonitor => 1,
        RelationOp::Link => 2,
        RelationOp::Unlink => 3,
    }
}

pub(crate) fn op_in(op: u8) -> Option<RelationOp> {
    Some(match op {
        0 => RelationOp::Monitor,
        1 => RelationOp::Demonitor,
        2 => RelationOp::Link,
        3 => RelationOp::Unlink,
        _ => return None,
    })
}

/// The item an envelope for another node becomes, and that node; `None` for envelopes that
/// never cross (spawns go through [`spawn_out`], shutdowns and polls stay home).
pub(crate) fn envelope_out<'a>(node: &'a Node, env: &'a Envelope) -> Option<(u32, Item<'a>)> {
    Some(match env {
        Envelope::Message { to, msg, .. } => (
            to.node,
            Item::Msg {
                to: pid_out(node, *to),
                msg: message_out(node, msg),
            },
        ),
        Envelope::Event { to, event, .. } => (
            to.node,
            Item::Event {
                to: pid_out(node, *to),
                kind: kind_out(event.kind),
                from: pid_out(node, event.from),
                result: event.result.as_ref().map(|r| result_out(r.result())),
                reason: event.reason.as_deref().map(Cow::Borrowed),
                at: event.at,
            },
        ),
        Envelope::LinkExit {
            to, from, reason, ..
        } => (
            to.node,
            Item::LinkExit {
                to: pid_out(node, *to),
                from: pid_out(node, *from),
                reason: result_out(reason.result()),
            },
        ),
        Envelope::Relation { to, other, op, .. } => (
            to.node,
            Item::Relation {
                to: pid_out(node, *to),
                other: pid_out(node, *other),
                op: op_out(*op),
            },
        ),
        Envelope::Kill { to, reason, .. } => (
            to.node,
            Item::Kill {
                to: pid_out(node, *to),
                reason: error_out(reason),
            },
        ),
        Envelope::Wake {
            to, token, result, ..
        } => (
            to.node,
            Item::Wake {
                to: pid_out(node, *to),
                token: *token,
                result: result_out(result),
            },
        ),
        _ => return None,
    })
}

/// The item a spawn for another node becomes.
pub(crate) fn spawn_out<'a>(node: &'a Node, req: &'a SpawnRequest) -> Item<'a> {
    let setup = req.setup.as_deref();
    Item::Spawn(Box::new(WSpawn {
        entry: Cow::Borrowed(&req.entry),
        host: Cow::Borrowed(node.host_name(req.host)),
        args: payload_out(&req.args),
        parent: req.parent.map(|p| pid_out(node, p)),
        monitor: req.flags.monitor,
        link: req.flags.link,
        exit_to: req.flags.exit_to.map(|r| (pid_out(node, r.pid), r.token)),
        reply: req.reply.map(|r| (pid_out(node, r.pid), r.token)),
        name: setup.and_then(|s| s.name.as_deref()).map(Cow::Borrowed),
        messages: setup
            .map(|s| s.messages.iter().map(|m| message_out(node, m)).collect())
            .unwrap_or_default(),
    }))
}

/// A spawn request from another node; `Err` names the host when it is not one of this node's.
pub(crate) fn spawn_in(node: &Node, s: WSpawn<'_>, src: u32) -> Option<SpawnRequest> {
    let reply_to = |r: &Option<(WPid<'_>, u64)>| -> Option<Option<ReplyTo>> {
        match r {
            None => Some(None),
            Some((p, token)) => Some(Some(ReplyTo {
                pid: pid_in(node, p, src)?,
                token: *token,
            })),
        }
    };
    let exit_to = reply_to(&s.exit_to)?;
    let reply = reply_to(&s.reply)?;
    let parent = match &s.parent {
        Some(p) => Some(pid_in(node, p, src)?),
        None => None,
    };
    let host = node.host_id(&s.host).unwrap_or(HostId(u32::MAX));
    let setup = if s.name.is_some() || !s.messages.is_empty() {
        let mut messages = Vec::with_capacity(s.messages.len());
        for m in s.messages {
            messages.push(message_in(node, m, src)?);
        }
        Some(Box::new(SpawnSetup {
            name: s.name.map(|n| n.into_owned().into_boxed_str()),
            messages,
            function: false,
        }))
    } else {
        None
    };
    Some(SpawnRequest {
        entry: s.entry.as_ref().into(),
        host,
        args: payload_in(s.args).ok()?,
        parent,
        flags: SpawnFlags {
            monitor: s.monitor,
            link: s.link,
            exit_to,
        },
        reply,
        num: 0,
        setup,
    })
}

/// What an inbound item asks of this node.
pub(crate) enum Inbound {
    /// Deliver this envelope to a local pid (`make` gets the slot).
    Post(Pid, Envelope),
    /// Start this spawn.
    Spawn(SpawnRequest),
    /// STRONG name sync request.
    NameSync { id: u64, revision: u64 },
    /// STRONG name acknowledgement.
    NameAck { id: u64 },
}

/// Turns an item from node `src` into what to do with it; `None` for an item that names
/// nothing this node can reach (an unknown host, a malformed payload): dropped, as a message
/// to a pid that does not exist is.
pub(crate) fn item_in(node: &Node, item: Item<'_>, src: u32) -> Option<Inbound> {
    Some(match item {
        Item::Msg { to, msg } => {
            let to = local_in(node, &to)?;
            let msg = message_in(node, msg, src)?;
            Inbound::Post(to, Envelope::Message { to, slot: 0, msg })
        }
        Item::Event {
            to,
            kind,
            from,
            result,
            reason,
            at,
        } => {
            let to = local_in(node, &to)?;
            let result = match result {
                Some(r) => Some(ExitReason(std::sync::Arc::new(result_in(r).ok()?))),
                None => None,
            };
            let event = Event {
                kind: kind_in(kind)?,
                from: pid_in(node, &from, src)?,
                result,
                reason: reason.map(|r| r.into_owned().into_boxed_str()),
                at,
            };
            Inbound::Post(to, Envelope::Event { to, slot: 0, event })
        }
        Item::LinkExit { to, from, reason } => {
            let to = local_in(node, &to)?;
            Inbound::Post(
                to,
                Envelope::LinkExit {
                    to,
                    slot: 0,
                    from: pid_in(node, &from, src)?,
                    reason: ExitReason(std::sync::Arc::new(result_in(reason).ok()?)),
                },
            )
        }
        Item::Relation { to, other, op } => {
            let to = local_in(node, &to)?;
            Inbound::Post(
                to,
                Envelope::Relation {
                    to,
                    slot: 0,
                    other: pid_in(node, &other, src)?,
                    op: op_in(op)?,
                },
            )
        }
        Item::Kill { to, reason } => {
            let to = local_in(node, &to)?;
            Inbound::Post(
                to,
                Envelope::Kill {
                    to,
                    slot: 0,
                    reason: error_in(reason).ok()?,
                },
            )
        }
        Item::Wake { to, token, result } => {
            let to = local_in(node, &to)?;
            Inbound::Post(
                to,
                Envelope::Wake {
                    to,
                    slot: 0,
                    token,
                    result: result_in(result).ok()?,
                },
            )
        }
        Item::Spawn(s) => Inbound::Spawn(spawn_in(node, *s, src)?),
        Item::NameSync { id, revision } => Inbound::NameSync { id, revision },
        Item::NameAck { id } => Inbound::NameAck { id },
    })
}

/// Sets the slot of an envelope about to be posted (the directory knows it, the wire not).
pub(crate) fn with_slot(env: Envelope, s: u32) -> Envelope {
    match env {
        Envelope::Message { to, msg, .. } => Envelope::Message { to, slot: s, msg },
        Envelope::Event { to, event, .. } => Envelope::Event { to, slot: s, event },
        Envelope::LinkExit {
            to, from, reason, ..
        } => Envelope::LinkExit {
            to,
            slot: s,
            from,
            reason,
        },
        Envelope::Relation { to, other, op, .. } => Envelope::Relation {
            to,
            slot: s,
            other,
            op,
        },
        Envelope::Kill { to, reason, .. } => Envelope::Kill {
            to,
            slot: s,
            reason,
        },
        Envelope::Wake {
            to, token, result, ..
        } => Envelope::Wake {
            to,
            slot: s,
            token,
            result,
        },
        other => other,
    }
}

/// Encodes an item into a stream buffer.
pub(crate) fn push(buf: &mut Vec<u8>, item: &Item<'_>) {
    wire::push_item(buf, item);
}
