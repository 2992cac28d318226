//! `real_ip`: the client address from proxy headers, when the peer is a trusted proxy.
//!
//! Options: `real_ip.trusted.subnets` (CIDRs; default the loopback and private ranges),
//! `real_ip.trust_all` (false). Header priority: `True-Client-IP`, `X-Real-IP`, then
//! `X-Forwarded-For`, read from the right, skipping trusted hops. The handler then sees the
//! address alone, without a port.

use std::net::IpAddr;

use crate::error::HttpError;
use crate::middleware::{Opts, ReqCtx};

const PRIVATE: &str = "127.0.0.0/8,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,::1/128,fc00::/7";

#[derive(Debug, Clone, Copy)]
struct Net {
    addr: IpAddr,
    bits: u8,
}

impl Net {
    fn parse(s: &str) -> Option<Net> {
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (
                a.trim().parse::<IpAddr>().ok()?,
                b.trim().parse::<u8>().ok()?,
            ),
            None => {
                let a = s.trim().parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (bits <= max).then_some(Net { addr, bits })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.bits)
                };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.bits)
                };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

#[derive(Debug)]
pub(crate) struct RealIp {
    trusted: Vec<Net>,
    trust_all: bool,
}

impl RealIp {
    pub(crate) fn new(o: &Opts<'_>) -> Result<RealIp, HttpError> {
        let mut trusted = Vec::new();
        for item in o.list("trusted.subnets", PRIVATE) {
            trusted.push(
                Net::parse(&item)
                    .ok_or_else(|| o.error("trusted.subnets", format!("invalid CIDR {item:?}")))?,
            );
        }
        Ok(RealIp {
            trusted,
            trust_all: o.bool("trust_all", false)?,
        })
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.trust_all || self.trusted.iter().any(|n| n.contains(ip))
    }

    pub(crate) fn before(&self, ctx: &mut ReqCtx) {
        if !self.trusts(ctx.peer.ip()) {
            return;
        }
        let header = |name: &str| {
            ctx.parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<IpAddr>().ok())
        };
        let found = header("true-client-ip")
            .or_else(|| header("x-real-ip"))
            .or_else(|| {
                let hops: Vec<IpAddr> = ctx
                    .parts
                    .headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(|v| v.split(','))
                    .filter_map(|h| h.trim().parse::<IpAddr>().ok())
                    .collect();
                hops.iter()
                    .rev()
                    .find(|ip| !self.trusts(**ip))
                    .or(hops.first())
                    .copied()
            });
        if let Some(ip) = found {
            ctx.remote = crate::middleware::Remote::Forwarded(ip.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets() {
        let n = Net::parse("10.0.0.0/8").expect("cidr");
        assert!(n.contains("10.1.2.3".parse().expect("ip")));
        assert!(!n.contains("11.1.2.3".parse().expect("ip")));
        assert!(n.contains("::ffff:10.0.0.1".parse().expect("mapped")));
        let v6 = Net::parse("fc00::/7").expect("cidr");
        assert!(v6.contains("fd00::1".parse().expect("ip")));
        assert!(Net::parse("10.0.0.0/33").is_none());
        assert!(Net::parse("nope").is_none());
    }
}
