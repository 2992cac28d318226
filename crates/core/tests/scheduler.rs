//! The scheduler on virtual time with a stub engine: spawn routing, relations, timers,
//! preemption and mailbox limits, deterministic and independent of the machine's speed.

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use starling_core::{
    ErrorKind, EventKind, ExitReason, Limits, Payload, SpawnFlags, Spawned, Step, Value, Wakeup,
    Worker,
};
use support::{Behaviour, Harness, Programs, ends_with, quits_on_message};

type Log = Arc<Mutex<Vec<String>>>;

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

/// The pid of host 0 whose number is `args`'s first value (how a test hands a child the pid
/// it must talk to).
fn first_pid_of_host_0(args: &Payload) -> Option<starling_core::Pid> {
    match args.values.first() {
        Some(Value::Int(n)) => Some(starling_core::Pid::local(
            starling_core::HostId(0),
            *n as u64,
        )),
        _ => None,
    }
}

fn push(log: &Log, s: impl Into<String>) {
    log.lock().expect("log").push(s.into());
}

fn lines(log: &Log) -> Vec<String> {
    log.lock().expect("log").clone()
}

thread_local! {
    /// The worker of the target's host, turned by hand from inside the watcher's step.
    static OTHER: RefCell<Option<Rc<RefCell<Worker>>>> = const { RefCell::new(None) };
}

/// Issue 10: after `unmonitor` returns, an EXIT from the target that was already on its way
/// from another worker must never be delivered. The watcher (host 0) monitors the target
/// (host 1), tells it to quit, lets host 1 run so the EXIT sits in host 0's inbound queue,
/// and unmonitors in the same step. The old code delivered the EXIT anyway.
#[test]
fn issue_10_no_exit_after_unmonitor_even_one_in_flight() {
    let seen = log();
    let s = seen.clone();
    let programs: Programs = Arc::new(move |entry, args| -> Option<Behaviour> {
        match entry {
            "target" => Some(quits_on_message()),
            "watcher" => {
                let target = match args.values.first() {
                    Some(Value::Int(n)) => *n as u64,
                    _ => return None,
                };
                let s = s.clone();
                let mut done = false;
                Some(Box::new(move |cx| {
                    if let Some(ev) = cx.event() {
                        push(&s, format!("event {:?} from {}", ev.kind, ev.from.num));
                    }
                    if done {
                        return Step::Blocked;
                    }
                    done = true;
                    let t = starling_core::Pid::local(starling_core::HostId(1), target);
                    cx.local.monitor(cx.slot, t).expect("monitor");
                    assert!(cx.send(t, "quit"));
                    // Host 1 runs now: the target ends and its EXIT is queued for host 0.
                    OTHER.with(|o| {
                        let w = o.borrow().clone().expect("other worker");
                        while w.borrow_mut().turn() {}
                    });
                    assert!(!cx.local.node().is_alive(t), "the target ended");
                    cx.local.demonitor(cx.slot, t).expect("demonitor");
                    push(&s, "unmonitored");
                    Step::Blocked
                }))
            }
            _ => None,
        }
    });
    let h = Harness::new(&["t:a", "t:b"], programs);
    OTHER.with(|o| *o.borrow_mut() = Some(h.worker(1)));
    let target = h.spawn("target", 1, Payload::empty());
    h.run();
    h.spawn("watcher", 0, Payload::one(Value::Int(target.num as i64)));
    h.run();
    // Anything queued for the watcher has been applied by now; poke it once more.
    h.advance(Duration::from_secs(1));
    assert_eq!(lines(&seen), vec!["unmonitored".to_string()]);
    OTHER.with(|o| *o.borrow_mut() = None);
}

/// Issue 10: a monitored and linked spawn on another host that fails leaves no relation entry
/// in the parent (the Lua engine used to keep one per failure).
#[test]
fn issue_10_a_failed_remote_spawn_leaves_no_relation() {
    let seen = log();
    let s = seen.clone();
    let programs: Programs = Arc::new(move |entry, _| -> Option<Behaviour> {
        match entry {
            "parent" => {
                let s = s.clone();
                let mut started = false;
                Some(Box::new(move |cx| {
                    for w in cx.wakeups() {
                        if let Wakeup::Done(token, result) = w {
                            let e = result.expect_err("the spawn fails");
                            push(&s, format!("{token}: {:?} {}", e.kind, e.message));
                            push(
                                &s,
                                format!("relations {}", cx.local.relation_count(cx.slot)),
                            );
                        }
                    }
                    if !started {
                        started = true;
                        for token in 1..=3 {
                            let flags = SpawnFlags {
                                monitor: true,
                                link: true,
                                ..SpawnFlags::default()
                            };
                            let req =
                                cx.request("nonexistent", starling_core::HostId(1), flags, token);
                            match cx.spawn(req).expect("requested") {
                                Spawned::Pending(_) => {}
                                Spawned::Done(p) => panic!("created {p:?}"),
                            }
                        }
                        push(&s, format!("pending {}", cx.local.relation_count(cx.slot)));
                    }
                    Step::Blocked
                }))
            }
            _ => None,
        }
    });
    let h = Harness::new(&["t:a", "t:b"], programs);
    h.spawn("parent", 0, Payload::empty());
    h.run();
    let got = lines(&seen);
    assert_eq!(
        got[0], "pending 9",
        "3 monitors, 3 links, 3 spawns in flight"
    );
    for (i, token) in (1..=3).enumerate() {
        assert_eq!(
            got[1 + 2 * i],
            format!("{token}: NotFound entry not found: nonexistent")
        );
    }
    assert_eq!(got[6], "relations 0", "{got:?}");
}

#[test]
fn an_inline_spawn_records_both_halves_at_once() {
    let seen = log();
    let s = seen.clone();
    let programs: Programs = Arc::new(move |entry, _| -> Option<Behaviour> {
        match entry {
            "child" => Some(ends_with(7)),
            "parent" => {
                let s = s.clone();
                let mut started = false;
                Some(Box::new(move |cx| {
                    if let Some(ev) = cx.event() {
                        let r = ev.result.expect("result");
                        push(
                            &s,
                            format!(
                                "{:?} {:?}",
                                ev.kind,
                                r.result().as_ref().ok().map(|p| p.values.clone())
                            ),
                        );
                        return Step::Exit(ExitReason::normal(Payload::empty()));
                    }
                    if !started {
                        started = true;
                        let flags = SpawnFlags {
                            monitor: true,
                            ..SpawnFlags::default()
                        };
                        let req = cx.request("child", starling_core::HostId(0), flags, 1);
                        let r = cx.spawn(req).expect("spawned");
                        assert!(
                            matches!(r, Spawned::Done(_)),
                            "same host and engine: inline"
                        );
                        push(
                            &s,
                            format!("relations {}", cx.local.relation_count(cx.slot)),
                        );
                    }
                    Step::Blocked
                }))
            }
            _ => None,
        }
    });
    let h = Harness::new(&["t:a"], programs);
    h.spawn("parent", 0, Payload::empty());
    h.run();
    assert_eq!(
        lines(&seen),
        vec!["relations 1".to_string(), "Exit Some([Int(7)])".to_string()]
    );
}

#[test]
fn timers_fire_on_virtual_time_exactly_once() {
    let seen = log();
    let s = seen.clone();
    let programs: Programs = Arc::new(move |_, _| -> Option<Behaviour> {
        let s = s.clone();
        let mut armed = false;
        Some(Box::new(move |cx| {
            for w in cx.wakeups() {
                if let Wakeup::Timer(t) = w {
                    push(&s, format!("fired {t}"));
                }
            }
            if !armed {
                armed = true;
                let now = cx.local.now();
                cx.local
                    .add_timer(cx.slot, now + Duration::from_millis(100), 1);
                cx.local
                    .add_timer(cx.slot, now + Duration::from_millis(50), 2);
            }
            Step::Blocked
        }))
    });
    let h = Harness::new(&["t:a"], programs);
    h.spawn("sleeper", 0, Payload::empty());
    h.run();
    h.advance(Duration::from_millis(49));
    assert!(lines(&seen).is_empty());
    h.advance(Duration::from_millis(1));
    assert_eq!(lines(&seen), vec!["fired 2"]);
    h.advance(Duration::from_millis(49));
    assert_eq!(lines(&seen), vec!["fired 2"]);
    h.advance(Duration::from_millis(1));
    h.advance(Duration::from_secs(10));
    assert_eq!(lines(&seen), vec!["fired 2", "fired 1"]);
}

/// Issue 11: cancelled timers and those of ended processes leave the heap (compacted once
/// they outnumber the live ones); only live timers fire.
#[test]
fn cancelled_timers_leave_the_heap() {
    let seen = log();
    let s = seen.clone();
    let programs: Programs = Arc::new(move |entry, _| -> Option<Behaviour> {
        let s = s.clone();
        let quitter = entry == "quitter";
        let mut armed = false;
        Some(Box::new(move |cx| {
            for w in cx.wakeups() {
                if let Wakeup::Timer(t) = w {
                    push(&s, format!("fired {t}"));
                }
            }
            if !armed {
                armed = true;
                let at = cx.local.now() + Duration::from_secs(3600);
                for token in 1..=1000 {
                    cx.local.add_timer(cx.slot, at, token);
                }
                if quitter {
                    return Step::Exit(ExitReason::normal(Payload::empty()));
                }
                for token in 1..=900 {
                    cx.local.cancel_timer(cx.slot, token, 1);
                }
                // 100 live: the heap holds at most about twice that.
                let entries = cx.local.timer_entries();
                push(&s, format!("bounded {}", (100..=200).contains(&entries)));
            }
            Step::Blocked
        }))
    });
    let h = Harness::new(&["t:a"], programs);
    h.spawn("keeper", 0, Payload::empty());
    h.run();
    assert_eq!(lines(&seen), vec!["bounded true"], "the heap was compacted");
    h.spawn("quitter", 0, Payload::empty());
    h.run();
    let worker = h.worker(0);
    assert_eq!(worker.borrow().local().timer_entries(), 100);
    h.advance(Duration::from_secs(3601));
    let fired: Vec<String> = lines(&seen)
        .into_iter()
        .filter(|l| l.starts_with("fired"))
        .collect();
    assert_eq!(fired.len(), 100, "{fired:?}");
    assert!(
        fired
            .iter()
            .all(|l| l["fired ".len()..].parse::<u64>().is_ok_and(|t| t > 900)),
        "only live timers fire: {fired:?}"
    );
    assert_eq!(worker.borrow().local().timer_entries(), 0);
}

#[test]
fn preempted_processes_share_the_worker_round_robin() {
    let seen = log();
    let s = seen.clone();
    let programs: Programs = Arc::new(move |entry, _| -> Option<Behaviour> {
        let s = s.clone();
        let name = entry.to_string();
        let mut left = 3;
        Some(Box::new(move |_| {
            push(&s, name.clone());
            left -= 1;
            if left == 0 {
                Step::Exit(ExitReason::normal(Payload::empty()))
            } else {
                Step::Preempted
            }
        }))
    });
    let h = Harness::new(&["t:a"], programs);
    h.spawn("a", 0, Payload::empty());
    h.spawn("b", 0, Payload::empty());
    h.run();
    assert_eq!(lines(&seen), vec!["a", "b", "a", "b", "a", "b"]);
}

/// SPEC §5.8: a message sent before the sender ends arrives before its EXIT.
#[test]
fn a_message_arrives_before_the_exit_that_follows_it() {
    let seen = log();
    let s = seen.clone();
    let programs: Programs = Arc::new(move |entry, args| -> Option<Behaviour> {
        match entry {
            "sender" => {
                let to = first_pid_of_host_0(args)?;
                Some(Box::new(move |cx| {
                    assert!(cx.send(to, "last words"));
                    Step::Exit(ExitReason::normal(Payload::empty()))
                }))
            }
            "watcher" => {
                let s = s.clone();
                let mut started = false;
                Some(Box::new(move |cx| {
                    if !started {
                        started = true;
                        let mut req = cx.request(
                            "sender",
                            starling_core::HostId(1),
                            SpawnFlags {
                                monitor: true,
                                ..SpawnFlags::default()
                            },
                            1,
                        );
                        req.args = Payload::one(Value::Int(cx.pid.num as i64));
                        cx.spawn(req).expect("requested");
                    }
                    // Record what is queued at each step: the message may never be behind.
                    let has_msg = cx.local.pop_message(cx.slot).is_some();
                    let has_exit = cx.event().is_some_and(|e| e.kind == EventKind::Exit);
                    if has_msg || has_exit {
                        push(&s, format!("msg={has_msg} exit={has_exit}"));
                    }
                    Step::Blocked
                }))
            }
            _ => None,
        }
    });
    let h = Harness::new(&["t:a", "t:b"], programs);
    h.spawn("watcher", 0, Payload::empty());
    h.run();
    let got = lines(&seen);
    assert!(
        got == vec!["msg=true exit=true"]
            || got == vec!["msg=true exit=false", "msg=false exit=true"],
        "{got:?}"
    );
}

/// The Echo request's shape: `{sender = "...", data = "hello world"}`.
fn request_payload() -> Payload {
    Payload {
        values: vec![Value::Table(0)],
        tables: vec![starling_core::Table {
            array: Vec::new(),
            hash: vec![
                (Value::str("sender"), Value::str("{t:a|0x00001}")),
                (Value::str("data"), Value::str("hello world")),
            ],
        }],
    }
}

#[test]
fn a_table_message_to_another_worker_travels_as_one_buffer() {
    let seen = log();
    let s = seen.clone();
    let programs: Programs = Arc::new(move |entry, args| -> Option<Behaviour> {
        let s = s.clone();
        match entry {
            "sender" => {
                let to = first_pid_of_host_0(args)?;
                let mut sent = false;
                Some(Box::new(move |cx| {
                    if !sent {
                        sent = true;
                        for dest in [to, cx.pid] {
                            let msg = starling_core::Message::new(
                                Some(cx.pid),
                                "req".into(),
                                request_payload(),
                            );
                            assert!(cx.local.send(dest, msg).is_ok());
                        }
                    }
                    match cx.message() {
                        Some(m) => {
                            push(&s, format!("same worker: {}", kind_of(&m)));
                            assert_eq!(m.payload.into_payload(), request_payload());
                            Step::Exit(ExitReason::normal(Payload::empty()))
                        }
                        None => Step::Blocked,
                    }
                }))
            }
            "receiver" => {
                let mut started = false;
                Some(Box::new(move |cx| {
                    if !started {
                        started = true;
                        let mut req = cx.request(
                            "sender",
                            starling_core::HostId(1),
                            SpawnFlags::default(),
                            1,
                        );
                        req.args = Payload::one(Value::Int(cx.pid.num as i64));
                        cx.spawn(req).expect("requested");
                    }
                    match cx.message() {
                        Some(m) => {
                            push(&s, format!("other worker: {}", kind_of(&m)));
                            assert_eq!(*m.payload.to_payload(), request_payload());
                            Step::Exit(ExitReason::normal(Payload::empty()))
                        }
                        None => Step::Blocked,
                    }
                }))
            }
            _ => None,
        }
    });
    let h = Harness::new(&["t:a", "t:b"], programs);
    h.spawn("receiver", 0, Payload::empty());
    h.run();
    let mut got = lines(&seen);
    got.sort();
    assert_eq!(got, vec!["other worker: flat", "same worker: values"]);
}

/// Which form a message's values came in.
fn kind_of(m: &starling_core::Message) -> &'static str {
    match &m.payload {
        starling_core::MessageBody::Flat(_) => "flat",
        starling_core::MessageBody::Values(_) => "values",
    }
}

#[test]
fn a_process_over_its_mailbox_limit_is_killed_and_its_monitor_told() {
    let seen = log();
    let s = seen.clone();
    let programs: Programs = Arc::new(move |entry, _| -> Option<Behaviour> {
        match entry {
            // Never reads.
            "deaf" => Some(Box::new(|_| Step::Blocked)),
            "flooder" => {
                let s = s.clone();
                let mut started = false;
                Some(Box::new(move |cx| {
                    if let Some(ev) = cx.event() {
                        let e = ev
                            .result
                            .expect("result")
                            .result()
                            .clone()
                            .expect_err("killed");
                        push(&s, format!("{:?}: {}", e.kind, e.message));
                        return Step::Exit(ExitReason::normal(Payload::empty()));
                    }
                    if !started {
                        started = true;
                        let req = cx.request(
                            "deaf",
                            starling_core::HostId(0),
                            SpawnFlags {
                                monitor: true,
                                ..SpawnFlags::default()
                            },
                            1,
                        );
                        let Ok(Spawned::Done(deaf)) = cx.spawn(req) else {
                            panic!("inline")
                        };
                        for _ in 0..11 {
                            cx.send(deaf, "spam");
                        }
                    }
                    Step::Blocked
                }))
            }
            _ => None,
        }
    });
    let h = Harness::with_builder(&["t:a"], programs, |b, id| {
        b.mailbox_limits(
            id,
            Limits {
                items: 10,
                bytes: 0,
            },
        );
    });
    h.spawn("flooder", 0, Payload::empty());
    h.run();
    assert_eq!(
        lines(&seen),
        vec!["Internal: mailbox overflow: more than 10 messages queued"]
    );
}

#[test]
fn links_kill_or_report_by_trap_links() {
    let seen = log();
    let s = seen.clone();
    let programs: Programs = Arc::new(move |entry, _| -> Option<Behaviour> {
        match entry {
            "failer" => Some(Box::new(|_| {
                Step::Exit(ExitReason::error(starling_core::ErrorValue::new(
                    ErrorKind::Internal,
                    "boom",
                )))
            })),
            "trapper" | "plain" => {
                let s = s.clone();
                let trap = entry == "trapper";
                let mut started = false;
                Some(Box::new(move |cx| {
                    if let Some(ev) = cx.event() {
                        push(&s, format!("{:?}", ev.kind));
                        return Step::Exit(ExitReason::normal(Payload::empty()));
                    }
                    if !started {
                        started = true;
                        cx.local.set_trap_links(cx.slot, trap);
                        let req = cx.request(
                            "failer",
                            starling_core::HostId(1),
                            SpawnFlags {
                                link: true,
                                ..SpawnFlags::default()
                            },
                            1,
                        );
                        cx.spawn(req).expect("requested");
                    }
                    Step::Blocked
                }))
            }
            "watch" => {
                let s = s.clone();
                let mut started = false;
                Some(Box::new(move |cx| {
                    if let Some(ev) = cx.event() {
                        let e = ev.result.expect("r").result().clone().expect_err("failed");
                        push(&s, format!("plain died: {}", e.message));
                        return Step::Exit(ExitReason::normal(Payload::empty()));
                    }
                    if !started {
                        started = true;
                        let req = cx.request(
                            "plain",
                            starling_core::HostId(0),
                            SpawnFlags {
                                monitor: true,
                                ..SpawnFlags::default()
                            },
                            1,
                        );
                        cx.spawn(req).expect("spawned");
                    }
                    Step::Blocked
                }))
            }
            _ => None,
        }
    });
    let h = Harness::new(&["t:a", "t:b"], programs);
    h.spawn("trapper", 0, Payload::empty());
    h.run();
    assert_eq!(lines(&seen), vec!["LinkDown"]);
    h.spawn("watch", 0, Payload::empty());
    h.run();
    assert_eq!(
        lines(&seen),
        vec!["LinkDown", "plain died: linked process failed"]
    );
}

#[test]
fn a_terminal_host_runs_one_process_at_a_time() {
    let seen = log();
    let s = seen.clone();
    let programs: Programs = Arc::new(move |entry, _| -> Option<Behaviour> {
        match entry {
            "idle" => Some(Box::new(|_| Step::Blocked)),
            "asker" => {
                let s = s.clone();
                let mut started = false;
                Some(Box::new(move |cx| {
                    for w in cx.wakeups() {
                        if let Wakeup::Done(_, r) = w {
                            push(&s, format!("{:?}", r.map(|_| ()).map_err(|e| e.message)));
                        }
                    }
                    if !started {
                        started = true;
                        let req =
                            cx.request("idle", starling_core::HostId(1), SpawnFlags::default(), 1);
                        cx.spawn(req).expect("requested");
                    }
                    Step::Blocked
                }))
            }
            _ => None,
        }
    });
    let h = Harness::new(&["t:a", "t:terminal"], programs);
    h.spawn("idle", 1, Payload::empty());
    h.spawn("asker", 0, Payload::empty());
    h.run();
    assert_eq!(lines(&seen), vec![r#"Err("terminal host busy")"#]);
}
