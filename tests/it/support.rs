//! Shared helpers: temporary projects, running the binary with input and a deadline.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long one run of the binary may take before a test fails it as hung. Tests wait for
/// events, never for a time, so this bound only turns a hang into a failure: it is generous
/// because the machine may be busy (the suite must pass with every core loaded).
pub(crate) const DEADLINE: Duration = Duration::from_secs(300);

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

    /// Runs `starling args…` in the project (at most [`DEADLINE`]).
    pub(crate) fn run(&self, args: &[&str], stdin: &str) -> Output {
        run_in(self.path(), args, stdin, DEADLINE)
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

/// Which output stream of a [`Running`] binary.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// A `starling` started in the background whose output is collected as it arrives, so a test
/// can act when something is printed (signal it once its prompt is out) instead of after a
/// sleep. Stdin stays open (nothing is written to it) until the process has ended.
pub(crate) struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    started: Instant,
}

impl Running {
    /// Starts `starling args…` in `dir`.
    pub(crate) fn start(dir: &Path, args: &[&str]) -> Running {
        let mut child = Command::new(starling())
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start starling");
        let stdin = child.stdin.take();
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            collect(child.stdout.take().expect("piped stdout"), stdout.clone()),
            collect(child.stderr.take().expect("piped stderr"), stderr.clone()),
        ];
        Running {
            child,
            stdin,
            stdout,
            stderr,
            readers,
            started: Instant::now(),
        }
    }

    /// The OS process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What `stream` has shown so far.
    pub(crate) fn text(&self, stream: Stream) -> String {
        let buf = match stream {
            Stream::Stdout => &self.stdout,
            Stream::Stderr => &self.stderr,
        };
        buf.lock().expect("output buffer").clone()
    }

    /// Waits until `seen` holds for what `stream` has shown (at most [`DEADLINE`] from the
    /// start); `what` names the wait in the failure message.
    pub(crate) fn wait_for(&mut self, stream: Stream, what: &str, seen: impl Fn(&str) -> bool) {
        while !seen(&self.text(stream)) {
            let ended = self.child.try_wait().expect("wait").is_some();
            if ended || self.started.elapsed() > DEADLINE {
                let _ = self.child.kill();
                panic!(
                    "{what}: not seen ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    if ended {
                        "the process ended"
                    } else {
                        "deadline"
                    },
                    self.text(Stream::Stdout),
                    self.text(Stream::Stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends `signal` (`TERM`, `INT`, `HUP`, …) with `kill`.
    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal}");
    }

    /// Waits for the exit (at most [`DEADLINE`] from the start).
    pub(crate) fn finish(mut self) -> Output {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if self.started.elapsed() > DEADLINE {
                let _ = self.child.kill();
                panic!(
                    "no exit within {DEADLINE:?}\n--- stderr ---\n{}",
                    self.text(Stream::Stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        drop(self.stdin.take());
        for r in self.readers.drain(..) {
            r.join().expect("output reader");
        }
        Output {
            code: status.code(),
            stdout: self.text(Stream::Stdout),
            stderr: self.text(Stream::Stderr),
        }
    }
}

fn collect(mut from: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = from.read(&mut chunk) {
            if n == 0 {
                break;
            }
            into.lock()
                .expect("output buffer")
                .push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    })
}
