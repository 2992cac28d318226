//! Joining a cluster at boot (the `cluster:` section, issue 12), behind the `cluster` feature.
//!
//! Without the section (or with `enabled: false`) nothing here runs: no connection, no
//! thread. Built without the feature, a configuration that enables clustering is an error.

use std::sync::Arc;

use starling_core::Node;
use starling_entry::cluster::ClusterConfig;

use crate::error::BootError;

/// A joined cluster, kept for the node's life.
#[derive(Debug)]
pub struct Joined {
    #[cfg(feature = "cluster")]
    bridge: Option<starling_cluster::nats::Bridge>,
}

impl Joined {
    /// Says goodbye to the peers (they declare this node down at once) and stops the bridge.
    pub fn leave(self) {
        #[cfg(feature = "cluster")]
        if let Some(b) = self.bridge {
            b.stop();
        }
    }
}

/// Joins the cluster `config` describes; call before any host starts.
#[cfg(feature = "cluster")]
pub fn join(node: &Arc<Node>, config: &ClusterConfig) -> Result<Joined, BootError> {
    let mut s = starling_cluster::Settings::new(&config.name, config.urls.clone());
    s.cluster_id = config.cluster_id.clone();
    s.node_timeout = config.node_timeout;
    s.heartbeat = config.heartbeat;
    s.connect_timeout = config.connect_timeout;
    s.registry_timeout = config.registry_timeout;
    s.replicas = config.replicas;
    s.export_local = config.export_local;
    s.spawn_placement = config.spawn_placement.clone();
    let bridge = starling_cluster::nats::start(node.clone(), s)
        .map_err(|e| BootError::Cluster(e.to_string()))?;
    Ok(Joined {
        bridge: Some(bridge),
    })
}

/// Without the `cluster` feature a clustered configuration cannot run.
#[cfg(not(feature = "cluster"))]
pub fn join(_node: &Arc<Node>, _config: &ClusterConfig) -> Result<Joined, BootError> {
    Err(BootError::Cluster(
        "this starling was built without the cluster feature".into(),
    ))
}

/// `starling cluster status`: listens to the cluster's heartbeats for `listen` and reads its
/// names; returns the report to print.
#[cfg(feature = "cluster")]
pub fn status(config: &ClusterConfig, listen: std::time::Duration) -> Result<String, BootError> {
    use std::fmt::Write;
    let mut s = starling_cluster::Settings::new(&config.name, config.urls.clone());
    s.cluster_id = config.cluster_id.clone();
    s.connect_timeout = config.connect_timeout;
    let st = starling_cluster::nats::status(&s, listen)
        .map_err(|e| BootError::Cluster(e.to_string()))?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "cluster {} on {}",
        config.cluster_id,
        config.urls.join(",")
    );
    let _ = writeln!(out, "nodes ({} up):", st.nodes.len());
    for (name, inc, peers) in &st.nodes {
        let _ = writeln!(
            out,
            "  {name:<16} up  incarnation {inc}  peers [{}]",
            peers.join(", ")
        );
    }
    let _ = writeln!(out, "names ({}):", st.names.len());
    for (name, pid, scope) in &st.names {
        let _ = writeln!(out, "  {name:<24} {pid:<32} {scope}");
    }
    Ok(out)
}

/// Without the `cluster` feature there is no cluster to look at.
#[cfg(not(feature = "cluster"))]
pub fn status(_config: &ClusterConfig, _listen: std::time::Duration) -> Result<String, BootError> {
    Err(BootError::Cluster(
        "this starling was built without the cluster feature".into(),
    ))
}
