//! An entry loaded into a VM, ready to spawn.

use std::cell::Cell;
use std::os::raw::c_int;
use std::sync::Arc;

use mlua::{Function, Table};

use crate::program::Code;

/// An entry ready to spawn on this VM.
pub(crate) struct Prepared {
    pub(crate) code: Arc<Code>,
    pub(crate) chunk: Function,
    /// `{__index = template}`: shared metatable of every process global table of this entry.
    pub(crate) meta: Table,
    /// The same, as registry references for the raw spawn path.
    pub(crate) recipe: crate::ffi::Recipe,
    /// The method kept for later spawns when the chunk is inert and the method captures
    /// nothing (a registry reference); `LUA_NOREF` until the first spawn decides,
    /// `ffi::NOT_CACHEABLE` when it does not qualify. See `ffi::make_process`.
    pub(crate) method_cache: Cell<c_int>,
}
