//! The seam to other nodes: what a cluster implementation installs on a [`Node`].
//!
//! A single node installs nothing, and every path below is one `OnceLock` read that finds it
//! empty. With a cluster (the `starling-cluster` crate):
//! - every delivery to a pid with `node != 0` (a message, an event, a link exit, a monitor or
//!   link request, a kill, the answer to a request) goes to [`Remote::deliver`] instead of the
//!   directory, from whichever thread sent it, in program order;
//! - a spawn on a host placed on another node, or on a `node@host` target, goes to
//!   [`Remote::spawn`] ([`crate::spawn`]);
//! - envelopes from other nodes enter through [`Node::post`] like any other sender's, and a
//!   node that is declared down is announced with [`Node::node_down`], queued behind
//!   everything already delivered from it;
//! - names of the cluster scopes go to [`ClusterNames`] ([`crate::registry`]).
//!
//! [`Node`]: crate::Node
//! [`Node::post`]: crate::Node::post
//! [`Node::node_down`]: crate::Node::node_down

use crate::envelope::{Envelope, ReplyTo, SpawnRequest};
use crate::pid::{HostId, Pid};
use crate::value::ErrorValue;

/// Deliveries to other nodes.
pub trait Remote: Send + Sync {
    /// Takes an envelope addressed to a pid of another node, or hands it back when that node
    /// cannot be reached (unknown, or declared down). Must not block.
    fn deliver(&self, env: Envelope) -> Result<(), Envelope>;

    /// The node a spawn on local host `host` runs on, when the cluster places that host
    /// elsewhere (`None`: here).
    fn place(&self, host: HostId) -> Option<u32>;

    /// Sends a spawn request to node `node`; its answer comes back as an [`Envelope::Wake`]
    /// under the request's `reply` (or `flags.exit_to`) token. `req.host` is a host of this
    /// node's table (the target node resolves it by name).
    fn spawn(&self, node: u32, req: SpawnRequest) -> Result<(), ErrorValue>;
}

/// Name registry scopes (SPEC §5.6), as `process.registry` numbers them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Node-local names (the [`crate::Registry`] itself).
    Local,
    /// Cluster-wide, bound at once and published in the background; a conflict revokes the
    /// loser's name.
    Eventual,
    /// Cluster-wide, first writer wins, linearizable.
    Consistent,
    /// Consistent, and acknowledged by every live node before it is active.
    Strong,
}

impl Scope {
    /// The scope of a `process.registry` number.
    pub fn from_number(n: i64) -> Option<Scope> {
        Some(match n {
            0 => Scope::Local,
            1 => Scope::Eventual,
            2 => Scope::Consistent,
            3 => Scope::Strong,
            _ => return None,
        })
    }

    /// The `process.registry` number.
    pub fn number(self) -> i64 {
        match self {
            Scope::Local => 0,
            Scope::Eventual => 1,
            Scope::Consistent => 2,
            Scope::Strong => 3,
        }
    }
}

/// The cluster scopes of the name registry.
pub trait ClusterNames: Send + Sync {
    /// The pid holding `name` in a cluster scope (or exported from another node's LOCAL
    /// names), as this node's replica has it. Reads are local: no network round trip.
    fn lookup(&self, name: &str) -> Option<Pid>;

    /// Registers `name` for `pid` in a cluster scope; the answer (`true`, or the error) comes
    /// as an [`Envelope::Wake`] to `reply`. `Err` when it cannot even start.
    fn register(
        &self,
        name: &str,
        pid: Pid,
        scope: Scope,
        reply: ReplyTo,
    ) -> Result<(), ErrorValue>;

    /// Removes `name` from a cluster scope on behalf of `caller`; the answer (`true` when
    /// removed, `false` when it was not registered or, for CONSISTENT and STRONG, belongs to
    /// another process) comes as an [`Envelope::Wake`] to `reply`.
    fn unregister(
        &self,
        name: &str,
        scope: Scope,
        caller: Pid,
        reply: ReplyTo,
    ) -> Result<(), ErrorValue>;

    /// A LOCAL name was registered (`Some`) or released (`None`): exported to other nodes
    /// when `cluster.registry.export_local` is on. Called outside the registry's lock.
    fn local_changed(&self, name: &str, pid: Option<Pid>);
}
