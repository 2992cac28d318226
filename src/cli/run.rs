//! `starling run` and `starling run -x` (SPEC §3.3-3.6).

use starling::{ExecRequest, LogFlags, Runtime};
use starling_entry::LoadOptions;

use crate::cli::args::{Global, RunArgs};

pub(crate) fn run(g: &Global, a: RunArgs) -> anyhow::Result<i32> {
    if a.exec.is_none() && !a.args.is_empty() {
        anyhow::bail!(
            "unexpected arguments {:?} (positional arguments need -x)",
            a.args
        );
    }
    let mut rt = Runtime::project(".")
        .load_options(LoadOptions {
            lock_file: a.lock_file,
            config_files: g.config.clone(),
            sets: a.set,
            overrides: a.overrides,
        })
        .log(LogFlags {
            verbose: g.verbose || g.very_verbose,
            color: g.console,
            silent: g.silent,
            stacks: g.very_verbose,
        });
    if let Some(spec) = a.exec {
        rt = rt.exec_request(ExecRequest {
            spec,
            host: a.host,
            args: a.args,
        });
    }
    Ok(rt.run()?)
}
