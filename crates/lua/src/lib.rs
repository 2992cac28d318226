//! Starling layer 3 of 5: the Luau engine and every module a script can require.
//!
//! Builds on `starling-core` (processes, mailboxes, timers) and `starling-entry` (entry specs);
//! must not import `starling-host`. Each worker thread owns one Luau VM ([`LuaEngine`]); each
//! process is a set of sandboxed coroutines in it.
//!
//! Layout mirrors what scripts see: `modules/` has one file per global or module, `userdata/`
//! the objects scripts hold, `convert` the only place values cross processes, `vm` the VM setup
//! (and the only unsafe code), `engine` and `task` the scheduling of coroutines. `fuzzing`
//! (hidden) lets `fuzz/` reach the converters and parsers it tests.

mod chan;
mod convert;
mod engine;
pub mod entries;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
mod modules;
pub mod program;
pub mod services;
mod syntax;
mod task;
pub mod userdata;
mod vm;

pub use engine::LuaEngine;
pub use entries::{EntryStore, EntryView};
pub use error::ProgramError;
pub use program::{Code, CodeKind, Module, Program};
pub use services::{EnvStore, Level, LogRecord, ServiceState, Services, Stream, Terminal};
