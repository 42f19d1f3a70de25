//! Strict parsers for TUS header values. Each is total: any input gives a value or a refusal, never a panic.

#[cfg(feature = "testing")]
use core::net::IpAddr;

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

#[cfg(feature = "testing")]
use crate::IpBlock;

/// Parses a non-negative integer header value: ASCII digits only (no sign, no spaces, no `_`), at most 19 digits
/// and at most `i64::MAX` (the largest file offset). Leading zeros are allowed.
///
/// ```
/// use tus_proto::parse::integer;
/// assert_eq!(integer(b"1024"), Some(1024));
/// assert_eq!(integer(b"+5"), None);
/// assert_eq!(integer(b"1_000"), None);
/// assert_eq!(integer(b"9223372036854775808"), None);
/// ```
pub fn integer(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in value {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    (n <= i64::MAX as u64).then_some(n)
}

/// Whether a `Tus-Resumable` value names the version this crate speaks: exactly `1.0.0`.
pub fn is_supported_version(value: &[u8]) -> bool {
    value == crate::TUS_VERSION.as_bytes()
}

/// Whether a `Content-Type` value is `application/offset+octet-stream` (case-insensitive; parameters ignored).
pub fn is_offset_octet_stream(value: &[u8]) -> bool {
    let media_type = value.split(|&b| b == b';').next().unwrap_or_default();
    media_type.trim_ascii().eq_ignore_ascii_case(b"application/offset+octet-stream")
}

#[cfg(feature = "testing")]
/// The scheme that `X-Forwarded-Proto` or `Forwarded: proto=` set for `Location`: `Some("https")` or
/// `Some("http")` when `peer` is inside one of the `trusted` blocks and forwarded one of those two schemes
/// (case-insensitive), otherwise `None`. `X-Forwarded-Proto` (its first list element) wins over `Forwarded` (the
/// `proto` parameter of its first element).
///
/// This is the rule [`Server`](crate::Server) applies with its configured trusted proxies, exposed so that it can
/// be tested and fuzzed on its own.
///
/// ```
/// use http::{HeaderMap, HeaderValue};
/// use tus_proto::{parse::forwarded_scheme, IpBlock};
/// let trusted = [IpBlock::parse("10.0.0.0/8").unwrap()];
/// let mut headers = HeaderMap::new();
/// headers.insert("x-forwarded-proto", HeaderValue::from_static("HTTPS"));
/// assert_eq!(forwarded_scheme(&trusted, Some("10.1.2.3".parse().unwrap()), &headers), Some("https"));
/// assert_eq!(forwarded_scheme(&trusted, Some("192.0.2.1".parse().unwrap()), &headers), None);
/// ```
pub fn forwarded_scheme(trusted: &[IpBlock], peer: Option<IpAddr>, headers: &HeaderMap) -> Option<&'static str> {
    crate::proxy::forwarded_scheme(trusted, peer, headers)
}

/// How a header that must appear at most once was found.
pub(crate) enum Single<'h> {
    Absent,
    Present(&'h HeaderValue),
    Repeated,
}

pub(crate) fn single<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Single<'h> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Single::Absent,
        (Some(v), None) => Single::Present(v),
        (Some(_), Some(_)) => Single::Repeated,
    }
}

/// A header that must appear at most once, as an integer: `Ok(None)` if absent, `Err(reason)` if repeated or
/// not a valid integer.
pub(crate) fn integer_header(headers: &HeaderMap, name: &HeaderName, label: &str) -> Result<Option<u64>, String> {
    match single(headers, name) {
        Single::Absent => Ok(None),
        Single::Repeated => Err(format!("{label} appears more than once")),
        Single::Present(v) => integer(v.as_bytes())
            .map(Some)
            .ok_or_else(|| format!("{label} must be a non-negative integer of ASCII digits")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn integers() {
        assert_eq!(integer(b"0"), Some(0));
        assert_eq!(integer(b"007"), Some(7));
        assert_eq!(integer(b"9223372036854775807"), Some(i64::MAX as u64));
        for bad in [&b""[..], b"-1", b"+1", b" 1", b"1 ", b"1_0", b"0x10", b"1e3", b"\xd9\xa3", b"99999999999999999999"]
        {
            assert_eq!(integer(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn content_types() {
        assert!(is_offset_octet_stream(b"application/offset+octet-stream"));
        assert!(is_offset_octet_stream(b"Application/Offset+Octet-Stream; charset=x"));
        assert!(!is_offset_octet_stream(b"application/octet-stream"));
        assert!(!is_offset_octet_stream(b"text/plain"));
        assert!(!is_offset_octet_stream(b""));
    }

    proptest! {
        #[test]
        fn integer_agrees_with_decimal_formatting(n in 0..=i64::MAX as u64) {
            prop_assert_eq!(integer(n.to_string().as_bytes()), Some(n));
        }

        #[test]
        fn integer_accepts_only_digits(s in proptest::collection::vec(any::<u8>(), 0..24)) {
            if let Some(n) = integer(&s) {
                prop_assert!(s.iter().all(u8::is_ascii_digit));
                prop_assert_eq!(n, std::str::from_utf8(&s).unwrap().parse::<u64>().unwrap());
            }
        }

        #[test]
        fn content_type_never_panics(s in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = is_offset_octet_stream(&s);
        }
    }
}
