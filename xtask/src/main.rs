//! Chores for the Starling workspace, run as `cargo xtask <command>` (alias in
//! `.cargo/config.toml`).
//!
//! - `bench [--quick] [--runs N] [--no-erlang] [--no-build] [--no-cluster] [--cluster-only]`: builds the release binary, runs
//!   every shape of the benchmark app in `bench/` and, when `erl`/`erlc` are on `PATH`, the
//!   Erlang/OTP peer (`echo_erl.erl`) with the same parameters, then prints a side-by-side table;
//!   then the cluster section (`cluster_bench`: nodes on one `nats-server`) unless
//!   `--no-cluster`.
//! - `bench-http [--quick] [--runs N] [--duration S] [--connections C] [--threads T]
//!   [--no-openresty] [--no-build]`: the HTTP app in `bench/http/` and OpenResty serving the
//!   same handlers, loaded by `wrk`.
//! - `test [ARGS...]`: installs `nats-server` when missing, then `cargo test --workspace
//!   --no-fail-fast ARGS...` (the README's test command; `.ci/run` runs it).
//! - `soak [--requests N] [--clients C] [--tolerance PCT] [--no-build]`: a long Echo Service
//!   run that fails on a lost or duplicated reply or on memory growth after warm-up.

mod bench;
mod bench_http;
mod child;
mod cluster_bench;
mod fmt;
mod soak;
mod test;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test [ARGS...]
        the whole test suite: installs nats-server when missing (apt-get, as root or with
        sudo -n), then cargo test --workspace --no-fail-fast ARGS...
  bench [--quick] [--runs N] [--no-erlang] [--no-build] [--no-cluster] [--cluster-only]
        run the benchmark app in bench/ and the Erlang/OTP peer side by side
        --quick      small sizes, one run each (CI smoke test, well under a minute)
        --runs N     runs per shape; the table shows medians (default 3, quick 1)
        --no-erlang  skip the Erlang peer even if erl/erlc are on PATH
        --no-build   use the existing target/release/starling
        env STARLING_PEERS: directory holding echo_erl.erl (default ../shared/peers)
  bench-http [--quick] [--runs N] [--duration S] [--connections C] [--threads T]
             [--no-openresty] [--no-build]
        GET /hello and POST /echo of bench/http/ under wrk, beside OpenResty (nginx + Lua)
        serving the same handlers; defaults: 3 runs of 10 s, 64 connections, 2 wrk threads
  soak [--requests N] [--clients C] [--tolerance PCT] [--no-build]
        N requests (default 10000000) from C clients (default 1000) through the Echo Service
        shape; fails if a reply is lost or duplicated, or if RSS grows more than PCT percent
        (default 10) between 10% and 100% of the requests";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("bench") => bench::Options::parse(&args[1..]).and_then(bench::run),
        Some("bench-http") => bench_http::Options::parse(&args[1..]).and_then(bench_http::run),
        Some("soak") => soak::Options::parse(&args[1..]).and_then(soak::run),
        Some("test") => test::run(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(anyhow::anyhow!("unknown command `{other}`\n\n{USAGE}")),
        None => Err(anyhow::anyhow!("no command given\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}
