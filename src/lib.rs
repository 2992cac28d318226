//! Starling: a runtime for actor-model applications.
//!
//! A Starling project is YAML entry definitions plus Lua sources, run as isolated processes
//! that talk only by message passing. This crate is the runtime as a library: the `starling`
//! command is [`Runtime`] with the command line's options, and a Rust program can do the same
//! while adding processes written in async Rust ([`Context`]) that live beside the Lua ones,
//! in one pid space (docs/native.md is the guide).
//!
//! ```
//! use starling::{Context, ErrorValue, Payload, Runtime};
//!
//! /// Hosts as YAML; the processes are registered below.
//! const ENTRIES: &str = "
//! version: '1.0'
//! namespace: app
//! entries:
//!   - {name: terminal, kind: terminal.host, lifecycle: {auto_start: true}}
//!   - {name: processes, kind: process.host, lifecycle: {auto_start: true}}
//! ";
//!
//! /// Answers each `ping` carrying n with a `pong` carrying n + 1.
//! async fn ponger(ctx: Context, _args: Payload) -> Result<(), ErrorValue> {
//!     loop {
//!         let msg = ctx.recv().await;
//!         if let (Some(from), "ping") = (msg.from, &*msg.topic) {
//!             let n: i64 = msg.payload.decode()?;
//!             ctx.send(from, "pong", &(n + 1))?;
//!         }
//!     }
//! }
//!
//! /// The exec process: its result is the command's exit status.
//! async fn main_process(ctx: Context, _args: Payload) -> Result<i64, ErrorValue> {
//!     let ponger = ctx.spawn("app:ponger", "app:processes", &()).await?;
//!     ctx.send(ponger, "ping", &41)?;
//!     let answer: i64 = ctx.recv().await.payload.decode()?;
//!     Ok(if answer == 42 { 0 } else { 1 })
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let code = Runtime::new()
//!     .definitions("app.yaml", ENTRIES)
//!     .native("app:ponger", ponger)?
//!     .native("app:main", main_process)?
//!     .exec("app:main", Vec::new())
//!     .run()?;
//! assert_eq!(code, 0);
//! # Ok(())
//! # }
//! ```
//!
//! The layers, each a crate re-exported here:
//! - [`entry`] (`starling-entry`): entry definitions, the lock file and configuration.
//! - [`core`] (`starling-core`): pids, payloads, mailboxes, the registry, monitors and links,
//!   the schedulers.
//! - [`lua`] (`starling-lua`) and [`native`] (`starling-native`): the two engines processes
//!   are written for.
//! - [`host`] (`starling-host`): booting a project, services, the terminal, logs.
//!
//! [`memory`] is the global allocator and process memory set-up the `starling` command uses.

pub mod memory;

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
