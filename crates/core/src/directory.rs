//! Where each live process is: pid number → worker and slot.
//!
//! Every send to a pid consults this table, so it is sharded by the low bits of the pid number
//! (consecutive spawns land in different shards) and each shard is a small mutex-guarded map
//! on cache lines of its own (workers spawning and ending processes write other shards all
//! the time; a lock word sharing their line would move between cores on every send).
//!
//! # Guarantees
//! A pid is inserted before it is handed to anyone and removed when its process ends; a lookup
//! that misses means the process is gone (or never existed) on this node.

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

const SHARDS: usize = 64;

/// The location of a live process (or of a control-plane receiver such as a supervisor).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Addr {
    /// Host index, or [`Addr::CONTROL`].
    pub host: u16,
    /// Worker index within the host.
    pub worker: u16,
    /// Slot in the worker's process table (or the control receiver's id).
    pub slot: u32,
}

impl Addr {
    /// Host index reserved for the node's control plane (supervisors, exec watcher).
    pub const CONTROL: u16 = u16::MAX;
    /// Host index reserved for external receivers (see `Node::register_external`).
    pub const EXTERNAL: u16 = u16::MAX - 1;
}

/// Sharded map from pid number to [`Addr`].
#[derive(Debug)]
pub(crate) struct Directory {
    shards: Box<[Shard]>,
}

/// One shard, aligned to two cache lines (adjacent-line prefetch pairs them on x86).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard(Mutex<FxHashMap<u64, Addr>>);

impl Directory {
    pub(crate) fn new() -> Directory {
        Directory {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }

    fn shard(&self, num: u64) -> &Mutex<FxHashMap<u64, Addr>> {
        &self.shards[(num as usize) % SHARDS].0
    }

    pub(crate) fn insert(&self, num: u64, addr: Addr) {
        self.shard(num).lock().insert(num, addr);
    }

    pub(crate) fn remove(&self, num: u64) {
        self.shard(num).lock().remove(&num);
    }

    pub(crate) fn get(&self, num: u64) -> Option<Addr> {
        self.shard(num).lock().get(&num).copied()
    }

    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.0.lock().len()).sum()
    }
}
