//! The NATS transport: async-nats on a tokio runtime of its own thread (the bridge).
//!
//! Workers never run async code: they append items to a peer's session buffer and wake the
//! bridge, which frames and publishes them; the bridge decodes what arrives and posts it into
//! the target workers' queues. One connection carries everything, so NATS's per-connection
//! order is the sessions' order.
//!
//! Subjects and buckets (all under the cluster id, so clusters can share a server):
//! `st.<id>.n.<node>` (a node's session frames), `st.<id>.hb.<node>` (heartbeats, heard by
//! all), KV buckets `st_<id>_names` (cluster names) and `st_<id>_nodes` (node records).
//!
//! The buckets' streams are created directly (not with `create_key_value`): async-nats 0.52
//! reads the account info first, and the reply of nats-server 2.9 (Debian 12) lacks fields it
//! requires. Creating the `KV_<bucket>` stream and opening it with `get_key_value` works
//! with old and new servers alike.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, kv, stream};
use bytes::Bytes;
use futures_util::StreamExt;
use parking_lot::Mutex;
use starling_core::Node;
use tokio::sync::{Notify, mpsc};

use crate::cluster::{Cluster, JoinError, NodeRecord};
use crate::settings::Settings;
use crate::transport::{Bucket, KvDone, KvOp, KvReply, Subject, Transport};
use crate::wire;

/// The bridge of a running node: stop it to say goodbye to the peers.
#[derive(Debug)]
pub struct Bridge {
    cluster: Arc<Cluster>,
    stop: Arc<Notify>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Bridge {
    /// The node's cluster side.
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// Says goodbye (peers declare this node down at once) and stops the bridge thread.
    pub fn stop(mut self) {
        self.stop.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct NatsTransport {
    prefix: String,
    me: String,
    outbox: Mutex<Vec<(Subject, Vec<u8>)>>,
    flush: AtomicBool,
    notify: Notify,
    kv: mpsc::UnboundedSender<(KvOp, KvDone)>,
}

impl Transport for NatsTransport {
    fn publish(&self, to: Subject, payload: Vec<u8>) {
        self.outbox.lock().push((to, payload));
        self.notify.notify_one();
    }

    fn wake(&self) {
        self.flush.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    fn kv(&self, op: KvOp, done: KvDone) {
        if let Err(e) = self.kv.send((op, done)) {
            let (_, done) = e.0;
            done(KvReply::Failed("cluster stopped".into()));
        }
    }
}

impl NatsTransport {
    fn subject(&self, s: &Subject) -> String {
        match s {
            Subject::Node(n) => format!("{}.n.{n}", self.prefix),
            Subject::Heartbeat => format!("{}.hb.{}", self.prefix, self.me),
        }
    }
}

fn bucket_name(id: &str, b: Bucket) -> String {
    match b {
        Bucket::Names => format!("st_{id}_names"),
        Bucket::Nodes => format!("st_{id}_nodes"),
    }
}

/// Creates (or opens) a bucket's stream directly, then the bucket; returns it with the
/// stream's last sequence.
async fn open_bucket(
    js: &jetstream::Context,
    name: &str,
    replicas: usize,
) -> Result<(kv::Store, u64), String> {
    let config = stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        num_replicas: replicas.max(1),
        storage: stream::StorageType::File,
        ..Default::default()
    };
    let last = match js.create_stream(config).await {
        Ok(s) => s.cached_info().state.last_sequence,
        Err(e) => {
            // Made by another node with other settings: use it as it is.
            let mut s = js
                .get_stream(format!("KV_{name}"))
                .await
                .map_err(|g| format!("bucket {name}: {e}; {g}"))?;
            s.info().await.map(|i| i.state.last_sequence).unwrap_or(0)
        }
    };
    let store = js
        .get_key_value(name)
        .await
        .map_err(|e| format!("bucket {name}: {e}"))?;
    Ok((store, last))
}

async fn run_kv(op: KvOp, names: &kv::Store, nodes: &kv::Store, timeout: Duration) -> KvReply {
    let store = |b: Bucket| match b {
        Bucket::Names => names,
        Bucket::Nodes => nodes,
    };
    let work = async {
        match op {
            KvOp::Create { bucket, key, value } => {
                match store(bucket).create(&key, Bytes::from(value)).await {
                    Ok(rev) => KvReply::Written(rev),
                    Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => KvReply::Exists,
                    Err(e) => KvReply::Failed(e.to_string()),
                }
            }
            KvOp::Put { bucket, key, value } => {
                match store(bucket).put(&key, Bytes::from(value)).await {
                    Ok(rev) => KvReply::Written(rev),
                    Err(e) => KvReply::Failed(e.to_string()),
                }
            }
            KvOp::Get { bucket, key } => match store(bucket).entry(&key).await {
                Ok(Some(e)) if e.operation == kv::Operation::Put => {
                    KvReply::Entry(Some((e.value.to_vec(), e.revision)))
                }
                Ok(_) => KvReply::Entry(None),
                Err(e) => KvReply::Failed(e.to_string()),
            },
            KvOp::Delete {
                bucket,
                key,
                revision,
            } => match store(bucket).delete_expect_revision(&key, revision).await {
                Ok(()) => KvReply::Deleted(true),
                Err(e) => {
                    let text = e.to_string();
                    if text.contains("wrong last sequence") || text.contains("10071") {
                        KvReply::Deleted(false)
                    } else {
                        KvReply::Failed(text)
                    }
                }
            },
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => KvReply::Failed(format!("no answer within {timeout:?}")),
    }
}

/// Connects `node` to the cluster its settings name and starts the bridge thread. Returns
/// once the node is joined: buckets open, names replica loaded, subscriptions live, and the
/// peers that answered its hello known. Call before any process starts.
pub fn start(node: Arc<Node>, settings: Settings) -> Result<Bridge, JoinError> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<Arc<Cluster>, JoinError>>();
    let stop = Arc::new(Notify::new());
    let stop2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name(format!("cluster-{}", settings.name))
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(JoinError::Connect(e.to_string())));
                    return;
                }
            };
            rt.block_on(bridge(node, settings, ready_tx, stop2));
        })
        .map_err(|e| JoinError::Connect(e.to_string()))?;
    match ready_rx.recv() {
        Ok(Ok(cluster)) => Ok(Bridge {
            cluster,
            stop,
            thread: Some(thread),
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(JoinError::Connect("the cluster thread ended".into()))
        }
    }
}

async fn connect(
    settings: &Settings,
    events: mpsc::UnboundedSender<async_nats::Event>,
) -> Result<async_nats::Client, JoinError> {
    let urls = settings.urls.join(",");
    async_nats::ConnectOptions::new()
        .name(format!("starling-{}", settings.name))
        .connection_timeout(settings.connect_timeout)
        .subscription_capacity(1 << 18)
        .client_capacity(1 << 16)
        .max_reconnects(None)
        .event_callback(move |ev| {
            let events = events.clone();
            async move {
                let _ = events.send(ev);
            }
        })
        .connect(urls.as_str())
        .await
        .map_err(|e| JoinError::Connect(format!("cannot connect to NATS at {urls}: {e}")))
}

async fn bridge(
    node: Arc<Node>,
    settings: Settings,
    ready: std::sync::mpsc::Sender<Result<Arc<Cluster>, JoinError>>,
    stop: Arc<Notify>,
) {
    let fail = |e: JoinError| {
        let _ = ready.send(Err(e));
    };
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let client = match connect(&settings, events_tx).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let id = settings.cluster_id.clone();
    let js = jetstream::new(client.clone());
    let (names, names_last) =
        match open_bucket(&js, &bucket_name(&id, Bucket::Names), settings.replicas).await {
            Ok(b) => b,
            Err(e) => return fail(JoinError::Connect(e)),
        };
    let (nodes, _) =
        match open_bucket(&js, &bucket_name(&id, Bucket::Nodes), settings.replicas).await {
            Ok(b) => b,
            Err(e) => return fail(JoinError::Connect(e)),
        };
    let previous = match nodes.get(&settings.name).await {
        Ok(v) => v.and_then(|b| wire::decode::<NodeRecord>(&b).ok()),
        Err(e) => return fail(JoinError::Connect(format!("reading the node record: {e}"))),
    };
    let prefix = format!("st.{id}");
    let (kv_tx, mut kv_rx) = mpsc::unbounded_channel::<(KvOp, KvDone)>();
    let transport = Arc::new(NatsTransport {
        prefix: prefix.clone(),
        me: settings.name.clone(),
        outbox: Mutex::new(Vec::new()),
        flush: AtomicBool::new(false),
        notify: Notify::new(),
        kv: kv_tx,
    });
    let registry_timeout = settings.registry_timeout;
    let name = settings.name.clone();
    let cluster = match Cluster::new(node, settings, previous, transport.clone()) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let mut data = match client.subscribe(format!("{prefix}.n.{name}")).await {
        Ok(s) => s,
        Err(e) => return fail(JoinError::Connect(e.to_string())),
    };
    let mut beats = match client.subscribe(format!("{prefix}.hb.*")).await {
        Ok(s) => s,
        Err(e) => return fail(JoinError::Connect(e.to_string())),
    };
    if let Err(e) = client.flush().await {
        return fail(JoinError::Connect(e.to_string()));
    }
    let mut watch = match names.watch_with_history(">").await {
        Ok(w) => w,
        Err(e) => return fail(JoinError::Connect(format!("watching names: {e}"))),
    };
    // Load the names replica before anything runs.
    if names_last > 0 {
        let until = tokio::time::Instant::now() + Duration::from_secs(2);
        while let Ok(Some(Ok(e))) = tokio::time::timeout_at(until, watch.next()).await {
            on_entry(&cluster, &e);
            if e.revision >= names_last {
                break;
            }
        }
    }
    // Key-value operations run one at a time, in order, beside the loop.
    {
        let (names, nodes) = (names.clone(), nodes.clone());
        tokio::spawn(async move {
            while let Some((op, done)) = kv_rx.recv().await {
                done(run_kv(op, &names, &nodes, registry_timeout).await);
            }
        });
    }
    cluster.heartbeat(true, false);
    let mut ready = Some(ready);
    let ready_at = Instant::now() + cluster.settings().heartbeat.min(Duration::from_millis(150));
    let period = cluster.tick_period();
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_tick = Instant::now() + period;
    // Frames taken from the outbox, published a slice per turn (see `publish_some`).
    let mut pending = std::collections::VecDeque::new();
    loop {
        // Not biased: under a flood of frames, heartbeats and ticks still get their turn (a
        // node busy receiving must not look dead to its peers).
        tokio::select! {
            _ = stop.notified() => {
                cluster.leave();
                // The goodbye is best effort: with the server gone, a flush would wait for a
                // reconnection that never comes and the node would never exit (peers then see
                // the silence instead, after `node_timeout`).
                let goodbye = async {
                    publish_all(&client, &transport, &mut pending).await;
                    let _ = client.flush().await;
                };
                let _ = tokio::time::timeout(LEAVE_TIMEOUT, goodbye).await;
                break;
            }
            Some(m) = data.next() => cluster.on_frame(&m.payload, Instant::now()),
            Some(m) = beats.next() => cluster.on_heartbeat(&m.payload, Instant::now()),
            Some(Ok(e)) = watch.next() => on_entry(&cluster, &e),
            Some(ev) = events.recv() => match ev {
                async_nats::Event::SlowConsumer(_) => {
                    cluster.node().warn("cluster: messages dropped by a slow subscription: sessions ended");
                    cluster.on_loss(Instant::now());
                }
                async_nats::Event::Disconnected => {
                    cluster.node().warn("cluster: disconnected from NATS, reconnecting");
                }
                _ => {}
            },
            _ = transport.notify.notified() => {}
            // More to publish: go round at once, after whatever else is ready.
            _ = std::future::ready(()), if !pending.is_empty() => {}
            _ = tick.tick() => {
                drain_beats(&cluster, &mut beats);
                cluster.tick(Instant::now());
            }
        }
        let now = Instant::now();
        if now >= next_tick {
            next_tick = now + period;
            drain_beats(&cluster, &mut beats);
            cluster.tick(now);
        }
        if transport.flush.swap(false, Ordering::AcqRel) {
            cluster.flush();
        }
        publish_some(&client, &transport, &mut pending).await;
        if ready.is_some() && Instant::now() >= ready_at {
            if let Some(r) = ready.take() {
                let _ = r.send(Ok(cluster.clone()));
            }
        }
    }
}

fn on_entry(cluster: &Cluster, e: &kv::Entry) {
    let value = (e.operation == kv::Operation::Put).then_some(&e.value[..]);
    cluster.on_names(&e.key, value, e.revision);
}

/// How long a stopping node tries to send its last frames and goodbye.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(1);

/// Frames published per turn of the bridge loop: a sender that keeps the outbox full must not
/// keep the loop from reading its peers' heartbeats (a node flooding another declared it down
/// after `node_timeout` because the heartbeats sat unread behind its own publishing).
const PUBLISH_SLICE: usize = 1024;

/// Moves the outbox into `pending` and publishes at most [`PUBLISH_SLICE`] frames of it, in
/// order.
async fn publish_some(
    client: &async_nats::Client,
    t: &NatsTransport,
    pending: &mut std::collections::VecDeque<(Subject, Vec<u8>)>,
) {
    pending.extend(std::mem::take(&mut *t.outbox.lock()));
    for _ in 0..PUBLISH_SLICE {
        let Some((to, payload)) = pending.pop_front() else {
            return;
        };
        let _ = client.publish(t.subject(&to), Bytes::from(payload)).await;
    }
}

/// Reads the heartbeats already received before judging silence: a loop that was busy must
/// not take its own lateness for a peer's silence.
fn drain_beats(cluster: &Cluster, beats: &mut async_nats::Subscriber) {
    use futures_util::FutureExt;
    while let Some(Some(m)) = beats.next().now_or_never() {
        cluster.on_heartbeat(&m.payload, Instant::now());
    }
}

async fn publish_all(
    client: &async_nats::Client,
    t: &NatsTransport,
    pending: &mut std::collections::VecDeque<(Subject, Vec<u8>)>,
) {
    loop {
        publish_some(client, t, pending).await;
        if pending.is_empty() && t.outbox.lock().is_empty() {
            return;
        }
    }
}

/// What `starling cluster status` shows.
#[derive(Debug, Clone)]
pub struct Status {
    /// Nodes heard from (name, incarnation, the peers each one reported).
    pub nodes: Vec<(String, u64, Vec<String>)>,
    /// Cluster names: name, holder pid, scope.
    pub names: Vec<(String, String, String)>,
}

/// Looks at a running cluster from outside: listens to heartbeats for `listen` and reads the
/// names bucket.
pub fn status(settings: &Settings, listen: Duration) -> Result<Status, JoinError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| JoinError::Connect(e.to_string()))?;
    rt.block_on(async {
        let (tx, _rx) = mpsc::unbounded_channel();
        let client = connect(settings, tx).await?;
        let prefix = format!("st.{}", settings.cluster_id);
        let mut beats = client
            .subscribe(format!("{prefix}.hb.*"))
            .await
            .map_err(|e| JoinError::Connect(e.to_string()))?;
        let mut nodes: Vec<(String, u64, Vec<String>)> = Vec::new();
        let until = tokio::time::Instant::now() + listen;
        while let Ok(Some(m)) = tokio::time::timeout_at(until, beats.next()).await {
            if let Ok(hb) = wire::decode::<wire::Heartbeat<'_>>(&m.payload) {
                if hb.bye {
                    nodes.retain(|n| n.0 != hb.src);
                    continue;
                }
                let peers = hb.peers.iter().map(|p| p.name.to_string()).collect();
                match nodes.iter_mut().find(|n| n.0 == hb.src) {
                    Some(n) => *n = (hb.src.to_string(), hb.inc, peers),
                    None => nodes.push((hb.src.to_string(), hb.inc, peers)),
                }
            }
        }
        nodes.sort();
        let js = jetstream::new(client.clone());
        let mut names = Vec::new();
        if let Ok(store) = js
            .get_key_value(bucket_name(&settings.cluster_id, Bucket::Names))
            .await
        {
            if let Ok(mut keys) = store.keys().await {
                while let Some(Ok(k)) = keys.next().await {
                    if let Ok(Some(v)) = store.get(&k).await {
                        if let Some((pid, scope)) = crate::names::describe(&v) {
                            let name = crate::names::name_of(&k).unwrap_or(k);
                            names.push((name, pid, scope.to_string()));
                        }
                    }
                }
            }
        }
        names.sort();
        Ok(Status { nodes, names })
    })
}
