//! `starling lint` (alias `check`): loads the project as `run` would and reports every problem
//! instead of the first: load errors, entries Starling cannot run (a module it lacks...),
//! kinds it ignores, unknown fields. Exits 1 when there is any, for CI.

use starling_entry::{LoadOptions, load_project};
use starling_lua::Program;

use crate::cli::args::{Global, LintArgs};

pub(crate) fn lint(g: &Global, a: LintArgs) -> anyhow::Result<i32> {
    let project = match load_project(
        std::path::Path::new("."),
        &LoadOptions {
            lock_file: a.lock_file,
            config_files: g.config.clone(),
            sets: a.set,
            overrides: Vec::new(),
        },
    ) {
        Ok(p) => p,
        Err(e) => {
            println!("error: {e}");
            println!("\n1 problem");
            return Ok(1);
        }
    };
    let mut problems: Vec<String> = project
        .warnings
        .iter()
        .map(|w| format!("warning: {w}"))
        .collect();
    match Program::build(&project.entries) {
        Ok(program) => {
            for (_, why) in program.disabled() {
                problems.push(format!("error: {why} (the entry cannot run)"));
            }
        }
        Err(errors) => {
            for e in errors {
                problems.push(format!("error: {e}"));
            }
        }
    }
    for p in &problems {
        println!("{p}");
    }
    if problems.is_empty() {
        println!("ok: {} entries, no problems", project.entries.len());
        Ok(0)
    } else {
        let n = problems.len();
        println!("\n{n} problem{}", if n == 1 { "" } else { "s" });
        Ok(1)
    }
}
