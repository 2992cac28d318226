//! The cluster benchmark's node (issue 12): one OS process per node, all on one NATS server,
//! driven by `cargo xtask bench` (see BENCHMARKS.md, section Cluster).
//!
//! ```sh
//! bench_cluster NODE NATS_URL                 # a serving node: services placed on it run
//! bench_cluster NODE NATS_URL SHAPE ARGS...   # a driver node: runs SHAPE, prints one line
//! ```
//!
//! Services (placed by the configuration written below): on node `a` the Rust ponger
//! `cpong`, the ordered sink `csink`, the echo relay `crelay` (its workers spawn on node `b`)
//! and the Lua ponger `lpong`; on node `v` the `victim` the death shape watches. Shapes, run
//! from another node: `pingpong-rust N`, `pingpong-lua N`, `stream N`, `echo C M`,
//! `watch K`, `register N`.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use starling::{Context, ErrorKind, ErrorValue, Payload, Pid, Runtime};

const HOST: &str = "bench:processes";

const ENTRIES: &str = r#"version: "1.0"
namespace: bench
entries:
  - { name: terminal, kind: terminal.host, lifecycle: { auto_start: true } }
  - { name: processes, kind: process.host, lifecycle: { auto_start: true } }
  - { name: cpong-service, kind: process.service, process: bench:cpong, host: bench:processes, lifecycle: { auto_start: true } }
  - { name: csink-service, kind: process.service, process: bench:csink, host: bench:processes, lifecycle: { auto_start: true } }
  - { name: crelay-service, kind: process.service, process: bench:crelay, host: bench:processes, lifecycle: { auto_start: true } }
  - { name: lpong-service, kind: process.service, process: bench:lpong, host: bench:processes, lifecycle: { auto_start: true } }
  - { name: victim-service, kind: process.service, process: bench:victim, host: bench:processes, lifecycle: { auto_start: true } }
  - name: lpong
    kind: process.lua
    source: file://lpong.lua
    method: main
    modules: []
  - name: ldrive
    kind: process.lua
    source: file://ldrive.lua
    method: main
    modules: [io, time]
"#;

const LPONG: &str = r#"
local function main()
    process.registry.register("lpong")
    local inbox = process.inbox()
    while true do
        local m = inbox:receive()
        process.send(m:from(), "pong", m:payload():data())
    end
end
return { main = main }
"#;

const LDRIVE: &str = r#"
local io = require("io")
local time = require("time")
local function main(n)
    n = tonumber(n)
    local pong
    while not pong do
        pong = process.registry.lookup("lpong")
        if not pong then time.sleep("20ms") end
    end
    local inbox = process.inbox()
    for i = 1, 200 do process.send(pong, "ping", i); inbox:receive() end
    local t0 = time.now()
    for i = 1, n do
        process.send(pong, "ping", i)
        inbox:receive()
    end
    local us = t0:sub(time.now()) -- negative duration
    local total = -us:microseconds()
    io.print(string.format("pingpong-lua: %d round trips, mean %.1f us", n, total / n))
    return 0
end
return { main = main }
"#;

const CONFIG: &str = r#"cluster:
  enabled: true
  cluster_id: bench
  registry: { export_local: true }
  placement:
    services:
      "bench:cpong-service": [a]
      "bench:csink-service": [a]
      "bench:crelay-service": [a]
      "bench:lpong-service": [a]
      "bench:victim-service": [v]
"#;

fn invalid(m: &str) -> ErrorValue {
    ErrorValue::new(ErrorKind::Invalid, m)
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

async fn find(ctx: &Context, name: &str) -> Pid {
    loop {
        if let Some(p) = ctx.lookup(name) {
            return p;
        }
        ctx.sleep(Duration::from_millis(20)).await;
    }
}

/// Finds `name` and monitors it: a node-down during the run ends the shape with an error
/// instead of a wait for a message that will never come.
async fn find_watched(ctx: &Context, name: &str) -> Result<Pid, ErrorValue> {
    let p = find(ctx, name).await;
    ctx.monitor(p).map_err(|e| invalid(&e.to_string()))?;
    Ok(p)
}

/// The next message, or the error of the EXIT that came instead.
async fn recv_or_down(ctx: &Context) -> Result<starling::Message, ErrorValue> {
    tokio::select! {
        biased;
        m = ctx.recv() => Ok(m),
        ev = ctx.event() => Err(match ev.result.map(|r| r.result().clone()) {
            Some(Err(e)) => e,
            _ => invalid("the peer ended"),
        }),
    }
}

/// The `p`th percentile in microseconds (NaN when nothing was measured).
fn percentile(sorted: &[u64], p: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let k = (sorted.len() * p / 100).clamp(1, sorted.len());
    sorted[k - 1] as f64 / 1000.0
}

async fn cpong(ctx: Context, _args: Payload) -> Result<(), ErrorValue> {
    ctx.register("cpong")?;
    loop {
        let m = ctx.recv().await;
        if let Some(from) = m.from {
            ctx.send_payload(from, "pong", m.payload)?;
        }
    }
}

/// Counts a stream, checking every number follows the one before.
async fn csink(ctx: Context, _args: Payload) -> Result<(), ErrorValue> {
    ctx.register("csink")?;
    let (mut next, mut count, mut disorder) = (0u64, 0u64, 0u64);
    loop {
        let m = ctx.recv().await;
        match &*m.topic {
            "s" => {
                let (n, _pad): (u64, String) = m.payload.decode()?;
                if n != next {
                    disorder += 1;
                }
                next = n + 1;
                count += 1;
            }
            "done" => {
                if let Some(from) = m.from {
                    ctx.send(from, "counted", &(count, disorder))?;
                }
                (next, count, disorder) = (0, 0, 0);
            }
            _ => {}
        }
    }
}

#[derive(Serialize, Deserialize)]
struct EchoRequest {
    sender: Pid,
    data: String,
}

async fn crelay(ctx: Context, _args: Payload) -> Result<(), ErrorValue> {
    ctx.register("crelay")?;
    loop {
        tokio::select! {
            m = ctx.recv() => if &*m.topic == "echo" {
                let req: EchoRequest = m.payload.decode()?;
                // A remote spawn waits one round trip for its answer: each runs as a task of
                // the relay, so the next request is read meanwhile (Erlang's spawn_request).
                let c = ctx.clone();
                ctx.task(async move {
                    let _ = c
                        .spawn_monitored("bench:cworker", "b@bench:processes", &(req.sender, req.data))
                        .await;
                });
            },
            _ = ctx.event() => {}
        }
    }
}

async fn cworker(ctx: Context, args: Payload) -> Result<i64, ErrorValue> {
    let (sender, data): (Pid, String) = args.decode()?;
    ctx.send(sender, "echo_response", &(data.to_uppercase(), ctx.pid()))?;
    Ok(0)
}

async fn victim(ctx: Context, _args: Payload) -> Result<(), ErrorValue> {
    ctx.register("victim")?;
    loop {
        ctx.recv().await;
    }
}

async fn client(ctx: Context, args: Payload) -> Result<(), ErrorValue> {
    let (parent, m): (Pid, u64) = args.decode()?;
    let relay = find(&ctx, "crelay").await;
    let mut lat = Vec::with_capacity(m as usize);
    let mut lost = 0u64;
    for _ in 0..m {
        let t0 = Instant::now();
        let req = EchoRequest {
            sender: ctx.pid(),
            data: "hello world".into(),
        };
        ctx.send(relay, "echo", &req)?;
        tokio::select! {
            _ = ctx.recv() => lat.push(t0.elapsed().as_nanos() as u64),
            _ = ctx.sleep(Duration::from_secs(5)) => lost += 1,
        }
    }
    ctx.send(parent, "done", &(lat, lost))?;
    Ok(())
}

async fn drive(ctx: Context, args: Payload) -> Result<i64, ErrorValue> {
    let args: Vec<String> = args.decode()?;
    let num = |i: usize| -> Result<u64, ErrorValue> {
        args.get(i)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid("missing number"))
    };
    let line = match args.first().map(String::as_str) {
        Some("pingpong-rust") => {
            let n = num(1)?;
            let pong = find_watched(&ctx, "cpong").await?;
            for _ in 0..200 {
                ctx.send_payload(pong, "ping", Payload::empty())?;
                recv_or_down(&ctx).await?;
            }
            let mut lat = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let t0 = Instant::now();
                ctx.send_payload(pong, "ping", Payload::empty())?;
                recv_or_down(&ctx).await?;
                lat.push(t0.elapsed().as_nanos() as u64);
            }
            lat.sort_unstable();
            format!(
                "pingpong-rust: {n} round trips, p50 {:.1} us, p99 {:.1} us",
                percentile(&lat, 50),
                percentile(&lat, 99)
            )
        }
        Some("stream") => {
            let n = num(1)?;
            let sink = find_watched(&ctx, "csink").await?;
            let pad = "x".repeat(40);
            let t0 = Instant::now();
            for i in 0..n {
                ctx.send(sink, "s", &(i, &pad))?;
                if i % 4096 == 4095 {
                    // Let the worker's other duties run; sends never block.
                    ctx.sleep(Duration::ZERO).await;
                }
            }
            ctx.send_payload(sink, "done", Payload::empty())?;
            let m = recv_or_down(&ctx).await?;
            let (count, disorder): (u64, u64) = m.payload.decode()?;
            let secs = t0.elapsed().as_secs_f64();
            format!(
                "stream: {n} messages, {} msgs/s, received {count}, lost {}, out of order {disorder}",
                (count as f64 / secs) as u64,
                n - count
            )
        }
        Some("echo") => {
            let (c, m) = (num(1)?, num(2)?);
            find(&ctx, "crelay").await;
            let t0 = Instant::now();
            for _ in 0..c {
                ctx.spawn("bench:cclient", HOST, &(ctx.pid(), m)).await?;
            }
            let (mut all, mut lost, mut done) = (Vec::new(), 0u64, 0);
            while done < c {
                let msg = ctx.recv().await;
                if &*msg.topic == "done" {
                    let (lat, l): (Vec<u64>, u64) = msg.payload.decode()?;
                    all.extend(lat);
                    lost += l;
                    done += 1;
                }
            }
            let secs = t0.elapsed().as_secs_f64();
            all.sort_unstable();
            format!(
                "echo: {c} clients x {m}: {} req/s, p50 {:.1} us, p99 {:.1} us, lost {lost}",
                (all.len() as f64 / secs) as u64,
                percentile(&all, 50),
                percentile(&all, 99)
            )
        }
        Some("watch") => {
            // Monitors each incarnation of `victim` and prints when its EXIT arrives.
            let k = num(1)?;
            let mut last = None;
            for _ in 0..k {
                let v = loop {
                    match ctx.lookup("victim") {
                        Some(p) if Some(p) != last => break p,
                        _ => ctx.sleep(Duration::from_millis(10)).await,
                    }
                };
                last = Some(v);
                ctx.monitor(v).map_err(|e| invalid(&e.to_string()))?;
                println!("watching {}", ctx.pid_string());
                let ev = ctx.event().await;
                println!(
                    "exit_at {} {:?}",
                    now_us(),
                    ev.result.map(|r| r.result().is_err())
                );
            }
            format!("watch: {k} deaths seen")
        }
        Some("register") => {
            let n = num(1)?;
            let node = ctx.node().clone();
            let me = ctx.pid();
            let lat = ctx
                .blocking(move || register_times(&node, me, n))
                .await
                .ok_or_else(|| invalid("register thread lost"))?;
            let mut lat = lat?;
            lat.sort_unstable();
            format!(
                "register: {n} CONSISTENT names, p50 {:.1} us, p99 {:.1} us",
                percentile(&lat, 50),
                percentile(&lat, 99)
            )
        }
        _ => return Err(invalid("unknown shape")),
    };
    println!("{line}");
    Ok(0)
}

/// Registers `n` CONSISTENT names for `owner`, one after the other, timing each answer
/// (received by an external receiver, outside any worker).
fn register_times(
    node: &std::sync::Arc<starling::core::Node>,
    owner: Pid,
    n: u64,
) -> Result<Vec<u64>, ErrorValue> {
    let names = node
        .registry
        .cluster()
        .cloned()
        .ok_or_else(|| invalid("not clustered"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let host = node.host_id(HOST).ok_or_else(|| invalid("host"))?;
    let waiter = node.register_external(
        host,
        std::sync::Arc::new(move |env| {
            if let starling::core::Envelope::Wake { result, .. } = env {
                let _ = tx.lock().map(|t| t.send(result.is_ok()));
            }
        }),
    );
    let mut lat = Vec::with_capacity(n as usize);
    let run = now_us();
    for i in 0..n {
        let t0 = Instant::now();
        names.register(
            &format!("bench-{run}-{i}"),
            owner,
            starling::core::Scope::Consistent,
            starling::core::ReplyTo {
                pid: waiter,
                token: i,
            },
        )?;
        let ok = rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| invalid("no answer"))?;
        if !ok {
            return Err(invalid("registration failed"));
        }
        lat.push(t0.elapsed().as_nanos() as u64);
    }
    node.unregister_external(waiter);
    Ok(lat)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(name), Some(url)) = (args.first(), args.get(1)) else {
        eprintln!("usage: bench_cluster NODE NATS_URL [SHAPE ARGS...]");
        std::process::exit(2);
    };
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("wippy.lock"),
        "directories:\n    modules: .wippy\n    src: ./src\n",
    )
    .expect("lock");
    std::fs::create_dir_all(dir.path().join("src")).expect("src");
    std::fs::write(dir.path().join("src/_index.yaml"), ENTRIES).expect("entries");
    std::fs::write(dir.path().join("src/lpong.lua"), LPONG).expect("lpong");
    std::fs::write(dir.path().join("src/ldrive.lua"), LDRIVE).expect("ldrive");
    std::fs::write(dir.path().join(".wippy.yaml"), CONFIG).expect("config");
    let sets = vec![
        format!("cluster.name={name}"),
        format!("cluster.nats.urls={url}"),
    ];
    let build = || -> Result<Runtime, starling::KindError> {
        Runtime::project(dir.path())
            .load_options(starling::entry::LoadOptions {
                sets: sets.clone(),
                ..Default::default()
            })
            .native("bench:cpong", cpong)?
            .native("bench:csink", csink)?
            .native("bench:crelay", crelay)?
            .native("bench:cworker", cworker)?
            .native("bench:cclient", client)?
            .native("bench:victim", victim)?
            .native("bench:cdrive", drive)
    };
    let rt = match build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench_cluster: {e}");
            std::process::exit(1);
        }
    };
    let rt = match args.get(2).map(String::as_str) {
        None => rt,
        Some("pingpong-lua") => rt.exec("bench:ldrive", args[3..].to_vec()),
        Some(_) => rt.exec("bench:cdrive", args[2..].to_vec()),
    };
    match rt.run() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("bench_cluster: {e}");
            std::process::exit(1);
        }
    }
}
