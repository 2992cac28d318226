//! Loading whole projects from temporary directories, through the public API only.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use starling_entry::{
    Config, EntryId, EntrySpec, LoadError, LoadOptions, Project, SourceOrigin, Startup,
    format_go_duration, load_project, parse_go_duration, read_lock, write_lock,
};

/// A temporary project directory with a default `wippy.lock`.
struct App {
    dir: tempfile::TempDir,
}

impl App {
    fn new() -> App {
        let app = App {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        app.write(
            "wippy.lock",
            "directories:\n    modules: .wippy\n    src: ./src\n",
        );
        app
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> &App {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
        self
    }

    fn load(&self) -> Result<Project, LoadError> {
        self.load_with(LoadOptions::default())
    }

    fn load_with(&self, opts: LoadOptions) -> Result<Project, LoadError> {
        load_project(self.dir.path(), &opts)
    }

    fn error(&self) -> String {
        self.load().expect_err("load should fail").to_string()
    }

    fn display(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }
}

fn id(text: &str) -> EntryId {
    text.parse().expect("valid id")
}

fn ids(project: &Project) -> Vec<String> {
    project.entries.iter().map(|e| e.id.to_string()).collect()
}

const ECHO_INDEX: &str = r#"version: "1.0"
namespace: app

entries:
  - name: terminal
    kind: terminal.host
    lifecycle:
      auto_start: true

  - name: processes
    kind: process.host
    lifecycle:
      auto_start: true

  - name: cli
    kind: process.lua
    meta:
      comment: Echo client
    source: file://cli.lua
    method: main
    modules: [io, process, time]

  - name: relay
    kind: process.lua
    source: file://relay.lua
    method: main
    modules: [process, logger, time]

  - name: relay-service
    kind: process.service
    process: app:relay
    host: app:processes
    lifecycle:
      auto_start: true

  - name: worker
    kind: process.lua
    source: file://worker.lua
    method: main
    modules: [process, time]
"#;

#[test]
fn loads_the_echo_service() {
    let app = App::new();
    app.write("src/_index.yaml", ECHO_INDEX)
        .write("src/cli.lua", "-- cli\nreturn { main = function() end }\n")
        .write("src/relay.lua", "-- relay\n")
        .write("src/worker.lua", "-- worker\n");
    let project = app.load().expect("echo loads");
    assert!(project.warnings.is_empty(), "{:?}", project.warnings);
    assert_eq!(
        ids(&project),
        [
            "app:cli",
            "app:processes",
            "app:relay",
            "app:relay-service",
            "app:terminal",
            "app:worker"
        ]
    );

    let cli = project.get(&id("app:cli")).expect("cli");
    assert_eq!(cli.kind, "process.lua");
    assert_eq!(cli.origin.file, app.path("src/_index.yaml"));
    assert_eq!(cli.origin.line, Some(15));
    assert_eq!(cli.origin.index, Some(2));
    assert_eq!(cli.meta["comment"], json!("Echo client"));
    let EntrySpec::LuaProcess(lua) = &cli.spec else {
        panic!("cli spec: {:?}", cli.spec);
    };
    assert_eq!(lua.source, "-- cli\nreturn { main = function() end }\n");
    assert_eq!(
        lua.source_origin,
        SourceOrigin::File(app.path("src/cli.lua"))
    );
    assert_eq!(lua.method.as_deref(), Some("main"));
    assert_eq!(lua.modules, ["io", "process", "time"]);
    // data holds the file content too, not the reference.
    assert_eq!(cli.data["source"], json!(lua.source));

    let service = project.get(&id("app:relay-service")).expect("service");
    let EntrySpec::Service(svc) = &service.spec else {
        panic!("service spec: {:?}", service.spec);
    };
    assert_eq!(svc.process, id("app:relay"));
    assert_eq!(svc.host, id("app:processes"));
    assert!(svc.input.is_empty());
    assert!(svc.lifecycle.auto_start);
    assert_eq!(svc.lifecycle.start_timeout, Duration::from_secs(10));
    assert_eq!(svc.lifecycle.restart.max_delay, Duration::from_secs(90));

    let host = project.get(&id("app:processes")).expect("host");
    let EntrySpec::ProcessHost(ph) = &host.spec else {
        panic!("host spec: {:?}", host.spec);
    };
    assert!(ph.workers >= 1);
    assert_eq!((ph.queue_size, ph.local_queue_size), (1024, 256));
    let terminal = project.get(&id("app:terminal")).expect("terminal");
    assert!(
        matches!(&terminal.spec, EntrySpec::TerminalHost(t) if t.lifecycle.auto_start && !t.hide_logs)
    );
    assert!(project.get(&id("app:nope")).is_none());
}

#[test]
fn single_entry_file_and_data_key() {
    let app = App::new();
    app.write(
        "src/api/get_user.yaml",
        "version: \"1.0\"\nnamespace: app.api\nmeta:\n  title: Get user\nname: get_user.endpoint\nkind: function.lua\nsource: |\n  return { handler = function() return 1 end }\nmethod: handler\n",
    )
    .write(
        "src/data.yaml",
        "namespace: app\nentries:\n  - name: raw\n    kind: process.lua\n    method: ignored\n    data:\n      source: return 1\n      modules: [time]\n",
    );
    let project = app.load().expect("loads");
    let f = project
        .get(&id("app.api:get_user.endpoint"))
        .expect("function");
    assert_eq!(f.origin.index, None);
    assert_eq!(f.origin.line, Some(5));
    assert_eq!(f.meta["title"], json!("Get user"));
    assert!(!f.data.contains_key("version") && !f.data.contains_key("namespace"));
    let EntrySpec::LuaFunction(lua) = &f.spec else {
        panic!("spec: {:?}", f.spec);
    };
    assert_eq!(lua.method.as_deref(), Some("handler"));
    assert_eq!(lua.source, "return { handler = function() return 1 end }\n");
    assert_eq!(
        lua.source_origin,
        SourceOrigin::Inline {
            yaml: app.path("src/api/get_user.yaml"),
            line: Some(7)
        }
    );

    let raw = project.get(&id("app:raw")).expect("raw");
    assert_eq!(
        serde_json::Value::Object(raw.data.clone()),
        json!({"source": "return 1", "modules": ["time"]})
    );
    let lua = raw.spec.lua().expect("lua spec");
    assert_eq!(lua.method, None, "keys beside data: are ignored");
    assert_eq!(lua.modules, ["time"]);
}

#[test]
fn file_meta_is_merged_into_each_entry() {
    let app = App::new();
    app.write(
        "src/_index.yaml",
        "namespace: app\nmeta:\n  team: core\n  depends_on: [x]\nentries:\n  - name: a\n    kind: x.thing\n  - name: b\n    kind: x.thing\n    meta:\n      team: edge\n      title: B\n",
    );
    let project = app.load().expect("loads");
    let a = project.get(&id("app:a")).expect("a");
    let b = project.get(&id("app:b")).expect("b");
    assert_eq!(
        serde_json::Value::Object(a.meta.clone()),
        json!({"team": "core", "depends_on": ["x"]})
    );
    assert_eq!(
        serde_json::Value::Object(b.meta.clone()),
        json!({"team": "edge", "depends_on": ["x"], "title": "B"})
    );
}

#[test]
fn file_references_relative_rooted_and_nested_values() {
    let app = App::new();
    app.write("src/lib/helpers.lua", "return {}")
        .write("src/shared/prompt.txt", "Hello")
        .write(
            "src/lib/_index.yaml",
            "namespace: lib\nentries:\n  - name: helpers\n    kind: library.lua\n    source: file://helpers.lua\n    meta:\n      doc: file:///shared/prompt.txt\n  - name: other\n    kind: x.other\n    config:\n      prompts: [file://../shared/prompt.txt, file:///shared/prompt.txt]\n",
        );
    let project = app.load().expect("loads");
    let helpers = project.get(&id("lib:helpers")).expect("helpers");
    assert_eq!(helpers.meta["doc"], json!("Hello"));
    assert_eq!(
        helpers.spec.lua().expect("lua").source_origin,
        SourceOrigin::File(app.path("src/lib/helpers.lua"))
    );
    let other = project.get(&id("lib:other")).expect("other");
    assert_eq!(other.data["config"], json!({"prompts": ["Hello", "Hello"]}));
}

#[test]
fn file_reference_escaping_the_tree_is_an_error() {
    let app = App::new();
    app.write("secret.lua", "x").write(
        "src/_index.yaml",
        "namespace: app\nentries:\n  - name: w\n    kind: process.lua\n    source: file://../secret.lua\n",
    );
    assert_eq!(
        app.error(),
        format!(
            "{}:3: entry app:w: source: file://../secret.lua escapes the source tree {}",
            app.display("src/_index.yaml"),
            app.display("src")
        )
    );
}

#[test]
fn missing_referenced_file_is_an_error() {
    let app = App::new();
    app.write(
        "src/sub/defs.yaml",
        "namespace: app\nentries:\n  - name: ok\n    kind: x.y\n  - name: w\n    kind: process.lua\n    source: file:///missing.lua\n",
    );
    let err = app.error();
    let want = format!(
        "{}:5: entry app:w: source: file:///missing.lua: cannot read {}:",
        app.display("src/sub/defs.yaml"),
        app.display("src/missing.lua")
    );
    assert!(err.starts_with(&want), "got: {err}\nwant prefix: {want}");
}

#[test]
fn nested_directories_load_and_node_modules_and_non_definitions_are_skipped() {
    let app = App::new();
    app.write(
        "src/a/b/c/deep.yml",
        "namespace: deep\nname: x\nkind: process.lua\nsource: return 1\n",
    )
    .write(
        "src/node_modules/pkg/defs.yaml",
        "namespace: npm\nname: x\nkind: x.y\n",
    )
    .write(
        "src/package.json",
        "{\"name\": \"tool\", \"version\": \"1.0.0\"}",
    )
    .write("src/settings.yaml", "theme: dark\n")
    .write("src/empty.yaml", "")
    .write(
        "src/json/defs.json",
        "{\"namespace\": \"js\", \"entries\": [{\"name\": \"j\", \"kind\": \"x.y\"}]}",
    )
    .write("src/notes.txt", "namespace: txt\nname: t\nkind: x\n");
    let project = app.load().expect("loads");
    assert_eq!(ids(&project), ["deep:x", "js:j"]);
}

#[test]
fn duplicate_ids_across_files_name_both_files() {
    let app = App::new();
    app.write(
        "src/a.yaml",
        "namespace: app\nentries:\n  - name: x\n    kind: k.a\n",
    )
    .write("src/b.yaml", "namespace: app\n\nname: x\nkind: k.b\n");
    assert_eq!(
        app.error(),
        format!(
            "duplicate entry id app:x: defined in {}:3 and in {}:3",
            app.display("src/a.yaml"),
            app.display("src/b.yaml")
        )
    );
}

#[test]
fn unsupported_kinds_warn_once_each() {
    let app = App::new();
    app.write(
        "src/_index.yaml",
        "namespace: app\nentries:\n  - name: api\n    kind: queue.queue\n    addr: :8080\n  - name: db\n    kind: db.sql.postgres\n  - name: p\n    kind: process.lua\n    source: return 1\n",
    );
    let project = app.load().expect("loads");
    let file = app.display("src/_index.yaml");
    assert_eq!(
        project.warnings,
        [
            format!(
                "{file}:3: entry app:api: kind queue.queue is not supported by starling; entry ignored"
            ),
            format!(
                "{file}:6: entry app:db: kind db.sql.postgres is not supported by starling; entry ignored"
            ),
        ]
    );
    let api = project.get(&id("app:api")).expect("api");
    assert_eq!(api.spec, EntrySpec::Unsupported);
    assert_eq!(api.data["addr"], json!(":8080"));
}

#[test]
fn validation_errors_name_file_line_and_entry() {
    let cases: &[(&str, &str)] = &[
        (
            "  - name: p\n    kind: process.lua\n    method: main\n",
            "entry app:p: source is required",
        ),
        (
            "  - name: svc\n    kind: process.service\n    host: app:processes\n",
            "entry app:svc: process is required",
        ),
        (
            "  - name: svc\n    kind: process.service\n    process: relay\n",
            "entry app:svc: host is required",
        ),
        (
            "  - name: svc\n    kind: process.service\n    process: relay\n    host: node:control\n",
            "entry app:svc: host node:control is not allowed for a service",
        ),
        (
            "  - name: h\n    kind: process.host\n    host:\n      workers: -1\n",
            "entry app:h: host.workers must be positive, found -1",
        ),
        (
            "  - name: h\n    kind: process.host\n    lifecycle:\n      stop_timeout: 10 seconds\n",
            "entry app:h: lifecycle.stop_timeout: unknown unit \" seconds\" in duration \"10 seconds\"",
        ),
        (
            "  - name: svc\n    kind: process.service\n    process: relay\n    host: processes\n    lifecycle:\n      restart:\n        initial_delay: \"5\"\n",
            "entry app:svc: lifecycle.restart.initial_delay: missing unit in duration \"5\"",
        ),
        (
            "  - name: f\n    kind: function.lua\n    source: return {}\n",
            "entry app:f: method is required",
        ),
        ("  - kind: process.lua\n", "entries[0]: name is required"),
        ("  - name: x\n", "entries[0]: kind is required"),
    ];
    for (entries, want) in cases {
        let app = App::new();
        app.write(
            "src/_index.yaml",
            &format!("namespace: app\nentries:\n{entries}"),
        );
        assert_eq!(
            app.error(),
            format!("{}:3: {want}", app.display("src/_index.yaml")),
            "{entries}"
        );
    }
}

#[test]
fn missing_name_reports_index_and_line_of_later_entries() {
    let app = App::new();
    app.write(
        "src/_index.yaml",
        "namespace: app\nentries:\n  - name: a\n    kind: x.y\n\n  - name: b\n    kind: x.y\n  - kind: x.y\n    source: x\n",
    );
    assert_eq!(
        app.error(),
        format!(
            "{}:8: entries[2]: name is required",
            app.display("src/_index.yaml")
        )
    );
}

#[test]
fn yaml_syntax_error_gives_line_column_and_snippet() {
    let app = App::new();
    app.write(
        "src/_index.yaml",
        "namespace: app\nentries:\n  - name: a\n    kind: x.y\n   source: 1\n",
    );
    let err = app.load().expect_err("syntax");
    let text = err.to_string();
    let prefix = format!("{}:5:4: syntax error: ", app.display("src/_index.yaml"));
    assert!(text.starts_with(&prefix), "{text}");
    assert!(!text.contains('\n'), "{text}");
    let snippet = err.snippet().expect("snippet");
    assert!(
        snippet.contains(&format!("{}:5:4", app.display("src/_index.yaml"))),
        "{snippet}"
    );
    assert!(snippet.contains("5 |    source: 1"), "{snippet}");
}

#[test]
fn missing_lock_file_hints_init_and_missing_src_warns() {
    let app = App::new();
    std::fs::remove_file(app.path("wippy.lock")).expect("remove lock");
    assert_eq!(
        app.error(),
        format!(
            "lock file {} not found (run `starling init` to create it)",
            app.display("wippy.lock")
        )
    );

    let app = App::new();
    let project = app.load().expect("no src is fine");
    assert!(project.entries.is_empty());
    assert_eq!(
        project.warnings,
        [format!(
            "source directory {} not found; no entries loaded",
            app.display("src")
        )]
    );
}

#[test]
fn lock_written_by_init_is_read_back_and_keeps_other_keys() {
    let app = App::new();
    let lock = app.path("wippy.lock");
    std::fs::write(
        &lock,
        "directories:\n  src: ./old\n  modules: .old\noptions:\n  unpack_modules: true\n",
    )
    .expect("write");
    write_lock(&lock, "./app", ".wippy").expect("init");
    assert_eq!(
        std::fs::read_to_string(&lock).expect("read"),
        "directories:\n    modules: .wippy\n    src: ./app\noptions:\n    unpack_modules: true\n"
    );
    let read = read_lock(&lock).expect("read lock");
    assert_eq!(read.src_dir, "./app");
    assert_eq!(read.modules_dir, ".wippy");
    assert_eq!(read.src_root(), app.path("app"));

    app.write("app/_index.yaml", "namespace: app\nname: x\nkind: x.y\n");
    let project = app.load().expect("loads from ./app");
    assert_eq!(ids(&project), ["app:x"]);

    let fresh = app.path("fresh.lock");
    write_lock(&fresh, "./src", ".wippy").expect("init");
    assert_eq!(
        std::fs::read_to_string(&fresh).expect("read"),
        "directories:\n    modules: .wippy\n    src: ./src\n"
    );
}

#[test]
fn lock_errors() {
    let app = App::new();
    app.write(
        "wippy.lock",
        "directories:\n    modules: .wippy\n    src: \"\"\n",
    );
    assert_eq!(
        app.error(),
        format!(
            "lock file {}: src directory is empty",
            app.display("wippy.lock")
        )
    );
    app.write(
        "wippy.lock",
        "directories:\n    modules: .wippy\n    src: ./src\nmodules:\n    - name: wippy/test\n      version: v0.1.0\n",
    );
    assert_eq!(
        app.error(),
        format!(
            "lock file {}: module dependencies are not supported (wippy/test)",
            app.display("wippy.lock")
        )
    );
}

/// Some variable that is certainly set in this process, with its value.
fn some_env_var() -> (String, String) {
    std::env::vars()
        .find(|(k, v)| {
            !v.is_empty()
                && !v.contains(['\n', '"', '\\'])
                && k.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        })
        .expect("at least one environment variable")
}

#[test]
fn config_merges_files_applies_set_and_env() {
    let app = App::new();
    let (var, value) = some_env_var();
    app.write(".wippy.yaml", "logger: {encoding: json}\n")
        .write(
            "base.yaml",
            "logger: {encoding: console}\nshutdown: {timeout: 10s}\napp:\n  a: 1\n  b: 2\n",
        )
        .write(
            "extra.yaml",
            &format!("app:\n  b: 3\n  from_env: \"x-${{env:{var}}}-y\"\n"),
        );
    let project = app
        .load_with(LoadOptions {
            config_files: vec!["base.yaml".into(), "extra.yaml".into()],
            sets: vec![
                "shutdown.timeout=2s".into(),
                "app.flag=true".into(),
                "app.n=7".into(),
            ],
            ..LoadOptions::default()
        })
        .expect("loads");
    let config = &project.config;
    assert_eq!(
        config.logger_encoding(),
        "console",
        ".wippy.yaml is replaced by --config"
    );
    assert_eq!(config.shutdown_timeout(), Duration::from_secs(2));
    assert_eq!(
        config.get("app"),
        Some(&json!({"a": 1, "b": 3, "from_env": format!("x-{value}-y"), "flag": true, "n": 7}))
    );
    assert!(config.propagate_downstream());
    assert_eq!(config.min_level(), None);
}

#[test]
fn config_errors() {
    let app = App::new();
    let unset = "STARLING_TEST_SURELY_UNSET_VARIABLE_1F2E";
    assert!(std::env::var(unset).is_err());
    app.write(
        ".wippy.yaml",
        &format!("db:\n  password: ${{env:{unset}}}\n"),
    );
    assert_eq!(
        app.error(),
        format!(
            "config file {}: db.password: environment variable {unset} is not set",
            app.display(".wippy.yaml")
        )
    );

    let app = App::new();
    let err = app
        .load_with(LoadOptions {
            config_files: vec!["missing.yaml".into()],
            ..LoadOptions::default()
        })
        .expect_err("missing config");
    assert_eq!(
        err.to_string(),
        format!("config file {} not found", app.display("missing.yaml"))
    );

    let err = app
        .load_with(LoadOptions {
            sets: vec!["verbose=true".into()],
            ..LoadOptions::default()
        })
        .expect_err("no dot");
    assert_eq!(
        err.to_string(),
        "invalid --set \"verbose=true\": key must have a section (section.path=value)"
    );
}

#[test]
fn overrides_from_config_and_command_line() {
    let app = App::new();
    app.write("src/alt.lua", "-- alt")
        .write(
            "src/_index.yaml",
            "namespace: app\nentries:\n  - name: processes\n    kind: process.host\n  - name: svc\n    kind: process.service\n    process: relay\n    host: processes\n  - name: relay\n    kind: process.lua\n    source: return 1\n  - name: thing\n    kind: x.y\n",
        )
        .write(
            ".wippy.yaml",
            "override:\n  app:svc:lifecycle.auto_start: true\n  app:relay:meta.title: Relay\n  app:processes:host.workers: 2\n",
        );
    let project = app
        .load_with(LoadOptions {
            overrides: vec![
                "app:processes:host.workers=3".into(),
                "app:relay:data.source=file://alt.lua".into(),
                "app:thing:kind=terminal.host".into(),
                "app:svc:lifecycle.restart.max_attempts=4".into(),
            ],
            ..LoadOptions::default()
        })
        .expect("loads");
    let EntrySpec::Service(svc) = &project.get(&id("app:svc")).expect("svc").spec else {
        panic!("service");
    };
    assert!(svc.lifecycle.auto_start);
    assert_eq!(svc.lifecycle.restart.max_attempts, 4);
    let EntrySpec::ProcessHost(host) = &project.get(&id("app:processes")).expect("host").spec
    else {
        panic!("host");
    };
    assert_eq!(host.workers, 3, "-o applies after the config override");
    let relay = project.get(&id("app:relay")).expect("relay");
    assert_eq!(relay.meta["title"], json!("Relay"));
    let lua = relay.spec.lua().expect("lua");
    assert_eq!(lua.source, "-- alt");
    assert_eq!(
        lua.source_origin,
        SourceOrigin::File(app.path("src/alt.lua"))
    );
    let thing = project.get(&id("app:thing")).expect("thing");
    assert_eq!(thing.kind, "terminal.host");
    assert!(matches!(thing.spec, EntrySpec::TerminalHost(_)));

    let err = app
        .load_with(LoadOptions {
            overrides: vec!["app:ghost:source=x".into()],
            ..LoadOptions::default()
        })
        .expect_err("unknown entry");
    assert_eq!(
        err.to_string(),
        "override \"app:ghost:source=x\": entry app:ghost not found"
    );
}

#[test]
fn lifecycle_fields_accept_go_strings_and_nanoseconds() {
    let app = App::new();
    app.write(
        "src/_index.yaml",
        "namespace: app\nentries:\n  - name: svc\n    kind: process.service\n    process: relay\n    host: other:processes\n    input: [\"a\", 2]\n    lifecycle:\n      start_timeout: 1m30s\n      stop_timeout: 1500000000\n      stable_threshold: .5s\n      depends_on: [db]\n      requires: [app:cache, db]\n      startup: optional\n      restart:\n        initial_delay: 250ms\n        max_delay: 1h\n        backoff_factor: 3\n        jitter: 0\n        max_attempts: 5\n",
    );
    // The host must exist (checked across entries at load).
    app.write(
        "src/other.yaml",
        "namespace: other\nentries:\n  - { name: processes, kind: process.host }\n",
    );
    let project = app.load().expect("loads");
    let EntrySpec::Service(svc) = &project.get(&id("app:svc")).expect("svc").spec else {
        panic!("service");
    };
    assert_eq!(svc.host, id("other:processes"));
    assert_eq!(svc.input, [json!("a"), json!(2)]);
    let l = &svc.lifecycle;
    assert!(!l.auto_start);
    assert_eq!(l.start_timeout, Duration::from_secs(90));
    assert_eq!(l.stop_timeout, Duration::from_millis(1500));
    assert_eq!(l.stable_threshold, Duration::from_millis(500));
    assert_eq!(l.requires, [id("app:cache"), id("app:db")]);
    assert_eq!(l.startup, Startup::Optional);
    assert_eq!(l.restart.initial_delay, Duration::from_millis(250));
    assert_eq!(l.restart.max_delay, Duration::from_secs(3600));
    assert_eq!(l.restart.backoff_factor, 3.0);
    assert_eq!(l.restart.jitter, 0.1, "zero means default");
    assert_eq!(l.restart.max_attempts, 5);
}

#[test]
fn go_duration_table() {
    let table: &[(&str, i64, &str)] = &[
        ("0", 0, "0s"),
        ("1h30m", 5_400_000_000_000, "1h30m0s"),
        ("1.5s", 1_500_000_000, "1.5s"),
        (".5ms", 500_000, "500µs"),
        ("-2m", -120_000_000_000, "-2m0s"),
        ("250ms", 250_000_000, "250ms"),
        ("1us", 1_000, "1µs"),
        ("1µs", 1_000, "1µs"),
        ("1μs", 1_000, "1µs"),
        ("100ns", 100, "100ns"),
        ("2h45m30.5s", 9_930_500_000_000, "2h45m30.5s"),
    ];
    for &(input, nanos, formatted) in table {
        assert_eq!(parse_go_duration(input), Ok(nanos), "parse {input:?}");
        assert_eq!(format_go_duration(nanos), formatted, "format {nanos}");
    }
    for (input, message) in [
        ("", "invalid duration \"\""),
        ("5", "missing unit in duration \"5\""),
        ("1d", "unknown unit \"d\" in duration \"1d\""),
        ("3000000h", "duration \"3000000h\" is out of range"),
    ] {
        assert_eq!(
            parse_go_duration(input).map_err(|e| e.to_string()),
            Err(message.to_owned()),
            "{input:?}"
        );
    }
}

#[test]
fn config_load_is_usable_on_its_own() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::load(dir.path(), &[], &["logmanager.min_level=-1".into()]).expect("load");
    assert_eq!(config.min_level(), Some(-1));
    let _: &Path = dir.path();
}
