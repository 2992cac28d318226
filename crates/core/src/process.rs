//! The worker's half of a process: its queues, relations and scheduling state.
//!
//! Engines never touch it directly: they go through [`crate::Local`], which applies the
//! process model's rules (mailbox limits, relation halves, kills) in one place.

use crate::engine::Wakeup;
use crate::mailbox::Mailbox;
use crate::pid::Pid;
use crate::relations::Relations;
use crate::value::ErrorValue;

/// Where a process is in its worker's schedule.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum RunState {
    /// Waiting for news.
    Idle,
    /// On the run queue.
    Queued,
    /// Being stepped.
    Running,
    /// Being stepped, and news came meanwhile: run again after this step.
    RunningNews,
}

/// The worker's half of a process.
#[derive(Debug)]
pub(crate) struct ProcCore {
    pub(crate) pid: Pid,
    pub(crate) run: RunState,
    /// Index of the engine running it, in its worker's list.
    pub(crate) engine: u8,
    pub(crate) mailbox: Mailbox,
    /// Timers fired and requests completed since the last step: boxed on the first one, to
    /// keep idle processes small (8 bytes instead of a `Vec`'s 24).
    #[allow(clippy::box_collection)]
    pub(crate) wakeups: Option<Box<Vec<Wakeup>>>,
    /// Set when the process must end before its next step.
    pub(crate) kill: Option<Box<ErrorValue>>,
    /// Monitors and links: most processes have none, so boxed.
    pub(crate) relations: Option<Box<Relations>>,
    /// Its entries in the worker's timer heap (not counting cancelled ones).
    pub(crate) timers: u32,
}

impl ProcCore {
    pub(crate) fn new(pid: Pid, engine: u8) -> ProcCore {
        ProcCore {
            pid,
            run: RunState::Idle,
            engine,
            mailbox: Mailbox::default(),
            wakeups: None,
            kill: None,
            relations: None,
            timers: 0,
        }
    }

    /// The relations, created on first use.
    pub(crate) fn relations(&mut self) -> &mut Relations {
        self.relations.get_or_insert_with(Default::default)
    }

    /// Marks the process to end with `reason` unless it already is; true when this call
    /// marked it.
    pub(crate) fn mark_killed(&mut self, reason: ErrorValue) -> bool {
        if self.kill.is_some() {
            return false;
        }
        self.kill = Some(Box::new(reason));
        true
    }
}

#[cfg(test)]
mod tests {
    /// Idle processes are the memory budget (SPEC §4.5): this exists once per process, so
    /// growing it should be a deliberate choice. 128 since issue 10: events are queued apart
    /// from messages, in a queue boxed on the first event; 112 with the wakeups boxed too.
    #[test]
    fn a_process_core_stays_small() {
        let size = std::mem::size_of::<super::ProcCore>();
        assert!(size <= 112, "ProcCore is {size} bytes");
    }
}
