//! External receivers: something outside the workers with a pid gets the envelopes sent to it.

use std::rc::Rc;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use starling_core::{
    Engine, EngineFactory, Envelope, ErrorValue, ExitReason, HostKind, Local, Message, Node,
    Payload, Pid, ReplyTo, SpawnFlags, SpawnRequest, Step, Value,
};

/// Every process sends "hello" to the pid it was given, then ends with 42.
struct Stub {
    local: Rc<Local>,
    targets: Vec<Option<Pid>>,
}

impl Engine for Stub {
    fn step(&mut self, slot: u32) -> Step {
        if let Some(Some(to)) = self.targets.get(slot as usize) {
            let me = self.local.pid_of(slot);
            let msg = Message {
                from: Some(me),
                topic: "hello".into(),
                payload: Payload::empty(),
            };
            self.local.send(*to, msg).expect("the external is alive");
        }
        Step::Exit(ExitReason::normal(Payload::one(Value::Int(42))))
    }

    fn spawn(&mut self, req: SpawnRequest) -> Result<Pid, ErrorValue> {
        let target = match req.args.values.first() {
            Some(Value::Str(s)) => self
                .local
                .node()
                .parse_pid(&String::from_utf8_lossy(s))
                .ok(),
            _ => None,
        };
        let mut chosen = 0;
        let pid = self
            .local
            .spawn_local(req.parent, req.flags, req.num, |s, _| {
                chosen = s;
                Ok(())
            })?;
        let i = chosen as usize;
        if self.targets.len() <= i {
            self.targets.resize(i + 1, None);
        }
        self.targets[i] = target;
        Ok(pid)
    }

    fn release(&mut self, slot: u32) {
        if let Some(t) = self.targets.get_mut(slot as usize) {
            *t = None;
        }
    }
}

#[test]
fn an_external_receiver_gets_messages_and_results() {
    let mut b = Node::builder();
    let host = b.host("test:processes", HostKind::Process);
    let node = b.build();
    let factory: EngineFactory = Arc::new(|local: &Rc<Local>| {
        Box::new(Stub {
            local: local.clone(),
            targets: Vec::new(),
        }) as Box<dyn Engine>
    });
    let threads = node.start_host(host, 1, factory).expect("start");
    let (tx, rx) = mpsc::channel::<Envelope>();
    let tx = std::sync::Mutex::new(tx);
    let me = node.register_external(
        host,
        Arc::new(move |env| {
            let _ = tx.lock().expect("lock").send(env);
        }),
    );
    assert!(node.is_alive(me));
    node.request_spawn(SpawnRequest {
        entry: "any".into(),
        host,
        args: Payload::one(Value::str(node.format_pid(me))),
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
    let mut got_message = false;
    let mut got_result = false;
    while !(got_message && got_result) {
        match rx
            .recv_timeout(Duration::from_secs(120))
            .expect("an envelope")
        {
            Envelope::Message { msg, .. } => {
                assert_eq!(&*msg.topic, "hello");
                assert!(!got_result, "the message comes before the result");
                got_message = true;
            }
            Envelope::Wake { token, result, .. } => {
                assert_eq!(token, 9);
                let p = result.expect("a normal end");
                assert!(matches!(p.values.first(), Some(Value::Int(42))));
                got_result = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    node.unregister_external(me);
    assert!(!node.is_alive(me));
    node.shutdown();
    for t in threads {
        t.join().expect("worker ended");
    }
}
