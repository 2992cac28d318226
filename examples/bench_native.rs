//! The benchmark shapes of `bench/` (and of the Erlang peer) with native Rust processes, so
//! the cost of Lua shows beside them. Prints the same lines as `starling run -x bench:main`:
//!
//! ```text
//! cargo run --release --example bench_native -- spawn 200000
//! cargo run --release --example bench_native -- echo 100 1000
//! cargo run --release --example bench_native -- pingpong 200000
//! cargo run --release --example bench_native -- idlehold 100000
//! ```
//!
//! It runs the `bench/` project (its hosts and limits) with these processes added; like
//! there, the exec process on the terminal host starts a driver on `bench:processes` and
//! prints the line the driver sends back. `cargo xtask bench` runs it beside the Lua app.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use starling::{Context, ErrorKind, ErrorValue, EventKind, Payload, Pid, Runtime};

// The allocator and memory set-up the `starling` command uses, so the two columns compare
// engines, not allocators.
#[global_allocator]
static ALLOC: starling::memory::Allocator = starling::memory::Allocator;

const HOST: &str = "bench:processes";

fn invalid(msg: impl Into<String>) -> ErrorValue {
    ErrorValue::new(ErrorKind::Invalid, msg)
}

/// Exec entry: starts the driver of the mode, waits for its line and prints it.
async fn main_proc(ctx: Context, args: Payload) -> Result<(), ErrorValue> {
    let args: Vec<String> = if args.is_empty() {
        Vec::new()
    } else {
        args.decode()?
    };
    let (entry, rest) = match args.first().map(String::as_str) {
        Some("spawn") => ("bench:native_spawn", &args[1..]),
        Some("echo") => ("bench:native_echo", &args[1..]),
        Some("pingpong") => ("bench:native_pingpong", &args[1..]),
        Some("idlehold") => ("bench:native_idlehold", &args[1..]),
        _ => {
            return Err(invalid(
                "usage: bench_native spawn N | echo C M | pingpong N | idlehold N",
            ));
        }
    };
    let nums: Vec<u64> = rest
        .iter()
        .map(|s| s.parse().map_err(|_| invalid(format!("not a count: {s}"))))
        .collect::<Result<_, _>>()?;
    ctx.spawn_builder(entry, HOST)
        .args(&(ctx.pid(), nums))
        .monitor()
        .await?;
    loop {
        tokio::select! {
            msg = ctx.recv() => {
                if &*msg.topic == "result" {
                    let line: String = msg.payload.decode()?;
                    println!("{line}");
                    return Ok(());
                }
            }
            ev = ctx.event() => {
                if let Some(Err(e)) = ev.result.as_ref().map(|r| r.result()) {
                    return Err(e.clone());
                }
            }
        }
    }
}

/// spawn N: N monitored children that return at once; waits for every EXIT.
async fn spawn_driver(ctx: Context, args: Payload) -> Result<(), ErrorValue> {
    let (parent, nums): (Pid, Vec<u64>) = args.decode()?;
    let n = *nums.first().ok_or_else(|| invalid("spawn N"))?;
    let t0 = Instant::now();
    for _ in 0..n {
        ctx.spawn_monitored("bench:native_noop", HOST, &()).await?;
    }
    let mut left = n;
    while left > 0 {
        if ctx.event().await.kind == EventKind::Exit {
            left -= 1;
        }
    }
    let us = t0.elapsed().as_secs_f64() * 1e6;
    let line = format!(
        "spawn_monitored+exit: {} per s ({:.3} us each)",
        (n as f64 * 1e6 / us) as u64,
        us / n as f64
    );
    ctx.send(parent, "result", &line)?;
    Ok(())
}

async fn noop(_ctx: Context, _args: Payload) -> Result<i64, ErrorValue> {
    Ok(0)
}

/// idlehold N: N processes parked on their inbox for 500 ms.
async fn idlehold_driver(ctx: Context, args: Payload) -> Result<(), ErrorValue> {
    let (parent, nums): (Pid, Vec<u64>) = args.decode()?;
    let n = *nums.first().ok_or_else(|| invalid("idlehold N"))?;
    for _ in 0..n {
        ctx.spawn("bench:native_idle", HOST, &()).await?;
    }
    ctx.sleep(Duration::from_millis(500)).await;
    ctx.send(parent, "result", &format!("idle ready: {n}"))?;
    Ok(())
}

async fn idle(ctx: Context, _args: Payload) -> Result<(), ErrorValue> {
    ctx.recv().await;
    Ok(())
}

/// pingpong N: N sequential round trips with one other process.
async fn pingpong_driver(ctx: Context, args: Payload) -> Result<(), ErrorValue> {
    let (parent, nums): (Pid, Vec<u64>) = args.decode()?;
    let n = *nums.first().ok_or_else(|| invalid("pingpong N"))?;
    let p = ctx.spawn("bench:native_ponger", HOST, &()).await?;
    let t0 = Instant::now();
    for _ in 0..n {
        ctx.send_payload(p, "ping", Payload::empty())?;
        ctx.recv().await;
    }
    let ns = t0.elapsed().as_nanos() as f64;
    ctx.send_payload(p, "stop", Payload::empty())?;
    let line = format!("pingpong roundtrip: {:.3} us", ns / 1000.0 / n as f64);
    ctx.send(parent, "result", &line)?;
    Ok(())
}

async fn ponger(ctx: Context, _args: Payload) -> Result<(), ErrorValue> {
    loop {
        let msg = ctx.recv().await;
        if &*msg.topic == "stop" {
            return Ok(());
        }
        if let Some(from) = msg.from {
            ctx.send_payload(from, "pong", Payload::empty())?;
        }
    }
}

#[derive(Serialize, Deserialize)]
struct EchoRequest {
    sender: Pid,
    data: String,
}

#[derive(Serialize, Deserialize)]
struct EchoResponse {
    data: String,
    worker: Pid,
}

/// echo C M: a relay registered as "relay" spawns a monitored worker per request; the worker
/// upper-cases the text and replies straight to the client; C clients time M requests each.
async fn echo_driver(ctx: Context, args: Payload) -> Result<(), ErrorValue> {
    let (parent, nums): (Pid, Vec<u64>) = args.decode()?;
    let (c, m) = match nums[..] {
        [c, m] => (c, m),
        _ => return Err(invalid("echo C M")),
    };
    ctx.spawn("bench:native_relay", HOST, &ctx.pid()).await?;
    while &*ctx.recv().await.topic != "relay_ready" {}
    let t0 = Instant::now();
    for _ in 0..c {
        ctx.spawn_monitored("bench:native_client", HOST, &(ctx.pid(), m))
            .await?;
    }
    let mut all: Vec<u64> = Vec::with_capacity((c * m) as usize);
    let mut done = 0;
    while done < c {
        let msg = ctx.recv().await;
        if &*msg.topic == "done" {
            let lat: Vec<u64> = msg.payload.decode()?;
            all.extend(lat);
            done += 1;
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    ctx.send_payload("relay", "stop", Payload::empty())?;
    all.sort_unstable();
    let rank = |k: usize| all[k.max(1) - 1] as f64 / 1000.0;
    let len = all.len();
    let line = format!(
        "echo: {c} clients x {m}: {} req/s, p50 {:.1} us, p99 {:.1} us",
        ((c * m) as f64 / elapsed) as u64,
        rank(len / 2),
        rank(len * 99 / 100)
    );
    ctx.send(parent, "result", &line)?;
    Ok(())
}

async fn relay(ctx: Context, args: Payload) -> Result<(), ErrorValue> {
    let parent: Pid = args.decode()?;
    ctx.register("relay")?;
    ctx.send_payload(parent, "relay_ready", Payload::empty())?;
    loop {
        tokio::select! {
            msg = ctx.recv() => match &*msg.topic {
                "echo" => {
                    let req: EchoRequest = msg.payload.decode()?;
                    ctx.spawn_monitored("bench:native_worker", HOST, &(req.sender, req.data))
                        .await?;
                }
                "stop" => return Ok(()),
                _ => {}
            },
            // EXIT events are read and dropped, as the Erlang relay drops 'DOWN'.
            _ = ctx.event() => {}
        }
    }
}

async fn worker(ctx: Context, args: Payload) -> Result<i64, ErrorValue> {
    let (sender, data): (Pid, String) = args.decode()?;
    let reply = EchoResponse {
        data: data.to_uppercase(),
        worker: ctx.pid(),
    };
    ctx.send(sender, "echo_response", &reply)?;
    Ok(0)
}

async fn client(ctx: Context, args: Payload) -> Result<(), ErrorValue> {
    let (parent, m): (Pid, u64) = args.decode()?;
    let mut lat = Vec::with_capacity(m as usize);
    for _ in 0..m {
        let t0 = Instant::now();
        let req = EchoRequest {
            sender: ctx.pid(),
            data: "hello world".into(),
        };
        ctx.send("relay", "echo", &req)?;
        ctx.recv().await;
        lat.push(t0.elapsed().as_nanos() as u64);
    }
    ctx.send(parent, "done", &lat)?;
    Ok(())
}

fn build(args: Vec<String>) -> Result<Runtime, starling::KindError> {
    let rt = Runtime::project(concat!(env!("CARGO_MANIFEST_DIR"), "/bench"))
        .native("bench:native_main", main_proc)?
        .native("bench:native_spawn", spawn_driver)?
        .native("bench:native_noop", noop)?
        .native("bench:native_idlehold", idlehold_driver)?
        .native("bench:native_idle", idle)?
        .native("bench:native_pingpong", pingpong_driver)?
        .native("bench:native_ponger", ponger)?
        .native("bench:native_echo", echo_driver)?
        .native("bench:native_relay", relay)?
        .native("bench:native_worker", worker)?
        .native("bench:native_client", client)?;
    Ok(rt.exec("bench:native_main", args))
}

fn main() {
    starling::memory::disable_transparent_huge_pages();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match build(args) {
        Ok(rt) => rt.run().unwrap_or_else(|e| {
            eprintln!("bench_native: {e}");
            1
        }),
        Err(e) => {
            eprintln!("bench_native: {e}");
            2
        }
    };
    std::process::exit(code);
}
