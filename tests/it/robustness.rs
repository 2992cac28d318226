//! Robustness under load (issue 4): message floods and a small soak of the Echo Service shape.

use std::time::Duration;

use crate::support::{repo, run_in};

/// Each process killed for a full mailbox is logged once, as a warning naming it and the limit
/// (the behaviour itself is checked from Lua by `test:process_mailbox_limit`).
#[test]
fn mailbox_overflow_logs_one_warning_per_killed_process() {
    let out = run_in(
        &repo().join("tests/lua"),
        &["run", "-x", "test:process_mailbox_limit"],
        "",
        Duration::from_secs(60),
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
            w.contains("killed: mailbox overflow: more than 100 messages queued (host.max_mailbox of test:small)"),
            "{w}"
        );
        assert!(w.contains("process {test:small|0x"), "{w}");
    }
}
