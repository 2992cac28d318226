//! `env.storage.*` and `env.variable` (Wippy's environment system, issue 13): where variables
//! are stored and which names the `env` module knows.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::LoadError;
use crate::id::EntryId;
use crate::kind::fields::Fields;
use crate::lock::type_name;

/// `env.storage.os`.
pub const ENV_STORAGE_OS: &str = "env.storage.os";
/// `env.storage.memory`.
pub const ENV_STORAGE_MEMORY: &str = "env.storage.memory";
/// `env.storage.file`.
pub const ENV_STORAGE_FILE: &str = "env.storage.file";
/// `env.storage.static`.
pub const ENV_STORAGE_STATIC: &str = "env.storage.static";
/// `env.storage.router`.
pub const ENV_STORAGE_ROUTER: &str = "env.storage.router";
/// `env.variable`.
pub const ENV_VARIABLE: &str = "env.variable";

/// One environment entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvSpec {
    /// The OS environment, read-only.
    Os,
    /// Values in memory, lost at exit.
    Memory,
    /// A `KEY=VALUE` file.
    File {
        /// `file_path`, relative to the project directory unless absolute.
        path: String,
        /// `auto_create` (default false): create the file when missing.
        auto_create: bool,
        /// `file_mode` (default 0o644).
        file_mode: u32,
        /// `dir_mode` (default 0o755).
        dir_mode: u32,
    },
    /// Values written in the entry (`values`), read-only.
    Static(BTreeMap<String, String>),
    /// Several storages in order (`storages`): reads try each, writes go to the first.
    Router(Vec<EntryId>),
    /// A variable.
    Variable {
        /// `variable`: the public name, if any (letters, digits, `_`).
        name: Option<String>,
        /// `storage`: where the value lives.
        storage: EntryId,
        /// `default`, when the storage has no value.
        default: Option<String>,
        /// `readonly` (or `read_only`): `env.set` fails.
        readonly: bool,
    },
}

/// A YAML scalar as text (`0600` may arrive as a number).
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A permission mode: `0600` as an octal string or a number written in octal digits.
fn mode(data: &Fields<'_>, key: &str, default: u32) -> Result<u32, LoadError> {
    let Some(v) = data.raw(key) else {
        return Ok(default);
    };
    // YAML reads `0600` as the number 600: its digits are the octal mode.
    let text = match v {
        Value::Number(n) => n
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0)
            .map(|f| format!("{}", f as u64))
            .unwrap_or_else(|| n.to_string()),
        other => scalar(other).unwrap_or_default(),
    };
    let digits = text.trim_start_matches("0o");
    u32::from_str_radix(digits, 8).map_err(|_| {
        data.error(format!(
            "{} must be an octal mode such as 0644, found {text:?}",
            data.name(key)
        ))
    })
}

impl EnvSpec {
    pub(super) fn from_fields(kind: &str, data: &Fields<'_>) -> Result<EnvSpec, LoadError> {
        Ok(match kind {
            ENV_STORAGE_OS => EnvSpec::Os,
            ENV_STORAGE_MEMORY => EnvSpec::Memory,
            ENV_STORAGE_FILE => EnvSpec::File {
                path: data
                    .string("file_path")?
                    .filter(|p| !p.trim().is_empty())
                    .ok_or_else(|| data.error("file_path is required"))?
                    .to_string(),
                auto_create: data.boolean("auto_create")?.unwrap_or(false),
                file_mode: mode(data, "file_mode", 0o644)?,
                dir_mode: mode(data, "dir_mode", 0o755)?,
            },
            ENV_STORAGE_STATIC => {
                let mut values = BTreeMap::new();
                match data.raw("values") {
                    None => {}
                    Some(Value::Object(map)) => {
                        for (k, v) in map {
                            let text = scalar(v).ok_or_else(|| {
                                data.error(format!(
                                    "values.{k} must be a string, found {}",
                                    type_name(v)
                                ))
                            })?;
                            values.insert(k.clone(), text);
                        }
                    }
                    Some(other) => {
                        return Err(data.error(format!(
                            "values must be a mapping, found {}",
                            type_name(other)
                        )));
                    }
                }
                EnvSpec::Static(values)
            }
            ENV_STORAGE_ROUTER => {
                let storages = data.references("storages")?;
                if storages.is_empty() {
                    return Err(data.error("storages must list at least one storage"));
                }
                EnvSpec::Router(storages)
            }
            _ => {
                let name = data
                    .string("variable")?
                    .map(str::trim)
                    .filter(|n| !n.is_empty());
                if let Some(n) = name {
                    if !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        return Err(data.error(format!(
                            "variable {n:?} must contain only letters, digits and _"
                        )));
                    }
                }
                EnvSpec::Variable {
                    name: name.map(str::to_string),
                    storage: data
                        .reference("storage")?
                        .ok_or_else(|| data.error("storage is required"))?,
                    default: data.raw("default").and_then(scalar),
                    readonly: data.boolean("readonly")?.unwrap_or(false)
                        || data.boolean("read_only")?.unwrap_or(false),
                }
            }
        })
    }
}
