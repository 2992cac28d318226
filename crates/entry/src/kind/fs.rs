//! `fs.directory`: a directory on disk, named by other entries (`http.static` serves one).

use std::path::PathBuf;

use crate::error::LoadError;
use crate::kind::fields::Fields;

/// A directory-backed filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsDirectorySpec {
    /// `directory` as written. A relative path is relative to the project directory (the
    /// working directory of `starling run`); Starling has no modules to resolve against.
    pub directory: PathBuf,
    /// `auto_init`: create the directory when it is missing. Default false.
    pub auto_init: bool,
    /// `mode`: Unix permissions (octal text), used when `auto_init` creates the directory.
    /// Default `0755`.
    pub mode: u32,
}

impl FsDirectorySpec {
    pub(super) fn from_fields(data: &Fields<'_>) -> Result<FsDirectorySpec, LoadError> {
        let directory = data
            .string("directory")?
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .ok_or_else(|| data.error("directory is required"))?;
        let mode = match data.raw("mode") {
            None => 0o755,
            Some(serde_json::Value::String(s)) => u32::from_str_radix(s.trim(), 8)
                .ok()
                .filter(|m| *m <= 0o7777)
                .ok_or_else(|| data.error(format!("mode {s:?} must be octal, as \"0755\"")))?,
            Some(_) => {
                return Err(data.error("mode must be octal text, as \"0755\""));
            }
        };
        match data.string("base")? {
            None | Some("project" | "module") => {}
            Some(other) => {
                return Err(data.error(format!(
                    "invalid directory base {other:?} (expected project or module)"
                )));
            }
        }
        Ok(FsDirectorySpec {
            directory: PathBuf::from(directory),
            auto_init: data.boolean("auto_init")?.unwrap_or(false),
            mode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{EntryRef, Site};
    use crate::id::EntryId;
    use serde_json::{Value, json};

    fn build(v: Value) -> Result<FsDirectorySpec, String> {
        let site = Site {
            file: "a.yaml".into(),
            line: Some(1),
            column: None,
            entry: Some(EntryRef::Id(EntryId::new("app", "public"))),
        };
        let map = v.as_object().expect("object").clone();
        FsDirectorySpec::from_fields(&Fields::new(&site, "app", &map)).map_err(|e| e.to_string())
    }

    #[test]
    fn fields() {
        let d =
            build(json!({"directory": "./public", "auto_init": true, "mode": "0700"})).expect("ok");
        assert_eq!(d.directory, PathBuf::from("./public"));
        assert!(d.auto_init);
        assert_eq!(d.mode, 0o700);
        assert_eq!(build(json!({"directory": "x"})).expect("ok").mode, 0o755);
        assert_eq!(
            build(json!({})),
            Err("a.yaml:1: entry app:public: directory is required".into())
        );
        assert_eq!(
            build(json!({"directory": "x", "mode": "rwx"})),
            Err("a.yaml:1: entry app:public: mode \"rwx\" must be octal, as \"0755\"".into())
        );
        assert_eq!(
            build(json!({"directory": "x", "base": "home"})),
            Err("a.yaml:1: entry app:public: invalid directory base \"home\" (expected project or module)".into())
        );
    }
}
