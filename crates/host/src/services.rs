//! The host's side of [`starling_lua::Services`]: log output, the terminal, and what the
//! `registry`, `env` and `system` modules read.

use std::sync::Arc;

use crossbeam_channel::Sender;
use parking_lot::RwLock;
use starling_lua::{EntryStore, EnvStore, Level, LogRecord, ServiceState, Services, Terminal};

use crate::env::HostEnv;

use crate::log::LogSink;
use crate::terminal::StdTerminal;

/// Log sink plus terminal, shared by every worker.
#[derive(Debug)]
pub struct HostServices {
    pub(crate) log: Arc<LogSink>,
    pub(crate) terminal: Arc<StdTerminal>,
    /// The entry registry (`registry` module).
    pub(crate) entries: Arc<EntryStore>,
    /// Environment storages and variables (`env` module).
    pub(crate) env: Arc<HostEnv>,
    /// Service states as the supervisor last reported them (`system.supervisor`).
    pub(crate) states: Arc<RwLock<Vec<ServiceState>>>,
    /// `system.exit` requests for the control loop.
    pub(crate) exit: Sender<i32>,
    /// The HTTP server and client, when built with the `http` feature.
    // Read only by the `http` service, which exists with the feature.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
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

    fn entries(&self) -> Option<Arc<EntryStore>> {
        Some(self.entries.clone())
    }

    fn env(&self) -> Option<&dyn EnvStore> {
        Some(&*self.env)
    }

    fn service_states(&self) -> Vec<ServiceState> {
        self.states.read().clone()
    }

    fn request_exit(&self, code: i32) -> bool {
        self.exit.send(code).is_ok()
    }

    #[cfg(feature = "http")]
    fn http(&self) -> Option<&dyn starling_lua::services::http::Http> {
        self.http
            .as_ref()
            .map(|h| h as &dyn starling_lua::services::http::Http)
    }
}
