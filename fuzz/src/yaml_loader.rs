//! `yaml_loader`: fuzz bytes become one file of a small project on disk, loaded through
//! [`load_project`], the function `starling run` calls.
//!
//! The first byte picks the file: a definition file beside a fixed valid one (as YAML or as
//! JSON), the lock file, the configuration file, or a list of `--set` and `-o` arguments. The
//! load must return `Ok` or a `LoadError` with a message, never panic, and (checked for first
//! bytes from `0xc0`) must answer the same way twice.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::fs;
use std::path::{Component, Path};

use starling_entry::{LoadOptions, load_project, read_lock};

/// A definition file every load sees, so fuzzed entries can refer to real hosts and processes.
const BASE_YAML: &str = r#"version: "1.0"
namespace: base
entries:
  - name: processes
    kind: process.host
    workers: 2
    lifecycle:
      auto_start: true
  - name: worker
    kind: process.lua
    source: file://worker.lua
    method: main
    modules: [process, time]
  - name: svc
    kind: process.service
    process: base:worker
    host: base:processes
    lifecycle:
      auto_start: true
      restart:
        initial_delay: 100ms
"#;

const WORKER_LUA: &str = "local function main() return 0 end\nreturn { main = main }\n";
const LOCK: &str = "directories:\n  modules: .wippy\n  src: ./src\n";

/// The project directory, made once per fuzzing process.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().expect("temporary directory");
        fs::create_dir(dir.path().join("src")).expect("src directory");
        fs::write(dir.path().join("src/base.yaml"), BASE_YAML).expect("base.yaml");
        fs::write(dir.path().join("src/worker.lua"), WORKER_LUA).expect("worker.lua");
        Project { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Puts back the lock file and removes every file a previous input wrote.
    fn reset(&self) {
        fs::write(self.path().join("wippy.lock"), LOCK).expect("wippy.lock");
        for name in [".wippy.yaml", "src/fuzz.yaml", "src/fuzz.json"] {
            let _ = fs::remove_file(self.path().join(name));
        }
    }
}

thread_local! {
    static PROJECT: RefCell<Option<Project>> = const { RefCell::new(None) };
}

/// One input; see the module docs.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    PROJECT.with(|cell| {
        let mut cell = cell.borrow_mut();
        let project = cell.get_or_insert_with(Project::new);
        project.reset();
        let dir = project.path();
        let mut opts = LoadOptions::default();
        match mode % 6 {
            0 | 1 => write(dir, "src/fuzz.yaml", rest),
            2 => write(dir, "src/fuzz.json", rest),
            3 => {
                write(dir, "wippy.lock", rest);
                // A lock file may name any directory as the source tree; walking `/` would
                // be slow and read files outside the project, so only parse such a lock.
                match read_lock(&dir.join("wippy.lock")) {
                    Ok(lock) if stays_inside(&lock.src_dir) => {}
                    _ => return,
                }
            }
            4 => write(dir, ".wippy.yaml", rest),
            _ => {
                for line in String::from_utf8_lossy(rest).lines() {
                    if let Some(set) = line.strip_prefix("s ") {
                        opts.sets.push(set.to_owned());
                    } else if let Some(o) = line.strip_prefix("o ") {
                        opts.overrides.push(o.to_owned());
                    }
                }
            }
        }

        let first = describe(load_project(dir, &opts));
        // Loading is the slow part, so only a quarter of the inputs check it is repeatable.
        if mode >= 0xc0 {
            let second = describe(load_project(dir, &opts));
            assert_eq!(first, second, "loading the same project twice differed");
        }
    });
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::write(dir.join(name), bytes).expect("write fuzz input");
}

/// True when `src_dir` is a relative path that cannot climb out of the project directory.
fn stays_inside(src_dir: &str) -> bool {
    Path::new(src_dir)
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// The result of a load as text, for comparing two loads; errors must have a message.
fn describe(result: Result<starling_entry::Project, starling_entry::LoadError>) -> String {
    match result {
        Ok(project) => {
            let mut out = String::new();
            for entry in &project.entries {
                let _ = writeln!(out, "{entry:?}");
            }
            for warning in &project.warnings {
                let _ = writeln!(out, "warning: {warning}");
            }
            let _ = writeln!(out, "{:?}", project.config);
            out
        }
        Err(e) => {
            let message = e.to_string();
            assert!(!message.is_empty(), "a load error without a message: {e:?}");
            format!("error: {message}")
        }
    }
}
