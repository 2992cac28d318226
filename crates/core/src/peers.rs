//! The node table: other nodes of a cluster, as [`Pid::node`](crate::Pid) indexes them.
//!
//! A single node never fills it: its own name is unset, every pid has `node == 0`, and pids
//! print and parse as `{host|0x…}` exactly as without a cluster. Once a cluster sets the own
//! name ([`Peers::set_own_name`]), this node's pids print as `{a@host|0x…}` and any other
//! node name met in a pid string is interned here, so `Pid.node` is a small index that stays
//! the same for the node's whole life (across restarts of that node, which never reuse a pid
//! number: see the cluster crate).
//!
//! Host names are interned the same way for pids of hosts this node does not define
//! ([`FOREIGN_HOST`] ids), and `node@host` spawn targets (`process.spawn(id,
//! "b@app:processes")`) get [`TARGET_HOST`] ids, so a spawn call can name another node through
//! the host argument it already has.
//!
//! Interned names are kept for the node's life (leaked, bounded by [`MAX_NAMES`]): they are
//! few (nodes and hosts of one project), and borrowing them as `&'static str` keeps pid
//! printing free of locks held across writes.

use parking_lot::RwLock;
use rustc_hash::FxHashMap;
use std::sync::OnceLock;

use crate::pid::HostId;

/// Bit of a [`HostId`] naming a host this node does not define (a remote pid's host).
pub const FOREIGN_HOST: u32 = 1 << 31;
/// Bit of a [`HostId`] naming a spawn target on another node (`b@app:processes`).
pub const TARGET_HOST: u32 = 1 << 30;
/// At most this many node names, foreign host names and spawn targets each.
pub const MAX_NAMES: usize = 4096;

/// What this node knows of another one.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PeerState {
    /// Named in a pid or a registry entry, never heard from.
    Unknown,
    /// Heard from: its session is open.
    Up,
    /// Declared down (crash, timeout, lost frame); its relations have fired.
    Down,
}

impl PeerState {
    /// Lowercase name, for status output.
    pub fn as_str(self) -> &'static str {
        match self {
            PeerState::Unknown => "unknown",
            PeerState::Up => "up",
            PeerState::Down => "down",
        }
    }
}

/// One row of the node table.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// Node name (`cluster.name`).
    pub name: &'static str,
    /// Incarnation last heard of (0 = never).
    pub incarnation: u64,
    /// Session state.
    pub state: PeerState,
}

#[derive(Debug, Default)]
struct Table {
    /// Index `i - 1` holds node `i` (0 is this node).
    nodes: Vec<PeerInfo>,
    by_name: FxHashMap<&'static str, u32>,
    hosts: Vec<&'static str>,
    host_ids: FxHashMap<&'static str, u32>,
    targets: Vec<(u32, HostId)>,
    target_ids: FxHashMap<(u32, HostId), u32>,
}

/// The node table of one node.
#[derive(Debug, Default)]
pub struct Peers {
    own: OnceLock<&'static str>,
    table: RwLock<Table>,
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

impl Peers {
    /// This node's name, once it is part of a cluster.
    pub fn own_name(&self) -> Option<&'static str> {
        self.own.get().copied()
    }

    /// Names this node (once): from then on its pids print with `name@`. False if already set.
    pub fn set_own_name(&self, name: &str) -> bool {
        self.own.set(leak(name)).is_ok()
    }

    /// The index of node `name`: 0 for this node, a new index the first time another name is
    /// seen. `None` outside a cluster or when the table is full.
    pub fn intern(&self, name: &str) -> Option<u32> {
        let own = self.own_name()?;
        if name == own {
            return Some(0);
        }
        if let Some(&i) = self.table.read().by_name.get(name) {
            return Some(i);
        }
        let mut t = self.table.write();
        if let Some(&i) = t.by_name.get(name) {
            return Some(i);
        }
        if t.nodes.len() >= MAX_NAMES || name.is_empty() {
            return None;
        }
        let name = leak(name);
        t.nodes.push(PeerInfo {
            name,
            incarnation: 0,
            state: PeerState::Unknown,
        });
        let i = t.nodes.len() as u32;
        t.by_name.insert(name, i);
        Some(i)
    }

    /// Looks a node up by name without interning it.
    pub fn find(&self, name: &str) -> Option<u32> {
        if self.own_name() == Some(name) {
            return Some(0);
        }
        self.table.read().by_name.get(name).copied()
    }

    /// The name of node `node` (this node's own name for 0).
    pub fn name(&self, node: u32) -> Option<&'static str> {
        if node == 0 {
            return self.own_name();
        }
        self.table
            .read()
            .nodes
            .get(node as usize - 1)
            .map(|p| p.name)
    }

    /// What is known of node `node` (not this one).
    pub fn info(&self, node: u32) -> Option<PeerInfo> {
        if node == 0 {
            return None;
        }
        self.table.read().nodes.get(node as usize - 1).copied()
    }

    /// Records what the cluster learnt of node `node`.
    pub fn set_state(&self, node: u32, incarnation: u64, state: PeerState) {
        if node == 0 {
            return;
        }
        if let Some(p) = self.table.write().nodes.get_mut(node as usize - 1) {
            p.incarnation = incarnation;
            p.state = state;
        }
    }

    /// Every other node, with its index.
    pub fn list(&self) -> Vec<(u32, PeerInfo)> {
        self.table
            .read()
            .nodes
            .iter()
            .enumerate()
            .map(|(i, p)| (i as u32 + 1, *p))
            .collect()
    }

    /// The id of a host this node does not define (interned).
    pub fn foreign_host(&self, name: &str) -> Option<HostId> {
        if let Some(&i) = self.table.read().host_ids.get(name) {
            return Some(HostId(FOREIGN_HOST | i));
        }
        let mut t = self.table.write();
        if let Some(&i) = t.host_ids.get(name) {
            return Some(HostId(FOREIGN_HOST | i));
        }
        if t.hosts.len() >= MAX_NAMES {
            return None;
        }
        let name = leak(name);
        let i = t.hosts.len() as u32;
        t.hosts.push(name);
        t.host_ids.insert(name, i);
        Some(HostId(FOREIGN_HOST | i))
    }

    /// The name of a foreign host id.
    pub fn foreign_host_name(&self, id: HostId) -> Option<&'static str> {
        if id.0 & FOREIGN_HOST == 0 {
            return None;
        }
        self.table
            .read()
            .hosts
            .get((id.0 & !FOREIGN_HOST) as usize)
            .copied()
    }

    /// The id of the spawn target "`host` on node `node`" (interned).
    pub fn target(&self, node: u32, host: HostId) -> Option<HostId> {
        if let Some(&i) = self.table.read().target_ids.get(&(node, host)) {
            return Some(HostId(TARGET_HOST | i));
        }
        let mut t = self.table.write();
        if let Some(&i) = t.target_ids.get(&(node, host)) {
            return Some(HostId(TARGET_HOST | i));
        }
        if t.targets.len() >= MAX_NAMES {
            return None;
        }
        let i = t.targets.len() as u32;
        t.targets.push((node, host));
        t.target_ids.insert((node, host), i);
        Some(HostId(TARGET_HOST | i))
    }

    /// The node and host of a spawn target id.
    pub fn target_of(&self, id: HostId) -> Option<(u32, HostId)> {
        if id.0 & FOREIGN_HOST != 0 || id.0 & TARGET_HOST == 0 {
            return None;
        }
        self.table
            .read()
            .targets
            .get((id.0 & !TARGET_HOST) as usize)
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_interned_outside_a_cluster() {
        let p = Peers::default();
        assert_eq!(p.intern("b"), None);
        assert!(p.set_own_name("a"));
        assert!(!p.set_own_name("z"), "named once");
        assert_eq!(p.intern("a"), Some(0));
        assert_eq!(p.intern("b"), Some(1));
        assert_eq!(p.intern("c"), Some(2));
        assert_eq!(p.intern("b"), Some(1), "stable");
        assert_eq!(p.name(1), Some("b"));
        assert_eq!(p.name(0), Some("a"));
        assert_eq!(p.info(2).map(|i| i.state), Some(PeerState::Unknown));
        p.set_state(2, 7, PeerState::Up);
        assert_eq!(
            p.info(2).map(|i| (i.incarnation, i.state)),
            Some((7, PeerState::Up))
        );
        assert_eq!(p.list().len(), 2);
    }

    #[test]
    fn hosts_and_targets_have_ids_of_their_own() {
        let p = Peers::default();
        let h = p.foreign_host("x:hosts").expect("room");
        assert_eq!(p.foreign_host("x:hosts"), Some(h));
        assert_eq!(p.foreign_host_name(h), Some("x:hosts"));
        assert_eq!(p.foreign_host_name(HostId(3)), None);
        let t = p.target(2, HostId(1)).expect("room");
        assert_eq!(p.target_of(t), Some((2, HostId(1))));
        assert_eq!(p.target_of(h), None);
        assert_eq!(p.target_of(HostId(1)), None);
    }
}
