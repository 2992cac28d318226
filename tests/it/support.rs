//! Shared helpers: temporary projects, running the binary with input and a deadline.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub(crate) fn starling() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_starling"))
}

/// Root of the repository.
pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What a run of the binary produced.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) elapsed: Duration,
}

impl Output {
    /// Panics with both streams shown unless the exit code is `code`.
    pub(crate) fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit status\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Runs `starling args…` in `dir` with `stdin` piped in; kills it after `limit`.
pub(crate) fn run_in(dir: &Path, args: &[&str], stdin: &str, limit: Duration) -> Output {
    run_in_env(dir, args, stdin, limit, &[])
}

/// [`run_in`] with extra environment variables.
pub(crate) fn run_in_env(
    dir: &Path,
    args: &[&str],
    stdin: &str,
    limit: Duration,
    env: &[(&str, &str)],
) -> Output {
    run_program_env(&starling(), dir, args, stdin, limit, env)
}

/// Runs another program (an example binary) like [`run_in`].
pub(crate) fn run_program(
    program: &Path,
    dir: &Path,
    args: &[&str],
    stdin: &str,
    limit: Duration,
) -> Output {
    run_program_env(program, dir, args, stdin, limit, &[])
}

fn run_program_env(
    program: &Path,
    dir: &Path,
    args: &[&str],
    stdin: &str,
    limit: Duration,
    env: &[(&str, &str)],
) -> Output {
    let start = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
    let mut input = child.stdin.take().expect("piped stdin");
    let data = stdin.as_bytes().to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let out = child.wait_with_output();
        let _ = tx.send(out);
    });
    let out = match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait for starling"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!(
                "{} {args:?} did not finish within {limit:?}",
                program.display()
            );
        }
    };
    let _ = writer.join();
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// A temporary project: `wippy.lock` plus files under `src/`.
pub(crate) struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// An empty project with a lock file.
    pub(crate) fn new() -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("wippy.lock"),
            "directories:\n    modules: .wippy\n    src: ./src\n",
        )
        .expect("write lock");
        std::fs::create_dir_all(dir.path().join("src")).expect("src dir");
        Project { dir }
    }

    /// Writes `src/<name>`.
    pub(crate) fn file(&self, name: &str, text: &str) -> &Self {
        let path = self.dir.path().join("src").join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dirs");
        }
        std::fs::write(path, text).expect("write file");
        self
    }

    /// The project directory.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `starling args…` in the project with a 10 s limit.
    pub(crate) fn run(&self, args: &[&str], stdin: &str) -> Output {
        run_in(self.path(), args, stdin, Duration::from_secs(10))
    }
}

/// Standard hosts plus one exec entry running `source` (all modules allowed).
pub(crate) fn script_project(source: &str) -> Project {
    let p = Project::new();
    p.file("_index.yaml", HOSTS_AND_MAIN)
        .file("main.lua", source);
    p
}

const HOSTS_AND_MAIN: &str = r#"version: "1.0"
namespace: app
entries:
  - name: terminal
    kind: terminal.host
    lifecycle: { auto_start: true }
  - name: processes
    kind: process.host
    lifecycle: { auto_start: true }
  - name: main
    kind: process.lua
    source: file://main.lua
    method: main
    modules: [io, time, logger]
"#;
