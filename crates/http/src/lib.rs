//! Starling layer 4 (beside `starling-host`, which boots it): HTTP.
//!
//! - The server of Wippy's `http.service` entries: each listens on its `addr`, routes requests
//!   through its `http.router`s (prefix, middleware) to `http.endpoint`s, whose handlers run as
//!   `function.lua` calls on the server's own worker pool, and serves `http.static` mounts.
//! - The client side of the Lua `http_client` and `websocket` modules.
//!
//! Builds on `starling-core` (pids, spawns, envelopes), `starling-entry` (the checked specs)
//! and `starling-lua` (the [`starling_lua::services::http`] traits it implements). It must
//! not import `starling-host`; nothing below it imports this crate, so the core crates never
//! pull in tokio or hyper. Nothing here starts a thread until a server starts or a script
//! makes its first outgoing request.
//!
//! How a request is served (see `dispatch.rs`): the server pre-allocates the handler's pid,
//! records the request under it, spawns the handler with `exit_to` set to the server's
//! external pid, and waits (bounded by `timeouts.write`) for the response the handler builds
//! through the `http` module; the handler's end arrives as an [`starling_core::Envelope::Wake`]
//! on the external receiver, which finishes the response.

mod body;
mod client;
mod dispatch;
pub mod error;
mod exchange;
mod middleware;
mod multipart;
mod relay;
mod routes;
mod runtime;
mod server;
mod static_files;
mod websocket;

pub use error::HttpError;
pub use runtime::{HttpRuntime, LogFn};
pub use server::Server;
