//! A worker's copy of the names it sent to, so a send by name takes no node-wide lock.
//!
//! Entries are good while [`Registry::generation`] stays where it was when they were looked
//! up; any change of the LOCAL names empties the cache. In a cluster the scopes answer first
//! and may change without that number moving, so nothing is kept there.

use rustc_hash::FxHashMap;

use crate::pid::Pid;
use crate::registry::Registry;

/// Names kept at most; the cache starts over when full.
const CAPACITY: usize = 256;

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct NameCache {
    generation: u64,
    names: FxHashMap<Box<str>, Pid>,
}

impl NameCache {
    /// `name`'s pid, as [`Registry::lookup`] would give it.
    pub(crate) fn lookup(&mut self, registry: &Registry, name: &str) -> Option<Pid> {
        if registry.cluster().is_some() {
            return registry.lookup(name);
        }
        let generation = registry.generation();
        if generation != self.generation {
            self.names.clear();
            self.generation = generation;
        } else if let Some(pid) = self.names.get(name) {
            return Some(*pid);
        }
        // Read before the lookup: a change made meanwhile moves the number past it.
        let pid = registry.lookup_local(name)?;
        if self.names.len() >= CAPACITY {
            self.names.clear();
        }
        self.names.insert(name.into(), pid);
        Some(pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(num: u64) -> Pid {
        Pid {
            node: 0,
            host: crate::pid::HostId(0),
            num,
        }
    }

    #[test]
    fn a_kept_name_follows_every_change_of_the_registry() {
        let r = Registry::default();
        let mut c = NameCache::default();
        assert_eq!(c.lookup(&r, "relay"), None);
        r.insert("relay", pid(1)).unwrap();
        assert_eq!(c.lookup(&r, "relay"), Some(pid(1)));
        assert_eq!(c.lookup(&r, "relay"), Some(pid(1)), "kept");
        r.release(pid(1));
        assert_eq!(c.lookup(&r, "relay"), None, "released at exit");
        r.insert("relay", pid(2)).unwrap();
        assert_eq!(c.lookup(&r, "relay"), Some(pid(2)), "registered again");
        assert!(r.remove("relay"));
        assert_eq!(c.lookup(&r, "relay"), None, "unregistered");
    }

    #[test]
    fn the_cache_stays_bounded() {
        let r = Registry::default();
        let mut c = NameCache::default();
        for i in 0..(CAPACITY as u64 * 3) {
            r.insert(&format!("n{i}"), pid(i + 1)).unwrap();
        }
        for i in 0..(CAPACITY as u64 * 3) {
            assert_eq!(c.lookup(&r, &format!("n{i}")), Some(pid(i + 1)));
            assert!(c.names.len() <= CAPACITY);
        }
    }
}
