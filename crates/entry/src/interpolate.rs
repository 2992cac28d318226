//! `file://` references (SPEC 1.5): any string value that starts with `file://` is replaced
//! by the content of that file.
//!
//! `file://rel/path` is relative to the directory of the definition file, `file:///x` to the
//! root of the source tree. Paths are checked lexically: a `..` that climbs above the source
//! root is an error. Symbolic links inside the tree are followed as the operating system does.

use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

/// The prefix that marks a file reference.
pub const FILE_PREFIX: &str = "file://";

/// Resolves `file://` references for one definition file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileRefs<'a> {
    /// The source tree root.
    pub(crate) src_root: &'a Path,
    /// The definition file the references appear in (under `src_root`).
    pub(crate) yaml_file: &'a Path,
}

impl FileRefs<'_> {
    /// Resolves the path of a reference (the text after `file://`).
    pub(crate) fn resolve(&self, reference: &str) -> Result<PathBuf, String> {
        let shown = format!("{FILE_PREFIX}{reference}");
        if reference.is_empty() {
            return Err(format!("{shown}: empty path"));
        }
        let (base, rest) = match reference.strip_prefix('/') {
            Some(rest) => (PathBuf::new(), rest),
            None => {
                let dir = self.yaml_file.parent().unwrap_or(Path::new(""));
                let relative = dir.strip_prefix(self.src_root).map_err(|_| {
                    format!(
                        "{shown}: definition file is outside the source tree {}",
                        self.src_root.display()
                    )
                })?;
                (relative.to_path_buf(), reference)
            }
        };
        // Walk the components of base + rest, keeping track of depth below the root.
        let mut parts: Vec<std::ffi::OsString> = Vec::new();
        for component in base.components().chain(Path::new(rest).components()) {
            match component {
                Component::Normal(part) => parts.push(part.to_os_string()),
                Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
                Component::ParentDir => {
                    if parts.pop().is_none() {
                        return Err(format!(
                            "{shown} escapes the source tree {}",
                            self.src_root.display()
                        ));
                    }
                }
            }
        }
        if parts.is_empty() {
            return Err(format!("{shown}: names the source tree itself, not a file"));
        }
        let mut path = self.src_root.to_path_buf();
        path.extend(parts);
        Ok(path)
    }

    /// Reads a reference; returns the resolved path and the content.
    pub(crate) fn read(&self, reference: &str) -> Result<(PathBuf, String), String> {
        let path = self.resolve(reference)?;
        match crate::read::read_text(&path) {
            Ok(text) => Ok((path, text)),
            Err(e) => Err(format!(
                "{FILE_PREFIX}{reference}: cannot read {}: {e}",
                path.display()
            )),
        }
    }

    /// Replaces every reference inside `map`. Returns, for each top-level key whose value was
    /// a reference, the file it was read from. Errors are `(field path, message)`.
    pub(crate) fn expand_map(
        &self,
        map: &mut Map<String, Value>,
    ) -> Result<Vec<(String, PathBuf)>, (String, String)> {
        let mut read = Vec::new();
        for (key, value) in map.iter_mut() {
            if let Some(path) = self.expand(value, key)? {
                read.push((key.clone(), path));
            }
        }
        Ok(read)
    }

    /// Replaces references in `value` (at field path `at`); returns the file when `value`
    /// itself was a reference.
    fn expand(&self, value: &mut Value, at: &str) -> Result<Option<PathBuf>, (String, String)> {
        match value {
            Value::String(s) => {
                let Some(reference) = s.strip_prefix(FILE_PREFIX) else {
                    return Ok(None);
                };
                let (path, text) = self.read(reference).map_err(|m| (at.to_owned(), m))?;
                *s = text;
                Ok(Some(path))
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.expand(item, &format!("{at}[{i}]"))?;
                }
                Ok(None)
            }
            Value::Object(map) => {
                for (key, item) in map.iter_mut() {
                    self.expand(item, &format!("{at}.{key}"))?;
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Tree {
        _dir: tempfile::TempDir,
        root: PathBuf,
    }

    fn tree() -> Tree {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("src");
        std::fs::create_dir_all(root.join("sub/deep")).expect("mkdir");
        std::fs::write(root.join("top.lua"), "top").expect("write");
        std::fs::write(root.join("sub/a.lua"), "a").expect("write");
        Tree { _dir: dir, root }
    }

    #[test]
    fn resolves_relative_and_rooted_paths() {
        let t = tree();
        let yaml = t.root.join("sub/deep/x.yaml");
        let refs = FileRefs {
            src_root: &t.root,
            yaml_file: &yaml,
        };
        assert_eq!(refs.resolve("w.lua"), Ok(t.root.join("sub/deep/w.lua")));
        assert_eq!(refs.resolve("../a.lua"), Ok(t.root.join("sub/a.lua")));
        assert_eq!(refs.resolve("./../../top.lua"), Ok(t.root.join("top.lua")));
        assert_eq!(refs.resolve("/sub/a.lua"), Ok(t.root.join("sub/a.lua")));
        assert_eq!(refs.resolve("///top.lua"), Ok(t.root.join("top.lua")));
        let err = refs.resolve("../../../etc/passwd").expect_err("escape");
        assert!(
            err.starts_with("file://../../../etc/passwd escapes the source tree"),
            "{err}"
        );
        let err = refs.resolve("/../x").expect_err("escape");
        assert!(err.contains("escapes the source tree"), "{err}");
        assert!(refs.resolve("").expect_err("empty").ends_with("empty path"));
    }

    #[test]
    fn expands_nested_values_and_reports_top_level_files() {
        let t = tree();
        let yaml = t.root.join("sub/x.yaml");
        let refs = FileRefs {
            src_root: &t.root,
            yaml_file: &yaml,
        };
        let mut map = json!({
            "source": "file://a.lua",
            "nested": {"list": ["file:///top.lua", "plain", 3]},
            "text": "see file://a.lua"
        })
        .as_object()
        .expect("map")
        .clone();
        let read = refs.expand_map(&mut map).expect("expand");
        assert_eq!(read, [("source".to_owned(), t.root.join("sub/a.lua"))]);
        assert_eq!(
            Value::Object(map),
            json!({"source": "a", "nested": {"list": ["top", "plain", 3]}, "text": "see file://a.lua"})
        );
    }

    #[test]
    fn missing_file_names_field_and_path() {
        let t = tree();
        let yaml = t.root.join("x.yaml");
        let refs = FileRefs {
            src_root: &t.root,
            yaml_file: &yaml,
        };
        let mut map = json!({"a": {"b": ["file://nope.lua"]}})
            .as_object()
            .expect("map")
            .clone();
        let (at, message) = refs.expand_map(&mut map).expect_err("missing");
        assert_eq!(at, "a.b[0]");
        assert!(
            message.starts_with(&format!(
                "file://nope.lua: cannot read {}:",
                t.root.join("nope.lua").display()
            )),
            "{message}"
        );
    }
}
