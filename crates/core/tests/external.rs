//! External receivers: something outside the workers with a pid gets the envelopes sent to it.

mod support;

use std::sync::{Arc, Mutex};

use starling_core::{
    Envelope, ExitReason, Payload, Pid, ReplyTo, SpawnFlags, SpawnRequest, Step, Value,
};
use support::{Behaviour, Harness, Programs};

#[test]
fn an_external_receiver_gets_messages_and_results() {
    // Every process sends "hello" to the pid it is given, then ends with 42.
    let programs: Programs = Arc::new(|_, args| -> Option<Behaviour> {
        let to = match args.values.first() {
            Some(Value::Int(n)) => *n as u64,
            _ => return None,
        };
        Some(Box::new(move |cx| {
            let to = Pid::local(cx.pid.host, to);
            assert!(cx.send(to, "hello"), "the external is alive");
            Step::Exit(ExitReason::normal(Payload::one(Value::Int(42))))
        }))
    });
    let h = Harness::new(&["test:processes"], programs);
    let got: Arc<Mutex<Vec<Envelope>>> = Arc::default();
    let g = got.clone();
    let me = h.node.register_external(
        h.hosts[0],
        Arc::new(move |env| g.lock().expect("lock").push(env)),
    );
    assert!(h.node.is_alive(me));
    h.node
        .request_spawn(SpawnRequest {
            entry: "any".into(),
            host: h.hosts[0],
            args: Payload::one(Value::Int(me.num as i64)),
            parent: None,
            flags: SpawnFlags {
                exit_to: Some(ReplyTo { pid: me, token: 9 }),
                ..SpawnFlags::default()
            },
            reply: None,
            num: 0,
            setup: None,
        })
        .expect("host running");
    h.run();
    let got = std::mem::take(&mut *got.lock().expect("lock"));
    assert_eq!(got.len(), 2, "{got:?}");
    match &got[0] {
        Envelope::Message { msg, .. } => assert_eq!(&*msg.topic, "hello"),
        other => panic!("the message comes first, got {other:?}"),
    }
    match &got[1] {
        Envelope::Wake { token, result, .. } => {
            assert_eq!(*token, 9);
            let p = result.as_ref().expect("a normal end");
            assert!(matches!(p.values.first(), Some(Value::Int(42))));
        }
        other => panic!("unexpected {other:?}"),
    }
    h.node.unregister_external(me);
    assert!(!h.node.is_alive(me));
}
