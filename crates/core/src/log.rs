//! Application log records, and where the runtime sends them.
//!
//! The core formats nothing and prints nothing: the host installs a [`LogSink`] on the
//! [`Node`](crate::Node) ([`Node::set_log`](crate::Node::set_log)), and Lua's `logger` module and
//! native processes ([`Node::log`](crate::Node::log)) both write through it, so every log line
//! of a project has one format whoever wrote it.

/// How deeply tables nest inside one log field: a table deeper than this is written as the
/// string [`TOO_DEEP`] instead of its contents. Rendering, copying and dropping a field recurse
/// once per level, so the bound keeps them far from the end of any thread's stack whatever a
/// process logs (a relay logging an EXIT result that holds a table nested 10,000 deep).
pub const MAX_FIELD_DEPTH: usize = 64;

/// What a table nested deeper than [`MAX_FIELD_DEPTH`] is written as.
pub const TOO_DEEP: &str = "<too deep>";

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
