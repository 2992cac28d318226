//! Runs one benchmark child: its stdout lines with arrival times, its stderr, its wall time,
//! its peak resident set size and, on request, its resident set size sampled over time.
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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
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
    /// Resident set size in bytes (`VmRSS`) with the time it was read, measured from the
    /// spawn; empty unless sampling was asked for ([`run_sampled`]).
    pub(crate) rss: Vec<(Duration, u64)>,
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
    run_sampled(cmd, timeout, None)
}

/// [`run`], also reading the child's `VmRSS` from `/proc/<pid>/status` every `every`.
pub(crate) fn run_sampled(
    cmd: &mut Command,
    timeout: Duration,
    every: Option<Duration>,
) -> Result<Finished> {
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

    // Set right after the reap, so the sampler stops before the pid can be reused.
    let reaped_flag = Arc::new(AtomicBool::new(false));
    let sampler = every.map(|every| {
        let reaped = reaped_flag.clone();
        thread::spawn(move || {
            let path = format!("/proc/{pid}/status");
            let mut samples = Vec::new();
            while !reaped.load(Ordering::SeqCst) {
                let at = start.elapsed();
                let Some(rss) = std::fs::read_to_string(&path).ok().and_then(|s| vm_rss(&s)) else {
                    break;
                };
                if reaped.load(Ordering::SeqCst) {
                    break;
                }
                samples.push((at, rss));
                thread::sleep(every);
            }
            samples
        })
    });
    let (tx, rx) = mpsc::channel();
    let flag = reaped_flag.clone();
    thread::spawn(move || {
        let r = wait4(pid);
        flag.store(true, Ordering::SeqCst);
        let _ = tx.send(r);
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
    let rss = sampler
        .map(|t| t.join().expect("sampler does not panic"))
        .unwrap_or_default();
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
        rss,
    })
}

/// `VmRSS` in bytes from the text of `/proc/<pid>/status` (absent once the child is a zombie).
fn vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss() {
        let status = "Name:\tstarling\nVmPeak:\t  20000 kB\nVmRSS:\t   12345 kB\nThreads:\t4\n";
        assert_eq!(vm_rss(status), Some(12345 * 1024));
        assert_eq!(vm_rss("Name:\tzombie\nState:\tZ (zombie)\n"), None);
    }
}
