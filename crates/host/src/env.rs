//! Wippy's environment system (`env.storage.*`, `env.variable`) behind the `env` module.
//!
//! Storages: `os` (the process environment, read-only), `memory` (lost at exit), `file`
//! (`KEY=VALUE` lines, `#` comments, written back on `set`), `static` (the entry's `values`,
//! read-only) and `router` (reads try each storage in order, writes go to the first).
//! Variables map a public name (or their entry id) to a key in a storage, with an optional
//! default and read-only flag. Lookups by a name no variable declares are NOT_FOUND, as in
//! Wippy: a variable must be declared before code can read it.
//!
//! The first variable to claim a public name keeps it; a later one is reachable by entry id.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use starling_core::{ErrorKind, ErrorValue};
use starling_entry::{Entry, EntrySpec, kind::EnvSpec};
use starling_lua::EnvStore;

#[derive(Debug)]
enum Storage {
    Os,
    Memory(Mutex<BTreeMap<String, String>>),
    File {
        path: PathBuf,
        auto_create: bool,
        file_mode: u32,
        dir_mode: u32,
        lock: Mutex<()>,
    },
    Static(BTreeMap<String, String>),
    Router(Vec<String>),
}

#[derive(Debug)]
struct Variable {
    /// The key in its storage: the public name, else the entry's name.
    key: String,
    storage: String,
    default: Option<String>,
    readonly: bool,
}

/// The environment of a project.
#[derive(Debug, Default)]
pub struct HostEnv {
    storages: BTreeMap<String, Storage>,
    /// By entry id.
    variables: BTreeMap<String, Variable>,
    /// Public name → entry id.
    names: BTreeMap<String, String>,
}

fn not_found(what: &str) -> ErrorValue {
    ErrorValue::new(ErrorKind::NotFound, what.to_string())
}

fn denied(what: String) -> ErrorValue {
    ErrorValue::new(ErrorKind::PermissionDenied, what)
}

/// `KEY=VALUE` lines; blank lines and `#` comments skipped, text after `#` dropped.
fn parse_env_file(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some((k, v)) = line.split_once('=') {
            let k = k.trim();
            if !k.is_empty() {
                out.insert(k.to_string(), v.trim().to_string());
            }
        }
    }
    out
}

impl HostEnv {
    /// The storages and variables among `entries`; file paths resolve against `dir`.
    pub fn new(entries: &[Entry], dir: &Path) -> HostEnv {
        let mut env = HostEnv::default();
        for e in entries {
            let EntrySpec::Env(spec) = &e.spec else {
                continue;
            };
            let id = e.id.to_string();
            let storage = match spec {
                EnvSpec::Os => Storage::Os,
                EnvSpec::Memory => Storage::Memory(Mutex::new(BTreeMap::new())),
                EnvSpec::File {
                    path,
                    auto_create,
                    file_mode,
                    dir_mode,
                } => {
                    let p = Path::new(path);
                    Storage::File {
                        path: if p.is_absolute() {
                            p.to_path_buf()
                        } else {
                            dir.join(p)
                        },
                        auto_create: *auto_create,
                        file_mode: *file_mode,
                        dir_mode: *dir_mode,
                        lock: Mutex::new(()),
                    }
                }
                EnvSpec::Static(values) => Storage::Static(values.clone()),
                EnvSpec::Router(list) => {
                    Storage::Router(list.iter().map(|s| s.to_string()).collect())
                }
                EnvSpec::Variable {
                    name,
                    storage,
                    default,
                    readonly,
                } => {
                    if let Some(n) = name {
                        env.names.entry(n.clone()).or_insert_with(|| id.clone());
                    }
                    env.variables.insert(
                        id.clone(),
                        Variable {
                            key: name.clone().unwrap_or_else(|| e.id.name.clone()),
                            storage: storage.to_string(),
                            default: default.clone(),
                            readonly: *readonly,
                        },
                    );
                    continue;
                }
            };
            env.storages.insert(id, storage);
        }
        env
    }

    fn variable(&self, key: &str) -> Result<&Variable, ErrorValue> {
        let id = self.names.get(key).map_or(key, String::as_str);
        self.variables
            .get(id)
            .ok_or_else(|| not_found(&format!("variable not found: {key}")))
    }

    /// The value of `key` in storage `id`: `Ok(None)` when the storage has none.
    fn read(&self, id: &str, key: &str, depth: usize) -> Result<Option<String>, ErrorValue> {
        let storage = self
            .storages
            .get(id)
            .ok_or_else(|| not_found(&format!("storage not found: {id}")))?;
        Ok(match storage {
            Storage::Os => std::env::var(key).ok(),
            Storage::Memory(m) => m.lock().get(key).cloned(),
            Storage::Static(values) => values.get(key).cloned(),
            Storage::File { path, lock, .. } => {
                let _guard = lock.lock();
                std::fs::read_to_string(path)
                    .ok()
                    .and_then(|text| parse_env_file(&text).remove(key))
            }
            Storage::Router(list) => {
                if depth > 8 {
                    return Err(ErrorValue::new(
                        ErrorKind::Invalid,
                        "storage routers nest too deep",
                    ));
                }
                for s in list {
                    if let Some(v) = self.read(s, key, depth + 1)? {
                        return Ok(Some(v));
                    }
                }
                None
            }
        })
    }

    fn write(&self, id: &str, key: &str, value: &str, depth: usize) -> Result<(), ErrorValue> {
        let storage = self
            .storages
            .get(id)
            .ok_or_else(|| not_found(&format!("storage not found: {id}")))?;
        match storage {
            Storage::Os | Storage::Static(_) => Err(denied(format!("storage {id} is read-only"))),
            Storage::Memory(m) => {
                m.lock().insert(key.to_string(), value.to_string());
                Ok(())
            }
            Storage::File {
                path,
                auto_create,
                file_mode,
                dir_mode,
                lock,
            } => {
                let _guard = lock.lock();
                write_file(path, *auto_create, *file_mode, *dir_mode, key, value).map_err(|e| {
                    ErrorValue::new(ErrorKind::Internal, format!("{}: {e}", path.display()))
                })
            }
            Storage::Router(list) => match list.first() {
                Some(first) if depth <= 8 => self.write(first, key, value, depth + 1),
                _ => Err(ErrorValue::new(
                    ErrorKind::Invalid,
                    format!("storage {id} has no storage to write to"),
                )),
            },
        }
    }
}

/// Sets `key` in an env file, keeping its other lines.
fn write_file(
    path: &Path,
    auto_create: bool,
    file_mode: u32,
    dir_mode: u32,
    key: &str,
    value: &str,
) -> std::io::Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && auto_create => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
                set_mode(dir, dir_mode);
            }
            String::new()
        }
        Err(e) => return Err(e),
    };
    let mut found = false;
    let mut lines: Vec<String> = text
        .lines()
        .map(|line| {
            let k = line
                .split('#')
                .next()
                .unwrap_or("")
                .split_once('=')
                .map(|(k, _)| k.trim());
            if k == Some(key) && !found {
                found = true;
                format!("{key}={value}")
            } else {
                line.to_string()
            }
        })
        .collect();
    if !found {
        lines.push(format!("{key}={value}"));
    }
    std::fs::write(path, lines.join("\n") + "\n")?;
    set_mode(path, file_mode);
    Ok(())
}

fn set_mode(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}

impl EnvStore for HostEnv {
    fn get(&self, key: &str) -> Result<String, ErrorValue> {
        let var = self.variable(key)?;
        match self.read(&var.storage, &var.key, 0)? {
            Some(v) => Ok(v),
            None => var
                .default
                .clone()
                .ok_or_else(|| not_found(&format!("variable {key} has no value"))),
        }
    }

    fn set(&self, key: &str, value: &str) -> Result<(), ErrorValue> {
        let var = self.variable(key)?;
        if var.readonly {
            return Err(denied(format!("variable {key} is read-only")));
        }
        self.write(&var.storage, &var.key, value, 0)
    }

    fn all(&self) -> BTreeMap<String, String> {
        self.names
            .keys()
            .filter_map(|name| self.get(name).ok().map(|v| (name.clone(), v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files() {
        let parsed = parse_env_file("# c\nA=1\n\n B = two # note\nbad line\n");
        assert_eq!(parsed.get("A").map(String::as_str), Some("1"));
        assert_eq!(parsed.get("B").map(String::as_str), Some("two"));
        assert_eq!(parsed.len(), 2);
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("sub/x.env");
        write_file(&path, true, 0o600, 0o700, "K", "v").expect("created");
        write_file(&path, true, 0o600, 0o700, "K", "w").expect("updated");
        write_file(&path, true, 0o600, 0o700, "L", "z").expect("appended");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "K=w\nL=z\n");
    }
}
