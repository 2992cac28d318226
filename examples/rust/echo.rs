//! The Echo Service's processes in Rust (SPEC §10), shared by the `echo_native` and
//! `echo_mixed` examples: each registers some of them under the ids the Lua version uses.

use std::cell::Cell;
use std::io::{BufRead, Write};
use std::rc::Rc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use starling::{Context, ErrorValue, EventKind, Payload, Pid};

/// The hosts and the relay's service, as in `examples/echo-service/src/_index.yaml`; the
/// process entries are registered (Rust) or added (Lua) by each example.
pub(crate) const HOSTS: &str = r#"
version: "1.0"
namespace: app
entries:
  - name: terminal
    kind: terminal.host
    lifecycle:
      auto_start: true
  - name: processes
    kind: process.host
    lifecycle:
      auto_start: true
  - name: relay-service
    kind: process.service
    process: app:relay
    host: app:processes
    lifecycle:
      auto_start: true
"#;

/// What the CLI sends the relay: the same table a Lua CLI sends.
#[derive(Serialize, Deserialize)]
struct EchoRequest {
    sender: Pid,
    data: String,
}

/// What a worker sends the CLI.
#[derive(Serialize, Deserialize)]
struct EchoResponse {
    data: String,
    worker: String,
}

const RESET: &str = "\x1b[0m";

fn paint(code: &str, s: &str) -> String {
    format!("\x1b[{code}m{s}{RESET}")
}

/// Registers as `relay`; spawns a monitored worker per `echo` message; logs EXITs, and its
/// counts every 5 s from a task of its own.
pub(crate) async fn relay(ctx: Context, _args: Payload) -> Result<(), ErrorValue> {
    ctx.register("relay")?;
    ctx.info("relay started", &[("pid", json!(ctx.pid_string()))]);

    let messages = Rc::new(Cell::new(0u64));
    let spawned = Rc::new(Cell::new(0u64));
    {
        let (ctx, messages, spawned) = (ctx.clone(), messages.clone(), spawned.clone());
        ctx.clone().task(async move {
            loop {
                ctx.sleep(Duration::from_secs(5)).await;
                ctx.info(
                    "stats",
                    &[
                        ("messages", json!(messages.get())),
                        ("workers_spawned", json!(spawned.get())),
                    ],
                );
            }
        });
    }

    loop {
        tokio::select! {
            biased;
            msg = ctx.recv() => {
                if &*msg.topic != "echo" {
                    continue;
                }
                // A request that is not an echo request is ignored, as in the Lua relay.
                let Ok(req) = msg.payload.decode::<EchoRequest>() else {
                    continue;
                };
                messages.set(messages.get() + 1);
                match ctx
                    .spawn_monitored("app:worker", "app:processes", &(req.sender, req.data))
                    .await
                {
                    Ok(_) => spawned.set(spawned.get() + 1),
                    Err(e) => ctx.error("spawn failed", &[("error", json!(e.to_string()))]),
                }
            }
            event = ctx.event() => {
                if event.kind != EventKind::Exit {
                    continue;
                }
                let result = match event.result.as_ref().map(|r| r.result()) {
                    Some(Ok(p)) => json!({ "value": p.decode::<serde_json::Value>()? }),
                    Some(Err(e)) => json!({ "error": e.to_string() }),
                    None => json!(null),
                };
                let from = ctx.node().format_pid(event.from);
                ctx.info("worker exited", &[("from", json!(from)), ("result", result)]);
            }
        }
    }
}

/// Answers one line: waits 100 ms, then sends it back upper-cased, straight to the CLI.
pub(crate) async fn worker(ctx: Context, args: Payload) -> Result<i64, ErrorValue> {
    let (sender, data): (Pid, String) = args.decode()?;
    ctx.sleep(Duration::from_millis(100)).await;
    let reply = EchoResponse {
        data: data.to_uppercase(),
        worker: ctx.pid_string(),
    };
    ctx.send(sender, "echo_response", &reply)?;
    Ok(0)
}

/// Reads lines from stdin and prints each answer, until an empty line or end of input.
pub(crate) async fn cli(ctx: Context, _args: Payload) -> Result<i64, ErrorValue> {
    // Give the relay a moment to register its name.
    ctx.sleep(Duration::from_millis(200)).await;
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{}", paint("36", "Echo Client"));
    let _ = writeln!(
        out,
        "{}",
        paint("2", "Type messages to echo. Ctrl+C to exit.\n")
    );
    loop {
        let _ = write!(out, "{}", paint("33", "> "));
        let _ = out.flush();
        // Reading stdin blocks: it runs on a thread of its own, not on the worker.
        let line = ctx.blocking(read_line).await.flatten();
        let Some(line) = line.filter(|l| !l.is_empty()) else {
            break;
        };
        let request = EchoRequest {
            sender: ctx.pid(),
            data: line,
        };
        if ctx.send("relay", "echo", &request).is_err() {
            let _ = writeln!(out, "{}", paint("2", "  error: relay not available"));
            continue;
        }
        tokio::select! {
            msg = ctx.recv() => {
                if &*msg.topic == "echo_response" {
                    let reply: EchoResponse = msg.payload.decode()?;
                    let _ = writeln!(out, "{}", paint("32", &format!("  {}", reply.data)));
                    let _ = writeln!(out, "{}", paint("2", &format!("  from worker: {}", reply.worker)));
                }
            }
            _ = ctx.sleep(Duration::from_secs(2)) => {
                let _ = writeln!(out, "{}", paint("2", "  timeout"));
            }
        }
    }
    let _ = writeln!(out, "\nGoodbye!");
    let _ = out.flush();
    Ok(0)
}

/// One line of stdin without its line end; `None` at end of input.
fn read_line() -> Option<String> {
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            let end = line.trim_end_matches(['\n', '\r']).len();
            line.truncate(end);
            Some(line)
        }
    }
}
