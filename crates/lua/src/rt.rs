//! The runtime inside a VM: processes and their tasks, channels, the scheduler step, spawning,
//! the memory budget, and the hot paths as raw C function bodies. Nothing here names a Lua
//! module: modules plug their waits in through [`proc::Completion`].

pub(crate) mod chan;
pub(crate) mod hot;
pub(crate) mod memory;
pub(crate) mod prepared;
pub(crate) mod proc;
pub(crate) mod random;
pub(crate) mod sched;
pub(crate) mod spawn;
pub(crate) mod task;
pub(crate) mod values;
