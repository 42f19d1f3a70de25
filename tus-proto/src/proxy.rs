//! Trusted proxies: which peers may set the scheme of `Location` through `X-Forwarded-Proto` or `Forwarded`.

use core::net::IpAddr;
use std::fmt;

use http::HeaderMap;

use crate::response::headers;

/// An address block: an IP address and a prefix length (`10.0.0.0/8`, `::1`, `fd00::/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpBlock {
    addr: IpAddr,
    prefix: u8,
}

/// The error of [`IpBlock::parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidIpBlock(pub String);

impl fmt::Display for InvalidIpBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid trusted proxy {:?}: expected an IP address or CIDR block", self.0)
    }
}

impl std::error::Error for InvalidIpBlock {}

impl IpBlock {
    /// Parses `ADDR` or `ADDR/PREFIX`. IPv4-mapped IPv6 blocks (`::ffff:10.0.0.0/104`) are stored as IPv4; an
    /// IPv4-mapped address with a prefix shorter than 96 is refused (`::ffff:10.0.0.0/80` would reach out of the
    /// mapped range, while peers in it are matched as IPv4: such a block would not even contain its own address).
    pub fn parse(text: &str) -> Result<IpBlock, InvalidIpBlock> {
        let invalid = || InvalidIpBlock(text.to_owned());
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| invalid())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| invalid())?
            }
            Some(_) => return Err(invalid()),
        };
        if prefix > max {
            return Err(invalid());
        }
        if let IpAddr::V6(v6) = addr {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return match prefix.checked_sub(96) {
                    Some(prefix) => Ok(IpBlock { addr: IpAddr::V4(v4), prefix }),
                    None => Err(invalid()),
                };
            }
        }
        Ok(IpBlock { addr, prefix })
    }

    /// Whether `ip` is inside this block. IPv4-mapped IPv6 addresses match IPv4 blocks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                same_prefix(u32::from(net).into(), u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => same_prefix(u128::from(net), u128::from(ip), self.prefix, 128),
            _ => false,
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn same_prefix(a: u128, b: u128, prefix: u8, bits: u32) -> bool {
    let host_bits = bits - u32::from(prefix);
    if host_bits >= 128 {
        return true;
    }
    (a >> host_bits) == (b >> host_bits)
}

/// The scheme for `Location`: `https` or `http` as forwarded by a trusted proxy, else `fallback`.
///
/// `X-Forwarded-Proto` is looked at first (first value of a list), then the `proto` parameter of the first element of
/// `Forwarded`. Any value other than `http` or `https` (case-insensitive) is ignored.
pub(crate) fn forwarded_scheme(trusted: &[IpBlock], peer: Option<IpAddr>, headers: &HeaderMap) -> Option<&'static str> {
    let peer = peer?;
    if !trusted.iter().any(|block| block.contains(peer)) {
        return None;
    }
    let x_forwarded = headers
        .get(headers::X_FORWARDED_PROTO)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(known_scheme);
    x_forwarded.or_else(|| {
        let forwarded = headers.get(headers::FORWARDED)?.to_str().ok()?;
        let first_element = forwarded.split(',').next()?;
        first_element.split(';').find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            if !name.trim().eq_ignore_ascii_case("proto") {
                return None;
            }
            known_scheme(value.trim().trim_matches('"'))
        })
    })
}

fn known_scheme(value: &str) -> Option<&'static str> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("https") {
        Some("https")
    } else if value.eq_ignore_ascii_case("http") {
        Some("http")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks() {
        let b = IpBlock::parse("10.0.0.0/8").unwrap();
        assert!(b.contains(ip("10.1.2.3")));
        assert!(b.contains(ip("::ffff:10.1.2.3")));
        assert!(!b.contains(ip("11.0.0.1")));
        assert!(IpBlock::parse("0.0.0.0/0").unwrap().contains(ip("1.2.3.4")));
        assert!(IpBlock::parse("::/0").unwrap().contains(ip("2001:db8::1")));
        assert!(IpBlock::parse("::1").unwrap().contains(ip("::1")));
        assert!(!IpBlock::parse("::1").unwrap().contains(ip("::2")));
        assert!(IpBlock::parse("::ffff:192.168.0.0/112").unwrap().contains(ip("192.168.7.7")));
        assert!(IpBlock::parse("127.0.0.1").unwrap().contains(ip("::ffff:127.0.0.1")));
        // Found by the `forwarded` fuzz target (seed `seed-regression-mapped-short-prefix`): a mapped block with a
        // prefix under 96 was accepted but did not contain its own address.
        for bad in ["::ffff:192.168.0.0/11", "::ffff:0:0/95"] {
            assert!(IpBlock::parse(bad).is_err(), "{bad:?}");
        }
        assert!(IpBlock::parse("::ffff:0:0/96").unwrap().contains(ip("203.0.113.9")));
        assert!(IpBlock::parse("::/0").unwrap().contains(ip("::")));
        for bad in ["", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/+8", "::/129", "example.com", "10.0.0.0/8/8", "1.2.3"] {
            assert!(IpBlock::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn scheme_only_from_trusted_peers_and_only_http_or_https() {
        let trusted = [IpBlock::parse("127.0.0.1").unwrap()];
        let mut h = HeaderMap::new();
        h.insert(headers::X_FORWARDED_PROTO, HeaderValue::from_static("HTTPS, http"));
        assert_eq!(forwarded_scheme(&trusted, Some(ip("127.0.0.1")), &h), Some("https"));
        assert_eq!(forwarded_scheme(&trusted, Some(ip("::ffff:127.0.0.1")), &h), Some("https"));
        assert_eq!(forwarded_scheme(&trusted, Some(ip("127.0.0.2")), &h), None);
        assert_eq!(forwarded_scheme(&trusted, None, &h), None);
        h.insert(headers::X_FORWARDED_PROTO, HeaderValue::from_static("gopher"));
        assert_eq!(forwarded_scheme(&trusted, Some(ip("127.0.0.1")), &h), None);
        h.insert(headers::FORWARDED, HeaderValue::from_static("for=1.2.3.4;Proto=\"https\", proto=http"));
        assert_eq!(forwarded_scheme(&trusted, Some(ip("127.0.0.1")), &h), Some("https"));
    }
}
