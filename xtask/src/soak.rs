//! `cargo xtask soak`: a long run of the Echo Service shape (`bench:main soak C M`, see
//! `bench/src/soak.lua`) that fails unless every request was answered exactly once and the
//! runtime's memory stayed flat after warm-up.
//!
//! The app checks every reply (sequence number and text) and prints a line at each tenth of
//! the requests answered; this side reads the child's `VmRSS` every 200 ms and takes the
//! reading just before the 10%, 50% and 100% lines. Warm-up is the first tenth: by then every
//! client exists and the allocator and the Luau heaps have reached their working size.

use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::bench::{expect_numbers, release_binary, workspace_root};
use crate::child;
use crate::fmt::fmt_num;

/// Command-line options of `soak`.
#[derive(Debug)]
pub(crate) struct Options {
    requests: u64,
    clients: u64,
    /// Allowed growth of RSS from 10% to 100% of the requests, in percent.
    tolerance: f64,
    build: bool,
}

/// Default `--requests`, `--clients` and `--tolerance`.
const REQUESTS: u64 = 10_000_000;
const CLIENTS: u64 = 1_000;
const TOLERANCE: f64 = 10.0;

/// How often the child's RSS is read.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Self> {
        let mut o = Options {
            requests: REQUESTS,
            clients: CLIENTS,
            tolerance: TOLERANCE,
            build: true,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| -> Result<f64> {
                let v = it
                    .next()
                    .with_context(|| format!("{name} needs a number"))?;
                v.parse::<f64>()
                    .ok()
                    .filter(|n| *n >= 0.0)
                    .with_context(|| format!("{name} {v}: not a number"))
            };
            match a.as_str() {
                "--requests" => o.requests = value("--requests")? as u64,
                "--clients" => o.clients = value("--clients")? as u64,
                "--tolerance" => o.tolerance = value("--tolerance")?,
                "--no-build" => o.build = false,
                other => bail!("unknown soak option `{other}`"),
            }
        }
        if o.clients == 0 || o.requests == 0 || !o.requests.is_multiple_of(o.clients) {
            bail!(
                "--requests ({}) must be a positive multiple of --clients ({})",
                o.requests,
                o.clients
            );
        }
        Ok(o)
    }
}

pub(crate) fn run(opts: Options) -> Result<()> {
    let root = workspace_root();
    let starling = release_binary(&root, opts.build)?;
    let (c, n) = (opts.clients, opts.requests);
    let m = n / c;
    let args = [
        "run",
        "-x",
        "bench:main",
        "soak",
        &c.to_string(),
        &m.to_string(),
    ];
    eprintln!(
        "soak: {c} clients x {m} requests = {} requests (starling {})",
        fmt_num(n as f64, 0),
        args.join(" ")
    );
    let mut cmd = std::process::Command::new(&starling);
    cmd.current_dir(root.join("bench")).args(args);
    // The app stops by itself when nothing is answered for 30 s; this is only a backstop.
    let timeout = Duration::from_secs(600.max(n / 2_000));
    let f = child::run_sampled(&mut cmd, timeout, Some(SAMPLE_EVERY))?;
    for (_, l) in &f.stdout {
        eprintln!("  {l}");
    }
    let last = f
        .stdout
        .iter()
        .map(|(_, l)| l)
        .find(|l| l.starts_with(&format!("soak: {c} clients x {m}:")));
    let (true, Some(last)) = (f.status.success(), last) else {
        bail!(
            "soak run failed ({})\nstdout:\n{}\nstderr:\n{}",
            f.status,
            f.stdout_text(),
            child::tail(&f.stderr, 4000)
        );
    };
    // c, m, answered, duplicated, workers ok, failed, req/s, seconds
    let v = expect_numbers(last, 8)?;
    let (answered, duplicated, ok, failed) = (v[2] as u64, v[3] as u64, v[4] as u64, v[5] as u64);
    let (rate, secs) = (v[6], v[7]);

    let at = |pct: u32| -> Result<(Duration, u64)> {
        let prefix = format!("soak: {pct}% answered");
        let (t, _) = f
            .stdout
            .iter()
            .find(|(_, l)| l.starts_with(&prefix))
            .with_context(|| format!("no `{prefix}` line"))?;
        let rss = rss_at(&f.rss, *t).with_context(|| format!("no RSS sample before {pct}%"))?;
        Ok((*t, rss))
    };
    let tenths: Vec<(Duration, u64)> = (1..=10).map(|i| at(i * 10)).collect::<Result<_>>()?;
    let (t10, rss10) = tenths[0];
    let rss50 = tenths[4].1;
    let (t100, rss100) = tenths[9];
    let peak_after = f
        .rss
        .iter()
        .filter(|(t, _)| *t >= t10 && *t <= t100)
        .map(|(_, r)| *r)
        .max()
        .unwrap_or(rss100);
    let growth = (rss100 as f64 - rss10 as f64) / rss10 as f64 * 100.0;
    let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);

    println!();
    println!(
        "soak: {c} clients x {m} = {} requests through the Echo Service shape",
        fmt_num(n as f64, 0)
    );
    println!(
        "  answered:  {} exactly once ({} lost, {duplicated} duplicated); {} workers ended with 0, {failed} failed",
        fmt_num(answered as f64, 0),
        n.saturating_sub(answered),
        fmt_num(ok as f64, 0),
    );
    println!(
        "  elapsed:   {secs:.1} s from the first client to the last answer ({:.1} s wall), {} req/s",
        f.wall.as_secs_f64(),
        fmt_num(rate, 0)
    );
    println!(
        "  RSS:       {} at 10%, {} at 50%, {} at 100% ({growth:+.1}% from 10% to 100%, tolerance {}%); \
         highest after warm-up {}, peak {}",
        mb(rss10),
        mb(rss50),
        mb(rss100),
        opts.tolerance,
        mb(peak_after),
        mb(f.max_rss)
    );
    println!(
        "  by tenth:  {} MB",
        tenths
            .iter()
            .map(|(_, r)| format!("{:.1}", *r as f64 / 1e6))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut problems = Vec::new();
    if answered != n || duplicated != 0 {
        problems.push(format!(
            "{answered} of {n} answered, {duplicated} duplicated"
        ));
    }
    if ok != n || failed != 0 {
        problems.push(format!(
            "{ok} workers ended with 0 and {failed} failed, of {n}"
        ));
    }
    if growth > opts.tolerance {
        problems.push(format!(
            "RSS grew {growth:.1}% from 10% to 100% of the requests (tolerance {}%)",
            opts.tolerance
        ));
    }
    if !problems.is_empty() {
        bail!("soak failed: {}", problems.join("; "));
    }
    println!("  result:    pass");
    Ok(())
}

/// The last RSS sample taken at or before `t` (the first one if all are later).
fn rss_at(samples: &[(Duration, u64)], t: Duration) -> Option<u64> {
    samples
        .iter()
        .take_while(|(at, _)| *at <= t)
        .last()
        .or(samples.first())
        .map(|(_, r)| *r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let o = Options::parse(&[]).expect("defaults");
        assert_eq!((o.requests, o.clients), (10_000_000, 1_000));
        let args: Vec<String> = ["--requests", "2000", "--clients", "100", "--no-build"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let o = Options::parse(&args).expect("valid");
        assert_eq!((o.requests, o.clients, o.build), (2000, 100, false));
        let bad: Vec<String> = ["--requests", "2001"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(Options::parse(&bad).is_err());
    }

    #[test]
    fn rss_before_a_time() {
        let ms = Duration::from_millis;
        let s = [(ms(100), 1), (ms(300), 2), (ms(500), 3)];
        assert_eq!(rss_at(&s, ms(50)), Some(1));
        assert_eq!(rss_at(&s, ms(300)), Some(2));
        assert_eq!(rss_at(&s, ms(499)), Some(2));
        assert_eq!(rss_at(&s, ms(900)), Some(3));
        assert_eq!(rss_at(&[], ms(900)), None);
    }
}
