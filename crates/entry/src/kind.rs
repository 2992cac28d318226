//! Entry kinds Starling runs (SPEC 2): their names, typed specs and checks, and
//! [`EntrySpec`], the typed form of an entry, one variant per kind.

mod env;
pub(crate) mod fields;
mod fs;
mod host;
mod http;
pub mod known;
mod lua;
mod service;

use std::path::PathBuf;

use serde_json::{Map, Value};

pub use self::env::{
    ENV_STORAGE_FILE, ENV_STORAGE_MEMORY, ENV_STORAGE_OS, ENV_STORAGE_ROUTER, ENV_STORAGE_STATIC,
    ENV_VARIABLE, EnvSpec,
};
pub use self::fs::FsDirectorySpec;
pub use self::host::{
    DEFAULT_LOCAL_QUEUE_SIZE, DEFAULT_MAX_MAILBOX, DEFAULT_MEMORY_LIMIT, DEFAULT_QUEUE_SIZE,
    DEFAULT_WATCHDOG, MAX_MAILBOX_LIMIT, MAX_MEMORY_LIMIT, MAX_WATCHDOG, MAX_WORKERS,
    MIN_MEMORY_LIMIT, MIN_WATCHDOG, ProcessHostSpec, TerminalHostSpec, parse_size,
};
pub use self::http::{
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_BODY, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_READ_TIMEOUT, DEFAULT_WRITE_TIMEOUT, HttpEndpointSpec, HttpRouterSpec, HttpServiceSpec,
    HttpStaticSpec, METHODS, MIDDLEWARE, MIN_MAX_HEADER_BYTES, RoutePath, RouteSegment,
};
pub use self::lua::{LuaSpec, SourceOrigin};
pub use self::service::{CONTROL_HOST, ServiceSpec};

use crate::error::{LoadError, Site};
use crate::id::EntryId;
use crate::lifecycle::Lifecycle;
use crate::origin::Origin;
use fields::Fields;

/// `process.host`.
pub const PROCESS_HOST: &str = "process.host";
/// `terminal.host`.
pub const TERMINAL_HOST: &str = "terminal.host";
/// `process.lua`.
pub const PROCESS_LUA: &str = "process.lua";
/// `library.lua`.
pub const LIBRARY_LUA: &str = "library.lua";
/// `function.lua`.
pub const FUNCTION_LUA: &str = "function.lua";
/// `process.service`.
pub const PROCESS_SERVICE: &str = "process.service";
/// `registry.entry`: a data entry (meta and data only), for the `registry` module.
pub const REGISTRY_ENTRY: &str = "registry.entry";

/// `http.service`.
pub const HTTP_SERVICE: &str = "http.service";
/// `http.router`.
pub const HTTP_ROUTER: &str = "http.router";
/// `http.endpoint`.
pub const HTTP_ENDPOINT: &str = "http.endpoint";
/// `http.static`.
pub const HTTP_STATIC: &str = "http.static";
/// `fs.directory`.
pub const FS_DIRECTORY: &str = "fs.directory";

/// Every kind with a typed spec, in SPEC order, then the HTTP kinds.
pub const SUPPORTED_KINDS: [&str; 17] = [
    PROCESS_HOST,
    TERMINAL_HOST,
    PROCESS_LUA,
    LIBRARY_LUA,
    FUNCTION_LUA,
    PROCESS_SERVICE,
    ENV_STORAGE_OS,
    ENV_STORAGE_MEMORY,
    ENV_STORAGE_FILE,
    ENV_STORAGE_STATIC,
    ENV_STORAGE_ROUTER,
    ENV_VARIABLE,
    HTTP_SERVICE,
    HTTP_ROUTER,
    HTTP_ENDPOINT,
    HTTP_STATIC,
    FS_DIRECTORY,
];

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
    Env(EnvSpec),
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
    pub fn lifecycle(&self) -> Option<&Lifecycle> {
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

/// What the spec of one entry is built from.
#[derive(Debug)]
pub(crate) struct SpecInput<'a> {
    pub(crate) id: &'a EntryId,
    pub(crate) kind: &'a str,
    pub(crate) data: &'a Map<String, Value>,
    /// The entry's `meta` (the HTTP kinds link to their parents there).
    pub(crate) meta: &'a Map<String, Value>,
    pub(crate) origin: &'a Origin,
    pub(crate) site: &'a Site,
    /// The file a top-level `source: file://...` was read from.
    pub(crate) source_file: Option<PathBuf>,
    /// The line of the `source:` key, for inline sources.
    pub(crate) source_line: Option<usize>,
}

/// Checks an entry's data against its kind. Returns the spec and, for a kind Starling does
/// not implement, the warning to report.
pub(crate) fn build_spec(input: SpecInput<'_>) -> Result<(EntrySpec, Option<String>), LoadError> {
    let fields = Fields::new(input.site, &input.id.namespace, input.data);
    let spec = match input.kind {
        PROCESS_HOST => EntrySpec::ProcessHost(ProcessHostSpec::from_fields(&fields)?),
        TERMINAL_HOST => EntrySpec::TerminalHost(TerminalHostSpec::from_fields(&fields)?),
        PROCESS_LUA => EntrySpec::LuaProcess(LuaSpec::from_fields(&fields, &input, false)?),
        LIBRARY_LUA => EntrySpec::LuaLibrary(LuaSpec::from_fields(&fields, &input, false)?),
        FUNCTION_LUA => EntrySpec::LuaFunction(LuaSpec::from_fields(&fields, &input, true)?),
        PROCESS_SERVICE => EntrySpec::Service(ServiceSpec::from_fields(&fields)?),
        ENV_STORAGE_OS | ENV_STORAGE_MEMORY | ENV_STORAGE_FILE | ENV_STORAGE_STATIC
        | ENV_STORAGE_ROUTER | ENV_VARIABLE => {
            EntrySpec::Env(EnvSpec::from_fields(input.kind, &fields)?)
        }
        // Pure data, read through the `registry` module: nothing to run, nothing to warn about.
        REGISTRY_ENTRY => return Ok((EntrySpec::Unsupported, None)),
        HTTP_SERVICE => EntrySpec::HttpService(HttpServiceSpec::from_fields(&fields)?),
        HTTP_ROUTER => EntrySpec::HttpRouter(HttpRouterSpec::from_fields(&fields, input.meta)?),
        HTTP_ENDPOINT => {
            EntrySpec::HttpEndpoint(HttpEndpointSpec::from_fields(&fields, input.meta)?)
        }
        HTTP_STATIC => EntrySpec::HttpStatic(HttpStaticSpec::from_fields(&fields, input.meta)?),
        FS_DIRECTORY => EntrySpec::FsDirectory(FsDirectorySpec::from_fields(&fields)?),
        other => {
            let hint = crate::suggest::hint(other, SUPPORTED_KINDS.iter().copied());
            let warning = format!(
                "{}: kind {other} is not supported by starling{hint}; entry ignored",
                input.site
            );
            return Ok((EntrySpec::Unsupported, Some(warning)));
        }
    };
    Ok((spec, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::EntryRef;

    fn build(kind: &str, data: serde_json::Value) -> Result<(EntrySpec, Option<String>), String> {
        let id = EntryId::new("app", "e");
        let origin = Origin {
            file: "src/a.yaml".into(),
            line: Some(2),
            index: Some(0),
        };
        let site = Site {
            file: origin.file.clone(),
            line: origin.line,
            column: None,
            entry: Some(EntryRef::Id(id.clone())),
        };
        let map = data.as_object().expect("object").clone();
        let meta = serde_json::json!({"server": "gateway", "router": "api"});
        build_spec(SpecInput {
            id: &id,
            kind,
            data: &map,
            meta: meta.as_object().expect("object"),
            origin: &origin,
            site: &site,
            source_file: Some("src/e.lua".into()),
            source_line: None,
        })
        .map_err(|e| e.to_string())
    }

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
    fn dispatches_by_kind() {
        let source = serde_json::json!({"source": "return 1", "method": "main"});
        assert!(matches!(
            build(PROCESS_LUA, source.clone()),
            Ok((EntrySpec::LuaProcess(_), None))
        ));
        assert!(matches!(
            build(LIBRARY_LUA, source.clone()),
            Ok((EntrySpec::LuaLibrary(_), None))
        ));
        let Ok((EntrySpec::LuaFunction(spec), None)) = build(FUNCTION_LUA, source) else {
            panic!("function.lua");
        };
        assert_eq!(spec.source_origin, SourceOrigin::File("src/e.lua".into()));
        assert!(matches!(
            build(PROCESS_HOST, serde_json::json!({})),
            Ok((EntrySpec::ProcessHost(_), None))
        ));
        assert!(matches!(
            build(TERMINAL_HOST, serde_json::json!({})),
            Ok((EntrySpec::TerminalHost(_), None))
        ));
        assert!(matches!(
            build(
                PROCESS_SERVICE,
                serde_json::json!({"process": "p", "host": "h"})
            ),
            Ok((EntrySpec::Service(_), None))
        ));
        let http = [
            (HTTP_SERVICE, serde_json::json!({"addr": ":8080"})),
            (HTTP_ROUTER, serde_json::json!({})),
            (
                HTTP_ENDPOINT,
                serde_json::json!({"method": "GET", "path": "/", "func": "f"}),
            ),
            (
                HTTP_STATIC,
                serde_json::json!({"path": "/", "fs": "public"}),
            ),
            (FS_DIRECTORY, serde_json::json!({"directory": "."})),
        ];
        for (kind, data) in http {
            let (spec, warning) = build(kind, data).expect(kind);
            let typed = matches!(
                (kind, &spec),
                (HTTP_SERVICE, EntrySpec::HttpService(_))
                    | (HTTP_ROUTER, EntrySpec::HttpRouter(_))
                    | (HTTP_ENDPOINT, EntrySpec::HttpEndpoint(_))
                    | (HTTP_STATIC, EntrySpec::HttpStatic(_))
                    | (FS_DIRECTORY, EntrySpec::FsDirectory(_))
            );
            assert!(warning.is_none() && typed, "{kind}");
        }
    }

    #[test]
    fn mistyped_kinds_get_a_suggestion() {
        let (_, warning) = build("proces.lua", serde_json::json!({})).expect("loads");
        assert!(
            warning.is_some_and(|w| w.contains("(did you mean 'process.lua'?)")),
            "suggestion"
        );
    }

    #[test]
    fn unknown_kind_is_unsupported_with_a_warning() {
        assert_eq!(
            build("db.sql.postgres", serde_json::json!({"dsn": "x"})),
            Ok((
                EntrySpec::Unsupported,
                Some("src/a.yaml:2: entry app:e: kind db.sql.postgres is not supported by starling; entry ignored".into())
            ))
        );
    }
}
