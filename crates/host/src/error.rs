//! Errors that stop the runtime before or while it boots.

use thiserror::Error;

/// Why `starling run` could not start (or had to stop).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BootError {
    /// The project files are invalid.
    #[error("{0}")]
    Load(#[from] starling_entry::LoadError),
    /// One or more Lua entries do not compile.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Program(Vec<starling_lua::ProgramError>),
    /// A native process's id is malformed or clashes with a definition.
    #[error("{0}")]
    Native(String),
    /// `-x` names something that cannot run.
    #[error("{0}")]
    Exec(String),
    /// A host could not start its workers.
    #[error("cannot start host {host}: {source}")]
    Host {
        /// Host entry id.
        host: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The runtime itself failed while running (a worker loop died): every process is gone.
    #[error("internal error: {0}")]
    Internal(String),
    /// The node could not join its cluster.
    #[error("{0}")]
    Cluster(String),
    /// An `http.service` could not start (its address, routes or files).
    #[error("{0}")]
    Http(String),
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
}
