//! Header-value parsers: integers (`Upload-Length`, `Upload-Offset`, `Content-Length`), `Tus-Resumable`,
//! `Content-Type`, upload ids (the last path segment), `Upload-Metadata`, trusted-proxy blocks and the forwarded
//! scheme (`X-Forwarded-Proto` / `Forwarded`).

use std::net::IpAddr;

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
use tus_proto::parse::{forwarded_scheme, integer, is_offset_octet_stream, is_supported_version};
use tus_proto::{is_kept_key, IpBlock, Metadata, UploadId};

use crate::check;

/// The integer rule as documented, written independently: 1 to 19 ASCII digits, at most `i64::MAX`.
#[allow(clippy::manual_is_ascii_check)] // written unlike the implementation on purpose
pub fn integer_oracle(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 19 || !value.iter().all(|b| (b'0'..=b'9').contains(b)) {
        return None;
    }
    let n: u128 = std::str::from_utf8(value).ok()?.parse().ok()?;
    u64::try_from(n).ok().filter(|&n| n <= i64::MAX as u64)
}

/// The media-type rule as documented, written independently: the part before the first `;`, without surrounding
/// ASCII white space, is `application/offset+octet-stream` in any case.
#[allow(clippy::manual_ignore_case_cmp)] // written unlike the implementation on purpose
pub fn content_type_oracle(value: &[u8]) -> bool {
    let media = value.split(|&b| b == b';').next().unwrap_or_default();
    let start = media.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(media.len());
    let end = media.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |i| i + 1);
    media[start..end].to_ascii_lowercase() == b"application/offset+octet-stream"
}

/// The canonical-UUID rule, written independently.
pub fn upload_id_oracle(text: &[u8]) -> bool {
    text.len() == 36
        && text.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => matches!(b, b'0'..=b'9' | b'a'..=b'f'),
        })
}

/// `header_values` target: every scalar parser on the same bytes.
pub fn check_scalars(value: &[u8]) -> Result<(), String> {
    let n = integer(value);
    check!(n == integer_oracle(value), "integer({value:?}) = {n:?}, expected {:?}", integer_oracle(value));

    let supported = is_supported_version(value);
    check!(supported == (value == b"1.0.0"), "is_supported_version({value:?}) = {supported}");

    let octets = is_offset_octet_stream(value);
    check!(octets == content_type_oracle(value), "is_offset_octet_stream({value:?}) = {octets}");
    // Parameters never matter.
    let mut with_parameter = value.to_vec();
    with_parameter.extend_from_slice(b"; charset=x");
    check!(is_offset_octet_stream(&with_parameter) == octets, "a parameter changed the Content-Type verdict");

    if let Ok(text) = std::str::from_utf8(value) {
        match text.parse::<UploadId>() {
            Ok(id) => {
                check!(upload_id_oracle(value), "UploadId accepted the non-canonical {text:?}");
                check!(id.to_string() == text, "UploadId {text:?} formats as {id}");
            }
            Err(_) => check!(!upload_id_oracle(value), "UploadId refused the canonical {text:?}"),
        }
    }

    // As an `http` header value, the parsers see the same bytes.
    if let Ok(header) = HeaderValue::from_bytes(value) {
        check!(integer(header.as_bytes()) == n, "integer differs through HeaderValue");
    }
    Ok(())
}

/// `metadata` target. Input starting with `\x01`: key/value pairs separated by `\xff` (structured mode: build,
/// format, parse back); otherwise the whole input is an `Upload-Metadata` value (parse; if it parses, format and
/// parse again).
pub fn check_metadata(data: &[u8]) -> Result<(), String> {
    if let Some(rest) = data.strip_prefix(b"\x01") {
        let fields: Vec<String> = crate::split_bytes(rest, b"\xff").iter().map(|f| lossy(f)).collect();
        let built: Metadata = fields
            .chunks(2)
            .filter(|kv| is_kept_key(&kv[0]))
            .map(|kv| (kv[0].clone(), kv.get(1).cloned().unwrap_or_default()))
            .collect();
        return check_formatted(&built);
    }
    let Ok(text) = std::str::from_utf8(data) else { return Ok(()) };
    match Metadata::parse(text) {
        Ok(metadata) => {
            for (key, _) in metadata.iter() {
                check!(is_kept_key(key), "kept the key {key:?}");
                check!(text.contains(key), "key {key:?} is not in the header {text:?}");
            }
            check!(metadata.len() <= text.split(',').count(), "more pairs than the header has");
            check_formatted(&metadata)
        }
        Err(error) => {
            check!(!error.to_string().is_empty(), "a refusal without a reason");
            Ok(())
        }
    }
}

/// Formatting gives a valid header value that parses back to the same metadata, and formats the same again.
fn check_formatted(metadata: &Metadata) -> Result<(), String> {
    let formatted = metadata.to_header_value();
    check!(HeaderValue::from_str(&formatted).is_ok(), "formatted metadata {formatted:?} is not a header value");
    check!(!formatted.contains("  ") && !formatted.starts_with(' '), "stray spaces in {formatted:?}");
    let again = Metadata::parse(&formatted).map_err(|e| format!("formatted {formatted:?} does not parse: {e}"))?;
    check!(&again == metadata, "{metadata:?} -> {formatted:?} -> {again:?}");
    check!(again.to_header_value() == formatted, "formatting is not stable for {formatted:?}");
    Ok(())
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What the `forwarded` target reads: lines `trusted BLOCK`, `peer IP`, `xfp VALUE`, `fwd VALUE` (any bytes).
#[derive(Debug, Default)]
pub struct ForwardedInput {
    pub trusted: Vec<String>,
    pub peer: Option<IpAddr>,
    pub x_forwarded_proto: Vec<Vec<u8>>,
    pub forwarded: Vec<Vec<u8>>,
}

impl ForwardedInput {
    pub fn parse(data: &[u8]) -> ForwardedInput {
        let mut input = ForwardedInput::default();
        for line in data.split(|&b| b == b'\n') {
            let (word, rest) = match line.iter().position(|&b| b == b' ') {
                Some(at) => (&line[..at], &line[at + 1..]),
                None => (line, &b""[..]),
            };
            match word {
                b"trusted" => input.trusted.push(lossy(rest)),
                b"peer" => input.peer = std::str::from_utf8(rest).ok().and_then(|p| p.parse().ok()),
                b"xfp" => input.x_forwarded_proto.push(rest.to_vec()),
                b"fwd" => input.forwarded.push(rest.to_vec()),
                _ => {}
            }
        }
        input
    }
}

/// Whether `IpBlock::parse` should accept `text`, written independently from its documentation.
pub fn ip_block_oracle(text: &str) -> Option<(IpAddr, u32)> {
    let (addr, prefix) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) if (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
        Some(_) => return None,
    };
    // An IPv4-mapped address is only a block with a prefix of at least 96 (the mapped range).
    let mapped = matches!(addr, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some());
    (prefix <= max && (!mapped || prefix >= 96)).then_some((addr, prefix))
}

/// `forwarded` target: trusted-proxy blocks and the forwarded scheme.
pub fn check_forwarded(input: &ForwardedInput) -> Result<(), String> {
    let mut blocks = Vec::new();
    for text in &input.trusted {
        let parsed = IpBlock::parse(text);
        match (ip_block_oracle(text), &parsed) {
            (Some((addr, _)), Ok(block)) => {
                check!(block.contains(addr), "block {text:?} does not contain its own address {addr}");
                blocks.push(*block);
            }
            (None, Err(_)) => {}
            (expected, _) => return Err(format!("IpBlock::parse({text:?}) = {parsed:?}, expected {expected:?}")),
        }
    }
    let mut headers = HeaderMap::new();
    append(&mut headers, "x-forwarded-proto", &input.x_forwarded_proto);
    append(&mut headers, "forwarded", &input.forwarded);
    let scheme = forwarded_scheme(&blocks, input.peer, &headers);
    check!(matches!(scheme, None | Some("http" | "https")), "scheme {scheme:?}");
    let trusted = input.peer.is_some_and(|peer| blocks.iter().any(|b| b.contains(peer)));
    if !trusted {
        check!(scheme.is_none(), "scheme {scheme:?} from an untrusted peer {:?}", input.peer);
        return Ok(());
    }
    let first = |name: &str| headers.get(name).map(|v| v.as_bytes().to_ascii_lowercase());
    if let Some(scheme) = scheme {
        let named = |v: Option<Vec<u8>>| v.is_some_and(|v| v.windows(scheme.len()).any(|w| w == scheme.as_bytes()));
        check!(
            named(first("x-forwarded-proto")) || named(first("forwarded")),
            "scheme {scheme} that the first header values do not name"
        );
    }
    // A first X-Forwarded-Proto element that is exactly a known scheme wins.
    if let Some(xfp) = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) {
        let element = xfp.split(',').next().unwrap_or_default().trim().to_ascii_lowercase();
        if element == "http" || element == "https" {
            check!(scheme == Some(element.as_str()), "X-Forwarded-Proto {xfp:?} gave {scheme:?}");
        }
    }
    // Only the first value and the first element count: adding later ones changes nothing.
    let mut more = headers.clone();
    if headers.contains_key("x-forwarded-proto") {
        more.append("x-forwarded-proto", HeaderValue::from_static("https"));
    }
    if headers.contains_key("forwarded") {
        more.append("forwarded", HeaderValue::from_static("proto=https"));
    }
    if let Some(fwd) = headers.get("forwarded").and_then(|v| v.to_str().ok()) {
        if let Ok(value) = HeaderValue::from_str(&format!("{fwd}, proto=http")) {
            more.insert("forwarded", value);
        }
    }
    let again = forwarded_scheme(&blocks, input.peer, &more);
    check!(again == scheme, "later values changed the scheme from {scheme:?} to {again:?}");
    Ok(())
}

fn append(headers: &mut HeaderMap, name: &'static str, values: &[Vec<u8>]) {
    for value in values {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(HeaderName::from_static(name), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_hold_on_edge_cases() {
        for value in [
            &b""[..],
            b"0",
            b"9223372036854775807",
            b"9223372036854775808",
            b"0000000000000000001",
            b"00000000000000000001",
            b"1.0.0",
            b"1.0.0 ",
            b"application/offset+octet-stream",
            b" APPLICATION/OFFSET+OCTET-STREAM ;x",
            b"application/offset+octet-stream\x0b",
            b"00000000-0000-4000-8000-00000000002a",
            b"00000000-0000-4000-8000-00000000002A",
            b"\xff\xfe",
        ] {
            check_scalars(value).unwrap();
        }
    }

    #[test]
    fn oracles_are_not_vacuous() {
        assert_eq!(integer_oracle(b"42"), Some(42));
        assert_eq!(integer_oracle(b"9223372036854775808"), None);
        assert!(content_type_oracle(b"application/Offset+Octet-Stream; a=b"));
        assert!(!content_type_oracle(b"application/octet-stream"));
        assert!(upload_id_oracle(b"00000000-0000-4000-8000-00000000002a"));
        assert!(!upload_id_oracle(b"00000000-0000-4000-8000-00000000002A"));
        assert_eq!(ip_block_oracle("10.0.0.0/8"), Some(("10.0.0.0".parse().unwrap(), 8)));
        assert_eq!(ip_block_oracle("10.0.0.0/33"), None);
        assert_eq!(ip_block_oracle("::/0128"), None);
        assert_eq!(ip_block_oracle("::ffff:10.0.0.0/95"), None);
        assert!(ip_block_oracle("::ffff:10.0.0.0/96").is_some());
    }

    #[test]
    fn metadata_round_trips() {
        for text in
            ["", " ", "filename d29ybGQucGRm,is_confidential", "a YQ==,b,c Yw==", "x.y YQ==", "a YQ==,a Yg==", "a YQ"]
        {
            check_metadata(text.as_bytes()).unwrap();
        }
        check_metadata(b"\x01filename\xffr\xc3\xa9sum\xc3\xa9.pdf\xffbad key\xffv\xffempty").unwrap();
    }

    #[test]
    fn formatted_metadata_check_can_fail() {
        // Metadata that cannot come from parsing (a key that is never kept) does not survive the round trip.
        let odd = Metadata::from_iter([("bad key", "v")]);
        assert!(check_formatted(&odd).is_err());
    }

    #[test]
    fn forwarded_rules() {
        let input =
            ForwardedInput::parse(b"trusted 10.0.0.0/8\ntrusted ::1\npeer 10.9.8.7\nxfp HTTPS, http\nfwd proto=http");
        assert_eq!(input.trusted.len(), 2);
        assert_eq!(input.peer, Some("10.9.8.7".parse().unwrap()));
        check_forwarded(&input).unwrap();
        check_forwarded(&ForwardedInput::parse(b"trusted 0.0.0.0/0\npeer ::ffff:1.2.3.4\nfwd for=x;Proto=\"https\""))
            .unwrap();
        check_forwarded(&ForwardedInput::parse(b"trusted 10.0.0.0/8\npeer 11.0.0.1\nxfp https")).unwrap();
        check_forwarded(&ForwardedInput::parse(b"trusted ::ffff:10.0.0.0/104\ntrusted 1.2.3.4/33\npeer 10.1.1.1"))
            .unwrap();
    }

    /// Regression (seed `seed-regression-mapped-short-prefix`): `IpBlock::parse` accepted an IPv4-mapped address
    /// with a prefix under 96, a block that did not contain its own address.
    #[test]
    fn mapped_block_with_short_prefix() {
        check_forwarded(&ForwardedInput::parse(b"trusted ::ffff:192.168.0.0/11\npeer ::ffff:192.168.0.0")).unwrap();
    }
}
