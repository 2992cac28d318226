//! The cluster section of `cargo xtask bench` (issue 12): several nodes of
//! `examples/bench_cluster.rs` on one machine and one `nats-server`, each node its own OS
//! process. Node `a` serves (Rust and Lua pongers, an ordered sink, the echo relay), node `b`
//! runs the echo workers, node `c` drives each shape, node `v` is killed again and again for
//! the failure-detection figure.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Sizes of one pass.
struct Sizes {
    pingpong: u64,
    stream: u64,
    echo: (u64, u64),
    deaths: u64,
    register: u64,
}

const FULL: Sizes = Sizes {
    pingpong: 20_000,
    stream: 1_000_000,
    echo: (100, 1_000),
    deaths: 20,
    register: 2_000,
};

const QUICK: Sizes = Sizes {
    pingpong: 500,
    stream: 20_000,
    echo: (10, 50),
    deaths: 2,
    register: 50,
};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(dir: &Path) -> Result<(Proc, String)> {
    let bin = crate::test::nats_server().context("nats-server not found")?;
    let child = Command::new(bin)
        .args(["-a", "127.0.0.1", "-p", "-1", "-js", "-sd"])
        .arg(dir.join("js"))
        .arg("--ports_file_dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start nats-server")?;
    let p = Proc(child);
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let url = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .find(|e| e.file_name().to_string_lossy().ends_with(".ports"))
            .and_then(|e| std::fs::read_to_string(e.path()).ok())
            .and_then(|t| {
                // {"nats":["nats://127.0.0.1:PORT"],…}
                let start = t.find("nats://")?;
                let end = t[start..].find('"')? + start;
                Some(t[start..end].to_string())
            });
        if let Some(u) = url {
            return Ok((p, u));
        }
        if Instant::now() > until {
            bail!("nats-server did not start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts node `name`; its stderr (the runtime's log) is appended to [`node_log`].
fn node(bin: &Path, name: &str, url: &str, shape: &[String]) -> Result<Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(node_log(name)?)
        .context("node log")?;
    Command::new(bin)
        .arg(name)
        .arg(url)
        .args(shape)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .with_context(|| format!("start node {name}"))
}

/// Where node `name`'s log goes during this run.
fn node_log(name: &str) -> Result<PathBuf> {
    Ok(tempfile_dir()?.join(format!("node-{name}.log")))
}

/// Runs one driver shape on node `c`; its result line.
fn drive(bin: &Path, url: &str, shape: &[&str], limit: Duration) -> Result<String> {
    let shape: Vec<String> = shape.iter().map(|s| s.to_string()).collect();
    let mut child = node(bin, "c", url, &shape)?;
    let out = child.stdout.take().context("stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let until = Instant::now() + limit;
    let mut last = String::new();
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(l) => last = l,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{} timed out", shape.join(" "));
        }
    }
    let st = child.wait()?;
    if !st.success() || last.is_empty() {
        bail!(
            "{} failed ({st}): {last} (node logs: {})",
            shape.join(" "),
            tempfile_dir()?.display()
        );
    }
    eprintln!("  {last}");
    Ok(last)
}

fn number_after(line: &str, key: &str) -> Option<f64> {
    let rest = &line[line.find(key)? + key.len()..];
    let num: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    num.parse().ok()
}

/// Deaths: kill node v `k` times while node c watches its `victim`; the time from SIGKILL to
/// the EXIT on c, in ms.
fn deaths(bin: &Path, url: &str, k: u64) -> Result<Vec<f64>> {
    let mut watcher = node(bin, "c", url, &["watch".into(), k.to_string()])?;
    let out = watcher.stdout.take().context("stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let _w = Proc(watcher);
    let mut times = Vec::new();
    for _ in 0..k {
        let v = Proc(node(bin, "v", url, &[])?);
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let l = rx
                .recv_timeout(until.saturating_duration_since(Instant::now()))
                .context("the watcher never saw the victim")?;
            if l.starts_with("watching") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(300));
        let t0 = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_micros() as f64;
        let mut v = v;
        let _ = v.0.kill();
        let _ = v.0.wait();
        let until = Instant::now() + Duration::from_secs(30);
        let at = loop {
            let l = rx
                .recv_timeout(until.saturating_duration_since(Instant::now()))
                .context("no EXIT after the kill")?;
            if let Some(t) = l.strip_prefix("exit_at ") {
                break t
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<f64>().ok())
                    .context("exit_at line")?;
            }
        };
        let ms = (at - t0) / 1000.0;
        eprintln!("  death noticed after {ms:.0} ms");
        times.push(ms);
    }
    Ok(times)
}

/// Runs the section; returns its Markdown table (or why it did not run).
pub(crate) fn run(bin: &Path, quick: bool) -> Result<String> {
    if crate::test::nats_server().is_none() {
        return Ok(
            "Cluster section not run: nats-server not installed (apt-get install nats-server).\n"
                .into(),
        );
    }
    let s = if quick { QUICK } else { FULL };
    let dir = tempfile_dir()?;
    let (_server, url) = start_server(&dir)?;
    eprintln!("cluster: nats-server at {url}");
    let _a = Proc(node(bin, "a", &url, &[])?);
    let _b = Proc(node(bin, "b", &url, &[])?);
    let limit = Duration::from_secs(if quick { 60 } else { 300 });
    let n = s.pingpong.to_string();
    let rust = drive(bin, &url, &["pingpong-rust", &n], limit)?;
    let lua = drive(bin, &url, &["pingpong-lua", &n], limit)?;
    let stream = drive(bin, &url, &["stream", &s.stream.to_string()], limit)?;
    // Reported, not fatal: the other figures still come (BENCHMARKS.md says why it may fail).
    let echo = drive(
        bin,
        &url,
        &["echo", &s.echo.0.to_string(), &s.echo.1.to_string()],
        limit,
    )
    .unwrap_or_else(|e| {
        eprintln!("  echo failed: {e:#}");
        "echo failed".to_string()
    });
    let reg = drive(bin, &url, &["register", &s.register.to_string()], limit)?;
    let mut d = deaths(bin, &url, s.deaths)?;
    d.sort_by(f64::total_cmp);
    let _ = std::fs::remove_dir_all(&dir);

    let get = |line: &str, key: &str| number_after(line, key).unwrap_or(f64::NAN);
    let mut t = String::new();
    t.push_str("| measure | figure | target |\n| --- | ---: | ---: |\n");
    let mut row = |m: &str, v: String, target: &str| {
        t.push_str(&format!("| {m} | {v} | {target} |\n"));
    };
    row(
        "remote ping-pong, Rust processes, p50",
        format!(
            "{:.0} us (p99 {:.0} us)",
            get(&rust, "p50"),
            get(&rust, "p99")
        ),
        "<= 400 us",
    );
    row(
        "remote ping-pong, Lua processes, mean",
        format!("{:.0} us", get(&lua, "mean")),
        "<= 450 us",
    );
    row(
        "one sender -> one remote receiver, 64 B",
        format!(
            "{} msgs/s, lost {}, out of order {}",
            crate::fmt::fmt_num(get(&stream, "messages,"), 0),
            get(&stream, "lost"),
            get(&stream, "order")
        ),
        ">= 200,000 msgs/s, none lost",
    );
    row(
        &format!("echo across nodes, {} clients x {}", s.echo.0, s.echo.1),
        format!(
            "{} req/s, p50 {:.0} us, p99 {:.0} us, lost {}",
            crate::fmt::fmt_num(get(&echo, &format!("x {}:", s.echo.1)), 0),
            get(&echo, "p50"),
            get(&echo, "p99"),
            get(&echo, "lost")
        ),
        ">= 10,000 req/s, none lost",
    );
    row(
        &format!("node death noticed (SIGKILL), {} kills", d.len()),
        format!(
            "median {:.0} ms, max {:.0} ms",
            d.get(d.len() / 2).copied().unwrap_or(f64::NAN),
            d.last().copied().unwrap_or(f64::NAN)
        ),
        "<= 1,500 ms",
    );
    row(
        "CONSISTENT register, one server",
        format!(
            "p50 {:.0} us (p99 {:.0} us)",
            get(&reg, "p50"),
            get(&reg, "p99")
        ),
        "<= 1 ms",
    );
    Ok(t)
}

fn tempfile_dir() -> Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("starling-cluster-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// `target/release/examples/bench_cluster`, built first when `build`.
pub(crate) fn binary(root: &Path, build: bool) -> Result<PathBuf> {
    if build {
        eprintln!("building: cargo build --release --example bench_cluster");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let st = Command::new(cargo)
            .current_dir(root)
            .args(["build", "--release", "--example", "bench_cluster"])
            .status()
            .context("cannot run cargo")?;
        if !st.success() {
            bail!("cargo build --release --example bench_cluster failed ({st})");
        }
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or(root.join("target"), |d| root.join(d));
    let bin = target.join("release/examples/bench_cluster");
    if !bin.is_file() {
        bail!("{} not found (build it or drop --no-build)", bin.display());
    }
    Ok(bin)
}
