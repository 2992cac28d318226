//! Starling layer 3 of 5: the Luau engine and every module a script can require.
//!
//! Builds on `starling-core` (processes, mailboxes, timers) and `starling-entry` (entry specs);
//! must not import `starling-host`. Each worker thread owns one Luau VM ([`LuaEngine`]); each
//! process is a set of sandboxed coroutines in it.
//!
//! Layout:
//! - `modules/`: one file per global or module scripts see, each with one `install` or
//!   `module` function, composed in `modules.rs`; `userdata/` the mlua objects scripts hold.
//! - `rt/`: the runtime inside a VM (processes, tasks, channels, the scheduler step, spawning,
//!   the memory budget, the hot paths); it names no module.
//! - `ffi`: the only unsafe code, a safe facade over raw Luau for the hot paths and the VM
//!   hooks mlua does not expose.
//! - `engine` (the worker-wide state modules reach), `vm` (the engine of one worker),
//!   `convert` (values ↔ payloads through mlua), `program` and `syntax` (compiling entries).
//! - `fuzzing` (hidden) lets `fuzz/` reach the converters and parsers it tests.

mod args;
mod convert;
mod engine;
pub mod entries;
pub mod error;
mod ffi;
#[doc(hidden)]
pub mod fuzzing;
mod modules;
pub mod program;
mod rt;
pub mod services;
mod syntax;
pub mod userdata;
mod vm;

pub use engine::DEFAULT_WATCHDOG;
pub use entries::{EntryStore, EntryView};
pub use error::ProgramError;
pub use program::{Code, CodeKind, Module, Program};
pub use services::{EnvStore, Level, LogRecord, ServiceState, Services, Stream, Terminal};
pub use vm::LuaEngine;
