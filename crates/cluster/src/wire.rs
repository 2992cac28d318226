//! What crosses the network: frames, heartbeats and the items frames carry, in postcard
//! (a compact, well-kept serde binary format).
//!
//! Payloads keep what SPEC §6 promises inside one node: integers and floats apart, binary
//! strings, error objects (kind, message, retryable, details, stack, cause), and tables in an
//! arena indexed by number, so shared sub-tables and cycles keep their shape. Decoding checks
//! every table index and bounds how deeply error objects nest ([`MAX_NESTING`]), so a corrupt
//! or hostile frame is an error, never a panic or a stack overflow.
//!
//! A session's items are one byte stream: each item is its length (`u32`, little endian) and
//! its postcard bytes, and the stream is cut into frames of at most [`MAX_CHUNK`] bytes
//! wherever the cut falls. Sequence numbers keep the frames in order and complete, so an item
//! of any size crosses, and a receiver only decodes whole items.

use std::borrow::Cow;
use std::cell::Cell;

use serde::{Deserialize, Deserializer, Serialize};
use starling_core::{ErrorKind, ErrorValue, MessageBody, Payload, Table, Value};

/// Most bytes of item stream one frame carries (NATS servers accept 1 MiB by default).
pub const MAX_CHUNK: usize = 256 * 1024;

/// How deeply error objects may nest in a decoded payload (the core clamps at 32).
pub const MAX_NESTING: usize = 64;

/// Why bytes from the network were refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Not valid postcard for the expected type, or nested too deeply.
    #[error("malformed frame: {0}")]
    Malformed(#[from] postcard::Error),
    /// A table index outside the payload's arena.
    #[error("malformed payload: table {0} out of range")]
    TableIndex(u32),
    /// An item length beyond what the stream holds or allows.
    #[error("malformed item stream")]
    Stream,
}

thread_local! {
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// A value whose decoding counts towards [`MAX_NESTING`].
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct Nested<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nested<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let depth = DEPTH.with(|c| {
            let n = c.get() + 1;
            c.set(n);
            n
        });
        let r = if depth > MAX_NESTING {
            Err(serde::de::Error::custom("nested too deeply"))
        } else {
            T::deserialize(d)
        };
        DEPTH.with(|c| c.set(c.get() - 1));
        r.map(Nested)
    }
}

/// A pid on the wire: node name (empty for the sending node), host name, number.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WPid<'a> {
    /// Node name; empty means the node that sent the frame.
    #[serde(borrow)]
    pub node: Cow<'a, str>,
    /// Host entry id.
    #[serde(borrow)]
    pub host: Cow<'a, str>,
    /// Pid number on its node.
    pub num: u64,
}

/// One payload value.
#[derive(Debug, Serialize, Deserialize)]
pub enum WValue<'a> {
    /// nil
    Nil,
    /// boolean
    Bool(bool),
    /// integer
    Int(i64),
    /// float
    Float(f64),
    /// byte string
    Str(#[serde(borrow, with = "serde_bytes")] Cow<'a, [u8]>),
    /// table index
    Table(u32),
    /// error object
    Error(#[serde(borrow)] Box<Nested<WError<'a>>>),
}

/// A table of the arena.
#[derive(Debug, Serialize, Deserialize)]
pub struct WTable<'a> {
    /// Array part.
    #[serde(borrow)]
    pub array: Vec<WValue<'a>>,
    /// Other keys.
    #[serde(borrow)]
    pub hash: Vec<(WValue<'a>, WValue<'a>)>,
}

/// A payload.
#[derive(Debug, Serialize, Deserialize)]
pub struct WPayload<'a> {
    /// Values.
    #[serde(borrow)]
    pub values: Vec<WValue<'a>>,
    /// Table arena.
    #[serde(borrow)]
    pub tables: Vec<WTable<'a>>,
}

/// An error object.
#[derive(Debug, Serialize, Deserialize)]
pub struct WError<'a> {
    /// Kind, by its Wippy spelling.
    #[serde(borrow)]
    pub kind: Cow<'a, str>,
    /// This layer's message.
    #[serde(borrow)]
    pub message: Cow<'a, str>,
    /// Retryable flag.
    pub retryable: Option<bool>,
    /// Details table.
    #[serde(borrow)]
    pub details: Option<Box<Nested<WPayload<'a>>>>,
    /// Traceback.
    #[serde(borrow)]
    pub stack: Option<Cow<'a, str>>,
    /// Wrapped error.
    #[serde(borrow)]
    pub cause: Option<Box<Nested<WError<'a>>>>,
}

/// A process result: its first value, or its error.
#[derive(Debug, Serialize, Deserialize)]
pub enum WResult<'a> {
    /// Normal end.
    Ok(#[serde(borrow)] WPayload<'a>),
    /// Error end.
    Err(#[serde(borrow)] WError<'a>),
}

/// A first message of a spawned child (`with_message`).
#[derive(Debug, Serialize, Deserialize)]
pub struct WMessage<'a> {
    /// Sender.
    #[serde(borrow)]
    pub from: Option<WPid<'a>>,
    /// Topic.
    #[serde(borrow)]
    pub topic: Cow<'a, str>,
    /// Values.
    #[serde(borrow)]
    pub payload: WPayload<'a>,
}

/// One delivery between nodes.
#[derive(Debug, Serialize, Deserialize)]
pub enum Item<'a> {
    /// A user message.
    Msg {
        /// Receiver (a pid of the receiving node).
        #[serde(borrow)]
        to: WPid<'a>,
        /// The message.
        #[serde(borrow)]
        msg: WMessage<'a>,
    },
    /// An EXIT, LINK_DOWN or CANCEL event.
    Event {
        /// Receiver.
        #[serde(borrow)]
        to: WPid<'a>,
        /// 0 EXIT, 1 LINK_DOWN, 2 CANCEL.
        kind: u8,
        /// The process it is about.
        #[serde(borrow)]
        from: WPid<'a>,
        /// EXIT and LINK_DOWN result.
        #[serde(borrow)]
        result: Option<WResult<'a>>,
        /// CANCEL reason.
        #[serde(borrow)]
        reason: Option<Cow<'a, str>>,
        /// Unix seconds.
        at: i64,
    },
    /// A linked process ended.
    LinkExit {
        /// Receiver.
        #[serde(borrow)]
        to: WPid<'a>,
        /// The process that ended.
        #[serde(borrow)]
        from: WPid<'a>,
        /// How.
        #[serde(borrow)]
        reason: WResult<'a>,
    },
    /// Monitor, demonitor, link or unlink (0..=3), applied at `to`.
    Relation {
        /// The process monitored or linked.
        #[serde(borrow)]
        to: WPid<'a>,
        /// The other side.
        #[serde(borrow)]
        other: WPid<'a>,
        /// The operation.
        op: u8,
    },
    /// Terminate.
    Kill {
        /// Receiver.
        #[serde(borrow)]
        to: WPid<'a>,
        /// The error it ends with.
        #[serde(borrow)]
        reason: WError<'a>,
    },
    /// The answer to a request (a spawn's pid, a child's result for `exec`).
    Wake {
        /// The waiting process.
        #[serde(borrow)]
        to: WPid<'a>,
        /// Its token.
        token: u64,
        /// The answer.
        #[serde(borrow)]
        result: WResult<'a>,
    },
    /// Spawn a process on the receiving node.
    Spawn(#[serde(borrow)] Box<WSpawn<'a>>),
    /// STRONG registration: answer [`Item::NameAck`] once the names replica has `revision`.
    NameSync {
        /// Request id.
        id: u64,
        /// KV revision to wait for.
        revision: u64,
    },
    /// Answer to [`Item::NameSync`].
    NameAck {
        /// Request id.
        id: u64,
    },
}

/// A spawn request.
#[derive(Debug, Serialize, Deserialize)]
pub struct WSpawn<'a> {
    /// Entry id.
    #[serde(borrow)]
    pub entry: Cow<'a, str>,
    /// Host entry id.
    #[serde(borrow)]
    pub host: Cow<'a, str>,
    /// Arguments.
    #[serde(borrow)]
    pub args: WPayload<'a>,
    /// Parent.
    #[serde(borrow)]
    pub parent: Option<WPid<'a>>,
    /// Parent monitors the child.
    pub monitor: bool,
    /// Parent and child are linked.
    pub link: bool,
    /// Where the child's result goes (`exec`).
    #[serde(borrow)]
    pub exit_to: Option<(WPid<'a>, u64)>,
    /// Where the child's pid goes.
    #[serde(borrow)]
    pub reply: Option<(WPid<'a>, u64)>,
    /// Name to register for the child.
    #[serde(borrow)]
    pub name: Option<Cow<'a, str>>,
    /// First messages.
    #[serde(borrow)]
    pub messages: Vec<WMessage<'a>>,
}

/// A frame of a session, published on the receiver's node subject.
#[derive(Debug, Serialize, Deserialize)]
pub struct Frame<'a> {
    /// Sending node.
    #[serde(borrow)]
    pub src: Cow<'a, str>,
    /// Its incarnation.
    pub src_inc: u64,
    /// The incarnation of the receiver it was meant for.
    pub dst_inc: u64,
    /// What it carries.
    #[serde(borrow)]
    pub body: Body<'a>,
}

/// The content of a [`Frame`].
#[derive(Debug, Serialize, Deserialize)]
pub enum Body<'a> {
    /// A chunk of the item stream of session `session`, number `seq` (from 1).
    Data {
        /// Session number of the sender's stream to this receiver.
        session: u64,
        /// Frame number within it.
        seq: u64,
        /// Item stream bytes.
        #[serde(borrow, with = "serde_bytes")]
        chunk: Cow<'a, [u8]>,
    },
    /// "Session `session` has `seq` frames so far", sent on the same subject as the frames
    /// (so in order with them) every heartbeat: a receiver that has fewer lost the last ones.
    Mark {
        /// Session number.
        session: u64,
        /// Frames sent in it.
        seq: u64,
    },
    /// "I dropped your session `session` and fired node-down for you": the receiver fires too,
    /// if that is still its current session, and starts a new one.
    Reset {
        /// The receiver's session being refused.
        session: u64,
    },
}

/// What a heartbeat says of one peer.
#[derive(Debug, Serialize, Deserialize)]
pub struct HbPeer<'a> {
    /// Peer name.
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// The peer's incarnation the sender talks to.
    pub inc: u64,
    /// The sender's current session to it.
    pub session: u64,
    /// Frames sent in that session.
    pub seq: u64,
}

/// Published on the heartbeat subject: "I am alive", and which session it runs with each
/// peer (how far each went is told by [`Body::Mark`], in order with the frames).
#[derive(Debug, Serialize, Deserialize)]
pub struct Heartbeat<'a> {
    /// Sending node.
    #[serde(borrow)]
    pub src: Cow<'a, str>,
    /// Its incarnation.
    pub inc: u64,
    /// A node starting: peers answer at once with their own heartbeat.
    pub hello: bool,
    /// A node stopping: peers declare it down at once.
    pub bye: bool,
    /// Its sessions.
    #[serde(borrow)]
    pub peers: Vec<HbPeer<'a>>,
}

/// Encodes anything to postcard bytes.
pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    postcard::to_stdvec(v).expect("postcard encodes to a Vec without failing")
}

/// Decodes postcard bytes.
pub fn decode<'a, T: Deserialize<'a>>(b: &'a [u8]) -> Result<T, WireError> {
    DEPTH.with(|c| c.set(0));
    Ok(postcard::from_bytes(b)?)
}

/// Appends one item (length and bytes) to a stream buffer.
pub fn push_item(buf: &mut Vec<u8>, item: &Item<'_>) {
    let start = buf.len();
    buf.extend_from_slice(&[0; 4]);
    let buf2 = std::mem::take(buf);
    let mut out = postcard::to_extend(item, buf2).expect("postcard encodes to a Vec");
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    *buf = out;
}

/// Splits whole items off the front of a stream buffer: calls `f` with each, and returns
/// how many bytes were consumed (a partial item stays for the next chunk).
pub fn take_items(
    buf: &[u8],
    mut f: impl FnMut(&[u8]) -> Result<(), WireError>,
) -> Result<usize, WireError> {
    let mut at = 0;
    while buf.len() - at >= 4 {
        let len = u32::from_le_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
        if len > (1 << 30) {
            return Err(WireError::Stream);
        }
        if buf.len() - at - 4 < len {
            break;
        }
        f(&buf[at + 4..at + 4 + len])?;
        at += 4 + len;
    }
    Ok(at)
}

// ----- payload conversions -----

/// The wire form of a value (borrowing its strings).
pub fn value_out(v: &Value) -> WValue<'_> {
    match v {
        Value::Nil => WValue::Nil,
        Value::Bool(b) => WValue::Bool(*b),
        Value::Int(i) => WValue::Int(*i),
        Value::Float(f) => WValue::Float(*f),
        Value::Str(s) => WValue::Str(Cow::Borrowed(s)),
        Value::Table(i) => WValue::Table(*i),
        Value::Error(e) => WValue::Error(Box::new(Nested(error_out(e)))),
    }
}

/// The wire form of a payload.
pub fn payload_out(p: &Payload) -> WPayload<'_> {
    tree_out(p, value_out)
}

/// The wire form of a message's values: borrowed from a tree, owned when they were flattened
/// for a trip between workers (a flat body holds no error values).
pub fn body_out(b: &MessageBody) -> WPayload<'_> {
    fn owned(v: &Value) -> WValue<'static> {
        match v {
            Value::Nil | Value::Error(_) => WValue::Nil,
            Value::Bool(b) => WValue::Bool(*b),
            Value::Int(i) => WValue::Int(*i),
            Value::Float(f) => WValue::Float(*f),
            Value::Str(s) => WValue::Str(Cow::Owned(s.to_vec())),
            Value::Table(i) => WValue::Table(*i),
        }
    }
    match b {
        MessageBody::Values(p) => payload_out(p),
        MessageBody::Flat(f) => tree_out(&f.to_payload(), owned),
    }
}

/// A payload's values and tables, each value written by `value`.
fn tree_out<'p, 'w>(p: &'p Payload, value: impl Fn(&'p Value) -> WValue<'w>) -> WPayload<'w> {
    WPayload {
        values: p.values.iter().map(&value).collect(),
        tables: p
            .tables
            .iter()
            .map(|t| WTable {
                array: t.array.iter().map(&value).collect(),
                hash: t.hash.iter().map(|(k, v)| (value(k), value(v))).collect(),
            })
            .collect(),
    }
}

/// The wire form of an error.
pub fn error_out(e: &ErrorValue) -> WError<'_> {
    WError {
        kind: Cow::Borrowed(e.kind.as_str()),
        message: Cow::Borrowed(&e.message),
        retryable: e.retryable,
        details: e.details.as_ref().map(|d| Box::new(Nested(payload_out(d)))),
        stack: e.stack.as_deref().map(Cow::Borrowed),
        cause: e.cause.as_ref().map(|c| Box::new(Nested(error_out(c)))),
    }
}

/// The wire form of a result.
pub fn result_out(r: &Result<Payload, ErrorValue>) -> WResult<'_> {
    match r {
        Ok(p) => WResult::Ok(payload_out(p)),
        Err(e) => WResult::Err(error_out(e)),
    }
}

fn value_in(v: WValue<'_>, tables: usize) -> Result<Value, WireError> {
    Ok(match v {
        WValue::Nil => Value::Nil,
        WValue::Bool(b) => Value::Bool(b),
        WValue::Int(i) => Value::Int(i),
        WValue::Float(f) => Value::Float(f),
        WValue::Str(s) => Value::Str(s.as_ref().into()),
        WValue::Table(i) if (i as usize) < tables => Value::Table(i),
        WValue::Table(i) => return Err(WireError::TableIndex(i)),
        WValue::Error(e) => Value::Error(Box::new(error_in(e.0)?)),
    })
}

/// A payload from its wire form (table indices checked).
pub fn payload_in(p: WPayload<'_>) -> Result<Payload, WireError> {
    let n = p.tables.len();
    let mut tables = Vec::with_capacity(n);
    for t in p.tables {
        let array = t
            .array
            .into_iter()
            .map(|v| value_in(v, n))
            .collect::<Result<_, _>>()?;
        let hash = t
            .hash
            .into_iter()
            .map(|(k, v)| Ok((value_in(k, n)?, value_in(v, n)?)))
            .collect::<Result<_, WireError>>()?;
        tables.push(Table { array, hash });
    }
    Ok(Payload {
        values: p
            .values
            .into_iter()
            .map(|v| value_in(v, n))
            .collect::<Result<_, _>>()?,
        tables,
    })
}

/// An error from its wire form.
pub fn error_in(e: WError<'_>) -> Result<ErrorValue, WireError> {
    Ok(ErrorValue {
        kind: ErrorKind::parse(&e.kind).unwrap_or(ErrorKind::Unknown),
        message: e.message.into_owned(),
        retryable: e.retryable,
        details: match e.details {
            Some(d) => Some(Box::new(payload_in(d.0)?)),
            None => None,
        },
        stack: e.stack.map(Cow::into_owned),
        cause: match e.cause {
            Some(c) => Some(Box::new(error_in(c.0)?)),
            None => None,
        },
    })
}

/// A result from its wire form.
pub fn result_in(r: WResult<'_>) -> Result<Result<Payload, ErrorValue>, WireError> {
    Ok(match r {
        WResult::Ok(p) => Ok(payload_in(p)?),
        WResult::Err(e) => Err(error_in(e)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(p: &Payload) -> Payload {
        let bytes = encode(&payload_out(p));
        payload_in(decode::<WPayload<'_>>(&bytes).expect("decodes")).expect("valid")
    }

    #[test]
    fn payloads_keep_numbers_bytes_errors_and_shape() {
        let mut inner = ErrorValue::new(ErrorKind::NotFound, "root");
        inner.stack = Some("stack".into());
        let mut e = ErrorValue::new(ErrorKind::Invalid, "outer").retryable(None);
        e.cause = Some(Box::new(inner));
        e.details = Some(Box::new(Payload::one(Value::str("d"))));
        let p = Payload {
            values: vec![
                Value::Int(3),
                Value::Float(3.0),
                Value::Str(vec![0, 255, 10].into()),
                Value::Table(0),
                Value::Error(Box::new(e)),
                Value::Nil,
                Value::Bool(true),
            ],
            tables: vec![
                Table {
                    array: vec![Value::Table(1), Value::Table(1)],
                    hash: vec![(Value::str("self"), Value::Table(0))],
                },
                Table::default(),
            ],
        };
        assert_eq!(round_trip(&p), p);
    }

    #[test]
    fn a_flat_body_goes_on_the_wire_as_its_values() {
        let p = Payload {
            values: vec![Value::Table(0), Value::Int(-7)],
            tables: vec![Table {
                array: vec![Value::Float(1.5)],
                hash: vec![(Value::str("data"), Value::Str(vec![0, 255].into()))],
            }],
        };
        let flat = MessageBody::from(p.clone()).flattened();
        assert!(matches!(flat, MessageBody::Flat(_)));
        let bytes = encode(&body_out(&flat));
        let back = payload_in(decode::<WPayload<'_>>(&bytes).expect("decodes")).expect("valid");
        assert_eq!(back, p);
    }

    #[test]
    fn bad_table_indices_and_deep_nesting_are_refused() {
        let p = Payload::one(Value::Table(4));
        let bytes = encode(&payload_out(&p));
        assert!(matches!(
            payload_in(decode::<WPayload<'_>>(&bytes).expect("decodes")),
            Err(WireError::TableIndex(4))
        ));
        // Far deeper than the core ever makes: refused, not a stack overflow.
        let mut e = ErrorValue::new(ErrorKind::Internal, "x");
        for _ in 0..200 {
            let mut outer = ErrorValue::new(ErrorKind::Internal, "x");
            outer.cause = Some(Box::new(e));
            e = outer;
        }
        let bytes = encode(&error_out(&e));
        assert!(decode::<WError<'_>>(&bytes).is_err());
        // Garbage is an error too.
        assert!(decode::<Frame<'_>>(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn the_item_stream_cuts_anywhere() {
        let mut buf = Vec::new();
        for n in 0..3u64 {
            push_item(&mut buf, &Item::NameAck { id: n });
        }
        let mut got = Vec::new();
        let mut pending = Vec::new();
        for chunk in buf.chunks(3) {
            pending.extend_from_slice(chunk);
            let used = take_items(&pending, |b| {
                match decode::<Item<'_>>(b)? {
                    Item::NameAck { id } => got.push(id),
                    other => panic!("unexpected {other:?}"),
                }
                Ok(())
            })
            .expect("stream");
            pending.drain(..used);
        }
        assert_eq!(got, vec![0, 1, 2]);
        assert!(pending.is_empty());
    }
}
