//! The fields each kind Starling runs knows, for the "unknown field" warning (issue 13): a
//! typo such as `modles:` is otherwise ignored silently. Fields Wippy documents that Starling
//! accepts without using (`pool`, `security`, ...) count as known.

use serde_json::{Map, Value};

use super::*;
use crate::suggest;

/// Fields every kind may carry.
const COMMON: [&str; 2] = ["lifecycle", "security"];

/// The known top-level data fields of `kind`, or `None` for kinds Starling does not run.
pub fn known_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        PROCESS_HOST => &["host"],
        TERMINAL_HOST => &["hide_logs"],
        PROCESS_LUA | LIBRARY_LUA | FUNCTION_LUA => &[
            "source", "method", "modules", "imports", "pool", "host", "options",
        ],
        PROCESS_SERVICE => &["process", "host", "input", "input_context", "options"],
        ENV_STORAGE_OS | ENV_STORAGE_MEMORY => &[],
        ENV_STORAGE_FILE => &["file_path", "auto_create", "file_mode", "dir_mode"],
        ENV_STORAGE_STATIC => &["values"],
        ENV_STORAGE_ROUTER => &["storages"],
        ENV_VARIABLE => &["variable", "storage", "default", "readonly", "read_only"],
        _ => return None,
    })
}

/// One message per data field of an entry of `kind` that the kind does not know, each with a
/// suggestion when one is close (`unknown field 'modles' (did you mean 'modules'?)`).
pub fn unknown_fields(kind: &str, data: &Map<String, Value>) -> Vec<String> {
    let Some(known) = known_fields(kind) else {
        return Vec::new();
    };
    data.keys()
        .filter(|k| !known.contains(&k.as_str()) && !COMMON.contains(&k.as_str()))
        .map(|k| {
            let hint = suggest::hint(k, known.iter().chain(COMMON.iter()).copied());
            format!("unknown field '{k}' for kind {kind}{hint}; it is ignored")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typos_are_named_with_a_suggestion() {
        let data = json!({"source": "x", "modles": ["io"], "lifecycle": {}, "zzz": 1});
        let warnings = unknown_fields(PROCESS_LUA, data.as_object().expect("map"));
        assert_eq!(
            warnings,
            [
                "unknown field 'modles' for kind process.lua (did you mean 'modules'?); it is ignored",
                "unknown field 'zzz' for kind process.lua; it is ignored"
            ]
        );
        assert!(unknown_fields("http.service", data.as_object().expect("map")).is_empty());
    }
}
