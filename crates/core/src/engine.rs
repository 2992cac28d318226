//! The engine hook: what runs a process's code.
//!
//! A worker holds one or more engines (the Lua VM of its thread, native Rust processes, a stub
//! in tests) and never asks what kind of code a process runs beyond the engine index it
//! recorded at spawn: it hands the engine a slot to step, to start or to release. Everything
//! else about a process (its queues, monitors, links, registry names, where a spawn goes) is
//! the worker's.

use std::sync::Arc;

use crate::message::{ExitReason, ExitResult};
use crate::pid::Pid;
use crate::value::{ErrorKind, ErrorValue, Payload};

/// What a step of a process ended with.
#[derive(Debug)]
pub enum Step {
    /// Everything the process runs is waiting for something.
    Blocked,
    /// The time slice ran out; run again later.
    Preempted,
    /// The process finished.
    Exit(ExitReason),
}

/// Something a blocked process may be waiting for, delivered to it by its worker.
#[derive(Debug)]
pub enum Wakeup {
    /// Timer `token` fired.
    Timer(u64),
    /// Request `token` completed.
    Done(u64, ExitResult),
}

/// What an engine gets to build a new process.
#[derive(Debug)]
pub struct StartArgs {
    /// Entry id of the code to run.
    pub entry: Arc<str>,
    /// Arguments of its main function.
    pub args: Payload,
    /// The process is a `function.lua` call, not a process entry.
    pub function: bool,
}

/// The code runner of a worker.
///
/// Engines are called only from their worker's loop, never re-entrantly: code running inside
/// a step reaches the worker through [`crate::Local`], not through the engine.
pub trait Engine {
    /// Builds the engine half of a new process in `slot` with `pid`. The worker has made its
    /// core half and undoes it if this fails.
    fn start(&mut self, slot: u32, pid: Pid, args: StartArgs) -> Result<(), ErrorValue>;
    /// Runs the process in `slot` until it blocks, is preempted or ends.
    fn step(&mut self, slot: u32) -> Step;
    /// Drops the engine half of a process that has ended or was killed.
    fn release(&mut self, slot: u32);
}

/// Which of a worker's engines runs an entry (its index in the list the worker was given).
pub type Router = Arc<dyn Fn(&str) -> usize + Send + Sync>;

/// The INTERNAL error a caught panic becomes (`runtime panic: <message>`).
pub fn panic_error(panic: &(dyn std::any::Any + Send)) -> ErrorValue {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown cause".to_string());
    ErrorValue::new(ErrorKind::Internal, format!("runtime panic: {what}"))
}
