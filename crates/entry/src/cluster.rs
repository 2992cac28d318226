//! The `cluster:` section of the configuration (issue 12): several nodes of one project on
//! NATS. Absent or `enabled: false` means a single node, exactly as without the section.
//!
//! ```yaml
//! cluster:
//!   enabled: true
//!   name: a                        # node name; pids print {a@app:processes|0x00004}
//!   cluster_id: echo               # subject and bucket prefix (default "starling")
//!   nats: { urls: ["nats://127.0.0.1:4222"] }
//!   node_timeout: 1s               # silence before a peer is declared down
//!   heartbeat: 250ms
//!   connect_timeout: 5s
//!   registry: { export_local: true, timeout: 2s, replicas: 1 }
//!   placement:
//!     services: { "app:relay-service": [a] }   # auto-start this service only on node a
//!     spawn: { "app:processes": [b] }          # spawns on this host run on node b
//! ```
//!
//! Every key can also be given as `--set cluster.x=y` (a list as `a,b`). Wippy's own
//! cluster keys (`membership`, `raft`, `internode`) name machinery NATS replaces: they are
//! accepted with one warning.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::Config;
use crate::duration::{nanos_to_duration, parse_go_duration};
use crate::error::LoadError;

/// The checked `cluster:` section.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// Node name (`cluster.name`, default: the host name).
    pub name: String,
    /// Prefix of subjects and buckets (`cluster.cluster_id`, default `starling`).
    pub cluster_id: String,
    /// NATS URLs (`cluster.nats.urls`, default `nats://127.0.0.1:4222`).
    pub urls: Vec<String>,
    /// `cluster.node_timeout` (default 1s).
    pub node_timeout: Duration,
    /// `cluster.heartbeat` (default 250ms).
    pub heartbeat: Duration,
    /// `cluster.connect_timeout` (default 5s).
    pub connect_timeout: Duration,
    /// `cluster.registry.export_local` (default false).
    pub export_local: bool,
    /// `cluster.registry.timeout` (default 2s).
    pub registry_timeout: Duration,
    /// `cluster.registry.replicas` (default 1).
    pub replicas: usize,
    /// `cluster.placement.services`: service id → the nodes that auto-start it.
    pub service_placement: Vec<(String, Vec<String>)>,
    /// `cluster.placement.spawn`: host id → the nodes its spawns run on.
    pub spawn_placement: Vec<(String, Vec<String>)>,
    /// Warnings to log (ignored Wippy keys, unknown keys).
    pub warnings: Vec<String>,
}

impl ClusterConfig {
    /// True when the service `id` auto-starts on this node.
    pub fn runs_service(&self, id: &str) -> bool {
        self.service_placement
            .iter()
            .find(|(s, _)| s == id)
            .is_none_or(|(_, nodes)| nodes.contains(&self.name))
    }
}

fn bad(key: &str, message: impl Into<String>) -> LoadError {
    LoadError::Config {
        key: key.to_owned(),
        message: message.into(),
    }
}

fn boolean(v: &Value, key: &str) -> Result<bool, LoadError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if crate::coerce::yaml_bool(s).is_some() => {
            Ok(crate::coerce::yaml_bool(s) == Some(true))
        }
        other => Err(bad(key, format!("must be true or false, got {other}"))),
    }
}

fn text(v: &Value, key: &str) -> Result<String, LoadError> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        other => Err(bad(key, format!("must be a non-empty string, got {other}"))),
    }
}

fn duration(v: &Value, key: &str) -> Result<Duration, LoadError> {
    let d = match v {
        Value::String(s) => parse_go_duration(s)
            .and_then(|n| nanos_to_duration(n, s))
            .map_err(|e| bad(key, e.to_string()))?,
        Value::Number(n) => {
            let t = n.to_string();
            nanos_to_duration(n.as_f64().map_or(-1, |f| f as i64), &t)
                .map_err(|e| bad(key, e.to_string()))?
        }
        other => {
            return Err(bad(
                key,
                format!("must be a duration such as \"1s\", got {other}"),
            ));
        }
    };
    if d.is_zero() {
        return Err(bad(key, "must be more than zero"));
    }
    Ok(d)
}

/// A list of strings: a YAML list, or one string of comma-separated items (`--set`).
fn list(v: &Value, key: &str) -> Result<Vec<String>, LoadError> {
    let items: Vec<String> = match v {
        Value::Array(a) => a.iter().map(|x| text(x, key)).collect::<Result<_, _>>()?,
        Value::String(s) => s
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(',')
            .map(|x| x.trim().trim_matches('"').to_owned())
            .filter(|x| !x.is_empty())
            .collect(),
        other => return Err(bad(key, format!("must be a list, got {other}"))),
    };
    if items.is_empty() {
        return Err(bad(key, "must not be empty"));
    }
    Ok(items)
}

fn placement(v: &Value, key: &str) -> Result<Vec<(String, Vec<String>)>, LoadError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| Ok((k.clone(), list(v, &format!("{key}.{k}"))?)))
            .collect(),
        other => Err(bad(
            key,
            format!("must be a mapping of ids to node lists, got {other}"),
        )),
    }
}

fn section<'a>(
    m: &'a Map<String, Value>,
    key: &str,
    full: &str,
) -> Result<Option<&'a Map<String, Value>>, LoadError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(other) => Err(bad(full, format!("must be a mapping, got {other}"))),
    }
}

fn default_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "node".to_owned())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Reads the `cluster:` section: `None` when clustering is off (no section, or `enabled`
/// false).
pub fn cluster_config(config: &Config) -> Result<Option<ClusterConfig>, LoadError> {
    let m = match config.get("cluster") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => m,
        Some(other) => return Err(bad("cluster", format!("must be a mapping, got {other}"))),
    };
    let enabled = match m.get("enabled") {
        None | Some(Value::Null) => false,
        Some(v) => boolean(v, "cluster.enabled")?,
    };
    if !enabled {
        return Ok(None);
    }
    let mut c = ClusterConfig {
        name: default_name(),
        cluster_id: "starling".to_owned(),
        urls: vec!["nats://127.0.0.1:4222".to_owned()],
        node_timeout: Duration::from_secs(1),
        heartbeat: Duration::from_millis(250),
        connect_timeout: Duration::from_secs(5),
        export_local: false,
        registry_timeout: Duration::from_secs(2),
        replicas: 1,
        service_placement: Vec::new(),
        spawn_placement: Vec::new(),
        warnings: Vec::new(),
    };
    for (k, v) in m {
        let key = format!("cluster.{k}");
        match k.as_str() {
            "enabled" => {}
            "name" => c.name = text(v, &key)?,
            "cluster_id" => c.cluster_id = text(v, &key)?,
            "node_timeout" => c.node_timeout = duration(v, &key)?,
            "heartbeat" => c.heartbeat = duration(v, &key)?,
            "connect_timeout" => c.connect_timeout = duration(v, &key)?,
            "nats" => {
                if let Some(n) = section(m, "nats", &key)? {
                    for (nk, nv) in n {
                        match nk.as_str() {
                            "urls" | "url" => c.urls = list(nv, &format!("{key}.{nk}"))?,
                            other => c
                                .warnings
                                .push(format!("cluster.nats.{other} is not supported: ignored")),
                        }
                    }
                }
            }
            "registry" => {
                if let Some(r) = section(m, "registry", &key)? {
                    for (rk, rv) in r {
                        let rkey = format!("{key}.{rk}");
                        match rk.as_str() {
                            "export_local" => c.export_local = boolean(rv, &rkey)?,
                            "timeout" => c.registry_timeout = duration(rv, &rkey)?,
                            "replicas" => {
                                c.replicas = match rv {
                                    Value::Number(n)
                                        if n.as_u64().is_some_and(|n| (1..=5).contains(&n)) =>
                                    {
                                        n.as_u64().unwrap_or(1) as usize
                                    }
                                    Value::String(s)
                                        if s.parse::<usize>()
                                            .is_ok_and(|n| (1..=5).contains(&n)) =>
                                    {
                                        s.parse().unwrap_or(1)
                                    }
                                    other => {
                                        return Err(bad(
                                            &rkey,
                                            format!("must be 1 to 5, got {other}"),
                                        ));
                                    }
                                }
                            }
                            other => c.warnings.push(format!(
                                "cluster.registry.{other} is not supported: ignored"
                            )),
                        }
                    }
                }
            }
            "placement" => {
                if let Some(p) = section(m, "placement", &key)? {
                    for (pk, pv) in p {
                        let pkey = format!("{key}.{pk}");
                        match pk.as_str() {
                            "services" => c.service_placement = placement(pv, &pkey)?,
                            "spawn" => c.spawn_placement = placement(pv, &pkey)?,
                            other => c.warnings.push(format!(
                                "cluster.placement.{other} is not supported: ignored"
                            )),
                        }
                    }
                }
            }
            "membership" | "raft" | "internode" => c.warnings.push(format!(
                "cluster.{k} is Wippy's own machinery; Starling clusters run on NATS: ignored"
            )),
            other => c
                .warnings
                .push(format!("cluster.{other} is not a cluster setting: ignored")),
        }
    }
    if !token(&c.name) {
        return Err(bad(
            "cluster.name",
            format!("{:?} is not a node name (letters, digits, - and _)", c.name),
        ));
    }
    if !token(&c.cluster_id) {
        return Err(bad(
            "cluster.cluster_id",
            format!(
                "{:?} is not a cluster id (letters, digits, - and _)",
                c.cluster_id
            ),
        ));
    }
    for (id, nodes) in c.service_placement.iter().chain(c.spawn_placement.iter()) {
        if let Some(n) = nodes.iter().find(|n| !token(n)) {
            return Err(bad(
                &format!("cluster.placement ({id})"),
                format!("{n:?} is not a node name"),
            ));
        }
    }
    Ok(Some(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(v: Value, sets: &[&str]) -> Result<Option<ClusterConfig>, LoadError> {
        let mut tree = match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        for s in sets {
            let (k, val) = s.split_once('=').expect("k=v");
            let path: Vec<&str> = k.split('.').collect();
            crate::coerce::set_path(&mut tree, &path, crate::coerce::coerce_scalar(val));
        }
        cluster_config(&Config::from_map(tree).expect("config"))
    }

    #[test]
    fn off_unless_enabled() {
        assert_eq!(load(json!({}), &[]).expect("ok"), None);
        assert_eq!(
            load(json!({"cluster": {"name": "a"}}), &[]).expect("ok"),
            None
        );
    }

    #[test]
    fn the_issue_example_and_set_keys() {
        let c = load(
            json!({"cluster": {
                "enabled": true, "name": "a",
                "nats": {"urls": ["nats://127.0.0.1:4222"]},
                "node_timeout": "1s",
                "registry": {"export_local": true},
                "placement": {"services": {"app:relay-service": ["a"]},
                              "spawn": {"app:processes": ["b"]}},
                "raft": {"bootstrap_expect": 1}
            }}),
            &["cluster.name=c", "cluster.nats.urls=nats://x:1,nats://y:2"],
        )
        .expect("valid")
        .expect("enabled");
        assert_eq!(c.name, "c");
        assert_eq!(c.urls, vec!["nats://x:1", "nats://y:2"]);
        assert!(c.export_local);
        assert!(!c.runs_service("app:relay-service"), "placed on a only");
        assert!(
            c.runs_service("app:other"),
            "unplaced services run everywhere"
        );
        assert_eq!(
            c.spawn_placement,
            vec![("app:processes".into(), vec!["b".into()])]
        );
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("raft"));
    }

    #[test]
    fn bad_values_name_their_key() {
        let e =
            load(json!({"cluster": {"enabled": true, "name": "a b"}}), &[]).expect_err("bad name");
        assert!(e.to_string().contains("cluster.name"), "{e}");
        let e = load(
            json!({"cluster": {"enabled": true, "name": "a", "node_timeout": "soon"}}),
            &[],
        )
        .expect_err("bad duration");
        assert!(e.to_string().contains("cluster.node_timeout"), "{e}");
        let e = load(json!({"cluster": {"enabled": "maybe"}}), &[]).expect_err("bad bool");
        assert!(e.to_string().contains("cluster.enabled"), "{e}");
    }
}
