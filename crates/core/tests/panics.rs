//! A panic inside an engine's step ends only that process: its monitor gets an EXIT with an
//! INTERNAL error naming the panic, and the worker keeps running other processes.

use std::rc::Rc;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use starling_core::{
    Engine, EngineFactory, ErrorKind, ErrorValue, EventKind, ExitReason, HostKind, Local, Node,
    Payload, Pid, SpawnFlags, SpawnRequest, Step,
};

/// Processes named "bomb" panic at their first step; "watcher" spawns a monitored bomb, then
/// reports the EXIT it gets; anything else ends normally.
struct Stub {
    local: Rc<Local>,
    kinds: Vec<Option<&'static str>>,
    report: mpsc::Sender<Result<Payload, ErrorValue>>,
}

impl Stub {
    fn set(&mut self, slot: u32, kind: &'static str) {
        let i = slot as usize;
        if self.kinds.len() <= i {
            self.kinds.resize(i + 1, None);
        }
        self.kinds[i] = Some(kind);
    }
}

impl Engine for Stub {
    fn step(&mut self, slot: u32) -> Step {
        match self.kinds[slot as usize] {
            Some("bomb") => panic!("engine bug in step"),
            Some("watcher") => {
                let me = self.local.pid_of(slot);
                let ev = self.local.with(slot, |c| c.events.pop_front());
                if let Some(ev) = ev {
                    assert_eq!(ev.kind, EventKind::Exit);
                    let result = ev.result.expect("EXIT has a result").result().clone();
                    let _ = self.report.send(result);
                    return Step::Exit(ExitReason::normal(Payload::empty()));
                }
                let mut bomb_slot = 0;
                let flags = SpawnFlags {
                    monitor: true,
                    ..SpawnFlags::default()
                };
                self.local
                    .spawn_local(Some(me), flags, 0, |s, _| {
                        bomb_slot = s;
                        Ok(())
                    })
                    .expect("spawn");
                self.set(bomb_slot, "bomb");
                self.set(slot, "waiting");
                Step::Blocked
            }
            Some("waiting") => {
                self.set(slot, "watcher");
                self.step(slot)
            }
            _ => Step::Exit(ExitReason::normal(Payload::empty())),
        }
    }

    fn spawn(&mut self, req: SpawnRequest) -> Result<Pid, ErrorValue> {
        if &*req.entry == "spawnbomb" {
            panic!("engine bug in spawn");
        }
        let kind = if &*req.entry == "watcher" {
            "watcher"
        } else {
            "other"
        };
        let mut chosen = 0;
        let pid = self
            .local
            .spawn_local(req.parent, req.flags, req.num, |s, _| {
                chosen = s;
                Ok(())
            })?;
        self.set(chosen, kind);
        Ok(pid)
    }

    fn release(&mut self, slot: u32) {
        if let Some(k) = self.kinds.get_mut(slot as usize) {
            *k = None;
        }
    }
}

fn spawn(node: &Node, host: starling_core::HostId, entry: &str) {
    node.request_spawn(SpawnRequest {
        entry: entry.into(),
        host,
        args: Payload::empty(),
        parent: None,
        flags: SpawnFlags::default(),
        reply: None,
        num: 0,
        setup: None,
    })
    .expect("host running");
}

#[test]
fn a_panicking_step_ends_only_its_process() {
    let mut b = Node::builder();
    let host = b.host("test:processes", HostKind::Process);
    let node = b.build();
    let (tx, rx) = mpsc::channel();
    let tx = Arc::new(Mutex::new(tx));
    let factory: EngineFactory = Arc::new(move |local: &Rc<Local>| {
        Box::new(Stub {
            local: local.clone(),
            kinds: Vec::new(),
            report: tx.lock().expect("lock").clone(),
        }) as Box<dyn Engine>
    });
    let threads = node.start_host(host, 1, factory).expect("start");

    // Twice on the same worker: the first panic must not have broken it.
    for _ in 0..2 {
        spawn(&node, host, "watcher");
        let result = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the watcher reports the bomb's EXIT");
        let err = result.expect_err("a panic is an error exit");
        assert_eq!(err.kind, ErrorKind::Internal);
        assert!(
            err.message.contains("runtime panic: engine bug in step"),
            "{}",
            err.message
        );
    }

    node.shutdown();
    for t in threads {
        t.join().expect("worker thread ended without panicking");
    }
}

#[test]
fn a_panicking_spawn_fails_only_that_spawn() {
    let mut b = Node::builder();
    let host = b.host("test:processes", HostKind::Process);
    let node = b.build();
    let (ctl_tx, ctl_rx) = crossbeam_channel::unbounded();
    node.set_control(ctl_tx);
    let waiter = node.register_control(host, node.next_num(), 7);
    let (tx, rx) = mpsc::channel();
    let tx = Arc::new(Mutex::new(tx));
    let factory: EngineFactory = Arc::new(move |local: &Rc<Local>| {
        Box::new(Stub {
            local: local.clone(),
            kinds: Vec::new(),
            report: tx.lock().expect("lock").clone(),
        }) as Box<dyn Engine>
    });
    let threads = node.start_host(host, 1, factory).expect("start");

    node.request_spawn(SpawnRequest {
        entry: "spawnbomb".into(),
        host,
        args: Payload::empty(),
        parent: None,
        flags: SpawnFlags::default(),
        reply: Some(starling_core::ReplyTo {
            pid: waiter,
            token: 1,
        }),
        num: 0,
        setup: None,
    })
    .expect("host running");
    match ctl_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("a reply")
    {
        starling_core::Envelope::Wake { token, result, .. } => {
            assert_eq!(token, 1);
            let err = result.expect_err("the spawn failed");
            assert_eq!(err.kind, ErrorKind::Internal);
            assert!(
                err.message.contains("engine bug in spawn"),
                "{}",
                err.message
            );
        }
        other => panic!("unexpected {other:?}"),
    }

    // The worker survived: a process on it still runs.
    spawn(&node, host, "watcher");
    let result = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the watcher reports");
    assert!(result.is_err(), "the bomb's EXIT is an error");

    node.shutdown();
    for t in threads {
        t.join().expect("worker thread ended without panicking");
    }
}
