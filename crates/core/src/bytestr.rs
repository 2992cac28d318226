//! [`ByteStr`]: the byte string inside a [`crate::Value`], kept in place when short, and
//! [`ShortStr`], its UTF-8 twin for message topics.
//!
//! Most strings a message carries are short (keys, words, printed pids), and a message that
//! crosses workers is written on one core and read and freed on another: every separate
//! allocation it holds is a cold cache line for the receiver and a cross-thread free for the
//! allocator (BENCHMARKS.md, "Where Starling is slow"). Strings of up to [`INLINE`] bytes
//! therefore live inside the value itself; longer ones in one boxed slice.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Longest string kept in place: with the length byte and the variant's tag it fills the same
/// 32 bytes a [`crate::Value`] takes anyway.
pub const INLINE: usize = 30;

/// An owned byte string (Lua strings are binary-safe): in place up to [`INLINE`] bytes,
/// else on the heap. Reads as a `[u8]`.
#[derive(Clone)]
pub struct ByteStr(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl ByteStr {
    /// The empty string.
    pub const fn new() -> ByteStr {
        ByteStr(Repr::Inline {
            len: 0,
            buf: [0; INLINE],
        })
    }

    /// A copy of `bytes`.
    pub fn copy_from(bytes: &[u8]) -> ByteStr {
        let len = bytes.len();
        if len > INLINE {
            return ByteStr(Repr::Heap(bytes.into()));
        }
        let mut buf = [0; INLINE];
        buf[..len].copy_from_slice(bytes);
        ByteStr(Repr::Inline {
            len: len as u8,
            buf,
        })
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..*len as usize],
            Repr::Heap(b) => b,
        }
    }

    /// The bytes, to change in place (the length stays).
    pub fn as_mut_bytes(&mut self) -> &mut [u8] {
        match &mut self.0 {
            Repr::Inline { len, buf } => &mut buf[..*len as usize],
            Repr::Heap(b) => b,
        }
    }

    /// Bytes held outside the value itself (for memory limits): 0 when in place.
    pub fn heap_len(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Heap(b) => b.len(),
        }
    }

    /// The bytes as an owned vector.
    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Repr::Inline { .. } => self.as_bytes().to_vec(),
            Repr::Heap(b) => b.into_vec(),
        }
    }
}

impl Default for ByteStr {
    fn default() -> ByteStr {
        ByteStr::new()
    }
}

impl Deref for ByteStr {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for ByteStr {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for ByteStr {
    fn eq(&self, other: &ByteStr) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for ByteStr {}

impl PartialEq<[u8]> for ByteStr {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_bytes() == other
    }
}

impl Hash for ByteStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl fmt::Debug for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self.as_bytes()) {
            Ok(s) => fmt::Debug::fmt(s, f),
            Err(_) => fmt::Debug::fmt(self.as_bytes(), f),
        }
    }
}

impl From<&[u8]> for ByteStr {
    fn from(b: &[u8]) -> ByteStr {
        ByteStr::copy_from(b)
    }
}

impl From<&str> for ByteStr {
    fn from(s: &str) -> ByteStr {
        ByteStr::copy_from(s.as_bytes())
    }
}

impl From<Box<[u8]>> for ByteStr {
    fn from(b: Box<[u8]>) -> ByteStr {
        if b.len() <= INLINE {
            ByteStr::copy_from(&b)
        } else {
            ByteStr(Repr::Heap(b))
        }
    }
}

impl From<Vec<u8>> for ByteStr {
    fn from(v: Vec<u8>) -> ByteStr {
        if v.len() <= INLINE {
            ByteStr::copy_from(&v)
        } else {
            ByteStr(Repr::Heap(v.into_boxed_slice()))
        }
    }
}

impl From<String> for ByteStr {
    fn from(s: String) -> ByteStr {
        ByteStr::from(s.into_bytes())
    }
}

/// Text formatted into a fixed buffer of `N` bytes: [`fmt::Write`] fails once the text would
/// pass `N`, so a caller that expects short text (a number, a printed pid) formats without
/// an allocation and falls back to a `String` only when it does not fit.
pub(crate) struct FixedWriter<const N: usize> {
    len: usize,
    buf: [u8; N],
}

impl<const N: usize> FixedWriter<N> {
    /// An empty buffer.
    pub(crate) fn new() -> Self {
        FixedWriter {
            len: 0,
            buf: [0; N],
        }
    }

    /// The text written so far (UTF-8: only whole `str`s and chars are written).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl FixedWriter<INLINE> {
    /// The text written so far, as a [`ByteStr`] kept in place.
    pub(crate) fn finish(self) -> ByteStr {
        ByteStr(Repr::Inline {
            len: self.len as u8,
            buf: self.buf,
        })
    }
}

impl<const N: usize> fmt::Write for FixedWriter<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }

    fn write_char(&mut self, c: char) -> fmt::Result {
        // One byte at a time for ASCII (a pid's digits), without encoding it first.
        match (u8::try_from(c), self.buf.get_mut(self.len)) {
            (Ok(b), Some(slot)) if b.is_ascii() => {
                *slot = b;
                self.len += 1;
                Ok(())
            }
            _ => self.write_str(c.encode_utf8(&mut [0; 4])),
        }
    }
}

/// A UTF-8 string kept in place up to [`INLINE`] bytes (a message's topic). Reads as a `str`.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct ShortStr(ByteStr);

impl ShortStr {
    /// A copy of `bytes` when they are UTF-8 (ASCII, the usual case for a topic, is checked
    /// first: it is cheaper than a UTF-8 check).
    pub fn from_utf8(bytes: &[u8]) -> Option<ShortStr> {
        (bytes.is_ascii() || std::str::from_utf8(bytes).is_ok())
            .then(|| ShortStr(ByteStr::copy_from(bytes)))
    }

    /// The text (checked as UTF-8 on each call; [`ShortStr::as_bytes`] and
    /// [`ShortStr::len`] are not).
    pub fn as_str(&self) -> &str {
        // Built only from `str`, so this never falls back.
        std::str::from_utf8(self.0.as_bytes()).unwrap_or_default()
    }

    /// The text's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Deref for ShortStr {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for ShortStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for ShortStr {
    fn eq(&self, other: &str) -> bool {
        self.0.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for ShortStr {
    fn eq(&self, other: &&str) -> bool {
        self.0.as_bytes() == other.as_bytes()
    }
}

impl fmt::Debug for ShortStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ShortStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for ShortStr {
    fn from(s: &str) -> ShortStr {
        ShortStr(ByteStr::from(s))
    }
}

impl From<String> for ShortStr {
    fn from(s: String) -> ShortStr {
        ShortStr(ByteStr::from(s))
    }
}

impl From<Box<str>> for ShortStr {
    fn from(s: Box<str>) -> ShortStr {
        ShortStr(ByteStr::from(s.into_boxed_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_stay_in_place_and_long_ones_go_to_the_heap() {
        for len in [0, 1, 11, INLINE - 1, INLINE, INLINE + 1, 100] {
            let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
            for s in [
                ByteStr::copy_from(&bytes),
                ByteStr::from(bytes.clone()),
                ByteStr::from(bytes.clone().into_boxed_slice()),
            ] {
                assert_eq!(s.as_bytes(), &bytes[..], "len {len}");
                assert_eq!(s.len(), len);
                let heap = if len <= INLINE { 0 } else { len };
                assert_eq!(s.heap_len(), heap, "len {len}");
                assert_eq!(s.clone().into_vec(), bytes);
                let mut m = s.clone();
                m.as_mut_bytes()
                    .iter_mut()
                    .for_each(|b| *b = b.wrapping_add(1));
                let plus: Vec<u8> = bytes.iter().map(|b| b.wrapping_add(1)).collect();
                assert_eq!(m.as_bytes(), &plus[..], "changed in place, len {len}");
            }
        }
    }

    #[test]
    fn equality_and_hash_go_by_the_bytes() {
        use std::collections::hash_map::DefaultHasher;
        let long = "x".repeat(INLINE + 5);
        let a = ByteStr::from(long.as_str());
        let b = ByteStr::from(long.clone().into_bytes());
        assert_eq!(a, b);
        let h = |s: &ByteStr| {
            let mut d = DefaultHasher::new();
            s.hash(&mut d);
            d.finish()
        };
        assert_eq!(h(&a), h(&b));
        assert_ne!(ByteStr::from("a"), ByteStr::from("b"));
        assert_eq!(format!("{:?}", ByteStr::from("hi")), "\"hi\"");
    }

    #[test]
    fn short_strs_read_back_as_text() {
        let long = "topic/".repeat(10);
        for t in ["", "echo", "echo_response", long.as_str()] {
            let s = ShortStr::from(t);
            assert_eq!(&*s, t);
            assert_eq!(s, t);
            assert_eq!(s.to_string(), t);
            assert_eq!(ShortStr::from(t.to_string()), s);
            assert_eq!(ShortStr::from(Box::<str>::from(t)), s);
            assert_eq!(ShortStr::from_utf8(t.as_bytes()), Some(s));
        }
    }

    #[test]
    fn fixed_writer_formats_up_to_its_size() {
        use std::fmt::Write;
        let mut w = FixedWriter::<INLINE>::new();
        write!(w, "{{app|0x{:05x}}}", 31).expect("fits");
        w.write_char('\u{e9}').expect("fits");
        assert_eq!(w.finish().as_bytes(), "{app|0x0001f}\u{e9}".as_bytes());
        let mut w = FixedWriter::<INLINE>::new();
        assert!(w.write_str(&"x".repeat(INLINE)).is_ok());
        assert!(w.write_char('y').is_err());
        assert!(w.write_char('\u{e9}').is_err());
        assert_eq!(w.finish().as_bytes(), "x".repeat(INLINE).as_bytes());
    }

    #[test]
    fn short_strs_from_bytes_take_utf8_only() {
        let text = "h\u{e9}llo \u{1f426}";
        assert_eq!(ShortStr::from_utf8(text.as_bytes()).as_deref(), Some(text));
        assert_eq!(ShortStr::from_utf8(b"ab\xffcd"), None);
        assert_eq!(ShortStr::from_utf8(b"\xc3"), None);
    }

    #[test]
    fn a_value_stays_32_bytes() {
        assert!(std::mem::size_of::<crate::Value>() <= 32);
    }
}
