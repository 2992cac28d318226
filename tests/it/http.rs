//! HTTP (issue 14): the Lua tests of `tests/http` (server and client in one runtime, asserting
//! in Lua), bad input against a running server (each a 4xx and a log line, never a hang of
//! other requests), graceful shutdown, and the HTTP examples answering real requests.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{repo, run_in, starling};

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn run_http_test(name: &str) {
    let dir = repo().join("tests/http");
    for attempt in 0..3 {
        let port = free_port();
        let out = run_in(
            &dir,
            &[
                "run",
                "-o",
                &format!("test:gateway:addr=127.0.0.1:{port}"),
                "-x",
                &format!("test:{name}"),
                &port.to_string(),
            ],
            "",
            Duration::from_secs(90),
        );
        // Another test took the port between our probe and the bind: try another one.
        if out.code != Some(0) && out.stderr.contains("cannot listen") && attempt < 2 {
            continue;
        }
        out.expect_code(0);
        return;
    }
}

macro_rules! http_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_http_test(stringify!($name));
            }
        )*
        const LISTED: &[&str] = &[$(stringify!($name)),*];
    };
}

http_tests!(
    http_request,
    http_response,
    http_client_api,
    http_static,
    http_middleware,
    http_relay,
    http_outside,
);

#[test]
fn every_http_script_is_listed() {
    let src = repo().join("tests/http/src");
    let mut scripts: Vec<String> = std::fs::read_dir(&src)
        .expect("tests/http/src")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".lua").map(str::to_string))
        .collect();
    scripts.sort();
    let mut listed: Vec<String> = LISTED.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(
        scripts, listed,
        "tests/http/src scripts and http_tests! differ"
    );
}

/// `starling run` in service mode, listening on a port of its own.
struct Server {
    child: Child,
    port: u16,
    stderr: std::path::PathBuf,
    /// Holds the stderr file.
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts the project in `dir`, its `gateway` entry (`entry`) on a free port.
    fn start(dir: &Path, entry: &str, extra: &[&str]) -> Server {
        let tmp = tempfile::tempdir().expect("temp dir");
        for _attempt in 0..3 {
            let port = free_port();
            let stderr = tmp.path().join(format!("stderr-{port}"));
            let mut args = vec![
                "run".to_string(),
                "-o".into(),
                format!("{entry}:addr=127.0.0.1:{port}"),
            ];
            args.extend(extra.iter().map(|s| s.to_string()));
            let child = Command::new(starling())
                .args(&args)
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&stderr).expect("stderr file"))
                .spawn()
                .expect("start starling");
            let mut server = Server {
                child,
                port,
                stderr,
                _tmp: None,
            };
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    server._tmp = Some(tmp);
                    return server;
                }
                if let Ok(Some(_)) = server.child.try_wait() {
                    break; // probably the port was taken: try another
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = server.child.kill();
            let _ = server.child.wait();
        }
        panic!("the server in {} did not start", dir.display());
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("read timeout");
        s
    }

    /// Sends raw bytes on a fresh connection and reads until the server closes it.
    fn raw(&self, request: &[u8]) -> String {
        let mut s = self.connect();
        s.write_all(request).expect("send");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// One `Connection: close` request; the whole response text.
    fn request(&self, method: &str, path: &str, headers: &str, body: &str) -> String {
        self.raw(
            format!(
                "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
    }

    /// SIGTERM, then waits for the exit; returns the exit code and stderr.
    fn stop(mut self) -> (Option<i32>, String) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        let code = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not stop after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        (code, stderr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status_of(response: &str) -> &str {
    response.lines().next().unwrap_or("")
}

fn body_of(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// Malformed requests, huge heads and bodies, slow clients, bad paths: each gets a clear
/// 4xx (or, for a client that never finishes its head, a closed connection) and a log line,
/// while other requests go on being served.
#[test]
fn bad_input_gets_4xx_and_a_log_line() {
    let srv = Server::start(
        &repo().join("tests/http"),
        "test:gateway",
        &["-o", "test:gateway:timeouts.read=2s"],
    );
    // A slow client dripping its head holds one connection, not the server.
    let mut slow = srv.connect();
    slow.write_all(b"GET /api/status/200 HTTP/1.1\r\nHost: x\r\n")
        .expect("partial head");

    // Not HTTP at all.
    let r = srv.raw(b"GARBAGE\r\n\r\n");
    assert!(status_of(&r).starts_with("HTTP/1.1 400"), "{r}");
    // A request line with a bad method, and a bad header.
    let r = srv.raw(b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(status_of(&r).starts_with("HTTP/1.1 400"), "{r}");
    let r = srv.raw(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n");
    assert!(status_of(&r).starts_with("HTTP/1.1 400"), "{r}");
    // A head over limits.max_header_bytes (64 KB by default).
    let big = format!(
        "GET /api/status/200 HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100_000)
    );
    let r = srv.raw(big.as_bytes());
    assert!(status_of(&r).starts_with("HTTP/1.1 431"), "{r}");
    // A body announced over limits.max_body (1 MB here): refused before it is sent.
    let r = srv.raw(
        b"POST /api/json HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\nConnection: close\r\n\r\n",
    );
    assert!(status_of(&r).starts_with("HTTP/1.1 413"), "{r}");
    // A body that stops arriving: 408 after timeouts.read.
    let r = srv.raw(
        b"POST /api/json HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"a\":",
    );
    assert!(status_of(&r).starts_with("HTTP/1.1 408"), "{r}");
    // Invalid JSON: the handler's 400.
    let r = srv.request(
        "POST",
        "/api/json",
        "Content-Type: application/json\r\n",
        "{nope",
    );
    assert!(status_of(&r).starts_with("HTTP/1.1 400"), "{r}");
    assert!(body_of(&r).contains("invalid JSON"), "{r}");
    // Paths escaping the static directory, and an encoded slash.
    for path in [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/api/a%2fb",
    ] {
        let r = srv.request("GET", path, "", "");
        assert!(status_of(&r).starts_with("HTTP/1.1 400"), "{path}: {r}");
        assert!(!r.contains("secret outside"));
    }
    // Meanwhile the server answers normally.
    let r = srv.request("GET", "/api/status/200", "", "");
    assert!(status_of(&r).starts_with("HTTP/1.1 200"), "{r}");
    // The dripping client is cut off once timeouts.read passes.
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut rest = Vec::new();
    let started = Instant::now();
    let _ = slow.read_to_end(&mut rest);
    assert!(
        started.elapsed() < Duration::from_secs(19),
        "a client that never finishes its head is disconnected"
    );

    let (code, stderr) = srv.stop();
    assert_eq!(code, Some(0), "{stderr}");
    for line in [
        "malformed request (400)",
        "request head too large (431)",
        "request body too large (413)",
        "request body read timeout (408)",
        "path escapes the static directory (400)",
        "invalid path (400)",
        "request head not received in time",
    ] {
        assert!(stderr.contains(line), "no log line {line:?} in:\n{stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A huge chunked body (no length announced) is cut at limits.max_body: the handler gets an
/// INVALID error instead of the server buffering it all.
#[test]
fn chunked_body_over_the_limit_is_cut() {
    let srv = Server::start(&repo().join("tests/http"), "test:gateway", &[]);
    let mut s = srv.connect();
    s.write_all(b"POST /api/json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        .expect("head");
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0usize;
    // Up to 4 MB against a 1 MB limit; the server may close before all is sent.
    while sent < 4 << 20 {
        let head = format!("{:x}\r\n", chunk.len());
        if s.write_all(head.as_bytes()).is_err()
            || s.write_all(&chunk).is_err()
            || s.write_all(b"\r\n").is_err()
        {
            break;
        }
        sent += chunk.len();
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let r = String::from_utf8_lossy(&out);
    assert!(status_of(&r).starts_with("HTTP/1.1 400"), "{r}");
    assert!(r.contains("request body too large"), "{r}");
    let (code, _) = srv.stop();
    assert_eq!(code, Some(0));
}

/// SIGTERM: the request in flight finishes, new connections are refused, exit 0.
#[test]
fn graceful_shutdown_finishes_requests_in_flight() {
    let srv = Server::start(&repo().join("tests/http"), "test:gateway", &[]);
    let port = srv.port;
    let mut inflight = srv.connect();
    inflight
        .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("send");
    // Let the request reach its handler (it sleeps 300 ms), then stop the server.
    std::thread::sleep(Duration::from_millis(100));
    let stopper = std::thread::spawn(move || srv.stop());
    let mut out = Vec::new();
    let _ = inflight.read_to_end(&mut out);
    let r = String::from_utf8_lossy(&out);
    assert!(status_of(&r).starts_with("HTTP/1.1 200"), "{r}");
    assert_eq!(body_of(&r), "slow done");
    let (code, stderr) = stopper.join().expect("stopper");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("service test:gateway stopped"), "{stderr}");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "no new connections after the stop"
    );
}

/// Runs an HTTP example against its transcripts: `transcripts/<case>.request` is sent as is
/// (cases in name order, on one server), `<case>.response` holds the expected status line, a
/// blank line, and the body. Returns the server's stderr.
fn check_http_example(app: &str) -> String {
    let dir = repo().join("examples").join(app);
    let srv = Server::start(&dir, "app:gateway", &[]);
    let mut cases: Vec<String> = std::fs::read_dir(dir.join("transcripts"))
        .expect("transcripts")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".request").map(str::to_owned))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "{app} has no cases");
    for case in &cases {
        let read = |ext: &str| {
            std::fs::read(dir.join("transcripts").join(format!("{case}.{ext}"))).expect("case file")
        };
        let expected = String::from_utf8(read("response")).expect("utf-8");
        let (status, body) = expected
            .split_once("\n\n")
            .expect("status, blank line, body");
        let r = srv.raw(&read("request"));
        assert_eq!(status_of(&r), status, "{app}/{case}: {r}");
        assert_eq!(body_of(&r), body, "{app}/{case}: {r}");
    }
    let (code, stderr) = srv.stop();
    assert_eq!(code, Some(0), "{stderr}");
    stderr
}

/// `examples/http-hello` is Wippy's Hello World tutorial, unchanged: it answers curl's request.
#[test]
fn hello_world_example_answers() {
    let stderr = check_http_example("http-hello");
    assert!(
        stderr.contains(
            "service app:gateway is running\t{\"details\": \"service listening on 127.0.0.1:"
        ),
        "{stderr}"
    );
}

/// `examples/http-rest`: JSON in and out, validation, an in-memory store process.
#[test]
fn rest_example_round_trip() {
    check_http_example("http-rest");
}
