//! Errors of the Lua layer.

use thiserror::Error;

/// A problem found while compiling a project's Lua entries.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProgramError {
    /// The source does not parse.
    #[error("{file}:{}: {message} (entry {entry})", line.map(|l| l.to_string()).unwrap_or_else(|| "?".into()))]
    Syntax {
        /// Entry id.
        entry: String,
        /// Source file (or YAML file for inline sources).
        file: String,
        /// Line in `file`, when known.
        line: Option<usize>,
        /// Luau's message.
        message: String,
    },
    /// `modules:` names something Starling does not have: the entry is disabled.
    #[error("{site}: entry {entry}: unknown module '{module}'{hint}")]
    UnknownModule {
        /// Entry id.
        entry: String,
        /// The unknown name.
        module: String,
        /// The definition file and line of the entry.
        site: String,
        /// ` (did you mean 'x'?)` or empty.
        hint: String,
    },
    /// `imports:` names a missing entry, something that is not a library, or forms a cycle.
    #[error("{file}: entry {entry}: {message}")]
    Import {
        /// Entry id.
        entry: String,
        /// Where the entry's source is.
        file: String,
        /// What is wrong.
        message: String,
    },
}
