//! `cargo xtask bench`: the benchmark app in `bench/` next to the Erlang/OTP peer.
//!
//! Every shape runs `runs` times, Starling and Erlang alternating in the same run of this
//! command (so both see the same machine state); the table shows the median of each figure
//! and the ratio Starling / Erlang. Peak RSS comes from `wait4` on the child (see `child`).
//!
//! The spawn, idle, echo and ping-pong shapes also run with native Rust processes
//! (`examples/bench_native.rs`, same lines), in a column of their own: what Lua costs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::child::{self, Finished};
use crate::fmt::fmt_num;

/// Command-line options of `bench`.
#[derive(Debug)]
pub(crate) struct Options {
    quick: bool,
    runs: Option<usize>,
    erlang: bool,
    build: bool,
    cluster: bool,
    cluster_only: bool,
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Self> {
        let mut o = Options {
            quick: false,
            runs: None,
            erlang: true,
            build: true,
            cluster: true,
            cluster_only: false,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--quick" => o.quick = true,
                "--no-erlang" => o.erlang = false,
                "--no-build" => o.build = false,
                "--no-cluster" => o.cluster = false,
                "--cluster-only" => o.cluster_only = true,
                "--runs" => {
                    let n = it.next().context("--runs needs a number")?;
                    let n: usize = n.parse().with_context(|| format!("--runs {n}"))?;
                    if n == 0 {
                        bail!("--runs must be at least 1");
                    }
                    o.runs = Some(n);
                }
                other => bail!("unknown bench option `{other}`"),
            }
        }
        Ok(o)
    }
}

/// Problem sizes. Full sizes match the figures in ../shared/peers/README.md.
#[derive(Debug)]
struct Sizes {
    spawn: u64,
    idle: u64,
    /// The "one million idle processes" shape (run once, after the runs).
    million: u64,
    echo: [(u64, u64); 2],
    pingpong: u64,
    busy_loops: u64,
    hello_runs: usize,
    runs: usize,
    timeout: Duration,
}

const FULL: Sizes = Sizes {
    spawn: 200_000,
    idle: 100_000,
    million: 1_000_000,
    echo: [(1, 100_000), (100, 1_000)],
    pingpong: 200_000,
    busy_loops: 16,
    hello_runs: 20,
    runs: 3,
    timeout: Duration::from_secs(120),
};

const QUICK: Sizes = Sizes {
    spawn: 20_000,
    idle: 10_000,
    // Above the ~330,000 processes per worker that mlua's handle stack allowed before idle
    // processes kept their Lua objects in the registry: CI catches a regression.
    million: 400_000,
    echo: [(1, 5_000), (10, 500)],
    pingpong: 20_000,
    busy_loops: 16,
    hello_runs: 5,
    runs: 1,
    timeout: Duration::from_secs(60),
};

/// Which way is better for a figure.
#[derive(Debug, Clone, Copy)]
enum Better {
    Higher,
    Lower,
}

/// One line of the table: the figures of every run, per system.
#[derive(Debug)]
struct Row {
    name: String,
    unit: &'static str,
    better: Better,
    decimals: usize,
    starling: Vec<f64>,
    native: Vec<f64>,
    erlang: Vec<f64>,
}

#[derive(Debug, Default)]
struct Table {
    rows: Vec<Row>,
}

impl Table {
    /// The index of row `name`, created on first use. Each shape declares its rows before it
    /// runs, so the table keeps the order of the shapes even when a first run fails.
    fn declare(
        &mut self,
        name: &str,
        unit: &'static str,
        better: Better,
        decimals: usize,
    ) -> usize {
        if let Some(i) = self.rows.iter().position(|r| r.name == name) {
            return i;
        }
        self.rows.push(Row {
            name: name.to_string(),
            unit,
            better,
            decimals,
            starling: Vec::new(),
            native: Vec::new(),
            erlang: Vec::new(),
        });
        self.rows.len() - 1
    }

    fn push(&mut self, row: usize, sys: System, v: f64) {
        let r = &mut self.rows[row];
        match sys {
            System::Starling => r.starling.push(v),
            System::Native => r.native.push(v),
            System::Erlang => r.erlang.push(v),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum System {
    /// The Lua bench app.
    Starling,
    /// The same shapes as native Rust processes.
    Native,
    Erlang,
}

impl System {
    fn name(self) -> &'static str {
        match self {
            System::Starling => "starling",
            System::Native => "native",
            System::Erlang => "erlang",
        }
    }
}

/// Where things are and how to start each system.
#[derive(Debug)]
struct Env {
    root: PathBuf,
    starling: PathBuf,
    /// `examples/bench_native`, release build.
    native: PathBuf,
    /// Directory with the compiled `echo_erl.beam`, if the peer runs.
    ebin: Option<PathBuf>,
    timeout: Duration,
}

impl Env {
    fn starling(&self, args: &[String]) -> Command {
        let mut c = Command::new(&self.starling);
        c.current_dir(self.root.join("bench"))
            .args(["run", "-x", "bench:main"])
            .args(args);
        c
    }

    /// `erl +P 4000000 -noshell -pa DIR -eval 'echo_erl:main([...]), halt().'`
    fn erlang(&self, args: &[String]) -> Command {
        let list = args
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(",");
        self.erl_eval(&format!("echo_erl:main([{list}]), halt()."))
    }

    fn erl_eval(&self, expr: &str) -> Command {
        let mut c = Command::new("erl");
        c.args(["+P", "4000000", "-noshell"]);
        if let Some(d) = &self.ebin {
            c.arg("-pa").arg(d);
        }
        c.arg("-eval").arg(expr);
        c
    }

    /// Runs one shape on one system; checks the exit status and the expected line.
    fn run(&self, sys: System, args: &[&str], prefix: &str) -> Result<(Finished, String)> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut cmd = match sys {
            System::Starling => self.starling(&args),
            System::Native => {
                let mut c = Command::new(&self.native);
                c.current_dir(self.root.join("bench")).args(&args);
                c
            }
            System::Erlang => self.erlang(&args),
        };
        self.finish(sys, &mut cmd, &args.join(" "), prefix)
    }

    fn finish(
        &self,
        sys: System,
        cmd: &mut Command,
        what: &str,
        prefix: &str,
    ) -> Result<(Finished, String)> {
        let f = child::run(cmd, self.timeout).with_context(|| format!("{} {what}", sys.name()))?;
        let line = f
            .stdout
            .iter()
            .map(|(_, l)| l)
            .find(|l| l.starts_with(prefix))
            .cloned();
        match (f.status.success(), line) {
            (true, Some(line)) => {
                // Anomalies the app noticed but survived (see bench/src/main.lua).
                for w in f.stderr.lines().filter(|l| l.starts_with("bench:")) {
                    eprintln!("  {:8} {what:<18} warning: {w}", sys.name());
                }
                eprintln!(
                    "  {:8} {what:<18} {line}  [{:.2} s, peak RSS {:.1} MB]",
                    sys.name(),
                    f.wall.as_secs_f64(),
                    f.max_rss as f64 / 1e6
                );
                Ok((f, line))
            }
            (ok, _) => bail!(
                "{} {what}: {} (expected a line starting with `{prefix}`)\nstdout:\n{}\nstderr:\n{}",
                sys.name(),
                if ok {
                    "exit 0".to_string()
                } else {
                    f.status.to_string()
                },
                f.stdout_text(),
                child::tail(&f.stderr, 2000)
            ),
        }
    }
}

/// The numbers of a result line, by whitespace-separated token (`(5.218` → 5.218, `p50` → none).
fn numbers(line: &str) -> Vec<f64> {
    line.split_whitespace()
        .filter_map(|t| {
            t.trim_start_matches('(')
                .trim_end_matches([',', ':', ')'])
                .parse()
                .ok()
        })
        .collect()
}

pub(crate) fn expect_numbers(line: &str, n: usize) -> Result<Vec<f64>> {
    let v = numbers(line);
    if v.len() != n {
        bail!("expected {n} numbers in `{line}`, found {}", v.len());
    }
    Ok(v)
}

pub(crate) fn run(opts: Options) -> Result<()> {
    let root = workspace_root();
    if opts.cluster_only {
        let bin = crate::cluster_bench::binary(&root, opts.build)?;
        println!("{}", crate::cluster_bench::run(&bin, opts.quick)?);
        return Ok(());
    }
    let mut sizes = if opts.quick { QUICK } else { FULL };
    if let Some(r) = opts.runs {
        sizes.runs = r;
    }
    let starling = release_binary(&root, opts.build)?;
    let native = native_binary(&root, opts.build)?;

    let scratch = std::env::temp_dir().join(format!("starling-bench-{}", std::process::id()));
    let ebin = if opts.erlang {
        compile_peer(&root, &scratch)?
    } else {
        None
    };
    let env = Env {
        root,
        starling,
        native,
        ebin,
        timeout: sizes.timeout,
    };
    let result = run_all(&env, &sizes);
    let _ = std::fs::remove_dir_all(&scratch);
    let (table, failures) = result?;

    println!("{}", header(&env, &sizes));
    println!("{}", render(&table, env.ebin.is_some()));
    if opts.cluster {
        let bin = crate::cluster_bench::binary(&env.root, opts.build)?;
        let section = crate::cluster_bench::run(&bin, opts.quick)?;
        println!("Cluster (two to three nodes and one nats-server on this machine):\n");
        println!("{section}");
    }
    if !failures.is_empty() {
        println!("Failed attempts (retried up to {ATTEMPTS} times; details above):\n");
        for f in &failures {
            println!("- {f}");
        }
        bail!("{} attempt(s) failed", failures.len());
    }
    Ok(())
}

/// The workspace directory.
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// `target/release/starling` (under `CARGO_TARGET_DIR` if set), built first when `build`.
pub(crate) fn release_binary(root: &Path, build: bool) -> Result<PathBuf> {
    if build {
        eprintln!("building: cargo build --release --bin starling");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let st = Command::new(cargo)
            .current_dir(root)
            .args(["build", "--release", "--bin", "starling"])
            .status()
            .context("cannot run cargo")?;
        if !st.success() {
            bail!("cargo build --release failed ({st})");
        }
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or(root.join("target"), |d| root.join(d));
    let starling = target.join("release/starling");
    if !starling.is_file() {
        bail!(
            "{} not found (build it or drop --no-build)",
            starling.display()
        );
    }
    Ok(starling)
}

/// `target/release/examples/bench_native`, built first when `build`.
fn native_binary(root: &Path, build: bool) -> Result<PathBuf> {
    if build {
        eprintln!("building: cargo build --release --example bench_native");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let st = Command::new(cargo)
            .current_dir(root)
            .args(["build", "--release", "--example", "bench_native"])
            .status()
            .context("cannot run cargo")?;
        if !st.success() {
            bail!("cargo build --release --example bench_native failed ({st})");
        }
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or(root.join("target"), |d| root.join(d));
    let bin = target.join("release/examples/bench_native");
    if !bin.is_file() {
        bail!("{} not found (build it or drop --no-build)", bin.display());
    }
    Ok(bin)
}

/// Compiles echo_erl.erl into `scratch` when erl and erlc are on PATH.
fn compile_peer(root: &Path, scratch: &Path) -> Result<Option<PathBuf>> {
    if !on_path("erl") || !on_path("erlc") {
        eprintln!("erl/erlc not on PATH: Starling only (apt-get install -y erlang-base)");
        return Ok(None);
    }
    let src = match std::env::var_os("STARLING_PEERS") {
        Some(p) => {
            let p = PathBuf::from(p);
            if p.extension().is_some_and(|e| e == "erl") {
                p
            } else {
                p.join("echo_erl.erl")
            }
        }
        None => root.join("../shared/peers/echo_erl.erl"),
    };
    if !src.is_file() {
        bail!(
            "Erlang peer {} not found (set STARLING_PEERS to its directory, or pass --no-erlang)",
            src.display()
        );
    }
    std::fs::create_dir_all(scratch).with_context(|| format!("mkdir {}", scratch.display()))?;
    let out = Command::new("erlc")
        .arg("-o")
        .arg(scratch)
        .arg(&src)
        .output()
        .context("cannot run erlc")?;
    if !out.status.success() {
        bail!(
            "erlc {} failed:\n{}{}",
            src.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!("erlang peer: compiled {}", src.display());
    Ok(Some(scratch.to_path_buf()))
}

fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
}

fn systems(env: &Env) -> Vec<System> {
    if env.ebin.is_some() {
        vec![System::Starling, System::Native, System::Erlang]
    } else {
        vec![System::Starling, System::Native]
    }
}

/// Attempts per measurement: a failed run (crash, stall, wrong output) is reported, counted
/// and retried, so one flaky failure does not leave a hole in the table.
const ATTEMPTS: usize = 3;

/// Runs every shape; returns the table and one line per failed attempt.
fn run_all(env: &Env, s: &Sizes) -> Result<(Table, Vec<String>)> {
    let mut t = Table::default();
    let mut failures = Vec::new();
    let mut attempt = |what: String, f: &mut dyn FnMut() -> Result<()>| {
        for i in 1..=ATTEMPTS {
            match f() {
                Ok(()) => return,
                Err(e) => {
                    eprintln!("FAILED ({what}, attempt {i} of {ATTEMPTS}): {e:#}");
                    let first = format!("{e:#}").lines().next().unwrap_or("").to_string();
                    failures.push(format!("{what} (attempt {i}): {first}"));
                }
            }
        }
    };
    for run in 1..=s.runs {
        eprintln!("run {run} of {}", s.runs);
        for sys in systems(env) {
            let name = sys.name();
            attempt(format!("{name} spawn"), &mut || {
                spawn(env, &mut t, sys, s.spawn)
            });
            attempt(format!("{name} idle"), &mut || {
                idle(env, &mut t, sys, s.idle)
            });
            for (c, m) in s.echo {
                attempt(format!("{name} echo {c} {m}"), &mut || {
                    echo(env, &mut t, sys, c, m)
                });
            }
            attempt(format!("{name} pingpong"), &mut || {
                pingpong(env, &mut t, sys, s.pingpong)
            });
            if sys == System::Native {
                continue;
            }
            attempt(format!("{name} busy"), &mut || {
                busy(env, &mut t, sys, s.busy_loops)
            });
        }
    }
    for sys in systems(env).into_iter().filter(|s| *s != System::Native) {
        attempt(format!("{} hello", sys.name()), &mut || {
            hello(env, &mut t, sys, s.hello_runs)
        });
        attempt(format!("{} million", sys.name()), &mut || {
            million(env, &mut t, sys, s.million)
        });
    }
    Ok((t, failures))
}

fn spawn(env: &Env, t: &mut Table, sys: System, n: u64) -> Result<()> {
    let rate = t.declare("spawn_monitored+exit", "per s", Better::Higher, 0);
    let each = t.declare("spawn_monitored+exit, each", "us", Better::Lower, 3);
    let (_, line) = env.run(sys, &["spawn", &n.to_string()], "spawn_monitored+exit:")?;
    let v = expect_numbers(&line, 2)?;
    t.push(rate, sys, v[0]);
    t.push(each, sys, v[1]);
    Ok(())
}

/// Peak RSS with `n` parked processes minus peak RSS with none, per process.
fn idle(env: &Env, t: &mut Table, sys: System, n: u64) -> Result<()> {
    let per = t.declare(
        &format!("idle process ({n} parked)"),
        "bytes each",
        Better::Lower,
        0,
    );
    let base = t.declare("peak RSS, idlehold 0", "MB", Better::Lower, 1);
    let prefix = "idle ready:";
    let (full, line) = env.run(sys, &["idlehold", &n.to_string()], prefix)?;
    if expect_numbers(&line, 1)?[0] != n as f64 {
        bail!("{} idlehold {n}: unexpected `{line}`", sys.name());
    }
    let (empty, _) = env.run(sys, &["idlehold", "0"], prefix)?;
    let each = (full.max_rss as f64 - empty.max_rss as f64) / n as f64;
    eprintln!(
        "  {:8} idle process: {} bytes each ({n} processes)",
        sys.name(),
        each.round()
    );
    t.push(per, sys, each);
    t.push(base, sys, empty.max_rss as f64 / 1e6);
    Ok(())
}

/// `n` parked processes at once: peak RSS and the whole command's wall time (spawning them all,
/// the 500 ms the driver waits, the pings and answers for Starling, and tearing down at exit).
fn million(env: &Env, t: &mut Table, sys: System, n: u64) -> Result<()> {
    let rss = t.declare(
        &format!("{n} parked processes, peak RSS"),
        "GiB",
        Better::Lower,
        2,
    );
    let wall = t.declare(
        &format!("{n} parked processes, whole run"),
        "s",
        Better::Lower,
        1,
    );
    // Starling parks them in the Echo relay's two-case select and checks that every one
    // answers a ping afterwards (issue 10); Erlang's peer parks them in `receive`.
    let (mode, prefix) = match sys {
        System::Starling => ("selecthold", "select answered:"),
        _ => ("idlehold", "idle ready:"),
    };
    let (f, line) = env.run(sys, &[mode, &n.to_string()], prefix)?;
    if expect_numbers(&line, 1)?[0] != n as f64 {
        bail!("{} {mode} {n}: unexpected `{line}`", sys.name());
    }
    t.push(rss, sys, f.max_rss as f64 / (1u64 << 30) as f64);
    t.push(wall, sys, f.wall.as_secs_f64());
    Ok(())
}

fn echo(env: &Env, t: &mut Table, sys: System, c: u64, m: u64) -> Result<()> {
    let name = format!("echo {c} x {m}");
    let rate = t.declare(&name, "req/s", Better::Higher, 0);
    let p50 = t.declare(&format!("{name}, p50"), "us", Better::Lower, 1);
    let p99 = t.declare(&format!("{name}, p99"), "us", Better::Lower, 1);
    let (_, line) = env.run(sys, &["echo", &c.to_string(), &m.to_string()], "echo:")?;
    let v = expect_numbers(&line, 5)?;
    t.push(rate, sys, v[2]);
    t.push(p50, sys, v[3]);
    t.push(p99, sys, v[4]);
    Ok(())
}

fn pingpong(env: &Env, t: &mut Table, sys: System, n: u64) -> Result<()> {
    let row = t.declare("pingpong roundtrip", "us", Better::Lower, 3);
    let (_, line) = env.run(sys, &["pingpong", &n.to_string()], "pingpong roundtrip:")?;
    let v = expect_numbers(&line, 1)?;
    t.push(row, sys, v[0]);
    Ok(())
}

/// The peer has no busy shape; the same program is evaluated inline (`erl -eval`).
fn busy_erl(loops: u64) -> String {
    format!(
        "B = fun L(X) -> L(X + 1) end, \
         [spawn(fun() -> B(0) end) || _ <- lists:seq(1, {loops})], \
         T0 = erlang:monotonic_time(microsecond), timer:sleep(100), \
         T1 = erlang:monotonic_time(microsecond), \
         io:format(\"busy: sleeper woke after ~.1f ms with ~p busy loops~n\", [(T1 - T0) / 1000, {loops}]), \
         halt()."
    )
}

/// How late a 100 ms sleep wakes among busy loops, and how fast the run ends after the line.
fn busy(env: &Env, t: &mut Table, sys: System, loops: u64) -> Result<()> {
    let woke = t.declare(
        &format!("busy: sleep 100 ms, {loops} busy loops"),
        "ms",
        Better::Lower,
        1,
    );
    let exit = t.declare("busy: exit after result line", "ms", Better::Lower, 1);
    let prefix = "busy: sleeper woke after";
    let (f, line) = match sys {
        System::Starling | System::Native => env.run(sys, &["busy"], prefix)?,
        System::Erlang => env.finish(sys, &mut env.erl_eval(&busy_erl(loops)), "busy", prefix)?,
    };
    let v = expect_numbers(&line, 2)?;
    if v[1] != loops as f64 {
        bail!("{} busy: expected {loops} loops in `{line}`", sys.name());
    }
    let printed = f
        .stdout
        .iter()
        .find(|(_, l)| l.starts_with(prefix))
        .map(|(at, _)| *at)
        .expect("the line was found");
    let exit_ms = (f.wall.saturating_sub(printed)).as_secs_f64() * 1e3;
    eprintln!(
        "  {:8} busy: exited {exit_ms:.1} ms after the line",
        sys.name()
    );
    t.push(woke, sys, v[0]);
    t.push(exit, sys, exit_ms);
    Ok(())
}

/// Boot to exit: `starling run -x bench:main hello` against `erl -noshell -eval` printing hello.
fn hello(env: &Env, t: &mut Table, sys: System, runs: usize) -> Result<()> {
    let row = t.declare(
        &format!("boot to exit, hello (median of {runs})"),
        "ms",
        Better::Lower,
        1,
    );
    let mut walls = Vec::with_capacity(runs);
    for _ in 0..runs {
        let f = match sys {
            System::Starling | System::Native => {
                let mut cmd = env.starling(&["hello".to_string()]);
                child::run(&mut cmd, env.timeout)?
            }
            System::Erlang => {
                // Plain `erl`: +P only makes the process table (and the boot) bigger.
                let mut cmd = Command::new("erl");
                cmd.args(["-noshell", "-eval", "io:format(\"hello~n\"), halt()."]);
                child::run(&mut cmd, env.timeout)?
            }
        };
        if !f.status.success() || f.stdout_text() != "hello" {
            bail!(
                "{} hello: {}, stdout {:?}, stderr {:?}",
                sys.name(),
                f.status,
                f.stdout_text(),
                child::tail(&f.stderr, 2000)
            );
        }
        walls.push(f.wall.as_secs_f64() * 1e3);
    }
    eprintln!(
        "  {:8} hello: median {:.1} ms",
        sys.name(),
        median(&walls).unwrap_or(0.0)
    );
    for w in walls {
        t.push(row, sys, w);
    }
    Ok(())
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// Machine and build description printed above the table.
fn header(env: &Env, s: &Sizes) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or("unknown".into(), |kb| {
            format!("{:.1} GiB", kb / 1024.0 / 1024.0)
        });
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let git = Command::new("git")
        .current_dir(&env.root)
        .args(["describe", "--always", "--dirty"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("unknown".into(), |o| {
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        });
    let otp = if env.ebin.is_some() {
        Command::new("erl")
            .args([
                "-noshell",
                "-eval",
                "io:format(\"OTP ~s, erts ~s~n\", [erlang:system_info(otp_release), erlang:system_info(version)]), halt().",
            ])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    } else {
        "not run".into()
    };
    let mut h = String::new();
    let _ = writeln!(h);
    let _ = writeln!(
        h,
        "machine: {cpus} CPUs, {cpu}, {mem} RAM; starling {git}; Erlang {otp}"
    );
    let args: Vec<String> = std::env::args().skip(1).collect();
    let _ = writeln!(
        h,
        "command: cargo xtask {}; {} run(s) per shape, table = medians{}",
        args.join(" "),
        s.runs,
        if env.ebin.is_some() {
            ", Starling and Erlang alternating in the same run"
        } else {
            ""
        }
    );
    h
}

fn render(t: &Table, erlang: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| measure | unit | Starling (Lua) | Starling (Rust) | Erlang | Lua / Erlang | Rust / Erlang |"
    );
    let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: | ---: | ---: |");
    for r in &t.rows {
        let s = median(&r.starling);
        let n = median(&r.native);
        let e = median(&r.erlang);
        let cell = |v: Option<f64>| v.map_or("failed".to_string(), |v| fmt_num(v, r.decimals));
        let n_cell = if r.native.is_empty() {
            "-".to_string()
        } else {
            cell(n)
        };
        let e_cell = if erlang {
            cell(e)
        } else {
            "not run".to_string()
        };
        let ratio = |a: Option<f64>| match (a, e) {
            (Some(a), Some(e)) if e != 0.0 => {
                let arrow = match r.better {
                    Better::Higher => "higher is better",
                    Better::Lower => "lower is better",
                };
                format!("{:.2} ({arrow})", a / e)
            }
            _ => "-".to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.unit,
            cell(s),
            n_cell,
            e_cell,
            ratio(s),
            ratio(n)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_of_result_lines() {
        assert_eq!(
            numbers("spawn_monitored+exit: 191630 per s (5.218 us each)"),
            vec![191630.0, 5.218]
        );
        assert_eq!(
            numbers("echo: 100 clients x 1000: 58013 req/s, p50 1479.1 us, p99 3391.8 us"),
            vec![100.0, 1000.0, 58013.0, 1479.1, 3391.8]
        );
        assert_eq!(numbers("pingpong roundtrip: 0.384 us"), vec![0.384]);
    }

    #[test]
    fn medians_and_formatting() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(fmt_num(1234567.4, 0), "1,234,567");
        assert_eq!(fmt_num(123.0, 0), "123");
        assert_eq!(fmt_num(0.3841, 3), "0.384");
    }
}
