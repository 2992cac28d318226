//! Payload values: what crosses a process boundary (SPEC §6).
//!
//! A [`Payload`] is an owned, `Send` copy of zero or more values. Tables live in an arena inside
//! the payload and are referred to by index, so shared sub-tables and cycles keep their shape
//! without reference counting: one arena slot per original table.

use std::fmt;

/// One value inside a [`Payload`].
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `nil`.
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integral number.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// A byte string (Lua strings are binary-safe).
    Str(Box<[u8]>),
    /// A table: index into [`Payload::tables`].
    Table(u32),
    /// An error object.
    Error(Box<ErrorValue>),
}

impl Value {
    /// A string value from UTF-8 text.
    pub fn str(s: impl AsRef<str>) -> Value {
        Value::Str(s.as_ref().as_bytes().into())
    }

    /// A number: `Int` when `f` is integral and fits, else `Float`.
    pub fn number(f: f64) -> Value {
        if f.fract() == 0.0 && (-9.007_199_254_740_992e15..=9.007_199_254_740_992e15).contains(&f) {
            Value::Int(f as i64)
        } else {
            Value::Float(f)
        }
    }
}

/// A table copied out of a Lua state: the array part `1..n` and the other keys.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Values at keys `1..=array.len()`.
    pub array: Vec<Value>,
    /// Every other key/value pair, in no particular order.
    pub hash: Vec<(Value, Value)>,
}

/// Zero or more values plus the tables they refer to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Payload {
    /// The values, in order (a `send` with three payload arguments has three).
    pub values: Vec<Value>,
    /// Table arena for [`Value::Table`] indices.
    pub tables: Vec<Table>,
}

impl Payload {
    /// An empty payload (no values).
    pub const fn empty() -> Payload {
        Payload {
            values: Vec::new(),
            tables: Vec::new(),
        }
    }

    /// A payload of one scalar value.
    pub fn one(v: Value) -> Payload {
        Payload {
            values: vec![v],
            tables: Vec::new(),
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The first value only, with the tables it reaches (a process result is its first return).
    pub fn first(mut self) -> Payload {
        self.values.truncate(1);
        self
    }
}

/// Error kinds (SPEC §9.3); `as_str` gives the Wippy spelling Lua code compares against.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `""`: no kind given.
    Unknown,
    /// `NotFound`.
    NotFound,
    /// `AlreadyExists`.
    AlreadyExists,
    /// `Invalid`.
    Invalid,
    /// `PermissionDenied`.
    PermissionDenied,
    /// `Unavailable`.
    Unavailable,
    /// `Internal`.
    Internal,
    /// `Canceled`.
    Canceled,
    /// `Conflict`.
    Conflict,
    /// `Timeout`.
    Timeout,
    /// `RateLimited`.
    RateLimited,
}

impl ErrorKind {
    /// Every kind with its Lua constant name (`NOT_FOUND`) and value (`NotFound`).
    pub const ALL: [(ErrorKind, &'static str, &'static str); 11] = [
        (ErrorKind::NotFound, "NOT_FOUND", "NotFound"),
        (ErrorKind::AlreadyExists, "ALREADY_EXISTS", "AlreadyExists"),
        (ErrorKind::Invalid, "INVALID", "Invalid"),
        (
            ErrorKind::PermissionDenied,
            "PERMISSION_DENIED",
            "PermissionDenied",
        ),
        (ErrorKind::Unavailable, "UNAVAILABLE", "Unavailable"),
        (ErrorKind::Internal, "INTERNAL", "Internal"),
        (ErrorKind::Canceled, "CANCELED", "Canceled"),
        (ErrorKind::Conflict, "CONFLICT", "Conflict"),
        (ErrorKind::Timeout, "TIMEOUT", "Timeout"),
        (ErrorKind::RateLimited, "RATE_LIMITED", "RateLimited"),
        (ErrorKind::Unknown, "UNKNOWN", ""),
    ];

    /// The kind's string value as Lua sees it.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(k, _, _)| *k == self)
            .map(|(_, _, s)| *s)
            .unwrap_or("")
    }

    /// Parses a kind from its value (`NotFound`) or constant name (`NOT_FOUND`).
    pub fn parse(s: &str) -> Option<ErrorKind> {
        Self::ALL
            .iter()
            .find(|(_, c, v)| *v == s || *c == s)
            .map(|(k, _, _)| *k)
    }
}

/// An error object as it crosses processes: the data behind Lua's error userdata.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorValue {
    /// Kind, for `errors.is`.
    pub kind: ErrorKind,
    /// Message (for a wrapped error, only this layer's text).
    pub message: String,
    /// `true`/`false`, or `None` when unknown.
    pub retryable: Option<bool>,
    /// Optional details table.
    pub details: Option<Box<Payload>>,
    /// Lua traceback where the error was raised, when known.
    pub stack: Option<String>,
    /// The wrapped error, for `errors.wrap`.
    pub cause: Option<Box<ErrorValue>>,
}

impl ErrorValue {
    /// A new error of `kind` with `message`, not retryable (runtime errors default to that).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ErrorValue {
        ErrorValue {
            kind,
            message: message.into(),
            retryable: Some(false),
            details: None,
            stack: None,
            cause: None,
        }
    }

    /// Sets `retryable`.
    pub fn retryable(mut self, r: Option<bool>) -> ErrorValue {
        self.retryable = r;
        self
    }

    /// The full message: `outer: inner` for wrapped errors.
    pub fn full_message(&self) -> String {
        let mut s = self.message.clone();
        let mut cur = self.cause.as_deref();
        while let Some(c) = cur {
            s.push_str(": ");
            s.push_str(&c.message);
            cur = c.cause.as_deref();
        }
        s
    }

    /// True when this error or one it wraps has `kind`.
    pub fn is(&self, kind: ErrorKind) -> bool {
        let mut cur = Some(self);
        while let Some(e) = cur {
            if e.kind == kind {
                return true;
            }
            cur = e.cause.as_deref();
        }
        false
    }
}

impl fmt::Display for ErrorValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full_message())
    }
}

impl std::error::Error for ErrorValue {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for (k, c, v) in ErrorKind::ALL {
            assert_eq!(k.as_str(), v);
            assert_eq!(ErrorKind::parse(c), Some(k));
        }
        assert_eq!(ErrorKind::parse("Timeout"), Some(ErrorKind::Timeout));
        assert_eq!(ErrorKind::parse("nope"), None);
    }

    #[test]
    fn wrapped_messages_chain() {
        let inner = ErrorValue::new(ErrorKind::NotFound, "no such thing");
        let mut outer = ErrorValue::new(ErrorKind::NotFound, "loading");
        outer.cause = Some(Box::new(inner));
        assert_eq!(outer.to_string(), "loading: no such thing");
        assert!(outer.is(ErrorKind::NotFound));
        assert!(!outer.is(ErrorKind::Timeout));
    }

    #[test]
    fn integral_numbers_become_ints() {
        assert_eq!(Value::number(3.0), Value::Int(3));
        assert_eq!(Value::number(3.5), Value::Float(3.5));
        assert_eq!(Value::number(1e300), Value::Float(1e300));
    }
}
