//! The bodies of Starling's fuzz targets, one module per target.
//!
//! Each `run(data)` takes the raw bytes libFuzzer hands a target and panics only when Starling
//! misbehaves: a panic inside Starling, or a broken invariant checked here (a round trip that
//! changes a value, a load that answers differently twice). Errors Starling returns are fine.
//! The binaries in `fuzz_targets/` are one line each, and `tests/regressions.rs` replays the
//! saved inputs in `regressions/` through the same functions on the stable toolchain.
//!
//! Not part of the workspace: `cargo fuzz` builds it with nightly-only flags.

pub mod duration;
pub mod payload;
pub mod time_layout;
pub mod yaml_loader;

/// Runs `target` on `data` by name, for the replay test and `fuzz/run`.
pub fn run(target: &str, data: &[u8]) {
    match target {
        "duration" => duration::run(data),
        "payload" => payload::run(data),
        "time_layout" => time_layout::run(data),
        "yaml_loader" => yaml_loader::run(data),
        other => panic!("no fuzz target named {other}"),
    }
}

/// Every target name, as the binaries and the corpus directories spell them.
pub const TARGETS: [&str; 4] = ["duration", "payload", "time_layout", "yaml_loader"];
