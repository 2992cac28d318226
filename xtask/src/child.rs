//! Runs one benchmark child: its stdout lines with arrival times, its stderr, its wall time
//! and its peak resident set size.
//!
//! The only unsafe code of the xtask lives here: `wait4(2)` and `kill(2)` through `libc`,
//! because std reports no rusage. Invariants:
//! - the pid passed to `wait4`/`kill` is our own, unreaped child: std never waits for it
//!   (we drop the `Child` handle without calling `wait`), and `kill` is only sent before the
//!   waiter thread has reported the reap;
//! - the `status` and `rusage` out-parameters are plain, zero-initialised locals.
#![allow(unsafe_code)]

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// What one finished child left behind.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    /// Each stdout line with the time it arrived, measured from the spawn.
    pub(crate) stdout: Vec<(Duration, String)>,
    pub(crate) stderr: String,
    /// From just before the spawn to the reap.
    pub(crate) wall: Duration,
    /// Peak resident set size in bytes (`ru_maxrss` of this child alone).
    pub(crate) max_rss: u64,
}

impl Finished {
    /// The stdout text, for error messages.
    pub(crate) fn stdout_text(&self) -> String {
        self.stdout
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Runs `cmd` with stdin closed and stdout/stderr captured; kills it after `timeout`.
pub(crate) fn run(cmd: &mut Command, timeout: Duration) -> Result<Finished> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    let pid = libc::pid_t::try_from(child.id()).expect("pids fit in pid_t");

    let stdout = child.stdout.take().expect("stdout is piped");
    let out = thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            lines.push((start.elapsed(), line));
        }
        lines
    });
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let err = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    });
    // The child is reaped with wait4 below, never through `child`.
    drop(child);

    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(wait4(pid));
    });
    let (reaped, timed_out) = match rx.recv_timeout(timeout) {
        Ok(r) => (r, false),
        Err(_) => {
            // SAFETY: `pid` is our child and has not been reaped (the waiter has not reported).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            (rx.recv().context("waiter thread vanished")?, true)
        }
    };
    let (status, max_rss_kb, end) = reaped?;
    let stdout = out.join().expect("stdout reader does not panic");
    let stderr = err.join().expect("stderr reader does not panic");
    if timed_out {
        bail!(
            "timed out after {timeout:?} and was killed: {cmd:?}\nstdout:\n{}\nstderr:\n{}",
            stdout
                .iter()
                .map(|(_, l)| l.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            tail(&stderr, 2000)
        );
    }
    Ok(Finished {
        status,
        stdout,
        stderr,
        wall: end - start,
        // Linux reports ru_maxrss in kilobytes.
        max_rss: max_rss_kb * 1024,
    })
}

/// Blocks until `pid` ends; returns its status, peak RSS in KB and the time of the reap.
fn wait4(pid: libc::pid_t) -> Result<(ExitStatus, u64, Instant)> {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid out-pointers to locals; `pid` is our own child (module invariants).
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        let end = Instant::now();
        if r == pid {
            let rss = u64::try_from(usage.ru_maxrss).unwrap_or(0);
            return Ok((ExitStatus::from_raw(status), rss, end));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e).context("wait4");
        }
    }
}

/// The last `max` bytes of `s` (on a char boundary), for error messages.
pub(crate) fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut i = s.len() - max;
    while !s.is_char_boundary(i) {
        i += 1;
    }
    &s[i..]
}
