//! Typing of command-line values (`--set a.b=v`, `-o ns:entry:field=v`, SPEC 3.3), and
//! setting them at a dotted path in a JSON tree.

use serde_json::{Map, Value};

/// Types a command-line value: `true`/`false` become booleans, integers and finite floats
/// become numbers, anything else stays a string.
pub fn coerce_scalar(text: &str) -> Value {
    match text {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    // Rust's float parser also accepts "inf", "NaN" and "infinity": those stay strings.
    let number = text
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && text.bytes().any(|b| b.is_ascii_digit()))
        .and_then(serde_json::Number::from_f64);
    match number {
        Some(n) => Value::Number(n),
        None => Value::String(text.to_owned()),
    }
}

/// The YAML 1.1 boolean spellings that Go's yaml.v3 accepts when decoding into a typed `bool`
/// field (`yes`, `on`, `y`, ... and `true`/`false`). Untyped values keep them as strings, so
/// only typed fields (`auto_start`, `hide_logs`, ...) use this.
pub(crate) fn yaml_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" | "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => {
            Some(true)
        }
        "false" | "False" | "FALSE" | "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
            Some(false)
        }
        _ => None,
    }
}

/// Most parts a dotted path of `--set`, `-o` or an `override:` key may have. Configuration and
/// entries are walked recursively (merging, `${env:…}`, `file://` references, dropping), and
/// YAML itself nests at most a few hundred levels, so a path of thousands of parts would build
/// the one tree deep enough to overflow the stack.
pub const MAX_PATH_PARTS: usize = 64;

/// `text` for an error message: at most 80 characters, with `…` when cut (a path of thousands of
/// parts must not make a message of thousands of characters).
pub(crate) fn shorten(text: &str) -> String {
    const SHOWN: usize = 80;
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Sets `value` at `path` inside `map`, creating mappings on the way and replacing any
/// non-mapping value that stands where a mapping is needed.
pub(crate) fn set_path(map: &mut Map<String, Value>, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = map;
    for key in parents {
        let slot = current
            .entry((*key).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        current = slot.as_object_mut().expect("slot was just made a mapping");
    }
    current.insert((*last).to_owned(), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coerces_like_wippy() {
        assert_eq!(coerce_scalar("true"), json!(true));
        assert_eq!(coerce_scalar("false"), json!(false));
        assert_eq!(coerce_scalar("True"), json!("True"));
        assert_eq!(coerce_scalar("42"), json!(42));
        assert_eq!(coerce_scalar("-7"), json!(-7));
        assert_eq!(coerce_scalar("2.5"), json!(2.5));
        assert_eq!(coerce_scalar("1e3"), json!(1000.0));
        assert_eq!(coerce_scalar("inf"), json!("inf"));
        assert_eq!(coerce_scalar("NaN"), json!("NaN"));
        assert_eq!(coerce_scalar("30s"), json!("30s"));
        assert_eq!(coerce_scalar(""), json!(""));
        assert_eq!(coerce_scalar("app:x"), json!("app:x"));
    }

    #[test]
    fn yaml_1_1_booleans_for_typed_fields() {
        for t in ["true", "yes", "Yes", "on", "ON", "y"] {
            assert_eq!(yaml_bool(t), Some(true), "{t}");
        }
        for f in ["false", "no", "NO", "off", "n"] {
            assert_eq!(yaml_bool(f), Some(false), "{f}");
        }
        for other in ["", "1", "tru", "yES"] {
            assert_eq!(yaml_bool(other), None, "{other}");
        }
    }

    #[test]
    fn set_path_creates_and_replaces() {
        let mut map = Map::new();
        set_path(&mut map, &["a", "b", "c"], json!(1));
        set_path(&mut map, &["a", "d"], json!("x"));
        assert_eq!(
            Value::Object(map.clone()),
            json!({"a": {"b": {"c": 1}, "d": "x"}})
        );
        set_path(&mut map, &["a", "d", "e"], json!(true));
        assert_eq!(
            Value::Object(map),
            json!({"a": {"b": {"c": 1}, "d": {"e": true}}})
        );
    }
}
