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
}
