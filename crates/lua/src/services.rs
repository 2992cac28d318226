//! What the engine needs from its host: log output and, on a terminal host, the terminal.
//!
//! The host crate implements these; the engine never touches stdin, stdout or the log format.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

pub mod http;

use starling_core::{ErrorValue, ReplyTo};

use crate::entries::EntryStore;

pub use starling_core::log::{Level, LogRecord};

/// Output stream of the terminal.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// The terminal bound to a terminal host (SPEC §2.2, §9.1).
pub trait Terminal: Send + Sync {
    /// Writes and flushes.
    fn write(&self, stream: Stream, bytes: &[u8]) -> io::Result<()>;
    /// Starts reading one line; the outcome is sent to `reply` as a [`starling_core::Envelope::Wake`]
    /// whose payload is the line (without its end-of-line), or an error at end of input.
    fn read_line(&self, reply: ReplyTo);
    /// Starts reading up to `n` bytes, answered like [`Terminal::read_line`].
    fn read(&self, n: usize, reply: ReplyTo);
    /// Switches raw mode on or off (reference-counted by the caller).
    fn set_raw(&self, on: bool) -> io::Result<()>;
    /// Command-line arguments given after the exec spec.
    fn args(&self) -> Vec<String>;
}

/// Host services available to every worker's engine.
pub trait Services: Send + Sync {
    /// True when records at `level` would be printed (lets callers skip building them).
    fn log_enabled(&self, level: Level) -> bool;
    /// Emits one application log record.
    fn log(&self, record: LogRecord);
    /// The terminal, for engines running on a terminal host.
    fn terminal(&self) -> Option<&dyn Terminal>;
    /// The entry registry the `registry` module reads (issue 13); none: an empty one.
    fn entries(&self) -> Option<Arc<EntryStore>> {
        None
    }
    /// The variables the `env` module reads and writes; none: every lookup is NOT_FOUND.
    fn env(&self) -> Option<&dyn EnvStore> {
        None
    }
    /// State of every supervised service, for `system.supervisor`.
    fn service_states(&self) -> Vec<ServiceState> {
        Vec::new()
    }
    /// Asks the runtime to shut down with `code` (`system.exit`); false when not possible.
    fn request_exit(&self, code: i32) -> bool {
        let _ = code;
        false
    }
    /// The HTTP server and client (`http`, `http_client`, `websocket` modules), when the host
    /// was built with them.
    fn http(&self) -> Option<&dyn http::Http> {
        None
    }
}

/// `env.storage.*` and `env.variable` entries as the `env` module sees them (the host
/// implements the storages).
pub trait EnvStore: Send + Sync {
    /// The value of a variable (public name or entry id): its storage's value, else its
    /// default; NOT_FOUND when neither exists or the name is not declared.
    fn get(&self, key: &str) -> Result<String, ErrorValue>;
    /// Writes a variable; PERMISSION_DENIED when it or its storage is read-only.
    fn set(&self, key: &str, value: &str) -> Result<(), ErrorValue>;
    /// Every declared public variable that has a value.
    fn all(&self) -> BTreeMap<String, String>;
}

/// One service as `system.supervisor.state` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceState {
    /// Service entry id.
    pub id: String,
    /// `running`, `starting`, `failed`, `stopped`, ...
    pub status: String,
    /// What the supervisor wants: `running` or `stopped`.
    pub desired: String,
    /// Consecutive failed starts.
    pub retry_count: u64,
    /// Last change, nanoseconds since the Unix epoch.
    pub last_update: i64,
    /// Start of the current run, nanoseconds since the Unix epoch (0 = none).
    pub started_at: i64,
    /// The last error, if any.
    pub details: Option<String>,
}
