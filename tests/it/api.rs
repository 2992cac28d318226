//! The Lua API surface is checked in: `tests/api_surface.txt` lists every global, module
//! field, constant and method. Adding or removing one fails this test until the listing is
//! updated (`STARLING_BLESS=1 cargo test --test it api_surface` rewrites it); review the diff
//! like any API change and test the new function from Lua.

use crate::support::{DEADLINE, repo, run_in_env};

#[test]
fn api_surface_matches_the_listing() {
    let out = run_in_env(
        &repo().join("tests/lua"),
        &["run", "-x", "test:api_surface"],
        "",
        DEADLINE,
        &[("STARLING_API_SURFACE", "1")],
    );
    out.expect_code(0);
    let path = repo().join("tests/api_surface.txt");
    if std::env::var_os("STARLING_BLESS").is_some() {
        std::fs::write(&path, &out.stdout).expect("write the listing");
        return;
    }
    let listed = std::fs::read_to_string(&path).expect("tests/api_surface.txt");
    if listed != out.stdout {
        let now: Vec<&str> = out.stdout.lines().collect();
        let was: Vec<&str> = listed.lines().collect();
        let added: Vec<&&str> = now.iter().filter(|l| !was.contains(l)).collect();
        let removed: Vec<&&str> = was.iter().filter(|l| !now.contains(l)).collect();
        panic!(
            "the Lua API changed; update tests/api_surface.txt (STARLING_BLESS=1) and test it\nadded: {added:#?}\nremoved: {removed:#?}"
        );
    }
}
