//! An in-process transport: several nodes of one test binary on one bus, driven by hand.
//!
//! Nothing moves until the test calls [`MemBus::pump`]: publications and key-value
//! operations wait in queues, so a test decides exactly what happens between two steps, and
//! time is whatever the test passes (a virtual clock). Faults, as NATS can produce them:
//! dropping the next frames between two nodes ([`MemBus::drop_next`]), cutting the link
//! between two nodes both ways ([`MemBus::cut`], [`MemBus::heal`]), and isolating a node from
//! everything, the bucket included ([`MemBus::isolate`]): its writes fail and the watch events
//! it misses arrive when it is healed, as a NATS watcher catches up after a reconnect.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::cluster::{Cluster, NodeRecord};
use crate::transport::{Bucket, KvDone, KvOp, KvReply, Subject, Transport};
use crate::wire;

enum Delivery {
    Frame(Vec<u8>),
    Heartbeat(Vec<u8>),
    Names(String, Option<Vec<u8>>, u64),
}

/// A change the watchers of the names bucket see: key, value (none for a delete), revision.
type WatchEvent = (String, Option<Vec<u8>>, u64);

#[derive(Default)]
struct Inner {
    clusters: Vec<(String, Arc<Cluster>)>,
    inbox: FxHashMap<String, VecDeque<Delivery>>,
    held: FxHashMap<String, VecDeque<Delivery>>,
    kv_ops: VecDeque<(String, KvOp, KvDone)>,
    names: BTreeMap<String, (Vec<u8>, u64)>,
    nodes: BTreeMap<String, (Vec<u8>, u64)>,
    revision: u64,
    cuts: FxHashSet<(String, String)>,
    isolated: FxHashSet<String>,
    drops: FxHashMap<(String, String), usize>,
    published: u64,
    dropped: u64,
}

/// The shared bus.
#[derive(Default)]
pub struct MemBus {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for MemBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemBus")
    }
}

/// One node's end of a [`MemBus`].
#[derive(Debug)]
pub struct MemTransport {
    bus: Arc<MemBus>,
    me: String,
}

impl MemBus {
    /// A new bus.
    pub fn new() -> Arc<MemBus> {
        Arc::new(MemBus::default())
    }

    /// A transport for node `name`.
    pub fn transport(self: &Arc<Self>, name: &str) -> Arc<MemTransport> {
        self.inner.lock().inbox.entry(name.to_string()).or_default();
        Arc::new(MemTransport {
            bus: self.clone(),
            me: name.to_string(),
        })
    }

    /// The record node `name` left in the nodes bucket (what a restart reads).
    pub fn record(&self, name: &str) -> Option<NodeRecord> {
        let g = self.inner.lock();
        let (v, _) = g.nodes.get(name)?;
        wire::decode(v).ok()
    }

    /// Attaches a node's cluster side: deliveries for `name` go to it, after the bucket's
    /// current names (as a watch starts).
    pub fn attach(&self, cluster: Arc<Cluster>) {
        let mut g = self.inner.lock();
        let name = cluster.name().to_string();
        g.clusters.retain(|(n, _)| *n != name);
        g.clusters.push((name.clone(), cluster));
        let snapshot: Vec<Delivery> = g
            .names
            .iter()
            .map(|(k, (v, r))| Delivery::Names(k.clone(), Some(v.clone()), *r))
            .collect();
        let q = g.inbox.entry(name).or_default();
        q.clear();
        q.extend(snapshot);
    }

    /// Removes a node (it crashed): nothing more reaches it or comes from it.
    pub fn detach(&self, name: &str) {
        let mut g = self.inner.lock();
        g.clusters.retain(|(n, _)| n != name);
        g.inbox.remove(name);
        g.held.remove(name);
    }

    /// Drops the next `n` frames from `from` to `to`.
    pub fn drop_next(&self, from: &str, to: &str, n: usize) {
        self.inner
            .lock()
            .drops
            .insert((from.to_string(), to.to_string()), n);
    }

    /// Cuts `a` and `b` apart (both ways, heartbeats too).
    pub fn cut(&self, a: &str, b: &str) {
        let mut g = self.inner.lock();
        g.cuts.insert((a.to_string(), b.to_string()));
        g.cuts.insert((b.to_string(), a.to_string()));
    }

    /// Isolates `a` from every node and from the bucket.
    pub fn isolate(&self, a: &str) {
        self.inner.lock().isolated.insert(a.to_string());
    }

    /// Undoes every cut and isolation; held watch events are delivered.
    pub fn heal(&self) {
        let mut g = self.inner.lock();
        g.cuts.clear();
        g.isolated.clear();
        let held: Vec<(String, VecDeque<Delivery>)> = g.held.drain().collect();
        for (n, q) in held {
            if let Some(inbox) = g.inbox.get_mut(&n) {
                inbox.extend(q);
            }
        }
    }

    /// Frames and heartbeats published, and how many of them were dropped by faults.
    pub fn counts(&self) -> (u64, u64) {
        let g = self.inner.lock();
        (g.published, g.dropped)
    }

    /// The names bucket, by key: (holder pid bytes, revision).
    pub fn names_len(&self) -> usize {
        self.inner.lock().names.len()
    }

    fn blocked(g: &Inner, from: &str, to: &str) -> bool {
        g.isolated.contains(from)
            || g.isolated.contains(to)
            || g.cuts.contains(&(from.to_string(), to.to_string()))
    }

    fn publish(&self, from: &str, to: Subject, payload: Vec<u8>) {
        let mut g = self.inner.lock();
        g.published += 1;
        let targets: Vec<String> = match to {
            Subject::Node(n) => vec![n.to_string()],
            Subject::Heartbeat => g.inbox.keys().filter(|n| *n != from).cloned().collect(),
        };
        for t in targets {
            if Self::blocked(&g, from, &t) {
                g.dropped += 1;
                continue;
            }
            let frame = matches!(to, Subject::Node(_));
            if frame {
                let key = (from.to_string(), t.clone());
                if let Some(n) = g.drops.get_mut(&key) {
                    if *n > 0 {
                        *n -= 1;
                        g.dropped += 1;
                        continue;
                    }
                }
            }
            let d = if frame {
                Delivery::Frame(payload.clone())
            } else {
                Delivery::Heartbeat(payload.clone())
            };
            if let Some(q) = g.inbox.get_mut(&t) {
                q.push_back(d);
            }
        }
    }

    fn apply_kv(g: &mut Inner, from: &str, op: KvOp) -> (KvReply, Option<WatchEvent>) {
        if g.isolated.contains(from) {
            return (KvReply::Failed("no connection to the store".into()), None);
        }
        let bucket = match &op {
            KvOp::Create { bucket, .. }
            | KvOp::Put { bucket, .. }
            | KvOp::Get { bucket, .. }
            | KvOp::Delete { bucket, .. } => *bucket,
        };
        g.revision += 1;
        let rev = g.revision;
        let map = match bucket {
            Bucket::Names => &mut g.names,
            Bucket::Nodes => &mut g.nodes,
        };
        let names = bucket == Bucket::Names;
        match op {
            KvOp::Create { key, value, .. } => {
                if map.contains_key(&key) {
                    return (KvReply::Exists, None);
                }
                map.insert(key.clone(), (value.clone(), rev));
                (
                    KvReply::Written(rev),
                    names.then_some((key, Some(value), rev)),
                )
            }
            KvOp::Put { key, value, .. } => {
                map.insert(key.clone(), (value.clone(), rev));
                (
                    KvReply::Written(rev),
                    names.then_some((key, Some(value), rev)),
                )
            }
            KvOp::Get { key, .. } => (KvReply::Entry(map.get(&key).cloned()), None),
            KvOp::Delete { key, revision, .. } => match map.get(&key) {
                Some((_, r)) if revision.is_none_or(|x| x == *r) => {
                    map.remove(&key);
                    (KvReply::Deleted(true), names.then_some((key, None, rev)))
                }
                _ => (KvReply::Deleted(false), None),
            },
        }
    }

    /// Runs everything queued (key-value operations, then deliveries, then each node's
    /// flush) until nothing moves; `now` is the time the nodes see.
    pub fn pump(&self, now: Instant) {
        for _ in 0..10_000 {
            let mut moved = false;
            loop {
                let next = self.inner.lock().kv_ops.pop_front();
                let Some((from, op, done)) = next else { break };
                moved = true;
                let (reply, event) = {
                    let mut g = self.inner.lock();
                    let (reply, event) = Self::apply_kv(&mut g, &from, op);
                    if let Some((k, v, r)) = &event {
                        let names: Vec<String> = g.inbox.keys().cloned().collect();
                        for n in names {
                            let d = Delivery::Names(k.clone(), v.clone(), *r);
                            if g.isolated.contains(&n) {
                                g.held.entry(n).or_default().push_back(d);
                            } else if let Some(q) = g.inbox.get_mut(&n) {
                                q.push_back(d);
                            }
                        }
                    }
                    (reply, event)
                };
                let _ = event;
                done(reply);
            }
            let clusters: Vec<(String, Arc<Cluster>)> = self.inner.lock().clusters.clone();
            for (name, c) in &clusters {
                loop {
                    let d = self
                        .inner
                        .lock()
                        .inbox
                        .get_mut(name)
                        .and_then(VecDeque::pop_front);
                    let Some(d) = d else { break };
                    moved = true;
                    match d {
                        Delivery::Frame(b) => c.on_frame(&b, now),
                        Delivery::Heartbeat(b) => c.on_heartbeat(&b, now),
                        Delivery::Names(k, v, r) => c.on_names(&k, v.as_deref(), r),
                    }
                }
            }
            for (_, c) in &clusters {
                c.flush();
            }
            if !moved && self.inner.lock().kv_ops.is_empty() {
                let idle = {
                    let g = self.inner.lock();
                    clusters
                        .iter()
                        .all(|(n, _)| g.inbox.get(n).is_none_or(VecDeque::is_empty))
                };
                if idle {
                    return;
                }
            }
        }
        let g = self.inner.lock();
        let queued: Vec<(String, usize)> =
            g.inbox.iter().map(|(n, q)| (n.clone(), q.len())).collect();
        panic!(
            "the bus never went idle: {} kv operations, inboxes {queued:?}",
            g.kv_ops.len()
        );
    }

    /// Ticks every attached node at `now`, then pumps.
    pub fn tick(&self, now: Instant) {
        let clusters: Vec<(String, Arc<Cluster>)> = self.inner.lock().clusters.clone();
        for (_, c) in &clusters {
            c.tick(now);
        }
        self.pump(now);
    }
}

impl Transport for MemTransport {
    fn publish(&self, to: Subject, payload: Vec<u8>) {
        self.bus.publish(&self.me, to, payload);
    }

    fn wake(&self) {}

    fn kv(&self, op: KvOp, done: KvDone) {
        self.bus
            .inner
            .lock()
            .kv_ops
            .push_back((self.me.clone(), op, done));
    }
}
