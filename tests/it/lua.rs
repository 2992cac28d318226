//! Lua behaviour tests: each `test:<name>` entry of `tests/lua` runs through the binary and
//! passes when it exits 0. The list below must name every test script (checked by
//! `every_script_is_listed`).

use std::time::Duration;

use crate::support::{repo, run_in};

fn run_lua_test(name: &str) {
    let dir = repo().join("tests/lua");
    let out = run_in(&dir, &["run", "-x", &format!("test:{name}")], "", Duration::from_secs(30));
    out.expect_code(0);
}

macro_rules! lua_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_lua_test(stringify!($name));
            }
        )*
        const LISTED: &[&str] = &[$(stringify!($name)),*];
    };
}

lua_tests!(process_basics, channels);

#[test]
fn every_script_is_listed() {
    let src = repo().join("tests/lua/src");
    let mut scripts: Vec<String> = std::fs::read_dir(&src)
        .expect("tests/lua/src")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".lua").map(str::to_string))
        .collect();
    scripts.sort();
    let mut listed: Vec<String> = LISTED.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(scripts, listed, "tests/lua/src scripts and the lua_tests! list differ");
}
