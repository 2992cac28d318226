//! The compiled form of a project's Lua entries, shared read-only by every worker.
//!
//! Sources are compiled to Luau bytecode once at boot, so syntax errors surface before anything
//! runs; each worker VM then loads the bytecode of an entry the first time it spawns it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use rustc_hash::FxHashMap;
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
    /// `http`: the request and response of an HTTP handler.
    Http,
    /// `http_client`: outgoing HTTP requests.
    HttpClient,
    /// `websocket`: WebSocket client connections.
    Websocket,
}

impl Module {
    /// Every gated module with its name.
    pub const ALL: [(Module, &'static str); 8] = [
        (Module::Io, "io"),
        (Module::Time, "time"),
        (Module::Logger, "logger"),
        (Module::Funcs, "funcs"),
        (Module::Uuid, "uuid"),
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
#[derive(Debug, Default)]
pub struct Program {
    codes: FxHashMap<Arc<str>, Arc<Code>>,
}

impl Program {
    /// Compiles every Lua entry; returns every problem found, not just the first.
    pub fn build(entries: &[Entry]) -> Result<Program, Vec<ProgramError>> {
        let mut codes = FxHashMap::default();
        let mut errors = Vec::new();
        for e in entries {
            let (kind, spec) = match &e.spec {
                EntrySpec::LuaProcess(s) => (CodeKind::Process, s),
                EntrySpec::LuaLibrary(s) => (CodeKind::Library, s),
                EntrySpec::LuaFunction(s) => (CodeKind::Function, s),
                _ => continue,
            };
            let id: Arc<str> = e.id.to_string().into();
            match compile(&id, kind, spec) {
                Ok(code) => {
                    codes.insert(id, Arc::new(code));
                }
                Err(err) => errors.push(err),
            }
        }
        if errors.is_empty() {
            resolve_imports(&mut codes)?;
            Ok(Program { codes })
        } else {
            Err(errors)
        }
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
        };
        let id: Arc<str> = id.into();
        let code = compile(&id, CodeKind::Process, &spec)?;
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

fn compile(id: &Arc<str>, kind: CodeKind, spec: &LuaSpec) -> Result<Code, ProgramError> {
    let (origin, line_offset) = describe(&spec.source_origin);
    let mut modules = Vec::new();
    for m in &spec.modules {
        if let Some((module, _)) = Module::ALL.iter().find(|(_, n)| n == m) {
            if !modules.contains(module) {
                modules.push(*module);
            }
        } else if !GLOBAL_MODULES.contains(&m.as_str()) {
            return Err(ProgramError::UnknownModule {
                entry: id.to_string(),
                module: m.clone(),
            });
        }
    }
    // Wippy's typed syntax becomes Luau first; line numbers are unchanged.
    let source = crate::syntax::rewrite(&spec.source);
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

    #[test]
    fn unknown_modules_are_rejected() {
        let mut p = Program::default();
        let err = p
            .insert_source("app:x", "return 1", None, &["json"])
            .unwrap_err();
        assert_eq!(err.to_string(), "unknown module 'json' in app:x");
        p.insert_source("app:y", "return 1", None, &["time", "channel", "os"])
            .expect("valid");
        assert_eq!(
            p.get("app:y").expect("compiled").modules,
            vec![Module::Time]
        );
    }
}
