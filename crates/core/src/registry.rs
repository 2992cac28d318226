//! The node-local name registry (SPEC §5.6).
//!
//! # Guarantees
//! A name maps to at most one pid. Names are released when their process ends: `register`
//! inserts and then re-checks that the process is alive, and process exit removes the directory
//! entry before releasing names, so a name can never outlive its process.

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use crate::pid::Pid;

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
#[derive(Debug, Default)]
pub struct Registry {
    names: Mutex<Names>,
}

impl Registry {
    /// Maps `name` to `pid`. Re-registering the same pair is a no-op success.
    pub(crate) fn insert(&self, name: &str, pid: Pid) -> Result<(), RegisterError> {
        let mut g = self.names.lock();
        match g.by_name.get(name) {
            Some(p) if *p == pid => return Ok(()),
            Some(p) => return Err(RegisterError::Taken(*p)),
            None => {}
        }
        g.by_name.insert(name.into(), pid);
        g.by_pid.entry(pid.num).or_default().push(name.into());
        Ok(())
    }

    /// Looks a name up.
    pub fn lookup(&self, name: &str) -> Option<Pid> {
        self.names.lock().by_name.get(name).copied()
    }

    /// Removes a name whoever holds it; returns whether it was registered.
    pub fn remove(&self, name: &str) -> bool {
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
        true
    }

    /// Releases every name held by `pid` (called when it ends).
    pub(crate) fn release(&self, pid: Pid) {
        let mut g = self.names.lock();
        if let Some(list) = g.by_pid.remove(&pid.num) {
            for n in list {
                if g.by_name.get(&n) == Some(&pid) {
                    g.by_name.remove(&n);
                }
            }
        }
    }
}
