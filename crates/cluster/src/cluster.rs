//! The cluster side of one node: sessions with its peers, heartbeats, failure detection,
//! remote deliveries and spawns. Transport-agnostic: a driver feeds it what arrives and the
//! time, and it publishes through its [`Transport`].
//!
//! # Guarantees
//! - Per pair of processes, messages and signals arrive in send order, across nodes too: a
//!   worker hands its items to the session in program order, a session is one ordered frame
//!   stream on one connection, and the receiver posts items to the target worker's FIFO queue
//!   in stream order. So a message sent before its sender's EXIT is read before that EXIT.
//! - Nothing is lost silently (see the private `link` module): a lost frame ends the session, and
//!   ending it fires node-down on both sides.
//! - Node-down is announced once per session, after every item already delivered from that
//!   node: monitors get EXIT `node disconnected` (UNAVAILABLE), links LINK_DOWN or death,
//!   spawns in flight fail with `node disconnected`, and the dead node's cluster names are
//!   released.
//! - A peer silent for `node_timeout` is declared down; a node that says `bye` at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use starling_core::{
    ClusterNames, Envelope, ErrorKind, ErrorValue, Event, EventKind, ExitReason, HostId, Node,
    PeerState, Pid, RelationOp, Remote, ReplyTo, Scope, SpawnRequest, message::unix_now,
};

use crate::codec::{self, Inbound};
use crate::link::Link;
use crate::names::{NameHost, NameState, Names};
use crate::settings::Settings;
use crate::transport::{Bucket, KvOp, Subject, Transport};
use crate::wire::{self, Body, Frame, HbPeer, Heartbeat, Item, MAX_CHUNK};

/// Pid numbers reserved ahead in the node record, so a restart starts above anything the
/// previous run may have handed out (re-reserved when half is used; checked every heartbeat).
pub const PID_RESERVE: u64 = 1 << 20;

/// A node's record in the nodes bucket.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeRecord {
    /// Incarnation of the run that wrote it.
    pub inc: u64,
    /// Pid numbers below this may have been handed out.
    pub num: u64,
    /// The same for internal (hidden) pids.
    pub hidden: u64,
}

/// What the status command shows of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    /// Node name.
    pub name: String,
    /// Incarnation.
    pub incarnation: u64,
    /// `up`, `down` or `unknown`.
    pub state: &'static str,
    /// Times declared down by this node.
    pub downs: u64,
}

/// One node of a cluster. Installed on its [`Node`] as the [`Remote`] and the cluster name
/// scopes by [`Cluster::new`].
pub struct Cluster {
    pub(crate) node: Arc<Node>,
    pub(crate) me: &'static str,
    pub(crate) inc: u64,
    pub(crate) settings: Settings,
    pub(crate) transport: Arc<dyn Transport>,
    links: RwLock<FxHashMap<u32, Arc<Mutex<Link>>>>,
    /// Local host id → the nodes its spawns go to (`None`: this node is one of them).
    placement: FxHashMap<u32, Option<Vec<u32>>>,
    rr: AtomicUsize,
    timing: Mutex<Timing>,
    pub(crate) names: NameState,
    pub(crate) weak: Weak<Cluster>,
}

#[derive(Debug)]
struct Timing {
    next_heartbeat: Option<Instant>,
    heartbeat_now: bool,
    reserved: (u64, u64),
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("me", &self.me)
            .field("inc", &self.inc)
            .finish_non_exhaustive()
    }
}

/// Why a node could not join.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// Bad settings.
    #[error("cluster: {0}")]
    Settings(String),
    /// The NATS server could not be reached or refused.
    #[error("cluster: {0}")]
    Connect(String),
}

impl Cluster {
    /// Joins `node` to the cluster: names it, takes the incarnation after `previous` (its
    /// record from the nodes bucket, if any), raises its pid counters above the previous
    /// run's reservation, writes the new record, and installs itself as the node's remote
    /// side and cluster name scopes. Call before any process starts.
    pub fn new(
        node: Arc<Node>,
        settings: Settings,
        previous: Option<NodeRecord>,
        transport: Arc<dyn Transport>,
    ) -> Result<Arc<Cluster>, JoinError> {
        if !crate::settings::valid_token(&settings.name) {
            return Err(JoinError::Settings(format!(
                "invalid node name {:?} (letters, digits, - and _ only)",
                settings.name
            )));
        }
        if !node.peers.set_own_name(&settings.name) && node.peers.own_name() != Some(&settings.name)
        {
            return Err(JoinError::Settings("node already named".into()));
        }
        let me = node.peers.own_name().expect("named above");
        let now_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(1);
        let inc = previous.map_or(now_us, |p| now_us.max(p.inc + 1));
        if let Some(p) = previous {
            node.raise_nums(p.num, p.hidden);
        }
        let (num, hidden) = node.peek_nums();
        let reserved = (num + PID_RESERVE, hidden + PID_RESERVE);
        let mut placement = FxHashMap::default();
        for (host, nodes) in &settings.spawn_placement {
            let Some(h) = node.host_id(host) else {
                node.warn(&format!(
                    "cluster.placement.spawn: {host} is not a host of this project"
                ));
                continue;
            };
            let mut idxs = Vec::new();
            let mut here = false;
            for n in nodes {
                match node.peers.intern(n) {
                    Some(0) => here = true,
                    Some(i) => idxs.push(i),
                    None => {}
                }
            }
            placement.insert(h.0, if here { None } else { Some(idxs) });
        }
        let c = Arc::new_cyclic(|weak| Cluster {
            weak: weak.clone(),
            me,
            inc,
            settings,
            transport,
            links: RwLock::new(FxHashMap::default()),
            placement,
            rr: AtomicUsize::new(0),
            timing: Mutex::new(Timing {
                next_heartbeat: None,
                heartbeat_now: true,
                reserved,
            }),
            names: NameState::default(),
            node: node.clone(),
        });
        c.write_record(reserved);
        node.set_remote(c.clone());
        c.install_names();
        node.registry.set_cluster(c.clone());
        Ok(c)
    }

    /// This node's name.
    pub fn name(&self) -> &'static str {
        self.me
    }

    /// This run's incarnation.
    pub fn incarnation(&self) -> u64 {
        self.inc
    }

    /// The node this cluster side serves.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn write_record(&self, reserved: (u64, u64)) {
        let record = NodeRecord {
            inc: self.inc,
            num: reserved.0,
            hidden: reserved.1,
        };
        let node = self.node.clone();
        self.transport.kv(
            KvOp::Put {
                bucket: Bucket::Nodes,
                key: self.me.to_string(),
                value: wire::encode(&record),
            },
            Box::new(move |r| {
                if let crate::transport::KvReply::Failed(e) = r {
                    node.warn(&format!("cluster: writing the node record failed: {e}"));
                }
            }),
        );
    }

    pub(crate) fn link(&self, idx: u32) -> Option<Arc<Mutex<Link>>> {
        self.links.read().get(&idx).cloned()
    }

    fn link_or_new(&self, idx: u32) -> Option<Arc<Mutex<Link>>> {
        if let Some(l) = self.link(idx) {
            return Some(l);
        }
        let name = self.node.peers.name(idx)?;
        Some(
            self.links
                .write()
                .entry(idx)
                .or_insert_with(|| Arc::new(Mutex::new(Link::new(idx, name))))
                .clone(),
        )
    }

    /// The peers that are up now.
    pub(crate) fn up_peers(&self) -> Vec<u32> {
        self.links
            .read()
            .values()
            .filter_map(|l| {
                let l = l.lock();
                (l.state == PeerState::Up).then_some(l.idx)
            })
            .collect()
    }

    /// The nodes this one knows of (itself first).
    pub fn nodes(&self) -> Vec<NodeStatus> {
        let mut out = vec![NodeStatus {
            name: self.me.to_string(),
            incarnation: self.inc,
            state: "up",
            downs: 0,
        }];
        let mut others: Vec<NodeStatus> = self
            .links
            .read()
            .values()
            .map(|l| {
                let l = l.lock();
                NodeStatus {
                    name: l.name.to_string(),
                    incarnation: l.inc,
                    state: l.state.as_str(),
                    downs: l.downs,
                }
            })
            .collect();
        others.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(others);
        out
    }

    // ----- sending -----

    /// Appends an item to a peer's session if it is up; false otherwise.
    pub(crate) fn send_item(&self, idx: u32, item: &Item<'_>) -> bool {
        let Some(link) = self.link(idx) else {
            return false;
        };
        let wake = {
            let mut l = link.lock();
            if l.state != PeerState::Up {
                return false;
            }
            let was_empty = l.out_buf.is_empty();
            codec::push(&mut l.out_buf, item);
            was_empty
        };
        if wake {
            self.transport.wake();
        }
        true
    }

    /// Frames and publishes every item waiting, per peer in order.
    pub fn flush(&self) {
        let links: Vec<_> = self.links.read().values().cloned().collect();
        for link in links {
            let mut l = link.lock();
            if l.out_buf.is_empty() || l.state != PeerState::Up {
                continue;
            }
            let buf = std::mem::take(&mut l.out_buf);
            for chunk in buf.chunks(MAX_CHUNK) {
                l.out_seq += 1;
                let frame = Frame {
                    src: self.me.into(),
                    src_inc: self.inc,
                    dst_inc: l.inc,
                    body: Body::Data {
                        session: l.out_session,
                        seq: l.out_seq,
                        chunk: chunk.into(),
                    },
                };
                self.transport
                    .publish(Subject::Node(l.name), wire::encode(&frame));
            }
            // Keep the buffer's allocation for the next items.
            let mut buf = buf;
            buf.clear();
            if l.out_buf.is_empty() {
                l.out_buf = buf;
            }
        }
    }

    fn send_reset(&self, l: &mut Link, session: u64, now: Option<Instant>) {
        if l.inc == 0 {
            return;
        }
        l.reset_at = now;
        let frame = Frame {
            src: self.me.into(),
            src_inc: self.inc,
            dst_inc: l.inc,
            body: Body::Reset { session },
        };
        self.transport
            .publish(Subject::Node(l.name), wire::encode(&frame));
    }

    // ----- node down -----

    /// Ends the session with a peer (see the private `link` module) and, if it was up, fires node-down.
    fn end(&self, l: &mut Link, now: Option<Instant>) {
        let (was_up, refuse) = l.end();
        if let Some(session) = refuse {
            self.send_reset(l, session, now);
        }
        self.node.peers.set_state(l.idx, l.inc, PeerState::Down);
        if was_up {
            self.fire_down(l);
        }
    }

    /// Node-down for a peer that was up: spawns in flight fail first, then every worker hears
    /// of it, then its names are released.
    fn fire_down(&self, l: &mut Link) {
        self.node.warn(&format!(
            "cluster: node {} is down: monitors and links towards it fire",
            l.name
        ));
        for reply in l.spawns.drain(..) {
            let err = node_disconnected();
            self.node.post(reply.pid, |slot| Envelope::Wake {
                to: reply.pid,
                slot,
                token: reply.token,
                result: Err(err),
            });
        }
        self.node.node_down(l.idx);
        self.names_node_down(l.name);
    }

    // ----- receiving -----

    /// A frame arrived on this node's subject.
    pub fn on_frame(&self, bytes: &[u8], now: Instant) {
        let Ok(frame) = wire::decode::<Frame<'_>>(bytes) else {
            self.node.warn("cluster: dropped a malformed frame");
            return;
        };
        if frame.dst_inc != self.inc || frame.src == self.me {
            return; // meant for a previous run of this node
        }
        let Some(idx) = self.node.peers.intern(&frame.src) else {
            return;
        };
        let Some(link) = self.link_or_new(idx) else {
            return;
        };
        let mut inbound = Vec::new();
        {
            let mut l = link.lock();
            if frame.src_inc < l.inc {
                return;
            }
            if frame.src_inc > l.inc {
                if l.inc != 0 && l.reincarnate(frame.src_inc) {
                    self.node.peers.set_state(idx, l.inc, PeerState::Down);
                    self.fire_down(&mut l);
                }
                l.inc = frame.src_inc;
            }
            l.last_heard = Some(now);
            if l.state != PeerState::Up {
                l.state = PeerState::Up;
                self.node.peers.set_state(idx, l.inc, PeerState::Up);
            }
            match frame.body {
                Body::Mark { session, seq } => {
                    if session < l.in_session {
                        return;
                    }
                    self.follow(&mut l, session, now);
                    if !l.in_dead && session == l.in_session && seq > l.in_seq {
                        self.node.warn(&format!(
                            "cluster: frames lost from node {} ({} sent, {} received): session ended",
                            l.name, seq, l.in_seq
                        ));
                        self.end(&mut l, Some(now));
                        l.state = PeerState::Up;
                        self.node.peers.set_state(idx, l.inc, PeerState::Up);
                    }
                }
                Body::Reset { session } => {
                    if session == l.out_session {
                        self.end(&mut l, Some(now));
                        l.state = PeerState::Up;
                        self.node.peers.set_state(idx, l.inc, PeerState::Up);
                    }
                }
                Body::Data {
                    session,
                    seq,
                    chunk,
                } => {
                    if session < l.in_session {
                        return;
                    }
                    self.follow(&mut l, session, now);
                    if l.in_dead {
                        if l.reset_at
                            .is_none_or(|t| now - t >= self.settings.heartbeat)
                        {
                            let s = l.in_session;
                            self.send_reset(&mut l, s, Some(now));
                        }
                        return;
                    }
                    if seq != l.in_seq + 1 {
                        // A lost frame: never silent.
                        self.node.warn(&format!(
                            "cluster: frame lost from node {} (expected {}, got {}): session ended",
                            l.name,
                            l.in_seq + 1,
                            seq
                        ));
                        self.end(&mut l, Some(now));
                        return;
                    }
                    l.in_seq = seq;
                    l.in_buf.extend_from_slice(&chunk);
                    let node = &self.node;
                    let mut bad = false;
                    let mut spawns_answered = Vec::new();
                    let used = wire::take_items(&l.in_buf, |b| {
                        match wire::decode::<Item<'_>>(b) {
                            Ok(item) => {
                                if let Some(i) = codec::item_in(node, item, idx) {
                                    if let Inbound::Post(to, Envelope::Wake { token, .. }) = &i {
                                        spawns_answered.push((*to, *token));
                                    }
                                    inbound.push(i);
                                }
                            }
                            Err(_) => bad = true,
                        }
                        Ok(())
                    });
                    match used {
                        Ok(n) => {
                            l.in_buf.drain(..n);
                        }
                        Err(_) => bad = true,
                    }
                    if !spawns_answered.is_empty() {
                        l.spawns
                            .retain(|r| !spawns_answered.contains(&(r.pid, r.token)));
                    }
                    if bad {
                        self.node
                            .warn(&format!("cluster: malformed item from node {}", l.name));
                    }
                }
            }
        }
        for i in inbound {
            self.apply(i, idx);
        }
    }

    /// Carries out one inbound item (outside the link's lock: answers may go back to it).
    fn apply(&self, i: Inbound, src: u32) {
        match i {
            Inbound::Post(to, env) => {
                let relation = match &env {
                    Envelope::Relation { other, op, .. } => Some((*other, *op)),
                    _ => None,
                };
                let mut env = Some(env);
                let delivered = self.node.post(to, |slot| {
                    codec::with_slot(env.take().expect("made once"), slot)
                });
                if !delivered {
                    if let Some((other, op)) = relation {
                        self.relation_to_dead(to, other, op);
                    }
                }
            }
            Inbound::Spawn(req) => self.spawn_here(req),
            Inbound::NameSync { id, revision } => self.name_sync(src, id, revision),
            Inbound::NameAck { id } => self.name_ack(src, id),
        }
    }

    /// A monitor or link request for a process that is gone: a monitor gets an EXIT
    /// (`process not found`, Erlang's `noproc`), a link is dropped on the other side.
    fn relation_to_dead(&self, target: Pid, other: Pid, op: RelationOp) {
        match op {
            RelationOp::Monitor => {
                let event = Event {
                    kind: EventKind::Exit,
                    from: target,
                    result: Some(ExitReason::error(ErrorValue::new(
                        ErrorKind::NotFound,
                        "process not found",
                    ))),
                    reason: None,
                    at: unix_now(),
                };
                self.node.post(other, |slot| Envelope::Event {
                    to: other,
                    slot,
                    event,
                });
            }
            RelationOp::Link => {
                self.node.post(other, |slot| Envelope::Relation {
                    to: other,
                    slot,
                    other: target,
                    op: RelationOp::Unlink,
                });
            }
            _ => {}
        }
    }

    /// A spawn asked by another node.
    fn spawn_here(&self, req: SpawnRequest) {
        let (reply, exit_to) = (req.reply, req.flags.exit_to);
        let host_known = self.node.try_host_name(req.host).is_some();
        let result = if host_known {
            self.node.request_spawn(req)
        } else {
            Err(ErrorValue::new(ErrorKind::NotFound, "host not found"))
        };
        if let Err(e) = result {
            for to in [reply, exit_to].into_iter().flatten() {
                let e = e.clone();
                self.node.post(to.pid, |slot| Envelope::Wake {
                    to: to.pid,
                    slot,
                    token: to.token,
                    result: Err(e),
                });
            }
        }
    }

    /// The peer's session to this node is `session` (from a frame or a heartbeat): a newer one
    /// than the session followed, which this node did not end, means the peer ended it (it
    /// fired node-down): this node ends its side too, then follows the new one.
    fn follow(&self, l: &mut Link, session: u64, now: Instant) {
        if l.breaks(session) {
            self.end(l, Some(now));
            l.state = PeerState::Up;
            self.node.peers.set_state(l.idx, l.inc, PeerState::Up);
        }
        l.learn_session(session);
    }

    /// A heartbeat arrived.
    pub fn on_heartbeat(&self, bytes: &[u8], now: Instant) {
        let Ok(hb) = wire::decode::<Heartbeat<'_>>(bytes) else {
            return;
        };
        if hb.src == self.me {
            return;
        }
        let Some(idx) = self.node.peers.intern(&hb.src) else {
            return;
        };
        let Some(link) = self.link_or_new(idx) else {
            return;
        };
        let mut l = link.lock();
        if hb.inc < l.inc {
            return;
        }
        if hb.inc > l.inc {
            if l.inc != 0 && l.reincarnate(hb.inc) {
                self.node.peers.set_state(idx, hb.inc, PeerState::Down);
                self.fire_down(&mut l);
            }
            l.inc = hb.inc;
        }
        if hb.bye {
            self.end(&mut l, Some(now));
            return;
        }
        l.last_heard = Some(now);
        if l.state != PeerState::Up {
            l.state = PeerState::Up;
            self.node.peers.set_state(idx, l.inc, PeerState::Up);
            if l.in_dead {
                // It may not know yet that its session was refused here.
                let s = l.in_session;
                self.send_reset(&mut l, s, Some(now));
            }
        }
        // The heartbeat says which session the peer runs (a newer one means it ended the
        // old); how far it went comes in order with the frames, as marks.
        if let Some(p) = hb.peers.iter().find(|p| p.name == self.me) {
            if p.inc == self.inc && p.session > l.in_session {
                self.follow(&mut l, p.session, now);
            }
        }
        if hb.hello {
            self.timing.lock().heartbeat_now = true;
            self.transport.wake();
        }
    }

    /// The connection lost messages (a slow consumer) or was down too long: every session
    /// ends.
    pub fn on_loss(&self, now: Instant) {
        let links: Vec<_> = self.links.read().values().cloned().collect();
        for link in links {
            let mut l = link.lock();
            if l.state == PeerState::Up {
                self.end(&mut l, Some(now));
            }
        }
    }

    /// Timeouts, heartbeats, the pid reservation and name deadlines; call at least every
    /// heartbeat period (more often is fine).
    pub fn tick(&self, now: Instant) {
        let links: Vec<_> = self.links.read().values().cloned().collect();
        for link in &links {
            let mut l = link.lock();
            if l.state == PeerState::Up
                && l.last_heard
                    .is_some_and(|t| now.saturating_duration_since(t) > self.settings.node_timeout)
            {
                self.node.warn(&format!(
                    "cluster: node {} silent for more than {:?}: declared down",
                    l.name, self.settings.node_timeout
                ));
                self.end(&mut l, Some(now));
            }
        }
        let (beat, reserve) = {
            let mut t = self.timing.lock();
            let due = t.heartbeat_now || t.next_heartbeat.is_none_or(|at| now >= at);
            if due {
                t.heartbeat_now = false;
                t.next_heartbeat = Some(now + self.settings.heartbeat);
            }
            let (num, hidden) = self.node.peek_nums();
            let reserve = if num + PID_RESERVE / 2 > t.reserved.0
                || hidden + PID_RESERVE / 2 > t.reserved.1
            {
                t.reserved = (num + PID_RESERVE, hidden + PID_RESERVE);
                Some(t.reserved)
            } else {
                None
            };
            (due, reserve)
        };
        if let Some(r) = reserve {
            self.write_record(r);
        }
        if beat {
            self.flush();
            self.marks();
            self.heartbeat(false, false);
        }
        self.names_tick(now);
    }

    /// Tells each peer, in order with the frames, how many frames its session carried.
    fn marks(&self) {
        let links: Vec<_> = self.links.read().values().cloned().collect();
        for link in links {
            let l = link.lock();
            if l.state != PeerState::Up || l.inc == 0 || l.out_seq == 0 {
                continue;
            }
            let frame = Frame {
                src: self.me.into(),
                src_inc: self.inc,
                dst_inc: l.inc,
                body: Body::Mark {
                    session: l.out_session,
                    seq: l.out_seq,
                },
            };
            self.transport
                .publish(Subject::Node(l.name), wire::encode(&frame));
        }
    }

    /// Publishes a heartbeat (`hello` when starting, `bye` when stopping).
    pub fn heartbeat(&self, hello: bool, bye: bool) {
        let links: Vec<_> = self.links.read().values().cloned().collect();
        let peers = links
            .iter()
            .filter_map(|l| {
                let l = l.lock();
                (l.inc != 0).then(|| HbPeer {
                    name: l.name.into(),
                    inc: l.inc,
                    session: l.out_session,
                    seq: l.out_seq,
                })
            })
            .collect();
        let hb = Heartbeat {
            src: self.me.into(),
            inc: self.inc,
            hello,
            bye,
            peers,
        };
        self.transport
            .publish(Subject::Heartbeat, wire::encode(&hb));
    }

    /// Says goodbye: peers declare this node down at once instead of after `node_timeout`.
    pub fn leave(&self) {
        self.flush();
        self.heartbeat(false, true);
    }

    /// The time until the next [`Cluster::tick`] is useful.
    pub fn tick_period(&self) -> Duration {
        (self.settings.heartbeat / 2).max(Duration::from_millis(10))
    }

    /// A change of the names bucket (from the watch, in bucket order): the replica follows,
    /// names taken from this node are revoked or claimed again, names of dead owners are
    /// released, and STRONG acknowledgements that were waiting go out.
    pub fn on_names(&self, key: &str, value: Option<&[u8]>, revision: u64) {
        Names::on_names(self, key, value, revision);
    }

    /// Every cluster name with its holder, for the status command.
    pub fn names_list(&self) -> Vec<(String, String, &'static str)> {
        Names::names_list(self)
    }
}

/// The error of monitors, links and spawns when a node is lost.
pub(crate) fn node_disconnected() -> ErrorValue {
    ErrorValue::new(ErrorKind::Unavailable, "node disconnected").retryable(Some(true))
}

fn target_of(env: &Envelope) -> Option<Pid> {
    Some(match env {
        Envelope::Message { to, .. }
        | Envelope::Event { to, .. }
        | Envelope::LinkExit { to, .. }
        | Envelope::Relation { to, .. }
        | Envelope::Kill { to, .. }
        | Envelope::Wake { to, .. } => *to,
        _ => return None,
    })
}

impl Remote for Cluster {
    fn deliver(&self, env: Envelope) -> Result<(), Envelope> {
        let Some(to) = target_of(&env) else {
            return Err(env);
        };
        let Some(link) = self.link(to.node) else {
            return Err(env);
        };
        let wake = {
            let mut l = link.lock();
            match l.state {
                PeerState::Up => {
                    let was_empty = l.out_buf.is_empty();
                    match codec::envelope_out(&self.node, &env) {
                        Some((_, item)) => codec::push(&mut l.out_buf, &item),
                        None => return Err(env),
                    }
                    was_empty
                }
                PeerState::Down => {
                    drop(l);
                    // A monitor or link towards a node known to be down fires at once
                    // (Erlang's immediate `noconnection`).
                    return match env {
                        Envelope::Relation {
                            to: target,
                            other,
                            op: RelationOp::Monitor,
                            ..
                        } => {
                            let event = Event {
                                kind: EventKind::Exit,
                                from: target,
                                result: Some(ExitReason::error(node_disconnected())),
                                reason: None,
                                at: unix_now(),
                            };
                            self.node.post(other, |slot| Envelope::Event {
                                to: other,
                                slot,
                                event,
                            });
                            Ok(())
                        }
                        Envelope::Relation {
                            to: target,
                            other,
                            op: RelationOp::Link,
                            ..
                        } => {
                            let reason = ExitReason::error(node_disconnected());
                            self.node.post(other, |slot| Envelope::LinkExit {
                                to: other,
                                slot,
                                from: target,
                                reason,
                            });
                            Ok(())
                        }
                        Envelope::Relation { .. } => Ok(()),
                        other => Err(other),
                    };
                }
                PeerState::Unknown => return Err(env),
            }
        };
        if wake {
            self.transport.wake();
        }
        Ok(())
    }

    fn place(&self, host: HostId) -> Option<u32> {
        let nodes = self.placement.get(&host.0)?.as_ref()?;
        if nodes.is_empty() {
            return None;
        }
        let start = self.rr.fetch_add(1, Ordering::Relaxed);
        for i in 0..nodes.len() {
            let n = nodes[(start + i) % nodes.len()];
            if self
                .link(n)
                .is_some_and(|l| l.lock().state == PeerState::Up)
            {
                return Some(n);
            }
        }
        Some(nodes[start % nodes.len()])
    }

    fn spawn(&self, node: u32, req: SpawnRequest) -> Result<(), ErrorValue> {
        let unreachable =
            || ErrorValue::new(ErrorKind::Unavailable, "node not connected").retryable(Some(true));
        let Some(link) = self.link(node) else {
            return Err(unreachable());
        };
        let wake = {
            let mut l = link.lock();
            if l.state != PeerState::Up {
                return Err(unreachable());
            }
            let was_empty = l.out_buf.is_empty();
            codec::push(&mut l.out_buf, &codec::spawn_out(&self.node, &req));
            l.spawns.extend(req.reply);
            l.spawns.extend(req.flags.exit_to);
            was_empty
        };
        if wake {
            self.transport.wake();
        }
        Ok(())
    }
}

impl NameHost for Cluster {
    fn names(&self) -> &NameState {
        &self.names
    }

    fn node(&self) -> &Arc<Node> {
        &self.node
    }

    fn me(&self) -> &'static str {
        self.me
    }

    fn inc(&self) -> u64 {
        self.inc
    }

    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    fn up_peers(&self) -> Vec<u32> {
        Cluster::up_peers(self)
    }

    fn send_item(&self, idx: u32, item: &Item<'_>) -> bool {
        Cluster::send_item(self, idx, item)
    }

    fn self_arc(&self) -> Option<Arc<Cluster>> {
        self.weak.upgrade()
    }
}

impl ClusterNames for Cluster {
    fn lookup(&self, name: &str) -> Option<Pid> {
        Names::lookup(self, name)
    }

    fn register(
        &self,
        name: &str,
        pid: Pid,
        scope: Scope,
        reply: ReplyTo,
    ) -> Result<(), ErrorValue> {
        Names::register(self, name, pid, scope, reply)
    }

    fn unregister(
        &self,
        name: &str,
        scope: Scope,
        caller: Pid,
        reply: ReplyTo,
    ) -> Result<(), ErrorValue> {
        Names::unregister(self, name, scope, caller, reply)
    }

    fn local_changed(&self, name: &str, pid: Option<Pid>) {
        Names::local_changed(self, name, pid);
    }
}
