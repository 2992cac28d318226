//! `process.service` (SPEC §2.4, §2.7, §3.3): the lifecycle as seen in the log of
//! `starling run`, with small delays so every test stays short. Timing is asserted only with
//! loose bounds (a later delay is not shorter than an earlier one; a gap is not shorter than
//! the delay logged for it), never against the clock.

use crate::support::{Project, Running, Stream};

/// What a service-mode run logged, with the `-c` elapsed-seconds timestamps.
struct Run {
    code: Option<i32>,
    lines: Vec<(f64, String)>,
}

impl Run {
    fn text(&self) -> String {
        self.lines
            .iter()
            .map(|(t, l)| format!("{t:8.3} {l}\n"))
            .collect()
    }

    /// Index of the first line containing `needle`.
    fn find(&self, needle: &str) -> usize {
        self.lines
            .iter()
            .position(|(_, l)| l.contains(needle))
            .unwrap_or_else(|| panic!("missing {needle:?} in:\n{}", self.text()))
    }

    fn has(&self, needle: &str) -> bool {
        self.lines.iter().any(|(_, l)| l.contains(needle))
    }

    /// Every line containing `needle`, with its time.
    fn all(&self, needle: &str) -> Vec<(f64, String)> {
        self.lines
            .iter()
            .filter(|(_, l)| l.contains(needle))
            .cloned()
            .collect()
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn parse_lines(stderr: &str) -> Vec<(f64, String)> {
    stderr
        .lines()
        .map(|l| {
            let l = strip_ansi(l);
            let (ts, rest) = l.split_once('\t').unwrap_or(("", &l));
            let t = ts.trim().trim_end_matches('s').parse().unwrap_or(-1.0);
            (t, rest.to_string())
        })
        .collect()
}

/// True when `log` shows `until`: every `|` separated part of it, `N*text` meaning N
/// occurrences of text.
fn logged(log: &str, until: &str) -> bool {
    until.split('|').all(|part| match part.split_once('*') {
        Some((n, text)) if n.parse::<usize>().is_ok() => {
            log.matches(text).count() >= n.parse().expect("count")
        }
        _ => log.contains(part),
    })
}

/// Runs `starling run -c extra…` in the project until stderr shows `until` (see [`logged`]),
/// then sends SIGTERM, and a second one once `second` is logged, if given; waits for the exit.
fn run_until(p: &Project, extra: &[&str], until: &str, second: Option<&str>) -> Run {
    let mut args = vec!["run", "-c"];
    args.extend_from_slice(extra);
    let mut run = Running::start(p.path(), &args);
    run.wait_for(Stream::Stderr, until, |log| logged(&strip_ansi(log), until));
    run.signal("TERM");
    if let Some(second) = second {
        run.wait_for(Stream::Stderr, second, |log| {
            logged(&strip_ansi(log), second)
        });
        run.signal("TERM");
    }
    let out = run.finish();
    Run {
        code: out.code,
        lines: parse_lines(&out.stderr),
    }
}

const HOST: &str = "  - { name: processes, kind: process.host, lifecycle: { auto_start: true } }\n";

/// A project with one host, the given entries and Lua files.
fn project(entries: &str, files: &[(&str, &str)]) -> Project {
    let p = Project::new();
    p.file(
        "_index.yaml",
        &format!("namespace: app\nentries:\n{HOST}{entries}"),
    );
    for (name, text) in files {
        p.file(name, text);
    }
    p
}

/// Logs `<name> up`, then leaves on CANCEL (logging `<name> leaving`).
const POLITE: &str = r#"local logger = require("logger")
return { main = function(name)
    logger:info(name .. " up")
    local events = process.events()
    while true do
        local ev = events:receive()
        if ev.kind == process.event.CANCEL then
            logger:info(name .. " leaving", { reason = ev.reason })
            return 0
        end
    end
end }"#;

fn delay_ms(line: &str) -> f64 {
    let at = line.find("\"delay_ms\": ").expect("delay_ms field") + 12;
    let digits: String = line[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().expect("delay_ms value")
}

#[test]
fn restarts_back_off_exponentially_and_give_up_after_max_attempts() {
    let p = project(
        r#"  - { name: crash, kind: process.lua, source: 'return { main = function() error("boom") end }', method: main }
  - name: crasher
    kind: process.service
    process: crash
    host: processes
    lifecycle:
      auto_start: true
      restart: { initial_delay: 50ms, backoff_factor: 2, max_delay: 150ms, jitter: 0.01, max_attempts: 5 }
"#,
        &[],
    );
    let run = run_until(&p, &[], "gave up after 5 attempts", None);
    assert_eq!(run.code, Some(0), "{}", run.text());
    let running = run.all("service app:crasher is running");
    let failed = run.all("service app:crasher is failed");
    let restarts = run.all("service app:crasher will restart in");
    assert_eq!(running.len(), 5, "{}", run.text());
    assert_eq!(failed.len(), 5, "{}", run.text());
    assert!(
        failed
            .iter()
            .all(|(_, l)| l.contains("ERROR") && l.contains("boom"))
    );
    assert!(failed[4].1.contains("\"attempt\": 5"), "{}", failed[4].1);
    // min(50ms × 2^(n−1), 150ms) ± 1 %: 50, 100, 150, 150.
    let delays: Vec<f64> = restarts.iter().map(|(_, l)| delay_ms(l)).collect();
    assert_eq!(delays.len(), 4, "{}", run.text());
    for (got, want) in delays.iter().zip([50.0, 100.0, 150.0, 150.0]) {
        assert!((got - want).abs() <= want * 0.011 + 1.0, "{delays:?}");
    }
    // Each restart waits at least its delay (on a busy machine, longer: so gaps are not
    // compared with each other; the logged delays above show the growth).
    let gaps: Vec<f64> = running
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * 1000.0)
        .collect();
    for (gap, delay) in gaps.iter().zip(&delays) {
        assert!(gap + 2.0 >= *delay, "gaps {gaps:?} delays {delays:?}");
    }
    // No sixth start, and the given-up service does not hold the shutdown.
    assert!(run.find("gave up after 5 attempts") > run.find("is failed"));
    assert!(!run.has("service app:crasher is stopping"));
}

#[test]
fn a_stable_run_resets_the_backoff_and_the_attempt_count() {
    let p = project(
        r#"  - { name: slow-crash, kind: process.lua, source: file://slow.lua, method: main, modules: [time] }
  - name: flaky
    kind: process.service
    process: slow-crash
    host: processes
    lifecycle:
      auto_start: true
      stable_threshold: 60ms
      restart: { initial_delay: 30ms, jitter: 0.01, max_attempts: 2 }
"#,
        &[(
            "slow.lua",
            r#"local time = require("time")
return { main = function() time.sleep("100ms") error("worn out") end }"#,
        )],
    );
    // Without the reset, max_attempts = 2 would stop it after the second failure.
    let run = run_until(&p, &[], "4*service app:flaky is running", None);
    assert_eq!(run.code, Some(0), "{}", run.text());
    assert!(!run.has("gave up"), "{}", run.text());
    assert!(
        run.all("service app:flaky is failed")
            .iter()
            .all(|(_, l)| l.contains("\"attempt\": 1")),
        "{}",
        run.text()
    );
    let delays: Vec<f64> = run
        .all("service app:flaky will restart in")
        .iter()
        .map(|(_, l)| delay_ms(l))
        .collect();
    assert!(delays.len() >= 3, "{}", run.text());
    assert!(
        delays.iter().all(|d| (29.0..=31.0).contains(d)),
        "{delays:?}"
    );
}

#[test]
fn normal_return_and_non_retryable_errors_exit_without_restart() {
    let p = project(
        r#"  - { name: done, kind: process.lua, source: 'return { main = function() return "ok" end }', method: main }
  - { name: fatal, kind: process.lua, source: 'return { main = function() error(errors.new({ message = "bad config", kind = errors.INVALID, retryable = false })) end }', method: main }
  - { name: soft, kind: process.lua, source: 'return { main = function() return nil, errors.new({ message = "try later", retryable = true }) end }', method: main }
  - { name: done-service, kind: process.service, process: done, host: processes, lifecycle: { auto_start: true, restart: { initial_delay: 20ms } } }
  - { name: fatal-service, kind: process.service, process: fatal, host: processes, lifecycle: { auto_start: true, restart: { initial_delay: 20ms } } }
  - { name: soft-service, kind: process.service, process: soft, host: processes, lifecycle: { auto_start: true, restart: { initial_delay: 20ms, max_attempts: 2 } } }
"#,
        &[],
    );
    let run = run_until(&p, &[], "soft-service gave up", None);
    assert_eq!(run.code, Some(0), "{}", run.text());
    let done = run.all("service app:done-service is exited");
    assert_eq!(done.len(), 1, "{}", run.text());
    assert!(done[0].1.contains("INFO"), "{}", done[0].1);
    let fatal = run.all("service app:fatal-service is exited");
    assert_eq!(fatal.len(), 1, "{}", run.text());
    assert!(
        fatal[0].1.contains("ERROR")
            && fatal[0].1.contains("bad config")
            && fatal[0].1.contains("\"retryable\": false"),
        "{}",
        fatal[0].1
    );
    assert!(!run.has("done-service will restart"), "{}", run.text());
    assert!(!run.has("fatal-service will restart"), "{}", run.text());
    assert_eq!(run.all("service app:done-service is running").len(), 1);
    assert_eq!(run.all("service app:fatal-service is running").len(), 1);
    // A `return nil, err` end is a failure; a retryable error is restarted.
    assert_eq!(run.all("service app:soft-service is failed").len(), 2);
    assert!(run.has("soft-service will restart"), "{}", run.text());
}

#[test]
fn requires_orders_the_start_and_reverses_the_stop() {
    let p = project(
        r#"  - { name: polite, kind: process.lua, source: file://polite.lua, method: main, modules: [logger] }
  - { name: a, kind: process.service, process: polite, host: processes, input: [a], lifecycle: { auto_start: true, requires: [b] } }
  - { name: b, kind: process.service, process: polite, host: processes, input: [b], lifecycle: { auto_start: true, depends_on: [app:c] } }
  - { name: c, kind: process.service, process: polite, host: app:processes, input: [c], lifecycle: { auto_start: true } }
  - { name: d, kind: process.service, process: polite, host: processes, input: [d], lifecycle: { auto_start: true } }
  - { name: idle, kind: process.host, lifecycle: { auto_start: false } }
  - { name: parked, kind: process.service, process: polite, host: idle, input: [parked], lifecycle: { auto_start: true } }
"#,
        &[("polite.lua", POLITE)],
    );
    let run = run_until(&p, &[], "a up", None);
    assert_eq!(run.code, Some(0), "{}", run.text());
    let at = |s: &str| run.find(s);
    // Start: c before b before a; d does not wait for anyone (it starts with c).
    assert!(at("service app:c is running") < at("service app:b is starting"));
    assert!(at("service app:b is running") < at("service app:a is starting"));
    assert!(at("service app:d is starting") < at("service app:c is running"));
    // A service whose host does not run never starts; it is reported once.
    assert!(run.has(
        "service app:parked cannot start: host app:idle is not running (set lifecycle.auto_start: true)"
    ));
    assert!(!run.has("service app:parked is starting"));
    // Stop: a, then b, then c, each asked only once what requires it has stopped.
    assert!(at("service app:a is stopped") < at("service app:b is stopping"));
    assert!(at("service app:b is stopped") < at("service app:c is stopping"));
    assert!(at("service app:d is stopping") < at("service app:c is stopping"));
    assert!(at("a leaving") < at("b leaving") && at("b leaving") < at("c leaving"));
    assert!(run.has("\"reason\": \"service stopping\""));
    assert!(at("shutting down") < at("service app:a is stopping"));
}

#[test]
fn stop_timeout_then_terminate_and_shutdown_timeout_bound() {
    let p = project(
        r#"  - { name: polite, kind: process.lua, source: file://polite.lua, method: main, modules: [logger] }
  - { name: deaf, kind: process.lua, source: 'return { main = function() local l = require("logger") l:info("deaf up") process.inbox():receive() end }', method: main, modules: [logger] }
  - { name: deaf-service, kind: process.service, process: deaf, host: processes, lifecycle: { auto_start: true, stop_timeout: 100ms, requires: [polite-service] } }
  - { name: polite-service, kind: process.service, process: polite, host: processes, input: [polite], lifecycle: { auto_start: true } }
"#,
        &[("polite.lua", POLITE)],
    );
    let run = run_until(&p, &[], "deaf up", None);
    assert_eq!(run.code, Some(0), "{}", run.text());
    let at = |s: &str| run.find(s);
    assert!(at("service app:deaf-service is stopping") < at("did not stop in time"));
    assert!(at("did not stop in time") < at("service app:deaf-service is stopped"));
    assert!(
        at("service app:deaf-service is stopped") < at("service app:polite-service is stopping")
    );
    assert!(at("polite leaving") < at("service app:polite-service is stopped"));
    // The deaf service waited its stop_timeout (100 ms; never less), not the 10 s default (a
    // busy machine makes 100 ms later, but nowhere near 10 s).
    let stopping = run.lines[at("service app:deaf-service is stopping")].0;
    let stopped = run.lines[at("service app:deaf-service is stopped")].0;
    assert!(stopped - stopping >= 0.09, "{}", run.text());
    assert!(stopped - stopping < 9.0, "{}", run.text());

    // shutdown.timeout caps the whole stop, whatever a service's stop_timeout says.
    let p = project(
        r#"  - { name: deaf, kind: process.lua, source: 'return { main = function() local l = require("logger") l:info("deaf up") process.inbox():receive() end }', method: main, modules: [logger] }
  - { name: deaf-service, kind: process.service, process: deaf, host: processes, lifecycle: { auto_start: true, stop_timeout: 30s } }
"#,
        &[],
    );
    let run = run_until(&p, &["--set", "shutdown.timeout=200ms"], "deaf up", None);
    assert_eq!(run.code, Some(0), "{}", run.text());
    assert!(run.has("shutdown timeout reached"), "{}", run.text());
}

#[test]
fn a_second_signal_exits_at_once_with_status_1() {
    let p = project(
        r#"  - { name: deaf, kind: process.lua, source: 'return { main = function() local l = require("logger") l:info("deaf up") process.inbox():receive() end }', method: main, modules: [logger] }
  - { name: deaf-service, kind: process.service, process: deaf, host: processes, lifecycle: { auto_start: true, stop_timeout: 30s } }
"#,
        &[],
    );
    let run = run_until(
        &p,
        &[],
        "deaf up",
        Some("service app:deaf-service is stopping"),
    );
    assert_eq!(run.code, Some(1), "{}", run.text());
    assert!(run.has("second signal, exiting at once"), "{}", run.text());
    assert!(!run.has("service app:deaf-service is stopped"));
}

#[test]
fn missing_process_or_requirement_fails_and_retries() {
    let p = project(
        r#"  - { name: polite, kind: process.lua, source: file://polite.lua, method: main, modules: [logger] }
  - name: orphan
    kind: process.service
    process: ghost
    host: processes
    lifecycle: { auto_start: true, restart: { initial_delay: 20ms, max_attempts: 3 } }
  - name: needy
    kind: process.service
    process: polite
    host: processes
    input: [needy]
    lifecycle: { auto_start: true, requires: [phantom], restart: { initial_delay: 20ms, max_attempts: 2 } }
"#,
        &[("polite.lua", POLITE)],
    );
    let run = run_until(
        &p,
        &[],
        "needy gave up after 2 attempts|orphan gave up after 3 attempts",
        None,
    );
    assert_eq!(run.code, Some(0), "{}", run.text());
    let orphan = run.all("service app:orphan is failed");
    assert_eq!(orphan.len(), 3, "{}", run.text());
    assert!(orphan[0].1.contains("ERROR") && orphan[0].1.contains("app:ghost"));
    let needy = run.all("service app:needy is failed");
    assert_eq!(needy.len(), 2, "{}", run.text());
    assert!(needy[0].1.contains("required entry app:phantom not found"));
    assert!(!run.has("needy up"));
}

/// Runs `starling run` on a project that must not load; returns stderr.
fn load_error(entries: &str) -> String {
    let p = project(entries, &[("polite.lua", POLITE)]);
    let out = p.run(&["run"], "");
    out.expect_code(1);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    out.stderr
}

#[test]
fn bad_service_definitions_are_load_errors() {
    let polite = "  - { name: polite, kind: process.lua, source: file://polite.lua, method: main, modules: [logger] }\n";
    let cases: [(String, &str); 6] = [
        (
            format!(
                "{polite}  - {{ name: a, kind: process.service, process: polite, host: processes, lifecycle: {{ requires: [b] }} }}\n  - {{ name: b, kind: process.service, process: polite, host: processes, lifecycle: {{ depends_on: [a] }} }}\n"
            ),
            "entry app:a: lifecycle.requires forms a cycle: app:a -> app:b -> app:a",
        ),
        (
            format!(
                "{polite}  - {{ name: s, kind: process.service, process: polite, host: nowhere }}\n"
            ),
            "entry app:s: host app:nowhere not found",
        ),
        (
            format!(
                "{polite}  - {{ name: s, kind: process.service, process: polite, host: polite }}\n"
            ),
            "entry app:s: host app:polite is not a host (kind process.lua)",
        ),
        (
            format!(
                "{polite}  - {{ name: s, kind: process.service, process: polite, host: node:control }}\n"
            ),
            "entry app:s: host node:control is not allowed for a service",
        ),
        (
            format!("{polite}  - {{ name: s, kind: process.service, host: processes }}\n"),
            "entry app:s: process is required",
        ),
        (
            format!("{polite}  - {{ name: s, kind: process.service, process: polite }}\n"),
            "entry app:s: host is required",
        ),
    ];
    for (entries, want) in cases {
        let stderr = load_error(&entries);
        assert!(
            stderr.contains("_index.yaml") && stderr.contains(want),
            "want {want:?} in:\n{stderr}"
        );
    }
}
