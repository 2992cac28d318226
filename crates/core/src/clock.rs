//! The runtime's clock: real time, or a virtual clock that tests advance by hand.
//!
//! Workers read the time only through a [`Clock`] (timers, the idle poll window), so a test
//! can run the scheduler on virtual time: timers fire exactly when the test moves the clock
//! past them, and never because the machine was slow (tokio's `start_paused` does the same).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Where the time comes from.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The operating system's monotonic clock.
    #[default]
    Real,
    /// A clock that stands still until [`VirtualClock::advance`] moves it.
    Virtual(Arc<VirtualClock>),
}

impl Clock {
    /// A new virtual clock, and the handle that moves it.
    pub fn manual() -> (Clock, Arc<VirtualClock>) {
        let v = Arc::new(VirtualClock {
            origin: Instant::now(),
            offset_ns: AtomicU64::new(0),
        });
        (Clock::Virtual(v.clone()), v)
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        match self {
            Clock::Real => Instant::now(),
            Clock::Virtual(v) => v.now(),
        }
    }

    /// True for a virtual clock (a worker then never parks waiting for a deadline).
    pub fn is_virtual(&self) -> bool {
        matches!(self, Clock::Virtual(_))
    }
}

/// A clock moved by hand: it starts at the moment it was made and stands still.
#[derive(Debug)]
pub struct VirtualClock {
    origin: Instant,
    offset_ns: AtomicU64,
}

impl VirtualClock {
    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.origin + Duration::from_nanos(self.offset_ns.load(Ordering::SeqCst))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.offset_ns.fetch_add(ns, Ordering::SeqCst);
    }

    /// Time elapsed since the clock was made.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.offset_ns.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_virtual_clock_moves_only_when_advanced() {
        let (clock, handle) = Clock::manual();
        let t0 = clock.now();
        assert_eq!(clock.now(), t0);
        handle.advance(Duration::from_millis(250));
        assert_eq!(clock.now() - t0, Duration::from_millis(250));
        assert_eq!(handle.elapsed(), Duration::from_millis(250));
        assert!(clock.is_virtual());
        assert!(!Clock::Real.is_virtual());
    }
}
