//! Starling layer 3 (beside `lua` and `native`): nodes of one project forming a cluster.
//!
//! Must import only `starling-core` (no Lua, no YAML, no host).
//!
//! - [`settings`]: a node's cluster settings; [`transport`]: what it needs from the network.
//! - [`wire`]: frames, heartbeats and items in postcard; `codec` (private): core envelopes
//!   to items; `link` (private): one peer's sessions.
//! - [`cluster`]: sessions, failure detection, remote delivery and spawns ([`Cluster`]);
//!   [`names`]: the EVENTUAL, CONSISTENT and STRONG registry scopes.
//! - [`mem`]: an in-process transport with fault injection, for deterministic tests;
//!   [`nats`] (feature `nats`): the NATS transport, on a tokio runtime of its own thread.

pub mod cluster;
mod codec;
mod link;
pub mod mem;
pub mod names;
#[cfg(feature = "nats")]
pub mod nats;
pub mod settings;
pub mod transport;
pub mod wire;

pub use cluster::{Cluster, JoinError, NodeRecord, NodeStatus};
pub use settings::Settings;
pub use transport::{Bucket, KvDone, KvOp, KvReply, Subject, Transport};
