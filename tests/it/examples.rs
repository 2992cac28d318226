//! The examples run end to end against golden transcripts: `examples/<app>/transcripts/<case>.*`
//! holds the stdin, the expected stdout (byte for byte) and the expected stderr with log
//! timestamps replaced by `<time>`.

use std::path::Path;

use crate::support::{DEADLINE, repo, run_in};

/// Replaces the leading `YYYY-MM-DD HH:MM:SS` of each log line with `<time>`.
pub(crate) fn mask_times(s: &str) -> String {
    s.lines()
        .map(|l| {
            let b = l.as_bytes();
            let is_ts = b.len() >= 19
                && b[..19].iter().enumerate().all(|(i, c)| match i {
                    4 | 7 => *c == b'-',
                    10 => *c == b' ',
                    13 | 16 => *c == b':',
                    _ => c.is_ascii_digit(),
                });
            if is_ts {
                format!("<time>{}", &l[19..])
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect()
}

fn check_transcript(app: &str, case: &str, args: &[&str]) {
    let dir = repo().join("examples").join(app);
    let t = dir.join("transcripts");
    let read = |ext: &str| {
        std::fs::read_to_string(t.join(format!("{case}.{ext}"))).expect("transcript file")
    };
    let out = run_in(&dir, args, &read("stdin"), DEADLINE);
    out.expect_code(0);
    assert_eq!(
        out.stdout,
        read("stdout"),
        "stdout differs for {app}/{case}"
    );
    assert_eq!(
        mask_times(&out.stderr),
        read("stderr"),
        "stderr differs for {app}/{case}"
    );
}

#[test]
fn echo_service_two_lines() {
    check_transcript("echo-service", "two-lines", &["run", "-x", "app:cli"]);
}

#[test]
fn echo_service_long_exec_form_and_immediate_eof() {
    check_transcript(
        "echo-service",
        "eof",
        &["run", "-x", "app:terminal/app:cli"],
    );
}

#[test]
fn echo_service_empty_line_ends_the_session() {
    let dir = repo().join("examples/echo-service");
    let out = run_in(&dir, &["run", "-x", "app:cli"], "\nignored\n", DEADLINE);
    out.expect_code(0);
    assert!(out.stdout.ends_with("\nGoodbye!\n"), "{}", out.stdout);
    assert!(!out.stdout.contains("IGNORED"));
}

#[test]
fn every_example_has_a_transcript() {
    for entry in std::fs::read_dir(repo().join("examples")).expect("examples dir") {
        let path = entry.expect("dir entry").path();
        // Project directories; `examples/rust/` holds the Rust examples' shared code and
        // `examples/echo-rust-worker/` is the project of README's Rust example, whose runs
        // are checked in tests/it/native.rs.
        if path.join("wippy.lock").is_file() && !path.ends_with("echo-rust-worker") {
            assert!(
                Path::new(&path.join("transcripts")).is_dir(),
                "{} has no transcripts",
                path.display()
            );
        }
    }
}

#[test]
fn supervision_backoff_until_the_service_gives_up() {
    check_transcript("supervision", "backoff", &["run", "-x", "app:backoff"]);
}

#[test]
fn supervision_links_and_trap_links() {
    check_transcript("supervision", "links", &["run", "-x", "app:links"]);
}
