//! Process identifiers.
//!
//! A [`Pid`] is a host index plus a node-wide counter. Its printed form is part of the user
//! contract (SPEC §5): `{app:processes|0x00004}`: the host entry id, a bar, and `0x` followed by
//! the counter in lowercase hex padded to at least five digits. Clustered nodes print
//! `{node@host|0x…}` (their own pids too); `node` indexes the node table
//! ([`crate::peers`]), `0` being this node.

use std::fmt;

/// Index of a host in its node's host table.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct HostId(pub u32);

/// A process identifier, unique within a node for the node's lifetime.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Pid {
    /// Node the process lives on: `0` is this node, others index its node table
    /// ([`crate::peers`]).
    pub node: u32,
    /// Host the process was spawned on.
    pub host: HostId,
    /// Node-wide sequence number, starting at 1.
    pub num: u64,
}

impl Pid {
    /// A pid on the local node.
    pub const fn local(host: HostId, num: u64) -> Pid {
        Pid { node: 0, host, num }
    }
}

/// Writes the user-facing form of a pid given its host's entry id.
pub fn write_pid(out: &mut impl fmt::Write, host_name: &str, num: u64) -> fmt::Result {
    out.write_char('{')?;
    out.write_str(host_name)?;
    out.write_str("|0x")?;
    write_hex(out, num)?;
    out.write_char('}')
}

/// Writes the form of a pid with its node's name: `{node@host|0x…}`.
pub fn write_remote_pid(
    out: &mut impl fmt::Write,
    node: &str,
    host_name: &str,
    num: u64,
) -> fmt::Result {
    out.write_char('{')?;
    out.write_str(node)?;
    out.write_char('@')?;
    out.write_str(host_name)?;
    out.write_str("|0x")?;
    write_hex(out, num)?;
    out.write_char('}')
}

/// Bytes [`write_pid`] (no node) or [`write_remote_pid`] (a node) writes.
pub fn printed_len(node: Option<&str>, host_name: &str, num: u64) -> usize {
    let digits = (64 - num.leading_zeros() as usize).div_ceil(4).max(5);
    node.map_or(0, |n| n.len() + 1) + host_name.len() + "{|0x}".len() + digits
}

/// Writes `num` in lowercase hex, at least five digits (this sits on the message hot path,
/// where `format!` costs several times more, and a UTF-8 check of the digits more than the
/// digits themselves).
fn write_hex(out: &mut impl fmt::Write, num: u64) -> fmt::Result {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digits = (64 - num.leading_zeros()).div_ceil(4).max(5);
    for i in (0..digits).rev() {
        out.write_char(char::from(DIGITS[((num >> (4 * i)) & 0xf) as usize]))?;
    }
    Ok(())
}

/// The parts of a printed pid, before the host name is resolved.
#[derive(Debug, PartialEq, Eq)]
pub struct PidText<'a> {
    /// Node name when the pid carries one (`{node@host|…}`).
    pub node: Option<&'a str>,
    /// Host entry id.
    pub host: &'a str,
    /// Counter value.
    pub num: u64,
}

/// Splits `{host|0xNNNNN}` (or `{node@host|0x…}`) into its parts; `None` if it is not a pid.
pub fn parse_pid_text(s: &str) -> Option<PidText<'_>> {
    let inner = s.strip_prefix('{')?.strip_suffix('}')?;
    let (left, hex) = inner.rsplit_once('|')?;
    let hex = hex.strip_prefix("0x")?;
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let num = u64::from_str_radix(hex, 16).ok()?;
    let (node, host) = match left.split_once('@') {
        Some((node, host)) => (Some(node), host),
        None => (None, left),
    };
    if host.is_empty() || node.is_some_and(str::is_empty) {
        return None;
    }
    Some(PidText { node, host, num })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_length_is_exact() {
        for num in [0, 1, 0xfffff, 0x100000, 0xabcdef1, u64::MAX] {
            let mut s = String::new();
            write_pid(&mut s, "app:processes", num).expect("write to string");
            assert_eq!(printed_len(None, "app:processes", num), s.len(), "{s}");
            s.clear();
            write_remote_pid(&mut s, "n1", "h", num).expect("write to string");
            assert_eq!(printed_len(Some("n1"), "h", num), s.len(), "{s}");
        }
    }

    #[test]
    fn prints_padded_lowercase_hex() {
        let mut s = String::new();
        write_pid(&mut s, "app:processes", 4).expect("write to string");
        assert_eq!(s, "{app:processes|0x00004}");
        s.clear();
        write_pid(&mut s, "h:x", 0xabcdef1).expect("write to string");
        assert_eq!(s, "{h:x|0xabcdef1}");
        s.clear();
        write_pid(&mut s, "h", u64::MAX).expect("write to string");
        assert_eq!(s, "{h|0xffffffffffffffff}");
        s.clear();
        write_pid(&mut s, "h", 0).expect("write to string");
        assert_eq!(s, "{h|0x00000}");
    }

    #[test]
    fn parses_printed_form() {
        let p = parse_pid_text("{app:processes|0x00004}").expect("valid pid");
        assert_eq!(
            p,
            PidText {
                node: None,
                host: "app:processes",
                num: 4
            }
        );
        let p = parse_pid_text("{n1@app:p|0x1f}").expect("valid pid");
        assert_eq!(
            p,
            PidText {
                node: Some("n1"),
                host: "app:p",
                num: 31
            }
        );
    }

    #[test]
    fn rejects_non_pids() {
        for s in [
            "relay",
            "{app:p|4}",
            "{|0x1}",
            "{app:p|0x}",
            "app:p|0x1",
            "{app:p|0xzz}",
        ] {
            assert_eq!(parse_pid_text(s), None, "{s}");
        }
    }
}
