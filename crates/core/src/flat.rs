//! A payload in one buffer, for messages that cross workers.
//!
//! A [`Payload`] is a tree of vectors: the echo request `{sender = pid, data = "hello world"}`
//! is three allocations (the values, the table arena, the table's pairs). When a message goes
//! to another worker, each of them is written on one thread, read on the other and freed there,
//! which moves its cache lines twice and makes the allocator hand the block back across
//! threads: about 0.2 us per allocation per crossing on the bench machine (`crossping` in
//! BENCHMARKS.md). [`Flat`] writes the same values into one byte buffer before the message
//! leaves its worker ([`crate::Message`] carries a [`crate::message::MessageBody`]); engines read it in
//! place.
//!
//! # Format
//! A six-byte header (the number of values, `u32` little-endian; a flags byte, bit 0 set when
//! a table appears more than once; the deepest table nesting, at most [`MAX_DEPTH`]), then
//! each value:
//! - `0` nil, `1` false, `2` true;
//! - `3` an integer (zigzag LEB128), `4` a float (eight bytes, little-endian);
//! - `0x80 | len` a string of fewer than 128 bytes, or `5`, a LEB128 length, the bytes;
//! - `6` a table: LEB128 array length and pair count, the array values, then key/value pairs;
//! - `7` a LEB128 table number: the table that was the n-th (from 0) to open, seen again.
//!
//! Shared tables and cycles keep their shape through `7`. A payload that the format does not
//! hold (an error value, nesting deeper than [`MAX_DEPTH`], a shared table across two values)
//! stays a tree: [`Flat::encode`] answers `None`.

use crate::value::{Payload, Table, Value};

/// Deepest table nesting a flat payload holds (deeper payloads stay trees, so readers can
/// recurse).
pub const MAX_DEPTH: usize = 64;

const HEADER: usize = 6;
/// Tables a [`Flat::encode`] tracks without allocating.
const FEW_TABLES: usize = 8;
const FLAG_REFS: u8 = 1;

const T_NIL: u8 = 0;
const T_FALSE: u8 = 1;
const T_TRUE: u8 = 2;
const T_INT: u8 = 3;
const T_FLOAT: u8 = 4;
const T_STR: u8 = 5;
const T_TABLE: u8 = 6;
const T_REF: u8 = 7;
const T_SHORT: u8 = 0x80;

/// Values written into one buffer (see the module documentation).
#[derive(Clone, PartialEq)]
pub struct Flat {
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Flat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flat")
            .field("values", &self.len())
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// One item read from a [`Flat`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Token<'a> {
    /// nil.
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// A byte string.
    Str(&'a [u8]),
    /// A table follows: `array` values, then `pairs` key/value pairs.
    Table {
        /// Values at keys `1..=array`.
        array: u32,
        /// Key/value pairs after them.
        pairs: u32,
    },
    /// The table that was the n-th to open, again.
    Ref(u32),
}

impl Flat {
    /// `p` in one buffer, or `None` when it holds what the format does not (see the module
    /// documentation).
    pub fn encode(p: &Payload) -> Option<Flat> {
        let n = u32::try_from(p.values.len()).ok()?;
        // A message's few tables are tracked on the stack: no allocation besides the buffer.
        let mut few = [u32::MAX; FEW_TABLES];
        let mut many = Vec::new();
        let opened = match few.get_mut(..p.tables.len()) {
            Some(few) => few,
            None => {
                many.resize(p.tables.len(), u32::MAX);
                &mut many[..]
            }
        };
        let mut w = Writer {
            p,
            out: Vec::with_capacity(HEADER + 16 * p.values.len() + 48 * p.tables.len()),
            opened,
            next: 0,
            refs: false,
            depth: 0,
            deepest: 0,
        };
        w.out.extend_from_slice(&n.to_le_bytes());
        w.out.extend_from_slice(&[0, 0]);
        for v in &p.values {
            w.value(v)?;
        }
        if w.refs && p.values.len() > 1 {
            // A reader may decode one value alone: a table shared between two values would
            // point at one it skipped.
            return None;
        }
        w.out[4] = if w.refs { FLAG_REFS } else { 0 };
        w.out[5] = w.deepest as u8;
        Some(Flat { bytes: w.out })
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.bytes
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, |b| u32::from_le_bytes(b) as usize)
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when some table appears twice (readers then keep the tables they opened).
    pub fn has_refs(&self) -> bool {
        self.bytes.get(4).is_some_and(|f| f & FLAG_REFS != 0)
    }

    /// The deepest table nesting (at most [`MAX_DEPTH`]).
    pub fn depth(&self) -> usize {
        self.bytes.get(5).map_or(0, |d| *d as usize)
    }

    /// Bytes held, for the mailbox limits.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
    }

    /// A reader at value `index` (past the ones before it), or `None` when there is no such
    /// value.
    pub fn value(&self, index: usize) -> Option<Reader<'_>> {
        if index >= self.len() {
            return None;
        }
        let mut r = Reader {
            b: self.bytes.get(HEADER..)?,
        };
        for _ in 0..index {
            r.skip()?;
        }
        Some(r)
    }

    /// The same values as a tree (for readers that want a [`Payload`]); a malformed buffer
    /// reads as nils.
    pub fn to_payload(&self) -> Payload {
        let mut out = Payload {
            values: Vec::with_capacity(self.len()),
            tables: Vec::new(),
        };
        let mut r = Reader {
            b: self.bytes.get(HEADER..).unwrap_or(&[]),
        };
        for _ in 0..self.len() {
            let v = tree_value(&mut r, &mut out.tables, 0).unwrap_or(Value::Nil);
            out.values.push(v);
        }
        out
    }
}

/// Reads one value into `tables`; `None` when the buffer is malformed.
fn tree_value(r: &mut Reader<'_>, tables: &mut Vec<Table>, depth: usize) -> Option<Value> {
    Some(match r.token()? {
        Token::Nil => Value::Nil,
        Token::Bool(b) => Value::Bool(b),
        Token::Int(i) => Value::Int(i),
        Token::Float(f) => Value::Float(f),
        Token::Str(s) => Value::Str(s.into()),
        Token::Ref(n) => Value::Table(n),
        Token::Table { array, pairs } => {
            if depth >= MAX_DEPTH {
                return None;
            }
            let n = u32::try_from(tables.len()).ok()?;
            tables.push(Table::default());
            let mut t = Table {
                array: Vec::with_capacity((array as usize).min(r.b.len())),
                hash: Vec::with_capacity((pairs as usize).min(r.b.len())),
            };
            for _ in 0..array {
                t.array.push(tree_value(r, tables, depth + 1)?);
            }
            for _ in 0..pairs {
                let k = tree_value(r, tables, depth + 1)?;
                let v = tree_value(r, tables, depth + 1)?;
                t.hash.push((k, v));
            }
            *tables.get_mut(n as usize)? = t;
            Value::Table(n)
        }
    })
}

/// Reads values from a [`Flat`] in order.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    /// The next item, or `None` at the end or on a malformed buffer.
    #[inline]
    pub fn token(&mut self) -> Option<Token<'a>> {
        let (&tag, rest) = self.b.split_first()?;
        self.b = rest;
        Some(match tag {
            T_NIL => Token::Nil,
            T_FALSE => Token::Bool(false),
            T_TRUE => Token::Bool(true),
            T_INT => {
                let z = self.varint()?;
                Token::Int(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
            T_FLOAT => {
                let (b, rest) = self.b.split_first_chunk::<8>()?;
                self.b = rest;
                Token::Float(f64::from_le_bytes(*b))
            }
            T_STR => {
                let n = usize::try_from(self.varint()?).ok()?;
                self.bytes(n)?
            }
            T_TABLE => {
                let array = u32::try_from(self.varint()?).ok()?;
                let pairs = u32::try_from(self.varint()?).ok()?;
                Token::Table { array, pairs }
            }
            T_REF => Token::Ref(u32::try_from(self.varint()?).ok()?),
            t if t & T_SHORT != 0 => self.bytes((t & !T_SHORT) as usize)?,
            _ => return None,
        })
    }

    /// Steps over one whole value (a table with everything in it).
    pub fn skip(&mut self) -> Option<()> {
        let mut left: u64 = 1;
        while left > 0 {
            left -= 1;
            if let Token::Table { array, pairs } = self.token()? {
                left += array as u64 + 2 * pairs as u64;
            }
        }
        Some(())
    }

    fn bytes(&mut self, n: usize) -> Option<Token<'a>> {
        if n > self.b.len() {
            return None;
        }
        let (s, rest) = self.b.split_at(n);
        self.b = rest;
        Some(Token::Str(s))
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v: u64 = 0;
        let mut shift = 0;
        loop {
            let (&byte, rest) = self.b.split_first()?;
            self.b = rest;
            if shift > 63 {
                return None;
            }
            v |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
            shift += 7;
        }
    }
}

struct Writer<'a> {
    p: &'a Payload,
    out: Vec<u8>,
    /// For each arena table, the order in which it opened (`u32::MAX`: not yet).
    opened: &'a mut [u32],
    next: u32,
    refs: bool,
    depth: usize,
    deepest: usize,
}

impl Writer<'_> {
    fn value(&mut self, v: &Value) -> Option<()> {
        match v {
            Value::Nil => self.out.push(T_NIL),
            Value::Bool(false) => self.out.push(T_FALSE),
            Value::Bool(true) => self.out.push(T_TRUE),
            Value::Int(i) => {
                self.out.push(T_INT);
                self.varint(((*i << 1) ^ (*i >> 63)) as u64);
            }
            Value::Float(f) => {
                self.out.push(T_FLOAT);
                self.out.extend_from_slice(&f.to_le_bytes());
            }
            Value::Str(s) => {
                let s = s.as_bytes();
                if s.len() < 128 {
                    self.out.push(T_SHORT | s.len() as u8);
                } else {
                    self.out.push(T_STR);
                    self.varint(s.len() as u64);
                }
                self.out.extend_from_slice(s);
            }
            Value::Table(n) => self.table(*n)?,
            Value::Error(_) => return None,
        }
        Some(())
    }

    fn table(&mut self, n: u32) -> Option<()> {
        let seen = self.opened.get_mut(n as usize)?;
        if *seen != u32::MAX {
            let id = *seen;
            self.refs = true;
            self.out.push(T_REF);
            self.varint(id as u64);
            return Some(());
        }
        *seen = self.next;
        self.next += 1;
        if self.depth >= MAX_DEPTH {
            return None;
        }
        self.depth += 1;
        self.deepest = self.deepest.max(self.depth);
        let p = self.p;
        let t = p.tables.get(n as usize)?;
        self.out.push(T_TABLE);
        self.varint(t.array.len() as u64);
        self.varint(t.hash.len() as u64);
        for v in &t.array {
            self.value(v)?;
        }
        for (k, v) in &t.hash {
            self.value(k)?;
            self.value(v)?;
        }
        self.depth -= 1;
        Some(())
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.out.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::ErrorValue;

    fn table(array: Vec<Value>, hash: Vec<(Value, Value)>) -> Table {
        Table { array, hash }
    }

    fn round_trip(p: &Payload) -> Payload {
        Flat::encode(p).expect("flattens").to_payload()
    }

    #[test]
    fn scalars_keep_their_values() {
        let p = Payload {
            values: vec![
                Value::Nil,
                Value::Bool(true),
                Value::Bool(false),
                Value::Int(0),
                Value::Int(-1),
                Value::Int(i64::MIN),
                Value::Int(i64::MAX),
                Value::Float(1.5),
                Value::Float(f64::NEG_INFINITY),
                Value::str(""),
                Value::str("hello world"),
                Value::Str(vec![7u8; 127].into()),
                Value::Str(vec![0u8; 128].into()),
                Value::Str(vec![255u8; 100_000].into()),
            ],
            tables: Vec::new(),
        };
        let f = Flat::encode(&p).expect("flattens");
        assert_eq!(f.len(), p.values.len());
        assert!(!f.has_refs());
        assert_eq!(f.depth(), 0);
        assert_eq!(f.to_payload(), p);
    }

    #[test]
    fn tables_nest_and_read_one_value_at_a_time() {
        let p = Payload {
            values: vec![Value::Int(1), Value::Table(0), Value::str("last")],
            tables: vec![
                table(
                    vec![Value::Int(10), Value::Table(1)],
                    vec![(Value::str("sender"), Value::str("{app:p|0x00001}"))],
                ),
                table(vec![], vec![(Value::Int(7), Value::Bool(true))]),
            ],
        };
        let f = Flat::encode(&p).expect("flattens");
        assert_eq!(f.depth(), 2);
        assert_eq!(round_trip(&p), p);
        let mut r = f.value(2).expect("third value");
        assert_eq!(r.token(), Some(Token::Str(b"last")));
        let mut r = f.value(1).expect("second value");
        assert_eq!(r.token(), Some(Token::Table { array: 2, pairs: 1 }));
        assert!(f.value(3).is_none());
    }

    #[test]
    fn shared_tables_and_cycles_keep_their_shape() {
        // t0 = {t1, t1}; t1 = {parent = t0}
        let p = Payload {
            values: vec![Value::Table(0)],
            tables: vec![
                table(vec![Value::Table(1), Value::Table(1)], vec![]),
                table(vec![], vec![(Value::str("parent"), Value::Table(0))]),
            ],
        };
        let f = Flat::encode(&p).expect("flattens");
        assert!(f.has_refs());
        assert_eq!(round_trip(&p), p);
    }

    #[test]
    fn what_the_format_does_not_hold_stays_a_tree() {
        let err = Payload::one(Value::Error(Box::new(ErrorValue::new(
            crate::value::ErrorKind::Internal,
            "boom",
        ))));
        assert!(Flat::encode(&err).is_none());
        // Nesting deeper than MAX_DEPTH.
        let deep = Payload {
            values: vec![Value::Table(0)],
            tables: (0..=MAX_DEPTH as u32)
                .map(|i| table(vec![Value::Table(i + 1)], vec![]))
                .chain([Table::default()])
                .collect(),
        };
        assert!(Flat::encode(&deep).is_none());
        // One table shared by two values.
        let shared = Payload {
            values: vec![Value::Table(0), Value::Table(0)],
            tables: vec![Table::default()],
        };
        assert!(Flat::encode(&shared).is_none());
        // A bad arena index.
        assert!(Flat::encode(&Payload::one(Value::Table(3))).is_none());
    }

    #[test]
    fn malformed_buffers_read_as_nils_without_panicking() {
        let p = Payload::one(Value::str("hello"));
        let good = Flat::encode(&p).expect("flattens");
        for cut in 0..good.bytes.len() {
            let f = Flat {
                bytes: good.bytes[..cut].to_vec(),
            };
            let _ = f.to_payload();
            let _ = f.value(0).map(|mut r| r.skip());
        }
        let huge = Flat {
            bytes: vec![1, 0, 0, 0, 0, 0, T_TABLE, 0xff, 0xff, 0xff, 0xff, 0x0f, 0],
        };
        assert_eq!(huge.to_payload().values, vec![Value::Nil]);
    }
}
