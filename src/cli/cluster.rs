//! `starling cluster status`: the nodes of a running cluster and the names they hold.

use std::time::Duration;

use crate::cli::args::{ClusterArgs, ClusterCommand, Global};

pub(crate) fn cluster(g: &Global, a: ClusterArgs) -> anyhow::Result<i32> {
    match a.command {
        ClusterCommand::Status(s) => {
            let mut sets = crate::cli::run::cluster_sets(Some("status"), s.cluster.as_deref());
            sets.extend(s.set);
            let config =
                starling::entry::Config::load(std::path::Path::new("."), &g.config, &sets)?;
            let Some(c) = starling::entry::cluster::cluster_config(&config)? else {
                anyhow::bail!("no cluster configured (give --cluster URLS)");
            };
            let report = starling::host::cluster::status(&c, Duration::from_millis(s.listen))?;
            print!("{report}");
            Ok(0)
        }
    }
}
