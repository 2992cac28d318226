//! Payload values: what crosses a process boundary (SPEC §6).
//!
//! A [`Payload`] is an owned, `Send` copy of zero or more values. Tables live in an arena inside
//! the payload and are referred to by index, so shared sub-tables and cycles keep their shape
//! without reference counting: one arena slot per original table.

use std::fmt;

use crate::bytestr::ByteStr;

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
    /// A byte string (Lua strings are binary-safe); short ones are kept in place.
    Str(ByteStr),
    /// A table: index into [`Payload::tables`].
    Table(u32),
    /// An error object.
    Error(Box<ErrorValue>),
}

impl Value {
    /// A string value from UTF-8 text.
    pub fn str(s: impl AsRef<str>) -> Value {
        Value::Str(ByteStr::from(s.as_ref()))
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
    /// A copy whose error objects nest at most `depth` deep ([`ErrorValue::clamped`]); with
    /// `depth` 0 they become nil.
    pub fn clamped_errors(&self, depth: usize) -> Payload {
        let clamp = |v: &Value| match v {
            Value::Error(_) if depth == 0 => Value::Nil,
            Value::Error(e) => Value::Error(Box::new(e.clamped(depth))),
            other => other.clone(),
        };
        Payload {
            values: self.values.iter().map(clamp).collect(),
            tables: self
                .tables
                .iter()
                .map(|t| Table {
                    array: t.array.iter().map(clamp).collect(),
                    hash: t.hash.iter().map(|(k, v)| (clamp(k), clamp(v))).collect(),
                })
                .collect(),
        }
    }

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

    /// About how many bytes of memory the payload holds (its values, tables and strings), for
    /// the mailbox limits. Tables sit in a flat arena, so this walks without recursion (error
    /// objects nest at most [`MAX_ERROR_DEPTH`] deep).
    pub fn heap_bytes(&self) -> usize {
        const VALUE: usize = std::mem::size_of::<Value>();
        let mut n = self.values.len() * VALUE + self.values.iter().map(value_bytes).sum::<usize>();
        for t in &self.tables {
            n += std::mem::size_of::<Table>()
                + (t.array.len() + 2 * t.hash.len()) * VALUE
                + t.array.iter().map(value_bytes).sum::<usize>()
                + t.hash
                    .iter()
                    .map(|(k, v)| value_bytes(k) + value_bytes(v))
                    .sum::<usize>();
        }
        n
    }

    /// The first value only, with the tables it reaches (a process result is its first return).
    pub fn first(mut self) -> Payload {
        self.values.truncate(1);
        self
    }
}

/// Bytes a value holds outside its own slot.
fn value_bytes(v: &Value) -> usize {
    match v {
        Value::Str(s) => s.heap_len(),
        Value::Error(e) => e.heap_bytes(),
        _ => 0,
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

/// How deeply errors nest (through causes and error objects inside details) in an error that
/// a script builds: deeper nesting is cut by [`ErrorValue::clamped`], so cloning, comparing and
/// dropping an error, which recurse, stay shallow whatever a script does in a loop.
pub const MAX_ERROR_DEPTH: usize = 32;

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

    /// A copy with errors nested at most `depth` deep (counting this one). A cause chain that
    /// is too long keeps its outer layers and its root cause, dropping the layers between;
    /// error objects inside details that would be too deep become nil.
    pub fn clamped(&self, depth: usize) -> ErrorValue {
        let depth = depth.max(1);
        let cause = match &self.cause {
            None => None,
            Some(_) if depth == 1 => None,
            Some(c) if depth == 2 => {
                // The last level: the root cause (found without recursion) stands for the rest.
                let mut root = c.as_ref();
                while let Some(next) = root.cause.as_deref() {
                    root = next;
                }
                Some(Box::new(root.clamped(1)))
            }
            Some(c) => Some(Box::new(c.clamped(depth - 1))),
        };
        ErrorValue {
            kind: self.kind,
            message: self.message.clone(),
            retryable: self.retryable,
            details: self
                .details
                .as_ref()
                .map(|d| Box::new(d.clamped_errors(depth - 1))),
            stack: self.stack.clone(),
            cause,
        }
    }

    /// About how many bytes the error holds (see [`Payload::heap_bytes`]).
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<ErrorValue>()
            + self.message.len()
            + self.stack.as_ref().map_or(0, String::len)
            + self.details.as_ref().map_or(0, |d| d.heap_bytes())
            + self.cause.as_ref().map_or(0, |c| c.heap_bytes())
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
    fn clamped_errors_stay_shallow() {
        let mut e = ErrorValue::new(ErrorKind::NotFound, "root");
        for i in 0..100_000 {
            let mut outer = ErrorValue::new(ErrorKind::Unknown, format!("w{i}"));
            outer.cause = Some(Box::new(e.clamped(MAX_ERROR_DEPTH - 1)));
            e = outer;
        }
        let mut depth = 1;
        let mut cur = &e;
        while let Some(c) = cur.cause.as_deref() {
            depth += 1;
            cur = c;
        }
        assert_eq!(depth, MAX_ERROR_DEPTH);
        assert_eq!(cur.message, "root", "the root cause is kept");
        assert!(e.is(ErrorKind::NotFound));
        assert!(e.full_message().starts_with("w99999: w99998"));
        let copy = e.clone();
        assert_eq!(copy, e);

        // Errors inside details count as one level deeper.
        let mut d = ErrorValue::new(ErrorKind::Invalid, "inner");
        for _ in 0..100_000 {
            let mut details = Payload::empty();
            details.values.push(Value::Error(Box::new(d)));
            let mut outer = ErrorValue::new(ErrorKind::Invalid, "outer");
            outer.details = Some(Box::new(details.clamped_errors(MAX_ERROR_DEPTH - 1)));
            d = outer;
        }
        let mut depth = 1;
        let mut cur = &d;
        while let Some(Value::Error(inner)) = cur.details.as_ref().and_then(|p| p.values.first()) {
            depth += 1;
            cur = inner;
        }
        assert_eq!(depth, MAX_ERROR_DEPTH);
    }

    #[test]
    fn integral_numbers_become_ints() {
        assert_eq!(Value::number(3.0), Value::Int(3));
        assert_eq!(Value::number(3.5), Value::Float(3.5));
        assert_eq!(Value::number(1e300), Value::Float(1e300));
    }
}
