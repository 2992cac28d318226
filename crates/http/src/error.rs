//! Errors of starting HTTP servers.

use std::io;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The listener could not be bound.
    #[error("{site}: cannot listen on {addr}: {source}")]
    Bind {
        /// The `http.service` entry (file, line and id).
        site: String,
        /// The address as written.
        addr: String,
        /// What the OS said.
        source: io::Error,
    },
    /// A route, middleware option or directory of the server is unusable.
    #[error("{site}: {message}")]
    Config {
        /// The entry at fault (file, line and id).
        site: String,
        /// What is wrong.
        message: String,
    },
    /// The HTTP runtime thread could not start.
    #[error("cannot start the HTTP runtime: {0}")]
    Runtime(io::Error),
}
