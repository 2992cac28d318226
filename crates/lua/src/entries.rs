//! The entry registry as Lua's `registry` module sees it: the project's entries, versioned,
//! shared by every worker of a node. Changes made from Lua (`changes:apply()`) create a new
//! version that later snapshots and lookups see; they do not change what runs (hosts, services
//! and compiled code are fixed at boot).

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;
use serde_json::{Map, Value as Json};

/// One entry: id, kind, meta and data as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryView {
    /// `namespace:name`.
    pub id: String,
    /// Entry kind.
    pub kind: String,
    /// Free-form metadata.
    pub meta: Map<String, Json>,
    /// Kind-specific data.
    pub data: Json,
}

impl EntryView {
    /// The namespace part of the id.
    pub fn namespace(&self) -> &str {
        self.id.split_once(':').map_or("", |(ns, _)| ns)
    }

    /// The name part of the id.
    pub fn name(&self) -> &str {
        self.id.split_once(':').map_or(self.id.as_str(), |(_, n)| n)
    }
}

/// One version of the registry.
#[derive(Debug)]
pub struct Version {
    /// 0 at boot, +1 per applied change set.
    pub number: u64,
    /// Entries by id.
    pub entries: BTreeMap<String, Arc<EntryView>>,
}

/// A change to apply.
#[derive(Debug, Clone)]
pub enum Change {
    /// Add an entry; fails when the id exists.
    Create(EntryView),
    /// Replace an entry; fails when the id does not exist.
    Update(EntryView),
    /// Remove an entry; fails when the id does not exist.
    Delete(String),
}

/// The registry of a node.
#[derive(Debug)]
pub struct EntryStore {
    current: RwLock<Arc<Version>>,
}

impl Default for EntryStore {
    fn default() -> EntryStore {
        EntryStore::new(Vec::new())
    }
}

impl EntryStore {
    /// A registry holding `entries` as version 0.
    pub fn new(entries: Vec<EntryView>) -> EntryStore {
        let entries = entries
            .into_iter()
            .map(|e| (e.id.clone(), Arc::new(e)))
            .collect();
        EntryStore {
            current: RwLock::new(Arc::new(Version { number: 0, entries })),
        }
    }

    /// The current version.
    pub fn snapshot(&self) -> Arc<Version> {
        self.current.read().clone()
    }

    /// Applies `changes` atomically on top of the current version; returns the new version.
    pub fn apply(&self, changes: &[Change]) -> Result<Arc<Version>, String> {
        if changes.is_empty() {
            return Err("no changes to apply".into());
        }
        let mut current = self.current.write();
        let mut entries = current.entries.clone();
        for change in changes {
            match change {
                Change::Create(e) => {
                    if entries.contains_key(&e.id) {
                        return Err(format!("entry already exists: {}", e.id));
                    }
                    entries.insert(e.id.clone(), Arc::new(e.clone()));
                }
                Change::Update(e) => {
                    if !entries.contains_key(&e.id) {
                        return Err(format!("entry not found: {}", e.id));
                    }
                    entries.insert(e.id.clone(), Arc::new(e.clone()));
                }
                Change::Delete(id) => {
                    if entries.remove(id).is_none() {
                        return Err(format!("entry not found: {id}"));
                    }
                }
            }
        }
        let next = Arc::new(Version {
            number: current.number + 1,
            entries,
        });
        *current = next.clone();
        Ok(next)
    }
}

/// Glob match with `*` (any run of characters) and `?` (one character).
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// One condition of a `find` filter.
#[derive(Debug, Clone)]
pub enum Filter {
    /// `.kind` / `kind`: glob on the kind.
    Kind(String),
    /// `.ns` / `ns`: glob on the namespace.
    Namespace(String),
    /// `.name` / `name`: glob on the name.
    Name(String),
    /// `.id` / `id`: glob on the id.
    Id(String),
    /// `meta.key` or any other key: the meta field equals the value (strings may use globs).
    Meta(String, Json),
}

impl Filter {
    /// The condition a filter key and value stand for.
    pub fn new(key: &str, value: Json) -> Filter {
        let text = || match &value {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        match key.trim_start_matches('.') {
            "kind" => Filter::Kind(text()),
            "ns" | "namespace" => Filter::Namespace(text()),
            "name" => Filter::Name(text()),
            "id" => Filter::Id(text()),
            other => Filter::Meta(
                other.strip_prefix("meta.").unwrap_or(other).to_string(),
                value,
            ),
        }
    }

    /// True when `entry` satisfies the condition.
    pub fn matches(&self, entry: &EntryView) -> bool {
        match self {
            Filter::Kind(p) => glob(p, &entry.kind),
            Filter::Namespace(p) => glob(p, entry.namespace()),
            Filter::Name(p) => glob(p, entry.name()),
            Filter::Id(p) => glob(p, &entry.id),
            Filter::Meta(key, want) => {
                let mut parts = key.split('.');
                let first = parts.next().unwrap_or("");
                let mut at = entry.meta.get(first);
                for part in parts {
                    at = at.and_then(|v| v.get(part));
                }
                match (at, want) {
                    (Some(Json::String(have)), Json::String(p)) => glob(p, have),
                    (Some(Json::Number(a)), Json::Number(b)) => a.as_f64() == b.as_f64(),
                    (Some(have), want) => have == want,
                    (None, _) => false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(id: &str, kind: &str, meta: Json) -> EntryView {
        EntryView {
            id: id.into(),
            kind: kind.into(),
            meta: meta.as_object().cloned().unwrap_or_default(),
            data: json!({}),
        }
    }

    #[test]
    fn filters_and_globs() {
        let e = entry(
            "app.jobs:job.a",
            "function.lua",
            json!({"type": "cron.job", "n": 2, "x": {"y": true}}),
        );
        assert!(Filter::new(".kind", json!("function.lua")).matches(&e));
        assert!(Filter::new("kind", json!("function.*")).matches(&e));
        assert!(Filter::new(".ns", json!("app.*")).matches(&e));
        assert!(!Filter::new(".ns", json!("app")).matches(&e));
        assert!(Filter::new("name", json!("job.?")).matches(&e));
        assert!(Filter::new("meta.type", json!("cron.job")).matches(&e));
        assert!(Filter::new("type", json!("cron.job")).matches(&e));
        assert!(Filter::new("n", json!(2.0)).matches(&e));
        assert!(Filter::new("x.y", json!(true)).matches(&e));
        assert!(!Filter::new("missing", json!("a")).matches(&e));
    }

    #[test]
    fn versions() {
        let store = EntryStore::new(vec![entry("a:x", "k", json!({}))]);
        let v1 = store.snapshot();
        let v2 = store
            .apply(&[
                Change::Create(entry("a:y", "k", json!({}))),
                Change::Delete("a:x".into()),
            ])
            .expect("applies");
        assert_eq!((v1.number, v2.number), (0, 1));
        assert!(v1.entries.contains_key("a:x") && !v2.entries.contains_key("a:x"));
        assert!(store.apply(&[Change::Delete("a:x".into())]).is_err());
        assert!(store.apply(&[]).is_err());
        assert_eq!(store.snapshot().number, 1);
    }
}
