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

/// Name → pid map with a reverse index for release at exit.
#[derive(Default)]
pub struct Registry {
    names: Mutex<Names>,
    cluster: OnceLock<Arc<dyn ClusterNames>>,
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
                list.retain(|n| &**n != name);
                if list.is_empty() {
                    g.by_pid.remove(&pid.num);
                }
            }
        }
        if let Some(c) = self.cluster.get() {
            c.local_changed(name, None);
        }
        true
    }

    /// Releases every name held by `pid` (called when it ends).
    pub(crate) fn release(&self, pid: Pid) {
        let released = {
            let mut g = self.names.lock();
            let Some(list) = g.by_pid.remove(&pid.num) else {
                return;
            };
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
