//! Native Rust processes (issue 5): interop with Lua in one runtime (send, spawn, monitor,
//! link and the registry both ways; `tests/native/src/interop.lua` is the Lua half), the
//! typed errors of the embedding API, and the Rust examples against their transcripts.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use starling::{
    BootError, Context, ErrorKind, ErrorValue, EventKind, KindError, LogFlags, Payload, Pid,
    Runtime, SendError,
};

use crate::examples::mask_times;
use crate::support::repo;

/// The result of a monitored or linked process, as the Lua driver reads it.
fn exit_report(result: Option<&starling::ExitReason>) -> serde_json::Value {
    match result.map(|r| r.result()) {
        Some(Ok(p)) => json!({ "value": p.decode::<serde_json::Value>().unwrap_or_default() }),
        Some(Err(e)) => json!({ "error": e.to_string() }),
        None => json!({}),
    }
}

#[derive(Deserialize)]
struct Person {
    name: String,
    age: u32,
}

/// `test:rust`: answers the Lua driver's requests, one topic per interop case.
async fn rust(ctx: Context, _args: Payload) -> Result<i64, ErrorValue> {
    loop {
        let msg = ctx.recv().await;
        let Some(from) = msg.from else { continue };
        match &*msg.topic {
            "echo" => ctx.send_payload(from, "echoed", msg.payload)?,
            "typed" => {
                let reply = match msg.payload.decode::<Person>() {
                    Ok(p) => json!({ "ok": true, "greeting": format!("{} is {}", p.name, p.age) }),
                    Err(e) => json!({ "ok": false, "error": e.to_string() }),
                };
                ctx.send(from, "typed", &reply)?;
            }
            "register" => {
                let name: String = msg.payload.decode()?;
                ctx.send(from, "registered", &ctx.register(&name).is_ok())?;
            }
            "lookup" => {
                let name: String = msg.payload.decode()?;
                ctx.send(from, "lookup", &ctx.lookup(&name))?;
            }
            "spawn_lua" => {
                let mode: String = msg.payload.decode()?;
                let child = ctx
                    .spawn_monitored("test:lua_child", "test:processes", &(ctx.pid(), &mode))
                    .await?;
                let mut report = json!({});
                loop {
                    // `biased`: the child's message is queued before its EXIT; without it
                    // select! may take the EXIT first when both are ready.
                    tokio::select! {
                        biased;
                        m = ctx.recv() => {
                            if &*m.topic == "hello_from_lua" && m.from == Some(child) {
                                report["hello"] = m.payload.decode()?;
                            }
                        }
                        ev = ctx.event() => {
                            if ev.kind == EventKind::Exit && ev.from == child {
                                let r = exit_report(ev.result.as_ref());
                                for (k, v) in r.as_object().into_iter().flatten() {
                                    report[k] = v.clone();
                                }
                                break;
                            }
                        }
                    }
                }
                ctx.send(from, "child_exit", &report)?;
            }
            "monitor" => {
                let target: Pid = msg.payload.decode()?;
                ctx.send(from, "monitoring", &ctx.monitor(target).is_ok())?;
                let ev = ctx.event().await;
                let mut report = exit_report(ev.result.as_ref());
                report["from"] = json!(ctx.node().format_pid(ev.from));
                ctx.send(from, "monitored_exit", &report)?;
            }
            "link_lua_trap" => {
                ctx.trap_links(true);
                let child = ctx
                    .spawn_linked("test:lua_child", "test:processes", &(ctx.pid(), "fail"))
                    .await?;
                let ev = ctx.event().await;
                assert_eq!(ev.kind, EventKind::LinkDown);
                assert_eq!(ev.from, child);
                ctx.trap_links(false);
                ctx.send(from, "link_down", &exit_report(ev.result.as_ref()))?;
            }
            "link_lua_die" => {
                ctx.spawn_linked("test:lua_child", "test:processes", &(ctx.pid(), "fail"))
                    .await?;
                // The child's failure kills this process while it waits here (an hour: only
                // the failure can end the wait).
                ctx.sleep(Duration::from_secs(3600)).await;
            }
            "cancel" => {
                let target: Pid = msg.payload.decode()?;
                assert!(ctx.cancel(target, "from Rust"));
            }
            "terminate" => {
                let target: Pid = msg.payload.decode()?;
                assert!(ctx.terminate(target));
            }
            "bad_sends" => {
                let kind = |r: Result<(), SendError>| match r {
                    Ok(()) => "sent",
                    Err(SendError::Payload(_)) => "payload",
                    Err(SendError::NotFound(_)) => "not_found",
                    Err(_) => "other",
                };
                // u64::MAX has no Lua number that holds it exactly.
                let payload = kind(ctx.send(from, "never", &u64::MAX));
                let gone = ctx
                    .spawn_monitored("test:lua_child", "test:processes", &(ctx.pid(), "ok"))
                    .await?;
                loop {
                    let ev = ctx.event().await;
                    if ev.from == gone {
                        break;
                    }
                }
                let dead = kind(ctx.send(gone, "late", &1));
                let name = kind(ctx.send("nobody_has_this_name", "x", &1));
                // The child's hello is still queued: drop it.
                while ctx
                    .try_recv()
                    .is_some_and(|m| &*m.topic != "hello_from_lua")
                {}
                ctx.send(
                    from,
                    "bad_sends",
                    &json!({ "payload": payload, "dead": dead, "name": name }),
                )?;
            }
            "spawn_unknown" => {
                let err = ctx
                    .spawn("test:nope", "test:processes", &())
                    .await
                    .expect_err("no such entry");
                let e = ErrorValue::from(err);
                ctx.send(
                    from,
                    "spawn_unknown",
                    &json!({ "kind": e.kind.as_str(), "message": e.message }),
                )?;
            }
            "fail" => return Err(ErrorValue::new(ErrorKind::Invalid, "asked to fail")),
            "panic" => panic!("asked to panic"),
            "stop" => return Ok(msg.payload.decode()?),
            _ => {}
        }
    }
}

/// `test:rust_service`: the process of `test:rust-service`; echoes under a registered name.
async fn rust_service(ctx: Context, _args: Payload) -> Result<(), ErrorValue> {
    ctx.register("rust_service")?;
    loop {
        let msg = ctx.recv().await;
        if let (Some(from), "echo") = (msg.from, &*msg.topic) {
            ctx.send_payload(from, "echoed", msg.payload)?;
        }
    }
}

thread_local! {
    /// Where `test:leaker` leaves its context for `stale_driver` (same worker thread).
    static LEAKED: std::cell::RefCell<Option<Context>> = const { std::cell::RefCell::new(None) };
}

/// `test:leaker`: keeps its context somewhere it outlives the process, then ends.
async fn leaker(ctx: Context, _args: Payload) -> Result<(), ErrorValue> {
    LEAKED.with(|l| *l.borrow_mut() = Some(ctx));
    Ok(())
}

/// `test:stale_driver`: a context kept past its process's end must not reach the process
/// that reuses its slot.
async fn stale_driver(ctx: Context, _args: Payload) -> Result<i64, ErrorValue> {
    let gone = ctx
        .spawn_monitored("test:leaker", "test:processes", &())
        .await?;
    while ctx.event().await.from != gone {}
    let stale = LEAKED
        .with(|l| l.borrow_mut().take())
        .expect("the leaker ran on this worker");
    // Its slot is free: the next local spawn takes it. Give that process a message.
    let heir = ctx.spawn("test:rust", "test:processes", &()).await?;
    ctx.send(heir, "unrelated", &1)?;
    let ok = stale.try_recv().is_none()
        && stale.try_event().is_none()
        && stale.monitor(ctx.pid()) == Err(starling::RelationError::NotFound);
    ctx.send(heir, "stop", &0)?;
    Ok(if ok { 0 } else { 1 })
}

/// `test:stale_main`: runs `test:stale_driver` on the process host, returns its result.
async fn stale_main(ctx: Context, _args: Payload) -> Result<i64, ErrorValue> {
    let driver = ctx
        .spawn_monitored("test:stale_driver", "test:processes", &())
        .await?;
    loop {
        let ev = ctx.event().await;
        if ev.from == driver {
            return match ev.result.as_ref().map(|r| r.result()) {
                Some(Ok(p)) => Ok(p.decode()?),
                Some(Err(e)) => Err(e.clone()),
                None => Ok(1),
            };
        }
    }
}

fn interop_runtime() -> Runtime {
    Runtime::project(repo().join("tests/native"))
        .log(LogFlags {
            silent: true,
            ..LogFlags::default()
        })
        .native("test:rust", rust)
        .and_then(|rt| rt.native("test:rust_service", rust_service))
        .expect("valid kinds")
}

#[test]
fn lua_and_rust_processes_interoperate() {
    let code = interop_runtime()
        .exec("test:interop", Vec::new())
        .run()
        .expect("boots");
    assert_eq!(code, 0, "the Lua driver failed (its error is on stderr)");
}

#[test]
fn a_context_kept_past_its_process_reaches_nothing() {
    let code = interop_runtime()
        .native("test:leaker", leaker)
        .and_then(|rt| rt.native("test:stale_driver", stale_driver))
        .and_then(|rt| rt.native("test:stale_main", stale_main))
        .expect("valid kinds")
        .exec("test:stale_main", Vec::new())
        .run()
        .expect("boots");
    assert_eq!(code, 0);
}

#[test]
fn native_kind_errors_are_typed() {
    let dup = Runtime::new()
        .native("app:a", rust)
        .expect("first")
        .native("app:a", rust)
        .expect_err("second");
    assert_eq!(dup, KindError::Duplicate("app:a".into()));
    for bad in ["noname", ":x", "app:", "a:b:c"] {
        let e = Runtime::new().native(bad, rust).expect_err(bad);
        assert_eq!(e, KindError::InvalidId(bad.into()));
    }
    // A native id that a definition file already uses.
    let clash = interop_runtime()
        .native("test:interop", rust)
        .expect("registers")
        .exec("test:interop", Vec::new())
        .run()
        .expect_err("clash");
    assert!(matches!(clash, BootError::Native(_)), "{clash:?}");
    // Definitions given in code are checked like files and named in errors.
    let bad = Runtime::new()
        .definitions(
            "inline.yaml",
            "version: \"1.0\"\nnamespace: app\nentries:\n  - name: x\n",
        )
        .exec("app:x", Vec::new())
        .run()
        .expect_err("an entry without a kind");
    assert!(bad.to_string().contains("inline.yaml"), "{bad}");
    assert!(
        clash.to_string().contains("test:interop") && clash.to_string().contains("_index.yaml"),
        "{clash}"
    );
}

/// Runs an example binary (built by `cargo test` beside the test binaries) with `stdin`.
fn run_example(name: &str, args: &[&str], stdin: &str) -> crate::support::Output {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>/deps");
    let bin = dir.join("examples").join(name);
    assert!(
        bin.exists(),
        "{} not built: run the tests with `cargo test` (it builds the examples)",
        bin.display()
    );
    crate::support::run_program(&bin, &repo(), args, stdin, crate::support::DEADLINE)
}

/// Non-empty lines, trimmed.
fn lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

/// README's Rust example is `examples/readme.rs` and runs against the Echo Service's Lua CLI
/// and relay (issue 13: the worker must answer `{data, worker}`).
#[test]
fn readme_rust_example_runs_as_written() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README");
    let block = readme
        .split("```rust\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a rust block in README.md");
    let example = std::fs::read_to_string(repo().join("examples/readme.rs")).expect("example");
    let mut marked = String::new();
    for part in example.split("// README begin").skip(1) {
        marked.push_str(part.split("// README end").next().unwrap_or(""));
        marked.push('\n');
    }
    assert_eq!(
        lines(block),
        lines(&marked),
        "README.md and examples/readme.rs differ"
    );
    for file in ["cli.lua", "relay.lua"] {
        let a = std::fs::read_to_string(repo().join("examples/echo-service/src").join(file));
        let b = std::fs::read_to_string(repo().join("examples/echo-rust-worker/src").join(file));
        assert_eq!(a.expect(file), b.expect(file), "{file} copies differ");
    }
    let out = run_example("readme", &[], "hello world\n");
    out.expect_code(0);
    assert!(out.stdout.contains("HELLO WORLD"), "{}", out.stdout);
    assert!(
        out.stdout.contains("from worker: {app:processes|"),
        "{}",
        out.stdout
    );
}

/// The Rust and mixed Echo Services print the Lua version's transcript.
#[test]
fn echo_examples_match_the_lua_transcript() {
    let expected =
        std::fs::read_to_string(repo().join("examples/echo-service/transcripts/two-lines.stdout"))
            .expect("transcript");
    let stdin =
        std::fs::read_to_string(repo().join("examples/echo-service/transcripts/two-lines.stdin"))
            .expect("transcript");
    let cases: [(&str, &[&str]); 4] = [
        ("echo_native", &[]),
        ("echo_mixed", &[]),
        ("echo_mixed", &["lua-workers"]),
        ("echo_mixed", &["rust-cli"]),
    ];
    for (name, args) in cases {
        let out = run_example(name, args, &stdin);
        out.expect_code(0);
        // Pid numbers depend on which side spawned what; everything else is byte-exact.
        let norm = |s: &str| mask_pids(s);
        assert_eq!(norm(&out.stdout), norm(&expected), "{name} {args:?} stdout");
        let logs = mask_times(&out.stderr);
        assert!(
            logs.contains("INFO\trelay started"),
            "{name} {args:?}: {logs}"
        );
        assert_eq!(
            logs.matches("INFO\tworker exited").count(),
            2,
            "{name} {args:?}: {logs}"
        );
        assert!(
            logs.contains("\"result\": {\"value\": 0}"),
            "{name} {args:?}: {logs}"
        );
    }
}

/// Replaces pid numbers (`|0x00004}`) with `|0x?}`.
fn mask_pids(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("|0x") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        let end = rest
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(rest.len());
        out.push('?');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}
