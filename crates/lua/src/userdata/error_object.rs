//! The error object scripts hold (SPEC §9.3): the data behind it. Its methods are in
//! `userdata::error`; this file is a leaf so value conversions can name the type.

use starling_core::{ErrorKind, ErrorValue};

/// The Lua error object.
#[derive(Debug, Clone)]
pub struct LuaErrorObject(pub ErrorValue);

impl LuaErrorObject {
    /// Wraps an error value.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> LuaErrorObject {
        LuaErrorObject(ErrorValue::new(kind, message))
    }
}
