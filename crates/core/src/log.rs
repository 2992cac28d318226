//! Application log records, and where the runtime sends them.
//!
//! The core formats nothing and prints nothing: the host installs a [`LogSink`] on the
//! [`Node`](crate::Node) ([`Node::set_log`](crate::Node::set_log)), and Lua's `logger` module and
//! native processes ([`Node::log`](crate::Node::log)) both write through it, so every log line
//! of a project has one format whoever wrote it.

/// Log levels, in increasing severity (the numbers match `logmanager.min_level`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `-1`.
    Debug,
    /// `0`.
    Info,
    /// `1`.
    Warn,
    /// `2`.
    Error,
}

impl Level {
    /// Upper-case name as printed on the console.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// One application log line (from `logger` or `print`).
#[derive(Debug, Clone)]
pub struct LogRecord {
    /// Severity.
    pub level: Level,
    /// Logger name (`""` for the root logger).
    pub name: String,
    /// Message.
    pub message: String,
    /// Context fields first (`pid`, `location`), then the call's fields in sorted key order;
    /// keys are unique.
    pub fields: Vec<(String, serde_json::Value)>,
}

/// Where log records go: the host's log (console or JSON on stderr).
pub trait LogSink: Send + Sync {
    /// True when records at `level` would be printed (lets callers skip building them).
    fn enabled(&self, level: Level) -> bool;
    /// Emits one record.
    fn log(&self, record: LogRecord);
}
