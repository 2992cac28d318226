//! Command-line behaviour: init, exec-mode exit statuses, bad input, signals and shutdown.

use crate::support::{DEADLINE, Project, Running, Stream, script_project};

#[test]
fn init_writes_a_lock_file_and_keeps_other_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = crate::support::run_in(dir.path(), &["init"], "", DEADLINE);
    out.expect_code(0);
    let lock = std::fs::read_to_string(dir.path().join("wippy.lock")).expect("lock written");
    assert_eq!(lock, "directories:\n    modules: .wippy\n    src: ./src\n");

    std::fs::write(
        dir.path().join("wippy.lock"),
        "options:\n    unpack_modules: true\ndirectories:\n    src: ./old\n    modules: .m\n",
    )
    .expect("write lock");
    let out = crate::support::run_in(dir.path(), &["init", "-d", "./app"], "", DEADLINE);
    out.expect_code(0);
    let lock = std::fs::read_to_string(dir.path().join("wippy.lock")).expect("lock written");
    assert!(lock.contains("src: ./app"), "{lock}");
    assert!(lock.contains("unpack_modules: true"), "{lock}");
}

#[test]
fn help_is_available_everywhere() {
    for args in [&["--help"][..], &["run", "--help"], &["init", "--help"]] {
        let out = crate::support::run_in(&std::env::temp_dir(), args, "", DEADLINE);
        out.expect_code(0);
        assert!(out.stdout.contains("Usage"), "{args:?}: {}", out.stdout);
    }
}

#[test]
fn missing_lock_file_hints_at_init() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = crate::support::run_in(dir.path(), &["run", "-x", "app:cli"], "", DEADLINE);
    out.expect_code(1);
    assert!(out.stderr.starts_with("starling: "), "{}", out.stderr);
    assert!(out.stderr.contains("starling init"), "{}", out.stderr);
}

fn expect_load_error(p: &Project, args: &[&str], needles: &[&str]) {
    let out = p.run(args, "");
    out.expect_code(1);
    assert!(out.stderr.starts_with("starling: "), "{}", out.stderr);
    for n in needles {
        assert!(out.stderr.contains(n), "missing {n:?} in: {}", out.stderr);
    }
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[test]
fn malformed_yaml_names_file_and_line() {
    let p = Project::new();
    p.file(
        "_index.yaml",
        "namespace: app\nentries:\n  - name: a\n    kind: [unclosed\n",
    );
    expect_load_error(&p, &["run"], &["_index.yaml:", "4"]);
}

#[test]
fn duplicate_entries_name_both_files() {
    let p = Project::new();
    p.file(
        "a.yaml",
        "namespace: app\nentries:\n  - { name: x, kind: process.host }\n",
    );
    p.file(
        "b.yaml",
        "namespace: app\nentries:\n  - { name: x, kind: process.host }\n",
    );
    expect_load_error(&p, &["run"], &["duplicate", "app:x", "a.yaml", "b.yaml"]);
}

#[test]
fn missing_source_file_is_an_error() {
    let p = Project::new();
    p.file(
        "_index.yaml",
        "namespace: app\nentries:\n  - { name: x, kind: process.lua, source: file://nope.lua }\n",
    );
    expect_load_error(&p, &["run"], &["nope.lua", "_index.yaml"]);
}

#[test]
fn lua_syntax_errors_name_file_and_line() {
    let p = script_project("local function main()\n  return 1 +\nend\nreturn { main = main }\n");
    expect_load_error(&p, &["run", "-x", "app:main"], &["main.lua:3:", "app:main"]);
}

#[test]
fn syntax_errors_keep_their_line_through_the_typed_syntax_rewrite() {
    let p = script_project(
        "type P = {x: number, y?: string @min_len(1)}\nlocal v = (1 as number)!\n\nlocal x = = 2\nreturn { main = function() end }\n",
    );
    expect_load_error(&p, &["run"], &["main.lua:4:"]);
}

#[test]
fn import_problems_are_load_errors() {
    let p = Project::new();
    p.file(
        "_index.yaml",
        "namespace: app\nentries:\n  - { name: x, kind: process.lua, source: 'return 1', imports: { h: app:missing } }\n",
    );
    expect_load_error(
        &p,
        &["run"],
        &["entry app:x", "import 'h': library app:missing not found"],
    );

    let p = Project::new();
    p.file(
        "_index.yaml",
        "namespace: app\nentries:\n  - { name: x, kind: process.lua, source: 'return 1', imports: { a: a } }\n  - { name: a, kind: library.lua, source: 'return 1', imports: { b: b } }\n  - { name: b, kind: library.lua, source: 'return 1', imports: { a: a } }\n",
    );
    expect_load_error(
        &p,
        &["run"],
        &["import cycle: app:x -> app:a -> app:b -> app:a"],
    );

    let p = Project::new();
    p.file(
        "_index.yaml",
        "namespace: app\nentries:\n  - { name: x, kind: process.lua, source: 'return 1', imports: { y: y } }\n  - { name: y, kind: process.lua, source: 'return 1' }\n",
    );
    expect_load_error(
        &p,
        &["run"],
        &["import 'y': app:y is not a library.lua entry"],
    );
}

#[test]
fn unknown_kinds_are_warnings_not_errors() {
    let p = script_project("return { main = function() return 0 end }");
    p.file(
        "extra.yaml",
        "namespace: web\nentries:\n  - { name: api, kind: queue.queue }\n",
    );
    let out = p.run(&["run", "-x", "app:main"], "");
    out.expect_code(0);
    assert!(out.stderr.contains("queue.queue"), "{}", out.stderr);
}

#[test]
fn exec_spec_errors() {
    let p = script_project("return { main = function() return 0 end }");
    expect_load_error(
        &p,
        &["run", "-x", "app:nope"],
        &["entry app:nope not found"],
    );
    expect_load_error(&p, &["run", "-x", "nocolon"], &["invalid exec spec"]);
    expect_load_error(
        &p,
        &["run", "-x", "app:ghost/app:main"],
        &["host app:ghost not found"],
    );
    expect_load_error(
        &p,
        &["run", "-x", "app:processes/app:main"],
        &["not a terminal.host"],
    );
    expect_load_error(
        &p,
        &["run", "--host", "app:x", "-x", "app:terminal/app:main"],
        &["contradicts"],
    );
}

#[test]
fn require_of_an_unlisted_module_fails_the_process() {
    let p = Project::new();
    p.file(
        "_index.yaml",
        "namespace: app\nentries:\n  - { name: t, kind: terminal.host, lifecycle: { auto_start: true } }\n  - { name: m, kind: process.lua, source: file://m.lua, method: main, modules: [io] }\n",
    );
    p.file(
        "m.lua",
        "return { main = function() local t = require('time') return 0 end }",
    );
    let out = p.run(&["run", "-x", "app:m"], "");
    out.expect_code(1);
    assert!(
        out.stderr.contains("module 'time' not found"),
        "{}",
        out.stderr
    );
}

#[test]
fn exit_status_follows_the_result() {
    let cases: &[(&str, i32, &str, &str)] = &[
        ("return nil", 0, "", ""),
        ("return 3", 3, "", ""),
        ("return 2.7", 2, "", ""),
        ("return true", 0, "", ""),
        ("return false", 1, "", ""),
        ("return 'done'", 0, "done\n", ""),
        ("return {}", 0, "", ""),
        ("return nil, 'bad thing'", 1, "", "bad thing"),
        ("error('exploded')", 1, "", "exploded"),
        (
            "error(errors.new({ message = 'typed', kind = errors.TIMEOUT }))",
            1,
            "",
            "typed",
        ),
    ];
    for (body, code, stdout, stderr) in cases {
        let p = script_project(&format!("return {{ main = function() {body} end }}"));
        let out = p.run(&["run", "-x", "app:main"], "");
        out.expect_code(*code);
        assert_eq!(out.stdout, *stdout, "{body}");
        assert!(out.stderr.contains(stderr), "{body}: {}", out.stderr);
    }
}

#[test]
fn exec_arguments_reach_main_and_io_args() {
    let p = script_project(
        "local io = require('io')\nreturn { main = function(a, b) local args = io.args() assert(#args == 2 and args[1] == a and args[2] == b) return a .. '+' .. b end }",
    );
    let out = p.run(&["run", "-x", "app:main", "one", "--two"], "");
    out.expect_code(0);
    assert_eq!(out.stdout, "one+--two\n");
}

#[test]
fn a_lua_error_ends_only_its_process() {
    let p = script_project(
        r#"
local time = require("time")
return { main = function()
    local events = process.events()
    local bad = process.spawn_monitored("app:crash", "app:processes")
    local ev = events:receive()
    assert(ev.from == bad and tostring(ev.result.error):find("on purpose"))
    -- the runtime and this process carry on
    time.sleep("10ms")
    local good = process.spawn_monitored("app:crash", "app:processes", true)
    ev = events:receive()
    assert(ev.from == good and ev.result.value == "fine")
    return "survived"
end }
"#,
    );
    p.file(
        "crash.yaml",
        "namespace: app\nentries:\n  - { name: crash, kind: process.lua, source: file://crash.lua, method: main }\n",
    );
    p.file(
        "crash.lua",
        "return { main = function(ok) if ok then return 'fine' end error('on purpose') end }",
    );
    let out = p.run(&["run", "-x", "app:main"], "");
    out.expect_code(0);
    assert_eq!(out.stdout, "survived\n");
}

/// The exec process returns while spinners and idle processes run on: the runtime ends them
/// instead of waiting (they never end by themselves, so a wait would hit the deadline).
#[test]
fn exits_with_processes_still_running() {
    let p = script_project(
        r#"
local time = require("time")
return { main = function()
    for i = 1, 1000 do process.spawn("app:idle", "app:processes") end
    for i = 1, 8 do process.spawn("app:spin", "app:processes") end
    time.sleep("50ms")
    return 0
end }
"#,
    );
    p.file(
        "more.yaml",
        "namespace: app\nentries:\n  - { name: spin, kind: process.lua, source: 'return { main = function() local x = 0 while true do x = x + 1 end end }', method: main }\n  - { name: idle, kind: process.lua, source: 'return { main = function() process.inbox():receive() end }', method: main }\n",
    );
    let out = p.run(&["run", "-x", "app:main"], "");
    out.expect_code(0);
}

/// Ctrl+C while the exec process waits in io.readline (stdin stays open).
#[test]
fn sigint_during_readline_exits_130() {
    let p = script_project(
        "local io = require('io')\nreturn { main = function() io.write('> ') local l = io.readline() io.print('Goodbye!') return 0 end }",
    );
    let mut run = Running::start(p.path(), &["run", "-x", "app:main"]);
    // The prompt is written just before the read: the signal handlers are in place by then.
    run.wait_for(Stream::Stdout, "prompt", |out| out == "> ");
    run.signal("INT");
    let out = run.finish();
    out.expect_code(130);
    assert!(!out.stdout.contains("Goodbye"));
}

const SERVICES: &str = r#"namespace: app
entries:
  - { name: processes, kind: process.host, lifecycle: { auto_start: true } }
  - { name: polite, kind: process.lua, source: file://polite.lua, method: main, modules: [logger] }
  - name: polite-service
    kind: process.service
    process: polite
    host: app:processes
    lifecycle: { auto_start: true }
  - { name: stubborn, kind: process.lua, source: 'return { main = function() process.inbox():receive() end }', method: main }
  - name: stubborn-service
    kind: process.service
    process: stubborn
    host: app:processes
    lifecycle: { auto_start: true, stop_timeout: 200ms, requires: [polite-service] }
"#;

const POLITE: &str = r#"local logger = require("logger")
return { main = function()
    logger:info("polite up")
    local events = process.events()
    while true do
        local ev = events:receive()
        if ev.kind == process.event.CANCEL then
            logger:info("polite leaving", { reason = ev.reason })
            return 0
        end
    end
end }"#;

/// `starling run`: services start, SIGTERM (or SIGHUP, issue 11) stops them (CANCEL first),
/// exit 0.
#[test]
fn run_mode_starts_services_and_stops_on_sigterm_and_sighup() {
    for signal in ["TERM", "HUP"] {
        let p = Project::new();
        p.file("_index.yaml", SERVICES).file("polite.lua", POLITE);
        let mut run = Running::start(p.path(), &["run"]);
        run.wait_for(Stream::Stderr, "both services running", |log| {
            log.contains("polite up") && log.contains("service app:stubborn-service is running")
        });
        run.signal(signal);
        let out = run.finish();
        let stderr = out.stderr;
        assert_eq!(out.code, Some(0), "SIG{signal}: {stderr}");
        check_stop_order(&stderr);
    }
}

fn check_stop_order(stderr: &str) {
    for needle in [
        "service app:polite-service is running",
        "service app:stubborn-service is running",
        "polite up",
        "\"reason\": \"service stopping\"",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    // Reverse dependency order: the dependent (stubborn) stops before what it requires.
    let stubborn = stderr
        .find("service app:stubborn-service is stopping")
        .expect("stubborn stops");
    let polite = stderr
        .find("service app:polite-service is stopping")
        .expect("polite stops");
    assert!(stubborn < polite, "{stderr}");
}
