//! Cluster semantics on the in-process transport, on virtual time: several nodes in this test
//! binary, workers turned by hand, faults injected between chosen steps. Deterministic.

#[path = "../../core/tests/support/mod.rs"]
mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use starling_cluster::mem::MemBus;
use starling_cluster::{Cluster, Settings};
use starling_core::{
    Clock, Engine, ErrorKind, EventKind, ExitReason, HostId, HostKind, Node, Payload, Pid, ReplyTo,
    Scope, SpawnFlags, SpawnRequest, Spawned, Step, Value, VirtualClock, Wakeup, Worker,
    WorkerSetup,
};
use support::{Behaviour, Programs, StubEngine};

type Log = Arc<Mutex<Vec<String>>>;

fn push(log: &Log, s: impl Into<String>) {
    log.lock().expect("log").push(s.into());
}

fn lines(log: &Log) -> Vec<String> {
    log.lock().expect("log").clone()
}

struct TestNode {
    node: Arc<Node>,
    cluster: Arc<Cluster>,
    workers: Vec<Rc<RefCell<Worker>>>,
}

struct World {
    clock: Arc<VirtualClock>,
    clock_handle: Clock,
    bus: Arc<MemBus>,
    nodes: Vec<TestNode>,
    programs: Programs,
}

const HOST: &str = "app:processes";

impl World {
    fn new(names: &[&str], programs: Programs) -> World {
        let (clock_handle, clock) = Clock::manual();
        let mut w = World {
            clock,
            clock_handle,
            bus: MemBus::new(),
            nodes: Vec::new(),
            programs,
        };
        for n in names {
            let t = w.start(n, |_| {});
            w.nodes.push(t);
        }
        w.settle();
        w
    }

    fn start(&self, name: &str, tune: impl FnOnce(&mut Settings)) -> TestNode {
        let mut b = Node::builder();
        let h = b.host(HOST, HostKind::Process);
        let node = b.build();
        let mut settings = Settings::new(name, Vec::new());
        tune(&mut settings);
        let cluster = Cluster::new(
            node.clone(),
            settings,
            self.bus.record(name),
            self.bus.transport(name),
        )
        .expect("joins");
        self.bus.attach(cluster.clone());
        let programs = self.programs.clone();
        let setup = WorkerSetup {
            engines: Arc::new(move |local| {
                vec![Box::new(StubEngine::new(local, programs.clone())) as Box<dyn Engine>]
            }),
            router: Arc::new(|_| 0),
            clock: self.clock_handle.clone(),
        };
        let workers = Worker::manual(&node, h, 1, &setup)
            .expect("attach")
            .into_iter()
            .map(|w| Rc::new(RefCell::new(w)))
            .collect();
        cluster.heartbeat(true, false);
        TestNode {
            node,
            cluster,
            workers,
        }
    }

    /// Workers and bus until nothing moves.
    fn run(&self) {
        for _ in 0..10_000 {
            let mut did = false;
            for n in &self.nodes {
                for w in &n.workers {
                    while w.borrow_mut().turn() {
                        did = true;
                    }
                }
            }
            let before = self.bus.counts();
            self.bus.pump(self.clock.now());
            let moved = self.bus.counts() != before;
            if !did && !moved {
                // One more turn: the pump may have queued envelopes for workers.
                let mut any = false;
                for n in &self.nodes {
                    for w in &n.workers {
                        any |= w.borrow_mut().turn();
                    }
                }
                if !any {
                    return;
                }
            }
        }
        panic!("never idle");
    }

    /// Lets heartbeats go round so every node knows every other.
    fn settle(&self) {
        self.advance(Duration::from_millis(300));
    }

    /// Moves the clock in heartbeat steps, ticking every node.
    fn advance(&self, d: Duration) {
        let step = Duration::from_millis(100);
        let mut left = d;
        while !left.is_zero() {
            let s = step.min(left);
            self.clock.advance(s);
            left -= s;
            self.bus.tick(self.clock.now());
            self.run();
        }
    }

    fn spawn(&self, n: usize, entry: &str, args: Payload) -> Pid {
        let node = &self.nodes[n].node;
        let num = node.next_num();
        node.request_spawn(SpawnRequest {
            entry: entry.into(),
            host: node.host_id(HOST).expect("host"),
            args,
            parent: None,
            flags: SpawnFlags::default(),
            reply: None,
            num,
            setup: None,
        })
        .expect("host running");
        self.run();
        Pid::local(node.host_id(HOST).expect("host"), num)
    }

    /// The pid of `pid` (on node `from`) as node `on` names it.
    fn seen_from(&self, from: usize, pid: Pid, on: usize) -> Pid {
        let s = self.nodes[from].node.format_pid(pid);
        self.nodes[on].node.parse_pid(&s).expect("parses")
    }

    fn pid_arg(&self, from: usize, pid: Pid) -> Payload {
        Payload::one(Value::str(self.nodes[from].node.format_pid(pid)))
    }
}

fn arg_pid(cx: &support::Cx<'_>, args: &Payload) -> Pid {
    match args.values.first() {
        Some(Value::Str(s)) => cx
            .local
            .node()
            .parse_pid(std::str::from_utf8(s).expect("utf8"))
            .expect("pid"),
        other => panic!("no pid argument: {other:?}"),
    }
}

fn describe(result: &Option<ExitReason>) -> String {
    match result.as_ref().map(|r| r.result()) {
        Some(Ok(p)) => format!("ok {:?}", p.values.first()),
        Some(Err(e)) => format!("err {:?} {}", e.kind, e.message),
        None => "none".into(),
    }
}

/// A receiver that logs messages and events; `monitor` (first arg) is monitored at start,
/// `link` (second arg, optional) linked.
fn recorder(log: &Log, args: &Payload, trap: bool) -> Behaviour {
    let log = log.clone();
    let args = args.clone();
    let mut started = false;
    Box::new(move |cx| {
        if !started {
            started = true;
            if trap {
                cx.local.set_trap_links(cx.slot, true);
            }
            if let Some(Value::Str(s)) = args.values.first() {
                let p = cx
                    .local
                    .node()
                    .parse_pid(std::str::from_utf8(s).expect("utf8"))
                    .expect("pid");
                cx.local.monitor(cx.slot, p).expect("monitor");
            }
            if let Some(Value::Str(s)) = args.values.get(1) {
                let p = cx
                    .local
                    .node()
                    .parse_pid(std::str::from_utf8(s).expect("utf8"))
                    .expect("pid");
                cx.local.link(cx.slot, p).expect("link");
            }
            push(&log, "ready");
        }
        while let Some(m) = cx.message() {
            push(&log, format!("msg {}", m.topic));
        }
        while let Some(e) = cx.event() {
            push(&log, format!("{:?} {}", e.kind, describe(&e.result)));
        }
        Step::Blocked
    })
}

/// Sends `n` numbered messages to its first argument (numbered from its second, if any),
/// then ends (normally, or with an error when `fail`).
fn sender(args: &Payload, n: usize, fail: bool) -> Behaviour {
    let args = args.clone();
    Box::new(move |cx| {
        let to = arg_pid(cx, &args);
        let base = match args.values.get(1) {
            Some(Value::Int(b)) => *b as usize,
            _ => 0,
        };
        for i in base..base + n {
            assert!(cx.send(to, &format!("m{i}")), "accepted");
        }
        if fail {
            Step::Exit(ExitReason::error(starling_core::ErrorValue::new(
                ErrorKind::Internal,
                "boom",
            )))
        } else {
            Step::Exit(ExitReason::normal(Payload::one(Value::Int(7))))
        }
    })
}

fn waiter() -> Behaviour {
    Box::new(|cx| {
        while cx.message().is_some() {}
        Step::Blocked
    })
}

#[test]
fn messages_cross_in_order_and_the_exit_comes_after_them() {
    let log: Log = Arc::default();
    let l = log.clone();
    let programs: Programs = Arc::new(move |entry, args| -> Option<Behaviour> {
        match entry {
            "recorder" => Some(recorder(&l, args, false)),
            "sender" => Some(sender(args, 5, false)),
            "idle" => Some(waiter()),
            _ => None,
        }
    });
    let w = World::new(&["a", "b"], programs);
    // The sender exists first (idle), so the recorder can monitor it; it then runs.
    let idle = w.spawn(0, "idle", Payload::empty());
    let _ = idle;
    // A recorder on b monitors a sender on a, which sends five messages and ends.
    let placeholder = w.spawn(0, "idle", Payload::empty());
    let _ = placeholder;
    let rec = w.spawn(1, "recorder", Payload::empty());
    let snd_num = w.nodes[0].node.next_num();
    // Monitor the sender before it exists on a: the recorder monitors a pid that is spawned
    // right after (the monitor request and the spawn cross in order).
    let _ = snd_num;
    let rec_on_a = w.seen_from(1, rec, 0);
    let s = w.spawn(0, "sender", w.pid_arg(0, rec_on_a));
    let _ = s;
    w.run();
    let got = lines(&log);
    assert_eq!(
        got,
        vec!["ready", "msg m0", "msg m1", "msg m2", "msg m3", "msg m4"]
    );
}

#[test]
fn a_monitor_across_nodes_sees_messages_then_the_exit() {
    let log: Log = Arc::default();
    let l = log.clone();
    let gate: Arc<Mutex<Option<Pid>>> = Arc::default();
    let g = gate.clone();
    let programs: Programs = Arc::new(move |entry, args| -> Option<Behaviour> {
        match entry {
            "recorder" => Some(recorder(&l, args, false)),
            // Waits for a "go" naming the receiver, then sends and ends.
            "sender" => {
                let g = g.clone();
                Some(Box::new(move |cx| {
                    if cx.message().is_none() {
                        return Step::Blocked;
                    }
                    let to = g.lock().expect("gate").expect("receiver");
                    for i in 0..3 {
                        assert!(cx.send(to, &format!("m{i}")));
                    }
                    Step::Exit(ExitReason::normal(Payload::one(Value::Int(7))))
                }))
            }
            _ => None,
        }
    });
    let w = World::new(&["a", "b"], programs);
    let snd = w.spawn(0, "sender", Payload::empty());
    let rec = w.spawn(1, "recorder", w.pid_arg(0, snd));
    *gate.lock().expect("gate") = Some(w.seen_from(1, rec, 0));
    assert!(
        w.nodes[0]
            .node
            .post(snd, |slot| starling_core::Envelope::Message {
                to: snd,
                slot,
                msg: starling_core::Message {
                    from: None,
                    topic: "go".into(),
                    payload: Payload::empty().into(),
                },
            })
    );
    w.run();
    assert_eq!(
        lines(&log),
        vec![
            "ready",
            "msg m0",
            "msg m1",
            "msg m2",
            "Exit ok Some(Int(7))"
        ]
    );
}

fn node_down_world(trap: bool) -> (World, Log, Pid, Pid) {
    let log: Log = Arc::default();
    let l = log.clone();
    let programs: Programs = Arc::new(move |entry, args| -> Option<Behaviour> {
        match entry {
            "recorder" => Some(recorder(&l, args, trap)),
            "idle" => Some(waiter()),
            _ => None,
        }
    });
    let w = World::new(&["a", "b"], programs);
    let t1 = w.spawn(0, "idle", Payload::empty());
    let t2 = w.spawn(0, "idle", Payload::empty());
    let mut args = w.pid_arg(0, t1);
    args.values.push(Value::str(w.nodes[0].node.format_pid(t2)));
    let rec = w.spawn(1, "recorder", args);
    w.run();
    (w, log, rec, t1)
}

#[test]
fn a_cut_fires_node_down_once_for_monitors_and_links() {
    let (w, log, rec, _) = node_down_world(true);
    w.bus.cut("a", "b");
    w.advance(Duration::from_secs(3));
    assert_eq!(
        lines(&log),
        vec![
            "ready",
            "Exit err Unavailable node disconnected",
            "LinkDown err Unavailable node disconnected",
        ],
        "each relation fires exactly once"
    );
    assert!(w.nodes[1].node.is_alive(rec), "trapping: still alive");
    // Healing brings the nodes back up; nothing fires again.
    w.bus.heal();
    w.advance(Duration::from_secs(2));
    assert_eq!(lines(&log).len(), 3);
    let st = w.nodes[1].cluster.nodes();
    assert_eq!(st[1].state, "up", "{st:?}");
    assert_eq!(st[1].downs, 1);
}

#[test]
fn a_linked_process_dies_with_its_node_unless_trapping() {
    let (w, log, rec, _) = node_down_world(false);
    assert!(w.nodes[1].node.is_alive(rec));
    w.bus.cut("a", "b");
    w.advance(Duration::from_secs(3));
    assert!(!w.nodes[1].node.is_alive(rec), "linked process failed");
    assert_eq!(lines(&log), vec!["ready"]);
}

#[test]
fn a_lost_frame_is_never_silent() {
    let log: Log = Arc::default();
    let l = log.clone();
    let programs: Programs = Arc::new(move |entry, args| -> Option<Behaviour> {
        match entry {
            "recorder" => Some(recorder(&l, args, false)),
            "sender" => Some(sender(args, 1, false)),
            "idle" => Some(waiter()),
            _ => None,
        }
    });
    let w = World::new(&["a", "b"], programs);
    let idle = w.spawn(0, "idle", Payload::empty());
    let rec = w.spawn(1, "recorder", w.pid_arg(0, idle));
    let rec_on_a = w.seen_from(1, rec, 0);
    // First message crosses; the second frame is lost; the third arrives after a gap.
    w.spawn(0, "sender", w.pid_arg(0, rec_on_a));
    w.bus.drop_next("a", "b", 1);
    w.spawn(0, "sender", w.pid_arg(0, rec_on_a));
    w.spawn(0, "sender", w.pid_arg(0, rec_on_a));
    w.advance(Duration::from_millis(500));
    let got = lines(&log);
    assert_eq!(
        got,
        vec!["ready", "msg m0", "Exit err Unavailable node disconnected"],
        "the gap ends the session: the monitor fires and nothing of it is delivered after"
    );
    // Both sides saw the session end.
    assert_eq!(w.nodes[0].cluster.nodes()[1].downs, 1);
    assert_eq!(w.nodes[1].cluster.nodes()[1].downs, 1);
    // Messages flow again in the new session.
    w.spawn(0, "sender", w.pid_arg(0, rec_on_a));
    assert_eq!(lines(&log).last().map(String::as_str), Some("msg m0"));
}

#[test]
fn a_lost_last_frame_is_caught_by_the_heartbeat() {
    let log: Log = Arc::default();
    let l = log.clone();
    let programs: Programs = Arc::new(move |entry, args| -> Option<Behaviour> {
        match entry {
            "recorder" => Some(recorder(&l, args, false)),
            "sender" => Some(sender(args, 1, false)),
            "idle" => Some(waiter()),
            _ => None,
        }
    });
    let w = World::new(&["a", "b"], programs);
    let idle = w.spawn(0, "idle", Payload::empty());
    let rec = w.spawn(1, "recorder", w.pid_arg(0, idle));
    w.bus.drop_next("a", "b", 1);
    w.spawn(0, "sender", w.pid_arg(0, w.seen_from(1, rec, 0)));
    w.advance(Duration::from_millis(600));
    assert_eq!(
        lines(&log),
        vec!["ready", "Exit err Unavailable node disconnected"]
    );
}

#[test]
fn random_losses_always_come_with_a_node_down() {
    // Many rounds of a numbered stream with random frame drops: whatever the receiver
    // misses, it hears of the loss (an EXIT node disconnected from the sender it monitors)
    // before any later message.
    let log: Log = Arc::default();
    let l = log.clone();
    let programs: Programs = Arc::new(move |entry, args| -> Option<Behaviour> {
        match entry {
            "recorder" => Some(recorder(&l, args, false)),
            "sender" => Some(sender(args, 3, false)),
            "idle" => Some(waiter()),
            _ => None,
        }
    });
    let w = World::new(&["a", "b"], programs);
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _round in 0..30 {
        log.lock().expect("log").clear();
        let idle = w.spawn(0, "idle", Payload::empty());
        let rec = w.spawn(1, "recorder", w.pid_arg(0, idle));
        let to = w.seen_from(1, rec, 0);
        let mut sent = 0;
        for _ in 0..5 {
            if rand() % 4 == 0 {
                w.bus.drop_next("a", "b", 1);
            }
            let mut args = w.pid_arg(0, to);
            args.values.push(Value::Int(sent));
            w.spawn(0, "sender", args);
            sent += 3;
        }
        w.advance(Duration::from_millis(600));
        // The log holds increasing message numbers; a number skipped (or missing at the end)
        // must be followed by the node-down before the next one (or at the end).
        let got = lines(&log);
        let mut expect = 0;
        let mut down_since_gap = true;
        let mut downs = 0;
        for l in &got {
            if l.contains("node disconnected") {
                downs += 1;
                down_since_gap = true;
            } else if let Some(n) = l.strip_prefix("msg m") {
                let n: i64 = n.parse().expect("number");
                assert!(n >= expect, "in order: {got:?}");
                if n > expect {
                    assert!(down_since_gap, "a loss without node-down: {got:?}");
                }
                if n > expect || expect == 0 {
                    down_since_gap = downs > 0 && n == expect;
                }
                expect = n + 1;
            }
        }
        assert!(downs <= 1, "the monitor fires once: {got:?}");
        if expect < sent {
            assert_eq!(downs, 1, "a lost tail without node-down: {got:?}");
        }
        // This round's recorder goes, so the next round's node-downs are not its.
        let reason = starling_core::ErrorValue::new(ErrorKind::Canceled, "round over");
        w.nodes[1]
            .node
            .post(rec, |slot| starling_core::Envelope::Kill {
                to: rec,
                slot,
                reason,
            });
        w.advance(Duration::from_millis(300));
    }
}

#[test]
fn a_remote_spawn_sets_its_monitor_atomically() {
    let log: Log = Arc::default();
    let l = log.clone();
    let programs: Programs = Arc::new(move |entry, _args| -> Option<Behaviour> {
        match entry {
            "child" => Some(Box::new(|_| {
                Step::Exit(ExitReason::normal(Payload::one(Value::Int(42))))
            })),
            "parent" => {
                let l = l.clone();
                let mut started = false;
                Some(Box::new(move |cx| {
                    if !started {
                        started = true;
                        let host = cx.local.node().host_id("b@app:processes").expect("target");
                        let req = cx.request(
                            "child",
                            host,
                            SpawnFlags {
                                monitor: true,
                                ..SpawnFlags::default()
                            },
                            9,
                        );
                        match cx.spawn(req).expect("sent") {
                            Spawned::Pending(p) => assert_eq!(p.num, 0, "numbered on b"),
                            Spawned::Done(_) => panic!("not here"),
                        }
                        let bad = cx.request(
                            "nope",
                            host,
                            SpawnFlags {
                                monitor: true,
                                link: true,
                                ..SpawnFlags::default()
                            },
                            10,
                        );
                        cx.spawn(bad).expect("sent");
                    }
                    for wk in cx.wakeups() {
                        if let Wakeup::Done(token, r) = wk {
                            match r {
                                Ok(p) => {
                                    let s = match &p.values[0] {
                                        Value::Str(b) => String::from_utf8_lossy(b).into_owned(),
                                        other => format!("{other:?}"),
                                    };
                                    push(&l, format!("{token} spawned {s}"))
                                }
                                Err(e) => push(&l, format!("{token} failed {}", e.message)),
                            }
                        }
                    }
                    while let Some(e) = cx.event() {
                        push(&l, format!("{:?} {}", e.kind, describe(&e.result)));
                    }
                    push(
                        &l,
                        format!("relations {}", cx.local.relation_count(cx.slot)),
                    );
                    Step::Blocked
                }))
            }
            _ => None,
        }
    });
    let w = World::new(&["a", "b"], programs);
    w.spawn(0, "parent", Payload::empty());
    w.run();
    let got = lines(&log);
    assert!(
        got.iter()
            .any(|l| l.starts_with("9 spawned {b@app:processes|0x")),
        "{got:?}"
    );
    assert!(
        got.iter().any(|l| l == "10 failed entry not found: nope"),
        "{got:?}"
    );
    assert!(got.iter().any(|l| l == "Exit ok Some(Int(42))"), "{got:?}");
    assert_eq!(
        got.last().map(String::as_str),
        Some("relations 0"),
        "{got:?}"
    );
}

/// A process that registers names when told (messages "reg:<scope>:<name>") and logs the
/// answers and events.
fn registrar(log: &Log, tag: &'static str) -> Behaviour {
    let log = log.clone();
    let mut token = 0;
    Box::new(move |cx| {
        while let Some(m) = cx.message() {
            let t: Vec<&str> = m.topic.split(':').collect();
            let scope = Scope::from_number(t[1].parse().expect("n")).expect("scope");
            token += 1;
            let names = cx.local.node().registry.cluster().expect("cluster").clone();
            if let Err(e) = names.register(t[2], cx.pid, scope, ReplyTo { pid: cx.pid, token }) {
                push(&log, format!("{tag} {} err {}", t[2], e.message));
            }
        }
        for wk in cx.wakeups() {
            if let Wakeup::Done(_, r) = wk {
                match r {
                    Ok(p) => push(&log, format!("{tag} ok {:?}", p.values[0])),
                    Err(e) => push(&log, format!("{tag} err {}", e.message)),
                }
            }
        }
        while let Some(e) = cx.event() {
            push(
                &log,
                format!("{tag} {:?} {}", e.kind, e.reason.as_deref().unwrap_or("")),
            );
        }
        Step::Blocked
    })
}

fn tell(w: &World, n: usize, pid: Pid, topic: &str) {
    assert!(
        w.nodes[n]
            .node
            .post(pid, |slot| starling_core::Envelope::Message {
                to: pid,
                slot,
                msg: starling_core::Message {
                    from: None,
                    topic: topic.into(),
                    payload: Payload::empty().into(),
                },
            })
    );
}

#[test]
fn consistent_names_have_exactly_one_winner_and_die_with_their_node() {
    let log: Log = Arc::default();
    let l = log.clone();
    let programs: Programs = Arc::new(move |entry, _| -> Option<Behaviour> {
        match entry {
            "ra" => Some(registrar(&l, "a")),
            "rb" => Some(registrar(&l, "b")),
            _ => None,
        }
    });
    let w = World::new(&["a", "b"], programs);
    let ra = w.spawn(0, "ra", Payload::empty());
    let rb = w.spawn(1, "rb", Payload::empty());
    for i in 0..20 {
        tell(&w, 0, ra, &format!("reg:2:n{i}"));
        tell(&w, 1, rb, &format!("reg:2:n{i}"));
    }
    w.run();
    let got = lines(&log);
    let oks = got.iter().filter(|l| l.contains("ok Bool(true)")).count();
    let taken = got
        .iter()
        .filter(|l| l.contains("name already registered"))
        .count();
    assert_eq!((oks, taken), (20, 20), "{got:?}");
    // Both nodes resolve every name to the same pid.
    for i in 0..20 {
        let n = format!("n{i}");
        let on_a = w.nodes[0].node.registry.lookup(&n).expect("a sees it");
        let on_b = w.nodes[1].node.registry.lookup(&n).expect("b sees it");
        assert_eq!(
            w.nodes[0].node.format_pid(on_a),
            w.nodes[1].node.format_pid(on_b)
        );
    }
    // a dies: its names are released cluster-wide.
    w.bus.detach("a");
    w.advance(Duration::from_secs(2));
    let left = (0..20)
        .filter(|i| w.nodes[1].node.registry.lookup(&format!("n{i}")).is_some())
        .count();
    let held_by_b = got.iter().filter(|l| l.starts_with("b ok")).count();
    assert_eq!(left, held_by_b, "only b's names are left");
    assert_eq!(w.bus.names_len(), held_by_b);
}

#[test]
fn a_partitioned_eventual_name_is_revoked_when_the_partition_heals() {
    let log: Log = Arc::default();
    let l = log.clone();
    let programs: Programs = Arc::new(move |entry, _| -> Option<Behaviour> {
        match entry {
            "ra" => Some(registrar(&l, "a")),
            "rb" => Some(registrar(&l, "b")),
            _ => None,
        }
    });
    let w = World::new(&["a", "b"], programs);
    let ra = w.spawn(0, "ra", Payload::empty());
    let rb = w.spawn(1, "rb", Payload::empty());
    tell(&w, 0, ra, "reg:1:shared");
    w.run();
    w.bus.isolate("a");
    w.advance(Duration::from_secs(2));
    // b declared a down and released its name; b's process takes it.
    tell(&w, 1, rb, "reg:2:shared");
    w.run();
    w.bus.heal();
    w.advance(Duration::from_secs(3));
    let got = lines(&log);
    assert!(got.contains(&"b ok Bool(true)".to_string()), "{got:?}");
    assert!(
        got.contains(&"a Cancel name revoked: shared".to_string()),
        "{got:?}"
    );
    let on_a = w.nodes[0].node.registry.lookup("shared").expect("known");
    assert_eq!(on_a.node, w.nodes[0].node.peers.find("b").expect("b"));
}

#[test]
fn strong_names_wait_for_every_live_node() {
    let log: Log = Arc::default();
    let l = log.clone();
    let programs: Programs = Arc::new(move |entry, _| -> Option<Behaviour> {
        match entry {
            "ra" => Some(registrar(&l, "a")),
            _ => None,
        }
    });
    let w = World::new(&["a", "b", "c"], programs);
    let ra = w.spawn(0, "ra", Payload::empty());
    tell(&w, 0, ra, "reg:3:strong1");
    w.run();
    assert_eq!(lines(&log), vec!["a ok Bool(true)"]);
    assert!(w.nodes[2].node.registry.lookup("strong1").is_some());
    // c cannot hear: the registration is withdrawn once the deadline passes... unless c is
    // declared down first (then it is not a live node). Cut c from a only: b still hears
    // c, a does not, and a declares c down after node_timeout < registry timeout.
    w.bus.cut("a", "c");
    tell(&w, 0, ra, "reg:3:strong2");
    w.advance(Duration::from_secs(3));
    assert_eq!(
        lines(&log).last().map(String::as_str),
        Some("a ok Bool(true)")
    );
}

#[test]
fn a_restarted_node_never_reuses_a_pid_string() {
    let programs: Programs =
        Arc::new(|entry, _| -> Option<Behaviour> { (entry == "idle").then(waiter) });
    let mut w = World::new(&["a", "b"], programs);
    let before = w.spawn(0, "idle", Payload::empty());
    let printed = w.nodes[0].node.format_pid(before);
    assert!(printed.starts_with("{a@app:processes|0x"), "{printed}");
    let inc = w.nodes[0].cluster.incarnation();
    // a crashes and comes back.
    w.bus.detach("a");
    let again = w.start("a", |_| {});
    w.nodes[0] = again;
    w.settle();
    assert!(w.nodes[0].cluster.incarnation() > inc);
    let after = w.spawn(0, "idle", Payload::empty());
    assert!(after.num > before.num + 1000, "{after:?} vs {before:?}");
    assert_ne!(w.nodes[0].node.format_pid(after), printed);
    // b saw the new incarnation: the old one is down, the new one is up.
    let st = w.nodes[1].cluster.nodes();
    assert_eq!(st[1].state, "up");
    let _ = HostId(0);
}

#[test]
fn a_node_that_says_goodbye_is_down_at_once() {
    let (w, log, _, _) = node_down_world(true);
    w.nodes[0].cluster.leave();
    w.run();
    assert_eq!(
        lines(&log),
        vec![
            "ready",
            "Exit err Unavailable node disconnected",
            "LinkDown err Unavailable node disconnected",
        ]
    );
    let _ = EventKind::Exit;
}
