//! An entry loaded into a VM, ready to spawn.

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
}
