//! Evaluating expectations against a response, and the `Upload-Metadata` codec used to compare metadata.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;

use crate::client::Response;
use crate::context::{parse_uint, Ctx, DataCheck};
use crate::scenario::{Expect, Pred};
use crate::url::Url;

/// Checks every expectation; returns one message per failed expectation (empty: all held).
/// Data expectations that cannot be verified add a note to the context instead of failing.
pub(crate) fn evaluate(ctx: &mut Ctx<'_>, expects: &[Expect], resp: &Response, url: &Url) -> Vec<String> {
    let mut failures = Vec::new();
    for e in expects {
        if let Err(msg) = evaluate_one(ctx, e, resp, url) {
            failures.push(msg);
        }
    }
    failures
}

fn evaluate_one(ctx: &mut Ctx<'_>, e: &Expect, resp: &Response, url: &Url) -> Result<(), String> {
    match e {
        Expect::Status(codes) => {
            if codes.contains(&resp.status) {
                Ok(())
            } else {
                Err(format!("status {} (expected {})", resp.status, list(codes)))
            }
        }
        Expect::Class(class) => {
            if resp.status / 100 == *class {
                Ok(())
            } else {
                Err(format!("status {} (expected {class}xx)", resp.status))
            }
        }
        Expect::Refused => {
            if resp.status / 100 == 2 {
                Err(format!("status {}: the request was accepted", resp.status))
            } else {
                Ok(())
            }
        }
        Expect::Usual(code) => {
            if resp.status != *code {
                ctx.note(format!("{code} is the usual status; this server answered {}", resp.status));
            }
            Ok(())
        }
        Expect::Header(name, pred) => check_header(ctx, name, pred, resp),
        Expect::Absent(name) => match resp.header(name) {
            None => Ok(()),
            Some(v) => Err(format!("{name}: {v} present (expected absent)")),
        },
        Expect::Metadata(expected) => check_metadata(expected, resp),
        Expect::Data { at, bytes } => match ctx.check_data(url, *at, bytes) {
            DataCheck::Match => {
                ctx.note(format!("{} stored bytes verified", bytes.len()));
                Ok(())
            }
            DataCheck::Mismatch(m) => Err(format!("stored data: {m}")),
            DataCheck::Unknown => {
                ctx.note("stored data not verified (no probe)");
                Ok(())
            }
        },
    }
}

fn check_header(ctx: &Ctx<'_>, name: &str, pred: &Pred, resp: &Response) -> Result<(), String> {
    let value = resp.header(name);
    let shown = value.map_or("absent".to_string(), |v| format!("{v:?}"));
    let ok = match (pred, value) {
        (_, None) => false,
        (Pred::Present, Some(_)) => true,
        (Pred::Eq(t), Some(v)) => v.trim() == ctx.expand(t)?,
        (Pred::EqNoCase(t), Some(v)) => v.trim().eq_ignore_ascii_case(&ctx.expand(t)?),
        (Pred::Token(t), Some(_)) => resp.headers.has_token(name, &ctx.expand(t)?),
        (Pred::UInt, Some(v)) => parse_uint(v).is_some(),
    };
    if ok {
        return Ok(());
    }
    let wanted = match pred {
        Pred::Present => "present".to_string(),
        Pred::Eq(t) | Pred::EqNoCase(t) => format!("{:?}", ctx.expand(t).unwrap_or_else(|_| t.clone())),
        Pred::Token(t) => format!("a list containing {t:?}"),
        Pred::UInt => "a non-negative integer".to_string(),
    };
    Err(format!("{name} {shown} (expected {wanted})"))
}

fn check_metadata(expected: &[(&str, Option<&[u8]>)], resp: &Response) -> Result<(), String> {
    let Some(raw) = resp.headers.combined("upload-metadata") else {
        return Err("Upload-Metadata absent".into());
    };
    let got = parse_metadata(&raw).map_err(|e| format!("Upload-Metadata {raw:?}: {e}"))?;
    let mut problems = Vec::new();
    for (key, value) in expected {
        match got.iter().find(|(k, _)| k == key) {
            None => problems.push(format!("key {key:?} missing")),
            Some((_, v)) => {
                let want = value.unwrap_or_default();
                if v.as_slice() != want {
                    problems.push(format!("key {key:?} has {:?}", String::from_utf8_lossy(v)));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("Upload-Metadata {raw:?}: {}", problems.join("; ")))
    }
}

/// Encodes metadata pairs (`None` or empty: key alone).
pub(crate) fn encode_metadata(pairs: &[(&str, Option<&[u8]>)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| match v {
            Some(v) if !v.is_empty() => format!("{k} {}", STANDARD.encode(v)),
            _ => (*k).to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses an `Upload-Metadata` value into keys and decoded values (empty value for a bare key).
pub(crate) fn parse_metadata(raw: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    for pair in raw.split(',') {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let (key, value) = match pair.split_once(' ') {
            Some((k, v)) => (k, v.trim()),
            None => (pair, ""),
        };
        let decoded = STANDARD
            .decode(value)
            .or_else(|_| STANDARD_NO_PAD.decode(value))
            .map_err(|_| format!("value of {key:?} is not base64"))?;
        out.push((key.to_string(), decoded));
    }
    Ok(out)
}

fn list(codes: &[u16]) -> String {
    codes.iter().map(u16::to_string).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trip() {
        let enc = encode_metadata(&[("filename", Some(b"a b.txt")), ("empty", None), ("e2", Some(b""))]);
        assert_eq!(enc, "filename YSBiLnR4dA==,empty,e2");
        let dec = parse_metadata(&enc).expect("parses");
        assert_eq!(dec[0], ("filename".to_string(), b"a b.txt".to_vec()));
        assert_eq!(dec[1], ("empty".to_string(), Vec::new()));
        assert!(parse_metadata("k !!!").is_err());
        assert_eq!(parse_metadata("k YQ").expect("unpadded")[0].1, b"a");
    }
}
