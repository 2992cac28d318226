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
    // The cluster shorthand comes first, so an explicit --set still wins.
    let mut sets = cluster_sets(a.node.as_deref(), a.cluster.as_deref());
    sets.extend(a.set);
    let mut rt = Runtime::project(".")
        .load_options(LoadOptions {
            lock_file: a.lock_file,
            config_files: g.config.clone(),
            sets,
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

/// `--node a --cluster URLS` as the `--set` items they stand for.
pub(crate) fn cluster_sets(node: Option<&str>, urls: Option<&str>) -> Vec<String> {
    let mut sets = Vec::new();
    if node.is_some() || urls.is_some() {
        sets.push("cluster.enabled=true".to_string());
    }
    if let Some(n) = node {
        sets.push(format!("cluster.name={n}"));
    }
    if let Some(u) = urls {
        sets.push(format!("cluster.nats.urls={u}"));
    }
    sets
}
