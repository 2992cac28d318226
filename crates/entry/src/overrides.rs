//! Entry overrides (SPEC 1.2 `override:`, SPEC 3.3 `-o ns:entry:path=value`).
//!
//! The path after the entry id is `kind`, `meta.x[.y...]`, `data.x[.y...]`, or a bare
//! `field[.sub...]` (the same as `data.field`). Overrides apply to entries as written, before
//! `file://` references are read and kind checks run, so an override may itself be a
//! `file://` reference (relative to the entry's definition file).

use serde_json::{Map, Value};

use crate::coerce::{MAX_PATH_PARTS, coerce_scalar, set_path, shorten};
use crate::definition::RawEntry;
use crate::error::LoadError;
use crate::id::EntryId;

/// One parsed override.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Override {
    /// The text it came from (`-o` argument or `override:` key), for messages.
    origin: String,
    target: EntryId,
    field: Field,
    value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Kind,
    Meta(Vec<String>),
    Data(Vec<String>),
}

impl Override {
    /// Parses a command-line `-o ns:entry:path=value` (value typed like `--set`).
    pub(crate) fn from_arg(arg: &str) -> Result<Override, LoadError> {
        let (key, value) = arg.split_once('=').ok_or_else(|| LoadError::Override {
            target: shorten(arg),
            message: "expected namespace:entry:field=value".to_owned(),
        })?;
        Override::parse(arg, key, coerce_scalar(value))
    }

    /// Parses one item of the configuration's `override:` map.
    pub(crate) fn from_config(key: &str, value: Value) -> Result<Override, LoadError> {
        Override::parse(key, key, value)
    }

    fn parse(origin: &str, key: &str, value: Value) -> Result<Override, LoadError> {
        let fail = |message: &str| LoadError::Override {
            target: shorten(origin),
            message: message.to_owned(),
        };
        let mut parts = key.splitn(3, ':');
        let (Some(namespace), Some(name), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(fail("expected namespace:entry:field"));
        };
        if namespace.is_empty() || name.is_empty() {
            return Err(fail("expected namespace:entry:field"));
        }
        if path.split('.').nth(MAX_PATH_PARTS).is_some() {
            return Err(fail(&format!(
                "field path has more than {MAX_PATH_PARTS} parts"
            )));
        }
        let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
        if segments.iter().any(String::is_empty) {
            return Err(fail("field path has an empty part"));
        }
        let field = match segments[0].as_str() {
            "kind" if segments.len() == 1 => match &value {
                Value::String(s) if !s.trim().is_empty() => Field::Kind,
                _ => return Err(fail("kind must be a non-empty string")),
            },
            "name" if segments.len() == 1 => {
                return Err(fail("an entry's name cannot be overridden"));
            }
            "meta" | "data" if segments.len() == 1 => {
                return Err(fail(
                    "name a field inside it, such as meta.title or data.source",
                ));
            }
            "meta" => Field::Meta(segments[1..].to_vec()),
            "data" => Field::Data(segments[1..].to_vec()),
            _ => Field::Data(segments),
        };
        Ok(Override {
            origin: origin.to_owned(),
            target: EntryId::new(namespace, name),
            field,
            value,
        })
    }

    /// Applies the override to its entry in `entries`.
    pub(crate) fn apply(&self, entries: &mut [RawEntry]) -> Result<(), LoadError> {
        let entry = entries
            .iter_mut()
            .find(|e| e.id == self.target)
            .ok_or_else(|| LoadError::Override {
                target: shorten(&self.origin),
                message: format!("entry {} not found", self.target),
            })?;
        match &self.field {
            Field::Kind => {
                if let Value::String(kind) = &self.value {
                    entry.kind = kind.trim().to_owned();
                }
            }
            Field::Meta(path) => set(&mut entry.meta, path, self.value.clone()),
            Field::Data(path) => {
                set(&mut entry.data, path, self.value.clone());
                // The written line no longer describes the value.
                entry.field_lines.remove(&path[0]);
            }
        }
        Ok(())
    }
}

fn set(map: &mut Map<String, Value>, path: &[String], value: Value) {
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    set_path(map, &path, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::Origin;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn entry() -> RawEntry {
        RawEntry {
            id: EntryId::new("app", "relay"),
            kind: "process.lua".into(),
            meta: Map::new(),
            data: json!({"source": "x", "lifecycle": {"auto_start": true}})
                .as_object()
                .expect("map")
                .clone(),
            origin: Origin {
                file: "a.yaml".into(),
                line: Some(1),
                index: Some(0),
            },
            field_lines: BTreeMap::from([("source".to_owned(), 3)]),
        }
    }

    #[test]
    fn applies_kind_meta_data_and_bare_fields() {
        let mut entries = [entry()];
        for arg in [
            "app:relay:kind=library.lua",
            "app:relay:meta.title=Relay: main",
            "app:relay:data.lifecycle.auto_start=false",
            "app:relay:host.workers=4",
            "app:relay:source=file://other.lua",
        ] {
            Override::from_arg(arg)
                .expect("parse")
                .apply(&mut entries)
                .expect("apply");
        }
        let e = &entries[0];
        assert_eq!(e.kind, "library.lua");
        assert_eq!(
            Value::Object(e.meta.clone()),
            json!({"title": "Relay: main"})
        );
        assert_eq!(
            Value::Object(e.data.clone()),
            json!({"source": "file://other.lua", "lifecycle": {"auto_start": false}, "host": {"workers": 4}})
        );
        assert!(e.field_lines.is_empty());
    }

    #[test]
    fn config_values_keep_their_type() {
        let mut entries = [entry()];
        Override::from_config("app:relay:modules", json!(["io", "time"]))
            .expect("parse")
            .apply(&mut entries)
            .expect("apply");
        assert_eq!(entries[0].data["modules"], json!(["io", "time"]));
    }

    #[test]
    fn malformed_overrides_are_errors() {
        let cases = [
            (
                "app:relay:source",
                "override \"app:relay:source\": expected namespace:entry:field=value",
            ),
            (
                "app:relay=1",
                "override \"app:relay=1\": expected namespace:entry:field",
            ),
            (
                ":relay:x=1",
                "override \":relay:x=1\": expected namespace:entry:field",
            ),
            (
                "app:relay:a..b=1",
                "override \"app:relay:a..b=1\": field path has an empty part",
            ),
            (
                "app:relay:kind=",
                "override \"app:relay:kind=\": kind must be a non-empty string",
            ),
            (
                "app:relay:name=x",
                "override \"app:relay:name=x\": an entry's name cannot be overridden",
            ),
            (
                "app:relay:meta=x",
                "override \"app:relay:meta=x\": name a field inside it, such as meta.title or data.source",
            ),
        ];
        for (arg, want) in cases {
            assert_eq!(
                Override::from_arg(arg).map_err(|e| e.to_string()),
                Err(want.to_owned()),
                "{arg}"
            );
        }
    }

    /// Issue 11: a path of 30,000 parts used to build a tree deep enough to overflow the
    /// stack; it is refused, and the message quotes only the start of it.
    #[test]
    fn long_paths_are_refused() {
        let long = format!("app:relay:meta{}", ".a".repeat(30_000));
        for err in [
            Override::from_arg(&format!("{long}=1")).expect_err("too long"),
            Override::from_config(&long, json!(1)).expect_err("too long"),
        ] {
            let text = err.to_string();
            assert!(
                text.ends_with("…\": field path has more than 64 parts"),
                "{text}"
            );
            assert!(text.len() < 200, "{text}");
        }
        let parts = vec!["a"; MAX_PATH_PARTS - 1].join(".");
        let mut entries = [entry()];
        Override::from_arg(&format!("app:relay:meta.{parts}=1"))
            .expect("64 parts")
            .apply(&mut entries)
            .expect("apply");
    }

    #[test]
    fn unknown_entry_is_an_error() {
        let mut entries = [entry()];
        let err = Override::from_arg("app:nope:x=1")
            .expect("parse")
            .apply(&mut entries)
            .expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "override \"app:nope:x=1\": entry app:nope not found"
        );
    }
}
