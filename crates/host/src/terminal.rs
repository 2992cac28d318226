//! The process's real stdin/stdout/stderr, as the terminal host's [`Terminal`].
//!
//! Writes go straight to the OS and are flushed before returning, so a prompt shows before a
//! read blocks. Reads happen on one dedicated thread (stdin blocks in the kernel); each read
//! answers the waiting coroutine through its worker, so blocking on input never stalls a
//! worker, and a read still pending at shutdown never keeps the runtime alive.
//!
//! # Interactive mode
//! When stdin and stdout are both terminals, `io.readline` uses a line editor (rustyline):
//! editing keys and an in-memory history. The text written since the last newline (the prompt
//! the program wrote with `io.write`) becomes the editor's prompt, so it looks the same but
//! survives redraws. While the editor runs, log lines (when stderr is the terminal too) are
//! printed above the prompt through the editor's external printer; outside it, a log line
//! arriving after a partial line clears that line, prints, and writes the partial line again.
//! Ctrl+C in the editor raises SIGINT as the kernel would in cooked mode, Ctrl+D on an empty
//! line is end of input. With a pipe on either side none of this happens: input is read as it
//! arrives, with no echo and no editing.
//!
//! # Raw mode
//! `io.raw(true)` switches the input terminal to raw mode (no line buffering, no echo, no
//! input translation; Ctrl+C still interrupts and output still turns `\n` into a new line).
//! The terminal settings found at start are restored by [`StdTerminal::restore`], which the
//! runtime calls on every way out.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crossbeam_channel::Sender;
use starling_core::{Envelope, ErrorKind, ErrorValue, Node, Payload, ReplyTo, Value};
use starling_lua::{Stream, Terminal};

/// Largest single `io.read(n)`: bigger requests return at most this many bytes.
pub const MAX_READ: usize = 1 << 20;
/// Longest partial line remembered as the editor's prompt.
const MAX_PROMPT: usize = 4096;

enum ReadReq {
    Line(ReplyTo),
    Bytes(usize, ReplyTo),
}

impl std::fmt::Debug for ReadReq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadReq")
    }
}

/// What is on the screen's current line, and whether the line editor owns it.
#[derive(Default)]
struct Screen {
    /// Bytes written to stdout since the last newline.
    partial: Vec<u8>,
    /// The line editor is reading a line.
    editing: bool,
    /// Log lines to print above the editor's prompt (a thread owns the external printer).
    printer: Option<Sender<String>>,
}

impl std::fmt::Debug for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Screen")
            .field("partial", &String::from_utf8_lossy(&self.partial))
            .field("editing", &self.editing)
            .finish()
    }
}

impl Screen {
    fn track(&mut self, bytes: &[u8]) {
        match bytes.iter().rposition(|&b| b == b'\n') {
            Some(i) => {
                self.partial.clear();
                self.partial.extend_from_slice(&bytes[i + 1..]);
            }
            None => self.partial.extend_from_slice(bytes),
        }
        if self.partial.len() > MAX_PROMPT {
            let cut = self.partial.len() - MAX_PROMPT;
            self.partial.drain(..cut);
        }
    }
}

/// Which standard streams are terminals, found once at start.
#[derive(Debug, Clone, Copy)]
struct Ttys {
    stdin: bool,
    stdout: bool,
    stderr: bool,
}

impl Ttys {
    /// Line editing applies.
    fn interactive(self) -> bool {
        self.stdin && self.stdout
    }
}

/// The standard streams of this OS process.
#[derive(Debug)]
pub struct StdTerminal {
    node: OnceLock<Arc<Node>>,
    args: Vec<String>,
    reader: Mutex<Option<Sender<ReadReq>>>,
    ttys: Ttys,
    screen: Arc<Mutex<Screen>>,
    raw: Arc<AtomicBool>,
    #[cfg(unix)]
    saved: Mutex<Option<nix::sys::termios::Termios>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl StdTerminal {
    /// A terminal passing `args` to `io.args()`.
    pub fn new(args: Vec<String>) -> StdTerminal {
        let ttys = Ttys {
            stdin: std::io::stdin().is_terminal(),
            stdout: std::io::stdout().is_terminal(),
            stderr: std::io::stderr().is_terminal(),
        };
        StdTerminal {
            node: OnceLock::new(),
            args,
            reader: Mutex::new(None),
            ttys,
            screen: Arc::new(Mutex::new(Screen::default())),
            raw: Arc::new(AtomicBool::new(false)),
            #[cfg(unix)]
            saved: Mutex::new(if ttys.stdin {
                nix::sys::termios::tcgetattr(std::io::stdin()).ok()
            } else {
                None
            }),
        }
    }

    /// Binds the node that read results are delivered through.
    pub fn attach(&self, node: Arc<Node>) {
        let _ = self.node.set(node);
    }

    /// Puts the input terminal back as it was at start (raw mode, line editor); called on
    /// every way out of the runtime. Harmless when stdin is not a terminal.
    pub fn restore(&self) {
        let editing = {
            let mut s = lock(&self.screen);
            std::mem::take(&mut s.editing)
        };
        #[cfg(unix)]
        if let Some(t) = lock(&self.saved).as_ref() {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                t,
            );
        }
        if editing {
            // The editor was interrupted mid-line: leave bracketed paste, end its line.
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(b"\x1b[?2004l\r\n");
            let _ = out.flush();
        }
    }

    /// Prints one log line (with its newline) so that it does not garble the prompt.
    pub fn log_line(&self, line: &str) {
        if !(self.ttys.interactive() && self.ttys.stderr) {
            write_stream(Stream::Stderr, line.as_bytes());
            return;
        }
        let s = lock(&self.screen);
        if s.editing {
            if let Some(p) = &s.printer {
                if p.send(line.to_string()).is_ok() {
                    return;
                }
            }
        }
        if s.partial.is_empty() {
            write_stream(Stream::Stderr, line.as_bytes());
        } else {
            let mut clear = b"\r\x1b[K".to_vec();
            clear.extend_from_slice(line.as_bytes());
            write_stream(Stream::Stderr, &clear);
            write_stream(Stream::Stdout, &s.partial);
        }
    }

    fn submit(&self, req: ReadReq) {
        let Some(node) = self.node.get().cloned() else {
            return;
        };
        let mut guard = lock(&self.reader);
        let tx = guard.get_or_insert_with(|| {
            let (tx, rx) = crossbeam_channel::unbounded::<ReadReq>();
            let mut reader = Reader {
                input: BufReader::new(stdin_handle()),
                ttys: self.ttys,
                screen: self.screen.clone(),
                raw: self.raw.clone(),
                editor: None,
                editor_failed: false,
            };
            let spawned = std::thread::Builder::new()
                .name("stdin".into())
                .spawn(move || {
                    for req in rx {
                        let (reply, result) = match req {
                            ReadReq::Line(reply) => (reply, reader.line()),
                            ReadReq::Bytes(n, reply) => (reply, read_bytes(&mut reader.input, n)),
                        };
                        // `None`: Ctrl+C in the editor; SIGINT is on its way, leave the read
                        // pending as the kernel does for a cooked terminal.
                        let Some(result) = result else { continue };
                        node.post(reply.pid, |slot| Envelope::Wake {
                            to: reply.pid,
                            slot,
                            token: reply.token,
                            result,
                        });
                    }
                });
            if let Err(e) = spawned {
                eprintln!("starling: cannot start the stdin reader: {e}");
            }
            tx
        });
        let _ = tx.send(req);
    }
}

/// An unbuffered handle on fd 0, so that one buffer (the reader's) sees every byte.
fn stdin_handle() -> Box<dyn Read + Send> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned() {
            return Box::new(File::from(fd));
        }
    }
    Box::new(std::io::stdin())
}

fn write_stream(stream: Stream, bytes: &[u8]) {
    let _ = raw_write(stream, bytes);
}

fn raw_write(stream: Stream, bytes: &[u8]) -> std::io::Result<()> {
    match stream {
        Stream::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()
        }
        Stream::Stderr => {
            let mut err = std::io::stderr().lock();
            err.write_all(bytes)?;
            err.flush()
        }
    }
}

type Editor = rustyline::DefaultEditor;

/// The stdin thread's state.
struct Reader {
    input: BufReader<Box<dyn Read + Send>>,
    ttys: Ttys,
    screen: Arc<Mutex<Screen>>,
    raw: Arc<AtomicBool>,
    editor: Option<Editor>,
    editor_failed: bool,
}

impl Reader {
    /// One line; `None` when the user pressed Ctrl+C in the editor.
    fn line(&mut self) -> Option<Result<Payload, ErrorValue>> {
        let raw = self.raw.load(Ordering::SeqCst);
        // Bytes already buffered (after a short io.read) come first, without the editor.
        if self.ttys.interactive() && !raw && self.input.buffer().is_empty() {
            if let Some(r) = self.edit_line() {
                return r;
            }
        }
        Some(read_line(&mut self.input, raw))
    }

    /// Reads a line with the editor; `None` when no editor can be had.
    fn edit_line(&mut self) -> Option<Option<Result<Payload, ErrorValue>>> {
        if self.editor.is_none() && !self.editor_failed {
            self.editor = self.make_editor();
            self.editor_failed = self.editor.is_none();
        }
        let editor = self.editor.as_mut()?;
        let prompt = {
            let mut s = lock(&self.screen);
            let prompt = String::from_utf8_lossy(&std::mem::take(&mut s.partial)).into_owned();
            s.editing = true;
            prompt
        };
        if !prompt.is_empty() {
            // The editor draws the prompt itself: wipe the copy io.write left on the line.
            write_stream(Stream::Stdout, b"\r\x1b[K");
        }
        let result = editor.readline(&prompt);
        lock(&self.screen).editing = false;
        use rustyline::error::ReadlineError;
        Some(match result {
            Ok(line) => Some(Ok(Payload::one(Value::Str(line.into_bytes().into())))),
            Err(ReadlineError::Eof) => Some(Err(eof())),
            Err(ReadlineError::Interrupted) => {
                let _ = signal_hook::low_level::raise(signal_hook::consts::SIGINT);
                None
            }
            Err(e) => Some(Err(ErrorValue::new(
                ErrorKind::Internal,
                format!("read failed: {e}"),
            ))),
        })
    }

    fn make_editor(&self) -> Option<Editor> {
        let config = rustyline::Config::builder()
            .auto_add_history(true)
            .max_history_size(1000)
            .ok()?
            .build();
        let mut editor = Editor::with_config(config).ok()?;
        if self.ttys.stderr {
            if let Ok(mut printer) = editor.create_external_printer() {
                let (tx, rx) = crossbeam_channel::unbounded::<String>();
                let spawned = std::thread::Builder::new()
                    .name("log-printer".into())
                    .spawn(move || {
                        use rustyline::ExternalPrinter as _;
                        for line in rx {
                            if printer.print(line.clone()).is_err() {
                                write_stream(Stream::Stderr, line.as_bytes());
                            }
                        }
                    });
                if spawned.is_ok() {
                    lock(&self.screen).printer = Some(tx);
                }
            }
        }
        Some(editor)
    }
}

fn eof() -> ErrorValue {
    ErrorValue::new(ErrorKind::Unknown, "EOF").retryable(None)
}

fn read_failed(e: std::io::Error) -> ErrorValue {
    ErrorValue::new(ErrorKind::Internal, format!("read failed: {e}"))
}

/// Reads through `\n` (or, in raw mode, `\r` too) and drops the line end (`\n`, `\r\n`, `\r`).
fn read_line(input: &mut impl BufRead, raw: bool) -> Result<Payload, ErrorValue> {
    let mut buf = Vec::new();
    loop {
        let chunk = match input.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_failed(e)),
        };
        if chunk.is_empty() {
            if buf.is_empty() {
                return Err(eof());
            }
            break;
        }
        let end = chunk
            .iter()
            .position(|&b| b == b'\n' || (raw && b == b'\r'));
        match end {
            Some(i) => {
                let term = chunk[i];
                buf.extend_from_slice(&chunk[..i]);
                input.consume(i + 1);
                if term == b'\n' && buf.last() == Some(&b'\r') {
                    buf.pop();
                }
                break;
            }
            None => {
                let n = chunk.len();
                buf.extend_from_slice(chunk);
                input.consume(n);
            }
        }
    }
    Ok(Payload::one(Value::Str(buf.into())))
}

fn read_bytes(input: &mut impl BufRead, n: usize) -> Option<Result<Payload, ErrorValue>> {
    let mut buf = vec![0u8; n.clamp(1, MAX_READ)];
    let result = loop {
        match input.read(&mut buf) {
            Ok(0) => break Err(eof()),
            Ok(k) => {
                buf.truncate(k);
                break Ok(Payload::one(Value::Str(buf.into())));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(read_failed(e)),
        }
    };
    Some(result)
}

#[cfg(unix)]
fn set_raw_mode(
    saved: &Mutex<Option<nix::sys::termios::Termios>>,
    on: bool,
) -> std::io::Result<()> {
    use nix::sys::termios::{
        ControlFlags, InputFlags, LocalFlags, SetArg, SpecialCharacterIndices, tcgetattr, tcsetattr,
    };
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "stdin is not a terminal",
        ));
    }
    let saved = lock(saved);
    let mut t = match saved.as_ref() {
        Some(t) => t.clone(),
        None => tcgetattr(&stdin).map_err(std::io::Error::from)?,
    };
    if on {
        t.input_flags &= !(InputFlags::BRKINT
            | InputFlags::ICRNL
            | InputFlags::INPCK
            | InputFlags::ISTRIP
            | InputFlags::IXON);
        t.control_flags |= ControlFlags::CS8;
        t.local_flags &= !(LocalFlags::ECHO | LocalFlags::ICANON | LocalFlags::IEXTEN);
        t.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        t.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
    }
    tcsetattr(&stdin, SetArg::TCSADRAIN, &t).map_err(std::io::Error::from)
}

impl Terminal for StdTerminal {
    fn write(&self, stream: Stream, bytes: &[u8]) -> std::io::Result<()> {
        if !self.ttys.interactive() || bytes.is_empty() {
            return raw_write(stream, bytes);
        }
        let mut s = lock(&self.screen);
        if s.editing {
            // Output from another coroutine while the editor owns the line: above the prompt.
            if let Some(p) = &s.printer {
                if p.send(String::from_utf8_lossy(bytes).into_owned()).is_ok() {
                    return Ok(());
                }
            }
        }
        raw_write(stream, bytes)?;
        if stream == Stream::Stdout {
            s.track(bytes);
        }
        Ok(())
    }

    fn read_line(&self, reply: ReplyTo) {
        self.submit(ReadReq::Line(reply));
    }

    fn read(&self, n: usize, reply: ReplyTo) {
        self.submit(ReadReq::Bytes(n, reply));
    }

    fn set_raw(&self, on: bool) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            set_raw_mode(&self.saved, on)?;
            self.raw.store(on, Ordering::SeqCst);
            Ok(())
        }
        #[cfg(not(unix))]
        {
            let _ = on;
            Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "raw mode is only supported on Unix",
            ))
        }
    }

    fn args(&self) -> Vec<String> {
        self.args.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(p: Result<Payload, ErrorValue>) -> Option<Vec<u8>> {
        match p.ok()?.values.into_iter().next()? {
            Value::Str(s) => Some(s.into_vec()),
            _ => None,
        }
    }

    #[test]
    fn lines_lose_their_terminators_and_eof_is_an_error() {
        let mut input: &[u8] = b"hello\r\nworld\nlast";
        assert_eq!(text(read_line(&mut input, false)), Some(b"hello".to_vec()));
        assert_eq!(text(read_line(&mut input, false)), Some(b"world".to_vec()));
        assert_eq!(text(read_line(&mut input, false)), Some(b"last".to_vec()));
        assert_eq!(read_line(&mut input, false).unwrap_err().message, "EOF");
    }

    #[test]
    fn raw_lines_also_end_at_carriage_return() {
        let mut input: &[u8] = b"one\rtwo\nthree\r\n";
        assert_eq!(text(read_line(&mut input, true)), Some(b"one".to_vec()));
        assert_eq!(text(read_line(&mut input, true)), Some(b"two".to_vec()));
        assert_eq!(text(read_line(&mut input, true)), Some(b"three".to_vec()));
        // the `\n` of the `\r\n` pair is an empty line in raw mode
        assert_eq!(text(read_line(&mut input, true)), Some(Vec::new()));
        let mut cooked: &[u8] = b"a\rb\n";
        assert_eq!(text(read_line(&mut cooked, false)), Some(b"a\rb".to_vec()));
    }

    #[test]
    fn reads_are_bounded_and_never_empty() {
        let data = [7u8; 10];
        let mut input = BufReader::new(&data[..]);
        let got = read_bytes(&mut input, 4).and_then(text);
        assert_eq!(got, Some(vec![7u8; 4]));
        let rest = read_bytes(&mut input, usize::MAX).and_then(text);
        assert_eq!(rest, Some(vec![7u8; 6]));
        let end = read_bytes(&mut input, 1).expect("answered");
        assert_eq!(end.unwrap_err().message, "EOF");
    }

    #[test]
    fn the_partial_line_is_what_follows_the_last_newline() {
        let mut s = Screen::default();
        s.track(b"Welcome\n> ");
        assert_eq!(s.partial, b"> ");
        s.track(b"more");
        assert_eq!(s.partial, b"> more");
        s.track(b"\n");
        assert!(s.partial.is_empty());
        s.track(&vec![b'x'; MAX_PROMPT + 10]);
        assert_eq!(s.partial.len(), MAX_PROMPT);
    }
}
