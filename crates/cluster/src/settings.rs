//! A node's cluster settings (the host reads them from `.wippy.yaml`'s `cluster:` section).

use std::time::Duration;

/// Default of `cluster.node_timeout`: silence before a peer is declared down.
pub const DEFAULT_NODE_TIMEOUT: Duration = Duration::from_secs(1);
/// Default of `cluster.heartbeat`.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_millis(250);
/// Default of `cluster.registry.timeout`: how long a CONSISTENT or STRONG write may take.
pub const DEFAULT_REGISTRY_TIMEOUT: Duration = Duration::from_secs(2);
/// Default of `cluster.connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of one node of a cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// This node's name (`cluster.name`): pids print as `{name@host|0x…}`.
    pub name: String,
    /// Prefix of subjects and buckets (`cluster.cluster_id`), so clusters can share a server.
    pub cluster_id: String,
    /// NATS server URLs (`cluster.nats.urls`).
    pub urls: Vec<String>,
    /// Silence before a peer is declared down (`cluster.node_timeout`).
    pub node_timeout: Duration,
    /// Heartbeat period (`cluster.heartbeat`).
    pub heartbeat: Duration,
    /// Bound of CONSISTENT and STRONG writes (`cluster.registry.timeout`).
    pub registry_timeout: Duration,
    /// KV replicas (`cluster.registry.replicas`, capped by the servers there are).
    pub replicas: usize,
    /// LOCAL names are exported so other nodes resolve them (`cluster.registry.export_local`).
    pub export_local: bool,
    /// Spawns on these hosts run on these nodes (`cluster.placement.spawn`).
    pub spawn_placement: Vec<(String, Vec<String>)>,
    /// How long boot waits for the first connection (`cluster.connect_timeout`).
    pub connect_timeout: Duration,
}

impl Settings {
    /// Settings with the defaults, for node `name` on `urls`.
    pub fn new(name: &str, urls: Vec<String>) -> Settings {
        Settings {
            name: name.to_string(),
            cluster_id: "starling".to_string(),
            urls,
            node_timeout: DEFAULT_NODE_TIMEOUT,
            heartbeat: DEFAULT_HEARTBEAT,
            registry_timeout: DEFAULT_REGISTRY_TIMEOUT,
            replicas: 1,
            export_local: false,
            spawn_placement: Vec::new(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

/// True for a name usable as a node name or cluster id (a NATS subject token).
pub fn valid_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
