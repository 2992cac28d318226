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
    s.push('{');
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&Json::String(k.clone()).to_string());
        s.push_str(": ");
        write_json(s, v);
    }
    s.push('}');
}

fn write_json(s: &mut String, v: &Json) {
    match v {
        Json::Object(m) => {
            s.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                s.push_str(&Json::String(k.clone()).to_string());
                s.push_str(": ");
                write_json(s, v);
            }
            s.push('}');
        }
        Json::Array(a) => {
            s.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_json(s, v);
            }
            s.push(']');
        }
        other => s.push_str(&other.to_string()),
    }
}

fn json_line(rec: &LogRecord) -> String {
    let mut m = serde_json::Map::new();
    m.insert(
        "ts".into(),
        Json::String(jiff::Timestamp::now().to_string()),
    );
    m.insert(
        "level".into(),
        Json::String(rec.level.as_str().to_lowercase()),
    );
    if !rec.name.is_empty() {
        m.insert("logger".into(), Json::String(rec.name.clone()));
    }
    m.insert("msg".into(), Json::String(rec.message.clone()));
    for (k, v) in &rec.fields {
        m.insert(k.clone(), v.clone());
    }
    let mut s = Json::Object(m).to_string();
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
