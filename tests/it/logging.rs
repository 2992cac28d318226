//! Log lines on stderr (SPEC §9.2, §3.1, §3.4): formats, levels, flags and configuration.

use crate::support::{Output, Project, script_project};

const LOGS: &str = r#"return { main = function()
    local log = require("logger")
    log:debug("dbg")
    log:info("inf", { z = 1, a = "x" })
    log:warn("wrn")
    log:error("err", { error = errors.wrap(errors.new("inner"), "outer") })
    io.print("stdout stays clean")
end }"#;

/// Application lines on stderr: `(level, name, message, fields json)`; runtime lines skipped.
fn lines(out: &Output) -> Vec<(String, String, String, String)> {
    out.stderr
        .lines()
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert!(cols.len() >= 3, "not a console line: {l:?}");
            let ts = cols[0];
            assert!(
                ts.len() == 19 && ts.as_bytes()[4] == b'-' && ts.as_bytes()[13] == b':',
                "timestamp {ts:?} in {l:?}"
            );
            match cols.len() {
                3 => (cols[1].into(), String::new(), cols[2].into(), String::new()),
                4 if cols[3].starts_with('{') => (
                    cols[1].into(),
                    String::new(),
                    cols[2].into(),
                    cols[3].into(),
                ),
                4 => (
                    cols[1].into(),
                    cols[2].into(),
                    cols[3].into(),
                    String::new(),
                ),
                _ => (
                    cols[1].into(),
                    cols[2].into(),
                    cols[3].into(),
                    cols[4..].join("\t"),
                ),
            }
        })
        .collect()
}

fn levels(out: &Output) -> Vec<String> {
    lines(out).into_iter().map(|l| l.0).collect()
}

#[test]
fn default_exec_logs_info_and_up_on_stderr() {
    let p = script_project(LOGS);
    let out = p.run(&["run", "-x", "app:main"], "");
    out.expect_code(0);
    assert_eq!(out.stdout, "stdout stays clean\n");
    let l = lines(&out);
    assert_eq!(levels(&out), ["INFO", "WARN", "ERROR"], "{}", out.stderr);
    // context fields first, then the call's fields sorted by key
    assert_eq!(l[0].2, "inf");
    assert_eq!(
        l[0].3,
        r#"{"pid": "{app:terminal|0x00001}", "location": "app:main:4", "a": "x", "z": 1}"#
    );
    // no fields: just pid and location
    assert_eq!(
        l[1].3,
        r#"{"pid": "{app:terminal|0x00001}", "location": "app:main:5"}"#
    );
    // an error value renders as its full message
    assert!(
        l[2].3.ends_with(r#""error": "outer: inner"}"#),
        "{}",
        l[2].3
    );
}

#[test]
fn verbose_shows_debug_and_silent_shows_nothing() {
    let p = script_project(LOGS);
    let out = p.run(&["run", "-x", "app:main", "-v"], "");
    out.expect_code(0);
    let app: Vec<String> = lines(&out)
        .into_iter()
        .filter(|l| l.1 != "starling")
        .map(|l| l.0)
        .collect();
    assert_eq!(app, ["DEBUG", "INFO", "WARN", "ERROR"], "{}", out.stderr);
    let out = p.run(&["run", "-x", "app:main", "-s"], "");
    out.expect_code(0);
    assert_eq!(out.stderr, "");
    assert_eq!(out.stdout, "stdout stays clean\n");
    let out = p.run(&["run", "-x", "app:main", "--silent", "-v"], "");
    assert_eq!(out.stderr, "", "silent wins over verbose");
}

#[test]
fn min_level_comes_from_config_and_set() {
    let p = script_project(LOGS);
    std::fs::write(
        p.path().join(".wippy.yaml"),
        "logmanager:\n  min_level: 1\n",
    )
    .expect("write config");
    let out = p.run(&["run", "-x", "app:main"], "");
    out.expect_code(0);
    assert_eq!(levels(&out), ["WARN", "ERROR"], "{}", out.stderr);
    let out = p.run(
        &["run", "-x", "app:main", "--set", "logmanager.min_level=2"],
        "",
    );
    assert_eq!(levels(&out), ["ERROR"], "{}", out.stderr);
    let out = p.run(
        &["run", "-x", "app:main", "--set", "logmanager.min_level=-1"],
        "",
    );
    assert_eq!(
        levels(&out),
        ["DEBUG", "INFO", "WARN", "ERROR"],
        "{}",
        out.stderr
    );
    // -v means debug whatever the configuration says
    let out = p.run(&["run", "-x", "app:main", "-v"], "");
    assert!(
        levels(&out).contains(&"DEBUG".to_string()),
        "{}",
        out.stderr
    );
    let out = p.run(
        &[
            "run",
            "-x",
            "app:main",
            "--set",
            "logmanager.propagate_downstream=false",
        ],
        "",
    );
    assert_eq!(out.stderr, "");
}

#[test]
fn json_encoding_gives_one_object_per_line() {
    let p = script_project(
        r#"return { main = function()
            local log = require("logger"):named("svc"):with({ req = 7, tags = { "a", "b" } })
            log:info("started", { port = 8080, ratio = 0.5 })
            require("logger"):warn("plain")
        end }"#,
    );
    std::fs::write(p.path().join(".wippy.yaml"), "logger:\n  encoding: json\n")
        .expect("write config");
    let out = p.run(&["run", "-x", "app:main"], "");
    out.expect_code(0);
    let objs: Vec<serde_json::Value> = out
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(objs.len(), 2, "{}", out.stderr);
    let a = &objs[0];
    assert_eq!(a["level"], "info");
    assert_eq!(a["logger"], "svc");
    assert_eq!(a["msg"], "started");
    assert_eq!(a["pid"], "{app:terminal|0x00001}");
    assert_eq!(a["location"], "app:main:3");
    assert_eq!(a["port"], 8080);
    assert_eq!(a["ratio"], 0.5);
    assert_eq!(a["req"], 7);
    assert_eq!(a["tags"], serde_json::json!(["a", "b"]));
    let ts = a["ts"].as_str().expect("ts");
    assert!(
        ts.len() >= 20 && ts.contains('T') && ts.ends_with('Z'),
        "{ts}"
    );
    let b = &objs[1];
    assert_eq!(b["level"], "warn");
    assert!(
        b.get("logger").is_none(),
        "no logger key for the root logger"
    );
    // key order: ts, level, logger, msg, then fields
    let first = out.stderr.lines().next().expect("line");
    let pos = |k: &str| first.find(&format!("\"{k}\"")).expect(k);
    assert!(pos("ts") < pos("level") && pos("level") < pos("logger"));
    assert!(pos("logger") < pos("msg") && pos("msg") < pos("pid"));
}

#[test]
fn colour_console_uses_level_colours_and_elapsed_seconds() {
    let p = script_project(LOGS);
    let out = p.run(&["run", "-x", "app:main", "-c"], "");
    out.expect_code(0);
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("\tinf\t"))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    let ts = line.split('\t').next().expect("ts");
    assert!(
        ts.trim_start().ends_with('s') && ts.trim().trim_end_matches('s').parse::<f64>().is_ok(),
        "{ts:?}"
    );
    assert!(line.contains("\x1b[34mINFO\x1b[0m"), "{line:?}");
    assert!(out.stderr.contains("\x1b[31mERROR\x1b[0m"));
}

#[test]
fn named_and_with_shape_the_line() {
    let p = script_project(
        r#"return { main = function()
            local root = require("logger")
            local a = root:named("a")
            local ab = a:named("b"):with({ k = "with", shared = 1 })
            ab:info("nested", { shared = 2, extra = true })
            a:info("only a")
            root:info("root")
            ab:with({ k = "again" }):info("rewith")
            root:info("own pid", { pid = "custom", zz = false })
            root:info("nil and odd values", { gone = nil, f = print, n = 3.0, list = { 1, 2.5, "x" }, map = { b = 1, a = { c = {} } } })
        end }"#,
    );
    let out = p.run(&["run", "-x", "app:main"], "");
    out.expect_code(0);
    let l = lines(&out);
    assert_eq!(l.len(), 6, "{}", out.stderr);
    assert_eq!((l[0].1.as_str(), l[0].2.as_str()), ("a.b", "nested"));
    // the call's field replaces the logger's; keys sorted after the context fields
    assert!(
        l[0].3
            .ends_with(r#""location": "app:main:5", "extra": true, "k": "with", "shared": 2}"#),
        "{}",
        l[0].3
    );
    assert_eq!((l[1].1.as_str(), l[1].2.as_str()), ("a", "only a"));
    assert_eq!((l[2].1.as_str(), l[2].2.as_str()), ("", "root"));
    assert!(l[3].3.contains(r#""k": "again""#), "{}", l[3].3);
    assert!(!l[3].3.contains(r#""with""#), "{}", l[3].3);
    // a call field named like a context field replaces it in place, never duplicated
    assert_eq!(
        l[4].3,
        r#"{"pid": "custom", "location": "app:main:9", "zz": false}"#
    );
    assert!(
        l[5].3.ends_with(
            r#""f": "function", "list": [1, 2.5, "x"], "map": {"a": {"c": {}}, "b": 1}, "n": 3}"#
        ),
        "{}",
        l[5].3
    );
    assert!(!l[5].3.contains("gone"));
}

#[test]
fn print_logs_one_info_line() {
    let p = script_project(r#"return { main = function() print("a", 1, 2.0, nil, true) end }"#);
    let out = p.run(&["run", "-x", "app:main"], "");
    out.expect_code(0);
    let l = lines(&out);
    assert_eq!(l.len(), 1, "{}", out.stderr);
    assert_eq!(l[0].0, "INFO");
    assert_eq!(l[0].2, "a 1 2 nil true");
    assert_eq!(
        l[0].3,
        r#"{"pid": "{app:terminal|0x00001}", "location": "app:main:1"}"#
    );
}

#[test]
fn hide_logs_keeps_the_terminal_process_quiet() {
    let p = Project::new();
    p.file(
        "_index.yaml",
        r#"version: "1.0"
namespace: app
entries:
  - { name: terminal, kind: terminal.host, hide_logs: true, lifecycle: { auto_start: true } }
  - { name: main, kind: process.lua, source: file://main.lua, method: main, modules: [logger, io] }
"#,
    )
    .file("main.lua", LOGS);
    let out = p.run(&["run", "-x", "app:main"], "");
    out.expect_code(0);
    assert_eq!(out.stderr, "");
    assert_eq!(out.stdout, "stdout stays clean\n");
}

#[test]
fn very_verbose_prints_the_stack_of_a_failed_exec_process() {
    let p = script_project(
        "local function deep()\n    error(errors.new({ message = \"deep failure\", kind = errors.INTERNAL }))\nend\nreturn { main = function() deep() end }",
    );
    let out = p.run(&["run", "-x", "app:main", "-s"], "");
    out.expect_code(1);
    assert_eq!(out.stderr, "deep failure\n");
    let out = p.run(&["run", "-x", "app:main", "-s", "--very-verbose"], "");
    out.expect_code(1);
    assert_eq!(
        out.stderr,
        "deep failure\nstack traceback:\n\tapp:main:2 function deep\n\tapp:main:4 function main\n"
    );
}
