//! Runtime configuration (SPEC 1.2): `.wippy.yaml` or `--config FILE`s merged per leaf, then
//! `--set section.path=value` on top, with `${env:NAME}` replaced from the environment.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::coerce::{MAX_PATH_PARTS, coerce_scalar, set_path, shorten, yaml_bool};
use crate::duration::{nanos_to_duration, parse_go_duration};
use crate::error::LoadError;
use crate::lock::type_name;
use crate::yaml;

/// Default configuration file, read from the project directory when no `--config` is given.
pub const CONFIG_FILE: &str = ".wippy.yaml";

/// Default of `shutdown.timeout`.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// The merged configuration tree, with the sections Starling honours checked and typed.
///
/// Unknown sections are kept (see [`Config::get`]) and otherwise ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    tree: Map<String, Value>,
    files: Vec<PathBuf>,
    logger_encoding: String,
    min_level: Option<i64>,
    propagate_downstream: bool,
    shutdown_timeout: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            tree: Map::new(),
            files: Vec::new(),
            logger_encoding: "console".to_owned(),
            min_level: None,
            propagate_downstream: true,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }
}

impl Config {
    /// Loads the configuration of the project in `dir`, reading the process environment for
    /// `${env:NAME}`.
    ///
    /// With no `files`, `dir/.wippy.yaml` is read if it exists. Otherwise each of `files`
    /// (relative paths are taken from `dir`) must exist. Files merge left to right per leaf,
    /// then each `sets` item (`section.path=value`; `true`/`false`, integers and floats are
    /// typed, anything else is a string) is applied. A key without a dot is an error.
    pub fn load(dir: &Path, files: &[PathBuf], sets: &[String]) -> Result<Config, LoadError> {
        Config::load_with_env(dir, files, sets, |name| std::env::var(name).ok())
    }

    /// [`Config::load`] with an explicit environment lookup (for tests and embedding).
    pub fn load_with_env(
        dir: &Path,
        files: &[PathBuf],
        sets: &[String],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, LoadError> {
        let paths: Vec<PathBuf> = if files.is_empty() {
            let default = dir.join(CONFIG_FILE);
            // Whatever stands at the name is read (and refused if it is no regular file, such
            // as a link to /dev/zero); only a missing one means no configuration.
            if default.symlink_metadata().is_ok() {
                vec![default]
            } else {
                Vec::new()
            }
        } else {
            files.iter().map(|f| dir.join(f)).collect()
        };

        let mut tree = Map::new();
        for path in &paths {
            if !path.exists() {
                return Err(LoadError::ConfigNotFound { path: path.clone() });
            }
            let mut layer = match yaml::read_value(path)? {
                Value::Object(map) => map,
                Value::Null => Map::new(),
                other => {
                    return Err(LoadError::ConfigFile {
                        path: path.clone(),
                        message: format!("expected a mapping, found {}", type_name(&other)),
                    });
                }
            };
            expand_env_in_map(&mut layer, "", &env).map_err(|message| LoadError::ConfigFile {
                path: path.clone(),
                message,
            })?;
            merge(&mut tree, layer);
        }
        for arg in sets {
            apply_set(&mut tree, arg)?;
        }
        let mut config = Config::from_map(tree)?;
        config.files = paths;
        Ok(config)
    }

    /// Checks and types a configuration tree that is already merged.
    pub fn from_map(tree: Map<String, Value>) -> Result<Config, LoadError> {
        let mut config = Config {
            tree,
            ..Config::default()
        };
        let bad = |key: &str, message: String| LoadError::Config {
            key: key.to_owned(),
            message,
        };

        match config.get("logger.encoding") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s == "console" || s == "json" => {
                config.logger_encoding = s.clone();
            }
            Some(other) => {
                return Err(bad(
                    "logger.encoding",
                    format!("must be console or json, got {other}"),
                ));
            }
        }

        config.min_level = match config.get("logmanager.min_level") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.is_i64() => n.as_i64(),
            Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => s.trim().parse().ok(),
            Some(other) => {
                return Err(bad(
                    "logmanager.min_level",
                    format!("must be an integer (-1 debug, 0 info, 1 warn, 2 error), got {other}"),
                ));
            }
        };

        config.propagate_downstream = match config.get("logmanager.propagate_downstream") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if yaml_bool(s).is_some() => yaml_bool(s) == Some(true),
            Some(other) => {
                return Err(bad(
                    "logmanager.propagate_downstream",
                    format!("must be true or false, got {other}"),
                ));
            }
        };

        let timeout = match config.get("shutdown.timeout") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(
                parse_go_duration(s)
                    .and_then(|n| nanos_to_duration(n, s))
                    .map_err(|e| bad("shutdown.timeout", e.to_string()))?,
            ),
            Some(Value::Number(n)) => {
                let text = n.to_string();
                let nanos = n.as_f64().map_or(-1, |f| f as i64);
                Some(
                    nanos_to_duration(nanos, &text)
                        .map_err(|e| bad("shutdown.timeout", e.to_string()))?,
                )
            }
            Some(other) => {
                return Err(bad(
                    "shutdown.timeout",
                    format!("must be a duration such as \"30s\", got {other}"),
                ));
            }
        };
        config.shutdown_timeout = timeout
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT);

        match config.tree.get("override") {
            None | Some(Value::Null) | Some(Value::Object(_)) => {}
            Some(other) => {
                return Err(bad(
                    "override",
                    format!(
                        "must be a mapping of ns:entry:field to values, found {}",
                        type_name(other)
                    ),
                ));
            }
        }
        Ok(config)
    }

    /// The value at a dotted path (`logger.encoding`), if present.
    pub fn get(&self, dotted: &str) -> Option<&Value> {
        let mut parts = dotted.split('.');
        let mut current = self.tree.get(parts.next()?)?;
        for part in parts {
            current = current.as_object()?.get(part)?;
        }
        Some(current)
    }

    /// The whole merged tree.
    pub fn tree(&self) -> &Map<String, Value> {
        &self.tree
    }

    /// The files that were read, in merge order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// `logger.encoding`: `console` (default) or `json`.
    pub fn logger_encoding(&self) -> &str {
        &self.logger_encoding
    }

    /// `logmanager.min_level` (-1 debug, 0 info, 1 warn, 2 error), if set.
    pub fn min_level(&self) -> Option<i64> {
        self.min_level
    }

    /// `logmanager.propagate_downstream`; `false` means no console log output. Default true.
    pub fn propagate_downstream(&self) -> bool {
        self.propagate_downstream
    }

    /// `shutdown.timeout`, the bound of a graceful shutdown. Default (and for `0`) 30 s.
    pub fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }

    /// The `override:` map as `("ns:entry:path", value)` pairs, in file order.
    pub fn overrides(&self) -> Vec<(String, Value)> {
        match self.tree.get("override") {
            Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => Vec::new(),
        }
    }
}

/// Merges `layer` into `base` per leaf: mappings merge recursively, anything else replaces.
fn merge(base: &mut Map<String, Value>, layer: Map<String, Value>) {
    for (key, value) in layer {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => merge(existing, incoming),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Applies one `--set section.path=value`.
fn apply_set(tree: &mut Map<String, Value>, arg: &str) -> Result<(), LoadError> {
    let fail = |message: &str| LoadError::Set {
        arg: shorten(arg),
        message: message.to_owned(),
    };
    let (key, value) = arg
        .split_once('=')
        .ok_or_else(|| fail("expected section.path=value"))?;
    if !key.contains('.') {
        return Err(fail("key must have a section (section.path=value)"));
    }
    // Entry override keys (`ns:entry:meta.x`) contain dots of their own.
    let path: Vec<&str> = match key.strip_prefix("override.") {
        Some(rest) => vec!["override", rest],
        None => key.split('.').collect(),
    };
    if path.iter().any(|p| p.is_empty()) {
        return Err(fail("key has an empty part"));
    }
    if path.len() > MAX_PATH_PARTS {
        return Err(fail(&format!("key has more than {MAX_PATH_PARTS} parts")));
    }
    set_path(tree, &path, coerce_scalar(value));
    Ok(())
}

/// Replaces `${env:NAME}` in every string value of `map`; `prefix` is the dotted path so far,
/// for the error message.
fn expand_env_in_map(
    map: &mut Map<String, Value>,
    prefix: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(), String> {
    for (key, value) in map.iter_mut() {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        expand_env_in_value(value, &path, env)?;
    }
    Ok(())
}

fn expand_env_in_value(
    value: &mut Value,
    path: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(), String> {
    match value {
        Value::String(s) if s.contains("${env:") => {
            *s = expand_env(s, env).map_err(|e| format!("{path}: {e}"))?;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand_env_in_value(item, &format!("{path}[{i}]"), env)?;
            }
        }
        Value::Object(map) => expand_env_in_map(map, path, env)?,
        _ => {}
    }
    Ok(())
}

/// Replaces each `${env:NAME}` in `text`; other `${...}` forms are left alone.
fn expand_env(text: &str, env: &impl Fn(&str) -> Option<String>) -> Result<String, String> {
    const OPEN: &str = "${env:";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated ${{env:...}} in {text:?}"))?;
        let name = &after[..end];
        if name.is_empty() {
            return Err(format!("empty variable name in {text:?}"));
        }
        let value = env(name).ok_or_else(|| format!("environment variable {name} is not set"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write config");
        path
    }

    #[test]
    fn defaults_without_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config::load_with_env(dir.path(), &[], &[], no_env).expect("load");
        assert_eq!(config.logger_encoding(), "console");
        assert_eq!(config.min_level(), None);
        assert!(config.propagate_downstream());
        assert_eq!(config.shutdown_timeout(), Duration::from_secs(30));
        assert!(config.overrides().is_empty());
        assert!(config.files().is_empty());
    }

    #[test]
    fn reads_default_file_and_types_sections() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(
            dir.path(),
            CONFIG_FILE,
            "logger:\n  encoding: json\nlogmanager:\n  min_level: 1\n  propagate_downstream: false\nshutdown:\n  timeout: 1m30s\nother:\n  x: [1, 2]\n",
        );
        let config = Config::load_with_env(dir.path(), &[], &[], no_env).expect("load");
        assert_eq!(config.logger_encoding(), "json");
        assert_eq!(config.min_level(), Some(1));
        assert!(!config.propagate_downstream());
        assert_eq!(config.shutdown_timeout(), Duration::from_secs(90));
        assert_eq!(config.get("other.x"), Some(&json!([1, 2])));
        assert_eq!(config.get("other.y"), None);
        assert_eq!(config.get("other.x.z"), None);
    }

    #[test]
    fn explicit_files_replace_default_and_merge_per_leaf() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), CONFIG_FILE, "shutdown:\n  timeout: 1s\n");
        write(
            dir.path(),
            "a.yaml",
            "logger: {encoding: json}\ns: {a: 1, b: 2, list: [1]}\n",
        );
        write(dir.path(), "b.yaml", "s: {b: 3, c: 4, list: [2]}\n");
        let files = [PathBuf::from("a.yaml"), PathBuf::from("b.yaml")];
        let config = Config::load_with_env(dir.path(), &files, &[], no_env).expect("load");
        assert_eq!(
            config.get("s"),
            Some(&json!({"a": 1, "b": 3, "c": 4, "list": [2]}))
        );
        assert_eq!(config.logger_encoding(), "json");
        assert_eq!(config.shutdown_timeout(), DEFAULT_SHUTDOWN_TIMEOUT);
        assert_eq!(config.files().len(), 2);
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = Config::load_with_env(dir.path(), &["nope.yaml".into()], &[], no_env)
            .expect_err("missing");
        assert_eq!(
            err.to_string(),
            format!(
                "config file {} not found",
                dir.path().join("nope.yaml").display()
            )
        );
    }

    #[test]
    fn set_overrides_files_with_typed_values() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), CONFIG_FILE, "logmanager: {min_level: 0}\n");
        let sets = [
            "logmanager.min_level=2".to_owned(),
            "custom.flag=true".to_owned(),
            "custom.ratio=0.5".to_owned(),
            "custom.name=hello=world".to_owned(),
            "override.app:relay:meta.title=Relay".to_owned(),
        ];
        let config = Config::load_with_env(dir.path(), &[], &sets, no_env).expect("load");
        assert_eq!(config.min_level(), Some(2));
        assert_eq!(config.get("custom.flag"), Some(&json!(true)));
        assert_eq!(config.get("custom.ratio"), Some(&json!(0.5)));
        assert_eq!(config.get("custom.name"), Some(&json!("hello=world")));
        assert_eq!(
            config.overrides(),
            [("app:relay:meta.title".to_owned(), json!("Relay"))]
        );
    }

    #[test]
    fn set_without_dot_or_equals_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = Config::load_with_env(dir.path(), &[], &["debug=true".into()], no_env)
            .expect_err("no dot");
        assert_eq!(
            err.to_string(),
            "invalid --set \"debug=true\": key must have a section (section.path=value)"
        );
        let err =
            Config::load_with_env(dir.path(), &[], &["a.b".into()], no_env).expect_err("no equals");
        assert_eq!(
            err.to_string(),
            "invalid --set \"a.b\": expected section.path=value"
        );
        let err = Config::load_with_env(dir.path(), &[], &["a..b=1".into()], no_env)
            .expect_err("empty part");
        assert!(err.to_string().ends_with("key has an empty part"), "{err}");
        // Issue 11: a path of 30,000 parts is refused (it used to overflow the stack).
        let long = format!("a{}=1", ".a".repeat(30_000));
        let err = Config::load_with_env(dir.path(), &[], &[long], no_env).expect_err("long");
        assert!(
            err.to_string().ends_with("…\": key has more than 64 parts"),
            "{err}"
        );
    }

    #[test]
    fn env_references_are_replaced() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(
            dir.path(),
            CONFIG_FILE,
            "db:\n  url: \"postgres://${env:DB_USER}@${env:DB_HOST}/x\"\n  list: [\"${env:DB_USER}\"]\n  keep: \"${other}\"\nshutdown:\n  timeout: ${env:TIMEOUT}\n",
        );
        let env = |name: &str| match name {
            "DB_USER" => Some("ann".to_owned()),
            "DB_HOST" => Some("db.local".to_owned()),
            "TIMEOUT" => Some("5s".to_owned()),
            _ => None,
        };
        let config = Config::load_with_env(dir.path(), &[], &[], env).expect("load");
        assert_eq!(
            config.get("db.url"),
            Some(&json!("postgres://ann@db.local/x"))
        );
        assert_eq!(config.get("db.list"), Some(&json!(["ann"])));
        assert_eq!(config.get("db.keep"), Some(&json!("${other}")));
        assert_eq!(config.shutdown_timeout(), Duration::from_secs(5));
    }

    #[test]
    fn missing_env_variable_names_file_key_and_variable() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write(dir.path(), CONFIG_FILE, "db:\n  password: ${env:DB_PASS}\n");
        let err = Config::load_with_env(dir.path(), &[], &[], no_env).expect_err("unset");
        assert_eq!(
            err.to_string(),
            format!(
                "config file {}: db.password: environment variable DB_PASS is not set",
                path.display()
            )
        );
    }

    #[test]
    fn bad_section_values_name_the_key() {
        let cases = [
            (
                "logger:\n  encoding: xml\n",
                "config logger.encoding: must be console or json, got \"xml\"",
            ),
            (
                "shutdown:\n  timeout: \"5\"\n",
                "config shutdown.timeout: missing unit in duration \"5\"",
            ),
            (
                "shutdown:\n  timeout: -1s\n",
                "config shutdown.timeout: duration \"-1s\" must not be negative",
            ),
            (
                "logmanager:\n  min_level: high\n",
                "config logmanager.min_level: must be an integer (-1 debug, 0 info, 1 warn, 2 error), got \"high\"",
            ),
            (
                "override: [1]\n",
                "config override: must be a mapping of ns:entry:field to values, found a list",
            ),
        ];
        for (text, want) in cases {
            let dir = tempfile::tempdir().expect("temp dir");
            write(dir.path(), CONFIG_FILE, text);
            let err = Config::load_with_env(dir.path(), &[], &[], no_env).expect_err(text);
            assert_eq!(err.to_string(), want, "{text}");
        }
    }

    #[test]
    fn numeric_timeout_is_nanoseconds() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(
            dir.path(),
            CONFIG_FILE,
            "shutdown:\n  timeout: 2500000000\n",
        );
        let config = Config::load_with_env(dir.path(), &[], &[], no_env).expect("load");
        assert_eq!(config.shutdown_timeout(), Duration::from_millis(2500));
    }

    #[test]
    fn non_mapping_file_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write(dir.path(), CONFIG_FILE, "- a\n");
        let err = Config::load_with_env(dir.path(), &[], &[], no_env).expect_err("list");
        assert_eq!(
            err.to_string(),
            format!(
                "config file {}: expected a mapping, found a list",
                path.display()
            )
        );
    }
}
