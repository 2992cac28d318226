//! Starling: a runtime for actor-model applications.
//!
//! A Starling project is YAML entry definitions plus Lua sources, run as isolated processes
//! that talk only by message passing. This crate is the runtime as a library: the `starling`
//! command is [`Runtime`] with the command line's options, and a Rust program can do the same
//! while adding processes written in async Rust ([`Context`]) that live beside the Lua ones,
//! in one pid space.
//!
//! ```no_run
//! use starling::{Context, ErrorValue, Payload, Runtime};
//!
//! /// Answers every `ping` with a `pong`.
//! async fn ponger(ctx: Context, _args: Payload) -> Result<(), ErrorValue> {
//!     ctx.register("ponger")?;
//!     loop {
//!         let msg = ctx.recv().await;
//!         if let (Some(from), "ping") = (msg.from, &*msg.topic) {
//!             ctx.send(from, "pong", &())?;
//!         }
//!     }
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let code = Runtime::project(".")
//!         .native("app:ponger", ponger)?
//!         .exec("app:cli", Vec::new())
//!         .run()?;
//!     std::process::exit(code)
//! }
//! ```
//!
//! The layers, each a crate re-exported here:
//! - [`entry`] (`starling-entry`): entry definitions, the lock file and configuration.
//! - [`core`] (`starling-core`): pids, payloads, mailboxes, the registry, monitors and links,
//!   the schedulers.
//! - [`lua`] (`starling-lua`) and [`native`] (`starling-native`): the two engines processes
//!   are written for.
//! - [`host`] (`starling-host`): booting a project, services, the terminal, logs.

pub use starling_core as core;
pub use starling_entry as entry;
pub use starling_host as host;
pub use starling_lua as lua;
pub use starling_native as native;

pub use starling_core::codec::PayloadError;
pub use starling_core::{
    ErrorKind, ErrorValue, Event, EventKind, ExitReason, Level, Message, Payload, Pid,
};
pub use starling_host::{BootError, ExecRequest, LogFlags, Runtime};
pub use starling_native::{
    Context, IntoExit, KindError, Process, RegisterError, RelationError, SendError, SpawnError,
};
