//! A stub engine and a hand-driven node for core tests: processes are Rust closures, workers
//! turn on the test's thread, and time is virtual, so scheduler tests are deterministic.
//!
//! A test registers programs by entry name ([`Programs`]); each spawn of that entry gets a
//! fresh [`Behaviour`] that is called once per step with a [`Cx`].

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use starling_core::{
    Clock, Engine, ErrorKind, ErrorValue, Event, ExitReason, HostId, HostKind, Local, Message,
    Node, Payload, Pid, SpawnFlags, SpawnRequest, Spawned, StartArgs, Step, VirtualClock, Wakeup,
    Worker, WorkerSetup,
};

/// What a process does at each step.
pub type Behaviour = Box<dyn FnMut(&mut Cx<'_>) -> Step>;

/// Makes the behaviour of a new process of an entry (None: no such entry).
pub type Programs = Arc<dyn Fn(&str, &Payload) -> Option<Behaviour> + Send + Sync>;

/// What a behaviour sees during its step.
pub struct Cx<'a> {
    pub local: &'a Rc<Local>,
    pub slot: u32,
    pub pid: Pid,
    engine: &'a StubShared,
}

impl Cx<'_> {
    /// Spawns on behalf of this process (inline when the child lands on this worker).
    pub fn spawn(&mut self, req: SpawnRequest) -> Result<Spawned, ErrorValue> {
        let engine = self.engine;
        self.local.spawn(self.slot, req, &mut |slot, pid, args| {
            engine.start(slot, pid, args)
        })
    }

    /// A request to spawn `entry` on `host` with `flags`, answered under `token`.
    pub fn request(
        &self,
        entry: &str,
        host: HostId,
        flags: SpawnFlags,
        token: u64,
    ) -> SpawnRequest {
        SpawnRequest {
            entry: entry.into(),
            host,
            args: Payload::empty(),
            parent: None,
            flags,
            reply: Some(starling_core::ReplyTo {
                pid: self.pid,
                token,
            }),
            num: 0,
            setup: None,
        }
    }

    pub fn message(&self) -> Option<Message> {
        self.local.pop_message(self.slot)
    }

    pub fn event(&self) -> Option<Event> {
        self.local.pop_event(self.slot)
    }

    pub fn wakeups(&self) -> Vec<Wakeup> {
        self.local.take_wakeups(self.slot)
    }

    pub fn send(&self, to: Pid, topic: &str) -> bool {
        let msg = Message {
            from: Some(self.pid),
            topic: topic.into(),
            payload: Payload::empty().into(),
        };
        self.local.send(to, msg).is_ok()
    }
}

struct StubShared {
    local: Rc<Local>,
    programs: Programs,
    procs: RefCell<Vec<Option<Behaviour>>>,
}

impl StubShared {
    fn start(&self, slot: u32, _pid: Pid, args: StartArgs) -> Result<(), ErrorValue> {
        let b = (self.programs)(&args.entry, &args.args).ok_or_else(|| {
            ErrorValue::new(
                ErrorKind::NotFound,
                format!("entry not found: {}", args.entry),
            )
        })?;
        let mut procs = self.procs.borrow_mut();
        let i = slot as usize;
        if procs.len() <= i {
            procs.resize_with(i + 1, || None);
        }
        procs[i] = Some(b);
        Ok(())
    }
}

/// An engine whose processes are [`Behaviour`]s.
pub struct StubEngine(Rc<StubShared>);

impl StubEngine {
    pub fn new(local: &Rc<Local>, programs: Programs) -> StubEngine {
        StubEngine(Rc::new(StubShared {
            local: local.clone(),
            programs,
            procs: RefCell::new(Vec::new()),
        }))
    }
}

impl Engine for StubEngine {
    fn start(&mut self, slot: u32, pid: Pid, args: StartArgs) -> Result<(), ErrorValue> {
        self.0.start(slot, pid, args)
    }

    fn step(&mut self, slot: u32) -> Step {
        // Taken out while it runs: it may spawn inline, which stores into the table.
        let taken = self
            .0
            .procs
            .borrow_mut()
            .get_mut(slot as usize)
            .and_then(Option::take);
        let Some(mut b) = taken else {
            return Step::Exit(ExitReason::error(ErrorValue::new(
                ErrorKind::Internal,
                "no behaviour",
            )));
        };
        let pid = self.0.local.pid_of(slot);
        let local = self.0.local.clone();
        let step = b(&mut Cx {
            local: &local,
            slot,
            pid,
            engine: &self.0,
        });
        if let Some(p) = self.0.procs.borrow_mut().get_mut(slot as usize) {
            *p = Some(b);
        }
        step
    }

    fn release(&mut self, slot: u32) {
        let b = self
            .0
            .procs
            .borrow_mut()
            .get_mut(slot as usize)
            .and_then(Option::take);
        drop(b);
    }
}

/// Worker setup for threaded runs (`start_host`) of stub processes on the real clock.
pub fn threaded(programs: Programs) -> WorkerSetup {
    WorkerSetup {
        engines: Arc::new(move |local| {
            vec![Box::new(StubEngine::new(local, programs.clone())) as Box<dyn Engine>]
        }),
        router: Arc::new(|_| 0),
        clock: Clock::Real,
    }
}

/// A node whose workers turn on the test's thread, on a virtual clock.
pub struct Harness {
    pub node: Arc<Node>,
    pub clock: Arc<VirtualClock>,
    pub hosts: Vec<HostId>,
    pub workers: Vec<Rc<RefCell<Worker>>>,
}

impl Harness {
    /// One worker per named host (`process.host` kind unless the name ends in `terminal`).
    pub fn new(hosts: &[&str], programs: Programs) -> Harness {
        Self::with_builder(hosts, programs, |_, _| {})
    }

    /// Like [`Harness::new`], with a hook to configure the node builder per host.
    pub fn with_builder(
        hosts: &[&str],
        programs: Programs,
        mut configure: impl FnMut(&mut starling_core::node::NodeBuilder, HostId),
    ) -> Harness {
        let mut b = Node::builder();
        let ids: Vec<HostId> = hosts
            .iter()
            .map(|h| {
                let kind = if h.ends_with("terminal") {
                    HostKind::Terminal
                } else {
                    HostKind::Process
                };
                let id = b.host(h, kind);
                configure(&mut b, id);
                id
            })
            .collect();
        let node = b.build();
        let (clock, handle) = Clock::manual();
        let setup = WorkerSetup {
            engines: Arc::new(move |local| {
                vec![Box::new(StubEngine::new(local, programs.clone())) as Box<dyn Engine>]
            }),
            router: Arc::new(|_| 0),
            clock,
        };
        let mut workers = Vec::new();
        for id in &ids {
            for w in Worker::manual(&node, *id, 1, &setup).expect("attach") {
                workers.push(Rc::new(RefCell::new(w)));
            }
        }
        Harness {
            node,
            clock: handle,
            hosts: ids,
            workers,
        }
    }

    /// Asks for a spawn of `entry` on host `h` from outside any process.
    pub fn spawn(&self, entry: &str, h: usize, args: Payload) -> Pid {
        let num = self.node.next_num();
        self.node
            .request_spawn(SpawnRequest {
                entry: entry.into(),
                host: self.hosts[h],
                args,
                parent: None,
                flags: SpawnFlags::default(),
                reply: None,
                num,
                setup: None,
            })
            .expect("host running");
        Pid::local(self.hosts[h], num)
    }

    /// Turns every worker until none has anything to do.
    pub fn run(&self) {
        for _ in 0..1_000_000 {
            let mut did = false;
            for w in &self.workers {
                did |= w.borrow_mut().turn();
            }
            if !did {
                return;
            }
        }
        panic!("the node never went idle");
    }

    /// Moves the virtual clock, then runs until idle.
    pub fn advance(&self, d: Duration) {
        self.clock.advance(d);
        self.run();
    }

    /// The worker of host `h`.
    pub fn worker(&self, h: usize) -> Rc<RefCell<Worker>> {
        self.workers[h].clone()
    }
}

/// A behaviour that ends at once with `value`.
pub fn ends_with(value: i64) -> Behaviour {
    Box::new(move |_| {
        Step::Exit(ExitReason::normal(Payload::one(starling_core::Value::Int(
            value,
        ))))
    })
}

/// A behaviour that waits for one message, then ends normally.
pub fn quits_on_message() -> Behaviour {
    Box::new(|cx| {
        if cx.message().is_some() {
            Step::Exit(ExitReason::normal(Payload::empty()))
        } else {
            Step::Blocked
        }
    })
}
