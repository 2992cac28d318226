//! The host's side of [`starling_lua::Services`]: log output and the terminal.

use std::sync::Arc;

use starling_lua::{Level, LogRecord, Services, Terminal};

use crate::log::LogSink;
use crate::terminal::StdTerminal;

/// Log sink plus terminal, shared by every worker.
#[derive(Debug)]
pub struct HostServices {
    pub(crate) log: Arc<LogSink>,
    pub(crate) terminal: Arc<StdTerminal>,
    /// The native process kinds, so Lua spawns of them are routed to the native engine.
    pub(crate) kinds: Arc<starling_native::Kinds>,
    /// The HTTP server and client, when built with the `http` feature.
    pub(crate) http: Option<crate::http::HttpRuntime>,
}

impl Services for HostServices {
    fn log_enabled(&self, level: Level) -> bool {
        self.log.app_enabled(level)
    }

    fn log(&self, record: LogRecord) {
        self.log.app(&record);
    }

    fn terminal(&self) -> Option<&dyn Terminal> {
        Some(&*self.terminal)
    }

    fn is_native(&self, entry: &str) -> bool {
        !self.kinds.is_empty() && self.kinds.contains(entry)
    }

    #[cfg(feature = "http")]
    fn http(&self) -> Option<&dyn starling_lua::services::http::Http> {
        self.http
            .as_ref()
            .map(|h| h as &dyn starling_lua::services::http::Http)
    }
}
