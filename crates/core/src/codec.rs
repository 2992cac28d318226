//! Typed payloads: serde values ↔ [`Payload`]s, so native Rust processes exchange exactly the
//! values Lua processes do (SPEC §6).
//!
//! - [`to_payload`] ([`Payload::encode`]) makes a payload of one value; [`from_payload`]
//!   ([`Payload::decode`]) reads it back.
//! - [`to_args`] ([`Payload::args`]) spreads a tuple into several values, the way a Lua `send`
//!   or `spawn` passes several arguments; [`from_args`] ([`Payload::decode_args`]) reads them
//!   back. `Payload::args(&(pid, "x"))` has two values; `Payload::encode(&(pid, "x"))` has one,
//!   a table.
//! - [`from_value`] reads one value of a payload.
//!
//! # Mapping
//!
//! | Rust (serde data model)         | Payload value                          | Read back from          |
//! |---------------------------------|----------------------------------------|-------------------------|
//! | `bool`                          | `Bool`                                 | `Bool`                  |
//! | integers                        | `Int` (outside `i64`: an error)        | `Int`, integral `Float` |
//! | `f32`, `f64`                    | [`Value::number`]: `Int` if integral   | `Float`, `Int`          |
//! | `char`, `str`, `String`, bytes  | `Str`                                  | `Str`                   |
//! | `None`, `()`, unit struct       | `Nil`                                  | `Nil`                   |
//! | `Some(x)`, newtype struct       | `x`                                    | `x`                     |
//! | sequence, tuple, tuple struct   | table, array part only (keys `1..n`)   | table, no hash part     |
//! | map, struct                     | table, hash part                       | table, both parts       |
//! | unit variant                    | `Str(name)`                            | `Str`                   |
//! | newtype, tuple, struct variant  | one-key table `{name = value}`         | one-key table           |
//! | [`Pid`]                         | `Str`, its printed form ([`crate::pid`]) | `Str`                 |
//!
//! Details, where Lua and serde do not line up:
//!
//! - **Numbers.** Lua has one number type, so an integral float is sent as `Int` (`3.0` arrives
//!   in Lua as `3`), an integer target accepts a `Float` with no fraction, and a float target
//!   accepts an `Int`. NaN and infinities stay `Float`. An integer that does not fit its target
//!   (a `u64` above `i64::MAX` when encoding, `300` into an `i8` when decoding) is
//!   [`PayloadError::IntegerOutOfRange`]. `f32` targets round.
//! - **Strings.** `Str` is bytes. `String`, `&str` and `char` targets need UTF-8
//!   ([`PayloadError::InvalidUtf8`]); byte targets (`serde_bytes`) take any `Str`. Strings are
//!   borrowed from the payload when the target allows it (`&str`, `&[u8]`, a `Cow` marked
//!   `#[serde(borrow)]`).
//! - **Nil inside tables.** A `None` in a sequence is stored as `Nil` in the array part, and a
//!   `None` map value or struct field as a `Nil` hash value: Rust reads them back, but Lua has no
//!   nil in tables, so a Lua receiver sees a hole (`#t` may stop there) or a missing key. A
//!   missing `Option` field reads as `None`.
//! - **Keys.** A map key must encode to a string, a number (not NaN) or a boolean
//!   ([`PayloadError::InvalidKey`]). Maps and structs read both parts of a table: array index
//!   `i` is the integer key `i` (so the Lua table `{10, 20}` reads as the `HashMap<i64, i32>`
//!   `{1: 10, 2: 20}`). A number or boolean key read where a string is wanted (a `String`
//!   key, a struct field name) reads as its text, `"1"`: a struct ignores such keys like any
//!   unknown field, or names them in its error if it denies unknown fields.
//! - **Untyped targets** (`deserialize_any`, as `serde_json::Value` uses): a table whose hash
//!   part is empty is a sequence (so the empty table is an empty sequence); any other table is a
//!   map, its array part under integer keys. A string that is not UTF-8 is bytes.
//! - **Error objects** read as the map `{kind = "<ErrorKind::as_str>", message = "<full
//!   message>"}` (a struct with `kind` and `message` fields reads them too). Encoding never makes
//!   error objects.
//! - **Human-readable.** Both sides report `is_human_readable`, so types with two forms (IP
//!   addresses, UUIDs, timestamps) use their text form, which Lua code can read.
//! - **Pids** print and parse through the calling thread's node ([`crate::node::with_current`]):
//!   worker threads have one; elsewhere, convert inside [`Node::enter`](crate::Node::enter), or
//!   get [`PayloadError::NoNode`].
//!
//! # Guarantees
//!
//! Decoding never panics and never recurses without bound, whatever the payload: a table
//! reference outside the arena is [`PayloadError::InvalidTable`], a table met again inside
//! itself is [`PayloadError::CyclicTable`], and tables nested deeper than [`MAX_DEPTH`] are
//! [`PayloadError::TooDeep`]. A table shared by several parents is read once per reference.
//! Encoding recurses as deep as the Rust value does and can build what decoding refuses (Lua
//! reads any depth).
//!
//! Both directions sit on the message path of native processes: encoding builds the table arena
//! directly (one allocation per string and per table part); decoding reads the payload by
//! reference, allocating only what the target type holds.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    Unexpected, VariantAccess, Visitor,
};
use serde::ser::{
    self, Serialize, SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant,
    SerializeTuple, SerializeTupleStruct, SerializeTupleVariant, Serializer,
};
use serde::{Deserialize, forward_to_deserialize_any};

use crate::bytestr::FixedWriter;
use crate::message::MessageBody;
use crate::node::{PidError, with_current};
use crate::pid::{Pid, write_pid, write_remote_pid};
use crate::value::{ErrorValue, Payload, Table, Value};

/// How deeply tables may nest when decoding: deeper is [`PayloadError::TooDeep`].
///
/// Decoding recurses once per level, through the target type's serde frames: decoding into
/// `serde_json::Value` measured about 1 KiB of stack a level in release builds and 3.5 KiB in
/// debug builds. Worker threads have 2 MiB and are already inside an engine's step, so 128
/// levels (about half a MiB at worst) leaves room; Lua itself reads payloads of any depth.
pub const MAX_DEPTH: u32 = 128;

/// Why a value could not be encoded into, or decoded from, a payload.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// A message from a `Serialize` or `Deserialize` implementation (serde's `custom` errors,
    /// type mismatches, missing fields).
    #[error("{0}")]
    Message(String),
    /// An integer that does not fit: a `u64` above `i64::MAX` when encoding, or a payload number
    /// outside the target type when decoding.
    #[error("integer {value} does not fit {target}")]
    IntegerOutOfRange {
        /// The number, as text.
        value: String,
        /// What it had to fit (a Rust type name, or `i64` for a payload integer).
        target: &'static str,
    },
    /// A map key that encodes to something other than a string, a number or a boolean.
    #[error("a map key must be a string, a number or a boolean, not {0}")]
    InvalidKey(&'static str),
    /// A string read into a text type is not UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// [`from_value`] asked for a value the payload does not have.
    #[error("no value {index}: the payload has {len}")]
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// The number of values.
        len: usize,
    },
    /// A [`Value::Table`] index outside the payload's table arena (a malformed payload).
    #[error("table reference {index} is out of range: the payload has {len} tables")]
    InvalidTable {
        /// The index.
        index: u32,
        /// The number of tables.
        len: usize,
    },
    /// A table that contains itself, which no typed value can hold.
    #[error("cyclic table: table {0} contains itself")]
    CyclicTable(u32),
    /// Tables nested deeper than [`MAX_DEPTH`].
    #[error("tables nested deeper than {MAX_DEPTH}")]
    TooDeep,
    /// More tables than a payload can index (`u32`).
    #[error("too many tables for one payload")]
    TooManyTables,
    /// A pid that does not parse or names no host of the current node.
    #[error("{INVALID_PID}{0}")]
    InvalidPid(String),
    /// A pid converted on a thread with no current node.
    #[error("{NO_NODE}")]
    NoNode,
}

impl From<PayloadError> for ErrorValue {
    /// A payload that does not fit is the sender's or receiver's mistake: `Invalid`.
    fn from(e: PayloadError) -> ErrorValue {
        ErrorValue::new(crate::value::ErrorKind::Invalid, e.to_string())
    }
}

/// The text of [`PayloadError::NoNode`].
const NO_NODE: &str =
    "a pid needs the runtime's node: convert on a worker thread or inside Node::enter";

/// The start of the text of [`PayloadError::InvalidPid`].
const INVALID_PID: &str = "invalid pid: ";

impl PayloadError {
    /// The error for a serde `custom` message. The pid impls can only report through `custom`
    /// (they are generic over the format), so the texts of the pid variants map back to those
    /// variants, which callers can then match.
    fn from_text(text: String) -> PayloadError {
        if text == NO_NODE {
            PayloadError::NoNode
        } else if let Some(rest) = text.strip_prefix(INVALID_PID) {
            PayloadError::InvalidPid(rest.to_owned())
        } else {
            PayloadError::Message(text)
        }
    }

    fn out_of_range(value: impl fmt::Display, target: &'static str) -> PayloadError {
        PayloadError::IntegerOutOfRange {
            value: value.to_string(),
            target,
        }
    }
}

impl ser::Error for PayloadError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        PayloadError::from_text(msg.to_string())
    }
}

impl de::Error for PayloadError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        PayloadError::from_text(msg.to_string())
    }
}

// ---------------------------------------------------------------------------------------------
// Public entry points

/// Encodes `value` as a payload of one value.
pub fn to_payload<T: Serialize + ?Sized>(value: &T) -> Result<Payload, PayloadError> {
    let mut tables = Vec::new();
    let one = value.serialize(Encoder {
        tables: &mut tables,
    })?;
    Ok(Payload {
        values: vec![one],
        tables,
    })
}

/// Encodes `args` as several values, the way Lua passes several arguments: a tuple or a
/// sequence gives one value per element (`()` gives none, `(x,)` one); anything else gives one
/// value, as [`to_payload`] does. Read back with [`from_args`].
pub fn to_args<T: Serialize + ?Sized>(args: &T) -> Result<Payload, PayloadError> {
    let mut p = Payload::empty();
    let mut spread = false;
    let one = args.serialize(Spreader {
        values: &mut p.values,
        tables: &mut p.tables,
        spread: &mut spread,
    })?;
    if !spread {
        p.values.push(one);
    }
    Ok(p)
}

/// Decodes a payload: from its value when it has one, from nil when it has none, and from the
/// sequence of its values when it has several (so `(Pid, String)` reads a two-value payload).
///
/// A payload made by [`to_args`] may have one value or none; read it with [`from_args`].
pub fn from_payload<'de, T: Deserialize<'de>>(p: &'de Payload) -> Result<T, PayloadError> {
    T::deserialize(Top { p, spread: false })
}

/// Decodes a payload's values as arguments, the inverse of [`to_args`]: a tuple or sequence
/// target reads every value as one element (even when there are none or one); any other target
/// reads as with [`from_payload`].
pub fn from_args<'de, T: Deserialize<'de>>(p: &'de Payload) -> Result<T, PayloadError> {
    T::deserialize(Top { p, spread: true })
}

/// Decodes value `index` of a payload.
pub fn from_value<'de, T: Deserialize<'de>>(
    p: &'de Payload,
    index: usize,
) -> Result<T, PayloadError> {
    let v = p.values.get(index).ok_or(PayloadError::IndexOutOfRange {
        index,
        len: p.values.len(),
    })?;
    T::deserialize(ValueDe::new(p, v, None))
}

impl Payload {
    /// A payload of one value: `value` encoded (see [`to_payload`]; a tuple becomes one table).
    pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Payload, PayloadError> {
        to_payload(value)
    }

    /// A payload of several values: the elements of the tuple `args` (see [`to_args`]).
    pub fn args<T: Serialize + ?Sized>(args: &T) -> Result<Payload, PayloadError> {
        to_args(args)
    }

    /// Decodes this payload (see [`from_payload`]).
    pub fn decode<'de, T: Deserialize<'de>>(&'de self) -> Result<T, PayloadError> {
        from_payload(self)
    }

    /// Decodes this payload's values as arguments (see [`from_args`]).
    pub fn decode_args<'de, T: Deserialize<'de>>(&'de self) -> Result<T, PayloadError> {
        from_args(self)
    }
}

impl MessageBody {
    /// Decodes the values (see [`Payload::decode`]).
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        self.to_payload().decode()
    }

    /// Decodes the values as arguments (see [`Payload::decode_args`]).
    pub fn decode_args<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        self.to_payload().decode_args()
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// Serializes one value, adding the tables it needs to the arena.
struct Encoder<'a> {
    tables: &'a mut Vec<Table>,
}

/// Takes the next arena slot for a table. Slots are taken before the children are encoded, so a
/// parent's index is below its children's (the outermost table is table 0).
fn reserve(tables: &mut Vec<Table>) -> Result<u32, PayloadError> {
    let slot = u32::try_from(tables.len()).map_err(|_| PayloadError::TooManyTables)?;
    tables.push(Table::default());
    Ok(slot)
}

/// Initial capacity for `len` elements: a length hint comes from a `Serialize` impl, which
/// could claim anything, so a huge one is not trusted up front.
fn capacity(len: Option<usize>) -> usize {
    len.unwrap_or(0).min(1 << 16)
}

fn int(v: impl TryInto<i64> + fmt::Display + Copy) -> Result<Value, PayloadError> {
    v.try_into()
        .map(Value::Int)
        .map_err(|_| PayloadError::out_of_range(v, "i64"))
}

/// Checks a map key against what a Lua table key can be and what [`from_payload`] reads back.
fn map_key(key: Value) -> Result<Value, PayloadError> {
    match key {
        Value::Str(_) | Value::Int(_) | Value::Bool(_) => Ok(key),
        Value::Float(f) if !f.is_nan() => Ok(key),
        Value::Float(_) => Err(PayloadError::InvalidKey("NaN")),
        Value::Nil => Err(PayloadError::InvalidKey("nil")),
        Value::Table(_) => Err(PayloadError::InvalidKey("a table")),
        Value::Error(_) => Err(PayloadError::InvalidKey("an error")),
    }
}

impl<'a> Serializer for Encoder<'a> {
    type Ok = Value;
    type Error = PayloadError;
    type SerializeSeq = ArrayBuilder<'a>;
    type SerializeTuple = ArrayBuilder<'a>;
    type SerializeTupleStruct = ArrayBuilder<'a>;
    type SerializeTupleVariant = VariantBuilder<ArrayBuilder<'a>>;
    type SerializeMap = MapBuilder<'a>;
    type SerializeStruct = MapBuilder<'a>;
    type SerializeStructVariant = VariantBuilder<MapBuilder<'a>>;

    fn serialize_bool(self, v: bool) -> Result<Value, PayloadError> {
        Ok(Value::Bool(v))
    }

    fn serialize_i8(self, v: i8) -> Result<Value, PayloadError> {
        Ok(Value::Int(v.into()))
    }

    fn serialize_i16(self, v: i16) -> Result<Value, PayloadError> {
        Ok(Value::Int(v.into()))
    }

    fn serialize_i32(self, v: i32) -> Result<Value, PayloadError> {
        Ok(Value::Int(v.into()))
    }

    fn serialize_i64(self, v: i64) -> Result<Value, PayloadError> {
        Ok(Value::Int(v))
    }

    fn serialize_i128(self, v: i128) -> Result<Value, PayloadError> {
        int(v)
    }

    fn serialize_u8(self, v: u8) -> Result<Value, PayloadError> {
        Ok(Value::Int(v.into()))
    }

    fn serialize_u16(self, v: u16) -> Result<Value, PayloadError> {
        Ok(Value::Int(v.into()))
    }

    fn serialize_u32(self, v: u32) -> Result<Value, PayloadError> {
        Ok(Value::Int(v.into()))
    }

    fn serialize_u64(self, v: u64) -> Result<Value, PayloadError> {
        int(v)
    }

    fn serialize_u128(self, v: u128) -> Result<Value, PayloadError> {
        int(v)
    }

    fn serialize_f32(self, v: f32) -> Result<Value, PayloadError> {
        Ok(Value::number(v.into()))
    }

    fn serialize_f64(self, v: f64) -> Result<Value, PayloadError> {
        Ok(Value::number(v))
    }

    fn serialize_char(self, v: char) -> Result<Value, PayloadError> {
        let mut buf = [0; 4];
        Ok(Value::Str(v.encode_utf8(&mut buf).as_bytes().into()))
    }

    fn serialize_str(self, v: &str) -> Result<Value, PayloadError> {
        Ok(Value::Str(v.as_bytes().into()))
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Value, PayloadError> {
        Ok(Value::Str(v.into()))
    }

    fn serialize_none(self) -> Result<Value, PayloadError> {
        Ok(Value::Nil)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, PayloadError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Value, PayloadError> {
        Ok(Value::Nil)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, PayloadError> {
        Ok(Value::Nil)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, PayloadError> {
        Ok(Value::str(variant))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, PayloadError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, PayloadError> {
        let slot = reserve(self.tables)?;
        let inner = value.serialize(Encoder {
            tables: &mut *self.tables,
        })?;
        self.tables[slot as usize].hash = vec![(Value::str(variant), inner)];
        Ok(Value::Table(slot))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<ArrayBuilder<'a>, PayloadError> {
        ArrayBuilder::new(self.tables, len)
    }

    fn serialize_tuple(self, len: usize) -> Result<ArrayBuilder<'a>, PayloadError> {
        ArrayBuilder::new(self.tables, Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<ArrayBuilder<'a>, PayloadError> {
        ArrayBuilder::new(self.tables, Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantBuilder<ArrayBuilder<'a>>, PayloadError> {
        let outer = reserve(self.tables)?;
        Ok(VariantBuilder {
            outer,
            variant,
            inner: ArrayBuilder::new(self.tables, Some(len))?,
        })
    }

    fn serialize_map(self, len: Option<usize>) -> Result<MapBuilder<'a>, PayloadError> {
        MapBuilder::new(self.tables, len)
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<MapBuilder<'a>, PayloadError> {
        MapBuilder::new(self.tables, Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantBuilder<MapBuilder<'a>>, PayloadError> {
        let outer = reserve(self.tables)?;
        Ok(VariantBuilder {
            outer,
            variant,
            inner: MapBuilder::new(self.tables, Some(len))?,
        })
    }
}

/// A table under construction that can hand back the arena and its value.
trait Finish<'a> {
    fn finish(self) -> (&'a mut Vec<Table>, Value);
}

/// Builds a table's array part (sequences, tuples).
struct ArrayBuilder<'a> {
    tables: &'a mut Vec<Table>,
    slot: u32,
    array: Vec<Value>,
}

impl<'a> ArrayBuilder<'a> {
    fn new(tables: &'a mut Vec<Table>, len: Option<usize>) -> Result<Self, PayloadError> {
        let slot = reserve(tables)?;
        Ok(ArrayBuilder {
            tables,
            slot,
            array: Vec::with_capacity(capacity(len)),
        })
    }

    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PayloadError> {
        let v = value.serialize(Encoder {
            tables: &mut *self.tables,
        })?;
        self.array.push(v);
        Ok(())
    }
}

impl<'a> Finish<'a> for ArrayBuilder<'a> {
    fn finish(self) -> (&'a mut Vec<Table>, Value) {
        let ArrayBuilder {
            tables,
            slot,
            array,
        } = self;
        tables[slot as usize].array = array;
        (tables, Value::Table(slot))
    }
}

impl SerializeSeq for ArrayBuilder<'_> {
    type Ok = Value;
    type Error = PayloadError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PayloadError> {
        self.push(value)
    }

    fn end(self) -> Result<Value, PayloadError> {
        Ok(self.finish().1)
    }
}

impl SerializeTuple for ArrayBuilder<'_> {
    type Ok = Value;
    type Error = PayloadError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PayloadError> {
        self.push(value)
    }

    fn end(self) -> Result<Value, PayloadError> {
        Ok(self.finish().1)
    }
}

impl SerializeTupleStruct for ArrayBuilder<'_> {
    type Ok = Value;
    type Error = PayloadError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PayloadError> {
        self.push(value)
    }

    fn end(self) -> Result<Value, PayloadError> {
        Ok(self.finish().1)
    }
}

/// Builds a table's hash part (maps, structs).
struct MapBuilder<'a> {
    tables: &'a mut Vec<Table>,
    slot: u32,
    hash: Vec<(Value, Value)>,
    /// The key given to `serialize_key`, waiting for its value.
    key: Option<Value>,
}

impl<'a> MapBuilder<'a> {
    fn new(tables: &'a mut Vec<Table>, len: Option<usize>) -> Result<Self, PayloadError> {
        let slot = reserve(tables)?;
        Ok(MapBuilder {
            tables,
            slot,
            hash: Vec::with_capacity(capacity(len)),
            key: None,
        })
    }

    fn encode<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<Value, PayloadError> {
        value.serialize(Encoder {
            tables: &mut *self.tables,
        })
    }

    fn entry<T: Serialize + ?Sized>(&mut self, key: Value, value: &T) -> Result<(), PayloadError> {
        let v = self.encode(value)?;
        self.hash.push((key, v));
        Ok(())
    }
}

impl<'a> Finish<'a> for MapBuilder<'a> {
    fn finish(self) -> (&'a mut Vec<Table>, Value) {
        let MapBuilder {
            tables, slot, hash, ..
        } = self;
        tables[slot as usize].hash = hash;
        (tables, Value::Table(slot))
    }
}

impl SerializeMap for MapBuilder<'_> {
    type Ok = Value;
    type Error = PayloadError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), PayloadError> {
        let k = self.encode(key)?;
        self.key = Some(map_key(k)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PayloadError> {
        let key = self.key.take().ok_or_else(|| {
            PayloadError::Message("serialize_value called before serialize_key".into())
        })?;
        self.entry(key, value)
    }

    fn serialize_entry<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<(), PayloadError> {
        let k = self.encode(key)?;
        self.entry(map_key(k)?, value)
    }

    fn end(self) -> Result<Value, PayloadError> {
        Ok(self.finish().1)
    }
}

impl SerializeStruct for MapBuilder<'_> {
    type Ok = Value;
    type Error = PayloadError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), PayloadError> {
        self.entry(Value::str(name), value)
    }

    fn end(self) -> Result<Value, PayloadError> {
        Ok(self.finish().1)
    }
}

/// Builds `{variant = inner}` for tuple and struct variants; `outer` is the one-key table.
struct VariantBuilder<B> {
    outer: u32,
    variant: &'static str,
    inner: B,
}

impl<'a, B: Finish<'a>> VariantBuilder<B> {
    fn finish(self) -> Value {
        let (tables, inner) = self.inner.finish();
        tables[self.outer as usize].hash = vec![(Value::str(self.variant), inner)];
        Value::Table(self.outer)
    }
}

impl SerializeTupleVariant for VariantBuilder<ArrayBuilder<'_>> {
    type Ok = Value;
    type Error = PayloadError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PayloadError> {
        self.inner.push(value)
    }

    fn end(self) -> Result<Value, PayloadError> {
        Ok(self.finish())
    }
}

impl SerializeStructVariant for VariantBuilder<MapBuilder<'_>> {
    type Ok = Value;
    type Error = PayloadError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), PayloadError> {
        self.inner.entry(Value::str(name), value)
    }

    fn end(self) -> Result<Value, PayloadError> {
        Ok(self.finish())
    }
}

/// The top level of [`to_args`]: a tuple, a sequence or `()` spreads into the payload's values
/// (and sets `spread`); anything else is encoded as one value, which the caller pushes.
struct Spreader<'a> {
    values: &'a mut Vec<Value>,
    tables: &'a mut Vec<Table>,
    spread: &'a mut bool,
}

impl<'a> Spreader<'a> {
    fn one(self) -> Encoder<'a> {
        Encoder {
            tables: self.tables,
        }
    }

    fn spread(self, len: Option<usize>) -> SpreadBuilder<'a> {
        *self.spread = true;
        self.values.reserve(capacity(len));
        SpreadBuilder {
            values: self.values,
            tables: self.tables,
        }
    }
}

impl<'a> Serializer for Spreader<'a> {
    type Ok = Value;
    type Error = PayloadError;
    type SerializeSeq = SpreadBuilder<'a>;
    type SerializeTuple = SpreadBuilder<'a>;
    type SerializeTupleStruct = ArrayBuilder<'a>;
    type SerializeTupleVariant = VariantBuilder<ArrayBuilder<'a>>;
    type SerializeMap = MapBuilder<'a>;
    type SerializeStruct = MapBuilder<'a>;
    type SerializeStructVariant = VariantBuilder<MapBuilder<'a>>;

    fn serialize_bool(self, v: bool) -> Result<Value, PayloadError> {
        self.one().serialize_bool(v)
    }

    fn serialize_i8(self, v: i8) -> Result<Value, PayloadError> {
        self.one().serialize_i8(v)
    }

    fn serialize_i16(self, v: i16) -> Result<Value, PayloadError> {
        self.one().serialize_i16(v)
    }

    fn serialize_i32(self, v: i32) -> Result<Value, PayloadError> {
        self.one().serialize_i32(v)
    }

    fn serialize_i64(self, v: i64) -> Result<Value, PayloadError> {
        self.one().serialize_i64(v)
    }

    fn serialize_i128(self, v: i128) -> Result<Value, PayloadError> {
        self.one().serialize_i128(v)
    }

    fn serialize_u8(self, v: u8) -> Result<Value, PayloadError> {
        self.one().serialize_u8(v)
    }

    fn serialize_u16(self, v: u16) -> Result<Value, PayloadError> {
        self.one().serialize_u16(v)
    }

    fn serialize_u32(self, v: u32) -> Result<Value, PayloadError> {
        self.one().serialize_u32(v)
    }

    fn serialize_u64(self, v: u64) -> Result<Value, PayloadError> {
        self.one().serialize_u64(v)
    }

    fn serialize_u128(self, v: u128) -> Result<Value, PayloadError> {
        self.one().serialize_u128(v)
    }

    fn serialize_f32(self, v: f32) -> Result<Value, PayloadError> {
        self.one().serialize_f32(v)
    }

    fn serialize_f64(self, v: f64) -> Result<Value, PayloadError> {
        self.one().serialize_f64(v)
    }

    fn serialize_char(self, v: char) -> Result<Value, PayloadError> {
        self.one().serialize_char(v)
    }

    fn serialize_str(self, v: &str) -> Result<Value, PayloadError> {
        self.one().serialize_str(v)
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Value, PayloadError> {
        self.one().serialize_bytes(v)
    }

    fn serialize_none(self) -> Result<Value, PayloadError> {
        self.one().serialize_none()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, PayloadError> {
        self.one().serialize_some(value)
    }

    fn serialize_unit(self) -> Result<Value, PayloadError> {
        // No arguments at all.
        *self.spread = true;
        Ok(Value::Nil)
    }

    fn serialize_unit_struct(self, name: &'static str) -> Result<Value, PayloadError> {
        self.one().serialize_unit_struct(name)
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<Value, PayloadError> {
        self.one().serialize_unit_variant(name, index, variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, PayloadError> {
        // Transparent, as everywhere else: a newtype around a tuple spreads.
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, PayloadError> {
        self.one()
            .serialize_newtype_variant(name, index, variant, value)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SpreadBuilder<'a>, PayloadError> {
        Ok(self.spread(len))
    }

    fn serialize_tuple(self, len: usize) -> Result<SpreadBuilder<'a>, PayloadError> {
        Ok(self.spread(Some(len)))
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<ArrayBuilder<'a>, PayloadError> {
        self.one().serialize_tuple_struct(name, len)
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantBuilder<ArrayBuilder<'a>>, PayloadError> {
        self.one()
            .serialize_tuple_variant(name, index, variant, len)
    }

    fn serialize_map(self, len: Option<usize>) -> Result<MapBuilder<'a>, PayloadError> {
        self.one().serialize_map(len)
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<MapBuilder<'a>, PayloadError> {
        self.one().serialize_struct(name, len)
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantBuilder<MapBuilder<'a>>, PayloadError> {
        self.one()
            .serialize_struct_variant(name, index, variant, len)
    }
}

/// Pushes each element of a top-level tuple or sequence as a value of its own.
struct SpreadBuilder<'a> {
    values: &'a mut Vec<Value>,
    tables: &'a mut Vec<Table>,
}

impl SpreadBuilder<'_> {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PayloadError> {
        let v = value.serialize(Encoder {
            tables: &mut *self.tables,
        })?;
        self.values.push(v);
        Ok(())
    }
}

impl SerializeSeq for SpreadBuilder<'_> {
    type Ok = Value;
    type Error = PayloadError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PayloadError> {
        self.push(value)
    }

    fn end(self) -> Result<Value, PayloadError> {
        Ok(Value::Nil)
    }
}

impl SerializeTuple for SpreadBuilder<'_> {
    type Ok = Value;
    type Error = PayloadError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PayloadError> {
        self.push(value)
    }

    fn end(self) -> Result<Value, PayloadError> {
        Ok(Value::Nil)
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// One link of the chain of tables being decoded, innermost first: what the cycle and depth
/// checks walk. It lives on the stack of the access that reads the table, so tracking costs no
/// allocation.
#[derive(Clone, Copy)]
struct Path<'c> {
    table: u32,
    depth: u32,
    up: Option<&'c Path<'c>>,
}

/// Deserializes one payload value.
#[derive(Clone, Copy)]
struct ValueDe<'c, 'de> {
    p: &'de Payload,
    v: &'de Value,
    /// The table this value sits in, if any.
    path: Option<&'c Path<'c>>,
    /// True for a map key: numbers and booleans read as text where a string is wanted.
    key: bool,
}

/// The value of an empty payload.
static NIL: Value = Value::Nil;

impl<'c, 'de> ValueDe<'c, 'de> {
    fn new(p: &'de Payload, v: &'de Value, path: Option<&'c Path<'c>>) -> Self {
        ValueDe {
            p,
            v,
            path,
            key: false,
        }
    }

    /// Steps into table `index`: checks the reference, cycles and depth.
    fn enter(&self, index: u32) -> Result<(&'de Table, Path<'c>), PayloadError> {
        let table = self
            .p
            .tables
            .get(index as usize)
            .ok_or(PayloadError::InvalidTable {
                index,
                len: self.p.tables.len(),
            })?;
        let mut up = self.path;
        while let Some(link) = up {
            if link.table == index {
                return Err(PayloadError::CyclicTable(index));
            }
            up = link.up;
        }
        let depth = self.path.map_or(0, |link| link.depth) + 1;
        if depth > MAX_DEPTH {
            return Err(PayloadError::TooDeep);
        }
        let link = Path {
            table: index,
            depth,
            up: self.path,
        };
        Ok((table, link))
    }

    /// The value as an integer, when it is one (an integral float counts).
    fn integer(&self) -> Option<i128> {
        /// 2^127: integral floats below it convert to `i128` exactly.
        const I128_BOUND: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;
        match *self.v {
            Value::Int(i) => Some(i.into()),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < I128_BOUND => Some(f as i128),
            _ => None,
        }
    }

    fn number(&self) -> Option<f64> {
        match *self.v {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    /// A number or boolean read as text (map keys, identifiers); anything else as it is.
    fn visit_text<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        match *self.v {
            Value::Int(i) => with_display(i, |text| visitor.visit_str(text)),
            Value::Float(f) => with_display(f, |text| visitor.visit_str(text)),
            Value::Bool(b) => visitor.visit_borrowed_str(if b { "true" } else { "false" }),
            _ => self.deserialize_any(visitor),
        }
    }
}

fn utf8(bytes: &[u8]) -> Result<&str, PayloadError> {
    std::str::from_utf8(bytes).map_err(|_| PayloadError::InvalidUtf8)
}

/// What a value looks like in serde's "invalid type" errors.
fn unexpected(v: &Value) -> Unexpected<'_> {
    match v {
        Value::Nil => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Int(i) => Unexpected::Signed(*i),
        Value::Float(f) => Unexpected::Float(*f),
        Value::Str(s) => match std::str::from_utf8(s) {
            Ok(s) => Unexpected::Str(s),
            Err(_) => Unexpected::Bytes(s),
        },
        Value::Table(_) => Unexpected::Map,
        Value::Error(_) => Unexpected::Other("error object"),
    }
}

/// Visits `items` as a sequence; elements the visitor leaves unread are an error.
fn visit_items<'c, 'de, V: Visitor<'de>>(
    p: &'de Payload,
    items: &'de [Value],
    link: Option<Path<'c>>,
    visitor: V,
) -> Result<V::Value, PayloadError> {
    let mut seq = SeqDe {
        p,
        items: items.iter(),
        link,
    };
    let out = visitor.visit_seq(&mut seq)?;
    if seq.items.len() == 0 {
        Ok(out)
    } else {
        Err(de::Error::invalid_length(items.len(), &"fewer elements"))
    }
}

/// Visits a table's entries as a map: the array part under integer keys, then the hash part.
fn visit_entries<'c, 'de, V: Visitor<'de>>(
    p: &'de Payload,
    table: &'de Table,
    link: Path<'c>,
    visitor: V,
) -> Result<V::Value, PayloadError> {
    let mut map = MapDe {
        p,
        array: table.array.iter().enumerate(),
        hash: table.hash.iter(),
        value: None,
        link,
    };
    let out = visitor.visit_map(&mut map)?;
    let left = map.array.len() + map.hash.len();
    if left == 0 {
        Ok(out)
    } else {
        let len = table.array.len() + table.hash.len();
        Err(de::Error::invalid_length(len, &"fewer entries"))
    }
}

/// Visits an error object as `{kind = ..., message = ...}`. Kept out of line: inlined, its
/// locals would grow the frame of `deserialize_any`, which recurses once per table level.
#[cold]
#[inline(never)]
fn visit_error<'de, V: Visitor<'de>>(e: &ErrorValue, visitor: V) -> Result<V::Value, PayloadError> {
    let entries = [
        ("kind", e.kind.as_str().to_owned()),
        ("message", e.full_message()),
    ];
    let mut map = de::value::MapDeserializer::new(entries.into_iter());
    let out = visitor.visit_map(&mut map)?;
    map.end()?;
    Ok(out)
}

/// Integer targets: an integer (or integral float) that fits, else a range error; anything else
/// goes to `deserialize_any`, where the visitor reports the type mismatch.
macro_rules! deserialize_integers {
    ($($method:ident => $visit:ident($ty:ty),)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
            match self.integer() {
                Some(n) => match <$ty>::try_from(n) {
                    Ok(n) => visitor.$visit(n),
                    Err(_) => Err(PayloadError::out_of_range(n, stringify!($ty))),
                },
                None => self.deserialize_any(visitor),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for ValueDe<'_, 'de> {
    type Error = PayloadError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        match self.v {
            Value::Nil => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => match std::str::from_utf8(s) {
                Ok(s) => visitor.visit_borrowed_str(s),
                Err(_) => visitor.visit_borrowed_bytes(s),
            },
            Value::Table(index) => {
                let (table, link) = self.enter(*index)?;
                if table.hash.is_empty() {
                    visit_items(self.p, &table.array, Some(link), visitor)
                } else {
                    visit_entries(self.p, table, link, visitor)
                }
            }
            Value::Error(e) => visit_error(e, visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        match *self.v {
            Value::Bool(b) => visitor.visit_bool(b),
            _ => self.deserialize_any(visitor),
        }
    }

    deserialize_integers! {
        deserialize_i8 => visit_i8(i8),
        deserialize_i16 => visit_i16(i16),
        deserialize_i32 => visit_i32(i32),
        deserialize_i64 => visit_i64(i64),
        deserialize_u8 => visit_u8(u8),
        deserialize_u16 => visit_u16(u16),
        deserialize_u32 => visit_u32(u32),
        deserialize_u64 => visit_u64(u64),
        deserialize_u128 => visit_u128(u128),
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        match self.integer() {
            Some(n) => visitor.visit_i128(n),
            None => self.deserialize_any(visitor),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        match self.number() {
            Some(f) => visitor.visit_f32(f as f32),
            None => self.deserialize_any(visitor),
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        match self.number() {
            Some(f) => visitor.visit_f64(f),
            None => self.deserialize_any(visitor),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        // The char visitor checks that the text is one character.
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        match self.v {
            Value::Str(s) => visitor.visit_borrowed_str(utf8(s)?),
            _ if self.key => self.visit_text(visitor),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        match self.v {
            Value::Str(s) => visitor.visit_borrowed_bytes(s),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        match self.v {
            Value::Nil => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        match self.v {
            Value::Nil => visitor.visit_unit(),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PayloadError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PayloadError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        match self.v {
            Value::Table(index) => {
                let (table, link) = self.enter(*index)?;
                if !table.hash.is_empty() {
                    return Err(de::Error::invalid_type(Unexpected::Map, &visitor));
                }
                visit_items(self.p, &table.array, Some(link), visitor)
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, PayloadError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, PayloadError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        match self.v {
            Value::Table(index) => {
                let (table, link) = self.enter(*index)?;
                visit_entries(self.p, table, link, visitor)
            }
            Value::Error(e) => visit_error(e, visitor),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PayloadError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PayloadError> {
        match self.v {
            Value::Str(_) => visitor.visit_enum(UnitVariant(self)),
            Value::Table(index) => {
                let (table, link) = self.enter(*index)?;
                match (table.array.as_slice(), table.hash.as_slice()) {
                    ([], [(key, value)]) => visitor.visit_enum(TaggedVariant {
                        p: self.p,
                        key,
                        value,
                        link,
                    }),
                    _ => Err(de::Error::invalid_type(Unexpected::Map, &visitor)),
                }
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        match self.v {
            Value::Str(s) => match std::str::from_utf8(s) {
                Ok(s) => visitor.visit_borrowed_str(s),
                Err(_) => visitor.visit_borrowed_bytes(s),
            },
            _ => self.visit_text(visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, PayloadError> {
        // Skipping reads nothing, so an ignored field costs nothing whatever it holds.
        visitor.visit_unit()
    }
}

/// The elements of a table's array part (or of a payload's values).
struct SeqDe<'c, 'de> {
    p: &'de Payload,
    items: std::slice::Iter<'de, Value>,
    /// The table being read; `None` for the values of a payload.
    link: Option<Path<'c>>,
}

impl<'de> SeqAccess<'de> for SeqDe<'_, 'de> {
    type Error = PayloadError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, PayloadError> {
        match self.items.next() {
            Some(v) => seed
                .deserialize(ValueDe::new(self.p, v, self.link.as_ref()))
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// The entries of a table: the array part under keys `1..n`, then the hash part.
struct MapDe<'c, 'de> {
    p: &'de Payload,
    array: std::iter::Enumerate<std::slice::Iter<'de, Value>>,
    hash: std::slice::Iter<'de, (Value, Value)>,
    /// The value of the key just read.
    value: Option<&'de Value>,
    link: Path<'c>,
}

impl<'de> MapAccess<'de> for MapDe<'_, 'de> {
    type Error = PayloadError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, PayloadError> {
        if let Some((i, v)) = self.array.next() {
            self.value = Some(v);
            // A slice index is below isize::MAX, so this cannot wrap.
            return seed.deserialize(IndexKey(i as i64 + 1)).map(Some);
        }
        match self.hash.next() {
            Some((k, v)) => {
                self.value = Some(v);
                let key = ValueDe {
                    key: true,
                    ..ValueDe::new(self.p, k, Some(&self.link))
                };
                seed.deserialize(key).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, PayloadError> {
        let v = self.value.take().ok_or_else(|| {
            PayloadError::Message("a map value was asked for before its key".into())
        })?;
        seed.deserialize(ValueDe::new(self.p, v, Some(&self.link)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.array.len() + self.hash.len())
    }
}

/// The key of an array-part entry read as a map entry: an integer, or its text where a string
/// is wanted.
struct IndexKey(i64);

impl<'de> Deserializer<'de> for IndexKey {
    type Error = PayloadError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        visitor.visit_i64(self.0)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        with_display(self.0, |text| visitor.visit_str(text))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PayloadError> {
        visitor.visit_newtype_struct(self)
    }

    // Integer targets get `visit_i64`, whose serde impls check the range.
    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct enum ignored_any
    }
}

/// An enum written as its variant name (a unit variant).
struct UnitVariant<'c, 'de>(ValueDe<'c, 'de>);

impl<'c, 'de> EnumAccess<'de> for UnitVariant<'c, 'de> {
    type Error = PayloadError;
    type Variant = Self;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self), PayloadError> {
        let name = seed.deserialize(self.0)?;
        Ok((name, self))
    }
}

impl<'de> VariantAccess<'de> for UnitVariant<'_, 'de> {
    type Error = PayloadError;

    fn unit_variant(self) -> Result<(), PayloadError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        _seed: T,
    ) -> Result<T::Value, PayloadError> {
        Err(de::Error::invalid_type(
            Unexpected::UnitVariant,
            &"newtype variant",
        ))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, PayloadError> {
        Err(de::Error::invalid_type(
            Unexpected::UnitVariant,
            &"tuple variant",
        ))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, PayloadError> {
        Err(de::Error::invalid_type(
            Unexpected::UnitVariant,
            &"struct variant",
        ))
    }
}

/// An enum written as the one-key table `{variant = value}`.
struct TaggedVariant<'c, 'de> {
    p: &'de Payload,
    key: &'de Value,
    value: &'de Value,
    /// The one-key table.
    link: Path<'c>,
}

impl<'c, 'de> EnumAccess<'de> for TaggedVariant<'c, 'de> {
    type Error = PayloadError;
    type Variant = Self;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self), PayloadError> {
        let key = ValueDe {
            key: true,
            ..ValueDe::new(self.p, self.key, Some(&self.link))
        };
        let name = seed.deserialize(key)?;
        Ok((name, self))
    }
}

impl<'de> VariantAccess<'de> for TaggedVariant<'_, 'de> {
    type Error = PayloadError;

    fn unit_variant(self) -> Result<(), PayloadError> {
        match self.value {
            Value::Nil => Ok(()),
            other => Err(de::Error::invalid_type(unexpected(other), &"unit variant")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, PayloadError> {
        seed.deserialize(ValueDe::new(self.p, self.value, Some(&self.link)))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, PayloadError> {
        ValueDe::new(self.p, self.value, Some(&self.link)).deserialize_tuple(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PayloadError> {
        ValueDe::new(self.p, self.value, Some(&self.link)).deserialize_struct("", fields, visitor)
    }
}

/// The whole payload, for [`from_payload`] and [`from_args`].
struct Top<'de> {
    p: &'de Payload,
    /// Sequence targets read every value as an element ([`from_args`]).
    spread: bool,
}

impl<'de> Top<'de> {
    /// The value to read from: nil for no values, the value for one, `None` for several (read
    /// as a sequence).
    fn single(&self) -> Option<ValueDe<'static, 'de>> {
        match self.p.values.as_slice() {
            [] => Some(ValueDe::new(self.p, &NIL, None)),
            [v] => Some(ValueDe::new(self.p, v, None)),
            _ => None,
        }
    }

    fn visit_values<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        visit_items(self.p, &self.p.values, None, visitor)
    }

    fn visit_seq_target<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        match self.single() {
            Some(one) if !self.spread => one.deserialize_seq(visitor),
            _ => self.visit_values(visitor),
        }
    }
}

/// Forwards to the single value, or reads several values as a sequence.
macro_rules! top_forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(
            self,
            $($arg: $ty,)*
            visitor: V,
        ) -> Result<V::Value, PayloadError> {
            match self.single() {
                Some(one) => one.$method($($arg,)* visitor),
                None => self.visit_values(visitor),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for Top<'de> {
    type Error = PayloadError;

    top_forward! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        match self.single() {
            Some(one) => one.deserialize_option(visitor),
            None => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PayloadError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PayloadError> {
        self.visit_seq_target(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, PayloadError> {
        self.visit_seq_target(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, PayloadError> {
        self.visit_seq_target(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, PayloadError> {
        visitor.visit_unit()
    }
}

// ---------------------------------------------------------------------------------------------
// Pids

/// A pid's printed form, given its host's name.
struct PrintedPid<'a> {
    /// The node's name, in a cluster (`{node@host|…}`).
    node: Option<&'a str>,
    host: &'a str,
    num: u64,
}

impl fmt::Display for PrintedPid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node {
            None => write_pid(f, self.host, self.num),
            Some(node) => write_remote_pid(f, node, self.host, self.num),
        }
    }
}

/// A pid is its printed form, `{app:processes|0x00004}`, as Lua sees it. Printing needs the
/// calling thread's node ([`with_current`]).
impl Serialize for Pid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Printed first, so the serializer runs after the current node is released.
        let text = print_pid(*self).map_err(ser::Error::custom)?;
        serializer.serialize_str(text.as_str())
    }
}

fn print_pid(pid: Pid) -> Result<Text, PayloadError> {
    with_current(|node| {
        let node = node.ok_or(PayloadError::NoNode)?;
        let host = node.try_host_name(pid.host).ok_or_else(|| {
            PayloadError::InvalidPid(format!("host #{} is not a host of this node", pid.host.0))
        })?;
        // In a cluster every pid carries its node's name, so it means the same process on
        // whichever node decodes it.
        let name = match pid.node {
            0 => node.peers.own_name(),
            n => Some(node.peers.name(n).ok_or_else(|| {
                PayloadError::InvalidPid(format!("node #{n} is not known to this node"))
            })?),
        };
        Ok(Text::of(PrintedPid {
            node: name,
            host,
            num: pid.num,
        }))
    })
}

/// Parses a pid's printed form. Parsing needs the calling thread's node ([`with_current`]).
impl<'de> Deserialize<'de> for Pid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Pid, D::Error> {
        deserializer.deserialize_str(PidVisitor)
    }
}

struct PidVisitor;

impl Visitor<'_> for PidVisitor {
    type Value = Pid;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a pid such as {app:processes|0x00004}")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Pid, E> {
        parse_pid(text).map_err(E::custom)
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Pid, E> {
        match std::str::from_utf8(bytes) {
            Ok(text) => self.visit_str(text),
            Err(_) => Err(E::invalid_value(Unexpected::Bytes(bytes), &self)),
        }
    }
}

fn parse_pid(text: &str) -> Result<Pid, PayloadError> {
    with_current(|node| {
        let node = node.ok_or(PayloadError::NoNode)?;
        node.parse_pid(text).map_err(|e| {
            PayloadError::InvalidPid(match e {
                PidError::Malformed => format!("`{text}` is not a pid"),
                PidError::UnknownHost => format!("`{text}` names no host of this node"),
            })
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Text on the stack

/// Formats `value` on the stack and hands the text to `f`: number keys and pids become text
/// on hot paths, where a `String` each would cost an allocation.
fn with_display<R>(value: impl fmt::Display, f: impl FnOnce(&str) -> R) -> R {
    f(Text::of(value).as_str())
}

/// Formatted text: on the stack when short, as most is (numbers, pids), else on the heap.
enum Text {
    Stack(FixedWriter<64>),
    Heap(String),
}

impl Text {
    fn of(value: impl fmt::Display) -> Text {
        let mut buf = FixedWriter::new();
        match fmt::write(&mut buf, format_args!("{value}")) {
            Ok(()) => Text::Stack(buf),
            Err(_) => Text::Heap(value.to_string()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Only whole `str`s and chars are written to the buffer, so it is always UTF-8.
            Text::Stack(buf) => std::str::from_utf8(buf.as_bytes()).unwrap_or_default(),
            Text::Heap(s) => s,
        }
    }
}
