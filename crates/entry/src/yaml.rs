//! Reading YAML (and JSON, which serde-saphyr parses as YAML 1.2 flow) with source lines.
//!
//! Line numbers come from serde-saphyr's [`Spanned`]: the file is deserialized into [`Node`],
//! a small YAML tree whose every sequence item, mapping key and mapping value is wrapped in
//! `Spanned`, so each entry of an `entries:` list knows the line it starts on. Plain
//! [`serde_json::Value`] is used where lines do not matter (lock file, configuration).
//!
//! Scalars follow the YAML 1.2 core schema like Go's yaml.v3 does for untyped values: only
//! `true`/`false` (any case variant of those) are booleans, so `yes`, `on` and `y` stay
//! strings, and `.inf`/`.nan` stay strings rather than failing the load.

use std::fmt;
use std::path::Path;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use serde_saphyr::{NonFiniteFloatPolicy, Options, SnippetMode, Spanned, UserMessageFormatter};

use crate::error::{LoadError, Site};

/// A YAML value whose children carry their source location.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<Node>, Spanned<Node>)>),
}

impl Node {
    /// The value of `key` in a mapping (`None` for other nodes or a missing key).
    pub(crate) fn get(&self, key: &str) -> Option<&Spanned<Node>> {
        match self {
            Node::Map(pairs) => pairs
                .iter()
                .find(|(k, _)| matches!(&k.value, Node::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short name of the node's type for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Int(_) | Node::UInt(_) | Node::Float(_) => "a number",
            Node::Str(_) => "a string",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a mapping",
        }
    }

    /// Converts to JSON; mapping keys that are scalars become their text, collection keys are
    /// an error (naming the key's line).
    pub(crate) fn to_json(&self) -> Result<Value, (Option<usize>, String)> {
        Ok(match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Int(i) => Value::from(*i),
            Node::UInt(u) => Value::from(*u),
            Node::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Node::Str(s) => Value::String(s.clone()),
            Node::Seq(items) => Value::Array(
                items
                    .iter()
                    .map(|item| item.value.to_json())
                    .collect::<Result<_, _>>()?,
            ),
            Node::Map(pairs) => Value::Object(map_to_json(pairs)?),
        })
    }
}

/// Converts mapping pairs to a JSON object (see [`Node::to_json`]).
pub(crate) fn map_to_json(
    pairs: &[(Spanned<Node>, Spanned<Node>)],
) -> Result<Map<String, Value>, (Option<usize>, String)> {
    let mut out = Map::new();
    for (key, value) in pairs {
        out.insert(key_text(key)?, value.value.to_json()?);
    }
    Ok(out)
}

/// The text of a scalar mapping key.
pub(crate) fn key_text(key: &Spanned<Node>) -> Result<String, (Option<usize>, String)> {
    Ok(match &key.value {
        Node::Str(s) => s.clone(),
        Node::Null => "null".to_owned(),
        Node::Bool(b) => b.to_string(),
        Node::Int(i) => i.to_string(),
        Node::UInt(u) => u.to_string(),
        Node::Float(f) => f.to_string(),
        Node::Seq(_) | Node::Map(_) => {
            return Err((
                line_of(key),
                format!(
                    "mapping keys must be scalars, found {}",
                    key.value.type_name()
                ),
            ));
        }
    })
}

/// The 1-based line a node starts on, when serde-saphyr knows it.
pub(crate) fn line_of<T>(node: &Spanned<T>) -> Option<usize> {
    match node.referenced.line() {
        0 => None,
        line => Some(line as usize),
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => Node::Int(i),
            Err(_) => Node::UInt(v),
        })
    }

    fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<Node, E> {
        // Beyond 64 bits: keep the value approximately, as Go's yaml.v3 does (float64).
        Ok(i64::try_from(v).map_or(Node::Float(v as f64), Node::Int))
    }

    fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<Node, E> {
        Ok(u64::try_from(v).map_or(Node::Float(v as f64), |u| {
            i64::try_from(u).map_or(Node::UInt(u), Node::Int)
        }))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut pairs = Vec::new();
        while let Some(pair) = map.next_entry::<Spanned<Node>, Spanned<Node>>()? {
            pairs.push(pair);
        }
        Ok(Node::Map(pairs))
    }
}

fn options() -> Options {
    serde_saphyr::options! {
        strict_booleans: true,
        non_finite_float_policy: NonFiniteFloatPolicy::AsString,
    }
}

/// Parses a definition file into a located tree. An empty file is [`Node::Null`].
pub(crate) fn parse_node(path: &Path, text: &str) -> Result<Spanned<Node>, LoadError> {
    serde_saphyr::from_str_with_options(text, options()).map_err(|e| syntax_error(path, &e))
}

/// Parses a YAML file (lock file, configuration) into plain JSON. An empty file is `null`.
pub(crate) fn parse_value(path: &Path, text: &str) -> Result<Value, LoadError> {
    serde_saphyr::from_str_with_options(text, options()).map_err(|e| syntax_error(path, &e))
}

/// Reads and parses a YAML file into plain JSON.
pub(crate) fn read_value(path: &Path) -> Result<Value, LoadError> {
    let text = crate::read::read_text(path).map_err(|e| LoadError::io(path, e))?;
    parse_value(path, &text)
}

/// Turns a serde-saphyr error into [`LoadError::Syntax`]: a one-line message with file, line
/// and column, plus serde-saphyr's snippet with the file's name in its `-->` header.
fn syntax_error(path: &Path, err: &serde_saphyr::Error) -> LoadError {
    let location = err.location().filter(|l| l.line() > 0);
    // serde-saphyr's user-facing wording: its default one suggests parser options and API
    // calls to the Rust programmer.
    let user = UserMessageFormatter;
    let plain = err.render_with_options(serde_saphyr::render_options! {
        formatter: &user,
        snippets: SnippetMode::Off,
    });
    let mut message = plain.trim().to_owned();
    if let Some(loc) = location {
        // The plain rendering appends the position, which the site already carries.
        let suffix = format!(" at line {}, column {}", loc.line(), loc.column());
        if let Some(stripped) = message.strip_suffix(&suffix) {
            message = stripped.to_owned();
        }
    }

    let name = path.display().to_string();
    let rendered = err.render_with_options(serde_saphyr::render_options! {
        formatter: &user,
        source_name: Some(name.as_str()),
    });
    // Drop the rendering's own `error: line L column C: ...` headline; keep ` --> file:L:C`
    // and the source lines below it.
    let snippet = rendered
        .find(" --> ")
        .or_else(|| rendered.find("--> "))
        .map(|start| rendered[start..].trim_end().to_owned());

    LoadError::Syntax {
        site: Box::new(Site {
            file: path.to_path_buf(),
            line: location.map(|l| l.line() as usize),
            column: location.map(|l| l.column() as usize),
            entry: None,
        }),
        message,
        snippet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Spanned<Node> {
        parse_node(Path::new("t.yaml"), text).expect("valid yaml")
    }

    #[test]
    fn sequence_items_know_their_line() {
        let root =
            parse("namespace: app\n\nentries:\n  # c\n  - name: a\n    kind: k\n  - {name: b}\n");
        let entries = root.value.get("entries").expect("entries key");
        let Node::Seq(items) = &entries.value else {
            panic!("expected a list, got {:?}", entries.value);
        };
        let lines: Vec<_> = items.iter().map(line_of).collect();
        assert_eq!(lines, [Some(5), Some(7)]);
    }

    #[test]
    fn yaml_1_1_booleans_stay_strings() {
        let root = parse("a: yes\nb: on\nc: y\nd: true\ne: False\nf: .inf\n");
        let json = root.value.to_json().expect("scalar keys");
        assert_eq!(
            json,
            serde_json::json!({"a": "yes", "b": "on", "c": "y", "d": true, "e": false, "f": ".inf"})
        );
    }

    #[test]
    fn numbers_and_scalar_keys_convert() {
        let root = parse("1: 2\nbig: 18446744073709551615\nneg: -3\nf: 1.5\nn: ~\n");
        let json = root.value.to_json().expect("scalar keys");
        assert_eq!(
            json,
            serde_json::json!({"1": 2, "big": 18446744073709551615u64, "neg": -3, "f": 1.5, "n": null})
        );
    }

    #[test]
    fn collection_keys_are_rejected_with_line() {
        let root = parse("a: 1\n? [x, y]\n: 2\n");
        let err = root.value.to_json().expect_err("collection key");
        assert_eq!(err.0, Some(2));
        assert!(err.1.contains("mapping keys must be scalars"), "{}", err.1);
    }

    #[test]
    fn empty_file_is_null() {
        assert_eq!(parse("").value, Node::Null);
        assert_eq!(parse("# only a comment\n").value, Node::Null);
    }

    #[test]
    fn syntax_error_names_file_line_and_column() {
        let err = parse_node(
            Path::new("src/bad.yaml"),
            "namespace: app\nentries:\n  - name: a\n    kind: b\n   oops: 1\n",
        )
        .expect_err("bad indentation");
        let text = err.to_string();
        assert!(
            text.starts_with("src/bad.yaml:5:4: syntax error: "),
            "message: {text}"
        );
        assert!(!text.contains('\n'), "one line: {text}");
        let snippet = err.snippet().expect("snippet");
        assert!(
            snippet.trim_start().starts_with("--> src/bad.yaml:5:4"),
            "{snippet}"
        );
        assert!(snippet.contains("   oops: 1"), "{snippet}");
    }

    #[test]
    fn duplicate_key_message_has_no_rust_hint() {
        let err = parse_value(Path::new("c.yaml"), "a: 1\na: 2\n").expect_err("duplicate");
        assert_eq!(
            err.to_string(),
            "c.yaml:2:1: syntax error: duplicate mapping key `a` is not allowed here"
        );
    }

    #[test]
    fn multiple_documents_are_rejected_in_user_terms() {
        let err = parse_value(Path::new("m.yaml"), "a: 1\n---\nb: 2\n").expect_err("two docs");
        assert_eq!(
            err.to_string(),
            "m.yaml:3:1: syntax error: only single YAML document expected but multiple found"
        );
    }

    #[test]
    fn json_with_tabs_parses() {
        let root = parse(
            "{\n\t\"namespace\": \"app\",\n\t\"entries\": [\n\t\t{\"name\": \"a\"}\n\t]\n}\n",
        );
        let entries = root.value.get("entries").expect("entries");
        let Node::Seq(items) = &entries.value else {
            panic!("list expected");
        };
        assert_eq!(line_of(&items[0]), Some(4));
    }
}
