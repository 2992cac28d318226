//! The compiled form of a project's Lua entries, shared read-only by every worker.
//!
//! Sources are compiled to Luau bytecode once at boot, so syntax errors surface before anything
//! runs; each worker VM then loads the bytecode of an entry the first time it spawns it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use starling_core::{ErrorKind, ErrorValue};
use starling_entry::{Entry, EntrySpec, LuaSpec, SourceOrigin};

use crate::error::ProgramError;

/// Modules gated by `modules:` (SPEC §4.3).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Module {
    /// `io`: terminal input/output.
    Io,
    /// `time`.
    Time,
    /// `logger`.
    Logger,
    /// `funcs` (function calls).
    Funcs,
    /// `uuid`.
    Uuid,
    /// `json`.
    Json,
    /// `env`.
    Env,
    /// `registry`.
    Registry,
    /// `events`.
    Events,
    /// `system`.
    System,
    /// `http`: the request and response of an HTTP handler.
    Http,
    /// `http_client`: outgoing HTTP requests.
    HttpClient,
    /// `websocket`: WebSocket client connections.
    Websocket,
}

impl Module {
    /// Every gated module with its name.
    pub const ALL: [(Module, &'static str); 13] = [
        (Module::Io, "io"),
        (Module::Time, "time"),
        (Module::Logger, "logger"),
        (Module::Funcs, "funcs"),
        (Module::Uuid, "uuid"),
        (Module::Json, "json"),
        (Module::Env, "env"),
        (Module::Registry, "registry"),
        (Module::Events, "events"),
        (Module::System, "system"),
        (Module::Http, "http"),
        (Module::HttpClient, "http_client"),
        (Module::Websocket, "websocket"),
    ];

    /// The global name the module is installed under.
    pub fn name(self) -> &'static str {
        Module::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map(|(_, n)| *n)
            .unwrap_or("")
    }
}

/// Names of always-present globals that `modules:` may list as no-ops.
pub const GLOBAL_MODULES: [&str; 9] = [
    "process",
    "channel",
    "os",
    "errors",
    "string",
    "table",
    "math",
    "coroutine",
    "payload",
];

/// Every module a script can use, with a line about it (`system.modules()`).
pub const MODULE_DESCRIPTIONS: [(&str, &str); 19] = [
    (
        "process",
        "processes: spawn, send, receive, monitor, link, registry",
    ),
    ("channel", "Go-style channels and select"),
    (
        "coroutine",
        "coroutines, and coroutine.spawn for concurrent tasks",
    ),
    ("errors", "structured error objects"),
    ("payload", "payload values"),
    ("os", "time and date"),
    ("string", "string functions"),
    ("table", "table functions"),
    ("math", "math functions"),
    ("io", "terminal input and output"),
    ("time", "time, durations, timers and tickers"),
    ("logger", "structured logging"),
    ("funcs", "calling function.lua entries"),
    ("uuid", "UUID generation and parsing"),
    ("json", "JSON encoding and decoding"),
    ("env", "environment variables"),
    ("registry", "reading the entry registry"),
    ("events", "the event bus"),
    ("system", "runtime information"),
];

/// What kind of Lua entry a [`Code`] is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CodeKind {
    /// `process.lua`.
    Process,
    /// `library.lua`.
    Library,
    /// `function.lua`.
    Function,
}

/// One compiled Lua entry.
#[derive(Debug)]
pub struct Code {
    /// Entry id, also the chunk name in error messages (`app:worker:3: …`).
    pub id: Arc<str>,
    /// Entry kind.
    pub kind: CodeKind,
    /// Luau bytecode.
    pub bytecode: Vec<u8>,
    /// Exported function to run, if any.
    pub method: Option<String>,
    /// Gated modules to install.
    pub modules: Vec<Module>,
    /// Libraries to install as globals: alias → library entry id.
    pub imports: Vec<(String, Arc<str>)>,
    /// Where the source came from, for messages.
    pub origin: String,
}

/// Every compiled Lua entry of a project.
///
/// An entry that needs something Starling lacks (a module it does not have, or a library that
/// does) is *disabled*, not fatal: the rest of the project runs, boot warns, and spawning or
/// calling the entry fails with the reason (issue 13). Syntax errors and broken imports stay
/// load errors.
#[derive(Debug, Default)]
pub struct Program {
    codes: FxHashMap<Arc<str>, Arc<Code>>,
    /// Disabled entries and why, with file and line.
    disabled: FxHashMap<Arc<str>, String>,
}

impl Program {
    /// Compiles every Lua entry; returns every load error found, not just the first.
    pub fn build(entries: &[Entry]) -> Result<Program, Vec<ProgramError>> {
        let mut codes = FxHashMap::default();
        let mut disabled = FxHashMap::default();
        let mut errors = Vec::new();
        for e in entries {
            let (kind, spec) = match &e.spec {
                EntrySpec::LuaProcess(s) => (CodeKind::Process, s),
                EntrySpec::LuaLibrary(s) => (CodeKind::Library, s),
                EntrySpec::LuaFunction(s) => (CodeKind::Function, s),
                _ => continue,
            };
            let id: Arc<str> = e.id.to_string().into();
            let site = match e.origin.line {
                Some(line) => format!("{}:{line}", e.origin.file.display()),
                None => e.origin.file.display().to_string(),
            };
            match compile(&id, kind, spec, &site) {
                Ok(code) => {
                    codes.insert(id, Arc::new(code));
                }
                Err(err @ ProgramError::UnknownModule { .. }) => {
                    disabled.insert(id, err.to_string());
                }
                Err(err) => errors.push(err),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        disable_importers(&mut codes, &mut disabled);
        resolve_imports(&mut codes)?;
        Ok(Program { codes, disabled })
    }

    /// The compiled entry `id`, or the error a spawn or call of it gets: NOT_FOUND, with the
    /// reason when the entry is disabled.
    pub fn lookup(&self, id: &str) -> Result<&Arc<Code>, ErrorValue> {
        if let Some(code) = self.codes.get(id) {
            return Ok(code);
        }
        Err(match self.disabled.get(id) {
            Some(reason) => ErrorValue::new(
                ErrorKind::NotFound,
                format!("entry {id} cannot run: {reason}"),
            ),
            None => ErrorValue::new(ErrorKind::NotFound, format!("entry not found: {id}")),
        })
    }

    /// Disabled entries with their reasons, sorted by id.
    pub fn disabled(&self) -> Vec<(&str, &str)> {
        let mut out: Vec<(&str, &str)> = self
            .disabled
            .iter()
            .map(|(id, why)| (&**id, why.as_str()))
            .collect();
        out.sort();
        out
    }

    /// Compiles a single source (tests and embedding).
    pub fn insert_source(
        &mut self,
        id: &str,
        source: &str,
        method: Option<&str>,
        modules: &[&str],
    ) -> Result<(), ProgramError> {
        let spec = LuaSpec {
            source: source.to_string(),
            source_origin: SourceOrigin::Inline {
                yaml: PathBuf::from(id),
                line: None,
            },
            method: method.map(str::to_string),
            modules: modules.iter().map(|s| s.to_string()).collect(),
            imports: BTreeMap::new(),
            auto_start: false,
            host: None,
        };
        let id: Arc<str> = id.into();
        let code = compile(&id, CodeKind::Process, &spec, &id)?;
        self.codes.insert(id, Arc::new(code));
        Ok(())
    }

    /// Looks up a compiled entry.
    pub fn get(&self, id: &str) -> Option<&Arc<Code>> {
        self.codes.get(id)
    }

    /// Number of compiled entries.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// True when no entry is compiled.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

/// Disables every entry that imports a disabled library (transitively), so the import error
/// names the real cause.
fn disable_importers(
    codes: &mut FxHashMap<Arc<str>, Arc<Code>>,
    disabled: &mut FxHashMap<Arc<str>, String>,
) {
    loop {
        let newly: Vec<(Arc<str>, String)> = codes
            .iter()
            .filter_map(|(id, code)| {
                code.imports.iter().find_map(|(_, lib)| {
                    disabled.get(lib).map(|why| {
                        (
                            id.clone(),
                            format!(
                                "{}: entry {id}: imports {lib}, which cannot run: {why}",
                                code.origin
                            ),
                        )
                    })
                })
            })
            .collect();
        if newly.is_empty() {
            return;
        }
        for (id, why) in newly {
            codes.remove(&id);
            disabled.insert(id, why);
        }
    }
}

/// Checks every `imports:` and expands it transitively (SPEC §2.5): afterwards each code's
/// `imports` lists every library it needs, dependencies first, and its `modules` include the
/// modules of those libraries.
fn resolve_imports(codes: &mut FxHashMap<Arc<str>, Arc<Code>>) -> Result<(), Vec<ProgramError>> {
    let mut errors = Vec::new();
    type Imports = Vec<(String, Arc<str>)>;
    let mut resolved: Vec<(Arc<str>, Imports, Vec<Module>)> = Vec::new();
    for (id, code) in codes.iter() {
        if code.imports.is_empty() {
            continue;
        }
        let mut order = Vec::new();
        let mut path = vec![id.clone()];
        match visit(codes, code, &mut path, &mut order) {
            Ok(()) => {
                let mut modules = code.modules.clone();
                for (_, lib) in &order {
                    for m in &codes[lib].modules {
                        if !modules.contains(m) {
                            modules.push(*m);
                        }
                    }
                }
                resolved.push((id.clone(), order, modules));
            }
            Err(message) => errors.push(ProgramError::Import {
                entry: id.to_string(),
                file: code.origin.clone(),
                message,
            }),
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.to_string());
        return Err(errors);
    }
    for (id, imports, modules) in resolved {
        let old = &codes[&id];
        let code = Code {
            id: old.id.clone(),
            kind: old.kind,
            bytecode: old.bytecode.clone(),
            method: old.method.clone(),
            modules,
            imports,
            origin: old.origin.clone(),
        };
        codes.insert(id, Arc::new(code));
    }
    Ok(())
}

/// Depth-first walk of `code`'s imports; `path` holds the entries being visited (for cycles).
fn visit(
    codes: &FxHashMap<Arc<str>, Arc<Code>>,
    code: &Code,
    path: &mut Vec<Arc<str>>,
    order: &mut Vec<(String, Arc<str>)>,
) -> Result<(), String> {
    for (alias, target) in &code.imports {
        let Some(lib) = codes.get(target) else {
            return Err(format!("import '{alias}': library {target} not found"));
        };
        if lib.kind != CodeKind::Library {
            return Err(format!(
                "import '{alias}': {target} is not a library.lua entry"
            ));
        }
        if path.contains(target) {
            let mut cycle: Vec<&str> = path.iter().map(|p| &**p).collect();
            cycle.push(target);
            return Err(format!("import cycle: {}", cycle.join(" -> ")));
        }
        if order.iter().any(|(a, t)| a == alias && t == target) {
            continue;
        }
        path.push(target.clone());
        visit(codes, lib, path, order)?;
        path.pop();
        order.push((alias.clone(), target.clone()));
    }
    Ok(())
}

fn describe(origin: &SourceOrigin) -> (String, usize) {
    match origin {
        SourceOrigin::File(p) => (p.display().to_string(), 0),
        SourceOrigin::Inline { yaml, line } => (yaml.display().to_string(), line.unwrap_or(0)),
    }
}

fn compile(
    id: &Arc<str>,
    kind: CodeKind,
    spec: &LuaSpec,
    site: &str,
) -> Result<Code, ProgramError> {
    let (origin, line_offset) = describe(&spec.source_origin);
    let mut modules = Vec::new();
    for m in &spec.modules {
        if let Some((module, _)) = Module::ALL.iter().find(|(_, n)| n == m) {
            if !modules.contains(module) {
                modules.push(*module);
            }
        } else if !GLOBAL_MODULES.contains(&m.as_str()) {
            let known = Module::ALL
                .iter()
                .map(|(_, n)| *n)
                .chain(GLOBAL_MODULES.iter().copied());
            return Err(ProgramError::UnknownModule {
                entry: id.to_string(),
                module: m.clone(),
                site: site.to_string(),
                hint: starling_entry::suggest::hint(m, known),
            });
        }
    }
    // A UTF-8 byte order mark (editors on Windows write one) is not Lua; it sits on line 1,
    // so dropping it keeps every line number.
    let text = spec.source.strip_prefix('\u{feff}').unwrap_or(&spec.source);
    // Wippy's dialect becomes Luau first; line numbers are unchanged.
    let source = crate::syntax::rewrite(text).map_err(|e| ProgramError::Syntax {
        entry: id.to_string(),
        file: origin.clone(),
        line: Some(e.line + line_offset),
        message: e.message,
    })?;
    let bytecode = mlua::chunk::Compiler::new()
        .set_optimization_level(1)
        .set_debug_level(1)
        .compile(source.as_bytes())
        .map_err(|e| {
            let raw = match &e {
                mlua::Error::SyntaxError { message, .. } => message.clone(),
                other => other.to_string(),
            };
            syntax_error(id, &origin, line_offset, &raw)
        })?;
    Ok(Code {
        id: id.clone(),
        kind,
        bytecode,
        method: spec.method.clone(),
        modules,
        imports: spec
            .imports
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string().into()))
            .collect(),
        origin,
    })
}

/// Turns Luau's `[string "…"]:3: msg` or `:3: msg` into `file:line: msg`.
fn syntax_error(id: &str, origin: &str, line_offset: usize, raw: &str) -> ProgramError {
    let (line, msg) = parse_line_prefix(raw);
    let line = line.map(|l| l + line_offset);
    ProgramError::Syntax {
        entry: id.to_string(),
        file: origin.to_string(),
        line,
        message: msg.trim().to_string(),
    }
}

fn parse_line_prefix(raw: &str) -> (Option<usize>, &str) {
    // Luau's compiler reports "<line>: message"; loaded chunks report "<name>:<line>: message".
    let digits = raw.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && raw.as_bytes().get(digits) == Some(&b':') {
        return (raw[..digits].parse().ok(), &raw[digits + 1..]);
    }
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b':' {
            let start = i + 1;
            let mut j = start;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            if j > start && j < bytes.len() && bytes[j] == b':' {
                let line = raw[start..j].parse().ok();
                return (line, &raw[j + 1..]);
            }
        }
        i += 1;
    }
    (None, raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_name_file_and_line() {
        let mut p = Program::default();
        let err = p
            .insert_source("app:x", "local x = \nfunction(", None, &[])
            .unwrap_err();
        let ProgramError::Syntax { line, file, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(file, "app:x");
        assert_eq!(*line, Some(2));
        assert!(err.to_string().starts_with("app:x:2: "), "{err}");
    }

    /// Issue 11: a source saved with a byte order mark compiles, with its line numbers.
    #[test]
    fn a_byte_order_mark_is_dropped() {
        let mut p = Program::default();
        p.insert_source("app:x", "\u{feff}return 1", None, &[])
            .expect("compiles");
        let err = p
            .insert_source("app:y", "\u{feff}local x = 1\nlocal = 2", None, &[])
            .unwrap_err();
        assert!(err.to_string().starts_with("app:y:2: "), "{err}");
    }

    #[test]
    fn unknown_modules_are_rejected() {
        let mut p = Program::default();
        let err = p
            .insert_source("app:x", "return 1", None, &["jsno"])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "app:x: entry app:x: unknown module 'jsno' (did you mean 'json'?)"
        );
        p.insert_source("app:y", "return 1", None, &["time", "channel", "os"])
            .expect("valid");
        assert_eq!(
            p.get("app:y").expect("compiled").modules,
            vec![Module::Time]
        );
    }
}
