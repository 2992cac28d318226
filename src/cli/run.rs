//! `starling run` and `starling run -x` (SPEC §3.3-3.6).

use starling_entry::LoadOptions;
use starling_host::{ExecRequest, LogFlags, RunOptions};

use crate::cli::args::{Global, RunArgs};

pub(crate) fn run(g: &Global, a: RunArgs) -> anyhow::Result<i32> {
    if a.exec.is_none() && !a.args.is_empty() {
        anyhow::bail!(
            "unexpected arguments {:?} (positional arguments need -x)",
            a.args
        );
    }
    let opts = RunOptions {
        dir: ".".into(),
        load: LoadOptions {
            lock_file: a.lock_file,
            config_files: g.config.clone(),
            sets: a.set,
            overrides: a.overrides,
        },
        log: LogFlags {
            verbose: g.verbose || g.very_verbose,
            color: g.console,
            silent: g.silent,
            stacks: g.very_verbose,
        },
        exec: a.exec.map(|spec| ExecRequest {
            spec,
            host: a.host,
            args: a.args,
        }),
    };
    Ok(starling_host::run(opts)?)
}
