//! What a cluster needs from the network, and what the network tells it.
//!
//! A [`Transport`] moves bytes: it publishes on a node's subject or the heartbeat subject (at
//! most once, in publish order: the order core NATS keeps for one connection), asks its
//! driver to call [`crate::Cluster::flush`] when items are waiting, and runs key-value
//! operations on the two buckets (cluster names, node records). Its driver calls back into
//! the cluster with what arrives ([`crate::Cluster::on_frame`],
//! [`crate::Cluster::on_heartbeat`], [`crate::Cluster::on_names`]) and with the time
//! ([`crate::Cluster::tick`]).
//!
//! Two implementations: NATS ([`crate::nats`], async-nats on a tokio runtime of its own
//! thread) and an in-process bus for deterministic tests ([`crate::mem`]).

/// Where a publication goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The session frames of one node (`st.<cluster>.n.<node>`).
    Node(&'static str),
    /// Heartbeats, heard by every node (`st.<cluster>.hb.<sender>`).
    Heartbeat,
}

/// A key-value bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// Cluster names (`st_<cluster>_names`).
    Names,
    /// One record per node name: incarnation and pid reservation (`st_<cluster>_nodes`).
    Nodes,
}

/// A key-value operation.
#[derive(Debug, Clone)]
pub enum KvOp {
    /// Put if absent.
    Create {
        /// Bucket.
        bucket: Bucket,
        /// Key (escaped, see [`crate::names::key_of`]).
        key: String,
        /// Value.
        value: Vec<u8>,
    },
    /// Put.
    Put {
        /// Bucket.
        bucket: Bucket,
        /// Key.
        key: String,
        /// Value.
        value: Vec<u8>,
    },
    /// Read one key.
    Get {
        /// Bucket.
        bucket: Bucket,
        /// Key.
        key: String,
    },
    /// Delete, only if the key is at `revision` (when given).
    Delete {
        /// Bucket.
        bucket: Bucket,
        /// Key.
        key: String,
        /// Expected revision.
        revision: Option<u64>,
    },
}

/// The outcome of a [`KvOp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvReply {
    /// Written, at this revision.
    Written(u64),
    /// `Create` of a key that exists.
    Exists,
    /// `Get`: the value and revision, if any.
    Entry(Option<(Vec<u8>, u64)>),
    /// `Delete`: done (false: the key was elsewhere than the expected revision, or absent).
    Deleted(bool),
    /// The store could not be reached or refused (timeout, no quorum, connection lost).
    Failed(String),
}

/// Called with a [`KvOp`]'s outcome, on the driver's thread.
pub type KvDone = Box<dyn FnOnce(KvReply) + Send>;

/// The network under a cluster.
pub trait Transport: Send + Sync {
    /// Publishes `payload` on `to`: at most once, in call order.
    fn publish(&self, to: Subject, payload: Vec<u8>);
    /// Items are waiting: the driver should call [`crate::Cluster::flush`] soon.
    fn wake(&self);
    /// Runs a key-value operation; `done` gets its outcome later, never inside this call.
    fn kv(&self, op: KvOp, done: KvDone);
}
