//! What the engine needs from its host: log output and, on a terminal host, the terminal.
//!
//! The host crate implements these; the engine never touches stdin, stdout or the log format.

use std::io;

pub mod http;

use starling_core::ReplyTo;

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
    /// True when `entry` is a process written in Rust: the Lua engine does not run it, so a
    /// spawn of it goes through the worker's queue to the engine that does.
    fn is_native(&self, entry: &str) -> bool {
        let _ = entry;
        false
    }
    /// The HTTP server and client (`http`, `http_client`, `websocket` modules), when the host
    /// was built with them.
    fn http(&self) -> Option<&dyn http::Http> {
        None
    }
}
