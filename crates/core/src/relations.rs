//! Monitors and links of one process (SPEC §5.4): both halves of every relation it takes part
//! in, and what its end sets off.
//!
//! Every relation has a half on each side: a monitor is `watching` on the monitoring process
//! and `watchers` on the monitored one; a link is in both processes' `links`. The worker owns
//! both halves (engines never write them) and applies the rules here:
//!
//! # Guarantees
//! - An EXIT is delivered only while the receiver still watches its sender, and that removes
//!   the monitor ([`Relations::exit_arrived`]): after `unmonitor` returns, no EXIT of that
//!   target is delivered, even one already on its way from another worker.
//! - A link fires only on an abnormal end, and only while both sides are linked
//!   ([`Relations::link_exit`]); a normal end just removes it.
//! - The parent's half of a monitor or link made by a spawn on another worker is recorded when
//!   the spawn is requested, and undone if the spawn fails ([`Relations::spawn_answered`]), so
//!   a failed spawn leaves nothing behind. A spawn on another node learns its child's pid
//!   only from the answer, so its half is recorded then, before anything the child sends
//!   (which travels behind the answer).
//! - When a node is declared down, every relation towards its pids is forgotten at once and
//!   reported once ([`Relations::node_down`]).

use rustc_hash::FxHashSet;

use crate::envelope::ReplyTo;
use crate::message::{ExitReason, ExitResult};
use crate::pid::Pid;
use crate::value::Value;

/// A spawn in flight whose parent's half is already recorded.
#[derive(Debug, Clone, Copy)]
struct PendingSpawn {
    token: u64,
    child: Pid,
    monitor: bool,
    link: bool,
}

/// What a link exit does to the surviving side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    /// Nothing (no such link any more, or a normal end, which only removes it).
    Ignore,
    /// A LINK_DOWN event (the survivor traps links).
    LinkDown,
    /// The survivor ends with `linked process failed`.
    Kill,
}

/// What a process's end must tell others, taken from its relations.
#[derive(Debug, Default)]
pub struct ExitNotices {
    /// Processes monitoring it: each gets an EXIT.
    pub watchers: Vec<Pid>,
    /// Linked processes: each gets a link exit.
    pub links: Vec<Pid>,
    /// Waiters for its result (`process.exec`, function calls).
    pub exit_to: Vec<ReplyTo>,
    /// Processes it monitored: their half of the monitor is removed.
    pub watching: Vec<Pid>,
}

/// The relations of one process.
#[derive(Debug, Default)]
pub struct Relations {
    watchers: FxHashSet<Pid>,
    /// A set: a relay may monitor many thousands of children at once, each EXIT removes one.
    watching: FxHashSet<Pid>,
    links: FxHashSet<Pid>,
    trap_links: bool,
    exit_to: Vec<ReplyTo>,
    spawns: Vec<PendingSpawn>,
}

impl Relations {
    /// `p` starts monitoring this process.
    pub fn add_watcher(&mut self, p: Pid) {
        self.watchers.insert(p);
    }

    /// `p` stops monitoring this process.
    pub fn remove_watcher(&mut self, p: Pid) {
        self.watchers.remove(&p);
    }

    /// This process starts monitoring `target`; false when it already does.
    pub fn watch(&mut self, target: Pid) -> bool {
        self.watching.insert(target)
    }

    /// This process stops monitoring `target`; false when it did not.
    pub fn unwatch(&mut self, target: Pid) -> bool {
        self.watching.remove(&target)
    }

    /// True while this process monitors `target`.
    pub fn is_watching(&self, target: Pid) -> bool {
        self.watching.contains(&target)
    }

    /// An EXIT from `from` arrived: true when it is to be delivered (this process still
    /// monitors `from`); the monitor is gone either way, since a monitor fires once.
    pub fn exit_arrived(&mut self, from: Pid) -> bool {
        self.watching.remove(&from)
    }

    /// Links with `p`; false when already linked.
    pub fn link(&mut self, p: Pid) -> bool {
        self.links.insert(p)
    }

    /// Removes the link with `p`; false when there was none.
    pub fn unlink(&mut self, p: Pid) -> bool {
        self.links.remove(&p)
    }

    /// True while linked with `p`.
    pub fn is_linked(&self, p: Pid) -> bool {
        self.links.contains(&p)
    }

    /// The linked process `from` ended with `reason`: the link is removed, and the outcome
    /// says what happens to this process.
    pub fn link_exit(&mut self, from: Pid, reason: &ExitReason) -> LinkOutcome {
        if !self.links.remove(&from) || !reason.is_error() {
            return LinkOutcome::Ignore;
        }
        if self.trap_links {
            LinkOutcome::LinkDown
        } else {
            LinkOutcome::Kill
        }
    }

    /// Whether linked failures arrive as LINK_DOWN events instead of ending this process.
    pub fn trap_links(&self) -> bool {
        self.trap_links
    }

    /// Sets [`Relations::trap_links`].
    pub fn set_trap_links(&mut self, on: bool) {
        self.trap_links = on;
    }

    /// Sends this process's result to `to` when it ends.
    pub fn add_exit_to(&mut self, to: ReplyTo) {
        self.exit_to.push(to);
    }

    /// Records the parent's half of a spawn in flight (answered under `token`): monitor
    /// and/or link with `child` from now on. A child on another node whose number is not known
    /// yet (`child.num == 0`) is recorded when the answer names it.
    pub fn spawn_started(&mut self, token: u64, child: Pid, monitor: bool, link: bool) {
        if !(monitor || link) {
            return;
        }
        if child.num != 0 {
            if monitor {
                self.watching.insert(child);
            }
            if link {
                self.links.insert(child);
            }
        }
        self.spawns.push(PendingSpawn {
            token,
            child,
            monitor,
            link,
        });
    }

    /// The spawn answered under `token` succeeded or failed: a failed spawn's relations are
    /// undone; a successful remote spawn's are recorded for the pid its answer names (`parse`
    /// reads the printed pid). Tokens of other requests are ignored.
    pub fn spawn_answered(
        &mut self,
        token: u64,
        result: &ExitResult,
        parse: impl FnOnce(&str) -> Option<Pid>,
    ) {
        let Some(i) = self.spawns.iter().position(|s| s.token == token) else {
            return;
        };
        let s = self.spawns.swap_remove(i);
        match result {
            Err(_) => self.undo_spawn(s.child, s.monitor, s.link),
            Ok(_) if s.child.num != 0 => {}
            Ok(p) => {
                let child = match p.values.first() {
                    Some(Value::Str(b)) => std::str::from_utf8(b).ok().and_then(parse),
                    _ => None,
                };
                if let Some(child) = child {
                    if s.monitor {
                        self.watching.insert(child);
                    }
                    if s.link {
                        self.links.insert(child);
                    }
                }
            }
        }
    }

    /// Undoes the parent's half of a spawn that failed before it was sent.
    pub fn spawn_failed(&mut self, token: u64) {
        let Some(i) = self.spawns.iter().position(|s| s.token == token) else {
            return;
        };
        let s = self.spawns.swap_remove(i);
        self.undo_spawn(s.child, s.monitor, s.link);
    }

    /// Node `node` is down: forgets every relation towards its pids and returns the monitors
    /// and links that were live, to be reported (each once: they are gone afterwards).
    pub fn node_down(&mut self, node: u32) -> (Vec<Pid>, Vec<Pid>) {
        let on = |p: &Pid| p.node == node;
        self.watchers.retain(|p| !on(p));
        let watching: Vec<Pid> = self.watching.iter().filter(|p| on(p)).copied().collect();
        for p in &watching {
            self.watching.remove(p);
        }
        let links: Vec<Pid> = self.links.iter().filter(|p| on(p)).copied().collect();
        for p in &links {
            self.links.remove(p);
        }
        self.exit_to.retain(|r| !on(&r.pid));
        (watching, links)
    }

    fn undo_spawn(&mut self, child: Pid, monitor: bool, link: bool) {
        if monitor {
            self.watching.remove(&child);
        }
        if link {
            self.links.remove(&child);
        }
    }

    /// Number of relation entries held (monitors both ways, links, exit waiters, spawns in
    /// flight): what a leak would grow.
    pub fn len(&self) -> usize {
        self.watchers.len()
            + self.watching.len()
            + self.links.len()
            + self.exit_to.len()
            + self.spawns.len()
    }

    /// True when the process takes part in no relation and traps nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0 && !self.trap_links
    }

    /// What the end of this process must tell others.
    pub fn into_notices(self) -> ExitNotices {
        ExitNotices {
            watchers: self.watchers.into_iter().collect(),
            links: self.links.into_iter().collect(),
            exit_to: self.exit_to,
            watching: self.watching.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pid::HostId;
    use crate::value::{ErrorKind, ErrorValue, Payload};

    fn pid(n: u64) -> Pid {
        Pid::local(HostId(0), n)
    }

    fn failed() -> ExitReason {
        ExitReason::error(ErrorValue::new(ErrorKind::Internal, "boom"))
    }

    #[test]
    fn an_exit_is_delivered_once_and_only_while_watching() {
        let mut r = Relations::default();
        assert!(r.watch(pid(2)));
        assert!(!r.watch(pid(2)), "twice is refused");
        assert!(r.exit_arrived(pid(2)));
        assert!(!r.exit_arrived(pid(2)), "a monitor fires once");
        r.watch(pid(3));
        assert!(r.unwatch(pid(3)));
        assert!(
            !r.exit_arrived(pid(3)),
            "after unmonitor, an EXIT in flight is dropped"
        );
        assert!(r.is_empty());
    }

    #[test]
    fn links_fire_on_errors_only() {
        let mut r = Relations::default();
        r.link(pid(2));
        assert_eq!(
            r.link_exit(pid(2), &ExitReason::normal(Payload::empty())),
            LinkOutcome::Ignore
        );
        assert!(!r.is_linked(pid(2)), "a normal end removes the link");
        r.link(pid(2));
        assert_eq!(r.link_exit(pid(2), &failed()), LinkOutcome::Kill);
        assert_eq!(r.link_exit(pid(2), &failed()), LinkOutcome::Ignore);
        r.set_trap_links(true);
        r.link(pid(4));
        assert_eq!(r.link_exit(pid(4), &failed()), LinkOutcome::LinkDown);
        assert_eq!(
            r.link_exit(pid(5), &failed()),
            LinkOutcome::Ignore,
            "not linked"
        );
    }

    #[test]
    fn a_failed_spawn_leaves_no_relation_behind() {
        let mut r = Relations::default();
        r.spawn_started(7, pid(10), true, true);
        assert!(r.is_watching(pid(10)) && r.is_linked(pid(10)));
        let failed: ExitResult = Err(ErrorValue::new(ErrorKind::Internal, "no"));
        let ok: ExitResult = Ok(Payload::empty());
        r.spawn_answered(99, &failed, |_| None);
        assert!(r.is_watching(pid(10)), "other tokens are ignored");
        r.spawn_answered(7, &failed, |_| None);
        assert!(r.is_empty(), "{r:?}");

        r.spawn_started(8, pid(11), true, false);
        r.spawn_answered(8, &ok, |_| None);
        assert!(
            r.is_watching(pid(11)),
            "a successful spawn keeps its monitor"
        );
        assert_eq!(r.len(), 1, "and forgets the pending record");

        r.spawn_started(9, pid(12), false, false);
        assert_eq!(r.len(), 1, "a plain spawn records nothing");
    }

    #[test]
    fn a_remote_spawn_is_recorded_when_its_answer_names_the_child() {
        let mut r = Relations::default();
        let placeholder = Pid {
            node: 2,
            host: HostId(0),
            num: 0,
        };
        r.spawn_started(5, placeholder, true, true);
        assert!(!r.is_watching(placeholder), "nothing to watch yet");
        let child = Pid {
            node: 2,
            host: HostId(0),
            num: 9,
        };
        let answer: ExitResult = Ok(Payload::one(Value::str("{b@h|0x00009}")));
        r.spawn_answered(5, &answer, |s| (s == "{b@h|0x00009}").then_some(child));
        assert!(r.is_watching(child) && r.is_linked(child));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn a_node_down_forgets_and_reports_its_relations_once() {
        let remote = |n| Pid {
            node: 3,
            host: HostId(0),
            num: n,
        };
        let mut r = Relations::default();
        r.watch(remote(1));
        r.watch(pid(1));
        r.link(remote(2));
        r.add_watcher(remote(3));
        let (exits, links) = r.node_down(3);
        assert_eq!((exits, links), (vec![remote(1)], vec![remote(2)]));
        assert_eq!(r.len(), 1, "only the local monitor is left");
        assert_eq!(r.node_down(3), (vec![], vec![]), "once");
    }

    #[test]
    fn notices_name_everyone_involved() {
        let mut r = Relations::default();
        r.add_watcher(pid(1));
        r.add_watcher(pid(2));
        r.remove_watcher(pid(2));
        r.watch(pid(3));
        r.link(pid(4));
        r.add_exit_to(ReplyTo {
            pid: pid(5),
            token: 1,
        });
        let n = r.into_notices();
        assert_eq!(n.watchers, vec![pid(1)]);
        assert_eq!(n.watching, vec![pid(3)]);
        assert_eq!(n.links, vec![pid(4)]);
        assert_eq!(n.exit_to.len(), 1);
    }
}
