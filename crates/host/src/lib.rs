//! Starling layer 4 of 5: where entries, the core and the Lua engine meet.
//!
//! Boots a project ([`run`]): builds the node with every host entry, starts the auto-start
//! hosts' workers with a Lua engine each, supervises `process.service` entries, runs the exec
//! process on a terminal host, and owns the terminal and log output. The CLI calls only this
//! crate (and `starling-entry` for `init`).

pub mod cluster;
pub mod commands;
mod engine;
pub mod env;
pub mod error;
pub mod exec;
mod http;
pub mod log;
pub mod runtime;
pub mod services;
pub mod supervisor;
pub mod terminal;

pub use error::BootError;
pub use runtime::{ExecRequest, LogFlags, RunOptions, Runtime, run};
