//! The node-local name registry (SPEC §5.6), and the door to the cluster scopes.
//!
//! # Guarantees
//! A name maps to at most one pid. Names are released when their process ends: `register`
//! inserts and then re-checks that the process is alive, and process exit removes the directory
//! entry before releasing names, so a name can never outlive its process.
//!
//! # Resolution order
//! In a cluster ([`Registry::set_cluster`]), [`Registry::lookup`] (what `send`, `terminate`,
//! `monitor`… resolve a name with) asks the cluster scopes first (EVENTUAL, CONSISTENT,
//! STRONG, and LOCAL names other nodes export), then the LOCAL names: a cluster name shadows a
//! local one, as in Wippy. [`Registry::lookup_local`] reads the LOCAL names only.
//!
//! # Staying off the lock
//! Every process exit releases names and every send by name looks one up, from every worker,
//! so neither should take the registry's lock when it need not: a process exit reads a count
//! of the names held by pids of its bucket and skips the lock at zero, and
//! [`Registry::generation`] changes with every change of the LOCAL names, so a worker may
//! keep what it looked up until then (`Local::lookup_name`).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use crate::pid::Pid;
use crate::remote::ClusterNames;

/// Why a registration failed.
#[derive(Debug, PartialEq, Eq)]
pub enum RegisterError {
    /// The name belongs to another live process.
    Taken(Pid),
}

#[derive(Debug, Default)]
struct Names {
    by_name: FxHashMap<Box<str>, Pid>,
    by_pid: FxHashMap<u64, Vec<Box<str>>>,
}

/// Buckets of [`Registry`]'s lock-free name counts (by pid number).
const BUCKETS: usize = 1024;

/// Name → pid map with a reverse index for release at exit.
pub struct Registry {
    names: Mutex<Names>,
    /// Names held by the pids of each bucket (pid number modulo [`BUCKETS`]), changed under
    /// the lock: an exit whose bucket holds none has nothing to release.
    held: Box<[AtomicU32]>,
    /// Bumped after every change of the LOCAL names.
    generation: AtomicU64,
    cluster: OnceLock<Arc<dyn ClusterNames>>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry {
            names: Mutex::default(),
            held: (0..BUCKETS).map(|_| AtomicU32::new(0)).collect(),
            generation: AtomicU64::new(0),
            cluster: OnceLock::new(),
        }
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("names", &self.names)
            .field("cluster", &self.cluster.get().is_some())
            .finish()
    }
}

impl Registry {
    /// Maps `name` to `pid`. Re-registering the same pair is a no-op success.
    pub(crate) fn insert(&self, name: &str, pid: Pid) -> Result<(), RegisterError> {
        {
            let mut g = self.names.lock();
            match g.by_name.get(name) {
                Some(p) if *p == pid => return Ok(()),
                Some(p) => return Err(RegisterError::Taken(*p)),
                None => {}
            }
            g.by_name.insert(name.into(), pid);
            g.by_pid.entry(pid.num).or_default().push(name.into());
            // SeqCst: an exit of `pid` racing with this either sees the count or is seen by
            // the liveness check `Local::register` makes next (see `release`).
            self.bucket(pid).fetch_add(1, Ordering::SeqCst);
            self.generation.fetch_add(1, Ordering::Release);
        }
        if let Some(c) = self.cluster.get() {
            c.local_changed(name, Some(pid));
        }
        Ok(())
    }

    /// Looks a name up: the cluster scopes first, then the LOCAL names (see the module docs).
    pub fn lookup(&self, name: &str) -> Option<Pid> {
        if let Some(c) = self.cluster.get() {
            if let Some(pid) = c.lookup(name) {
                return Some(pid);
            }
        }
        self.lookup_local(name)
    }

    /// Looks a LOCAL name up.
    pub fn lookup_local(&self, name: &str) -> Option<Pid> {
        self.names.lock().by_name.get(name).copied()
    }

    /// Removes a LOCAL name whoever holds it; returns whether it was registered.
    pub fn remove(&self, name: &str) -> bool {
        {
            let mut g = self.names.lock();
            let Some(pid) = g.by_name.remove(name) else {
                return false;
            };
            if let Some(list) = g.by_pid.get_mut(&pid.num) {
                let before = list.len();
                list.retain(|n| &**n != name);
                self.bucket(pid)
                    .fetch_sub((before - list.len()) as u32, Ordering::SeqCst);
                if list.is_empty() {
                    g.by_pid.remove(&pid.num);
                }
            }
            self.generation.fetch_add(1, Ordering::Release);
        }
        if let Some(c) = self.cluster.get() {
            c.local_changed(name, None);
        }
        true
    }

    /// Releases every name held by `pid` (called when it ends).
    ///
    /// The caller has removed `pid` from the directory first. The fence pairs with the one in
    /// `Local::register`: either this sees a count a racing registration made, or that
    /// registration sees the process gone and releases the name itself.
    pub(crate) fn release(&self, pid: Pid) {
        fence(Ordering::SeqCst);
        if self.bucket(pid).load(Ordering::SeqCst) == 0 {
            return;
        }
        let released = {
            let mut g = self.names.lock();
            let Some(list) = g.by_pid.remove(&pid.num) else {
                return;
            };
            self.bucket(pid)
                .fetch_sub(list.len() as u32, Ordering::SeqCst);
            self.generation.fetch_add(1, Ordering::Release);
            let mut released = Vec::new();
            for n in list {
                if g.by_name.get(&n) == Some(&pid) {
                    g.by_name.remove(&n);
                    released.push(n);
                }
            }
            released
        };
        if let Some(c) = self.cluster.get() {
            for n in released {
                c.local_changed(&n, None);
            }
        }
    }

    /// Changes with every change of the LOCAL names: a lookup made while it read `g` stays
    /// right as long as it still reads `g` (read it before looking up).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn bucket(&self, pid: Pid) -> &AtomicU32 {
        &self.held[(pid.num % BUCKETS as u64) as usize]
    }

    /// Installs the cluster scopes (once; later calls are ignored).
    pub fn set_cluster(&self, names: Arc<dyn ClusterNames>) {
        let _ = self.cluster.set(names);
    }

    /// The cluster scopes, `None` on a single node (they answer UNAVAILABLE `cluster registry
    /// not available` there, SPEC §5.6).
    pub fn cluster(&self) -> Option<&Arc<dyn ClusterNames>> {
        self.cluster.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pid::HostId;

    fn pid(num: u64) -> Pid {
        Pid {
            node: 0,
            host: HostId(0),
            num,
        }
    }

    fn held(r: &Registry, p: Pid) -> u32 {
        r.bucket(p).load(Ordering::SeqCst)
    }

    #[test]
    fn exits_release_names_and_their_counts() {
        let r = Registry::default();
        let (a, b) = (pid(7), pid(7 + BUCKETS as u64));
        r.insert("a1", a).unwrap();
        r.insert("a2", a).unwrap();
        r.insert("a1", a).unwrap();
        r.insert("b", b).unwrap();
        assert_eq!(held(&r, a), 3, "a and b share a bucket");
        assert_eq!(r.insert("a1", b), Err(RegisterError::Taken(a)));
        assert!(r.remove("a2"));
        assert_eq!(held(&r, a), 2);
        r.release(a);
        assert_eq!(r.lookup_local("a1"), None);
        assert_eq!(
            r.lookup_local("b"),
            Some(b),
            "another pid of the bucket keeps its name"
        );
        assert_eq!(held(&r, b), 1);
        r.release(b);
        assert_eq!(held(&r, b), 0);
        assert_eq!(r.lookup_local("b"), None);
    }

    #[test]
    fn every_change_moves_the_generation() {
        let r = Registry::default();
        let g0 = r.generation();
        r.insert("x", pid(1)).unwrap();
        let g1 = r.generation();
        assert_ne!(g0, g1);
        r.release(pid(2));
        assert_eq!(r.generation(), g1, "an exit without names changes nothing");
        r.release(pid(1));
        assert_ne!(r.generation(), g1);
    }
}
