//! Response bodies: empty, whole, or streamed from a handler with flow control.
//!
//! # Flow control
//! A streaming handler's chunks go through an unbounded queue whose byte count is watched:
//! past [`HIGH_WATER`] queued bytes a flush makes the handler wait (a blocking point of its
//! coroutine) until the client has taken the queue below [`LOW_WATER`], or until
//! `timeouts.write` passes (then the stream is abandoned). So a slow reader holds at most about
//! `HIGH_WATER` plus one chunk per stream, and the worker thread never blocks.
//!
//! # Cancellation
//! When the client goes away (the body is dropped before its end), waiting flushes fail and the
//! handler, if still running, is killed.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use parking_lot::Mutex;
use starling_core::{ErrorKind, ErrorValue, Payload, Pid, ReplyTo, Value};
use tokio::sync::mpsc;

use crate::runtime::Shared;

/// Queued bytes past which a flush waits.
pub(crate) const HIGH_WATER: usize = 256 << 10;
/// Queued bytes below which waiting flushes resume.
pub(crate) const LOW_WATER: usize = 64 << 10;

/// The error type of [`Body`]: a streamed response that ended badly.
pub(crate) type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// One item of a streamed body.
#[derive(Debug)]
pub(crate) enum Chunk {
    /// Bytes to send.
    Data(Bytes),
    /// End the response abnormally (the client sees a truncated body).
    Fail(String),
}

/// A response body.
pub(crate) enum Body {
    /// No bytes.
    Empty,
    /// All the bytes at once.
    Full(Option<Bytes>),
    /// Bytes as the handler flushes them.
    Stream(StreamBody),
    /// A file read from disk as the client takes it.
    File(FileBody),
    /// Bytes from a relay (`sse_relay`); the relay sees the client leave when this drops.
    Channel(mpsc::Receiver<Bytes>),
}

/// A file streamed from disk.
pub(crate) struct FileBody {
    file: tokio::fs::File,
    left: u64,
    buf: Box<[u8]>,
}

impl Body {
    pub(crate) fn full(b: impl Into<Bytes>) -> Body {
        let b = b.into();
        if b.is_empty() {
            Body::Empty
        } else {
            Body::Full(Some(b))
        }
    }

    /// A file of `len` bytes, streamed.
    pub(crate) fn file(file: tokio::fs::File, len: u64) -> Body {
        Body::File(FileBody {
            file,
            left: len,
            buf: vec![0; 64 << 10].into_boxed_slice(),
        })
    }

    /// The whole body when it is in memory (for compression).
    pub(crate) fn as_full(&self) -> Option<&[u8]> {
        match self {
            Body::Full(Some(b)) => Some(b),
            Body::Empty | Body::Full(None) => Some(&[]),
            Body::Stream(_) | Body::File(_) | Body::Channel(_) => None,
        }
    }
}

/// The receiving end of a streamed body.
pub(crate) struct StreamBody {
    rx: mpsc::UnboundedReceiver<Chunk>,
    flow: Arc<Flow>,
    ended: bool,
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            Body::Empty => Poll::Ready(None),
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(s) => match s.rx.poll_recv(cx) {
                Poll::Ready(Some(Chunk::Data(b))) => {
                    s.flow.drained(b.len());
                    Poll::Ready(Some(Ok(Frame::data(b))))
                }
                Poll::Ready(Some(Chunk::Fail(m))) => {
                    s.ended = true;
                    Poll::Ready(Some(Err(m.into())))
                }
                Poll::Ready(None) => {
                    s.ended = true;
                    Poll::Ready(None)
                }
                Poll::Pending => Poll::Pending,
            },
            Body::Channel(rx) => match rx.poll_recv(cx) {
                Poll::Ready(Some(b)) => Poll::Ready(Some(Ok(Frame::data(b)))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
            Body::File(f) => {
                if f.left == 0 {
                    return Poll::Ready(None);
                }
                let want = (f.left as usize).min(f.buf.len());
                let mut rb = tokio::io::ReadBuf::new(&mut f.buf[..want]);
                match tokio::io::AsyncRead::poll_read(Pin::new(&mut f.file), cx, &mut rb) {
                    Poll::Ready(Ok(())) => {
                        let n = rb.filled().len();
                        if n == 0 {
                            // The file shrank: end here rather than promise bytes never sent.
                            f.left = 0;
                            return Poll::Ready(Some(Err("file truncated while sending".into())));
                        }
                        f.left -= n as u64;
                        Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(rb.filled())))))
                    }
                    Poll::Ready(Err(e)) => {
                        f.left = 0;
                        Poll::Ready(Some(Err(e.into())))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Empty | Body::Full(None) => true,
            Body::Full(Some(b)) => b.is_empty(),
            Body::Stream(s) => s.ended,
            Body::File(f) => f.left == 0,
            Body::Channel(rx) => rx.is_closed() && rx.is_empty(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Empty | Body::Full(None) => SizeHint::with_exact(0),
            Body::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Body::Stream(_) | Body::Channel(_) => SizeHint::default(),
            Body::File(f) => SizeHint::with_exact(f.left),
        }
    }
}

impl Drop for StreamBody {
    fn drop(&mut self) {
        if !self.ended {
            self.flow.client_gone();
        }
    }
}

/// Flow control between a streaming handler and its client.
pub(crate) struct Flow {
    shared: Arc<Shared>,
    /// The handler, killed if the client leaves before it ends.
    handler: Pid,
    queued: AtomicUsize,
    waiters: Mutex<Vec<ReplyTo>>,
    /// The client went away (or the stream was abandoned).
    gone: AtomicBool,
    /// The handler ended.
    finished: AtomicBool,
}

impl Flow {
    /// True once the client cannot get more data.
    pub(crate) fn is_gone(&self) -> bool {
        self.gone.load(Ordering::Acquire)
    }

    /// Counts bytes handed to the queue.
    pub(crate) fn pushed(&self, n: usize) {
        self.queued.fetch_add(n, Ordering::AcqRel);
    }

    /// True when a flush should wait for the client.
    pub(crate) fn over(&self) -> bool {
        self.queued.load(Ordering::Acquire) > HIGH_WATER
    }

    /// Registers a flush waiting for room; `false` when there is room after all (the client
    /// read meanwhile), so the caller should not wait.
    pub(crate) fn wait(&self, reply: ReplyTo) -> bool {
        let mut waiters = self.waiters.lock();
        if self.is_gone() || self.queued.load(Ordering::Acquire) <= LOW_WATER {
            return false;
        }
        waiters.push(reply);
        true
    }

    /// Ends a wait that took too long: the stream is abandoned.
    pub(crate) fn give_up(&self, reply: ReplyTo) {
        let found = {
            let mut waiters = self.waiters.lock();
            let before = waiters.len();
            waiters.retain(|w| *w != reply);
            waiters.len() != before
        };
        if found {
            self.gone.store(true, Ordering::Release);
            self.shared.wake(
                reply,
                Err(ErrorValue::new(
                    ErrorKind::Internal,
                    "write timeout: the client did not read the response in time",
                )),
            );
        }
    }

    fn drained(&self, n: usize) {
        let left = self.queued.fetch_sub(n, Ordering::AcqRel).saturating_sub(n);
        if left <= LOW_WATER {
            let woken: Vec<ReplyTo> = std::mem::take(&mut *self.waiters.lock());
            for reply in woken {
                self.shared.wake(reply, Ok(Payload::one(Value::Bool(true))));
            }
        }
    }

    /// The handler ended: leaving clients no longer need to kill it.
    pub(crate) fn finished(&self) {
        self.finished.store(true, Ordering::Release);
    }

    fn client_gone(&self) {
        self.gone.store(true, Ordering::Release);
        let woken: Vec<ReplyTo> = std::mem::take(&mut *self.waiters.lock());
        for reply in woken {
            self.shared.wake(
                reply,
                Err(ErrorValue::new(ErrorKind::Internal, "client disconnected")),
            );
        }
        if !self.finished.load(Ordering::Acquire) {
            crate::dispatch::kill(&self.shared, self.handler, "client disconnected");
        }
    }
}

/// A new streamed body for `handler`'s response: the sender, its flow control, the body.
pub(crate) fn stream(
    shared: Arc<Shared>,
    handler: Pid,
) -> (mpsc::UnboundedSender<Chunk>, Arc<Flow>, Body) {
    let (tx, rx) = mpsc::unbounded_channel();
    let flow = Arc::new(Flow {
        shared,
        handler,
        queued: AtomicUsize::new(0),
        waiters: Mutex::new(Vec::new()),
        gone: AtomicBool::new(false),
        finished: AtomicBool::new(false),
    });
    let body = Body::Stream(StreamBody {
        rx,
        flow: flow.clone(),
        ended: false,
    });
    (tx, flow, body)
}
