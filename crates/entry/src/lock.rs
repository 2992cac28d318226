//! `wippy.lock` (SPEC 1.1): where the source tree is. Read by `run`, written by `init`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::LoadError;
use crate::yaml;

/// Default file name of the lock file, looked up in the working directory only.
pub const LOCK_FILE: &str = "wippy.lock";
/// Default `directories.src` written by `init`.
pub const DEFAULT_SRC_DIR: &str = "./src";
/// Default `directories.modules` written by `init`.
pub const DEFAULT_MODULES_DIR: &str = ".wippy";

/// The parts of `wippy.lock` that Starling uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockFile {
    /// Where the lock file was read from.
    pub path: PathBuf,
    /// `directories.src`, relative to the lock file's directory (non-empty).
    pub src_dir: String,
    /// `directories.modules` (non-empty; unused by Starling).
    pub modules_dir: String,
    /// `replacements` as `(from, to)` pairs; Starling does not use them yet.
    pub replacements: Vec<(String, String)>,
}

impl LockFile {
    /// The source tree: `src_dir` joined to the lock file's directory, without `.` parts
    /// (`dir/./src` is `dir/src`; `..` is kept, since symbolic links make it meaningful).
    pub fn src_root(&self) -> PathBuf {
        let base = self.path.parent().unwrap_or(Path::new(""));
        base.join(&self.src_dir).components().collect()
    }
}

/// Reads a lock file.
///
/// Errors: a missing file ([`LoadError::LockNotFound`], whose message says to run
/// `starling init`), YAML syntax, `directories.src` or `directories.modules` missing or empty
/// (`lock file <path>: src directory is empty`), and a non-empty `modules:` list
/// (`module dependencies are not supported`, SPEC 11.19).
pub fn read_lock(path: &Path) -> Result<LockFile, LoadError> {
    let text = match crate::read::read_text(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LoadError::LockNotFound {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(LoadError::io(path, e)),
    };
    let doc = yaml::parse_value(path, &text)?;
    let fail = |message: String| LoadError::Lock {
        path: path.to_path_buf(),
        message,
    };
    let root = match &doc {
        Value::Object(map) => map.clone(),
        Value::Null => Map::new(),
        other => {
            return Err(fail(format!(
                "expected a mapping, found {}",
                type_name(other)
            )));
        }
    };

    let directories = match root.get("directories") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(other) => {
            return Err(fail(format!(
                "directories must be a mapping, found {}",
                type_name(other)
            )));
        }
    };
    let dir = |key: &str| -> Result<String, LoadError> {
        match directories.get(key) {
            None | Some(Value::Null) => Err(fail(format!("{key} directory is empty"))),
            Some(Value::String(s)) if s.trim().is_empty() => {
                Err(fail(format!("{key} directory is empty")))
            }
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(fail(format!(
                "directories.{key} must be a string, found {}",
                type_name(other)
            ))),
        }
    };
    let src_dir = dir("src")?;
    let modules_dir = dir("modules")?;

    match root.get("modules") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) if list.is_empty() => {}
        Some(Value::Array(list)) => {
            let names: Vec<&str> = list
                .iter()
                .filter_map(|m| m.get("name").and_then(Value::as_str))
                .collect();
            let listed = if names.is_empty() {
                String::new()
            } else {
                format!(" ({})", names.join(", "))
            };
            return Err(fail(format!(
                "module dependencies are not supported{listed}"
            )));
        }
        Some(other) => {
            return Err(fail(format!(
                "modules must be a list, found {}",
                type_name(other)
            )));
        }
    }

    let mut replacements = Vec::new();
    match root.get("replacements") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (i, item) in list.iter().enumerate() {
                let from = item.get("from").and_then(Value::as_str);
                let to = item.get("to").and_then(Value::as_str);
                match (from, to) {
                    (Some(from), Some(to)) => replacements.push((from.to_owned(), to.to_owned())),
                    _ => {
                        return Err(fail(format!(
                            "replacements[{i}] must have string fields from and to"
                        )));
                    }
                }
            }
        }
        Some(other) => {
            return Err(fail(format!(
                "replacements must be a list, found {}",
                type_name(other)
            )));
        }
    }

    Ok(LockFile {
        path: path.to_path_buf(),
        src_dir,
        modules_dir,
        replacements,
    })
}

/// Writes a lock file for `starling init` (SPEC 3.2).
///
/// A new file holds only `directories`. If the file exists it is read and only `directories`
/// is replaced; other keys are kept in their order (comments are not kept). The YAML is
/// indented by 4 spaces as Wippy writes it:
/// `directories:\n    modules: .wippy\n    src: ./src\n`.
pub fn write_lock(path: &Path, src_dir: &str, modules_dir: &str) -> Result<(), LoadError> {
    let fail = |message: &str| LoadError::Lock {
        path: path.to_path_buf(),
        message: message.to_owned(),
    };
    if src_dir.trim().is_empty() {
        return Err(fail("src directory is empty"));
    }
    if modules_dir.trim().is_empty() {
        return Err(fail("modules directory is empty"));
    }

    let mut root = match crate::read::read_text(path) {
        Ok(text) => match yaml::parse_value(path, &text)? {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => {
                return Err(LoadError::Lock {
                    path: path.to_path_buf(),
                    message: format!(
                        "expected a mapping, found {}; not overwriting it",
                        type_name(&other)
                    ),
                });
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
        Err(e) => return Err(LoadError::io(path, e)),
    };

    let mut directories = Map::new();
    directories.insert("modules".into(), Value::String(modules_dir.to_owned()));
    directories.insert("src".into(), Value::String(src_dir.to_owned()));
    root.insert("directories".into(), Value::Object(directories));

    let text = serde_saphyr::to_string_with_options(
        &Value::Object(root),
        serde_saphyr::ser_options! { indent_step: 4 },
    )
    .map_err(|e| LoadError::Lock {
        path: path.to_path_buf(),
        message: format!("cannot encode: {e}"),
    })?;
    std::fs::write(path, text).map_err(|e| LoadError::io(path, e))
}

/// A short name of a JSON value's type for error messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_lock(content: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(LOCK_FILE);
        std::fs::write(&path, content).expect("write lock");
        (dir, path)
    }

    #[test]
    fn reads_directories_with_any_indentation() {
        let (_dir, path) = temp_lock("directories:\n  modules: .wippy\n  src: ./app\n");
        let lock = read_lock(&path).expect("valid lock");
        assert_eq!(lock.src_dir, "./app");
        assert_eq!(lock.modules_dir, ".wippy");
        assert!(lock.replacements.is_empty());
        assert_eq!(lock.src_root(), path.parent().expect("dir").join("app"));
    }

    #[test]
    fn missing_file_hints_init() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(LOCK_FILE);
        let err = read_lock(&path).expect_err("missing");
        assert!(matches!(err, LoadError::LockNotFound { .. }));
        assert!(err.to_string().contains("run `starling init`"), "{err}");
    }

    #[test]
    fn empty_src_is_an_error() {
        let (_dir, path) = temp_lock("directories:\n    modules: .wippy\n    src: \"\"\n");
        let err = read_lock(&path).expect_err("empty src");
        assert_eq!(
            err.to_string(),
            format!("lock file {}: src directory is empty", path.display())
        );
        let (_dir, path) = temp_lock("directories:\n    src: ./src\n");
        let err = read_lock(&path).expect_err("no modules");
        assert_eq!(
            err.to_string(),
            format!("lock file {}: modules directory is empty", path.display())
        );
    }

    #[test]
    fn hub_modules_are_rejected() {
        let (_dir, path) = temp_lock(
            "directories:\n    modules: .wippy\n    src: ./src\nmodules:\n    - name: wippy/llm\n      version: v1.0.0\n",
        );
        let err = read_lock(&path).expect_err("modules");
        assert_eq!(
            err.to_string(),
            format!(
                "lock file {}: module dependencies are not supported (wippy/llm)",
                path.display()
            )
        );
        let (_dir, path) =
            temp_lock("directories:\n    modules: .wippy\n    src: ./src\nmodules: []\n");
        assert!(read_lock(&path).is_ok());
    }

    #[test]
    fn reads_replacements() {
        let (_dir, path) = temp_lock(
            "directories: {modules: .wippy, src: ./src}\nreplacements:\n  - from: a/b\n    to: ../b\n",
        );
        let lock = read_lock(&path).expect("valid lock");
        assert_eq!(lock.replacements, [("a/b".to_owned(), "../b".to_owned())]);
    }

    #[test]
    fn writes_wippy_layout() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(LOCK_FILE);
        write_lock(&path, DEFAULT_SRC_DIR, DEFAULT_MODULES_DIR).expect("write");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "directories:\n    modules: .wippy\n    src: ./src\n"
        );
    }

    #[test]
    fn rewrite_keeps_other_keys() {
        let (_dir, path) = temp_lock(
            "options:\n  unpack_modules: true\ndirectories:\n  src: old\n  modules: m\n  extra: x\n",
        );
        write_lock(&path, "./app", ".mods").expect("write");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "options:\n    unpack_modules: true\ndirectories:\n    modules: .mods\n    src: ./app\n"
        );
        let lock = read_lock(&path).expect("read back");
        assert_eq!(
            (lock.src_dir.as_str(), lock.modules_dir.as_str()),
            ("./app", ".mods")
        );
    }

    #[test]
    fn refuses_empty_values_and_non_mapping_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(LOCK_FILE);
        let err = write_lock(&path, "", ".wippy").expect_err("empty src");
        assert!(err.to_string().ends_with("src directory is empty"), "{err}");
        std::fs::write(&path, "- a\n- b\n").expect("write");
        let err = write_lock(&path, "./src", ".wippy").expect_err("list");
        assert!(
            err.to_string().contains("expected a mapping, found a list"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "- a\n- b\n");
    }
}
