//! `starling run`, `starling run -x`, `starling run list` and `starling run <command>`
//! (SPEC §3.3-3.6; named commands: issue 13).

use starling::{ExecRequest, LogFlags, Runtime};
use starling_entry::LoadOptions;
use starling_entry::suggest;
use starling_host::commands;

use crate::cli::args::{Global, RunArgs};

/// Every flag `run` takes, for "did you mean" on a mistyped one.
const RUN_FLAGS: [&str; 15] = [
    "--exec",
    "--host",
    "--set",
    "--override",
    "--lock-file",
    "--config",
    "--verbose",
    "--very-verbose",
    "--console",
    "--silent",
    "--event-streams",
    "--profiler",
    "--memory-limit",
    "--node",
    "--cluster",
];

pub(crate) fn run(g: &Global, mut a: RunArgs) -> anyhow::Result<i32> {
    // The cluster shorthand comes first, so an explicit --set still wins.
    let mut sets = cluster_sets(a.node.as_deref(), a.cluster.as_deref());
    sets.extend(a.set.iter().cloned());
    let load = LoadOptions {
        lock_file: a.lock_file.clone(),
        config_files: g.config.clone(),
        sets,
        overrides: a.overrides.clone(),
    };
    if a.exec.is_none() {
        if let Some(first) = a.args.first().cloned() {
            if first.starts_with('-') {
                let flag = first.split('=').next().unwrap_or(&first);
                anyhow::bail!(
                    "unknown flag '{flag}' for run{}",
                    suggest::hint(flag, RUN_FLAGS)
                );
            }
            let project = starling_entry::load_project(std::path::Path::new("."), &load)?;
            let all = commands::commands(&project);
            if first == "list" {
                print!("{}", commands::list_text(&all));
                return Ok(0);
            }
            let Some(command) = all.iter().find(|c| c.name == first) else {
                anyhow::bail!(
                    "unknown command '{first}'{} (starling run list shows the commands)",
                    suggest::hint(&first, all.iter().map(|c| c.name.as_str()))
                );
            };
            a.exec = Some(command.entry.to_string());
            a.args.remove(0);
        }
    }
    let mut rt = Runtime::project(".").load_options(load).log(LogFlags {
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
