//! Robustness under load (issue 4): message floods and a small soak of the Echo Service shape.

use crate::support::{DEADLINE, repo, run_in};

/// Each process killed for a full mailbox is logged once, as a warning naming it and the limit
/// (the behaviour itself is checked from Lua by `test:process_mailbox_limit`).
#[test]
fn mailbox_overflow_logs_one_warning_per_killed_process() {
    let out = run_in(
        &repo().join("tests/lua"),
        &["run", "-x", "test:process_mailbox_limit"],
        "",
        DEADLINE,
    );
    out.expect_code(0);
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("mailbox overflow"))
        .collect();
    assert_eq!(warnings.len(), 2, "stderr:\n{}", out.stderr);
    for w in warnings {
        assert!(w.contains("WARN"), "{w}");
        assert!(
            w.contains("killed: mailbox overflow: more than 100 messages queued (host.max_mailbox of test:small_mailbox)"),
            "{w}"
        );
        assert!(w.contains("process {test:small_mailbox|0x"), "{w}");
    }
}

/// The soak of `cargo xtask soak` at CI size: 1,000 clients x 20 requests through the Echo
/// Service shape of `bench/`, every reply checked by its client (sequence number and text),
/// every worker's EXIT counted by the relay, nothing extra arriving afterwards.
#[test]
fn soak_every_request_answered_exactly_once() {
    let out = run_in(
        &repo().join("bench"),
        &["run", "-x", "bench:main", "soak", "1000", "20"],
        "",
        DEADLINE * 2,
    );
    out.expect_code(0);
    let last = out.stdout.lines().last().unwrap_or("");
    assert!(
        last.starts_with(
            "soak: 1000 clients x 20: 20000 answered, 0 duplicated, 20000 workers ok, 0 failed,"
        ),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    let tenths = out
        .stdout
        .lines()
        .filter(|l| l.contains("% answered ("))
        .count();
    assert_eq!(tenths, 10, "one progress line per tenth:\n{}", out.stdout);
}
