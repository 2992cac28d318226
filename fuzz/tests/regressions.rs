//! Replays every saved input in `regressions/<target>/` (crashes the fuzzers found, each fixed
//! and also covered by a unit test beside the code) and `seeds/<target>/` through the target
//! bodies, on the stable toolchain: `cargo test --manifest-path fuzz/Cargo.toml`.

use std::fs;
use std::path::Path;

#[test]
fn saved_inputs_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut count = 0;
    for dir in ["regressions", "seeds"] {
        for target in starling_fuzz::TARGETS {
            let Ok(files) = fs::read_dir(root.join(dir).join(target)) else {
                continue;
            };
            let mut paths: Vec<_> = files.map(|f| f.expect("directory entry").path()).collect();
            paths.sort();
            for path in paths {
                let data = fs::read(&path).expect("saved input");
                eprintln!("{target}: {}", path.display());
                starling_fuzz::run(target, &data);
                count += 1;
            }
        }
    }
    assert!(count > 0, "no saved inputs found");
}
