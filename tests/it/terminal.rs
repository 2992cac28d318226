//! The terminal host's `io` (SPEC §9.1): exact bytes on pipes, and the interactive path
//! (line editor, logs above the prompt, Ctrl+C, raw mode) under a pseudo-terminal.

use std::process::Command;

use expectrl::session::OsSession;
use expectrl::{Eof, Expect, Regex, Session};

use crate::support::{DEADLINE, Project, script_project, starling};

// ---- pipes -------------------------------------------------------------------------------

#[test]
fn writes_convert_with_tostring_and_print_separates_with_tabs() {
    let p = script_project(
        r#"return { main = function()
            assert(io.write(1, 2.5, true, nil, "x", errors.new("e")) == true)
            assert(io.print() == true)
            assert(io.print("a", 1, false) == true)
            assert(io.eprint("to", "stderr") == true)
            assert(io.flush() == true)
            io.write("no newline")
        end }"#,
    );
    let out = p.run(&["run", "-x", "app:main", "-s"], "");
    out.expect_code(0);
    assert_eq!(out.stdout, "12.5truenilxe\na\t1\tfalse\nno newline");
    assert_eq!(out.stderr, "to\tstderr\n");
}

#[test]
fn piped_lines_and_bytes_share_one_buffer() {
    let p = script_project(
        r#"return { main = function()
            local out = {}
            local function add(v, err)
                out[#out + 1] = v and ("[" .. v .. "]") or ("nil:" .. err:kind() .. ":" .. err:message())
            end
            add(io.read(5))           -- "hello"
            add(io.readline())        -- " world" (rest of the first line)
            add(io.readline())        -- "crlf" without \r
            add(io.read(0))           -- n <= 0 reads up to 1024: the rest
            add(io.readline())        -- EOF
            add(io.read())            -- EOF
            io.print(table.concat(out, " "))
        end }"#,
    );
    let out = p.run(
        &["run", "-x", "app:main"],
        "hello world\ncrlf\r\ntail no newline",
    );
    out.expect_code(0);
    assert_eq!(
        out.stdout,
        "[hello] [ world] [crlf] [tail no newline] nil::EOF nil::EOF\n"
    );
}

#[test]
fn a_final_unterminated_line_is_returned() {
    let p = script_project(
        r#"return { main = function()
            local a = io.readline()
            local b, err = io.readline()
            io.print(a, tostring(b), err and err:message())
        end }"#,
    );
    let out = p.run(&["run", "-x", "app:main"], "last");
    out.expect_code(0);
    assert_eq!(out.stdout, "last\tnil\tEOF\n");
}

#[test]
fn writes_to_a_closed_pipe_are_internal_errors() {
    let p = script_project(
        r#"return { main = function()
            time.sleep("300ms")
            local ok, err
            for _ = 1, 50 do
                ok, err = io.write(string.rep("x", 4096))
                if not ok then break end
            end
            io.eprint(tostring(ok), err and err:kind(), err and err:message())
        end }"#,
    );
    let mut child = Command::new(starling())
        .args(["run", "-x", "app:main", "-s"])
        .current_dir(p.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start starling");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("nil\tInternal\twrite failed:"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

// ---- pseudo-terminal -----------------------------------------------------------------------

const TTY_APP: &str = r#"version: "1.0"
namespace: app
entries:
  - { name: terminal, kind: terminal.host, lifecycle: { auto_start: true } }
  - { name: main, kind: process.lua, source: file://main.lua, method: main, modules: [io, time, logger] }
"#;

fn tty_project(source: &str) -> Project {
    let p = Project::new();
    p.file("_index.yaml", TTY_APP).file("main.lua", source);
    p
}

/// `starling args…` in a pseudo-terminal, run through `sh -c` so that `after` (a shell
/// command) runs on the same terminal once starling has exited.
fn spawn_tty(p: &Project, args: &str, after: &str) -> OsSession {
    let mut cmd = Command::new("sh");
    let line = format!(
        "'{}' {args}; echo \"exit=$?\"; {after}",
        starling().display()
    );
    cmd.args(["-c", &line]).current_dir(p.path());
    let mut s = Session::spawn(cmd).expect("spawn in a pty");
    s.set_expect_timeout(Some(DEADLINE));
    s
}

/// rustyline switches bracketed paste on once the terminal is in its raw mode: keys typed from
/// then on reach the editor.
const EDITOR_READY: &str = "\x1b[?2004h";

const ECHO_LOOP: &str = r#"return { main = function()
    io.print("Welcome")
    while true do
        io.write("> ")
        local line, err = io.readline()
        if not line then io.print("eof " .. err:message()) break end
        if line == "" then break end
        io.print("got [" .. line .. "]")
    end
    io.print("bye")
end }"#;

#[test]
fn tty_readline_edits_lines_and_keeps_history() {
    let p = tty_project(ECHO_LOOP);
    let mut s = spawn_tty(&p, "run -x app:main", "");
    s.expect("Welcome").expect("welcome");
    s.expect(EDITOR_READY).expect("editor");
    // backspace, then a left arrow and an insertion
    s.send("abc\x7fd\r").expect("send");
    s.expect("got [abd]").expect("backspace edits");
    s.expect(EDITOR_READY).expect("editor");
    s.send("xy\x1b[Dz\r").expect("send");
    s.expect("got [xzy]").expect("cursor movement edits");
    // up arrow recalls the previous line
    s.expect(EDITOR_READY).expect("editor");
    s.send("\x1b[A\r").expect("send");
    s.expect("got [xzy]").expect("history");
    s.expect(EDITOR_READY).expect("editor");
    s.send("\x04").expect("send ctrl-d");
    s.expect("eof EOF")
        .expect("ctrl-d on an empty line is end of input");
    s.expect("bye").expect("bye");
    s.expect("exit=0").expect("exit status");
}

#[test]
fn tty_logs_print_above_the_prompt() {
    let p = tty_project(
        r#"return { main = function()
            local log = require("logger")
            -- A tick every 300 ms: one of them comes after the test has typed (however slow
            -- the machine), and only such a line is followed by the prompt with the typing.
            coroutine.spawn(function()
                for n = 1, math.huge do
                    time.sleep("300ms")
                    log:info("tick", { n = n })
                end
            end)
            io.write("name? ")
            local line = io.readline()
            io.print("hello " .. line)
        end }"#,
    );
    let mut s = spawn_tty(&p, "run -x app:main", "");
    s.expect("name? ").expect("prompt");
    s.expect(EDITOR_READY).expect("editor");
    s.send("ab").expect("send");
    // The log line takes the prompt's place and the prompt, with what was typed, comes back
    // below it.
    s.expect(Regex(r"INFO\ttick\t\{[^\n]*\r?\n(\x1b\[[0-9;?]*[A-Za-z]|\r)*name\? (\x1b\[[0-9;?]*[A-Za-z]|\r)*ab"))
        .expect("log above the redrawn prompt");
    s.send("c\r").expect("send");
    s.expect("hello abc").expect("line");
    s.expect("exit=0").expect("exit status");
}

#[test]
fn tty_ctrl_c_during_readline_exits_130() {
    let p = tty_project(ECHO_LOOP);
    let mut s = spawn_tty(&p, "run -x app:main", "");
    s.expect("> ").expect("prompt");
    s.expect(EDITOR_READY).expect("editor");
    s.send("abc").expect("send");
    s.send("\x03").expect("ctrl-c");
    s.expect("exit=130").expect("exit status 130");
}

#[test]
fn tty_raw_mode_is_counted_and_reset_at_exit() {
    let p = tty_project(
        r#"return { main = function()
            assert(io.raw(true) == true)
            assert(io.raw() == true)        -- default: on; count 2
            assert(io.raw(false) == true)   -- count 1: still raw
            io.print("ready")
            local c = io.read(1)            -- no Enter needed, no echo
            io.print("key=[" .. c .. "]")
            local line = io.readline()      -- Enter arrives as \r in raw mode
            io.print("line=[" .. line .. "]")
            -- left raw on purpose: the runtime restores the terminal
        end }"#,
    );
    let mut s = spawn_tty(&p, "run -x app:main", "stty -a");
    s.expect("ready").expect("ready");
    s.send("q").expect("send");
    s.expect("key=[q]").expect("single key");
    s.send("xyz\r").expect("send");
    s.expect("line=[xyz]").expect("raw line");
    s.expect("exit=0").expect("exit status");
    let rest = s.expect(Eof).expect("stty output");
    let stty = String::from_utf8_lossy(rest.as_bytes()).into_owned();
    assert!(
        stty.contains(" icanon") && !stty.contains("-icanon"),
        "{stty}"
    );
    // (the pseudo-terminal starts with echo off, so echo says nothing here)
    assert!(
        stty.contains(" icrnl") && !stty.contains("-icrnl"),
        "{stty}"
    );
}

#[test]
fn tty_terminal_is_restored_when_exiting_during_readline() {
    let p = tty_project(
        r#"return { main = function()
            coroutine.spawn(function() io.readline() end)
            time.sleep("300ms")
            return 3
        end }"#,
    );
    let mut s = spawn_tty(&p, "run -x app:main", "stty -a");
    s.expect("exit=3").expect("exit status");
    let rest = s.expect(Eof).expect("stty output");
    let stty = String::from_utf8_lossy(rest.as_bytes()).into_owned();
    assert!(
        stty.contains(" icanon") && !stty.contains("-icanon"),
        "{stty}"
    );
}

/// A program that switches raw mode on, says so, and waits for CANCEL (which a graceful
/// stop sends), then says that too.
const RAW_UNTIL_CANCEL: &str = r#"return { main = function()
    assert(io.raw(true) == true)
    io.print("raw on")
    local events = process.events()
    while true do
        local ev = events:receive()
        if ev.kind == process.event.CANCEL then
            io.print("cancelled: " .. tostring(ev.reason))
            return 0
        end
    end
end }"#;

/// `starling args…` in a pseudo-terminal, started in the background of `sh` so that its OS
/// pid is printed (`pid=N`) and signals can be sent to it alone; `exit=N` follows when it
/// ends, then the output of `stty -a` on the same terminal.
fn spawn_tty_background(p: &Project, args: &str) -> OsSession {
    let mut cmd = Command::new("sh");
    // `</dev/tty`: a non-interactive shell gives background commands /dev/null as stdin.
    let line = format!(
        "'{}' {args} </dev/tty & echo \"pid=$!\"; wait $!; echo \"exit=$?\"; stty -a",
        starling().display()
    );
    cmd.args(["-c", &line]).current_dir(p.path());
    let mut s = Session::spawn(cmd).expect("spawn in a pty");
    s.set_expect_timeout(Some(DEADLINE));
    s
}

fn read_pid(s: &mut OsSession) -> String {
    let found = s.expect(Regex(r"pid=(\d+)")).expect("pid");
    let pid = found.get(1).expect("pid digits");
    String::from_utf8_lossy(pid).into_owned()
}

fn send_signal(signal: &str, pid: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), pid])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{signal} {pid}");
}

/// What `stty -a` printed after starling ended: raw mode must be off again.
fn assert_cooked(s: &mut OsSession) {
    let rest = s.expect(Eof).expect("stty output");
    let stty = String::from_utf8_lossy(rest.as_bytes()).into_owned();
    let flags: Vec<&str> = stty.split_whitespace().collect();
    for flag in ["icanon", "icrnl", "isig"] {
        assert!(flags.contains(&flag), "{flag} not restored:\n{stty}");
    }
}

/// Issue 11: SIGHUP killed the runtime at once and left the terminal in raw mode. It is a
/// graceful stop like SIGTERM (the exec process gets CANCEL), exit 129, terminal restored.
#[test]
fn tty_sighup_stops_gracefully_and_restores_the_terminal() {
    let p = tty_project(RAW_UNTIL_CANCEL);
    let mut s = spawn_tty_background(&p, "run -x app:main");
    let pid = read_pid(&mut s);
    s.expect("raw on").expect("raw mode on");
    send_signal("HUP", &pid);
    s.expect("cancelled: interrupted")
        .expect("CANCEL reached the process");
    s.expect("exit=129").expect("exit status 129");
    assert_cooked(&mut s);
}

/// SIGQUIT (Ctrl+\ in raw mode too) exits at once, with status 131 and the terminal restored.
#[test]
fn tty_sigquit_exits_at_once_and_restores_the_terminal() {
    let p = tty_project(RAW_UNTIL_CANCEL);
    let mut s = spawn_tty_background(&p, "run -x app:main");
    let pid = read_pid(&mut s);
    s.expect("raw on").expect("raw mode on");
    send_signal("QUIT", &pid);
    s.expect("exit=131").expect("exit status 131");
    assert_cooked(&mut s);
}

/// An exec process that fails with raw mode on: exit 1, terminal restored.
#[test]
fn tty_terminal_is_restored_after_an_error() {
    let p = tty_project(
        r#"return { main = function()
            assert(io.raw(true) == true)
            error("failed in raw mode")
        end }"#,
    );
    let mut s = spawn_tty_background(&p, "run -x app:main");
    s.expect("failed in raw mode").expect("the error");
    s.expect("exit=1").expect("exit status 1");
    assert_cooked(&mut s);
}
