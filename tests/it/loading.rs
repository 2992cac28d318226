//! Lenient loading (issue 13): an entry Starling cannot run is disabled with a warning naming
//! file and line instead of stopping the project; `starling lint` lists every problem and
//! exits 1; unknown fields are warned about with a suggestion; `lifecycle.auto_start` on a
//! `process.lua` starts it once.

use crate::support::Project;

const APP: &str = r#"version: "1.0"
namespace: app
entries:
  - { name: terminal, kind: terminal.host, lifecycle: { auto_start: true } }
  - { name: processes, kind: process.host, lifecycle: { auto_start: true } }
  - name: web
    kind: function.lua
    source: "return { h = function() return 1 end }"
    method: h
    modules: [queue]
  - name: worker
    kind: process.lua
    source: "return { main = function() return 1 end }"
    method: main
    modules: [sql]
  - { name: worker_svc, kind: process.service, process: app:worker, host: app:processes, lifecycle: { auto_start: true } }
  - name: once
    kind: process.lua
    source: "local logger = require('logger') return { main = function() logger:info('auto started') return 0 end }"
    method: main
    modules: [logger]
    lifecycle: { auto_start: true }
  - name: main
    kind: process.lua
    source: file://main.lua
    method: main
    modules: [funcs, time]
    metod: main
"#;

fn app() -> Project {
    let p = Project::new();
    p.file("_index.yaml", APP).file(
        "main.lua",
        "local funcs = require('funcs')\nlocal time = require('time')\nreturn { main = function()\n  time.sleep('300ms')\n  local r, err = funcs.call('app:web')\n  assert(r == nil and tostring(err):find('cannot run'), tostring(err))\n  local pid, e2 = process.spawn('app:worker', 'app:processes')\n  assert(pid == nil and tostring(e2):find(\"unknown module 'sql'\"), tostring(e2))\n  return 0\nend }\n",
    );
    p
}

#[test]
fn unsupported_entries_do_not_stop_the_project() {
    let out = app().run(&["run", "-x", "app:main"], "");
    out.expect_code(0);
    let err = &out.stderr;
    assert!(
        err.contains("_index.yaml:6: entry app:web: unknown module 'queue'"),
        "{err}"
    );
    assert!(
        err.contains("entry app:worker: unknown module 'sql'"),
        "{err}"
    );
    assert!(
        err.contains("service app:worker_svc is exited") && err.contains("cannot run"),
        "{err}"
    );
    assert!(
        err.contains("unknown field 'metod' for kind process.lua (did you mean 'method'?)"),
        "{err}"
    );
    assert!(err.contains("auto started"), "{err}");
    assert_eq!(err.matches("auto started").count(), 1, "{err}");
}

#[test]
fn exec_of_a_disabled_entry_fails_clearly() {
    let out = app().run(&["run", "-x", "app:worker"], "");
    out.expect_code(1);
    assert!(
        out.stderr.contains("entry app:worker cannot run:")
            && out.stderr.contains("_index.yaml:11"),
        "{}",
        out.stderr
    );
}

#[test]
fn lint_reports_every_problem() {
    let out = app().run(&["lint"], "");
    out.expect_code(1);
    for needle in [
        "unknown module 'queue'",
        "unknown module 'sql'",
        "unknown field 'metod'",
        "3 problems",
    ] {
        assert!(out.stdout.contains(needle), "{needle}\n{}", out.stdout);
    }
    let clean = Project::new();
    clean.file(
        "_index.yaml",
        "namespace: app\nentries:\n  - { name: t, kind: terminal.host }\n",
    );
    let out = clean.run(&["check"], "");
    out.expect_code(0);
    assert!(out.stdout.contains("no problems"), "{}", out.stdout);
    let broken = Project::new();
    broken.file(
        "_index.yaml",
        "namespace: app\nentries:\n  - { name: x, kind: process.lua, source: 'return 1 +' }\n",
    );
    let out = broken.run(&["lint"], "");
    out.expect_code(1);
    assert!(out.stdout.contains("error:"), "{}", out.stdout);
}
