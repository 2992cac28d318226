//! The cluster scopes of the name registry, on a key-value bucket (JetStream KV on NATS).
//!
//! Every node keeps a replica of the bucket from its watch, so lookups are local reads.
//!
//! | scope | register | released |
//! | --- | --- | --- |
//! | EVENTUAL | bound here at once, published in the background; if another process won the key, the loser gets CANCEL `name revoked: <name>` | owner exit, unregister, owner node down |
//! | CONSISTENT | put-if-absent on the bucket (first writer wins, linearizable); a blocking point; ALREADY_EXISTS for the loser | the same |
//! | STRONG | CONSISTENT, then every live node acknowledges that its replica has the name; otherwise it is withdrawn with UNAVAILABLE naming the nodes that did not answer | the same |
//! | LOCAL, exported (`export_local`) | the LOCAL registration as always, published like EVENTUAL (no revocation: a name held elsewhere just stays local) | with the LOCAL name |
//!
//! Names whose owner node is declared down are skipped by lookups at once and deleted from
//! the bucket by every survivor (conditional deletes, so the first wins and the rest are
//! no-ops). A node that finds one of its names deleted or taken behind its back (it was cut
//! off meanwhile) claims it again, or revokes it from its holder with CANCEL.
//!
//! The logic is the `Names` trait, implemented for any `NameHost` (what it needs of the
//! cluster it belongs to; [`Cluster`](crate::Cluster) implements it), so this module does not
//! depend on the cluster module.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use starling_core::{
    Envelope, ErrorKind, ErrorValue, Event, EventKind, HostId, Node, Payload, PeerState, Pid,
    RelationOp, ReplyTo, Scope, Value, message::unix_now,
};

use crate::codec::{pid_in, pid_out};
use crate::settings::Settings;
use crate::transport::{Bucket, KvOp, KvReply, Transport};
use crate::wire::{self, Item, WPid};

/// A name's value in the bucket.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct NameValue<'a> {
    #[serde(borrow)]
    pid: WPid<'a>,
    /// Owner node's incarnation.
    inc: u64,
    /// 0 exported LOCAL, 1 EVENTUAL, 2 CONSISTENT, 3 STRONG.
    scope: u8,
}

/// One name in the replica.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) pid: Pid,
    pub(crate) owner: String,
    #[allow(dead_code)] // kept for status and sweeps of one incarnation
    pub(crate) inc: u64,
    pub(crate) scope: u8,
    pub(crate) revision: u64,
}

/// A name this node published.
#[derive(Debug, Clone, Copy)]
struct Owned {
    pid: Pid,
    scope: Scope,
    /// 0 while its write is in flight (or failed, to be retried).
    revision: u64,
}

#[derive(Debug)]
struct StrongWait {
    reply: ReplyTo,
    name: String,
    revision: u64,
    waiting: FxHashSet<u32>,
    deadline: Instant,
}

/// The names side of a [`Cluster`](crate::Cluster): the state [`Names`] works on.
#[derive(Debug, Default)]
pub(crate) struct NameState {
    replica: RwLock<FxHashMap<String, Entry>>,
    revision: AtomicU64,
    owned: Mutex<FxHashMap<String, Owned>>,
    watcher: OnceLock<Pid>,
    watched: Mutex<FxHashSet<Pid>>,
    syncs: Mutex<FxHashMap<u64, StrongWait>>,
    acks_due: Mutex<Vec<(u32, u64, u64)>>,
    next_id: AtomicU64,
    now: Mutex<Option<Instant>>,
    last_retry: Mutex<Option<Instant>>,
}

/// The bucket key of a name: letters, digits, `-` and `_` as they are, any other byte as
/// `=` and two hex digits (NATS keys allow few characters, and `.` separates tokens).
pub fn key_of(name: &str) -> String {
    let mut k = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            k.push(b as char);
        } else {
            k.push_str(&format!("={b:02x}"));
        }
    }
    k
}

/// The name of a bucket key ([`key_of`] reversed); `None` for a key it never makes.
pub fn name_of(key: &str) -> Option<String> {
    let b = key.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            let hex = key.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A bucket value as the status command prints it: the holder's pid and the scope.
pub fn describe(value: &[u8]) -> Option<(String, &'static str)> {
    let v = wire::decode::<NameValue<'_>>(value).ok()?;
    let pid = format!("{{{}@{}|0x{:05x}}}", v.pid.node, v.pid.host, v.pid.num);
    Some((pid, scope_name(v.scope)))
}

fn scope_name(s: u8) -> &'static str {
    match s {
        0 => "local (exported)",
        1 => "eventual",
        2 => "consistent",
        _ => "strong",
    }
}

fn scope_number(s: Scope) -> u8 {
    s.number() as u8
}

/// What the names side uses of the cluster it belongs to; [`Cluster`](crate::Cluster)
/// implements it, and so gets [`Names`].
pub(crate) trait NameHost: Send + Sync + Sized + 'static {
    /// The state of the names side.
    fn names(&self) -> &NameState;
    /// The node the cluster side serves.
    fn node(&self) -> &Arc<Node>;
    /// This node's name.
    fn me(&self) -> &'static str;
    /// This run's incarnation.
    fn inc(&self) -> u64;
    /// The cluster settings (`registry_timeout`, `export_local`).
    fn settings(&self) -> &Settings;
    /// The transport, for the names bucket.
    fn transport(&self) -> &Arc<dyn Transport>;
    /// The peers that are up now.
    fn up_peers(&self) -> Vec<u32>;
    /// Appends an item to a peer's session if it is up; false otherwise.
    fn send_item(&self, idx: u32, item: &Item<'_>) -> bool;
    /// The `Arc` the cluster lives in, while it lives.
    fn self_arc(&self) -> Option<Arc<Self>>;
}

/// The cluster scopes of the name registry, on any [`NameHost`]. The cluster's
/// [`ClusterNames`](starling_core::ClusterNames) implementation calls the methods of the
/// same names here.
pub(crate) trait Names: NameHost {
    /// Registers the external receiver that watches owners of published names.
    fn install_names(self: &Arc<Self>) {
        let weak: Weak<Self> = Arc::downgrade(self);
        let pid = self.node().register_external(
            HostId(0),
            Arc::new(move |env| {
                if let Envelope::Event { event, .. } = env {
                    if event.kind == EventKind::Exit {
                        if let Some(c) = weak.upgrade() {
                            c.owner_ended(event.from);
                        }
                    }
                }
            }),
        );
        let _ = self.names().watcher.set(pid);
    }

    fn watcher(&self) -> Pid {
        *self.names().watcher.get().expect("installed at start")
    }

    fn watch_owner(&self, pid: Pid) {
        if !self.names().watched.lock().insert(pid) {
            return;
        }
        let w = self.watcher();
        let alive = self.node().post(pid, |slot| Envelope::Relation {
            to: pid,
            slot,
            other: w,
            op: RelationOp::Monitor,
        });
        if !alive {
            self.owner_ended(pid);
        }
    }

    /// A process holding published names ended: they are released.
    fn owner_ended(&self, pid: Pid) {
        self.names().watched.lock().remove(&pid);
        let gone: Vec<(String, Owned)> = {
            let mut owned = self.names().owned.lock();
            let names: Vec<String> = owned
                .iter()
                .filter(|(_, o)| o.pid == pid && o.scope != Scope::Local)
                .map(|(n, _)| n.clone())
                .collect();
            names
                .into_iter()
                .filter_map(|n| owned.remove(&n).map(|o| (n, o)))
                .collect()
        };
        for (name, o) in gone {
            self.forget_replica(&name, pid);
            if o.revision != 0 {
                self.kv_delete(&name, o.revision, |_| {});
            }
        }
    }

    fn forget_replica(&self, name: &str, pid: Pid) {
        let mut r = self.names().replica.write();
        if r.get(name).is_some_and(|e| e.pid == pid) {
            r.remove(name);
        }
    }

    fn reply_bool(&self, to: ReplyTo, r: Result<bool, ErrorValue>) {
        let result = r.map(|b| Payload::one(Value::Bool(b)));
        self.node().post(to.pid, |slot| Envelope::Wake {
            to: to.pid,
            slot,
            token: to.token,
            result,
        });
    }

    fn value_of(&self, pid: Pid, scope: u8) -> Vec<u8> {
        let mut pid = pid_out(self.node(), pid);
        if pid.node.is_empty() {
            // In the bucket a pid names its node: no frame says who wrote it.
            pid.node = self.me().into();
        }
        wire::encode(&NameValue {
            pid,
            inc: self.inc(),
            scope,
        })
    }

    fn kv_delete(&self, name: &str, revision: u64, done: impl FnOnce(KvReply) + Send + 'static) {
        self.transport().kv(
            KvOp::Delete {
                bucket: Bucket::Names,
                key: key_of(name),
                revision: Some(revision),
            },
            Box::new(done),
        );
    }

    /// Publishes an owned name (create), answering `reply` for CONSISTENT and STRONG.
    fn publish_name(
        self: &Arc<Self>,
        name: String,
        pid: Pid,
        scope: Scope,
        reply: Option<ReplyTo>,
    ) {
        let c = self.clone();
        let value = self.value_of(pid, scope_number(scope));
        self.transport().kv(
            KvOp::Create {
                bucket: Bucket::Names,
                key: key_of(&name),
                value,
            },
            Box::new(move |r| c.published(name, pid, scope, reply, r)),
        );
    }

    fn published(
        self: &Arc<Self>,
        name: String,
        pid: Pid,
        scope: Scope,
        reply: Option<ReplyTo>,
        r: KvReply,
    ) {
        match r {
            KvReply::Written(revision) => {
                let still = {
                    let mut owned = self.names().owned.lock();
                    match owned.get_mut(&name) {
                        Some(o) if o.pid == pid => {
                            o.revision = revision;
                            true
                        }
                        None if matches!(scope, Scope::Consistent | Scope::Strong) => {
                            owned.insert(
                                name.clone(),
                                Owned {
                                    pid,
                                    scope,
                                    revision,
                                },
                            );
                            true
                        }
                        _ => false,
                    }
                };
                if !still {
                    // Released while the write was in flight.
                    self.kv_delete(&name, revision, |_| {});
                    if let Some(reply) = reply {
                        self.reply_bool(reply, Ok(true));
                    }
                    return;
                }
                self.names().replica.write().insert(
                    name.clone(),
                    Entry {
                        pid,
                        owner: self.me().to_string(),
                        inc: self.inc(),
                        scope: scope_number(scope),
                        revision,
                    },
                );
                if scope != Scope::Local {
                    self.watch_owner(pid);
                }
                match (scope, reply) {
                    (Scope::Strong, Some(reply)) => self.strong_sync(name, revision, reply),
                    (_, Some(reply)) => self.reply_bool(reply, Ok(true)),
                    _ => {}
                }
            }
            KvReply::Exists => {
                if matches!(scope, Scope::Consistent | Scope::Strong) {
                    let same = self
                        .names()
                        .replica
                        .read()
                        .get(&name)
                        .is_some_and(|e| e.pid == pid);
                    if let Some(reply) = reply {
                        self.reply_bool(
                            reply,
                            if same {
                                Ok(true)
                            } else {
                                Err(ErrorValue::new(
                                    ErrorKind::AlreadyExists,
                                    "name already registered",
                                ))
                            },
                        );
                    }
                    return;
                }
                // EVENTUAL or exported: read who holds it; the watch logic revokes or keeps.
                let c = self.clone();
                let key = key_of(&name);
                self.transport().kv(
                    KvOp::Get {
                        bucket: Bucket::Names,
                        key: key.clone(),
                    },
                    Box::new(move |r| {
                        if let KvReply::Entry(Some((v, rev))) = r {
                            c.on_names(&key, Some(&v), rev);
                        }
                    }),
                );
            }
            KvReply::Entry(_) | KvReply::Deleted(_) => {}
            KvReply::Failed(e) => {
                if matches!(scope, Scope::Consistent | Scope::Strong) {
                    if let Some(reply) = reply {
                        self.reply_bool(
                            reply,
                            Err(ErrorValue::new(
                                ErrorKind::Unavailable,
                                format!("cluster registry unavailable: {e}"),
                            )
                            .retryable(Some(true))),
                        );
                    }
                }
                // EVENTUAL and exported names stay bound here; retried by `names_tick`.
            }
        }
    }

    fn strong_sync(self: &Arc<Self>, name: String, revision: u64, reply: ReplyTo) {
        let peers = self.up_peers();
        let id = self.names().next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let mut waiting = FxHashSet::default();
        for p in peers {
            if self.send_item(p, &Item::NameSync { id, revision }) {
                waiting.insert(p);
            }
        }
        if waiting.is_empty() {
            self.reply_bool(reply, Ok(true));
            return;
        }
        let now = self.names().now.lock().unwrap_or_else(Instant::now);
        self.names().syncs.lock().insert(
            id,
            StrongWait {
                reply,
                name,
                revision,
                waiting,
                deadline: now + self.settings().registry_timeout,
            },
        );
    }

    /// A peer asks to be told when this node's replica has `revision`.
    fn name_sync(&self, src: u32, id: u64, revision: u64) {
        if self.names().revision.load(Ordering::Acquire) >= revision {
            self.send_item(src, &Item::NameAck { id });
        } else {
            self.names().acks_due.lock().push((src, id, revision));
        }
    }

    /// A peer's replica has a STRONG name's revision.
    fn name_ack(&self, src: u32, id: u64) {
        let done = {
            let mut syncs = self.names().syncs.lock();
            match syncs.get_mut(&id) {
                Some(w) => {
                    w.waiting.remove(&src);
                    if w.waiting.is_empty() {
                        syncs.remove(&id)
                    } else {
                        None
                    }
                }
                None => None,
            }
        };
        if let Some(w) = done {
            self.reply_bool(w.reply, Ok(true));
        }
    }

    /// A peer was declared down: its names are released cluster-wide, and STRONG
    /// registrations stop waiting for it.
    fn names_node_down(&self, peer: &str) {
        let stale: Vec<(String, u64)> = self
            .names()
            .replica
            .read()
            .iter()
            .filter(|(_, e)| e.owner == peer)
            .map(|(n, e)| (n.clone(), e.revision))
            .collect();
        for (name, rev) in stale {
            self.kv_delete(&name, rev, |_| {});
        }
        if let Some(idx) = self.node().peers.find(peer) {
            let done: Vec<StrongWait> = {
                let mut syncs = self.names().syncs.lock();
                let ids: Vec<u64> = syncs
                    .iter_mut()
                    .filter_map(|(id, w)| {
                        w.waiting.remove(&idx);
                        w.waiting.is_empty().then_some(*id)
                    })
                    .collect();
                ids.into_iter().filter_map(|id| syncs.remove(&id)).collect()
            };
            for w in done {
                self.reply_bool(w.reply, Ok(true));
            }
        }
    }

    /// Deadlines of STRONG registrations, retries of unpublished names.
    fn names_tick(&self, now: Instant) {
        *self.names().now.lock() = Some(now);
        let expired: Vec<StrongWait> = {
            let mut syncs = self.names().syncs.lock();
            let ids: Vec<u64> = syncs
                .iter()
                .filter(|(_, w)| now >= w.deadline)
                .map(|(id, _)| *id)
                .collect();
            ids.into_iter().filter_map(|id| syncs.remove(&id)).collect()
        };
        for w in expired {
            let missing: Vec<&str> = w
                .waiting
                .iter()
                .filter_map(|i| self.node().peers.name(*i))
                .collect();
            let mut missing: Vec<String> = missing.iter().map(|s| s.to_string()).collect();
            missing.sort();
            let pid = self.names().owned.lock().remove(&w.name).map(|o| o.pid);
            if let Some(pid) = pid {
                self.forget_replica(&w.name, pid);
            }
            self.kv_delete(&w.name, w.revision, |_| {});
            self.reply_bool(
                w.reply,
                Err(ErrorValue::new(
                    ErrorKind::Unavailable,
                    format!("name not acknowledged by: {}", missing.join(", ")),
                )
                .retryable(Some(true))),
            );
        }
        let retry = {
            let mut last = self.names().last_retry.lock();
            let due = last.is_none_or(|t| {
                now.saturating_duration_since(t) >= self.settings().registry_timeout
            });
            if due {
                *last = Some(now);
            }
            due
        };
        if retry {
            let pending: Vec<(String, Owned)> = self
                .names()
                .owned
                .lock()
                .iter()
                .filter(|(_, o)| {
                    o.revision == 0 && matches!(o.scope, Scope::Eventual | Scope::Local)
                })
                .map(|(n, o)| (n.clone(), *o))
                .collect();
            if let Some(me) = self.self_arc() {
                for (name, o) in pending {
                    me.publish_name(name, o.pid, o.scope, None);
                }
            }
        }
    }

    /// A change of the names bucket (from the watch, in bucket order): the replica follows,
    /// names taken from this node are revoked or claimed again, names of dead owners are
    /// released, and STRONG acknowledgements that were waiting go out.
    fn on_names(&self, key: &str, value: Option<&[u8]>, revision: u64) {
        self.names().revision.fetch_max(revision, Ordering::AcqRel);
        let Some(name) = name_of(key) else { return };
        match value.and_then(|v| wire::decode::<NameValue<'_>>(v).ok()) {
            None => {
                self.names().replica.write().remove(&name);
                let ours = self.names().owned.lock().get(&name).copied();
                if let Some(o) = ours {
                    if o.revision != 0 && o.revision < revision {
                        // Deleted behind this node's back (it was cut off): claim it again.
                        self.names()
                            .owned
                            .lock()
                            .entry(name.clone())
                            .and_modify(|e| e.revision = 0);
                        if let Some(me) = self.self_arc() {
                            me.publish_name(name.clone(), o.pid, o.scope, None);
                        }
                    }
                } else if self.settings().export_local {
                    if let Some(pid) = self.node().registry.lookup_local(&name) {
                        self.local_changed(&name, Some(pid));
                    }
                }
            }
            Some(v) => {
                let Some(pid) = self
                    .node()
                    .peers
                    .intern(if v.pid.node.is_empty() {
                        self.me()
                    } else {
                        &v.pid.node
                    })
                    .and_then(|src| {
                        pid_in(
                            self.node(),
                            &WPid {
                                node: "".into(),
                                ..v.pid.clone()
                            },
                            src,
                        )
                    })
                else {
                    return;
                };
                let owner = if v.pid.node.is_empty() {
                    self.me().to_string()
                } else {
                    v.pid.node.to_string()
                };
                let entry = Entry {
                    pid,
                    owner: owner.clone(),
                    inc: v.inc,
                    scope: v.scope,
                    revision,
                };
                // Names of a previous run of this node are stale. (Names of a node declared
                // down are swept when it is declared down, not here: a node cut off from a
                // peer that still reaches the bucket would otherwise fight it for its names.)
                let stale = owner == self.me() && v.inc < self.inc();
                self.names().replica.write().insert(name.clone(), entry);
                if stale {
                    self.kv_delete(&name, revision, |_| {});
                }
                let revoked = {
                    let mut owned = self.names().owned.lock();
                    match owned.get(&name) {
                        Some(o) if o.pid == pid && owner == self.me() => None,
                        Some(_) => owned.remove(&name),
                        None => None,
                    }
                };
                if let Some(o) = revoked {
                    if o.scope != Scope::Local {
                        let w = self.watcher();
                        let event = Event {
                            kind: EventKind::Cancel,
                            from: w,
                            result: None,
                            reason: Some(format!("name revoked: {name}").into_boxed_str()),
                            at: unix_now(),
                        };
                        self.node().post(o.pid, |slot| Envelope::Event {
                            to: o.pid,
                            slot,
                            event,
                        });
                    }
                }
            }
        }
        let due: Vec<(u32, u64)> = {
            let mut acks = self.names().acks_due.lock();
            let rev = self.names().revision.load(Ordering::Acquire);
            let (ready, wait): (Vec<_>, Vec<_>) = acks.drain(..).partition(|a| a.2 <= rev);
            *acks = wait;
            ready.into_iter().map(|(s, id, _)| (s, id)).collect()
        };
        for (src, id) in due {
            self.send_item(src, &Item::NameAck { id });
        }
    }

    /// Every cluster name with its holder, for the status command.
    fn names_list(&self) -> Vec<(String, String, &'static str)> {
        let mut v: Vec<_> = self
            .names()
            .replica
            .read()
            .iter()
            .map(|(n, e)| {
                (
                    n.clone(),
                    self.node().format_pid(e.pid),
                    scope_name(e.scope),
                )
            })
            .collect();
        v.sort();
        v
    }

    /// [`starling_core::ClusterNames::lookup`]: the holder of a cluster name, if it is alive.
    fn lookup(&self, name: &str) -> Option<Pid> {
        let r = self.names().replica.read();
        let e = r.get(name)?;
        let ok = if e.pid.node == 0 {
            self.node().is_alive(e.pid)
        } else {
            self.node()
                .peers
                .info(e.pid.node)
                .is_some_and(|i| i.state != PeerState::Down)
        };
        ok.then_some(e.pid)
    }

    /// [`starling_core::ClusterNames::register`].
    fn register(
        &self,
        name: &str,
        pid: Pid,
        scope: Scope,
        reply: ReplyTo,
    ) -> Result<(), ErrorValue> {
        if scope == Scope::Local {
            return Err(ErrorValue::new(ErrorKind::Invalid, "not a cluster scope"));
        }
        if pid.node != 0 {
            return Err(ErrorValue::new(
                ErrorKind::Invalid,
                "cluster names are registered on the node of their process",
            ));
        }
        if !self.node().is_alive(pid) {
            return Err(ErrorValue::new(ErrorKind::NotFound, "process not found"));
        }
        let taken = || ErrorValue::new(ErrorKind::AlreadyExists, "name already registered");
        if let Some(holder) = self.lookup(name) {
            if holder == pid {
                self.reply_bool(reply, Ok(true));
                return Ok(());
            }
            return Err(taken());
        }
        let me = self.self_arc().ok_or_else(|| {
            ErrorValue::new(ErrorKind::Unavailable, "cluster registry not available")
        })?;
        match scope {
            Scope::Eventual => {
                {
                    let mut owned = self.names().owned.lock();
                    match owned.get(name) {
                        Some(o) if o.pid == pid => {
                            drop(owned);
                            self.reply_bool(reply, Ok(true));
                            return Ok(());
                        }
                        Some(_) => return Err(taken()),
                        None => {}
                    }
                    owned.insert(
                        name.to_string(),
                        Owned {
                            pid,
                            scope,
                            revision: 0,
                        },
                    );
                }
                self.names().replica.write().insert(
                    name.to_string(),
                    Entry {
                        pid,
                        owner: self.me().to_string(),
                        inc: self.inc(),
                        scope: 1,
                        revision: 0,
                    },
                );
                self.watch_owner(pid);
                self.reply_bool(reply, Ok(true));
                me.publish_name(name.to_string(), pid, scope, None);
            }
            _ => me.publish_name(name.to_string(), pid, scope, Some(reply)),
        }
        Ok(())
    }

    /// [`starling_core::ClusterNames::unregister`].
    fn unregister(
        &self,
        name: &str,
        scope: Scope,
        caller: Pid,
        reply: ReplyTo,
    ) -> Result<(), ErrorValue> {
        let removed = {
            let mut owned = self.names().owned.lock();
            match owned.get(name) {
                Some(o)
                    if o.scope != Scope::Local && (scope == Scope::Eventual || o.pid == caller) =>
                {
                    owned.remove(name)
                }
                _ => None,
            }
        };
        let Some(o) = removed else {
            self.reply_bool(reply, Ok(false));
            return Ok(());
        };
        self.forget_replica(name, o.pid);
        if o.revision == 0 {
            self.reply_bool(reply, Ok(true));
            return Ok(());
        }
        let me = self.self_arc();
        self.kv_delete(name, o.revision, move |r| {
            if let Some(c) = me {
                let answer = match r {
                    KvReply::Failed(e) => Err(ErrorValue::new(
                        ErrorKind::Unavailable,
                        format!("cluster registry unavailable: {e}"),
                    )),
                    _ => Ok(true),
                };
                c.reply_bool(reply, answer);
            }
        });
        Ok(())
    }

    /// [`starling_core::ClusterNames::local_changed`]: exported LOCAL names follow the local
    /// registry.
    fn local_changed(&self, name: &str, pid: Option<Pid>) {
        if !self.settings().export_local {
            return;
        }
        match pid {
            Some(pid) if pid.node == 0 => {
                {
                    let mut owned = self.names().owned.lock();
                    if owned.get(name).is_some_and(|o| o.pid == pid) || owned.contains_key(name) {
                        return;
                    }
                    owned.insert(
                        name.to_string(),
                        Owned {
                            pid,
                            scope: Scope::Local,
                            revision: 0,
                        },
                    );
                }
                if let Some(me) = self.self_arc() {
                    me.publish_name(name.to_string(), pid, Scope::Local, None);
                }
            }
            Some(_) => {}
            None => {
                let removed = {
                    let mut owned = self.names().owned.lock();
                    match owned.get(name) {
                        Some(o) if o.scope == Scope::Local => owned.remove(name),
                        _ => None,
                    }
                };
                if let Some(o) = removed {
                    self.forget_replica(name, o.pid);
                    if o.revision != 0 {
                        self.kv_delete(name, o.revision, |_| {});
                    }
                }
            }
        }
    }
}

impl<T: NameHost> Names for T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_escape_and_come_back() {
        for n in ["relay", "a.b", "with space", "ü", "=x", "k-1_2"] {
            let k = key_of(n);
            assert!(
                k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_=".contains(&b)),
                "{k}"
            );
            assert_eq!(name_of(&k).as_deref(), Some(n));
        }
        assert_eq!(key_of("relay"), "relay");
        assert_eq!(name_of("=z"), None);
    }
}
