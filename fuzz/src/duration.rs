//! `duration`: Go duration strings, as YAML fields and the Lua `time` module read them.
//!
//! The bytes are tried as a duration string and, when at least eight long, their first eight
//! as a nanosecond count. Checked:
//!
//! - a parsed value formats to a string that parses back to it;
//! - a sign in front behaves as a sign: `"+s"` is `s`, `"-s"` is `-s`;
//! - groups add up: where `s` splits into two valid unsigned durations `a` and `b`, `s` is
//!   `a + b` (Go parses each `<number><unit>` on its own and sums them);
//! - every `i64` formats to a string that parses back to it;
//! - the Lua side (`time.parse_duration`, every duration argument) agrees with the parser on
//!   strings, and truncates finite numbers.

use std::cell::RefCell;

use mlua::{Lua, Value};
use starling_entry::{DurationError, format_go_duration, parse_go_duration};
use starling_lua::userdata::time::duration_arg;

thread_local! {
    static LUA: RefCell<Option<Lua>> = const { RefCell::new(None) };
}

/// One input; see the module docs.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    check_text(&text);
    if let Some(bytes) = data.get(..8) {
        let nanos = i64::from_le_bytes(bytes.try_into().expect("eight bytes"));
        check_nanos(nanos);
        check_number(f64::from_bits(nanos as u64));
    }
    check_lua_string(data);
}

fn check_text(text: &str) {
    let parsed = parse_go_duration(text);
    if let Ok(nanos) = parsed {
        let formatted = format_go_duration(nanos);
        assert_eq!(
            parse_go_duration(&formatted),
            Ok(nanos),
            "{text:?} parsed to {nanos}, formatted as {formatted:?}"
        );
    }

    if !text.starts_with(['+', '-']) {
        assert_eq!(
            parse_go_duration(&format!("+{text}")),
            parsed.clone().map_err(|e| rename(e, &format!("+{text}"))),
            "a leading + changed {text:?}"
        );
        if let Ok(nanos) = parsed {
            assert_eq!(
                parse_go_duration(&format!("-{text}")),
                Ok(-nanos),
                "a leading - did not negate {text:?}"
            );
        }
        check_sum(text, parsed.ok());
    }
}

/// The same error for another input text (the message names the input).
fn rename(e: DurationError, input: &str) -> DurationError {
    let input = input.to_owned();
    match e {
        DurationError::Invalid(_) => DurationError::Invalid(input),
        DurationError::MissingUnit(_) => DurationError::MissingUnit(input),
        DurationError::Overflow(_) => DurationError::Overflow(input),
        DurationError::Negative(_) => DurationError::Negative(input),
        DurationError::UnknownUnit { unit, .. } => DurationError::UnknownUnit { unit, input },
        other => other,
    }
}

/// Splits an unsigned `text` after each unit, where a number starts: both halves valid means
/// the whole is their sum (or an overflow).
fn check_sum(text: &str, whole: Option<i64>) {
    let bytes = text.as_bytes();
    for at in 1..bytes.len() {
        let (before, after) = (bytes[at - 1], bytes[at]);
        let unit_ends = !(before.is_ascii_digit() || before == b'.');
        let number_starts = after.is_ascii_digit() || after == b'.';
        if !(unit_ends && number_starts && text.is_char_boundary(at)) {
            continue;
        }
        let (a, b) = text.split_at(at);
        let (Ok(x), Ok(y)) = (parse_go_duration(a), parse_go_duration(b)) else {
            continue;
        };
        if b == "0" {
            // The bare "0" needs no unit only as the whole string.
            continue;
        }
        match x.checked_add(y) {
            Some(sum) => assert_eq!(whole, Some(sum), "{text:?} is not {a:?} + {b:?}"),
            None => assert_eq!(whole, None, "{text:?} should overflow as {a:?} + {b:?}"),
        }
    }
}

fn check_nanos(nanos: i64) {
    let formatted = format_go_duration(nanos);
    assert_eq!(
        parse_go_duration(&formatted),
        Ok(nanos),
        "{nanos} formatted as {formatted:?}"
    );
}

fn with_lua(f: impl FnOnce(&Lua)) {
    LUA.with(|cell| f(cell.borrow_mut().get_or_insert_with(Lua::new)));
}

fn check_number(n: f64) {
    let got = duration_arg(&Value::Number(n));
    if n.is_finite() {
        assert_eq!(got, Ok(n.trunc() as i64), "duration argument {n}");
    } else {
        assert!(got.is_err(), "duration argument {n} accepted");
    }
}

fn check_lua_string(data: &[u8]) {
    with_lua(|lua| {
        let s = lua.create_string(data).expect("Lua string");
        let got = duration_arg(&Value::String(s));
        match std::str::from_utf8(data) {
            Ok(text) => assert_eq!(
                got,
                parse_go_duration(text).map_err(|e| e.to_string()),
                "Lua duration argument {text:?}"
            ),
            Err(_) => assert!(got.is_err(), "non-UTF-8 duration {data:?} accepted"),
        }
    });
}
