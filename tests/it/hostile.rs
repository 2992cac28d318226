//! The hostile suite (issue 11): what a process or a project file does must never crash,
//! wedge or exhaust the node; it gets a clear, contained failure instead.
//!
//! Lua cases are scripts in `tests/hostile/src/cases/`, one per case, listed in
//! `hostile_cases!` below; each states what must happen in `--!` lines at its top
//! (`tests/hostile/README.md`). Cases about project files and signals need their own project
//! or terminal and are plain tests further down.

use std::path::Path;
use std::time::Duration;

use crate::support::{DEADLINE, Output, Project, repo, run_in, script_project};

/// What a case expects, read from its `--! key: value` lines.
#[derive(Debug)]
struct Expect {
    exit: i32,
    stdout: Vec<String>,
    stderr: Vec<String>,
    not_stderr: Vec<String>,
    flags: Vec<String>,
    timeout: Duration,
}

impl Expect {
    fn parse(name: &str, source: &str) -> Expect {
        let mut e = Expect {
            exit: 0,
            stdout: Vec::new(),
            stderr: Vec::new(),
            not_stderr: Vec::new(),
            flags: Vec::new(),
            timeout: DEADLINE,
        };
        // A case may start with a byte order mark (one does, on purpose).
        let source = source.strip_prefix('\u{feff}').unwrap_or(source);
        for line in source.lines() {
            let Some(rest) = line.strip_prefix("--!") else {
                continue;
            };
            let (key, value) = rest
                .split_once(':')
                .unwrap_or_else(|| panic!("{name}: `--!{rest}` is not `--! key: value`"));
            let value = value.trim().to_string();
            match key.trim() {
                "exit" => e.exit = value.parse().expect("exit: a number"),
                "stdout" => e.stdout.push(value),
                "stderr" => e.stderr.push(value),
                "not-stderr" => e.not_stderr.push(value),
                "flags" => e.flags.extend(value.split_whitespace().map(str::to_string)),
                "timeout" => {
                    e.timeout = Duration::from_secs(value.parse().expect("timeout: seconds"))
                }
                other => panic!("{name}: unknown key `{other}` in `--!{rest}`"),
            }
        }
        e
    }
}

/// Signs that the node itself broke, whatever the case expects.
const BROKEN: [&str; 4] = [
    "panicked",
    "overflowed its stack",
    "fatal runtime error",
    "RUST_BACKTRACE",
];

/// Fails unless `out` shows a node that stayed up: a normal exit with a status and none of
/// the signs in [`BROKEN`] on stderr.
fn assert_survived(what: &str, out: &Output) {
    let shown = format!(
        "{what}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.stdout, out.stderr
    );
    assert!(out.code.is_some(), "the node died by a signal: {shown}");
    for sign in BROKEN {
        assert!(!out.stderr.contains(sign), "{sign:?} on stderr: {shown}");
    }
}

fn run_case(name: &str) {
    let dir = repo().join("tests/hostile");
    let file = format!("cases/{name}.lua");
    let source = std::fs::read_to_string(dir.join("src").join(&file))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let expect = Expect::parse(name, &source);
    let mut args: Vec<String> = vec!["run".into()];
    args.extend(expect.flags.iter().cloned());
    for entry in ["case", "child", "func"] {
        args.push("-o".into());
        args.push(format!("hostile:{entry}:source=file://{file}"));
    }
    args.extend(["-x".into(), "hostile:case".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_in(&dir, &args, "", expect.timeout);
    assert_survived(name, &out);
    let shown = format!(
        "case {name}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.stdout, out.stderr
    );
    assert_eq!(out.code, Some(expect.exit), "exit status of {shown}");
    for want in &expect.stdout {
        assert!(out.stdout.contains(want), "stdout lacks {want:?}: {shown}");
    }
    for want in &expect.stderr {
        assert!(out.stderr.contains(want), "stderr lacks {want:?}: {shown}");
    }
    for unwanted in &expect.not_stderr {
        assert!(
            !out.stderr.contains(unwanted),
            "stderr has {unwanted:?}: {shown}"
        );
    }
}

macro_rules! hostile_cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_case(stringify!($name));
            }
        )*
        const CASES: &[&str] = &[$(stringify!($name)),*];
    };
}

hostile_cases!(
    deep_log_fields,
    deep_log_json,
    deep_exit_result_relay,
    bom_source,
    nonyield_watchdog,
    nonyield_terminate,
    cancel_flood,
    methodless_once,
    random_per_process,
    coroutine_close_waits,
    timers_dropped,
    timers_kept,
);

#[test]
fn every_case_is_listed() {
    let dir = repo().join("tests/hostile/src/cases");
    let mut scripts: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/hostile/src/cases")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('_'))
        .filter_map(|n| n.strip_suffix(".lua").map(str::to_string))
        .collect();
    scripts.sort();
    let mut listed: Vec<String> = CASES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(
        scripts, listed,
        "cases/*.lua and the hostile_cases! list differ"
    );
}

/// The template a new case starts from runs and passes.
#[test]
fn the_template_passes() {
    run_case("_template");
}

// ---- project files and the command line ------------------------------------------------------

/// A project with a terminal host and `app:main` (see [`script_project`]).
fn app() -> Project {
    script_project("return { main = function() io.print('ran') end }")
}

/// Runs `starling args…` in `p`, which must fail to load: exit 1 and one `starling: ` line on
/// stderr, which is returned.
fn load_error(p: &Project, args: &[&str]) -> String {
    let out = run_in(p.path(), args, "", DEADLINE);
    let what = format!("starling {}", shorten_args(args));
    assert_survived(&what, &out);
    assert_eq!(out.code, Some(1), "{what}: {}{}", out.stdout, out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("starling: "),
        "{what}: one `starling:` line expected:\n{}",
        out.stderr
    );
    assert!(
        lines[0].len() < 400,
        "{what}: a short message: {}",
        lines[0]
    );
    lines[0].to_string()
}

fn shorten_args(args: &[&str]) -> String {
    let all = args.join(" ");
    all.chars().take(200).collect()
}

/// Issue 11: an override or `--set` path of 30,000 parts overflowed the main thread's stack.
#[test]
fn long_override_paths_are_load_errors() {
    let p = app();
    let path = format!("meta{}", ".a".repeat(30_000));
    let arg = format!("app:main:{path}=1");
    let err = load_error(&p, &["run", "-o", &arg, "-x", "app:main"]);
    assert!(err.contains("field path has more than 64 parts"), "{err}");

    let set = format!("logger{}=1", ".a".repeat(30_000));
    let err = load_error(&p, &["run", "--set", &set, "-x", "app:main"]);
    assert!(err.contains("key has more than 64 parts"), "{err}");

    std::fs::write(
        p.path().join(".wippy.yaml"),
        // An explicit key: YAML limits implicit keys to 1024 characters.
        format!("override:\n  ? \"app:main:{path}\"\n  : 1\n"),
    )
    .expect("write config");
    let err = load_error(&p, &["run", "-x", "app:main"]);
    assert!(err.contains("field path has more than 64 parts"), "{err}");
}

/// Issue 11: `host: { workers: 1000000 }` started a million worker threads (gigabytes before
/// any process ran); absurd host sizes are load errors naming the file and line.
#[test]
fn absurd_host_sizes_are_load_errors() {
    for (host, want) in [
        (
            "workers: 1000000",
            "host.workers must be at most 1024, found 1000000",
        ),
        (
            "memory_limit: 100TB",
            "host.memory_limit must be at most 1TB, found 109951162777600 bytes",
        ),
        (
            "max_mailbox: 1000000000000",
            "host.max_mailbox must be at most 100000000 (or 0 for no limit), found 1000000000000",
        ),
    ] {
        let p = app();
        p.file(
            "big.yaml",
            &format!(
                "version: \"1.0\"\nnamespace: big\nentries:\n  - name: host\n    kind: process.host\n    host: {{ {host} }}\n    lifecycle: {{ auto_start: true }}\n"
            ),
        );
        let err = load_error(&p, &["run", "-x", "app:main"]);
        assert_eq!(
            err,
            format!("starling: ./src/big.yaml:4: entry big:host: {want}")
        );
    }
}

/// How a project file is made hostile.
#[derive(Debug, Clone, Copy)]
enum Special {
    /// A symbolic link to `/dev/zero` (endless input).
    Zero,
    /// A FIFO with no writer (opening it for reading blocks for ever).
    Fifo,
    /// A regular file just over the 16 MiB cap (sparse, so it takes no disk space).
    Huge,
}

impl Special {
    fn make(self, path: &Path) {
        let _ = std::fs::remove_file(path);
        match self {
            Special::Zero => std::os::unix::fs::symlink("/dev/zero", path).expect("symlink"),
            Special::Fifo => {
                let status = std::process::Command::new("mkfifo")
                    .arg(path)
                    .status()
                    .expect("mkfifo");
                assert!(status.success(), "mkfifo {}", path.display());
            }
            Special::Huge => std::fs::File::create(path)
                .and_then(|f| f.set_len((16 << 20) + 1))
                .expect("sparse file"),
        }
    }

    fn message(self) -> &'static str {
        match self {
            Special::Zero => "not a regular file (a character device)",
            Special::Fifo => "not a regular file (a FIFO)",
            Special::Huge => "larger than 16 MiB (16777217 bytes)",
        }
    }
}

/// Issue 11: a lock file, configuration, definition file or `file://` source that is (or links
/// to) `/dev/zero` was read until memory ran out, a FIFO blocked the boot for ever, and a huge
/// file was read whole. Each is refused with an error naming the path.
#[test]
fn special_and_huge_project_files_are_refused() {
    for special in [Special::Zero, Special::Fifo, Special::Huge] {
        let what = special.message();

        let p = app();
        special.make(&p.path().join("wippy.lock"));
        let err = load_error(&p, &["run", "-x", "app:main"]);
        assert_eq!(err, format!("starling: cannot access ./wippy.lock: {what}"));

        let p = app();
        special.make(&p.path().join(".wippy.yaml"));
        let err = load_error(&p, &["run", "-x", "app:main"]);
        assert_eq!(
            err,
            format!("starling: cannot access ./.wippy.yaml: {what}")
        );

        let p = app();
        special.make(&p.path().join("extra.yaml"));
        let err = load_error(&p, &["run", "--config", "extra.yaml", "-x", "app:main"]);
        assert_eq!(err, format!("starling: cannot access ./extra.yaml: {what}"));

        let p = app();
        special.make(&p.path().join("src/main.lua"));
        let err = load_error(&p, &["run", "-x", "app:main"]);
        assert!(
            err.starts_with("starling: ./src/_index.yaml:")
                && err.ends_with(&format!(
                    "entry app:main: source: file://main.lua: cannot read ./src/main.lua: {what}"
                )),
            "{err}"
        );
    }
    // A definition file over the cap (special ones are not definition files: the scan reads
    // regular files only).
    let p = app();
    Special::Huge.make(&p.path().join("src/huge.yaml"));
    let err = load_error(&p, &["run", "-x", "app:main"]);
    assert_eq!(
        err,
        "starling: cannot access ./src/huge.yaml: larger than 16 MiB (16777217 bytes)"
    );
}

/// Issue 11: `src: ./srcc` (a directory that does not exist) printed only `no terminal.host
/// found`. The load warns (SPEC 1.1) before anything else, and the error says why nothing
/// was found.
#[test]
fn a_missing_source_directory_is_named() {
    let p = app();
    std::fs::write(
        p.path().join("wippy.lock"),
        "directories:\n    modules: .wippy\n    src: ./srcc\n",
    )
    .expect("write lock");
    let out = run_in(p.path(), &["run", "-x", "app:main"], "", DEADLINE);
    assert_survived("missing src", &out);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(
        lines[0]
            .ends_with("\tWARN\tstarling\tsource directory ./srcc not found; no entries loaded"),
        "{}",
        out.stderr
    );
    assert_eq!(
        lines[1],
        "starling: no terminal.host found (source directory ./srcc not found, so no entries were loaded)"
    );
    // Silent: the error alone still names it.
    let err = load_error(&p, &["run", "-s", "-x", "app:main"]);
    assert!(err.contains("source directory ./srcc not found"), "{err}");
}
