//! Spawning: where a new process goes, and both halves of the monitor or link made with it.
//!
//! The routing decision is made here once, for every engine:
//! - the same host, a process host, and the engine of the calling process: created at once,
//!   inside the caller's step (the caller's engine builds it through the callback it passes);
//! - the same host, another engine: queued on this worker, created by its loop next turn;
//! - another host: queued on that host's least-loaded worker;
//! - another node (a host the cluster places there, or a `node@host` target, see
//!   [`crate::remote`]): sent to that node, which creates it on that host.
//!
//! The last three answer the caller with an [`Envelope::Wake`] under the token the caller chose.
//!
//! # Guarantees
//! - The parent's half of a monitor or link is recorded before the child can run, and undone
//!   if the spawn fails, whichever way it went ([`crate::relations`]).
//! - A spawn that fails leaves no process, no name and no directory entry behind.
//! - A terminal host runs one process at a time: a spawn there while one runs fails with
//!   UNAVAILABLE `terminal host busy`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::engine::{Engine, StartArgs, panic_error};
use crate::envelope::{Envelope, SpawnRequest};
use crate::pid::Pid;
use crate::process::ProcCore;
use crate::value::{ErrorKind, ErrorValue, Payload, Value};
use crate::worker::Local;

/// How a spawn requested from inside a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spawned {
    /// Created: the child exists.
    Done(Pid),
    /// Requested: the child will have this pid if it starts; the answer comes as a wake-up
    /// under the token of the request's `reply` (or its `exit_to`, for `exec`).
    Pending(Pid),
}

/// Builds the engine half of a process created inside the caller's step (see
/// [`Local::spawn`]): the caller's engine is busy stepping, so it passes this instead.
pub type Build<'a> = &'a mut dyn FnMut(u32, Pid, StartArgs) -> Result<(), ErrorValue>;

impl Local {
    /// Spawns on behalf of the process in `caller` (its pid becomes the request's parent).
    pub fn spawn(
        &self,
        caller: u32,
        mut req: SpawnRequest,
        build: Build<'_>,
    ) -> Result<Spawned, ErrorValue> {
        let (parent, engine) = {
            let procs = self.procs.borrow();
            let p = procs.get(caller as usize).ok_or_else(|| {
                ErrorValue::new(ErrorKind::Internal, "spawn from a process that has ended")
            })?;
            (p.pid, p.engine as usize)
        };
        req.parent = Some(parent);
        let node = self.node.clone();
        if let Some((target, host)) = self.remote_target(req.host) {
            req.host = host;
            return self.spawn_remote(caller, target, req);
        }
        let Some(host_name) = node.try_host_name(req.host) else {
            return Err(ErrorValue::new(ErrorKind::NotFound, "host not found"));
        };
        if !node.host_running(req.host) {
            return Err(ErrorValue::new(
                ErrorKind::Unavailable,
                format!("host {host_name} not running"),
            ));
        }
        if self.creates_here(engine, req.host, &req.entry) {
            return self
                .create(req, engine, build, Some(caller))
                .map(Spawned::Done);
        }
        if req.num == 0 {
            req.num = node.next_num();
        }
        let child = Pid::local(req.host, req.num);
        let token = req.reply.or(req.flags.exit_to).map(|r| r.token);
        let (monitor, link) = (req.flags.monitor, req.flags.link);
        if let Some(token) = token {
            self.with_core(caller, |p| {
                p.relations().spawn_started(token, child, monitor, link)
            });
        }
        if req.host == self.host {
            // Another engine of this worker: its loop creates it next turn.
            let _ = node.post_addr(self.my_addr(0), Envelope::Spawn(Box::new(req)));
        } else if let Err(e) = node.request_spawn(req) {
            if let Some(token) = token {
                self.with_core(caller, |p| p.relations().spawn_failed(token));
            }
            return Err(e);
        }
        Ok(Spawned::Pending(child))
    }

    /// True when a spawn of `entry` on `host` by the process in `caller` is created at once,
    /// inside the caller's step, by the callback it passes to [`Local::spawn`] (unless it
    /// fails first). An engine may then hand the child its arguments without a payload.
    pub fn spawns_here(&self, caller: u32, host: crate::pid::HostId, entry: &str) -> bool {
        let engine = self
            .procs
            .borrow()
            .get(caller as usize)
            .map(|p| p.engine as usize);
        engine.is_some_and(|engine| {
            self.remote_target(host).is_none()
                && self.node.host_running(host)
                && self.creates_here(engine, host, entry)
        })
    }

    /// The routing rule for a spawn created inside the caller's step (see the module header).
    fn creates_here(&self, engine: usize, host: crate::pid::HostId, entry: &str) -> bool {
        host == self.host && !self.terminal && (self.router)(entry) == engine
    }

    /// The node and local host a spawn on `host` goes to, when not this node.
    fn remote_target(&self, host: crate::pid::HostId) -> Option<(u32, crate::pid::HostId)> {
        if let Some(t) = self.node.peers.target_of(host) {
            return Some(t);
        }
        let node = self.node.remote()?.place(host)?;
        Some((node, host))
    }

    /// Sends a spawn to node `target`. The child's number is that node's to give, so the
    /// parent's half of a monitor or link is recorded when the answer names the child.
    fn spawn_remote(
        &self,
        caller: u32,
        target: u32,
        req: SpawnRequest,
    ) -> Result<Spawned, ErrorValue> {
        let Some(remote) = self.node.remote().cloned() else {
            return Err(ErrorValue::new(
                ErrorKind::Unavailable,
                "cluster not available",
            ));
        };
        let child = Pid {
            node: target,
            host: req.host,
            num: 0,
        };
        let token = req.reply.or(req.flags.exit_to).map(|r| r.token);
        let (monitor, link) = (req.flags.monitor, req.flags.link);
        if let Some(token) = token {
            self.with_core(caller, |p| {
                p.relations().spawn_started(token, child, monitor, link)
            });
        }
        if let Err(e) = remote.spawn(target, req) {
            if let Some(token) = token {
                self.with_core(caller, |p| p.relations().spawn_failed(token));
            }
            return Err(e);
        }
        Ok(Spawned::Pending(child))
    }

    fn with_core<R>(&self, slot: u32, f: impl FnOnce(&mut ProcCore) -> R) -> Option<R> {
        self.procs.borrow_mut().get_mut(slot as usize).map(f)
    }

    /// A spawn request from the queue (another worker, the control plane, or another engine
    /// of this one): creates the child and answers the request.
    pub(crate) fn handle_spawn(&self, req: SpawnRequest, engines: &mut [Box<dyn Engine>]) {
        let reply = req.reply;
        let exit_to = req.flags.exit_to;
        let result = if self.terminal && !self.is_empty() {
            Err(ErrorValue::new(
                ErrorKind::Unavailable,
                "terminal host busy",
            ))
        } else {
            let index = (self.router)(&req.entry);
            match engines.get_mut(index) {
                Some(engine) => self.create(
                    req,
                    index,
                    &mut |slot, pid, args| {
                        // Like a step, a panic while creating the process fails only this
                        // spawn.
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            engine.start(slot, pid, args)
                        }))
                        .unwrap_or_else(|panic| Err(panic_error(panic.as_ref())))
                    },
                    None,
                ),
                None => Err(ErrorValue::new(
                    ErrorKind::Internal,
                    format!("no engine {index} on this worker"),
                )),
            }
        };
        if let (Err(e), Some(to)) = (&result, exit_to) {
            // An exec waiter hears of a failed spawn as the child's error.
            self.reply(to, Err(e.clone()));
        }
        if let Some(reply) = reply {
            let result = result.map(|pid| Payload::one(Value::str(self.node.format_pid(pid))));
            self.reply(reply, result);
        }
    }

    /// Creates a process on this worker run by engine `engine`, whose half `build` makes.
    /// `caller` is the parent's slot for a spawn made inside its step: its half of the
    /// relations is recorded here (a request from elsewhere recorded it when it was made).
    fn create(
        &self,
        req: SpawnRequest,
        engine: usize,
        build: Build<'_>,
        caller: Option<u32>,
    ) -> Result<Pid, ErrorValue> {
        let SpawnRequest {
            entry,
            args,
            parent,
            flags,
            num,
            setup,
            ..
        } = req;
        self.check_setup(setup.as_deref())?;
        let num = if num == 0 { self.node.next_num() } else { num };
        let pid = Pid::local(self.host, num);
        let slot = {
            let mut procs = self.procs.borrow_mut();
            let entry = procs.vacant_entry();
            let slot = entry.key() as u32;
            entry.insert(ProcCore::new(pid, engine as u8));
            slot
        };
        self.node.directory.insert(num, self.my_addr(slot));
        let function = setup.as_ref().is_some_and(|s| s.function);
        let start = StartArgs {
            entry: Arc::clone(&entry),
            args,
            function,
        };
        if let Err(e) = build(slot, pid, start) {
            self.node.directory.remove(num);
            self.procs.borrow_mut().try_remove(slot as usize);
            return Err(e);
        }
        self.live.fetch_add(1, Ordering::Relaxed);
        if flags.monitor || flags.link || flags.exit_to.is_some() {
            self.with_core(slot, |p| {
                let r = p.relations();
                if let Some(parent) = parent {
                    if flags.monitor {
                        r.add_watcher(parent);
                    }
                    if flags.link {
                        r.link(parent);
                    }
                }
                if let Some(to) = flags.exit_to {
                    r.add_exit_to(to);
                }
            });
        }
        if let Some(caller) = caller {
            if flags.monitor || flags.link {
                self.with_core(caller, |p| {
                    let r = p.relations();
                    if flags.monitor {
                        r.watch(pid);
                    }
                    if flags.link {
                        r.link(pid);
                    }
                });
            }
        }
        self.apply_setup(pid, setup);
        self.notify(slot);
        Ok(pid)
    }
}
