//! Log output: application records (`logger`, `print`) and runtime messages, one line each on
//! stderr, in the console or JSON format of SPEC §9.2.
//!
//! Runtime messages (boot, service states) and application records are filtered separately:
//! in exec mode runtime messages below warning stay hidden unless `-v` or `-c` is given, while
//! application records keep their configured level (SPEC §3.4, §11.1).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use serde_json::Value as Json;
use starling_core::log::{MAX_FIELD_DEPTH, TOO_DEEP};
use starling_lua::{Level, LogRecord};

use crate::terminal::StdTerminal;

/// How lines are written.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// `<time>\t<LEVEL>\t<name>\t<message>\t<fields>`.
    Console,
    /// Like console, with level colours and seconds since start instead of the clock (`-c`).
    Color,
    /// One JSON object per line.
    Json,
}

/// Where log lines go and which pass.
#[derive(Debug)]
pub struct LogSink {
    encoding: Encoding,
    /// Minimum level for application records; `None` = no output.
    app_level: Option<Level>,
    /// Minimum level for runtime messages; `None` = no output.
    runtime_level: Option<Level>,
    /// Set while a `hide_logs` terminal process runs.
    hidden: AtomicBool,
    started: Instant,
    /// The terminal, which keeps log lines off the prompt when it is interactive.
    console: OnceLock<Arc<StdTerminal>>,
}

impl LogSink {
    /// A sink with the given filters.
    pub fn new(
        encoding: Encoding,
        app_level: Option<Level>,
        runtime_level: Option<Level>,
    ) -> LogSink {
        LogSink {
            encoding,
            app_level,
            runtime_level,
            hidden: AtomicBool::new(false),
            started: Instant::now(),
            console: OnceLock::new(),
        }
    }

    /// Routes lines through the terminal, which prints them above an interactive prompt.
    pub fn attach_terminal(&self, terminal: Arc<StdTerminal>) {
        let _ = self.console.set(terminal);
    }

    /// Hides (or shows again) every line, for `hide_logs` terminal hosts.
    pub fn set_hidden(&self, hidden: bool) {
        self.hidden.store(hidden, Ordering::Relaxed);
    }

    /// True when an application record at `level` would be printed.
    pub fn app_enabled(&self, level: Level) -> bool {
        !self.hidden.load(Ordering::Relaxed) && self.app_level.is_some_and(|min| level >= min)
    }

    /// True when a runtime message at `level` would be printed.
    pub fn runtime_enabled(&self, level: Level) -> bool {
        !self.hidden.load(Ordering::Relaxed) && self.runtime_level.is_some_and(|min| level >= min)
    }

    /// Writes an application record.
    pub fn app(&self, rec: &LogRecord) {
        if self.app_enabled(rec.level) {
            self.write(rec);
        }
    }

    /// Writes a runtime message.
    pub fn runtime(&self, level: Level, message: &str, fields: Vec<(String, Json)>) {
        if self.runtime_enabled(level) {
            self.write(&LogRecord {
                level,
                name: "starling".into(),
                message: message.into(),
                fields,
            });
        }
    }

    fn write(&self, rec: &LogRecord) {
        let line = self.format(rec);
        if let Some(t) = self.console.get() {
            t.log_line(&line);
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
    }

    /// Formats one record as a full line (with the newline).
    pub fn format(&self, rec: &LogRecord) -> String {
        match self.encoding {
            Encoding::Json => json_line(rec),
            Encoding::Console => {
                let ts = jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S").to_string();
                console_line(&ts, rec, false)
            }
            Encoding::Color => {
                let ts = format!("{:>8.3}s", self.started.elapsed().as_secs_f64());
                console_line(&ts, rec, true)
            }
        }
    }
}

fn level_color(level: Level) -> &'static str {
    match level {
        Level::Debug => "\x1b[35m",
        Level::Info => "\x1b[34m",
        Level::Warn => "\x1b[33m",
        Level::Error => "\x1b[31m",
    }
}

/// `<ts>\t<LEVEL>\t<name>\t<message>\t<fields>`; empty name and no fields leave their columns out.
pub fn console_line(ts: &str, rec: &LogRecord, color: bool) -> String {
    let mut s = String::with_capacity(96);
    s.push_str(ts);
    s.push('\t');
    if color {
        s.push_str(level_color(rec.level));
        s.push_str(rec.level.as_str());
        s.push_str("\x1b[0m");
    } else {
        s.push_str(rec.level.as_str());
    }
    s.push('\t');
    if !rec.name.is_empty() {
        s.push_str(&rec.name);
        s.push('\t');
    }
    s.push_str(&rec.message);
    if !rec.fields.is_empty() {
        s.push('\t');
        write_fields(&mut s, &rec.fields);
    }
    s.push('\n');
    s
}

/// Fields as a JSON object with `": "` and `", "` separators, in the given order.
pub fn write_fields(s: &mut String, fields: &[(String, Json)]) {
    write_object(s, fields.iter().map(|(k, v)| (k.as_str(), v)), CONSOLE, 0);
}

/// Separators between a key and its value, and between items.
type Separators = (&'static str, &'static str);
const CONSOLE: Separators = (": ", ", ");
const COMPACT: Separators = (":", ",");

/// Writes an object found at `depth` (0: the record's own fields); its values are one deeper.
fn write_object<'a>(
    s: &mut String,
    items: impl Iterator<Item = (&'a str, &'a Json)>,
    sep: Separators,
    depth: usize,
) {
    s.push('{');
    for (i, (k, v)) in items.enumerate() {
        if i > 0 {
            s.push_str(sep.1);
        }
        write_string(s, k);
        s.push_str(sep.0);
        write_json(s, v, sep, depth + 1);
    }
    s.push('}');
}

fn write_string(s: &mut String, text: &str) {
    // A string alone cannot fail to encode, and it does not recurse.
    s.push_str(&serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into()));
}

/// Writes `v` found at `depth`: objects and arrays deeper than [`MAX_FIELD_DEPTH`] become
/// `"<too deep>"`, so a value built in Rust (a native process's fields) cannot make the
/// writer recurse without bound either (the Lua logger already cuts its fields there).
fn write_json(s: &mut String, v: &Json, sep: Separators, depth: usize) {
    match v {
        Json::Object(_) | Json::Array(_) if depth > MAX_FIELD_DEPTH => write_string(s, TOO_DEEP),
        Json::Object(m) => write_object(s, m.iter().map(|(k, v)| (k.as_str(), v)), sep, depth),
        Json::Array(a) => {
            s.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    s.push_str(sep.1);
                }
                write_json(s, v, sep, depth + 1);
            }
            s.push(']');
        }
        Json::String(text) => write_string(s, text),
        scalar => s.push_str(&scalar.to_string()),
    }
}

fn json_line(rec: &LogRecord) -> String {
    let ts = Json::String(jiff::Timestamp::now().to_string());
    let level = Json::String(rec.level.as_str().to_lowercase());
    let name = Json::String(rec.name.clone());
    let msg = Json::String(rec.message.clone());
    let mut head: Vec<(&str, &Json)> = vec![("ts", &ts), ("level", &level)];
    if !rec.name.is_empty() {
        head.push(("logger", &name));
    }
    head.push(("msg", &msg));
    // A field named like a header key replaces it in place, as in a JSON object.
    let mut items: Vec<(&str, &Json)> = Vec::with_capacity(head.len() + rec.fields.len());
    for (k, v) in head
        .into_iter()
        .chain(rec.fields.iter().map(|(k, v)| (k.as_str(), v)))
    {
        match items.iter_mut().find(|(ik, _)| *ik == k) {
            Some(slot) => slot.1 = v,
            None => items.push((k, v)),
        }
    }
    let mut s = String::with_capacity(128);
    write_object(&mut s, items.into_iter(), COMPACT, 0);
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> LogRecord {
        LogRecord {
            level: Level::Info,
            name: "".into(),
            message: "stats".into(),
            fields: vec![
                ("pid".into(), Json::String("{app:processes|0x00002}".into())),
                ("location".into(), Json::String("app:relay:12".into())),
                ("messages".into(), Json::from(1)),
                ("result".into(), serde_json::json!({"value": 0})),
            ],
        }
    }

    #[test]
    fn console_lines_match_the_spec() {
        let line = console_line("2026-03-01 10:15:02", &rec(), false);
        assert_eq!(
            line,
            "2026-03-01 10:15:02\tINFO\tstats\t{\"pid\": \"{app:processes|0x00002}\", \
             \"location\": \"app:relay:12\", \"messages\": 1, \"result\": {\"value\": 0}}\n"
        );
        let mut named = rec();
        named.name = "relay".into();
        named.fields.clear();
        assert_eq!(console_line("T", &named, false), "T\tINFO\trelay\tstats\n");
    }

    #[test]
    fn json_lines_carry_level_and_fields() {
        let line = json_line(&rec());
        let v: Json = serde_json::from_str(&line).expect("valid json");
        assert_eq!(v["level"], "info");
        assert_eq!(v["msg"], "stats");
        assert_eq!(v["messages"], 1);
    }

    /// Issue 11: values nested deeper than the field limit are cut with a marker by both
    /// encodings (a native process can hand over any `serde_json::Value`).
    #[test]
    fn deep_values_are_cut_with_a_marker() {
        let mut deep = Json::from(1);
        for i in 0..200 {
            deep = if i % 2 == 0 {
                serde_json::json!({ "a": deep })
            } else {
                serde_json::json!([deep])
            };
        }
        let mut r = rec();
        r.fields = vec![("deep".into(), deep)];
        let console = console_line("T", &r, false);
        assert_eq!(
            console.matches('{').count(),
            1 + MAX_FIELD_DEPTH / 2,
            "{console}"
        );
        assert!(console.contains(TOO_DEEP), "{console}");
        let line = json_line(&r);
        let v: Json = serde_json::from_str(&line).expect("valid json");
        let mut cur = &v["deep"];
        let mut levels = 0;
        while let Some(next) = cur.get("a").or_else(|| cur.get(0)) {
            cur = next;
            levels += 1;
        }
        assert_eq!(levels, MAX_FIELD_DEPTH);
        assert_eq!(cur, TOO_DEEP);
    }

    #[test]
    fn json_fields_named_like_the_header_replace_it() {
        let mut r = rec();
        r.fields = vec![("msg".into(), Json::from(5)), ("z".into(), Json::Null)];
        let line = json_line(&r);
        assert!(line.starts_with("{\"ts\":\""), "{line}");
        assert!(
            line.ends_with(",\"level\":\"info\",\"msg\":5,\"z\":null}\n"),
            "{line}"
        );
    }

    #[test]
    fn filters_app_and_runtime_separately() {
        let sink = LogSink::new(Encoding::Console, Some(Level::Info), Some(Level::Warn));
        assert!(sink.app_enabled(Level::Info));
        assert!(!sink.app_enabled(Level::Debug));
        assert!(!sink.runtime_enabled(Level::Info));
        sink.set_hidden(true);
        assert!(!sink.app_enabled(Level::Error));
    }
}
