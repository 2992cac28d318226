//! Criterion micro-benchmarks of the runtime core's hot paths, without Lua.
//!
//! The scheduler benchmarks run a host whose engine is a few lines of Rust (no Lua VM), so
//! they show what the core itself costs per message and per spawn; `cargo xtask bench` runs
//! the same shapes through Lua. Run with `cargo bench -p starling-core`.

use std::hint::black_box;
use std::rc::Rc;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use starling_core::{
    Engine, ErrorValue, ExitReason, HostKind, Local, Message, Node, Payload, Pid, SpawnFlags,
    SpawnRequest, Step, Table, Value,
};

fn pids(c: &mut Criterion) {
    let mut b = Node::builder();
    let host = b.host("app:processes", HostKind::Process);
    let node = b.build();
    let pid = Pid::local(host, 0x1234);
    let text = node.format_pid(pid);
    c.bench_function("pid/format", |b| b.iter(|| node.format_pid(black_box(pid))));
    c.bench_function("pid/parse", |b| b.iter(|| node.parse_pid(black_box(&text))));
}

fn payloads(c: &mut Criterion) {
    // The Echo Service request: `{ sender = pid, data = "hello world" }`.
    let request = Payload {
        values: vec![Value::Table(0)],
        tables: vec![Table {
            array: Vec::new(),
            hash: vec![
                (Value::str("sender"), Value::str("{app:processes|0x00004}")),
                (Value::str("data"), Value::str("hello world")),
            ],
        }],
    };
    c.bench_function("payload/clone echo request", |b| {
        b.iter(|| black_box(&request).clone())
    });
}

/// What the stub processes do.
#[derive(Clone, Copy)]
enum Role {
    /// Answers every message to its sender.
    Ponger,
    /// Sends `n` pings to `peer`, one at a time, then reports.
    Pinger,
    /// Spawns `n` monitored children, waits for their EXITs, then reports.
    Spawner,
    /// Ends at its first step.
    Child,
}

struct StubEngine {
    local: Rc<Local>,
    roles: Vec<Option<(Role, u64)>>,
    done: mpsc::Sender<()>,
}

impl StubEngine {
    fn role_of(entry: &str) -> Role {
        match entry {
            "ponger" => Role::Ponger,
            "pinger" => Role::Pinger,
            "spawner" => Role::Spawner,
            _ => Role::Child,
        }
    }

    fn set(&mut self, slot: u32, role: Role, n: u64) {
        let i = slot as usize;
        if self.roles.len() <= i {
            self.roles.resize(i + 1, None);
        }
        self.roles[i] = Some((role, n));
    }
}

fn int_arg(p: &Payload, i: usize) -> u64 {
    match p.values.get(i) {
        Some(Value::Int(n)) => *n as u64,
        _ => 0,
    }
}

impl Engine for StubEngine {
    fn step(&mut self, slot: u32) -> Step {
        let Some((role, n)) = self.roles[slot as usize] else {
            return Step::Exit(ExitReason::normal(Payload::empty()));
        };
        let me = self.local.pid_of(slot);
        match role {
            Role::Child => Step::Exit(ExitReason::normal(Payload::empty())),
            Role::Ponger => {
                while let Some(m) = self.local.with(slot, |c| c.mailbox.pop_front()) {
                    if m.topic.as_ref() == "stop" {
                        return Step::Exit(ExitReason::normal(Payload::empty()));
                    }
                    if let Some(from) = m.from {
                        let reply = Message {
                            from: Some(me),
                            topic: "pong".into(),
                            payload: Payload::empty(),
                        };
                        let _ = self.local.send(from, reply);
                    }
                }
                Step::Blocked
            }
            Role::Pinger => {
                // The first message names the ponger; every later one is a pong.
                let mut left = n;
                while let Some(m) = self.local.with(slot, |c| c.mailbox.pop_front()) {
                    let peer = if m.topic.as_ref() == "start" {
                        Pid::local(me.host, int_arg(&m.payload, 0))
                    } else {
                        m.from.expect("pongs have a sender")
                    };
                    if left == 0 {
                        let stop = Message {
                            from: Some(me),
                            topic: "stop".into(),
                            payload: Payload::empty(),
                        };
                        let _ = self.local.send(peer, stop);
                        let _ = self.done.send(());
                        return Step::Exit(ExitReason::normal(Payload::empty()));
                    }
                    left -= 1;
                    let ping = Message {
                        from: Some(me),
                        topic: "ping".into(),
                        payload: Payload::empty(),
                    };
                    let _ = self.local.send(peer, ping);
                }
                self.set(slot, role, left);
                Step::Blocked
            }
            Role::Spawner => {
                let started = self.local.with(slot, |c| c.mailbox.pop_front());
                if started.is_some() {
                    let flags = SpawnFlags {
                        monitor: true,
                        ..SpawnFlags::default()
                    };
                    for _ in 0..n {
                        let child = self.local.spawn_local(Some(me), flags, 0, |s, _| {
                            self.roles
                                .resize(self.roles.len().max(s as usize + 1), None);
                            self.roles[s as usize] = Some((Role::Child, 0));
                            Ok(())
                        });
                        child.expect("spawn on a running worker");
                    }
                }
                let exits = self.local.with(slot, |c| {
                    let k = c.events.len() as u64;
                    c.events.clear();
                    k
                });
                let (_, waiting) = self.roles[slot as usize].expect("spawner role");
                let left = waiting - exits.min(waiting);
                if left == 0 {
                    let _ = self.done.send(());
                    return Step::Exit(ExitReason::normal(Payload::empty()));
                }
                self.set(slot, role, left);
                Step::Blocked
            }
        }
    }

    fn spawn(&mut self, req: SpawnRequest) -> Result<Pid, ErrorValue> {
        let role = Self::role_of(&req.entry);
        let n = int_arg(&req.args, 0);
        let mut chosen = 0;
        let pid = self
            .local
            .spawn_local(req.parent, req.flags, req.num, |slot, _| {
                chosen = slot;
                Ok(())
            })?;
        self.set(chosen, role, n);
        Ok(pid)
    }

    fn release(&mut self, slot: u32) {
        if let Some(r) = self.roles.get_mut(slot as usize) {
            *r = None;
        }
    }
}

struct Rig {
    node: Arc<Node>,
    host: starling_core::HostId,
    done: mpsc::Receiver<()>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Rig {
    fn start() -> Rig {
        let mut b = Node::builder();
        let host = b.host("bench:processes", HostKind::Process);
        let node = b.build();
        let (tx, rx) = mpsc::channel();
        let tx = Arc::new(std::sync::Mutex::new(tx));
        let factory: starling_core::EngineFactory = Arc::new(move |local: &Rc<Local>| {
            Box::new(StubEngine {
                local: local.clone(),
                roles: Vec::new(),
                done: tx.lock().expect("sender lock").clone(),
            }) as Box<dyn Engine>
        });
        let threads = node.start_host(host, 1, factory).expect("start host");
        Rig {
            node,
            host,
            done: rx,
            threads,
        }
    }

    fn spawn(&self, entry: &str, n: u64, num: u64) {
        let req = SpawnRequest {
            entry: entry.into(),
            host: self.host,
            args: Payload::one(Value::Int(n as i64)),
            parent: None,
            flags: SpawnFlags::default(),
            reply: None,
            num,
            setup: None,
        };
        self.node.request_spawn(req).expect("host running");
        let pid = Pid::local(self.host, num);
        while !self.node.is_alive(pid) {
            std::thread::yield_now();
        }
    }

    fn start_message(&self, to: u64, arg: u64) {
        let to = Pid::local(self.host, to);
        let msg = Message {
            from: None,
            topic: "start".into(),
            payload: Payload::one(Value::Int(arg as i64)),
        };
        self.node.post(to, |slot| starling_core::Envelope::Message {
            to,
            slot,
            msg,
        });
    }

    fn wait(&self) {
        self.done
            .recv_timeout(Duration::from_secs(60))
            .expect("benchmark round finished");
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.node.shutdown();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn scheduler(c: &mut Criterion) {
    let rig = Rig::start();
    c.bench_function("worker/pingpong roundtrip (native)", |b| {
        b.iter_custom(|iters| {
            let ponger = rig.node.next_num();
            let pinger = rig.node.next_num();
            rig.spawn("ponger", 0, ponger);
            rig.spawn("pinger", iters, pinger);
            let t0 = Instant::now();
            rig.start_message(pinger, ponger);
            rig.wait();
            t0.elapsed()
        })
    });
    c.bench_function("worker/spawn_monitored+exit (native)", |b| {
        b.iter_custom(|iters| {
            let spawner = rig.node.next_num();
            rig.spawn("spawner", iters, spawner);
            let t0 = Instant::now();
            rig.start_message(spawner, 0);
            rig.wait();
            t0.elapsed()
        })
    });
}

// The macro defines an undocumented `pub fn benches`.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group!(benches, pids, payloads, scheduler);
}
use group::benches;
criterion_main!(benches);
