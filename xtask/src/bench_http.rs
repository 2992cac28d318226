//! `cargo xtask bench-http`: the HTTP benchmark app in `bench/http/` next to OpenResty (nginx
//! with its Lua module) serving the same two handlers, loaded by `wrk` in the same run.
//!
//! Each run starts Starling, warms it up, measures `GET /hello` and `POST /echo` (keep-alive,
//! `--connections` connections, `--threads` wrk threads, `--duration` seconds each), stops it,
//! then does the same with OpenResty. The table shows medians of the runs: requests per
//! second and wrk's p50/p99 latency.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Options of `cargo xtask bench-http`.
#[derive(Debug)]
pub(crate) struct Options {
    duration: u64,
    connections: u32,
    threads: u32,
    runs: usize,
    build: bool,
    openresty: bool,
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Options> {
        let mut o = Options {
            duration: 10,
            connections: 64,
            threads: 2,
            runs: 3,
            build: true,
            openresty: true,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut num = |name: &str| -> Result<u64> {
                it.next()
                    .with_context(|| format!("{name} needs a value"))?
                    .parse()
                    .with_context(|| format!("{name} needs a number"))
            };
            match a.as_str() {
                "--duration" => o.duration = num("--duration")?.max(1),
                "--connections" => o.connections = num("--connections")?.max(1) as u32,
                "--threads" => o.threads = num("--threads")?.max(1) as u32,
                "--runs" => o.runs = num("--runs")?.max(1) as usize,
                "--quick" => {
                    o.duration = 2;
                    o.runs = 1;
                }
                "--no-build" => o.build = false,
                "--no-openresty" => o.openresty = false,
                other => bail!("unknown option {other}"),
            }
        }
        Ok(o)
    }
}

/// What wrk measured for one endpoint.
#[derive(Debug, Clone, Copy, Default)]
struct Measure {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn wait_port(port: u16, child: &mut Child, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Some(st) = child.try_wait()? {
            bail!("{what} exited before listening ({st})");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("{what} did not listen on port {port} within 30 s")
}

fn stop(child: &mut Child, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A latency from wrk (`812.00us`, `1.23ms`, `2.01s`) in microseconds.
fn latency_us(text: &str) -> Option<f64> {
    let text = text.trim();
    let (num, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1000.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1_000_000.0)
    } else {
        return None;
    };
    num.trim().parse::<f64>().ok().map(|n| n * scale)
}

fn parse_wrk(out: &str) -> Result<Measure> {
    let mut m = Measure::default();
    for line in out.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Requests/sec:") {
            m.rps = v.trim().parse().context("Requests/sec")?;
        } else if let Some(v) = t.strip_prefix("50%") {
            m.p50_us = latency_us(v).context("p50")?;
        } else if let Some(v) = t.strip_prefix("99%") {
            m.p99_us = latency_us(v).context("p99")?;
        } else if t.starts_with("Non-2xx or 3xx responses") {
            bail!("wrk saw error responses:\n{out}");
        }
    }
    if m.rps == 0.0 {
        bail!("no Requests/sec in wrk's output:\n{out}");
    }
    Ok(m)
}

fn wrk(o: &Options, url: &str, script: Option<&Path>, seconds: u64) -> Result<Measure> {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t",
        &o.threads.to_string(),
        "-c",
        &o.connections.to_string(),
        "-d",
        &format!("{seconds}s"),
        "--latency",
    ]);
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    let out = cmd.arg(url).output().context("cannot run wrk")?;
    if !out.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    parse_wrk(&String::from_utf8_lossy(&out.stdout))
}

/// Warms a server up, then measures both endpoints.
fn measure_both(o: &Options, port: u16) -> Result<(Measure, Measure)> {
    let base = format!("http://127.0.0.1:{port}");
    let echo = root().join("bench/http/echo.lua");
    wrk(o, &format!("{base}/hello"), None, 2)?;
    wrk(o, &format!("{base}/echo"), Some(&echo), 1)?;
    let hello = wrk(o, &format!("{base}/hello"), None, o.duration)?;
    let echo = wrk(o, &format!("{base}/echo"), Some(&echo), o.duration)?;
    Ok((hello, echo))
}

fn run_starling(o: &Options) -> Result<(Measure, Measure)> {
    let port = free_port()?;
    let mut child = Command::new(root().join("target/release/starling"))
        .args([
            "run",
            "-s",
            "-o",
            &format!("bench:gateway:addr=127.0.0.1:{port}"),
        ])
        .current_dir(root().join("bench/http"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start target/release/starling")?;
    let result = wait_port(port, &mut child, "starling").and_then(|()| measure_both(o, port));
    stop(&mut child, "-TERM");
    result
}

fn run_openresty(o: &Options, workers: usize) -> Result<(Measure, Measure)> {
    let port = free_port()?;
    let dir = std::env::temp_dir().join(format!("starling-openresty-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let conf = std::fs::read_to_string(root().join("bench/http/openresty.conf"))?
        .replace("PREFIX", &dir.display().to_string())
        .replace("PORT", &port.to_string())
        .replace("WORKERS", &workers.to_string());
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf)?;
    let mut child = Command::new("nginx")
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start nginx (apt-get install -y nginx libnginx-mod-http-lua lua-cjson)")?;
    let result = wait_port(port, &mut child, "nginx").and_then(|()| measure_both(o, port));
    stop(&mut child, "-QUIT");
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn med(ms: &[Measure]) -> Measure {
    Measure {
        rps: median(ms.iter().map(|m| m.rps).collect()),
        p50_us: median(ms.iter().map(|m| m.p50_us).collect()),
        p99_us: median(ms.iter().map(|m| m.p99_us).collect()),
    }
}

fn group(n: f64) -> String {
    let s = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) fn run(o: Options) -> Result<()> {
    if Command::new("wrk").arg("--version").output().is_err() {
        bail!("wrk is not installed (apt-get install -y wrk)");
    }
    let openresty = o.openresty && Command::new("nginx").arg("-v").output().is_ok();
    if o.openresty && !openresty {
        eprintln!(
            "nginx not found: measuring Starling only (apt-get install -y nginx libnginx-mod-http-lua lua-cjson)"
        );
    }
    if o.build {
        eprintln!("building: cargo build --release --bin starling");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "--release", "--bin", "starling"])
            .current_dir(root())
            .status()
            .context("cannot run cargo")?;
        if !st.success() {
            bail!("cargo build --release failed ({st})");
        }
    }
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut st = (Vec::new(), Vec::new());
    let mut or = (Vec::new(), Vec::new());
    for run in 1..=o.runs {
        let (h, e) = run_starling(&o)?;
        eprintln!(
            "run {run}: starling  hello {:>9} req/s p50 {:>7.0} us p99 {:>7.0} us | echo {:>9} req/s p50 {:>7.0} us p99 {:>7.0} us",
            group(h.rps),
            h.p50_us,
            h.p99_us,
            group(e.rps),
            e.p50_us,
            e.p99_us
        );
        st.0.push(h);
        st.1.push(e);
        if openresty {
            let (h, e) = run_openresty(&o, workers)?;
            eprintln!(
                "run {run}: openresty hello {:>9} req/s p50 {:>7.0} us p99 {:>7.0} us | echo {:>9} req/s p50 {:>7.0} us p99 {:>7.0} us",
                group(h.rps),
                h.p50_us,
                h.p99_us,
                group(e.rps),
                e.p50_us,
                e.p99_us
            );
            or.0.push(h);
            or.1.push(e);
        }
    }
    println!(
        "\n{} runs, wrk -t{} -c{} -d{}s, keep-alive; medians\n",
        o.runs, o.threads, o.connections, o.duration
    );
    println!("| endpoint | measure | Starling | OpenResty | Starling / OpenResty |");
    println!("| --- | --- | ---: | ---: | ---: |");
    for (name, s, r) in [("GET /hello", &st.0, &or.0), ("POST /echo", &st.1, &or.1)] {
        let s = med(s);
        let r = (!r.is_empty()).then(|| med(r));
        let cell = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".to_string(), f);
        let ratio = |a: f64, b: Option<f64>, better: &str| {
            b.map_or("-".to_string(), |b| {
                format!("{:.2} ({better} is better)", a / b)
            })
        };
        println!(
            "| {name} | req/s | {} | {} | {} |",
            group(s.rps),
            cell(r.map(|r| r.rps), &group),
            ratio(s.rps, r.map(|r| r.rps), "higher")
        );
        println!(
            "| {name} | p50 latency (us) | {:.0} | {} | {} |",
            s.p50_us,
            cell(r.map(|r| r.p50_us), &|v| format!("{v:.0}")),
            ratio(s.p50_us, r.map(|r| r.p50_us), "lower")
        );
        println!(
            "| {name} | p99 latency (us) | {:.0} | {} | {} |",
            s.p99_us,
            cell(r.map(|r| r.p99_us), &|v| format!("{v:.0}")),
            ratio(s.p99_us, r.map(|r| r.p99_us), "lower")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let out = "Running 2s test @ http://127.0.0.1:1/hello
  2 threads and 64 connections
  Latency Distribution
     50%  812.00us
     75%    1.02ms
     90%    1.50ms
     99%    3.20ms
  40000 requests in 2.00s, 5.00MB read
Requests/sec:  20000.50
Transfer/sec:      2.50MB
";
        let m = parse_wrk(out).expect("parsed");
        assert_eq!((m.rps, m.p50_us, m.p99_us), (20000.5, 812.0, 3200.0));
        assert!(parse_wrk("Non-2xx or 3xx responses: 5\nRequests/sec: 1").is_err());
        assert_eq!(group(1234567.0), "1,234,567");
    }
}
