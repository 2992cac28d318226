//! Errors of the entry layer: every message is lowercase and names the failing input (file,
//! YAML line, entry id or index, command-line argument), so a user can go and fix it.
//!
//! [`IdError`] is defined beside the id it parses ([`crate::id`]) and re-exported here.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::id::EntryId;
pub use crate::id::IdError;

/// A malformed Go duration string (SPEC 8.3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Empty input, a stray character, or a number without digits (`"."`, `"1x"` is
    /// [`DurationError::UnknownUnit`]).
    #[error("invalid duration {0:?}")]
    Invalid(String),
    /// A number without a unit, such as `"5"`.
    #[error("missing unit in duration {0:?}")]
    MissingUnit(String),
    /// A unit other than `ns us µs μs ms s m h`.
    #[error("unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole duration string.
        input: String,
    },
    /// The value does not fit in an `i64` of nanoseconds (about 292 years).
    #[error("duration {0:?} is out of range")]
    Overflow(String),
    /// A negative duration where only zero or more makes sense (lifecycle timeouts).
    #[error("duration {0:?} must not be negative")]
    Negative(String),
}

/// Which entry of a definition file a [`Site`] points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryRef {
    /// The entry's id is known.
    Id(EntryId),
    /// Only the 0-based position in the file's `entries:` list is known (the name is missing).
    Index(usize),
}

impl fmt::Display for EntryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntryRef::Id(id) => write!(f, "entry {id}"),
            EntryRef::Index(i) => write!(f, "entries[{i}]"),
        }
    }
}

/// A place in a project file: path, 1-based line and column where known, and the entry.
///
/// Displays as `src/_index.yaml:12:5: entry app:relay` (parts that are unknown are left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column; only given for syntax errors.
    pub column: Option<usize>,
    /// The entry concerned, if any.
    pub entry: Option<EntryRef>,
}

impl Site {
    /// A site naming only a file.
    pub fn file(file: impl Into<PathBuf>) -> Site {
        Site {
            file: file.into(),
            line: None,
            column: None,
            entry: None,
        }
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if let Some(entry) = &self.entry {
            write!(f, ": {entry}")?;
        }
        Ok(())
    }
}

/// Why loading a project (lock file, configuration, definition files) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A file or directory could not be read or written.
    #[error("cannot access {}: {source}", path.display())]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: io::Error,
    },
    /// `wippy.lock` does not exist.
    #[error("lock file {} not found (run `starling init` to create it)", path.display())]
    LockNotFound {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// `wippy.lock` exists but its content is not usable.
    #[error("lock file {}: {message}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// What is wrong, e.g. `src directory is empty`.
        message: String,
    },
    /// A YAML or JSON file does not parse.
    ///
    /// The message stays on one line; [`LoadError::snippet`] gives the offending lines with a
    /// caret under the column, ready to print below it.
    #[error("{site}: syntax error: {message}")]
    Syntax {
        /// File, line and column.
        site: Box<Site>,
        /// The parser's message.
        message: String,
        /// A few source lines around the error, with a caret, as rendered by serde-saphyr.
        snippet: Option<String>,
    },
    /// A `--config` file does not exist.
    #[error("config file {} not found", path.display())]
    ConfigNotFound {
        /// The path as given (joined to the project directory when relative).
        path: PathBuf,
    },
    /// A configuration value is malformed.
    #[error("config {key}: {message}")]
    Config {
        /// Dotted key, e.g. `shutdown.timeout`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A configuration file is not a mapping, or a `${env:NAME}` cannot be replaced.
    #[error("config file {}: {message}", path.display())]
    ConfigFile {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A `--set section.path=value` argument is malformed.
    #[error("invalid --set {arg:?}: {message}")]
    Set {
        /// The argument as given.
        arg: String,
        /// What is wrong.
        message: String,
    },
    /// An entry override (`-o ns:entry:path=value` or the config `override:` map) is malformed
    /// or names an entry that does not exist.
    #[error("override {target:?}: {message}")]
    Override {
        /// The override as given (`-o` argument or `override:` key).
        target: String,
        /// What is wrong.
        message: String,
    },
    /// A definition file or one of its entries is invalid: shape, missing `name`/`kind`, a
    /// `file://` reference, or a kind-specific field.
    #[error("{site}: {message}")]
    Definition {
        /// File, line where known, and entry id or index.
        site: Box<Site>,
        /// What is wrong, e.g. `process is required`.
        message: String,
    },
    /// Two entries share an id.
    #[error("duplicate entry id {id}: defined in {first} and in {second}")]
    DuplicateId {
        /// The id.
        id: EntryId,
        /// The first definition (file and line).
        first: Box<Site>,
        /// The second definition (file and line).
        second: Box<Site>,
    },
}

impl LoadError {
    /// The source lines around a syntax error, with a caret under the column, if any.
    pub fn snippet(&self) -> Option<&str> {
        match self {
            LoadError::Syntax { snippet, .. } => snippet.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> LoadError {
        LoadError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn definition(site: &Site, message: impl Into<String>) -> LoadError {
        LoadError::Definition {
            site: Box::new(site.clone()),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_display_leaves_out_unknown_parts() {
        let mut site = Site::file("src/a.yaml");
        assert_eq!(site.to_string(), "src/a.yaml");
        site.line = Some(4);
        assert_eq!(site.to_string(), "src/a.yaml:4");
        site.column = Some(7);
        site.entry = Some(EntryRef::Index(2));
        assert_eq!(site.to_string(), "src/a.yaml:4:7: entries[2]");
        site.column = None;
        site.entry = Some(EntryRef::Id(EntryId::new("app", "x")));
        assert_eq!(site.to_string(), "src/a.yaml:4: entry app:x");
    }

    #[test]
    fn definition_error_reads_as_one_line() {
        let site = Site {
            file: "src/_index.yaml".into(),
            line: Some(9),
            column: None,
            entry: Some(EntryRef::Id(EntryId::new("app", "svc"))),
        };
        let err = LoadError::definition(&site, "process is required");
        assert_eq!(
            err.to_string(),
            "src/_index.yaml:9: entry app:svc: process is required"
        );
    }

    #[test]
    fn lock_not_found_hints_init() {
        let err = LoadError::LockNotFound {
            path: "wippy.lock".into(),
        };
        assert_eq!(
            err.to_string(),
            "lock file wippy.lock not found (run `starling init` to create it)"
        );
    }
}
