//! Services (`process.service`, SPEC §2.4): start in dependency order, restart with backoff,
//! stop gracefully.
//!
//! Who calls whom: the control loop ([`crate::runtime`]) owns every [`Service`]. A service asks
//! its host's worker to spawn the child (monitored by the service's own pid, a control-plane
//! receiver), learns the child's pid from the spawn reply, and hears of its end as an EXIT
//! event. Restarts are timers of the control loop.
//!
//! States: `Unknown` → `Starting` → `Running` → `Stopping` → `Stopped`;
//! `Starting`/`Running` → `Failed` (will retry, or has given up) or `Exited` (final).

use std::time::{Duration, Instant};

use starling_core::{ErrorValue, HostId, Payload, Pid};
use starling_entry::{EntryId, Lifecycle};

/// Lifecycle state of a service.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Registered, not started yet (waiting for dependencies).
    Unknown,
    /// Spawn requested.
    Starting,
    /// The child is alive.
    Running,
    /// Asked to stop; waiting for the child to end.
    Stopping,
    /// Stopped on request.
    Stopped,
    /// Ended with an error; a restart is scheduled unless the policy gave up.
    Failed,
    /// Ended normally, or with a non-retryable error: never restarted.
    Exited,
}

impl State {
    /// Lower-case name for log lines.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Unknown => "unknown",
            State::Starting => "starting",
            State::Running => "running",
            State::Stopping => "stopping",
            State::Stopped => "stopped",
            State::Failed => "failed",
            State::Exited => "exited",
        }
    }
}

/// One supervised process.
#[derive(Debug)]
pub struct Service {
    /// Entry id of the service.
    pub id: EntryId,
    /// Entry id of the process it runs.
    pub process: String,
    /// Host it runs on (`None` when the host entry does not exist).
    pub host: Option<HostId>,
    /// Spawn arguments.
    pub input: Payload,
    /// The lifecycle block.
    pub lifecycle: Lifecycle,
    /// Indices of the services it requires (resolved), or `Err` naming a missing one.
    pub requires: Result<Vec<usize>, String>,
    /// The supervisor's own pid (allocated when first started).
    pub pid: Option<Pid>,
    /// Current state.
    pub state: State,
    /// The running child.
    pub child: Option<Pid>,
    /// Token of the spawn request in flight.
    pub pending: Option<u64>,
    /// Start attempts so far (the first start counts).
    pub attempts: u32,
    /// Consecutive failures (reset by a run longer than `stable_threshold`).
    pub failures: u32,
    /// When the current child started.
    pub started: Option<Instant>,
    /// When a scheduled restart is due.
    pub restart_at: Option<Instant>,
}

impl Service {
    /// True when `auto_start` is set.
    pub fn auto_start(&self) -> bool {
        self.lifecycle.auto_start
    }

    /// Records a failure and decides the next step: `Some(delay)` to restart, `None` to stop.
    /// `err` is the child's error, or `None` when the spawn itself failed (always retried).
    pub fn on_failure(
        &mut self,
        err: Option<&ErrorValue>,
        now: Instant,
        random: f64,
    ) -> Option<Duration> {
        if let Some(started) = self.started {
            if now.duration_since(started) >= self.lifecycle.stable_threshold {
                self.failures = 0;
            }
        }
        self.failures += 1;
        self.child = None;
        self.started = None;
        if err.is_some_and(|e| e.retryable == Some(false)) {
            self.state = State::Exited;
            return None;
        }
        self.state = State::Failed;
        let max = self.lifecycle.restart.max_attempts;
        if max > 0 && self.attempts >= max {
            return None;
        }
        Some(backoff(&self.lifecycle, self.failures, random))
    }
}

/// Delay before the restart after the `n`-th consecutive failure (SPEC §2.4):
/// `min(initial × factor^(n−1), max)` times a uniform factor in `[1 − jitter, 1 + jitter]`,
/// where `random` is uniform in `[0, 1)`.
pub fn backoff(l: &Lifecycle, n: u32, random: f64) -> Duration {
    let r = &l.restart;
    let base = r.initial_delay.as_secs_f64() * r.backoff_factor.powi(n.saturating_sub(1) as i32);
    let capped = base.min(r.max_delay.as_secs_f64());
    let spread = 1.0 + r.jitter * (2.0 * random - 1.0);
    Duration::from_secs_f64((capped * spread).max(0.0))
}

/// A small xorshift generator for jitter (no need for a crypto-grade source).
#[derive(Debug)]
pub struct Jitter(u64);

impl Jitter {
    /// Seeded from the clock.
    pub fn new() -> Jitter {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        Jitter(seed | 1)
    }

    /// Uniform in `[0, 1)`.
    pub fn sample(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Default for Jitter {
    fn default() -> Self {
        Jitter::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use starling_entry::{RestartPolicy, Startup};

    fn lifecycle() -> Lifecycle {
        Lifecycle {
            auto_start: true,
            start_timeout: Duration::from_secs(10),
            stop_timeout: Duration::from_secs(10),
            stable_threshold: Duration::from_secs(5),
            requires: Vec::new(),
            startup: Startup::Required,
            restart: RestartPolicy {
                initial_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(90),
                backoff_factor: 2.0,
                jitter: 0.1,
                max_attempts: 0,
            },
        }
    }

    #[test]
    fn backoff_grows_and_caps() {
        let l = lifecycle();
        assert_eq!(backoff(&l, 1, 0.5), Duration::from_secs(1));
        assert_eq!(backoff(&l, 3, 0.5), Duration::from_secs(4));
        assert_eq!(backoff(&l, 20, 0.5), Duration::from_secs(90));
        assert!(backoff(&l, 1, 0.0) >= Duration::from_millis(899));
        assert!(backoff(&l, 1, 0.999) <= Duration::from_millis(1101));
    }

    #[test]
    fn jitter_stays_in_range() {
        let mut j = Jitter::new();
        for _ in 0..1000 {
            let x = j.sample();
            assert!((0.0..1.0).contains(&x));
        }
    }
}
