//! Whole requests through `tus-proto` and its in-memory store (`MemoryStore::handle`, the reference driver), and
//! the rules every answer keeps.
//!
//! Input: text, `HEAD-LINES "\n\n" BODY`. The first line is `METHOD URI` (`{id}` in the URI stands for the id of
//! the upload that exists beforehand). Lines starting with `~` set the scene:
//! `~nobase` (no base path; default `/files`), `~peer IP`, `~cut client|timeout|takeover` (the body breaks off),
//! `~fault create|stat|open|write|commit AFTER` (that store operation fails after AFTER successes),
//! `~upload LENGTH COMMITTED [finished]` (the existing upload; default 100 bytes, 10 committed).
//! Other lines are `name: value` headers (lines that are no valid header are dropped). The body is split into
//! chunks at every `~~`.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Uri};
use tus_proto::model::{MemoryStore, Operation};
use tus_proto::parse::forwarded_scheme;
use tus_proto::{
    Event, FailureKind, HookOutcome, Interruption, IpBlock, Metadata, NewUpload, RequestHead, Response, Server,
    UploadId,
};

use crate::check;

pub const TRUSTED: [&str; 3] = ["127.0.0.1", "10.0.0.0/8", "::1"];
pub const MAX_SIZE: u64 = 1000;
pub const MAX_CHUNK: u64 = 64;

/// A parsed fuzz input.
#[derive(Debug)]
pub struct RequestInput {
    pub method: Method,
    pub uri: String,
    pub base_path: bool,
    pub peer: Option<IpAddr>,
    pub cut: Option<Interruption>,
    pub fault: Option<(Operation, usize)>,
    pub length: u64,
    pub committed: u64,
    pub finished: bool,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Vec<Vec<u8>>,
}

impl RequestInput {
    /// `None` when the first line is no method and URI.
    pub fn parse(data: &[u8]) -> Option<RequestInput> {
        let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
            Some(at) => (&data[..at], &data[at + 2..]),
            None => (data, &b""[..]),
        };
        let mut lines = head.split(|&b| b == b'\n');
        let first = std::str::from_utf8(lines.next()?).ok()?;
        let (method, uri) = first.split_once(' ')?;
        let mut input = RequestInput {
            method: Method::from_bytes(method.as_bytes()).ok()?,
            uri: uri.to_owned(),
            base_path: true,
            peer: None,
            cut: None,
            fault: None,
            length: 100,
            committed: 10,
            finished: false,
            headers: Vec::new(),
            body: crate::split_bytes(body, b"~~").into_iter().map(<[u8]>::to_vec).collect(),
        };
        for line in lines {
            if let Some(directive) = line.strip_prefix(b"~") {
                let directive = String::from_utf8_lossy(directive);
                let words: Vec<&str> = directive.split(' ').collect();
                match words.as_slice() {
                    ["nobase"] => input.base_path = false,
                    ["peer", ip] => input.peer = ip.parse().ok(),
                    ["cut", why] => {
                        input.cut = match *why {
                            "client" => Some(Interruption::ClientGone),
                            "timeout" => Some(Interruption::TimedOut),
                            "takeover" => Some(Interruption::TakenOver),
                            _ => None,
                        }
                    }
                    ["fault", operation, after] => {
                        let operation = match *operation {
                            "create" => Operation::Create,
                            "stat" => Operation::Stat,
                            "open" => Operation::Open,
                            "write" => Operation::Write,
                            "commit" => Operation::Commit,
                            _ => continue,
                        };
                        input.fault = after.parse::<u8>().ok().map(|after| (operation, usize::from(after)));
                    }
                    ["upload", length, committed, rest @ ..] => {
                        let length = length.parse::<u16>().map_or(100, u64::from);
                        input.length = length;
                        input.committed = committed.parse::<u16>().map_or(0, u64::from).min(length);
                        input.finished = rest == ["finished"];
                    }
                    _ => {}
                }
                continue;
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
            let value = line[colon + 1..].strip_prefix(b" ").unwrap_or(&line[colon + 1..]);
            if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(&line[..colon]), HeaderValue::from_bytes(value)) {
                input.headers.push((name, value));
            }
        }
        if input.finished {
            input.committed = input.length;
        }
        Some(input)
    }
}

/// The byte at `pos` of the existing upload's committed data.
fn pattern(pos: u64) -> u8 {
    (pos as u8).wrapping_mul(31).wrapping_add(7)
}

/// `request` target.
pub fn check_request_bytes(data: &[u8]) -> Result<(), String> {
    match RequestInput::parse(data) {
        Some(input) => check_request(&input),
        None => Ok(()),
    }
}

/// Everything a request leaves behind, for [`check_outcome`].
pub struct Outcome {
    pub parts: http::request::Parts,
    pub peer: Option<IpAddr>,
    pub response: Response,
    pub store: MemoryStore,
    /// The existing upload: its id, length, and committed bytes before and after.
    pub id: UploadId,
    pub length: u64,
    pub before: Vec<u8>,
    pub after: Vec<u8>,
    pub sent: Vec<u8>,
}

pub fn check_request(input: &RequestInput) -> Result<(), String> {
    match run_request(input)? {
        Some(outcome) => check_outcome(&outcome),
        None => Ok(()),
    }
}

/// Runs the request; `None` when its URI or headers do not make an `http` request.
pub fn run_request(input: &RequestInput) -> Result<Option<Outcome>, String> {
    let mut builder = Server::builder().max_size(MAX_SIZE).max_chunk_size(MAX_CHUNK).trusted_proxies(TRUSTED);
    if input.base_path {
        builder = builder.base_path("/files");
    }
    let server = builder.build().map_err(|e| e.to_string())?;
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_470_219);

    // The upload that exists beforehand.
    let mut store = MemoryStore::new();
    let new = NewUpload::new(Some(input.length), Metadata::from_iter([("filename", "a.bin")]), now);
    let (handle, id) = store.create(&new).map_err(|e| e.to_string())?;
    let before: Vec<u8> = (0..input.committed).map(pattern).collect();
    store.write_at(&handle, 0, &before).map_err(|e| e.to_string())?;
    store.commit(&handle, input.committed, input.finished).map_err(|e| e.to_string())?;
    if let Some((operation, after)) = input.fault {
        store.fail_after(operation, after, FailureKind::Unavailable);
    }

    let uri_text = input.uri.replace("{id}", &id.to_string());
    let Ok(uri) = uri_text.parse::<Uri>() else { return Ok(None) };
    let mut request = Request::builder().method(input.method.clone()).uri(uri);
    for (name, value) in &input.headers {
        request = request.header(name, value);
    }
    let Ok(request) = request.body(()) else { return Ok(None) };
    let (parts, ()) = request.into_parts();
    let head = RequestHead::from_parts(&parts).with_peer(input.peer);
    let chunks: Vec<&[u8]> = input.body.iter().map(Vec::as_slice).collect();
    let response = store.handle(&server, head, &chunks, input.cut, |_| HookOutcome::accept(), now);
    let after = match store.committed_bytes(id) {
        Some(bytes) => bytes.to_vec(),
        // Only a termination removes it, and it says so.
        None if response.status() == 204 && response.events() == [Event::Terminated { id }] => return Ok(None),
        None => return Err(format!("the existing upload vanished: {} {:?}", response.status(), response.events())),
    };
    Ok(Some(Outcome {
        parts,
        peer: input.peer,
        response,
        store,
        id,
        length: input.length,
        before,
        after,
        sent: chunks.concat(),
    }))
}

/// The rules every answer keeps, and what it may do to the store.
pub fn check_outcome(outcome: &Outcome) -> Result<(), String> {
    let Outcome { parts, response, store, before, after, sent, .. } = outcome;
    let h: &HeaderMap = response.headers();
    let status = response.status().as_u16();
    check!(!h.contains_key("content-length"), "the core set Content-Length");
    check!(h.contains_key("tus-resumable") != h.contains_key("tus-extension"), "Tus-Resumable on OPTIONS, or missing");
    if parts.method == Method::HEAD {
        check!(response.body().is_empty(), "HEAD answered {status} with the body {:?}", response.body());
    } else if status >= 400 {
        check!(!response.body().is_empty(), "error {status} without a reason");
        check!(
            h.get("content-type").is_some_and(|v| v == "text/plain; charset=utf-8"),
            "error {status} without a text/plain reason"
        );
    }
    // A creation stands even when its data did not all arrive (creation-with-upload): its refusal says where.
    let created = response.events().iter().any(|e| matches!(e, Event::Created { .. }));
    check!(status == 201 || created || !h.contains_key("location"), "Location on a {status}");

    // The existing upload: offsets never go back or past the length; committed bytes are the old ones followed by
    // a prefix of the body.
    check!(after.len() >= before.len(), "offset went back from {} to {}", before.len(), after.len());
    check!(after.len() as u64 <= outcome.length, "offset {} passed the length {}", after.len(), outcome.length);
    check!(after[..before.len()] == before[..], "committed bytes changed");
    let added = &after[before.len()..];
    check!(sent.starts_with(added), "committed {added:?}, which is not a prefix of the body");
    if let Some(offset) = h.get("upload-offset").filter(|_| !created) {
        check!(
            offset.to_str().ok() == Some(after.len().to_string().as_str()),
            "Upload-Offset {offset:?} != {}",
            after.len()
        );
    }
    let progress: u64 = response
        .events()
        .iter()
        .map(|e| match e {
            Event::Progress { upload, bytes_written } if upload.id == outcome.id => *bytes_written,
            _ => 0,
        })
        .sum();
    check!(progress == added.len() as u64, "progress events count {progress} bytes, {} were committed", added.len());

    if status == 201 {
        let location = h.get("location").and_then(|v| v.to_str().ok()).ok_or("201 without Location")?;
        let new_id: UploadId = location
            .rsplit('/')
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("Location {location:?} does not end with an id"))?;
        check!(store.committed_bytes(new_id).is_some(), "Location names {new_id}, which the store does not have");
        let trusted: Vec<IpBlock> = TRUSTED.iter().map(|t| IpBlock::parse(t).expect("valid blocks")).collect();
        let scheme = forwarded_scheme(&trusted, outcome.peer, &parts.headers)
            .or_else(|| parts.uri.scheme_str().filter(|s| *s == "https"))
            .unwrap_or("http");
        check!(
            location.starts_with('/') || location.starts_with(&format!("{scheme}://")),
            "Location {location:?}, expected the scheme {scheme}"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Result<(), String> {
        check_request_bytes(text.as_bytes())
    }

    #[test]
    fn parses_the_format() {
        let input = RequestInput::parse(
            b"PATCH /files/{id}\n~peer 10.0.0.1\n~cut timeout\n~fault write 2\n~upload 50 20\ncontent-type: x\nbad line\n\nab~~cd",
        )
        .unwrap();
        assert_eq!(input.method, Method::PATCH);
        assert_eq!(input.peer, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(input.cut, Some(Interruption::TimedOut));
        assert_eq!(input.fault, Some((Operation::Write, 2)));
        assert_eq!((input.length, input.committed, input.finished), (50, 20, false));
        assert_eq!(input.headers.len(), 1);
        assert_eq!(input.body, vec![b"ab".to_vec(), b"cd".to_vec()]);
    }

    #[test]
    fn ordinary_requests_keep_the_rules() {
        let patch = "PATCH /files/{id}\ntus-resumable: 1.0.0\ncontent-type: application/offset+octet-stream\nupload-offset: 10\n\n";
        run(&format!("{patch}hello~~ world")).unwrap();
        run(&format!("{patch}{}", "x".repeat(200))).unwrap();
        run(&format!("~cut client\n{patch}")).unwrap();
        run("POST /files\nhost: example.com\ntus-resumable: 1.0.0\nupload-length: 5\n~peer 10.1.1.1\nx-forwarded-proto: https").unwrap();
        run("POST /files\nhost: example.com\ntus-resumable: 1.0.0\nupload-length: 0\n~fault commit 0").unwrap();
        run("HEAD /files/{id}\ntus-resumable: 1.0.0").unwrap();
        run("OPTIONS /files").unwrap();
        run("GET /elsewhere").unwrap();
    }

    #[test]
    fn the_rules_can_fail() {
        let patch = "PATCH /files/{id}\ntus-resumable: 1.0.0\ncontent-type: application/offset+octet-stream\nupload-offset: 10\n\nabc";
        let outcome = || run_request(&RequestInput::parse(patch.as_bytes()).unwrap()).unwrap().unwrap();
        let good = outcome();
        assert_eq!(good.response.status(), 204);
        check_outcome(&good).unwrap();
        // Committed bytes that are not what was sent.
        let mut bad = outcome();
        bad.after[10] = b'X';
        assert!(check_outcome(&bad).unwrap_err().contains("prefix"));
        // An offset that went back.
        let mut bad = outcome();
        bad.after.truncate(5);
        assert!(check_outcome(&bad).unwrap_err().contains("went back"));
        // Committed bytes that the progress events do not account for.
        let mut bad = outcome();
        bad.after.pop();
        assert!(check_outcome(&bad).is_err());
        // A HEAD answered with a body.
        let mut bad = outcome();
        bad.parts.method = Method::HEAD;
        bad.response = run_request(&RequestInput::parse(b"GET /nowhere").unwrap()).unwrap().unwrap().response;
        assert!(check_outcome(&bad).unwrap_err().contains("HEAD"));
    }
}
