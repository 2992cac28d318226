//! Running a handler: a `function.lua` call per request, answered through its exchange.
//!
//! ```text
//! request ──► pid number allocated ──► exchange recorded under it ──► spawn (exit_to = server)
//!   wait for the head (≤ timeouts.write) ◄── handler flushes or ends ◄── Wake on the external pid
//! ```
//!
//! # Cancellation
//! - The client leaves before the head: the waiting future is dropped, its guard forgets the
//!   exchange and kills the handler.
//! - The handler misses `timeouts.write`: it is killed and the client gets a 503.
//! - The client leaves while a streamed body is sent: see `body.rs`.

use std::sync::Arc;
use std::time::Duration;

use hyper::http::request::Parts;
use hyper::{Response, StatusCode};
use serde_json::Value as Json;
use starling_core::{
    Envelope, ErrorKind, ErrorValue, HostId, Level, Payload, Pid, ReplyTo, SpawnFlags,
    SpawnRequest, SpawnSetup,
};
use tokio::sync::oneshot;

use crate::body::Body;
use crate::exchange::{BodyState, ExchangeImpl, ExchangeParts};
use crate::runtime::Shared;
use crate::server::plain;

/// Ends a handler that is no longer wanted.
pub(crate) fn kill(shared: &Shared, pid: Pid, why: &str) {
    let reason = ErrorValue::new(ErrorKind::Canceled, why.to_owned()).retryable(None);
    shared.node().post(pid, |slot| Envelope::Kill {
        to: pid,
        slot,
        reason,
    });
}

/// What the server's external pid receives: the end of a handler (its `exit_to`).
pub(crate) fn on_envelope(shared: &Shared, env: Envelope) {
    if let Envelope::Wake { token, result, .. } = env {
        if let Some(ex) = shared.exchanges.remove(token) {
            ex.finish(result);
        }
    }
}

/// Where a server runs its handlers.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// The server's host (its own worker pool).
    pub(crate) host: HostId,
    /// The server's external pid, which receives handler ends.
    pub(crate) external: Pid,
    pub(crate) max_body: u64,
    pub(crate) write_timeout: Option<Duration>,
}

/// Forgets the exchange and kills the handler unless disarmed (the future was dropped).
struct Guard<'a> {
    shared: &'a Arc<Shared>,
    pid: Pid,
    armed: bool,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if self.armed && self.shared.exchanges.remove(self.pid.num).is_some() {
            kill(self.shared, self.pid, "client disconnected");
        }
    }
}

/// One request handled by `func`.
pub(crate) struct Call {
    pub(crate) func: Arc<str>,
    pub(crate) parts: Parts,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) remote: crate::middleware::Remote,
    pub(crate) body: BodyState,
}

/// Runs the handler and waits for its response head.
pub(crate) async fn call(shared: &Arc<Shared>, target: &Target, c: Call) -> Response<Body> {
    let node = shared.node();
    let num = node.next_hidden_num();
    let pid = Pid::local(target.host, num);
    let (tx, rx) = oneshot::channel();
    let method = c.parts.method.clone();
    let path = c.parts.uri.path().to_owned();
    let func = c.func.clone();
    let ex = Arc::new(ExchangeImpl::new(
        shared.clone(),
        ExchangeParts {
            pid,
            func: c.func.clone(),
            parts: c.parts,
            params: c.params,
            remote: c.remote,
            max_body: target.max_body,
            write_timeout: target.write_timeout,
            body: c.body,
            respond: tx,
        },
    ));
    shared.exchanges.insert(num, ex);
    let mut guard = Guard {
        shared,
        pid,
        armed: true,
    };
    let req = SpawnRequest {
        entry: c.func,
        host: target.host,
        args: Payload::empty(),
        parent: None,
        flags: SpawnFlags {
            exit_to: Some(ReplyTo {
                pid: target.external,
                token: num,
            }),
            ..SpawnFlags::default()
        },
        reply: None,
        num,
        setup: Some(Box::new(SpawnSetup {
            function: true,
            ..SpawnSetup::default()
        })),
    };
    if let Err(e) = node.request_spawn(req) {
        guard.armed = false;
        shared.exchanges.remove(num);
        shared.log(
            Level::Error,
            "http handler not started",
            vec![
                ("entry".into(), Json::from(&*func)),
                ("error".into(), Json::from(e.full_message())),
            ],
        );
        return plain(StatusCode::SERVICE_UNAVAILABLE, "service unavailable\n");
    }
    let got = match target.write_timeout {
        Some(t) => tokio::time::timeout(t, rx).await.map_err(|_| ()),
        None => Ok(rx.await),
    };
    guard.armed = false;
    match got {
        Ok(Ok(resp)) => resp,
        Ok(Err(_)) => plain(StatusCode::INTERNAL_SERVER_ERROR, "internal server error\n"),
        Err(()) => {
            if shared.exchanges.remove(num).is_some() {
                kill(shared, pid, "http handler timed out");
            }
            shared.log(
                Level::Warn,
                "http handler timed out",
                vec![
                    ("entry".into(), Json::from(&*func)),
                    ("method".into(), Json::from(method.as_str())),
                    ("path".into(), Json::from(path)),
                    (
                        "timeout".into(),
                        Json::from(starling_entry::format_go_duration(
                            target.write_timeout.map_or(0, |t| t.as_nanos() as i64),
                        )),
                    ),
                ],
            );
            plain(StatusCode::SERVICE_UNAVAILABLE, "handler timed out\n")
        }
    }
}
