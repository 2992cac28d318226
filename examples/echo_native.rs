//! The Echo Service (SPEC §10) with every process written in Rust.
//!
//! Same shape and same transcript as `examples/echo-service` (Lua): the CLI sends each line
//! to the process registered as `relay`; the relay spawns a monitored worker per line and logs
//! each worker's EXIT; the worker upper-cases the line and answers the CLI directly. The
//! processes are in `examples/rust/echo.rs`.
//!
//! ```text
//! cargo run --release --example echo_native
//! printf 'hello world\n' | cargo run --release --example echo_native
//! ```

#[path = "rust/echo.rs"]
mod echo;

use starling::Runtime;

fn main() {
    let runtime = Runtime::new()
        .definitions("echo_native.yaml", echo::HOSTS)
        .native("app:relay", echo::relay)
        .and_then(|rt| rt.native("app:worker", echo::worker))
        .and_then(|rt| rt.native("app:cli", echo::cli));
    let code = match runtime {
        Ok(rt) => rt.exec("app:cli", Vec::new()).run().unwrap_or_else(|e| {
            eprintln!("echo_native: {e}");
            1
        }),
        Err(e) => {
            eprintln!("echo_native: {e}");
            1
        }
    };
    std::process::exit(code);
}
