//! HTTP at boot (cargo feature `http`): each `http.service` entry is a host of the node whose
//! workers run that server's handlers (`host.worker_count`, `host.memory_limit`), so handler
//! pids print as `{app:gateway|0x…}`. Auto-start servers start right after the auto-start
//! hosts, before any service; they stop first, each within its `lifecycle.stop_timeout`.
//!
//! Without the feature, `http.service` entries are loaded and ignored with a warning, and the
//! `http` modules answer `nil, err`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use starling_core::node::NodeBuilder;
use starling_core::{HostKind, Limits, Node, WorkerSetup};
use starling_entry::kind::DEFAULT_MAX_MAILBOX;
use starling_entry::{EntrySpec, Project};
use starling_lua::Level;

use crate::error::BootError;
use crate::log::LogSink;

#[cfg(feature = "http")]
pub(crate) use starling_http::{HttpRuntime, Server};

/// Stand-ins when the HTTP side is not built in.
#[cfg(not(feature = "http"))]
mod off {
    /// Never made without the feature.
    #[derive(Debug, Clone)]
    pub(crate) struct HttpRuntime;
    /// Never made without the feature.
    #[derive(Debug)]
    pub(crate) struct Server;
    impl Server {
        pub(crate) fn stop(&self, _grace: std::time::Duration) {}
        pub(crate) fn stop_timeout(&self) -> std::time::Duration {
            std::time::Duration::ZERO
        }
    }
}
#[cfg(not(feature = "http"))]
pub(crate) use off::{HttpRuntime, Server};

/// True when the project has servers to run.
fn has_servers(project: &Project) -> bool {
    project
        .entries
        .iter()
        .any(|e| matches!(e.spec, EntrySpec::HttpService(_)))
}

/// Declares a host per `http.service` entry, whose processes may each queue
/// `DEFAULT_MAX_MAILBOX` messages and `mailbox_bytes` bytes.
pub(crate) fn declare(builder: &mut NodeBuilder, project: &Project, mailbox_bytes: usize) {
    for e in &project.entries {
        if let EntrySpec::HttpService(_) = &e.spec {
            let id = builder.host(&e.id.to_string(), HostKind::Process);
            builder.mailbox_limits(
                id,
                Limits {
                    items: DEFAULT_MAX_MAILBOX,
                    bytes: mailbox_bytes,
                },
            );
        }
    }
}

/// The HTTP runtime of the node (no thread until used); `None` without the feature.
pub(crate) fn runtime(log: &Arc<LogSink>) -> Option<HttpRuntime> {
    #[cfg(feature = "http")]
    {
        let log = log.clone();
        Some(HttpRuntime::new(Arc::new(move |level, message, fields| {
            log.runtime(level, message, fields)
        })))
    }
    #[cfg(not(feature = "http"))]
    {
        let _ = log;
        None
    }
}

/// Binds the runtime to the node, for servers and for scripts' outgoing requests.
pub(crate) fn attach(rt: Option<&HttpRuntime>, node: &Arc<Node>) {
    #[cfg(feature = "http")]
    if let Some(rt) = rt {
        rt.attach(node.clone());
    }
    #[cfg(not(feature = "http"))]
    let _ = (rt, node);
}

/// Starts every auto-start `http.service`: its workers, then its listener.
pub(crate) fn start(
    rt: Option<&HttpRuntime>,
    project: &Project,
    node: &Arc<Node>,
    log: &Arc<LogSink>,
    setup: &dyn Fn(u64, Duration) -> WorkerSetup,
) -> Result<Vec<Server>, BootError> {
    if !has_servers(project) {
        return Ok(Vec::new());
    }
    let Some(rt) = rt else {
        for e in &project.entries {
            if let EntrySpec::HttpService(_) = &e.spec {
                log.runtime(
                    Level::Warn,
                    &format!(
                        "{}: http.service ignored: this starling was built without the http feature",
                        e.site()
                    ),
                    Vec::new(),
                );
            }
        }
        return Ok(Vec::new());
    };
    #[cfg(feature = "http")]
    {
        let mut servers = Vec::new();
        for e in &project.entries {
            let EntrySpec::HttpService(spec) = &e.spec else {
                continue;
            };
            if !spec.lifecycle.auto_start {
                continue;
            }
            let id = e.id.to_string();
            let host = node.host_id(&id).expect("declared at boot");
            starling_core::start_host(
                node,
                host,
                spec.workers,
                setup(spec.memory_limit, starling_entry::kind::DEFAULT_WATCHDOG),
            )
            .map_err(|source| BootError::Host {
                host: id.clone(),
                source,
            })?;
            let server = rt
                .start_server(project, &e.id, host)
                .map_err(|err| BootError::Http(err.to_string()))?;
            servers.push(server);
        }
        Ok(servers)
    }
    #[cfg(not(feature = "http"))]
    {
        let _ = (node, setup, rt);
        unreachable!("no runtime without the feature")
    }
}

/// Stops the servers: each gets its `stop_timeout`, all of them together at most until
/// `deadline`.
pub(crate) fn stop(servers: &[Server], deadline: Instant) {
    for s in servers {
        let left = deadline.saturating_duration_since(Instant::now());
        s.stop(s.stop_timeout().min(left).max(Duration::from_millis(10)));
    }
}
