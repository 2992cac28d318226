//! A panic inside an engine's step ends only that process: its monitor gets an EXIT with an
//! INTERNAL error naming the panic, and the worker keeps running other processes.

mod support;

use std::sync::{Arc, Mutex};

use starling_core::{
    Envelope, ErrorKind, ExitReason, Payload, ReplyTo, SpawnFlags, SpawnRequest, Step,
};
use support::{Behaviour, Harness, Programs};

type Seen = Arc<Mutex<Vec<Result<Payload, starling_core::ErrorValue>>>>;

/// "bomb" panics at its first step, "spawnbomb" while it is being created; "watcher" spawns a
/// monitored bomb and reports the EXIT it gets.
fn programs(seen: Seen) -> Programs {
    Arc::new(move |entry, _| -> Option<Behaviour> {
        match entry {
            "bomb" => Some(Box::new(|_| panic!("engine bug in step"))),
            "spawnbomb" => panic!("engine bug in spawn"),
            "watcher" => {
                let seen = seen.clone();
                let mut started = false;
                Some(Box::new(move |cx| {
                    if let Some(ev) = cx.event() {
                        let r = ev.result.expect("EXIT has a result").result().clone();
                        seen.lock().expect("lock").push(r);
                        return Step::Exit(ExitReason::normal(Payload::empty()));
                    }
                    if !started {
                        started = true;
                        let flags = SpawnFlags {
                            monitor: true,
                            ..SpawnFlags::default()
                        };
                        let req = cx.request("bomb", cx.pid.host, flags, 1);
                        cx.spawn(req).expect("spawn");
                    }
                    Step::Blocked
                }))
            }
            _ => Some(Box::new(|_| {
                Step::Exit(ExitReason::normal(Payload::empty()))
            })),
        }
    })
}

#[test]
fn a_panicking_step_ends_only_its_process() {
    let seen: Seen = Arc::default();
    let h = Harness::new(&["test:processes"], programs(seen.clone()));
    // Twice on the same worker: the first panic must not have broken it.
    for round in 1..=2 {
        h.spawn("watcher", 0, Payload::empty());
        h.run();
        let got = seen.lock().expect("lock");
        assert_eq!(got.len(), round);
        let err = got[round - 1]
            .clone()
            .expect_err("a panic is an error exit");
        assert_eq!(err.kind, ErrorKind::Internal);
        assert!(
            err.message.contains("runtime panic: engine bug in step"),
            "{}",
            err.message
        );
    }
}

#[test]
fn a_panicking_spawn_fails_only_that_spawn() {
    let seen: Seen = Arc::default();
    let h = Harness::new(&["test:processes"], programs(seen.clone()));
    let replies: Arc<Mutex<Vec<Envelope>>> = Arc::default();
    let r = replies.clone();
    let waiter = h.node.register_external(
        h.hosts[0],
        Arc::new(move |env| r.lock().expect("lock").push(env)),
    );
    h.node
        .request_spawn(SpawnRequest {
            entry: "spawnbomb".into(),
            host: h.hosts[0],
            args: Payload::empty(),
            parent: None,
            flags: SpawnFlags::default(),
            reply: Some(ReplyTo {
                pid: waiter,
                token: 1,
            }),
            num: 0,
            setup: None,
        })
        .expect("host running");
    h.run();
    match replies.lock().expect("lock").pop() {
        Some(Envelope::Wake { token, result, .. }) => {
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
    assert_eq!(
        h.node.live_count(),
        1,
        "only the waiter: no half-made process"
    );

    // The worker survived: a process on it still runs.
    h.spawn("watcher", 0, Payload::empty());
    h.run();
    assert!(seen.lock().expect("lock")[0].is_err(), "the bomb's EXIT");
}
