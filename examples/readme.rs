//! The Rust example of README.md, as written there: a worker in Rust for the Echo Service's
//! Lua CLI and relay (`examples/echo-rust-worker`).
//!
//! ```text
//! printf 'hello world\n' | cargo run --example readme
//! ```

// README begin
use serde::Serialize;
use starling::{Context, ErrorValue, Payload, Pid, Runtime};

/// The reply the Echo Service's Lua CLI prints: `{data = ..., worker = ...}`.
#[derive(Serialize)]
struct EchoResponse {
    data: String,
    worker: String,
}

async fn worker(ctx: Context, args: Payload) -> Result<i64, ErrorValue> {
    let (sender, data): (Pid, String) = args.decode()?;
    let reply = EchoResponse {
        data: data.to_uppercase(),
        worker: ctx.pid_string(),
    };
    ctx.send(sender, "echo_response", &reply)?;
    Ok(0)
}
// README end

fn main() -> Result<(), Box<dyn std::error::Error>> {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR"))?;
    // README begin
    // The Echo Service's hosts, CLI and relay in Lua; its YAML names app:worker, defined here.
    let code = Runtime::project("examples/echo-rust-worker")
        .native("app:worker", worker)?
        .exec("app:cli", Vec::new())
        .run()?;
    // README end
    std::process::exit(code);
}
