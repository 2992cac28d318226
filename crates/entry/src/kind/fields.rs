//! Typed reading of an entry's data fields, with errors that name the entry and the field.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::coerce::yaml_bool;
use crate::duration::{nanos_to_duration, parse_go_duration};
use crate::error::{DurationError, LoadError, Site};
use crate::id::EntryId;
use crate::lock::type_name;

/// A view of one mapping inside an entry's data (the data itself, or a block like `lifecycle`),
/// with the dotted prefix used in messages (`lifecycle.restart.`).
#[derive(Debug, Clone)]
pub(crate) struct Fields<'a> {
    site: &'a Site,
    namespace: &'a str,
    map: Option<&'a Map<String, Value>>,
    prefix: String,
}

impl<'a> Fields<'a> {
    /// The top-level data of an entry in `namespace`.
    pub(crate) fn new(site: &'a Site, namespace: &'a str, data: &'a Map<String, Value>) -> Self {
        Fields {
            site,
            namespace,
            map: Some(data),
            prefix: String::new(),
        }
    }

    /// Another mapping of the same entry (its `meta`), named `prefix` in messages (`meta.`).
    pub(crate) fn sibling(&self, map: &'a Map<String, Value>, prefix: &str) -> Fields<'a> {
        Fields {
            site: self.site,
            namespace: self.namespace,
            map: Some(map),
            prefix: prefix.to_owned(),
        }
    }

    /// The dotted name of `key` for messages.
    pub(crate) fn name(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// An error at this entry.
    pub(crate) fn error(&self, message: impl Into<String>) -> LoadError {
        LoadError::definition(self.site, message)
    }

    /// The raw value of `key`; `null` counts as absent.
    pub(crate) fn raw(&self, key: &str) -> Option<&'a Value> {
        self.map.and_then(|m| m.get(key)).filter(|v| !v.is_null())
    }

    fn wrong_type(&self, key: &str, expected: &str, got: &Value) -> LoadError {
        self.error(format!(
            "{} must be {expected}, found {}",
            self.name(key),
            type_name(got)
        ))
    }

    /// The nested mapping `key` (absent = empty).
    pub(crate) fn block(&self, key: &str) -> Result<Fields<'a>, LoadError> {
        let map = match self.raw(key) {
            None => None,
            Some(Value::Object(map)) => Some(map),
            Some(other) => return Err(self.wrong_type(key, "a mapping", other)),
        };
        Ok(Fields {
            site: self.site,
            namespace: self.namespace,
            map,
            prefix: format!("{}.", self.name(key)),
        })
    }

    /// A string field.
    pub(crate) fn string(&self, key: &str) -> Result<Option<&'a str>, LoadError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong_type(key, "a string", other)),
        }
    }

    /// A boolean field; YAML 1.1 spellings (`yes`, `on`, ...) are accepted as Go's yaml.v3
    /// does for typed fields.
    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>, LoadError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) => yaml_bool(s).map(Some).ok_or_else(|| {
                self.error(format!(
                    "{} must be true or false, found {s:?}",
                    self.name(key)
                ))
            }),
            Some(other) => Err(self.wrong_type(key, "true or false", other)),
        }
    }

    /// An integer field (an integral float such as `4.0` is accepted).
    pub(crate) fn integer(&self, key: &str) -> Result<Option<i64>, LoadError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                if let Some(i) = n.as_i64() {
                    return Ok(Some(i));
                }
                match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
                    _ => {
                        Err(self.error(format!("{} must be an integer, found {n}", self.name(key))))
                    }
                }
            }
            Some(other) => Err(self.wrong_type(key, "an integer", other)),
        }
    }

    /// A number field.
    pub(crate) fn float(&self, key: &str) -> Result<Option<f64>, LoadError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(other) => Err(self.wrong_type(key, "a number", other)),
        }
    }

    /// A duration field: a Go duration string or a number of nanoseconds (fraction
    /// truncated). Negative values are an error.
    pub(crate) fn duration(&self, key: &str) -> Result<Option<Duration>, LoadError> {
        let fail = |e: DurationError| self.error(format!("{}: {e}", self.name(key)));
        match self.raw(key) {
            None => Ok(None),
            Some(Value::String(s)) => {
                let nanos = parse_go_duration(s).map_err(fail)?;
                nanos_to_duration(nanos, s).map(Some).map_err(fail)
            }
            Some(Value::Number(n)) => {
                let text = n.to_string();
                let nanos = match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) => i,
                    (None, Some(f)) if f.abs() < 9.2e18 => f as i64,
                    _ => return Err(fail(DurationError::Overflow(text))),
                };
                nanos_to_duration(nanos, &text).map(Some).map_err(fail)
            }
            Some(other) => Err(self.wrong_type(key, "a duration such as \"10s\"", other)),
        }
    }

    /// A duration where zero or absence means `default` (SPEC 2.4).
    pub(crate) fn duration_or(&self, key: &str, default: Duration) -> Result<Duration, LoadError> {
        Ok(self
            .duration(key)?
            .filter(|d| !d.is_zero())
            .unwrap_or(default))
    }

    /// A list of strings (absent = empty).
    pub(crate) fn strings(&self, key: &str) -> Result<Vec<String>, LoadError> {
        match self.raw(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(self.error(format!(
                        "{}[{i}] must be a string, found {}",
                        self.name(key),
                        type_name(other)
                    ))),
                })
                .collect(),
            Some(other) => Err(self.wrong_type(key, "a list of strings", other)),
        }
    }

    /// A reference to another entry; a bare name resolves to the own namespace.
    pub(crate) fn reference(&self, key: &str) -> Result<Option<EntryId>, LoadError> {
        match self.string(key)? {
            None => Ok(None),
            Some(text) => self.resolve(&self.name(key), text).map(Some),
        }
    }

    /// Resolves `text` (a reference written in field `name`) against the own namespace.
    pub(crate) fn resolve(&self, name: &str, text: &str) -> Result<EntryId, LoadError> {
        EntryId::resolve(text.trim(), self.namespace)
            .map_err(|e| self.error(format!("{name}: {e}")))
    }

    /// A list of references (absent = empty).
    pub(crate) fn references(&self, key: &str) -> Result<Vec<EntryId>, LoadError> {
        let name = self.name(key);
        self.strings(key)?
            .iter()
            .enumerate()
            .map(|(i, text)| self.resolve(&format!("{name}[{i}]"), text))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn site() -> Site {
        Site {
            file: "src/a.yaml".into(),
            line: Some(3),
            column: None,
            entry: Some(crate::error::EntryRef::Id(EntryId::new("app", "x"))),
        }
    }

    fn data(value: Value) -> Map<String, Value> {
        value.as_object().expect("object").clone()
    }

    #[test]
    fn reads_typed_values_and_names_nested_fields() {
        let site = site();
        let data = data(json!({
            "lifecycle": {"auto_start": true, "start_timeout": "1.5s", "n": 4.0,
                          "restart": {"max_delay": 250, "bad": "1d"}},
            "text": "x", "null": null, "yes": "yes"
        }));
        let fields = Fields::new(&site, "app", &data);
        let lifecycle = fields.block("lifecycle").expect("mapping");
        assert_eq!(lifecycle.boolean("auto_start").expect("bool"), Some(true));
        assert_eq!(
            lifecycle.duration("start_timeout").expect("duration"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(lifecycle.integer("n").expect("int"), Some(4));
        let restart = lifecycle.block("restart").expect("mapping");
        assert_eq!(
            restart.duration("max_delay").expect("nanos"),
            Some(Duration::from_nanos(250))
        );
        assert_eq!(
            restart.duration("bad").expect_err("unit").to_string(),
            "src/a.yaml:3: entry app:x: lifecycle.restart.bad: unknown unit \"d\" in duration \"1d\""
        );
        assert_eq!(fields.string("null").expect("absent"), None);
        assert_eq!(fields.boolean("yes").expect("yaml 1.1"), Some(true));
        assert_eq!(
            fields.boolean("text").expect_err("type").to_string(),
            "src/a.yaml:3: entry app:x: text must be true or false, found \"x\""
        );
        assert_eq!(
            fields
                .block("missing")
                .expect("empty")
                .string("x")
                .expect("none"),
            None
        );
    }

    #[test]
    fn references_resolve_against_namespace() {
        let site = site();
        let data = data(json!({"requires": ["db", "other:cache"], "bad": ["app:"]}));
        let fields = Fields::new(&site, "app", &data);
        assert_eq!(
            fields.references("requires").expect("ids"),
            [EntryId::new("app", "db"), EntryId::new("other", "cache")]
        );
        assert_eq!(
            fields.references("bad").expect_err("bad id").to_string(),
            "src/a.yaml:3: entry app:x: bad[0]: entry id \"app:\" has no name (expected namespace:name)"
        );
    }
}
