//! Where an entry is defined: its file, line and position in the file.

use std::path::PathBuf;

/// Where an entry is defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The definition file.
    pub file: PathBuf,
    /// 1-based line where the entry's mapping starts (for a single-entry file: the line of its
    /// `name:`), when the parser reported it.
    pub line: Option<usize>,
    /// 0-based position in the file's `entries:` list; `None` for a single-entry file.
    pub index: Option<usize>,
}
