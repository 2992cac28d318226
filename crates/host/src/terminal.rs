//! The process's real stdin/stdout/stderr, as the terminal host's [`Terminal`].
//!
//! Writes go straight to the OS and are flushed before returning, so a prompt shows before a
//! read blocks. Reads happen on one dedicated thread (stdin blocks in the kernel); each read
//! answers the waiting coroutine through its worker, so blocking on input never stalls a
//! worker, and a read still pending at shutdown never keeps the runtime alive.

use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex, OnceLock};

use crossbeam_channel::Sender;
use starling_core::{Envelope, ErrorKind, ErrorValue, Node, Payload, ReplyTo, Value};
use starling_lua::{Stream, Terminal};

enum ReadReq {
    Line(ReplyTo),
    Bytes(usize, ReplyTo),
}

/// The standard streams of this OS process.
#[derive(Debug)]
pub struct StdTerminal {
    node: OnceLock<Arc<Node>>,
    args: Vec<String>,
    reader: Mutex<Option<Sender<ReadReq>>>,
}

impl std::fmt::Debug for ReadReq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadReq")
    }
}

impl StdTerminal {
    /// A terminal passing `args` to `io.args()`.
    pub fn new(args: Vec<String>) -> StdTerminal {
        StdTerminal {
            node: OnceLock::new(),
            args,
            reader: Mutex::new(None),
        }
    }

    /// Binds the node that read results are delivered through.
    pub fn attach(&self, node: Arc<Node>) {
        let _ = self.node.set(node);
    }

    fn submit(&self, req: ReadReq) {
        let Some(node) = self.node.get().cloned() else {
            return;
        };
        let mut guard = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        let tx = guard.get_or_insert_with(|| {
            let (tx, rx) = crossbeam_channel::unbounded::<ReadReq>();
            let spawned = std::thread::Builder::new()
                .name("stdin".into())
                .spawn(move || {
                    let stdin = std::io::stdin();
                    for req in rx {
                        let mut input = stdin.lock();
                        let (reply, result) = match req {
                            ReadReq::Line(reply) => (reply, read_line(&mut input)),
                            ReadReq::Bytes(n, reply) => (reply, read_bytes(&mut input, n)),
                        };
                        drop(input);
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

fn eof() -> ErrorValue {
    ErrorValue::new(ErrorKind::Unknown, "EOF").retryable(None)
}

fn read_line(input: &mut impl BufRead) -> Result<Payload, ErrorValue> {
    let mut buf = Vec::new();
    match input.read_until(b'\n', &mut buf) {
        Ok(0) => Err(eof()),
        Ok(_) => {
            if buf.last() == Some(&b'\n') {
                buf.pop();
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
            }
            Ok(Payload::one(Value::Str(buf.into_boxed_slice())))
        }
        Err(e) => Err(ErrorValue::new(
            ErrorKind::Internal,
            format!("read failed: {e}"),
        )),
    }
}

fn read_bytes(input: &mut impl BufRead, n: usize) -> Result<Payload, ErrorValue> {
    let mut buf = vec![0u8; n];
    match input.read(&mut buf) {
        Ok(0) => Err(eof()),
        Ok(k) => {
            buf.truncate(k);
            Ok(Payload::one(Value::Str(buf.into_boxed_slice())))
        }
        Err(e) => Err(ErrorValue::new(
            ErrorKind::Internal,
            format!("read failed: {e}"),
        )),
    }
}

impl Terminal for StdTerminal {
    fn write(&self, stream: Stream, bytes: &[u8]) -> std::io::Result<()> {
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

    fn read_line(&self, reply: ReplyTo) {
        self.submit(ReadReq::Line(reply));
    }

    fn read(&self, n: usize, reply: ReplyTo) {
        self.submit(ReadReq::Bytes(n, reply));
    }

    fn set_raw(&self, _on: bool) -> std::io::Result<()> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "raw mode is not supported yet",
        ))
    }

    fn args(&self) -> Vec<String> {
        self.args.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(p: Result<Payload, ErrorValue>) -> Option<Vec<u8>> {
        match p.ok()?.values.into_iter().next()? {
            Value::Str(s) => Some(s.into_vec()),
            _ => None,
        }
    }

    #[test]
    fn lines_lose_their_terminators_and_eof_is_an_error() {
        let mut input: &[u8] = b"hello\r\nworld\nlast";
        assert_eq!(line(read_line(&mut input)), Some(b"hello".to_vec()));
        assert_eq!(line(read_line(&mut input)), Some(b"world".to_vec()));
        assert_eq!(line(read_line(&mut input)), Some(b"last".to_vec()));
        assert_eq!(read_line(&mut input).unwrap_err().message, "EOF");
    }
}
