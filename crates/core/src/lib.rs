//! Starling layer 2 of 5: the process model, with no knowledge of Lua or YAML.
//!
//! Must not import `starling-entry`, `starling-lua` or `starling-host`.
//!
//! - [`pid`]: process identifiers and their printed form.
//! - [`value`]: payloads, the owned values that cross process boundaries.
//! - [`codec`]: typed payloads, any serde value to and from a [`Payload`].
//! - [`mailbox`]: the mailbox limit and what happens to a process over it.
//! - [`message`]: messages, events and exit reasons.
//! - [`node`]: the node (hosts, pid counter, directory, registry).
//! - [`worker`]: scheduler workers, run queues, timers, the [`Engine`] hook.
//! - [`envelope`]: what travels between workers.
//! - [`log`]: application log records and the host's sink.

pub mod bus;
pub mod codec;
pub mod directory;
pub mod envelope;
pub mod log;
pub mod mailbox;
pub mod message;
pub mod node;
pub mod pid;
pub mod registry;
pub mod value;
pub mod worker;

pub use bus::Bus;
pub use codec::{PayloadError, from_args, from_payload, from_value, to_args, to_payload};
pub use directory::Addr;
pub use envelope::{Envelope, RelationOp, ReplyTo, SpawnFlags, SpawnRequest, SpawnSetup};
pub use log::{Level, LogRecord, LogSink};
pub use message::{Event, EventKind, ExitReason, ExitResult, Message};
pub use node::{
    EngineFactory, EnterGuard, ExternalFn, HostKind, Node, PidError, WarnFn, with_current,
};
pub use pid::{HostId, Pid};
pub use registry::{RegisterError, Registry};
pub use value::{ErrorKind, ErrorValue, MAX_ERROR_DEPTH, Payload, Table, Value};
pub use worker::{Engine, Local, ProcCore, RelationError, Step, Wakeup};
