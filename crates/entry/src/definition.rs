//! One definition file (SPEC 1.3) into raw entries: the two file shapes, `meta` merging and
//! the `data:` key. Kind-specific checks come later, after overrides and `file://`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use crate::error::{EntryRef, LoadError, Site};
use crate::id::EntryId;
use crate::origin::Origin;
use crate::yaml::{self, Node, line_of};

/// Top-level keys of a single-entry file that are not fields of the entry.
const FILE_KEYS: [&str; 4] = ["namespace", "version", "meta", "requirements"];

/// An entry as written, before overrides, `file://` and kind checks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawEntry {
    pub(crate) id: EntryId,
    pub(crate) kind: String,
    pub(crate) meta: Map<String, Value>,
    pub(crate) data: Map<String, Value>,
    pub(crate) origin: Origin,
    /// The line of each top-level data key, where known.
    pub(crate) field_lines: BTreeMap<String, usize>,
}

impl RawEntry {
    /// A site naming this entry.
    pub(crate) fn site(&self) -> Site {
        Site {
            file: self.origin.file.clone(),
            line: self.origin.line,
            column: None,
            entry: Some(EntryRef::Id(self.id.clone())),
        }
    }
}

/// Parses the text of the definition file at `path`. Returns `None` for a file that is not a
/// definition file (no non-empty top-level `namespace`).
pub(crate) fn parse_file(path: &Path, text: &str) -> Result<Option<Vec<RawEntry>>, LoadError> {
    let root = yaml::parse_node(path, text)?;
    let Node::Map(_) = &root.value else {
        return Ok(None);
    };
    let file_site = |line: Option<usize>| Site {
        file: path.to_path_buf(),
        line,
        column: None,
        entry: None,
    };

    let namespace = match root.value.get("namespace") {
        None => return Ok(None),
        Some(node) => match &node.value {
            Node::Null => return Ok(None),
            Node::Str(s) if s.trim().is_empty() => return Ok(None),
            Node::Str(s) => s.clone(),
            other => {
                return Err(LoadError::definition(
                    &file_site(line_of(node)),
                    format!("namespace must be a string, found {}", other.type_name()),
                ));
            }
        },
    };
    if let Err(message) = check_namespace(&namespace) {
        let line = root.value.get("namespace").and_then(line_of);
        return Err(LoadError::definition(&file_site(line), message));
    }

    let file_meta = match root.value.get("meta") {
        None => Map::new(),
        Some(node) => mapping(node, "meta", &file_site(line_of(node)))?,
    };

    let file = FileContext {
        path,
        namespace: &namespace,
        meta: &file_meta,
    };

    if let Some(entries) = root.value.get("entries") {
        let items: &[Spanned<Node>] = match &entries.value {
            Node::Null => &[],
            Node::Seq(items) => items,
            other => {
                return Err(LoadError::definition(
                    &file_site(line_of(entries)),
                    format!("entries must be a list, found {}", other.type_name()),
                ));
            }
        };
        return items
            .iter()
            .enumerate()
            .map(|(index, item)| file.entry(item, Some(index), &[]))
            .collect::<Result<Vec<_>, _>>()
            .map(Some);
    }

    if root.value.get("name").is_some() || root.value.get("kind").is_some() {
        return file.entry(&root, None, &FILE_KEYS).map(|e| Some(vec![e]));
    }

    Err(LoadError::definition(
        &file_site(line_of(&root)),
        format!("namespace {namespace} has neither an entries list nor a top-level name and kind"),
    ))
}

/// Namespaces are dot-separated identifiers: letters, digits, `_` and `-`.
fn check_namespace(namespace: &str) -> Result<(), String> {
    let valid = namespace.split('.').all(|part| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "namespace {namespace:?} must be dot-separated identifiers (letters, digits, _ and -)"
        ))
    }
}

/// A mapping node as JSON (`null` = empty).
fn mapping(node: &Spanned<Node>, name: &str, site: &Site) -> Result<Map<String, Value>, LoadError> {
    match &node.value {
        Node::Null => Ok(Map::new()),
        Node::Map(pairs) => yaml::map_to_json(pairs).map_err(|(line, message)| {
            let mut site = site.clone();
            site.line = line.or(site.line);
            LoadError::definition(&site, message)
        }),
        other => Err(LoadError::definition(
            site,
            format!("{name} must be a mapping, found {}", other.type_name()),
        )),
    }
}

struct FileContext<'a> {
    path: &'a Path,
    namespace: &'a str,
    meta: &'a Map<String, Value>,
}

impl FileContext<'_> {
    /// One entry: a list item (`index` given) or the file itself (single-entry shape, whose
    /// file-level keys `skip` are not fields).
    fn entry(
        &self,
        node: &Spanned<Node>,
        index: Option<usize>,
        skip: &[&str],
    ) -> Result<RawEntry, LoadError> {
        let mut site = Site {
            file: self.path.to_path_buf(),
            line: line_of(node),
            column: None,
            entry: index.map(EntryRef::Index),
        };
        let Node::Map(pairs) = &node.value else {
            return Err(LoadError::definition(
                &site,
                format!("expected a mapping, found {}", node.value.type_name()),
            ));
        };
        if index.is_none() {
            // A single-entry file starts with file-level keys: point at `name:` instead.
            site.line = node.value.get("name").and_then(line_of).or(site.line);
        }

        let name = required_text(node, "name", &site)?;
        if name.contains(':') {
            return Err(LoadError::definition(
                &site,
                format!("name {name:?} must not contain ':'"),
            ));
        }
        let kind = required_text(node, "kind", &site)?;
        let id = EntryId::new(self.namespace, name);
        site.entry = Some(EntryRef::Id(id.clone()));

        let mut meta = self.meta.clone();
        if index.is_some() {
            if let Some(entry_meta) = node.value.get("meta") {
                for (key, value) in mapping(entry_meta, "meta", &site)? {
                    meta.insert(key, value);
                }
            }
        }

        let to_json = |pairs: &[(Spanned<Node>, Spanned<Node>)], site: &Site| {
            yaml::map_to_json(pairs).map_err(|(line, message)| {
                let mut site = site.clone();
                site.line = line.or(site.line);
                LoadError::definition(&site, message)
            })
        };
        let mut field_lines = BTreeMap::new();
        let data = match node.value.get("data") {
            Some(data_node) => match &data_node.value {
                Node::Null => Map::new(),
                Node::Map(data_pairs) => {
                    record_lines(data_pairs, &mut field_lines);
                    to_json(data_pairs, &site)?
                }
                other => {
                    return Err(LoadError::definition(
                        &site,
                        format!("data must be a mapping, found {}", other.type_name()),
                    ));
                }
            },
            None => {
                let fields: Vec<(Spanned<Node>, Spanned<Node>)> = pairs
                    .iter()
                    .filter(|(k, _)| match &k.value {
                        Node::Str(key) => {
                            !matches!(key.as_str(), "name" | "kind" | "meta")
                                && !skip.contains(&key.as_str())
                        }
                        _ => true,
                    })
                    .cloned()
                    .collect();
                record_lines(&fields, &mut field_lines);
                to_json(&fields, &site)?
            }
        };

        Ok(RawEntry {
            id,
            kind,
            meta,
            data,
            origin: Origin {
                file: self.path.to_path_buf(),
                line: site.line,
                index,
            },
            field_lines,
        })
    }
}

/// Records the line of each string key.
fn record_lines(pairs: &[(Spanned<Node>, Spanned<Node>)], lines: &mut BTreeMap<String, usize>) {
    for (key, _) in pairs {
        if let (Node::Str(name), Some(line)) = (&key.value, line_of(key)) {
            lines.insert(name.clone(), line);
        }
    }
}

/// A non-empty string field of an entry mapping (`name`, `kind`).
fn required_text(node: &Spanned<Node>, key: &str, site: &Site) -> Result<String, LoadError> {
    match node.value.get(key).map(|n| &n.value) {
        None | Some(Node::Null) => Err(LoadError::definition(site, format!("{key} is required"))),
        Some(Node::Str(s)) if s.trim().is_empty() => {
            Err(LoadError::definition(site, format!("{key} is empty")))
        }
        Some(Node::Str(s)) => Ok(s.trim().to_owned()),
        Some(other) => Err(LoadError::definition(
            site,
            format!("{key} must be a string, found {}", other.type_name()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Result<Option<Vec<RawEntry>>, String> {
        parse_file(Path::new("src/f.yaml"), text).map_err(|e| e.to_string())
    }

    fn entries(text: &str) -> Vec<RawEntry> {
        parse(text).expect("valid").expect("definition file")
    }

    #[test]
    fn list_shape_with_lines_and_data() {
        let list = entries(
            "version: \"1.0\"\nnamespace: app\nmeta:\n  team: core\n  title: file\nentries:\n  - name: a\n    kind: process.lua\n    meta: {title: A}\n    source: x\n    modules: [io]\n  - name: b\n    kind: x.y\n    data: {k: 1}\n    ignored: true\n",
        );
        assert_eq!(list.len(), 2);
        let a = &list[0];
        assert_eq!(a.id, EntryId::new("app", "a"));
        assert_eq!(a.kind, "process.lua");
        assert_eq!(
            a.meta,
            *json!({"team": "core", "title": "A"})
                .as_object()
                .expect("map")
        );
        assert_eq!(
            a.data,
            *json!({"source": "x", "modules": ["io"]})
                .as_object()
                .expect("map")
        );
        assert_eq!(a.origin.line, Some(7));
        assert_eq!(a.origin.index, Some(0));
        assert_eq!(a.field_lines.get("source"), Some(&10));
        let b = &list[1];
        assert_eq!(b.data, *json!({"k": 1}).as_object().expect("map"));
        assert_eq!(
            b.meta,
            *json!({"team": "core", "title": "file"})
                .as_object()
                .expect("map")
        );
        assert_eq!(b.origin.line, Some(12));
    }

    #[test]
    fn single_entry_shape() {
        let list = entries(
            "namespace: app.api\nversion: \"1.0\"\nmeta: {title: T}\nrequirements: [x]\nname: get_user.endpoint\nkind: http.endpoint\nmethod: GET\n",
        );
        assert_eq!(list.len(), 1);
        let e = &list[0];
        assert_eq!(e.id.to_string(), "app.api:get_user.endpoint");
        assert_eq!(e.data, *json!({"method": "GET"}).as_object().expect("map"));
        assert_eq!(e.meta, *json!({"title": "T"}).as_object().expect("map"));
        assert_eq!(e.origin.line, Some(5));
        assert_eq!(e.origin.index, None);
    }

    #[test]
    fn non_definition_files_are_skipped() {
        for text in [
            "",
            "a: 1\n",
            "namespace: \"\"\n",
            "namespace: ~\n",
            "- 1\n",
            "plain",
        ] {
            assert_eq!(parse(text), Ok(None), "{text:?}");
        }
        assert_eq!(parse("namespace: app\nentries: []\n"), Ok(Some(Vec::new())));
        assert_eq!(parse("namespace: app\nentries:\n"), Ok(Some(Vec::new())));
    }

    #[test]
    fn shape_errors_name_file_line_and_index() {
        let cases = [
            (
                "namespace: app\nversion: 1\n",
                "src/f.yaml:1: namespace app has neither an entries list nor a top-level name and kind",
            ),
            (
                "namespace: app\nentries: {a: 1}\n",
                "src/f.yaml:2: entries must be a list, found a mapping",
            ),
            (
                "namespace: app\nentries:\n  - name: a\n    kind: k\n  - kind: k\n",
                "src/f.yaml:5: entries[1]: name is required",
            ),
            (
                "namespace: app\nentries:\n  - name: a\n",
                "src/f.yaml:3: entries[0]: kind is required",
            ),
            (
                "namespace: app\nentries:\n  - name: \"\"\n    kind: k\n",
                "src/f.yaml:3: entries[0]: name is empty",
            ),
            (
                "namespace: app\nentries:\n  - name: [a]\n    kind: k\n",
                "src/f.yaml:3: entries[0]: name must be a string, found a list",
            ),
            (
                "namespace: app\nentries:\n  - just text\n",
                "src/f.yaml:3: entries[0]: expected a mapping, found a string",
            ),
            (
                "namespace: app\nentries:\n  - name: a:b\n    kind: k\n",
                "src/f.yaml:3: entries[0]: name \"a:b\" must not contain ':'",
            ),
            (
                "namespace: app\nentries:\n  - name: a\n    kind: k\n    meta: [1]\n",
                "src/f.yaml:3: entry app:a: meta must be a mapping, found a list",
            ),
            (
                "namespace: app\nentries:\n  - name: a\n    kind: k\n    data: 5\n",
                "src/f.yaml:3: entry app:a: data must be a mapping, found a number",
            ),
            (
                "namespace: app\nname: x\n",
                "src/f.yaml:2: kind is required",
            ),
            (
                "namespace: 12\nname: x\n",
                "src/f.yaml:1: namespace must be a string, found a number",
            ),
            (
                "namespace: \"a b\"\nname: x\n",
                "src/f.yaml:1: namespace \"a b\" must be dot-separated identifiers (letters, digits, _ and -)",
            ),
            (
                "namespace: app\nmeta: x\nentries: []\n",
                "src/f.yaml:2: meta must be a mapping, found a string",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Err(want.to_owned()), "{text:?}");
        }
    }

    #[test]
    fn syntax_errors_carry_position() {
        let err =
            parse("namespace: app\nentries:\n  - name: \"a\n    kind: b\n").expect_err("quote");
        assert!(err.starts_with("src/f.yaml:3:"), "{err}");
        assert!(err.contains("syntax error"), "{err}");
    }
}
