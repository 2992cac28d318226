//! Criterion micro-benchmarks of the runtime core's hot paths, without Lua.
//!
//! The scheduler benchmarks run a host whose engine is a few lines of Rust (no Lua VM), so
//! they show what the core itself costs per message and per spawn; `cargo xtask bench` runs
//! the same shapes through Lua. Run with `cargo bench -p starling-core`.

use std::hint::black_box;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use starling_core::{
    ExitReason, HostKind, Message, Node, Payload, Pid, SpawnFlags, SpawnRequest, Step, Table, Value,
};
use support::{Behaviour, Programs};

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

#[path = "../tests/support/mod.rs"]
mod support;

fn int_arg(p: &Payload, i: usize) -> u64 {
    match p.values.get(i) {
        Some(Value::Int(n)) => *n as u64,
        _ => 0,
    }
}

/// The stub processes: a ponger answers every message to its sender; a pinger sends `n`
/// pings one at a time, then reports; a spawner spawns `n` monitored children, waits for
/// their EXITs, then reports; anything else ends at its first step.
fn programs(done: mpsc::Sender<()>) -> Programs {
    Arc::new(move |entry, args| -> Option<Behaviour> {
        let done = done.clone();
        let n = int_arg(args, 0);
        Some(match entry {
            "ponger" => Box::new(|cx| {
                while let Some(m) = cx.message() {
                    if m.topic.as_ref() == "stop" {
                        return Step::Exit(ExitReason::normal(Payload::empty()));
                    }
                    if let Some(from) = m.from {
                        cx.send(from, "pong");
                    }
                }
                Step::Blocked
            }),
            "pinger" => {
                let mut left = n;
                Box::new(move |cx| {
                    // The first message names the ponger; every later one is a pong.
                    while let Some(m) = cx.message() {
                        let peer = if m.topic.as_ref() == "start" {
                            Pid::local(cx.pid.host, int_arg(&m.payload.to_payload(), 0))
                        } else {
                            m.from.expect("pongs have a sender")
                        };
                        if left == 0 {
                            cx.send(peer, "stop");
                            let _ = done.send(());
                            return Step::Exit(ExitReason::normal(Payload::empty()));
                        }
                        left -= 1;
                        cx.send(peer, "ping");
                    }
                    Step::Blocked
                })
            }
            "spawner" => {
                let mut waiting = n;
                Box::new(move |cx| {
                    if cx.message().is_some() {
                        let flags = SpawnFlags {
                            monitor: true,
                            ..SpawnFlags::default()
                        };
                        for _ in 0..n {
                            let req = cx.request("child", cx.pid.host, flags, 0);
                            cx.spawn(req).expect("spawn on a running worker");
                        }
                    }
                    while cx.event().is_some() {
                        waiting -= 1;
                    }
                    if waiting == 0 {
                        let _ = done.send(());
                        return Step::Exit(ExitReason::normal(Payload::empty()));
                    }
                    Step::Blocked
                })
            }
            _ => Box::new(|_| Step::Exit(ExitReason::normal(Payload::empty()))),
        })
    })
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
        let threads = starling_core::start_host(&node, host, 1, support::threaded(programs(tx)))
            .expect("start host");
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
            payload: Payload::one(Value::Int(arg as i64)).into(),
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
