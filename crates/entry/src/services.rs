//! Checks across entries for `process.service` (SPEC 2.4, 2.7): the host a service names, the
//! kinds its `requires` name, and cycles among services.
//!
//! What is a load error here and what is left to the supervisor follows SPEC 2.7:
//!
//! | Problem | Where |
//! |---|---|
//! | `host` names no entry, or an entry that is not a host | load error (here) |
//! | `requires` names an entry that is neither a service nor a host | load error (here) |
//! | `requires` forms a cycle (a service requiring itself included) | load error (here) |
//! | `requires` names no entry | runtime: the service enters `Failed` and retries |
//! | `process` names no entry (or not a `process.lua`) | runtime: the spawn fails, `Failed`, retries |

use std::collections::BTreeMap;

use crate::entry::Entry;
use crate::error::LoadError;
use crate::id::EntryId;
use crate::kind::EntrySpec;

/// Runs the checks over every entry (sorted by id); the first problem is the error.
pub(crate) fn check_services(entries: &[Entry]) -> Result<(), LoadError> {
    let by_id: BTreeMap<&EntryId, &Entry> = entries.iter().map(|e| (&e.id, e)).collect();
    for e in entries {
        let EntrySpec::Service(s) = &e.spec else {
            continue;
        };
        match by_id.get(&s.host) {
            None => {
                return Err(LoadError::definition(
                    &e.site(),
                    format!("host {} not found", s.host),
                ));
            }
            Some(h) if !h.spec.is_host() => {
                return Err(LoadError::definition(
                    &e.site(),
                    format!("host {} is not a host (kind {})", s.host, h.kind),
                ));
            }
            Some(_) => {}
        }
        for r in &s.lifecycle.requires {
            if let Some(dep) = by_id.get(r) {
                if !matches!(dep.spec, EntrySpec::Service(_)) && !dep.spec.is_host() {
                    return Err(LoadError::definition(
                        &e.site(),
                        format!(
                            "lifecycle.requires: {r} is not a service or host (kind {})",
                            dep.kind
                        ),
                    ));
                }
            }
        }
    }
    if let Some((first, cycle)) = find_cycle(entries, &by_id) {
        let path: Vec<String> = cycle.iter().map(|id| id.to_string()).collect();
        return Err(LoadError::definition(
            &first.site(),
            format!("lifecycle.requires forms a cycle: {}", path.join(" -> ")),
        ));
    }
    Ok(())
}

/// The services a service requires (existing services only).
fn service_deps<'a>(e: &'a Entry, by_id: &BTreeMap<&EntryId, &'a Entry>) -> Vec<&'a Entry> {
    let EntrySpec::Service(s) = &e.spec else {
        return Vec::new();
    };
    s.lifecycle
        .requires
        .iter()
        .filter_map(|r| by_id.get(r).copied())
        .filter(|d| matches!(d.spec, EntrySpec::Service(_)))
        .collect()
}

/// Depth-first search in id order; returns the entry where the first cycle was closed and
/// the cycle as a path that starts and ends with the same id.
fn find_cycle<'a>(
    entries: &'a [Entry],
    by_id: &BTreeMap<&EntryId, &'a Entry>,
) -> Option<(&'a Entry, Vec<&'a EntryId>)> {
    #[derive(Copy, Clone, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut marks: BTreeMap<&EntryId, Mark> = BTreeMap::new();
    for root in entries {
        if !matches!(root.spec, EntrySpec::Service(_))
            || marks.get(&root.id).copied().unwrap_or(Mark::New) != Mark::New
        {
            continue;
        }
        // Iterative DFS: a stack of (entry, its deps, next dep index).
        let mut stack: Vec<(&Entry, Vec<&Entry>, usize)> =
            vec![(root, service_deps(root, by_id), 0)];
        marks.insert(&root.id, Mark::Open);
        while let Some((node, deps, next)) = stack.last_mut() {
            let Some(dep) = deps.get(*next).copied() else {
                marks.insert(&node.id, Mark::Done);
                stack.pop();
                continue;
            };
            *next += 1;
            match marks.get(&dep.id).copied().unwrap_or(Mark::New) {
                Mark::Done => {}
                Mark::Open => {
                    let start = stack
                        .iter()
                        .position(|(n, _, _)| n.id == dep.id)
                        .expect("an open entry is on the stack");
                    let mut path: Vec<&EntryId> =
                        stack[start..].iter().map(|(n, _, _)| &n.id).collect();
                    path.push(&dep.id);
                    return Some((stack[start].0, path));
                }
                Mark::New => {
                    marks.insert(&dep.id, Mark::Open);
                    let deps = service_deps(dep, by_id);
                    stack.push((dep, deps, 0));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::{ProcessHostSpec, ServiceSpec};
    use crate::lifecycle::Lifecycle;
    use crate::origin::Origin;
    use serde_json::Map;

    fn entry(name: &str, kind: &str, spec: EntrySpec) -> Entry {
        Entry {
            id: EntryId::new("app", name),
            kind: kind.into(),
            meta: Map::new(),
            data: Map::new(),
            origin: Origin {
                file: "src/_index.yaml".into(),
                line: Some(3),
                index: Some(0),
            },
            spec,
        }
    }

    fn host(name: &str) -> Entry {
        let spec = ProcessHostSpec {
            workers: 1,
            queue_size: 1,
            local_queue_size: 1,
            max_mailbox: 0,
            memory_limit: 1 << 30,
            watchdog: crate::kind::DEFAULT_WATCHDOG,
            lifecycle: Lifecycle::default(),
        };
        entry(name, "process.host", EntrySpec::ProcessHost(spec))
    }

    fn service(name: &str, host: &str, requires: &[&str]) -> Entry {
        let lifecycle = Lifecycle {
            requires: requires.iter().map(|r| EntryId::new("app", *r)).collect(),
            ..Lifecycle::default()
        };
        let spec = ServiceSpec {
            process: EntryId::new("app", "p"),
            host: EntryId::new("app", host),
            input: Vec::new(),
            lifecycle,
        };
        entry(name, "process.service", EntrySpec::Service(spec))
    }

    fn check(mut entries: Vec<Entry>) -> Result<(), String> {
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        check_services(&entries).map_err(|e| e.to_string())
    }

    #[test]
    fn valid_graph_passes() {
        // A requirement that names no entry is left to the supervisor (SPEC 2.7).
        assert_eq!(
            check(vec![
                host("h"),
                service("a", "h", &["b", "h", "ghost"]),
                service("b", "h", &[]),
                service("c", "h", &["a", "b"]),
            ]),
            Ok(())
        );
    }

    #[test]
    fn host_must_exist_and_be_a_host() {
        assert_eq!(
            check(vec![service("a", "nope", &[])]),
            Err("src/_index.yaml:3: entry app:a: host app:nope not found".into())
        );
        assert_eq!(
            check(vec![
                host("h"),
                service("a", "h", &[]),
                service("b", "a", &[])
            ]),
            Err(
                "src/_index.yaml:3: entry app:b: host app:a is not a host (kind process.service)"
                    .into()
            )
        );
    }

    #[test]
    fn requires_must_name_a_service_or_host() {
        let lua = entry("p", "process.lua", EntrySpec::Unsupported);
        assert_eq!(
            check(vec![host("h"), lua, service("a", "h", &["p"])]),
            Err("src/_index.yaml:3: entry app:a: lifecycle.requires: app:p is not a service or host (kind process.lua)".into())
        );
    }

    #[test]
    fn cycles_are_named() {
        assert_eq!(
            check(vec![
                host("h"),
                service("a", "h", &["b"]),
                service("b", "h", &["c"]),
                service("c", "h", &["a"]),
                service("d", "h", &["a"]),
            ]),
            Err("src/_index.yaml:3: entry app:a: lifecycle.requires forms a cycle: app:a -> app:b -> app:c -> app:a".into())
        );
        assert_eq!(
            check(vec![host("h"), service("x", "h", &["x"])]),
            Err(
                "src/_index.yaml:3: entry app:x: lifecycle.requires forms a cycle: app:x -> app:x"
                    .into()
            )
        );
        // A cycle reached from outside is reported from where it closes.
        assert_eq!(
            check(vec![
                host("h"),
                service("a", "h", &["b"]),
                service("b", "h", &["c"]),
                service("c", "h", &["b"]),
            ]),
            Err("src/_index.yaml:3: entry app:b: lifecycle.requires forms a cycle: app:b -> app:c -> app:b".into())
        );
    }
}
