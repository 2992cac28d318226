//! The Echo Service with Lua and Rust processes mixed in one runtime.
//!
//! The Lua processes are the files of `examples/echo-service/src`, unchanged; the Rust ones
//! are in `examples/rust/echo.rs`. Which side each process is on is the first argument:
//!
//! | argument | CLI | relay | workers |
//! | --- | --- | --- | --- |
//! | (none) or `rust-relay` | Lua | Rust | Rust |
//! | `lua-workers` | Lua | Rust | Lua |
//! | `rust-cli` | Rust | Lua | Lua |
//!
//! ```text
//! printf 'hello world\n' | cargo run --release --example echo_mixed
//! printf 'hello world\n' | cargo run --release --example echo_mixed -- rust-cli
//! ```

#[path = "rust/echo.rs"]
mod echo;

use starling::{KindError, Runtime};

/// The Lua entries, as in `examples/echo-service/src/_index.yaml`.
fn lua_entry(name: &str) -> String {
    let modules = match name {
        "cli" => "[io, process, time, channel]",
        "relay" => "[process, logger, time, channel]",
        _ => "[process, time]",
    };
    format!(
        "version: \"1.0\"\nnamespace: app\nentries:\n  - name: {name}\n    kind: process.lua\n    source: file://{name}.lua\n    method: main\n    modules: {modules}\n"
    )
}

fn build(mode: &str) -> Result<Runtime, String> {
    let (lua, rust): (&[&str], &[&str]) = match mode {
        "rust-relay" => (&["cli"], &["relay", "worker"]),
        "lua-workers" => (&["cli", "worker"], &["relay"]),
        "rust-cli" => (&["relay", "worker"], &["cli"]),
        other => {
            return Err(format!(
                "unknown mode {other:?} (rust-relay, lua-workers or rust-cli)"
            ));
        }
    };
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/echo-service/src");
    let mut rt = Runtime::new()
        .base(src)
        .definitions("echo_mixed.yaml", echo::HOSTS);
    for name in lua {
        rt = rt.definitions(&format!("{name}.yaml"), &lua_entry(name));
    }
    let register = |rt: Runtime, name: &str| -> Result<Runtime, KindError> {
        let id = format!("app:{name}");
        match name {
            "relay" => rt.native(&id, echo::relay),
            "worker" => rt.native(&id, echo::worker),
            _ => rt.native(&id, echo::cli),
        }
    };
    for name in rust {
        rt = register(rt, name).map_err(|e| e.to_string())?;
    }
    Ok(rt.exec("app:cli", Vec::new()))
}

fn main() {
    let mode = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "rust-relay".into());
    let code = match build(&mode) {
        Ok(rt) => rt.run().unwrap_or_else(|e| {
            eprintln!("echo_mixed: {e}");
            1
        }),
        Err(e) => {
            eprintln!("echo_mixed: {e}");
            2
        }
    };
    std::process::exit(code);
}
