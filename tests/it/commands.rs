//! `starling version`, `run list`, `run <command>`, `registry list/show` and suggestions for
//! mistyped names (issue 13).

use crate::support::{Project, script_project};

/// Wippy's CLI tutorial with its named command.
fn tutorial() -> Project {
    let p = Project::new();
    p.file(
        "_index.yaml",
        r#"version: "1.0"
namespace: app
entries:
  - name: terminal
    kind: terminal.host
    lifecycle:
      auto_start: true
  - name: cli
    kind: process.lua
    meta:
      title: The CLI
      command:
        name: greet
        short: Greet the user
    source: file://cli.lua
    method: main
    modules:
      - io
"#,
    )
    .file(
        "cli.lua",
        "local io = require(\"io\")\nlocal function main(name)\n    io.print(\"Hello from CLI!\" .. (name and (\" \" .. name) or \"\"))\n    return 0\nend\nreturn { main = main }\n",
    );
    p
}

#[test]
fn version_long_and_short() {
    let p = Project::new();
    let out = p.run(&["version", "--short"], "");
    out.expect_code(0);
    assert_eq!(out.stdout.trim(), env!("CARGO_PKG_VERSION"));
    let out = p.run(&["version"], "");
    out.expect_code(0);
    assert!(out.stdout.starts_with("starling "), "{}", out.stdout);
}

#[test]
fn run_list_and_named_commands() {
    let p = tutorial();
    let out = p.run(&["run", "list"], "");
    out.expect_code(0);
    assert_eq!(
        out.stdout,
        "Available commands:\n\n  greet  Greet the user  (app:cli)\n\nRun with: starling run <command>\n"
    );
    let out = p.run(&["run", "greet"], "");
    out.expect_code(0);
    assert_eq!(out.stdout, "Hello from CLI!\n");
    let out = p.run(&["run", "greet", "Ann"], "");
    out.expect_code(0);
    assert_eq!(out.stdout, "Hello from CLI! Ann\n");
    let out = p.run(&["-s", "run", "-x", "app:cli"], "");
    out.expect_code(0);
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("Hello from CLI!\n", "")
    );
}

#[test]
fn mistyped_commands_flags_and_ids_get_suggestions() {
    let p = tutorial();
    let out = p.run(&["run", "gret"], "");
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("unknown command 'gret' (did you mean 'greet'?)"),
        "{}",
        out.stderr
    );
    let out = p.run(&["run", "--exce", "app:cli"], "");
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("unknown flag '--exce' for run (did you mean '--exec'?)"),
        "{}",
        out.stderr
    );
    let out = p.run(&["run", "-x", "app:cl"], "");
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("entry app:cl not found (did you mean 'app:cli'?)"),
        "{}",
        out.stderr
    );
    let out = p.run(&["registry", "show", "app:cl"], "");
    out.expect_code(1);
    assert!(
        out.stderr.contains("(did you mean 'app:cli'?)"),
        "{}",
        out.stderr
    );
}

#[test]
fn registry_list_and_show() {
    let p = tutorial();
    let out = p.run(&["registry", "list"], "");
    out.expect_code(0);
    assert!(out.stdout.contains("app:cli"), "{}", out.stdout);
    assert!(out.stdout.contains("The CLI"), "{}", out.stdout);
    assert!(out.stdout.contains("2 entries"), "{}", out.stdout);
    let out = p.run(&["registry", "list", "--kind", "terminal.*", "--json"], "");
    out.expect_code(0);
    let list: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["id"], "app:terminal");
    let out = p.run(&["registry", "list", "--meta", "command.name=greet"], "");
    assert!(out.stdout.contains("1 entries"), "{}", out.stdout);
    let out = p.run(
        &[
            "registry",
            "show",
            "app:cli",
            "--field",
            "meta.command.short",
        ],
        "",
    );
    out.expect_code(0);
    assert_eq!(out.stdout, "Greet the user\n");
    let out = p.run(&["registry", "show", "app:cli", "--json"], "");
    let entry: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(entry["kind"], "process.lua");
}

#[test]
fn help_mentions_logs_on_stderr() {
    let out = script_project("return {}").run(&["run", "--help"], "");
    out.expect_code(0);
    assert!(
        out.stdout.contains("stderr") && out.stdout.contains("-s"),
        "{}",
        out.stdout
    );
}
