//! Starling layer 2 of 5: the process model, with no knowledge of Lua or YAML.
//!
//! Must not import `starling-entry`, `starling-lua` or `starling-host`.
//!
//! The model, from the bottom up:
//! - [`pid`]: process identifiers and their printed form.
//! - [`value`]: payloads, the owned values that cross process boundaries; [`codec`]: any
//!   serde value to and from a [`Payload`].
//! - [`message`]: messages, events and exit reasons; [`envelope`]: what travels between
//!   workers.
//! - [`mailbox`]: a process's queues and their limits; [`relations`]: its monitors and links.
//! - [`registry`] (names) and [`directory`] (where each pid lives); [`node`]: the shared state
//!   of one running node (hosts, pid counter, registry, hooks).
//! - [`engine`]: the hook engines implement (Lua, native Rust, a test stub); [`clock`]: real or
//!   virtual time.
//! - [`worker`]: scheduler workers, run queues, timers, delivery; [`spawn`]: where a spawn goes.
//! - [`log`]: application log records and the host's sink.
//! - [`peers`] (the node table) and [`remote`] (the seam a cluster installs): other nodes.

pub mod bus;
pub mod bytestr;
pub mod clock;
pub mod codec;
pub mod directory;
pub mod engine;
pub mod envelope;
pub mod flat;
pub mod log;
pub mod mailbox;
pub mod message;
mod name_cache;
pub mod node;
mod node_down;
pub mod peers;
pub mod pid;
mod process;
pub mod registry;
pub mod relations;
pub mod remote;
pub mod spawn;
pub mod value;
pub mod worker;

pub use bus::Bus;
pub use bytestr::{ByteStr, ShortStr};
pub use clock::{Clock, VirtualClock};
pub use codec::{PayloadError, from_args, from_payload, from_value, to_args, to_payload};
pub use directory::Addr;
pub use engine::{Engine, Router, StartArgs, Step, Wakeup, panic_error};
pub use envelope::{Envelope, RelationOp, ReplyTo, SpawnFlags, SpawnRequest, SpawnSetup};
pub use log::{Level, LogRecord, LogSink};
pub use mailbox::{Limits, Overflow};
pub use message::{Event, EventKind, ExitReason, ExitResult, Message, MessageBody};
pub use node::{EnterGuard, ExternalFn, HostKind, KILL_ALL, Node, PidError, WarnFn, with_current};
pub use peers::{PeerInfo, PeerState, Peers};
pub use pid::{HostId, Pid};
pub use registry::{RegisterError, Registry};
pub use remote::{ClusterNames, Remote, Scope};
pub use spawn::{Build, Spawned};
pub use value::{ErrorKind, ErrorValue, MAX_ERROR_DEPTH, Payload, Table, Value};
pub use worker::{
    EngineFactory, EngineMaker, Local, RelationError, Worker, WorkerSetup, start_host,
};
