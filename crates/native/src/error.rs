//! Typed errors of the native API. Each converts into the [`ErrorValue`] a process can end
//! with, so `?` works inside a process body.

use starling_core::codec::PayloadError;
use starling_core::{ErrorKind, ErrorValue};

/// Why a [`send`](crate::Context::send) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// No live process has this pid, or no process is registered under this name.
    #[error("process not found: {0}")]
    NotFound(String),
    /// The value could not become a payload.
    #[error("payload: {0}")]
    Payload(#[from] PayloadError),
}

/// Why a spawn failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// No host has this entry id.
    #[error("host not found: {0}")]
    HostNotFound(String),
    /// The host exists but is not running (`lifecycle.auto_start: false`).
    #[error("host {0} not running")]
    HostNotRunning(String),
    /// The arguments could not become a payload.
    #[error("payload: {0}")]
    Payload(#[from] PayloadError),
    /// The host refused or failed the spawn: an unknown entry (kind `NotFound`), a Lua chunk
    /// that failed at load, a name already taken, a busy terminal host.
    #[error("{0}")]
    Failed(ErrorValue),
}

/// Why registering a native process kind failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum KindError {
    /// The id is not of the form `namespace:name`.
    #[error("invalid entry id {0:?}: expected namespace:name")]
    InvalidId(String),
    /// Another native kind already has this id.
    #[error("native process {0} is registered twice")]
    Duplicate(String),
}

/// Why a relation call (`monitor`, `link`, …) failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelationError {
    /// The other process is not alive.
    #[error("process not found")]
    NotFound,
    /// Already monitoring it.
    #[error("already monitoring this process")]
    AlreadyExists,
}

/// Why a name registration failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegisterError {
    /// The name is empty.
    #[error("name cannot be empty")]
    Empty,
    /// Another live process holds the name.
    #[error("name already registered")]
    Taken,
}

impl From<SendError> for ErrorValue {
    fn from(e: SendError) -> ErrorValue {
        match e {
            SendError::NotFound(_) => ErrorValue::new(ErrorKind::NotFound, e.to_string()),
            SendError::Payload(p) => p.into(),
        }
    }
}

impl From<SpawnError> for ErrorValue {
    fn from(e: SpawnError) -> ErrorValue {
        match e {
            SpawnError::HostNotFound(_) => ErrorValue::new(ErrorKind::NotFound, e.to_string()),
            SpawnError::HostNotRunning(_) => ErrorValue::new(ErrorKind::Unavailable, e.to_string()),
            SpawnError::Payload(p) => p.into(),
            SpawnError::Failed(v) => v,
        }
    }
}

impl From<RelationError> for ErrorValue {
    fn from(e: RelationError) -> ErrorValue {
        let kind = match e {
            RelationError::NotFound => ErrorKind::NotFound,
            RelationError::AlreadyExists => ErrorKind::AlreadyExists,
        };
        ErrorValue::new(kind, e.to_string())
    }
}

impl From<RegisterError> for ErrorValue {
    fn from(e: RegisterError) -> ErrorValue {
        let kind = match e {
            RegisterError::Empty => ErrorKind::Invalid,
            RegisterError::Taken => ErrorKind::AlreadyExists,
        };
        ErrorValue::new(kind, e.to_string())
    }
}

impl From<KindError> for ErrorValue {
    fn from(e: KindError) -> ErrorValue {
        let kind = match e {
            KindError::InvalidId(_) => ErrorKind::Invalid,
            KindError::Duplicate(_) => ErrorKind::AlreadyExists,
        };
        ErrorValue::new(kind, e.to_string())
    }
}
