//! Scenarios for the checksum and checksum-trailer extensions, run only when the server advertises them:
//! `Tus-Checksum-Algorithm`, a PATCH whose `Upload-Checksum` matches, one that does not (460), an unknown
//! algorithm (400), and the checksum sent as a trailer of a chunked body.
//!
//! The digests are constants (the DSL has no computed headers); each was computed with
//! `printf '%s' BODY | openssl dgst -sha1 -binary | base64`, and the in-memory run checks them against
//! `tus-proto`'s own sha1.

use super::{create, head_offset_is, patch, CREATION};
use crate::client::Framing;
use crate::context::Ctx;
use crate::scenario::{Expect, Level, Outcome, RequestSpec, Requirement, Scenario, Step, Target};

const EXT: Level = Level::Extension("checksum");
const TRAILER_EXT: Level = Level::Extension("checksum-trailer");

/// The body every checksum scenario sends.
const BODY: &[u8] = b"hello";
/// `sha1 ` and the base64 SHA-1 of `hello` (`printf '%s' hello | openssl dgst -sha1 -binary | base64`;
/// hex aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d).
const SHA1_OF_BODY: &str = "sha1 qvTGHdzF6KLavt4PO0gs2a6pQ00=";
/// `sha1 ` and the base64 SHA-1 of `hellp` (`printf '%s' hellp | openssl dgst -sha1 -binary | base64`): a
/// well-formed digest of the right length that does not match [`BODY`].
const SHA1_OF_OTHER: &str = "sha1 1Lqq16aKN5seEz4P6gYDBRsBJMo=";
/// An algorithm no server offers, with the 20-byte digest of [`BODY`].
const UNKNOWN_ALGORITHM: &str = "x-tus-conformance-unknown qvTGHdzF6KLavt4PO0gs2a6pQ00=";

/// A PATCH of [`BODY`] at 0 with this `Upload-Checksum` header.
fn checksummed(value: &str) -> RequestSpec {
    patch("0", BODY).header("Upload-Checksum", value)
}

/// A PATCH of [`BODY`] at 0, chunked in 2-byte chunks, announcing `Trailer: Upload-Checksum` and sending it with
/// this value after the last chunk.
fn trailered(value: &str) -> RequestSpec {
    let mut spec = patch("0", BODY).header("Trailer", "Upload-Checksum");
    spec.framing = Framing::Chunked { chunk: 2, trailers: vec![("Upload-Checksum".into(), value.as_bytes().to_vec())] };
    spec
}

/// The checksum scenarios.
pub fn scenarios() -> Vec<Scenario> {
    let checksum = Requirement::Extension("checksum");
    let trailer = Requirement::Extension("checksum-trailer");
    vec![
        Scenario::custom(
            "checksum-options-algorithms",
            "OPTIONS lists Tus-Checksum-Algorithm, with sha1, in lower-case names",
            "tus 1.0.0 checksum: \"The Server MUST support at least the SHA1 checksum algorithm identified by \
             sha1\"; Tus-Checksum-Algorithm lists the supported algorithms, whose names \"MUST only consist of \
             ASCII characters with the modification that uppercase characters are excluded\"",
            EXT,
            &[checksum],
            options_algorithms,
        ),
        Scenario::steps(
            "checksum-sha1-match",
            "A PATCH whose Upload-Checksum (sha1) matches its body gets 204 and the offset advances",
            "tus 1.0.0 checksum: once the entire request has been received, \"the Server MUST verify the uploaded \
             chunk against the provided checksum using the specified algorithm\"; when it matches, the PATCH is \
             processed as usual (204, new Upload-Offset)",
            EXT,
            &[CREATION, checksum],
            vec![
                create(10),
                Step::check(checksummed(SHA1_OF_BODY)).status(&[204]).header_eq("Upload-Offset", "5"),
                head_offset_is("5").expect(Expect::Data { at: 0, bytes: BODY.to_vec() }),
            ],
        ),
        Scenario::steps(
            "checksum-mismatch-460",
            "A PATCH whose Upload-Checksum does not match gets 460; the chunk is discarded and the offset unchanged",
            "tus 1.0.0 checksum, PATCH: 460 when the checksums mismatch; the chunk discarded and the offset \
             unchanged (a PATCH at the same offset with the right checksum then succeeds)",
            EXT,
            &[CREATION, checksum],
            vec![
                create(10),
                Step::check(checksummed(SHA1_OF_OTHER)).status(&[460]),
                head_offset_is("0"),
                Step::check(checksummed(SHA1_OF_BODY)).status(&[204]).header_eq("Upload-Offset", "5"),
                head_offset_is("5").expect(Expect::Data { at: 0, bytes: BODY.to_vec() }),
            ],
        ),
        Scenario::steps(
            "checksum-unsupported-400",
            "A PATCH whose Upload-Checksum names an algorithm the server does not support gets 400; offset unchanged",
            "tus 1.0.0 checksum, PATCH: 400 when the algorithm is not supported; the chunk discarded and the \
             offset unchanged",
            EXT,
            &[CREATION, checksum],
            vec![create(10), Step::check(checksummed(UNKNOWN_ALGORITHM)).status(&[400]), head_offset_is("0")],
        ),
        // Wire-only: the in-memory transport hands the protocol core the body but not its trailers.
        Scenario::steps(
            "checksum-trailer-match",
            "A chunked PATCH announcing Trailer: Upload-Checksum, with a matching sha1 trailer, gets 204",
            "tus 1.0.0 checksum-trailer: the checksum sent as a trailer (announced with the Trailer header, in a \
             chunked body, RFC 9112) is checked as the Upload-Checksum header is",
            TRAILER_EXT,
            &[CREATION, checksum, trailer, Requirement::Wire],
            vec![
                create(10),
                Step::check(trailered(SHA1_OF_BODY)).status(&[204]).header_eq("Upload-Offset", "5"),
                head_offset_is("5").expect(Expect::Data { at: 0, bytes: BODY.to_vec() }),
            ],
        ),
        Scenario::steps(
            "checksum-trailer-mismatch-460",
            "A chunked PATCH whose Upload-Checksum trailer does not match gets 460; the offset is unchanged",
            "tus 1.0.0 checksum-trailer with checksum: a trailer checksum that mismatches gets 460, the chunk \
             discarded and the offset unchanged",
            TRAILER_EXT,
            &[CREATION, checksum, trailer, Requirement::Wire],
            vec![create(10), Step::check(trailered(SHA1_OF_OTHER)).status(&[460]), head_offset_is("0")],
        ),
    ]
}

/// OPTIONS: `Tus-Checksum-Algorithm` present (over all its fields), naming `sha1`, every name lower-case ASCII.
fn options_algorithms(ctx: &mut Ctx<'_>) -> Outcome {
    let resp = match ctx.request(&RequestSpec::new("OPTIONS", Target::Base)) {
        Ok((_, resp)) => resp,
        Err(e) => return Outcome::Error(e),
    };
    if resp.status / 100 != 2 {
        return Outcome::Violation(format!("OPTIONS answered {}", resp.status));
    }
    let Some(raw) = resp.headers.combined("tus-checksum-algorithm") else {
        return Outcome::Violation("OPTIONS 2xx without Tus-Checksum-Algorithm".into());
    };
    match algorithms_ok(&raw) {
        Ok(names) => Outcome::Pass(format!("OPTIONS {}: Tus-Checksum-Algorithm: {}", resp.status, names.join(","))),
        Err(why) => Outcome::Violation(why),
    }
}

/// The names of a `Tus-Checksum-Algorithm` value, if it lists `sha1` and only lower-case ASCII names.
fn algorithms_ok(raw: &str) -> Result<Vec<String>, String> {
    let names = lower_case_names(raw)?;
    if !names.iter().any(|n| n == "sha1") {
        return Err(format!("Tus-Checksum-Algorithm {raw:?} does not list sha1"));
    }
    Ok(names)
}

/// The names of a `Tus-Checksum-Algorithm` value, if all are ASCII without uppercase characters.
pub(super) fn lower_case_names(raw: &str) -> Result<Vec<String>, String> {
    let names: Vec<String> = raw.split(',').map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect();
    let bad: Vec<&String> =
        names.iter().filter(|n| !n.bytes().all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase())).collect();
    if bad.is_empty() {
        Ok(names)
    } else {
        Err(format!("Tus-Checksum-Algorithm {raw:?}: {bad:?} not lower-case ASCII"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_lists() {
        assert_eq!(algorithms_ok("sha1, md5,crc32").expect("valid"), ["sha1", "md5", "crc32"]);
        assert!(algorithms_ok("SHA1").is_err());
        assert!(algorithms_ok("sha1,Md5").is_err());
        assert!(algorithms_ok("md5").is_err());
        assert!(algorithms_ok("").is_err());
    }

    #[test]
    fn trailer_framing() {
        let spec = trailered(SHA1_OF_BODY);
        assert!(spec.headers.iter().any(|(n, v)| n == "Trailer" && v == "Upload-Checksum"));
        assert!(matches!(&spec.framing, Framing::Chunked { chunk: 2, trailers } if trailers.len() == 1));
    }
}
