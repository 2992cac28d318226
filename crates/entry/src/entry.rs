//! A loaded entry: its id, kind, free-form meta and data, where it came from, and the checked
//! spec of the kinds Starling runs.

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::error::{EntryRef, Site};
use crate::id::EntryId;
use crate::kind::{
    FsDirectorySpec, HttpEndpointSpec, HttpRouterSpec, HttpServiceSpec, HttpStaticSpec, LuaSpec,
    ProcessHostSpec, ServiceSpec, TerminalHostSpec,
};

/// One named definition of the registry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `namespace:name`.
    pub id: EntryId,
    /// The kind as written (`process.lua`, `http.service`, ...).
    pub kind: String,
    /// Free-form metadata: file-level `meta` merged with the entry's (entry keys win).
    pub meta: Map<String, Value>,
    /// The entry's fields other than `name`, `kind` and `meta` (or its `data:` value), with
    /// `file://` references replaced by file contents and overrides applied.
    pub data: Map<String, Value>,
    /// Where the entry is defined.
    pub origin: Origin,
    /// The checked, typed form of `data` for the kinds Starling implements.
    pub spec: EntrySpec,
}

impl Entry {
    /// A [`Site`] naming this entry, for error messages of later layers.
    pub fn site(&self) -> Site {
        Site {
            file: self.origin.file.clone(),
            line: self.origin.line,
            column: None,
            entry: Some(EntryRef::Id(self.id.clone())),
        }
    }
}

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

/// The typed form of an entry, by kind.
///
/// Deliberately exhaustive: a new kind should make every `match` in the workspace fail to
/// compile until it is handled.
#[derive(Debug, Clone, PartialEq)]
pub enum EntrySpec {
    /// `process.host`: runs Lua processes on a worker pool.
    ProcessHost(ProcessHostSpec),
    /// `terminal.host`: runs one process bound to the terminal.
    TerminalHost(TerminalHostSpec),
    /// `process.lua`: a Lua process definition.
    LuaProcess(LuaSpec),
    /// `library.lua`: a Lua chunk whose value other entries import.
    LuaLibrary(LuaSpec),
    /// `function.lua`: a Lua function called through the `funcs` module.
    LuaFunction(LuaSpec),
    /// `process.service`: a supervised process.
    Service(ServiceSpec),
    /// `http.service`: an HTTP listener.
    HttpService(HttpServiceSpec),
    /// `http.router`: a URL prefix with middleware under an `http.service`.
    HttpRouter(HttpRouterSpec),
    /// `http.endpoint`: a route answered by a `function.lua` entry.
    HttpEndpoint(HttpEndpointSpec),
    /// `http.static`: files of an `fs.directory` served under a path.
    HttpStatic(HttpStaticSpec),
    /// `fs.directory`: a directory on disk.
    FsDirectory(FsDirectorySpec),
    /// `process.native`: a process written in Rust, registered by the program embedding the
    /// runtime ([`crate::Project::add_native`]); never read from a definition file.
    NativeProcess,
    /// `env.storage.*` and `env.variable`.
    Env(crate::kind::EnvSpec),
    /// Any other kind: loaded (with one warning) and otherwise ignored.
    Unsupported,
}

impl EntrySpec {
    /// The Lua spec of `process.lua`, `library.lua` and `function.lua` entries.
    pub fn lua(&self) -> Option<&LuaSpec> {
        match self {
            EntrySpec::LuaProcess(spec)
            | EntrySpec::LuaLibrary(spec)
            | EntrySpec::LuaFunction(spec) => Some(spec),
            _ => None,
        }
    }

    /// The lifecycle of hosts and services.
    pub fn lifecycle(&self) -> Option<&crate::lifecycle::Lifecycle> {
        match self {
            EntrySpec::ProcessHost(spec) => Some(&spec.lifecycle),
            EntrySpec::TerminalHost(spec) => Some(&spec.lifecycle),
            EntrySpec::Service(spec) => Some(&spec.lifecycle),
            EntrySpec::HttpService(spec) => Some(&spec.lifecycle),
            _ => None,
        }
    }

    /// Whether this is a host kind (`process.host` or `terminal.host`).
    pub fn is_host(&self) -> bool {
        matches!(self, EntrySpec::ProcessHost(_) | EntrySpec::TerminalHost(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::TerminalHostSpec;
    use crate::lifecycle::Lifecycle;

    #[test]
    fn spec_helpers() {
        let terminal = EntrySpec::TerminalHost(TerminalHostSpec {
            hide_logs: false,
            lifecycle: Lifecycle {
                auto_start: true,
                ..Lifecycle::default()
            },
        });
        assert!(terminal.is_host());
        assert!(terminal.lifecycle().expect("host lifecycle").auto_start);
        assert!(terminal.lua().is_none());
        assert!(!EntrySpec::Unsupported.is_host());
        assert!(EntrySpec::Unsupported.lifecycle().is_none());
    }

    #[test]
    fn site_names_the_entry() {
        let entry = Entry {
            id: EntryId::new("app", "x"),
            kind: "x.y".into(),
            meta: Map::new(),
            data: Map::new(),
            origin: Origin {
                file: "src/a.yaml".into(),
                line: Some(12),
                index: Some(3),
            },
            spec: EntrySpec::Unsupported,
        };
        assert_eq!(entry.site().to_string(), "src/a.yaml:12: entry app:x");
    }
}
