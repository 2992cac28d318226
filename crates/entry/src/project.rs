//! Loading a whole project: lock file, configuration and every definition file, into checked
//! entries (SPEC 1, 2.7).
//!
//! Starling fails the load with one message at the first problem, where Wippy logs a warning
//! and skips the file (SPEC 11.9). Problems are found in a fixed order: lock file,
//! configuration, definition files in [`crate::scan`] order (syntax, shape, `name`/`kind`),
//! duplicate ids, overrides (configuration first, then `-o` in order), `file://` references,
//! kind checks (entries in id order), then checks across services (host, `requires`, cycles).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::definition::{self, RawEntry};
use crate::entry::Entry;
use crate::error::{LoadError, Site};
use crate::id::EntryId;
use crate::interpolate::FileRefs;
use crate::kind::{SpecInput, build_spec};
use crate::lock::{LOCK_FILE, LockFile, read_lock};
use crate::overrides::Override;
use crate::scan;

/// The kind written for entries added by [`Project::add_native`].
pub const NATIVE_KIND: &str = "process.native";

/// What `run` passes to [`load_project`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// The lock file, relative to the project directory unless absolute. Default `wippy.lock`.
    pub lock_file: PathBuf,
    /// `--config FILE`s, in order; empty means `.wippy.yaml` if present.
    pub config_files: Vec<PathBuf>,
    /// `--set section.path=value` arguments, in order.
    pub sets: Vec<String>,
    /// `-o ns:entry:field=value` arguments, in order; they apply after the configuration's
    /// `override:` map.
    pub overrides: Vec<String>,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            lock_file: PathBuf::from(LOCK_FILE),
            config_files: Vec::new(),
            sets: Vec::new(),
            overrides: Vec::new(),
        }
    }
}

/// A loaded project.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project directory (where the lock file was looked up).
    pub dir: PathBuf,
    /// The lock file.
    pub lock: LockFile,
    /// The merged configuration.
    pub config: Config,
    /// Every entry, sorted by id.
    pub entries: Vec<Entry>,
    /// Things worth a warning: a missing source directory, unsupported kinds (one each),
    /// ignored lock file replacements.
    pub warnings: Vec<String>,
}

impl Project {
    /// The entry with this id.
    pub fn get(&self, id: &EntryId) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| e.id.cmp(id))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// Adds a `process.native` entry for a process written in Rust, so services, `run -x`
    /// and spawns can name it like any process entry. Fails when the id is malformed or an
    /// entry already has it (a definition file, or an earlier call).
    pub fn add_native(&mut self, id: &str) -> Result<(), String> {
        let parsed: EntryId = id
            .parse()
            .map_err(|_| format!("invalid entry id {id:?}: expected namespace:name"))?;
        match self.entries.binary_search_by(|e| e.id.cmp(&parsed)) {
            Ok(i) => {
                let e = &self.entries[i];
                let at = match e.origin.line {
                    Some(line) => format!("{}:{line}", e.origin.file.display()),
                    None => e.origin.file.display().to_string(),
                };
                Err(format!(
                    "native process {id} clashes with entry {id} ({}) defined in {at}",
                    e.kind
                ))
            }
            Err(i) => {
                self.entries.insert(
                    i,
                    Entry {
                        id: parsed,
                        kind: NATIVE_KIND.into(),
                        meta: serde_json::Map::new(),
                        data: serde_json::Map::new(),
                        origin: crate::origin::Origin {
                            file: PathBuf::from("<native>"),
                            line: None,
                            index: None,
                        },
                        spec: crate::kind::EntrySpec::NativeProcess,
                    },
                );
                Ok(())
            }
        }
    }

    /// The source tree the entries were read from.
    pub fn src_root(&self) -> PathBuf {
        self.lock.src_root()
    }
}

/// Loads the project in `dir`: its lock file, configuration and definition files.
pub fn load_project(dir: &Path, opts: &LoadOptions) -> Result<Project, LoadError> {
    let lock = read_lock(&dir.join(&opts.lock_file))?;
    let config = Config::load(dir, &opts.config_files, &opts.sets)?;
    let mut overrides = Vec::new();
    for (key, value) in config.overrides() {
        overrides.push(Override::from_config(&key, value)?);
    }
    for arg in &opts.overrides {
        overrides.push(Override::from_arg(arg)?);
    }

    let mut warnings = Vec::new();
    if !lock.replacements.is_empty() {
        warnings.push(format!(
            "lock file {}: replacements are not supported and were ignored",
            lock.path.display()
        ));
    }
    let src_root = lock.src_root();
    let entries = if src_root.is_dir() {
        load_entries(&src_root, &overrides, &mut warnings)?
    } else {
        warnings.push(format!(
            "source directory {} not found; no entries loaded",
            src_root.display()
        ));
        // Overrides still name their entries, so a typo is not silently ignored.
        load_raw_entries(Vec::new(), &overrides)?;
        Vec::new()
    };

    Ok(Project {
        dir: dir.to_path_buf(),
        lock,
        config,
        entries,
        warnings,
    })
}

/// Loads every definition file under `src_root` into checked entries, sorted by id.
fn load_entries(
    src_root: &Path,
    overrides: &[Override],
    warnings: &mut Vec<String>,
) -> Result<Vec<Entry>, LoadError> {
    let mut files = Vec::new();
    for path in scan::definition_files(src_root)? {
        let bytes = crate::read::read_file(&path).map_err(|e| LoadError::io(&path, e))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            LoadError::definition(
                &Site::file(&path),
                format!("not valid UTF-8 (byte {})", e.utf8_error().valid_up_to()),
            )
        })?;
        files.push((path, text));
    }
    entries_from_texts(src_root, &files, overrides, warnings)
}

/// Loads a project from definition texts given in code instead of a source tree (an
/// embedding program's entries): each `(name, text)` is read as the definition file
/// `base/name`, which error messages quote and `file://` references resolve against.
pub fn load_definitions(base: &Path, files: &[(PathBuf, String)]) -> Result<Project, LoadError> {
    let mut warnings = Vec::new();
    let files: Vec<(PathBuf, String)> = files
        .iter()
        .map(|(name, text)| (base.join(name), text.clone()))
        .collect();
    let entries = entries_from_texts(base, &files, &[], &mut warnings)?;
    Ok(Project {
        dir: base.to_path_buf(),
        lock: crate::lock::LockFile {
            path: base.join(LOCK_FILE),
            src_dir: ".".into(),
            modules_dir: ".wippy".into(),
            replacements: Vec::new(),
        },
        config: Config::default(),
        entries,
        warnings,
    })
}

/// Parses and checks definition texts into entries sorted by id.
fn entries_from_texts(
    src_root: &Path,
    files: &[(PathBuf, String)],
    overrides: &[Override],
    warnings: &mut Vec<String>,
) -> Result<Vec<Entry>, LoadError> {
    let mut raw = Vec::new();
    for (path, text) in files {
        if let Some(entries) = definition::parse_file(path, text)? {
            raw.extend(entries);
        }
    }
    let raw = load_raw_entries(raw, overrides)?;

    let mut entries = Vec::with_capacity(raw.len());
    for mut entry in raw {
        let site = entry.site();
        let refs = FileRefs {
            src_root,
            yaml_file: &entry.origin.file,
        };
        refs.expand_map(&mut entry.meta).map_err(|(at, message)| {
            LoadError::definition(&site, format!("meta.{at}: {message}"))
        })?;
        let read = refs
            .expand_map(&mut entry.data)
            .map_err(|(at, message)| LoadError::definition(&site, format!("{at}: {message}")))?;
        let source_file = read
            .into_iter()
            .find(|(key, _)| key == "source")
            .map(|(_, path)| path);

        let (spec, warning) = build_spec(SpecInput {
            id: &entry.id,
            kind: &entry.kind,
            data: &entry.data,
            meta: &entry.meta,
            origin: &entry.origin,
            site: &site,
            source_file,
            source_line: entry.field_lines.get("source").copied(),
        })?;
        warnings.extend(warning);
        for unknown in crate::kind::known::unknown_fields(&entry.kind, &entry.data) {
            warnings.push(format!("{site}: {unknown}"));
        }
        entries.push(Entry {
            id: entry.id,
            kind: entry.kind,
            meta: entry.meta,
            data: entry.data,
            origin: entry.origin,
            spec,
        });
    }
    crate::services::check_services(&entries)?;
    crate::http::check_http(&entries)?;
    Ok(entries)
}

/// Checks ids for duplicates, sorts by id and applies the overrides.
fn load_raw_entries(
    mut raw: Vec<RawEntry>,
    overrides: &[Override],
) -> Result<Vec<RawEntry>, LoadError> {
    let mut seen: BTreeMap<&EntryId, &RawEntry> = BTreeMap::new();
    for entry in &raw {
        if let Some(first) = seen.insert(&entry.id, entry) {
            let place = |e: &RawEntry| {
                Box::new(Site {
                    file: e.origin.file.clone(),
                    line: e.origin.line,
                    column: None,
                    entry: None,
                })
            };
            return Err(LoadError::DuplicateId {
                id: entry.id.clone(),
                first: place(first),
                second: place(entry),
            });
        }
    }
    drop(seen);
    // Stable sort: ids are unique, so the order is total anyway.
    raw.sort_by(|a, b| a.id.cmp(&b.id));
    for ov in overrides {
        ov.apply(&mut raw)?;
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::Origin;
    use serde_json::Map;

    fn raw(ns: &str, name: &str, file: &str, line: usize) -> RawEntry {
        RawEntry {
            id: EntryId::new(ns, name),
            kind: "x.y".into(),
            meta: Map::new(),
            data: Map::new(),
            origin: Origin {
                file: file.into(),
                line: Some(line),
                index: Some(0),
            },
            field_lines: BTreeMap::new(),
        }
    }

    #[test]
    fn default_options_use_wippy_lock() {
        let opts = LoadOptions::default();
        assert_eq!(opts.lock_file, PathBuf::from("wippy.lock"));
        assert!(opts.config_files.is_empty() && opts.sets.is_empty() && opts.overrides.is_empty());
    }

    #[test]
    fn raw_entries_are_sorted_and_duplicates_name_both_places() {
        let sorted = load_raw_entries(
            vec![
                raw("b", "x", "1.yaml", 1),
                raw("a", "z", "1.yaml", 5),
                raw("a", "b", "2.yaml", 2),
            ],
            &[],
        )
        .expect("unique");
        let ids: Vec<String> = sorted.iter().map(|e| e.id.to_string()).collect();
        assert_eq!(ids, ["a:b", "a:z", "b:x"]);

        let err = load_raw_entries(
            vec![raw("a", "x", "1.yaml", 4), raw("a", "x", "1.yaml", 9)],
            &[],
        )
        .expect_err("duplicate");
        assert_eq!(
            err.to_string(),
            "duplicate entry id a:x: defined in 1.yaml:4 and in 1.yaml:9"
        );
    }

    #[test]
    fn definitions_in_code_and_native_entries() {
        let yaml =
            "version: \"1.0\"\nnamespace: app\nentries:\n  - name: b\n    kind: process.host\n";
        let mut p = load_definitions(Path::new("/base"), &[("app.yaml".into(), yaml.into())])
            .expect("loads");
        p.add_native("app:a").expect("new id");
        p.add_native("app:c").expect("new id");
        let ids: Vec<String> = p.entries.iter().map(|e| e.id.to_string()).collect();
        assert_eq!(ids, ["app:a", "app:b", "app:c"], "kept sorted");
        assert_eq!(p.entries[0].kind, NATIVE_KIND);
        assert!(matches!(
            p.entries[0].spec,
            crate::kind::EntrySpec::NativeProcess
        ));
        let clash = p.add_native("app:b").expect_err("defined in YAML");
        assert!(clash.contains("/base/app.yaml:"), "{clash}");
        assert!(p.add_native("app:a").is_err(), "registered twice");
        assert!(p.add_native("nonamespace").is_err());
    }

    #[test]
    fn project_get_finds_by_id() {
        let entry = |name: &str| Entry {
            id: EntryId::new("app", name),
            kind: "x.y".into(),
            meta: Map::new(),
            data: Map::new(),
            origin: Origin {
                file: "a.yaml".into(),
                line: None,
                index: None,
            },
            spec: crate::kind::EntrySpec::Unsupported,
        };
        let project = Project {
            dir: PathBuf::from("."),
            lock: LockFile {
                path: PathBuf::from("wippy.lock"),
                src_dir: "./src".into(),
                modules_dir: ".wippy".into(),
                replacements: Vec::new(),
            },
            config: Config::default(),
            entries: vec![entry("a"), entry("b"), entry("c")],
            warnings: Vec::new(),
        };
        assert_eq!(
            project
                .get(&EntryId::new("app", "b"))
                .map(|e| e.id.name.as_str()),
            Some("b")
        );
        assert!(project.get(&EntryId::new("app", "d")).is_none());
        assert_eq!(project.src_root(), PathBuf::from("./src"));
    }
}
