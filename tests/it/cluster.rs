//! Issue 12: Starling nodes forming a cluster on NATS, driven as users run them: a
//! `nats-server` of the test's own on a free loopback port, `starling run --node …` child
//! processes, faults injected by killing, stopping and continuing nodes and by a TCP proxy
//! that cuts and heals one node's link to the server. Deadlines are generous; nothing here
//! asserts how fast something happened (the cluster benchmark measures that).
//!
//! The server must be installed (`apt-get install nats-server`, as `.ci/run` does): without
//! it these tests fail, they never skip.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{Project, repo, starling};

/// Where a test waits for something that should happen well within a second or two.
const DEADLINE: Duration = Duration::from_secs(30);

/// The tests' `cluster.node_timeout`: longer than the default, so a node starved of CPU on a
/// busy machine is not declared down where a test does not expect it.
const NODE_TIMEOUT: &str = "3s";

fn nats_server_bin() -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':').chain([
        "/usr/sbin",
        "/usr/local/bin",
        "/usr/bin",
    ]) {
        let p = Path::new(dir).join("nats-server");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "nats-server is not installed: the cluster tests need it (apt-get install nats-server; \
         .ci/run installs it)"
    );
}

/// A nats-server with JetStream on a free loopback port, killed when dropped.
pub(crate) struct NatsServer {
    child: Child,
    pub(crate) url: String,
    pub(crate) port: u16,
    _dir: tempfile::TempDir,
}

impl NatsServer {
    pub(crate) fn start() -> NatsServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let child = Command::new(nats_server_bin())
            .args(["-a", "127.0.0.1", "-p", "-1", "-js", "-sd"])
            .arg(dir.path().join("js"))
            .arg("--ports_file_dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        let until = Instant::now() + DEADLINE;
        let port = loop {
            let found = std::fs::read_dir(dir.path())
                .expect("read dir")
                .filter_map(Result::ok)
                .find(|e| e.file_name().to_string_lossy().ends_with(".ports"))
                .and_then(|e| std::fs::read_to_string(e.path()).ok())
                .and_then(|t| {
                    let v: serde_json::Value = serde_json::from_str(&t).ok()?;
                    let url = v["nats"][0].as_str()?.to_string();
                    url.rsplit(':').next()?.parse::<u16>().ok()
                });
            if let Some(p) = found {
                break p;
            }
            assert!(Instant::now() < until, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        NatsServer {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            port,
            _dir: dir,
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback TCP proxy in front of the server: `cut` stops forwarding both ways (the
/// sockets stay open, as in a real partition), `heal` resumes.
pub(crate) struct Proxy {
    pub(crate) url: String,
    cut: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub(crate) fn start(to_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let cut = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        listener.set_nonblocking(true).expect("nonblocking");
        let (c, s) = (cut.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let Ok(server) = TcpStream::connect(("127.0.0.1", to_port)) else {
                            continue;
                        };
                        for (mut from, mut to) in [
                            (
                                client.try_clone().expect("clone"),
                                server.try_clone().expect("clone"),
                            ),
                            (server, client),
                        ] {
                            let (c, s) = (c.clone(), s.clone());
                            std::thread::spawn(move || {
                                let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
                                let mut buf = vec![0u8; 64 * 1024];
                                while !s.load(Ordering::Relaxed) {
                                    if c.load(Ordering::Relaxed) {
                                        std::thread::sleep(Duration::from_millis(10));
                                        continue;
                                    }
                                    match from.read(&mut buf) {
                                        Ok(0) => break,
                                        Ok(n) => {
                                            // While cut, what was read is dropped, as a
                                            // broken link would.
                                            if !c.load(Ordering::Relaxed)
                                                && to.write_all(&buf[..n]).is_err()
                                            {
                                                break;
                                            }
                                        }
                                        Err(e)
                                            if matches!(
                                                e.kind(),
                                                std::io::ErrorKind::WouldBlock
                                                    | std::io::ErrorKind::TimedOut
                                            ) => {}
                                        Err(_) => break,
                                    }
                                }
                                let _ = to.shutdown(std::net::Shutdown::Both);
                            });
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Proxy {
            url: format!("nats://127.0.0.1:{port}"),
            cut,
            stop,
        }
    }

    pub(crate) fn cut(&self) {
        self.cut.store(true, Ordering::Relaxed);
    }

    pub(crate) fn heal(&self) {
        self.cut.store(false, Ordering::Relaxed);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A `starling run` child whose output is collected as it comes.
pub(crate) struct NodeProc {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<String>>,
    name: String,
}

impl NodeProc {
    pub(crate) fn start(dir: &Path, name: &str, url: &str, extra: &[&str]) -> NodeProc {
        let mut cmd = Command::new(starling());
        cmd.current_dir(dir)
            .args(["run", "--node", name, "--cluster", url])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start starling");
        let out = Arc::new(Mutex::new(String::new()));
        for r in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let out = out.clone();
            std::thread::spawn(move || {
                let mut r = r;
                let mut buf = [0u8; 4096];
                while let Ok(n) = r.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    out.lock()
                        .expect("out")
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let stdin = child.stdin.take();
        NodeProc {
            child,
            stdin,
            out,
            name: name.to_string(),
        }
    }

    pub(crate) fn output(&self) -> String {
        self.out.lock().expect("out").clone()
    }

    /// Waits until the output contains `text` `times` times.
    pub(crate) fn wait_for_n(&self, text: &str, times: usize) {
        let until = Instant::now() + DEADLINE;
        while self.output().matches(text).count() < times {
            assert!(
                Instant::now() < until,
                "node {} never printed {text:?} ({times} times); output:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn wait_for(&self, text: &str) {
        self.wait_for_n(text, 1);
    }

    pub(crate) fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write line");
        stdin.flush().expect("flush");
    }

    pub(crate) fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub(crate) fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{sig} {}", self.pid());
    }

    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to end by itself; its exit code.
    pub(crate) fn wait_exit(&mut self) -> Option<i32> {
        self.stdin = None;
        let until = Instant::now() + DEADLINE;
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s.code();
            }
            assert!(
                Instant::now() < until,
                "node {} did not end; output:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        // A stopped node would never die of SIGKILL's friends; continue it first.
        let _ = Command::new("kill")
            .args(["-CONT", &self.pid().to_string()])
            .stderr(Stdio::null())
            .status();
        self.kill();
    }
}

fn echo_dir() -> PathBuf {
    repo().join("examples/echo-cluster")
}

/// The issue's scenario: relay on a, workers on b, the CLI on c, seed files unchanged; b
/// killed with a worker in flight, then restarted; a killed, then restarted.
#[test]
fn echo_service_on_three_nodes_survives_killing_b_and_a() {
    let nats = NatsServer::start();
    let dir = echo_dir();
    let slack = format!("cluster.node_timeout={NODE_TIMEOUT}");
    let set = ["--set", slack.as_str()];
    let mut a = NodeProc::start(&dir, "a", &nats.url, &set);
    a.wait_for("relay started");
    let mut b = NodeProc::start(&dir, "b", &nats.url, &set);
    let mut c = NodeProc::start(
        &dir,
        "c",
        &nats.url,
        &["--set", slack.as_str(), "-x", "app:terminal/app:cli"],
    );
    c.wait_for("> ");
    // b is known to a once its heartbeats arrive; the first line may race it: wait for the
    // answer, retrying on a timeout.
    let mut answered = false;
    for _ in 0..10 {
        c.type_line("hello");
        let until = Instant::now() + DEADLINE;
        loop {
            let out = c.output();
            if out.contains("HELLO") {
                answered = true;
                break;
            }
            if out.matches("> ").count() >= 2 || Instant::now() > until {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if answered {
            break;
        }
    }
    assert!(answered, "no answer:\n{}", c.output());
    c.wait_for("from worker: {b@app:processes|0x");
    a.wait_for("worker exited");

    // Kill b while a worker sleeps its 100 ms: the relay hears `node disconnected`. On a busy
    // machine the spawn itself may still be in flight when b dies (then the spawn fails with
    // `node disconnected`); try again until a worker was caught running.
    let mut caught = false;
    for attempt in 1..=5 {
        let seen = a.output().matches("node disconnected").count();
        c.type_line("inflight");
        std::thread::sleep(Duration::from_millis(40));
        b.kill();
        a.wait_for_n("node disconnected", seen + 1);
        let log = a.output();
        let line = log
            .lines()
            .filter(|l| l.contains("node disconnected"))
            .nth(seen)
            .expect("line")
            .to_string();
        if line.contains("worker exited") {
            caught = true;
            break;
        }
        assert!(line.contains("spawn failed"), "{line}");
        b = NodeProc::start(&dir, "b", &nats.url, &set);
        wait_for_nodes(&nats.url, &["a", "b", "c"]);
        let _ = attempt;
    }
    assert!(
        caught,
        "no worker was in flight in 5 tries:\n{}",
        a.output()
    );
    // b back: new lines are answered again, by workers whose pids were never used before.
    let b2 = NodeProc::start(&dir, "b", &nats.url, &set);
    let before = c.output().matches("HELLO").count();
    let until = Instant::now() + DEADLINE;
    while c.output().matches("HELLO").count() == before {
        assert!(
            Instant::now() < until,
            "never answered after b came back:\n{}",
            c.output()
        );
        c.type_line("hello");
        std::thread::sleep(Duration::from_millis(2500));
    }
    let pids: Vec<String> = c
        .output()
        .lines()
        .filter_map(|l| l.split("from worker: ").nth(1).map(str::to_string))
        .collect();
    let unique: std::collections::HashSet<&String> = pids.iter().collect();
    assert_eq!(
        unique.len(),
        pids.len(),
        "a pid string was reused: {pids:?}"
    );

    // Kill a: the relay's name is released, the CLI says so until a is back.
    a.kill();
    let until = Instant::now() + DEADLINE;
    while !c.output().contains("relay not available") {
        assert!(
            Instant::now() < until,
            "no 'relay not available':\n{}",
            c.output()
        );
        c.type_line("nobody");
        std::thread::sleep(Duration::from_millis(2500));
    }
    let a2 = NodeProc::start(&dir, "a", &nats.url, &set);
    a2.wait_for("relay started");
    let before = c.output().matches("HELLO").count();
    let until = Instant::now() + DEADLINE;
    while c.output().matches("HELLO").count() == before {
        assert!(
            Instant::now() < until,
            "never answered after a came back:\n{}",
            c.output()
        );
        c.type_line("hello");
        std::thread::sleep(Duration::from_millis(2500));
    }
    c.type_line("");
    assert_eq!(c.wait_exit(), Some(0), "{}", c.output());
    drop(b2);
}

/// Polls `starling cluster status` until every node of `names` is heard.
fn wait_for_nodes(url: &str, names: &[&str]) {
    let until = Instant::now() + DEADLINE;
    loop {
        let out = Command::new(starling())
            .args(["cluster", "status", "--cluster", url, "--listen", "600"])
            .output()
            .expect("status");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if names.iter().all(|n| text.contains(&format!("\n  {n} "))) {
            return;
        }
        assert!(Instant::now() < until, "nodes never all up:\n{text}");
    }
}

/// The transcript of examples/echo-cluster: c's session with fresh nodes a and b matches
/// byte for byte (the first workers on b are b's first pids).
#[test]
fn echo_cluster_transcript() {
    let nats = NatsServer::start();
    let dir = echo_dir();
    let slack = format!("cluster.node_timeout={NODE_TIMEOUT}");
    let a = NodeProc::start(&dir, "a", &nats.url, &["--set", slack.as_str()]);
    a.wait_for("relay started");
    let _b = NodeProc::start(&dir, "b", &nats.url, &["--set", slack.as_str()]);
    wait_for_nodes(&nats.url, &["a", "b"]);
    let t = dir.join("transcripts");
    let stdin = std::fs::read_to_string(t.join("three-nodes.stdin")).expect("stdin");
    let expected = std::fs::read_to_string(t.join("three-nodes.stdout")).expect("stdout");
    let out = crate::support::run_in(
        &dir,
        &[
            "run",
            "--node",
            "c",
            "--cluster",
            &nats.url,
            "--set",
            &slack,
            "-x",
            "app:terminal/app:cli",
        ],
        &stdin,
        DEADLINE,
    );
    out.expect_code(0);
    assert_eq!(
        out.stdout,
        expected,
        "stderr:\n{}\na:\n{}",
        out.stderr,
        a.output()
    );
}

const TWO_NODE_INDEX: &str = r#"version: "1.0"
namespace: app
entries:
  - name: terminal
    kind: terminal.host
    lifecycle: { auto_start: true }
  - name: processes
    kind: process.host
    lifecycle: { auto_start: true }
  - name: peer
    kind: process.lua
    source: file://peer.lua
    method: main
    modules: [time, channel]
  - name: child
    kind: process.lua
    source: file://child.lua
    method: main
    modules: [time]
  - name: peer-service
    kind: process.service
    process: app:peer
    host: app:processes
    lifecycle: { auto_start: true }
  - name: main
    kind: process.lua
    source: file://main.lua
    method: main
    modules: [io, time, channel]
"#;

/// On node a: registers `peer` (CONSISTENT), answers pings, echoes payloads, and obeys
/// orders to end.
const PEER_LUA: &str = r#"
local function main()
    local ok, err = process.registry.register("peer", nil, process.registry.CONSISTENT)
    assert(ok, err)
    local inbox = process.inbox()
    print("peer ready " .. process.pid())
    while true do
        local msg = inbox:receive()
        local from = msg:from()
        local t = msg:topic()
        if t == "ping" then
            process.send(from, "pong", msg:payload():data())
        elseif t == "echo" then
            process.send(from, "echoed", msg:payload():data())
        elseif t == "fail" then
            error("asked to fail")
        end
    end
end
return { main = main }
"#;

const CHILD_LUA: &str = r#"
local time = require("time")
local function main(parent, n)
    process.send(parent, "child-hello", n, process.pid())
    time.sleep("50ms")
    return n * 2
end
return { main = main }
"#;

/// On node b (exec): every remote operation against node a's `peer` service.
const MAIN_LUA: &str = r#"
local io = require("io")
local time = require("time")

local function expect_event(kind, from, timeout)
    local events = process.events()
    local r = channel.select({ events:case_receive(), time.after(timeout or "10s"):case_receive() })
    assert(r.channel == events, "no event " .. kind)
    assert(r.value.kind == kind, "got " .. tostring(r.value.kind) .. " want " .. kind)
    if from then assert(r.value.from == from, r.value.from .. " vs " .. from) end
    return r.value
end

local function expect_msg(topic)
    local inbox = process.inbox()
    local r = channel.select({ inbox:case_receive(), time.after("10s"):case_receive() })
    assert(r.channel == inbox, "no message " .. topic)
    assert(r.value:topic() == topic, "got topic " .. r.value:topic())
    return r.value
end

local function main()
    -- The cluster name resolves from here (CONSISTENT on a); reads are local.
    local peer
    for _ = 1, 200 do
        peer = process.registry.lookup("peer")
        if peer then break end
        time.sleep("50ms")
    end
    assert(peer, "peer never registered")
    assert(peer:find("^{a@app:processes|0x"), peer)
    assert(process.pid():find("^{b@app:terminal|0x"), process.pid())

    -- send by name and by pid, in order
    for i = 1, 50 do assert(process.send("peer", "ping", i)) end
    for i = 1, 50 do
        local m = expect_msg("pong")
        assert(m:payload():data() == i, "out of order")
        assert(m:from() == peer)
    end

    -- payloads keep ints, floats, binary strings, errors, shared tables and cycles
    local shared = { x = 1 }
    local t = { a = shared, b = shared, n = 3, f = 3.5, bin = "\0\255\n", e = errors.new({ kind = errors.NOT_FOUND, message = "nope" }) }
    t.self = t
    assert(process.send(peer, "echo", t))
    local back = expect_msg("echoed"):payload():data()
    assert(back.a == back.b, "shared sub-table kept")
    assert(back.self == back, "cycle kept")
    assert(math.type == nil or true)
    assert(back.n == 3 and back.f == 3.5 and back.bin == "\0\255\n")
    assert(errors.is(back.e, errors.NOT_FOUND) and back.e:message() == "nope")

    -- CONSISTENT: one winner
    local ok, err = process.registry.register("peer", nil, process.registry.CONSISTENT)
    assert(not ok and err:kind() == errors.ALREADY_EXISTS, tostring(err))
    ok, err = process.registry.register("mine", nil, process.registry.CONSISTENT)
    assert(ok, tostring(err))
    assert(process.registry.lookup("mine") == process.pid())
    -- STRONG and EVENTUAL
    ok, err = process.registry.register("strong1", nil, process.registry.STRONG)
    assert(ok, tostring(err))
    ok, err = process.registry.register("ev1", nil, process.registry.EVENTUAL)
    assert(ok, tostring(err))
    -- unregister is owner-checked for CONSISTENT
    assert(process.registry.unregister("peer", process.registry.CONSISTENT) == false)
    assert(process.registry.unregister("mine", process.registry.CONSISTENT) == true)
    assert(process.registry.lookup("mine") == nil)

    -- remote spawn on a named node, monitored atomically; the child's message comes first
    local child = process.spawn_monitored("app:child", "a@app:processes", process.pid(), 21)
    assert(child and child:find("^{a@app:processes|0x"), tostring(child))
    local hello = expect_msg("child-hello")
    local ev = expect_event(process.event.EXIT, child)
    assert(ev.result.value == 42, tostring(ev.result.value))

    -- exec across nodes
    local v, e = process.exec("app:child", "a@app:processes", process.pid(), 5)
    assert(v == 10, tostring(e))
    expect_msg("child-hello")

    -- monitor + cancel + terminate a remote process
    local c2 = process.spawn("app:child", "a@app:processes", process.pid(), 1)
    assert(process.monitor(c2))
    assert(process.terminate(c2))
    ev = expect_event(process.event.EXIT, c2)
    assert(ev.result.error, "terminated")
    -- monitoring a remote pid that is gone: EXIT process not found
    assert(process.monitor(c2))
    ev = expect_event(process.event.EXIT, c2)
    assert(tostring(ev.result.error):find("process not found"), tostring(ev.result.error))

    -- link with trap_links: the peer fails, LINK_DOWN arrives
    process.set_options({ trap_links = true })
    assert(process.link(peer))
    assert(process.send(peer, "fail"))
    ev = expect_event(process.event.LINK_DOWN, peer)

    io.print("ALL REMOTE OK")
    return 0
end
return { main = main }
"#;

fn two_node_project(extra_config: &str) -> Project {
    let p = Project::new();
    p.file("_index.yaml", TWO_NODE_INDEX)
        .file("peer.lua", PEER_LUA)
        .file("child.lua", CHILD_LUA)
        .file("main.lua", MAIN_LUA);
    std::fs::write(
        p.path().join(".wippy.yaml"),
        format!(
            "cluster:\n  enabled: true\n  node_timeout: {NODE_TIMEOUT}\n  placement:\n    services: {{\"app:peer-service\": [a]}}\n{extra_config}"
        ),
    )
    .expect("config");
    p
}

#[test]
fn remote_pids_work_everywhere_a_pid_does() {
    let nats = NatsServer::start();
    let p = two_node_project("");
    let a = NodeProc::start(p.path(), "a", &nats.url, &[]);
    a.wait_for("peer ready {a@app:processes|0x");
    let mut b = NodeProc::start(p.path(), "b", &nats.url, &["-x", "app:main"]);
    let code = b.wait_exit();
    assert!(
        b.output().contains("ALL REMOTE OK") && code == Some(0),
        "b:\n{}\na:\n{}",
        b.output(),
        a.output()
    );
    // The status command sees both nodes and the names.
    let st = Command::new(starling())
        .current_dir(p.path())
        .args(["cluster", "status", "--cluster", &nats.url])
        .output()
        .expect("status");
    let text = String::from_utf8_lossy(&st.stdout);
    assert!(
        st.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(text.contains("  a "), "{text}");
    assert!(
        text.contains("peer") && text.contains("consistent"),
        "{text}"
    );
}

/// A watcher on b monitors and links pids of a; a dies (SIGKILL): each relation fires once
/// with `node disconnected`; b's names of a are gone.
const WATCH_LUA: &str = r#"
local io = require("io")
local time = require("time")
local function main()
    local peer
    for _ = 1, 200 do
        peer = process.registry.lookup("peer")
        if peer then break end
        time.sleep("50ms")
    end
    assert(peer, "no peer")
    process.set_options({ trap_links = true })
    assert(process.monitor(peer))
    assert(process.link(peer))
    io.print("WATCHING")
    local events = process.events()
    local seen = {}
    local deadline = time.after("60s")
    while #seen < 2 do
        local r = channel.select({ events:case_receive(), deadline:case_receive() })
        assert(r.channel == events, "no event")
        local ev = r.value
        assert(ev.from == peer)
        assert(tostring(ev.result.error) == "node disconnected", tostring(ev.result.error))
        assert(ev.result.error:kind() == errors.UNAVAILABLE)
        table.insert(seen, ev.kind)
        io.print("EVENT " .. ev.kind)
    end
    -- exactly once: nothing more comes
    local r = channel.select({ events:case_receive(), time.after("1500ms"):case_receive() })
    assert(r.channel ~= events, "a second event")
    -- the dead node's names are released cluster-wide
    local gone = false
    for _ = 1, 100 do
        if process.registry.lookup("peer") == nil then gone = true break end
        time.sleep("50ms")
    end
    assert(gone, "peer still registered")
    io.print("DOWN ONCE")
    return 0
end
return { main = main }
"#;

fn watch_project() -> Project {
    let p = two_node_project("");
    p.file("main.lua", WATCH_LUA);
    p
}

#[test]
fn a_killed_node_fires_monitors_and_links_once() {
    let nats = NatsServer::start();
    let p = watch_project();
    let mut a = NodeProc::start(p.path(), "a", &nats.url, &[]);
    a.wait_for("peer ready");
    let mut b = NodeProc::start(p.path(), "b", &nats.url, &["-x", "app:main"]);
    b.wait_for("WATCHING");
    a.kill();
    assert_eq!(b.wait_exit(), Some(0), "{}", b.output());
    assert!(b.output().contains("DOWN ONCE"));
    assert!(b.output().contains("EVENT pid.exit") && b.output().contains("EVENT pid.link.down"));
}

#[test]
fn a_stopped_node_is_declared_down_and_fires_its_own_relations_on_resume() {
    let nats = NatsServer::start();
    let p = watch_project();
    let a = NodeProc::start(p.path(), "a", &nats.url, &[]);
    a.wait_for("peer ready");
    let mut b = NodeProc::start(p.path(), "b", &nats.url, &["-x", "app:main"]);
    b.wait_for("WATCHING");
    // a hangs for 3 s: b declares it down; when a resumes it hears it was declared down and
    // ends its side too (its relations towards b fire), and nothing of the old session
    // reaches b afterwards.
    a.signal("STOP");
    b.wait_for("EVENT pid.exit");
    std::thread::sleep(Duration::from_secs(3));
    a.signal("CONT");
    a.wait_for("cluster: node b is down");
    let _ = b.wait_exit();
    assert!(
        b.output().contains("DOWN ONCE") || b.output().contains("peer still registered"),
        "{}",
        b.output()
    );
    assert!(b.output().contains("EVENT pid.link.down"), "{}", b.output());
}

/// A node whose server is gone still stops on SIGTERM: its goodbye is best effort (it used
/// to wait for a reconnection forever after logging `stopped`).
#[test]
fn a_node_stops_when_its_server_is_gone() {
    let mut nats = NatsServer::start();
    let p = watch_project();
    let mut a = NodeProc::start(p.path(), "a", &nats.url, &[]);
    a.wait_for("peer ready");
    let _ = nats.child.kill();
    let _ = nats.child.wait();
    a.wait_for("disconnected from NATS");
    a.signal("TERM");
    // Exit code of a run stopped by SIGTERM (SPEC §3): any, as long as it ends.
    let _ = a.wait_exit();
    assert!(a.output().contains("stopped"), "{}", a.output());
}

#[test]
fn a_cut_link_to_the_server_is_a_partition_and_heals() {
    let nats = NatsServer::start();
    let proxy = Proxy::start(nats.port);
    let p = watch_project();
    let a = NodeProc::start(p.path(), "a", &proxy.url, &[]);
    a.wait_for("peer ready");
    let mut b = NodeProc::start(p.path(), "b", &nats.url, &["-x", "app:main"]);
    b.wait_for("WATCHING");
    proxy.cut();
    b.wait_for("EVENT pid.link.down");
    a.wait_for("cluster: node b is down");
    proxy.heal();
    let _ = b.wait_exit();
    assert!(b.output().contains("EVENT pid.exit"), "{}", b.output());
    // After the heal, a is up again for a new node.
    let mut c = NodeProc::start(p.path(), "c", &nats.url, &["-x", "app:main"]);
    c.wait_for("WATCHING");
    c.kill();
}

#[test]
fn a_single_node_opens_no_connection_and_keeps_cluster_scopes_unavailable() {
    let p = Project::new();
    p.file("_index.yaml", TWO_NODE_INDEX)
        .file("peer.lua", PEER_LUA)
        .file("child.lua", CHILD_LUA)
        .file(
            "main.lua",
            r#"
local io = require("io")
local time = require("time")
local function main()
    local ok, err = process.registry.register("x", nil, process.registry.CONSISTENT)
    assert(not ok and err:kind() == errors.UNAVAILABLE, tostring(err))
    assert(tostring(err) == "cluster registry not available")
    assert(process.pid():find("^{app:terminal|0x"), process.pid())
    io.print("SINGLE " .. process.pid())
    time.sleep("300ms")
    return 0
end
return { main = main }
"#,
        );
    let mut cmd = Command::new(starling());
    let child = cmd
        .current_dir(p.path())
        .args(["run", "-x", "app:main"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    std::thread::sleep(Duration::from_millis(150));
    let threads: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", child.id()))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
                .map(|s| s.trim().to_string())
                .collect()
        })
        .unwrap_or_default();
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("SINGLE {app:terminal|0x"), "{stdout}");
    assert!(
        !threads.iter().any(|t| t.starts_with("cluster")),
        "no cluster thread on a single node: {threads:?}"
    );
}

#[test]
fn a_clustered_node_without_a_server_fails_with_a_clear_error() {
    let p = two_node_project("  connect_timeout: 500ms\n");
    let out = crate::support::run_in(
        p.path(),
        &[
            "run",
            "--node",
            "a",
            "--cluster",
            "nats://127.0.0.1:1",
            "-x",
            "app:main",
        ],
        "",
        DEADLINE,
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("cannot connect to NATS at nats://127.0.0.1:1"),
        "{}",
        out.stderr
    );
}
