//! `starling version` (Wippy's `wippy version`).

use crate::cli::args::VersionArgs;

pub(crate) fn version(a: VersionArgs) -> anyhow::Result<i32> {
    let v = env!("CARGO_PKG_VERSION");
    if a.short {
        println!("{v}");
    } else {
        println!("starling {v}");
        println!("runs Wippy applications (YAML entries + Lua, Luau engine)");
        println!(
            "target: {}-{}",
            std::env::consts::ARCH,
            std::env::consts::OS
        );
    }
    Ok(0)
}
