//! The checksum extensions: `Upload-Checksum` (a header, or a trailer of a chunked body), verified over the bytes
//! of one request as they stream past, on the RustCrypto hashes and crc32fast.
//!
//! A checksum covers the whole body of its request: a body that does not match, or that breaks off before its end,
//! keeps nothing — the offset stays where it was.

use base64::Engine as _;
use http::header::{HeaderMap, HeaderValue, TRAILER};
use sha1::Digest as _;

use crate::parse::{self, Single};
use crate::response::headers;

/// The algorithms this server verifies, as in `Tus-Checksum-Algorithm`.
pub(crate) const ALGORITHMS: &str = "sha1,sha256,sha512,md5,crc32";

/// A checksum algorithm of `Upload-Checksum`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChecksumAlgorithm {
    /// SHA-1, which every server of the checksum extension must support.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-512.
    Sha512,
    /// MD5.
    Md5,
    /// CRC-32 (IEEE), as 4 big-endian bytes.
    Crc32,
}

impl ChecksumAlgorithm {
    const ALL: [ChecksumAlgorithm; 5] = [Self::Sha1, Self::Sha256, Self::Sha512, Self::Md5, Self::Crc32];

    /// The algorithm's name in `Upload-Checksum` (lower-case, as the protocol writes them).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
            Self::Md5 => "md5",
            Self::Crc32 => "crc32",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    fn digest_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
            Self::Md5 => 16,
            Self::Crc32 => 4,
        }
    }
}

/// A running hash of one algorithm.
#[derive(Clone, Debug)]
pub(crate) enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
    Md5(md5::Md5),
    Crc32(crc32fast::Hasher),
}

impl Hasher {
    fn new(algorithm: ChecksumAlgorithm) -> Self {
        match algorithm {
            ChecksumAlgorithm::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            ChecksumAlgorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
            ChecksumAlgorithm::Md5 => Hasher::Md5(md5::Md5::new()),
            ChecksumAlgorithm::Crc32 => Hasher::Crc32(crc32fast::Hasher::new()),
        }
    }

    fn algorithm(&self) -> ChecksumAlgorithm {
        match self {
            Hasher::Sha1(_) => ChecksumAlgorithm::Sha1,
            Hasher::Sha256(_) => ChecksumAlgorithm::Sha256,
            Hasher::Sha512(_) => ChecksumAlgorithm::Sha512,
            Hasher::Md5(_) => ChecksumAlgorithm::Md5,
            Hasher::Crc32(_) => ChecksumAlgorithm::Crc32,
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
            Hasher::Md5(h) => h.update(data),
            Hasher::Crc32(h) => h.update(data),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
        }
    }
}

/// A parsed `Upload-Checksum` value: the algorithm and the digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Expected {
    algorithm: ChecksumAlgorithm,
    digest: Vec<u8>,
}

/// Parses `<algorithm> <base64 digest>`. The error is the reason for a 400.
fn parse_value(value: &HeaderValue) -> Result<Expected, String> {
    let text = value.to_str().map_err(|_| "Upload-Checksum is not ASCII".to_owned())?;
    let (name, encoded) = text.split_once(' ').ok_or("Upload-Checksum must be \"<algorithm> <base64 digest>\"")?;
    let algorithm = ChecksumAlgorithm::from_name(name)
        .ok_or_else(|| format!("unsupported checksum algorithm {name:?}: supported are {ALGORITHMS}"))?;
    let digest = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| "the Upload-Checksum digest is not base64".to_owned())?;
    if digest.len() != algorithm.digest_len() {
        return Err(format!("a {name} checksum has {} bytes, not {}", algorithm.digest_len(), digest.len()));
    }
    Ok(Expected { algorithm, digest })
}

/// How a request's body is checked.
#[derive(Clone, Debug)]
pub(crate) enum Check {
    /// Against the `Upload-Checksum` header.
    Header { expected: Expected, hasher: Box<Hasher> },
    /// Against an `Upload-Checksum` trailer (announced with `Trailer: Upload-Checksum`): its algorithm is known only
    /// at the end, so every algorithm runs.
    Trailer { hashers: Vec<Hasher>, trailer: Option<Expected> },
}

/// What a request asks to be checked: `Ok(None)` for nothing. The error is the reason for a 400.
pub(crate) fn requested(request_headers: &HeaderMap) -> Result<Option<Check>, String> {
    let announced = request_headers.get_all(TRAILER).iter().any(|value| {
        value.to_str().is_ok_and(|v| v.split(',').any(|name| name.trim().eq_ignore_ascii_case("upload-checksum")))
    });
    match parse::single(request_headers, &headers::UPLOAD_CHECKSUM) {
        Single::Repeated => Err("Upload-Checksum appears more than once".into()),
        Single::Present(_) if announced => Err("Upload-Checksum comes as a header or as a trailer, not both".into()),
        Single::Present(value) => {
            let expected = parse_value(value)?;
            Ok(Some(Check::Header { hasher: Box::new(Hasher::new(expected.algorithm)), expected }))
        }
        Single::Absent if announced => Ok(Some(Check::Trailer {
            hashers: ChecksumAlgorithm::ALL.into_iter().map(Hasher::new).collect(),
            trailer: None,
        })),
        Single::Absent => Ok(None),
    }
}

/// The outcome of a check at the end of a body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Match,
    Mismatch,
    /// The checksum was announced as a trailer and none came, or it was not valid: the reason.
    Invalid(String),
}

impl Check {
    /// Hashes the next accepted bytes.
    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Check::Header { hasher, .. } => hasher.update(data),
            Check::Trailer { hashers, .. } => hashers.iter_mut().for_each(|h| h.update(data)),
        }
    }

    /// Takes the trailers of the body; for a trailer check, the one it waits for.
    pub(crate) fn trailers(&mut self, trailers: &HeaderMap) -> Result<(), String> {
        if let Check::Trailer { trailer, .. } = self {
            match parse::single(trailers, &headers::UPLOAD_CHECKSUM) {
                Single::Absent => {}
                Single::Repeated => return Err("the Upload-Checksum trailer appears more than once".into()),
                Single::Present(value) => *trailer = Some(parse_value(value)?),
            }
        }
        Ok(())
    }

    /// Compares what was hashed with what the client sent.
    pub(crate) fn verdict(self) -> Verdict {
        let (expected, hasher) = match self {
            Check::Header { expected, hasher } => (expected, *hasher),
            Check::Trailer { trailer: None, .. } => {
                return Verdict::Invalid("the announced Upload-Checksum trailer did not come".into())
            }
            Check::Trailer { trailer: Some(expected), hashers } => {
                let hasher = hashers.into_iter().find(|h| h.algorithm() == expected.algorithm);
                match hasher {
                    Some(hasher) => (expected, hasher),
                    None => return Verdict::Invalid("unsupported checksum algorithm".into()),
                }
            }
        };
        if hasher.finish() == expected.digest {
            Verdict::Match
        } else {
            Verdict::Mismatch
        }
    }
}
