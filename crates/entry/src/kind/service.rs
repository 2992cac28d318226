//! `process.service` (SPEC 2.4): a process spawned on a host and restarted by a supervisor.

use serde_json::Value;

use crate::error::LoadError;
use crate::id::EntryId;
use crate::kind::fields::Fields;
use crate::lifecycle::Lifecycle;

/// Wippy's control host, which a service may not use.
pub const CONTROL_HOST: &str = "node:control";

/// A supervised process.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    /// `process`: the `process.lua` entry to run (required; bare names resolved).
    pub process: EntryId,
    /// `host`: the host entry to run it on (required; bare names resolved, SPEC 11.8).
    pub host: EntryId,
    /// `input`: spawn arguments. A list gives one argument per item; any other value is a
    /// single argument.
    pub input: Vec<Value>,
    /// `lifecycle`.
    pub lifecycle: Lifecycle,
}

impl ServiceSpec {
    pub(super) fn from_fields(data: &Fields<'_>) -> Result<ServiceSpec, LoadError> {
        let process = data
            .reference("process")?
            .ok_or_else(|| data.error("process is required"))?;
        let host = data
            .reference("host")?
            .ok_or_else(|| data.error("host is required"))?;
        if host.to_string() == CONTROL_HOST {
            return Err(data.error(format!("host {CONTROL_HOST} is not allowed for a service")));
        }
        let input = match data.raw("input") {
            None => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(other) => vec![other.clone()],
        };
        Ok(ServiceSpec {
            process,
            host,
            input,
            lifecycle: Lifecycle::from_fields(data)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{EntryRef, Site};
    use serde_json::json;

    fn build(data: Value) -> Result<ServiceSpec, String> {
        let site = Site {
            file: "a.yaml".into(),
            line: Some(4),
            column: None,
            entry: Some(EntryRef::Id(EntryId::new("app", "svc"))),
        };
        let map = data.as_object().expect("object").clone();
        ServiceSpec::from_fields(&Fields::new(&site, "app", &map)).map_err(|e| e.to_string())
    }

    #[test]
    fn resolves_bare_process_and_host() {
        let spec = build(
            json!({"process": "relay", "host": "processes", "input": ["a", 2],
                                "lifecycle": {"auto_start": true}}),
        )
        .expect("valid");
        assert_eq!(spec.process, EntryId::new("app", "relay"));
        assert_eq!(spec.host, EntryId::new("app", "processes"));
        assert_eq!(spec.input, [json!("a"), json!(2)]);
        assert!(spec.lifecycle.auto_start);
        let single =
            build(json!({"process": "x:p", "host": "x:h", "input": {"k": 1}})).expect("valid");
        assert_eq!(single.input, [json!({"k": 1})]);
        assert_eq!(single.process, EntryId::new("x", "p"));
    }

    #[test]
    fn required_fields() {
        assert_eq!(
            build(json!({"host": "h"})),
            Err("a.yaml:4: entry app:svc: process is required".into())
        );
        assert_eq!(
            build(json!({"process": "p"})),
            Err("a.yaml:4: entry app:svc: host is required".into())
        );
        assert_eq!(
            build(json!({"process": "p", "host": "node:control"})),
            Err("a.yaml:4: entry app:svc: host node:control is not allowed for a service".into())
        );
        assert_eq!(
            build(json!({"process": "app:", "host": "h"})),
            Err("a.yaml:4: entry app:svc: process: entry id \"app:\" has no name (expected namespace:name)".into())
        );
    }
}
