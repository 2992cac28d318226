//! `process.lua` (SPEC 2.3), `library.lua` (2.5) and `function.lua` (2.6).
//!
//! Module names in `modules:` are kept as written: which modules exist is known to the Lua
//! layer, which reports unknown ones (SPEC 11.7).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::error::LoadError;
use crate::id::EntryId;
use crate::kind::SpecInput;
use crate::kind::fields::Fields;
use crate::lock::type_name;

/// The fields shared by the Lua kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LuaSpec {
    /// `source`: the Lua text (a `file://` reference already replaced by the file's content).
    pub source: String,
    /// Where the Lua text came from, for error messages and chunk names.
    pub source_origin: SourceOrigin,
    /// `method`: the exported function to run; required for `function.lua`. An empty string
    /// counts as absent.
    pub method: Option<String>,
    /// `modules`: the allow-list of modules, in order, without repeats.
    pub modules: Vec<String>,
    /// `imports`: alias → library entry; bare names resolved against the own namespace.
    pub imports: BTreeMap<String, EntryId>,
    /// `lifecycle.auto_start` of a `process.lua`: run it once at boot (issue 13).
    pub auto_start: bool,
    /// `host` of an auto-started `process.lua`: where it runs (default: see the host crate).
    pub host: Option<EntryId>,
}

/// Where the Lua text of an entry came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceOrigin {
    /// Read through `source: file://...`; the resolved path.
    File(PathBuf),
    /// Written in the definition file itself.
    Inline {
        /// The definition file.
        yaml: PathBuf,
        /// The 1-based line of the `source:` key when known (else of the entry). For a block
        /// scalar (`source: |`) the Lua text starts on the next line.
        line: Option<usize>,
    },
}

impl LuaSpec {
    pub(super) fn from_fields(
        data: &Fields<'_>,
        input: &SpecInput<'_>,
        method_required: bool,
    ) -> Result<LuaSpec, LoadError> {
        let source = data
            .string("source")?
            .ok_or_else(|| data.error("source is required"))?
            .to_owned();
        let method = data
            .string("method")?
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_owned);
        if method_required && method.is_none() {
            return Err(data.error("method is required"));
        }

        let mut modules: Vec<String> = Vec::new();
        for (i, name) in data.strings("modules")?.into_iter().enumerate() {
            let name = name.trim().to_owned();
            if name.is_empty() {
                return Err(data.error(format!("modules[{i}] is empty")));
            }
            if !modules.contains(&name) {
                modules.push(name);
            }
        }

        let mut imports = BTreeMap::new();
        match data.raw("imports") {
            None => {}
            Some(Value::Object(map)) => {
                for (alias, target) in map {
                    if alias.trim().is_empty() {
                        return Err(data.error("imports has an empty alias"));
                    }
                    let name = format!("imports.{alias}");
                    let Value::String(text) = target else {
                        return Err(data.error(format!(
                            "{name} must be an entry id, found {}",
                            type_name(target)
                        )));
                    };
                    imports.insert(alias.clone(), data.resolve(&name, text)?);
                }
            }
            Some(other) => {
                return Err(data.error(format!(
                    "imports must be a mapping of alias to entry id, found {}",
                    type_name(other)
                )));
            }
        }

        let source_origin = match &input.source_file {
            Some(path) => SourceOrigin::File(path.clone()),
            None => SourceOrigin::Inline {
                yaml: input.origin.file.clone(),
                line: input.source_line.or(input.origin.line),
            },
        };
        let auto_start = data
            .block("lifecycle")?
            .boolean("auto_start")?
            .unwrap_or(false);
        let host = match data.raw("host") {
            Some(Value::String(_)) => data.reference("host")?,
            _ => None,
        };
        Ok(LuaSpec {
            source,
            source_origin,
            method,
            modules,
            imports,
            auto_start,
            host,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{EntryRef, Site};
    use crate::origin::Origin;
    use serde_json::json;

    fn build(data: Value, method_required: bool) -> Result<LuaSpec, String> {
        let id = EntryId::new("app", "worker");
        let origin = Origin {
            file: "src/a.yaml".into(),
            line: Some(7),
            index: Some(1),
        };
        let site = Site {
            file: origin.file.clone(),
            line: origin.line,
            column: None,
            entry: Some(EntryRef::Id(id.clone())),
        };
        let map = data.as_object().expect("object").clone();
        let input = SpecInput {
            id: &id,
            kind: "process.lua",
            data: &map,
            meta: &serde_json::Map::new(),
            origin: &origin,
            site: &site,
            source_file: None,
            source_line: Some(9),
        };
        LuaSpec::from_fields(&Fields::new(&site, "app", &map), &input, method_required)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn reads_all_fields() {
        let spec = build(
            json!({"source": "return 1", "method": "main", "modules": ["io", "time", "io"],
                   "imports": {"helpers": "lib:helpers", "util": "util"}}),
            false,
        )
        .expect("valid");
        assert_eq!(spec.source, "return 1");
        assert_eq!(spec.method.as_deref(), Some("main"));
        assert_eq!(spec.modules, ["io", "time"]);
        assert_eq!(spec.imports["helpers"], EntryId::new("lib", "helpers"));
        assert_eq!(spec.imports["util"], EntryId::new("app", "util"));
        assert_eq!(
            spec.source_origin,
            SourceOrigin::Inline {
                yaml: "src/a.yaml".into(),
                line: Some(9)
            }
        );
    }

    #[test]
    fn source_is_required() {
        assert_eq!(
            build(json!({"method": "main"}), false),
            Err("src/a.yaml:7: entry app:worker: source is required".into())
        );
        assert_eq!(
            build(json!({"source": 5}), false),
            Err("src/a.yaml:7: entry app:worker: source must be a string, found a number".into())
        );
    }

    #[test]
    fn method_required_for_functions() {
        assert_eq!(
            build(json!({"source": "x", "method": ""}), true),
            Err("src/a.yaml:7: entry app:worker: method is required".into())
        );
        assert_eq!(
            build(json!({"source": "x", "method": ""}), false)
                .expect("ok")
                .method,
            None
        );
    }

    #[test]
    fn malformed_modules_and_imports() {
        assert_eq!(
            build(json!({"source": "x", "modules": "io"}), false),
            Err(
                "src/a.yaml:7: entry app:worker: modules must be a list of strings, found a string"
                    .into()
            )
        );
        assert_eq!(
            build(json!({"source": "x", "imports": ["lib:a"]}), false),
            Err("src/a.yaml:7: entry app:worker: imports must be a mapping of alias to entry id, found a list".into())
        );
        assert_eq!(
            build(json!({"source": "x", "imports": {"a": 1}}), false),
            Err(
                "src/a.yaml:7: entry app:worker: imports.a must be an entry id, found a number"
                    .into()
            )
        );
    }
}
