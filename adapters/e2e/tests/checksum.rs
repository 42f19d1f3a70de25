//! The checksum and checksum-trailer extensions over real sockets, on every runtime: an `Upload-Checksum` (header
//! or trailer of a chunked body) is verified over the bytes of its request; a mismatch answers 460 and keeps
//! nothing of that request, an unsupported or malformed value answers 400, a checksummed body that breaks off
//! keeps nothing; creation-with-upload is checked the same way. Every algorithm of `Tus-Checksum-Algorithm` is
//! exercised, and tuspy with `upload_checksum=True` uploads through it.
//!
//! Bodies come in two sizes: 40 KiB, which the server reads whole before it opens the upload, and some MiB, which
//! it streams to storage in batches: the two take different paths through the driver.

mod common;

use std::io::Write;
use std::net::{Shutdown, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{clients_dir, connect, exchange, octets, pattern, python, request, run_bounded, Reply};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use tussi_e2e::{Options, TestServer, ALL};

/// The algorithms the server announces, in its order.
const ALGORITHMS: [&str; 5] = ["sha1", "sha256", "sha512", "md5", "crc32"];
/// A body read whole before the upload is opened, and one streamed in batches.
const SIZES: [usize; 2] = [40 * 1024, 3 * 1024 * 1024 + 5];
/// Bound on every socket read and write.
const IO_TIMEOUT: Duration = Duration::from_secs(20);
/// The bound on the tuspy run; past it the client is killed by its PID.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(180);

/// A PATCH head with a Content-Length body and, if given, `Upload-Checksum: <checksum>`.
fn patch_request(id: &str, offset: u64, body: &[u8], checksum: Option<&str>) -> Vec<u8> {
    let mut headers = vec![("Upload-Offset", offset.to_string()), octets(), ("Content-Length", body.len().to_string())];
    if let Some(checksum) = checksum {
        headers.push(("Upload-Checksum", checksum.to_owned()));
    }
    request("PATCH", &format!("/files/{id}"), &headers, body)
}

fn patch(addr: SocketAddr, id: &str, offset: u64, body: &[u8], checksum: Option<&str>) -> Reply {
    exchange(addr, &patch_request(id, offset, body, checksum), IO_TIMEOUT)
}

/// A chunked PATCH that announces `Trailer: Upload-Checksum` and ends with `trailer` (none: the announced trailer
/// never comes).
fn patch_chunked(addr: SocketAddr, id: &str, offset: u64, body: &[u8], trailer: Option<&str>) -> Reply {
    let headers = [
        ("Upload-Offset", offset.to_string()),
        octets(),
        ("Transfer-Encoding", "chunked".to_owned()),
        ("Trailer", "Upload-Checksum".to_owned()),
    ];
    exchange(addr, &request("PATCH", &format!("/files/{id}"), &headers, &chunked(body, trailer)), IO_TIMEOUT)
}

/// `data` as a chunked body of 16 KiB chunks (a last short one), then the last chunk and the trailer section.
fn chunked(data: &[u8], trailer: Option<&str>) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 1000 + 64);
    for piece in data.chunks(16 * 1024) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n");
    if let Some(value) = trailer {
        out.extend_from_slice(format!("Upload-Checksum: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn create(addr: SocketAddr, length: u64) -> String {
    common::create(addr, length, IO_TIMEOUT)
}

fn head_offset(addr: SocketAddr, id: &str) -> u64 {
    common::head_offset(addr, id, IO_TIMEOUT)
}

fn digest(algorithm: &str, data: &[u8]) -> Vec<u8> {
    match algorithm {
        "sha1" => Sha1::digest(data).to_vec(),
        "sha256" => Sha256::digest(data).to_vec(),
        "sha512" => Sha512::digest(data).to_vec(),
        "md5" => Md5::digest(data).to_vec(),
        "crc32" => crc32fast::hash(data).to_be_bytes().to_vec(),
        other => panic!("no such algorithm {other}"),
    }
}

/// An `Upload-Checksum` value: `<algorithm> <base64 digest>`.
fn checksum(algorithm: &str, data: &[u8]) -> String {
    format!("{algorithm} {}", STANDARD.encode(digest(algorithm, data)))
}

/// `data` with one byte changed, as a transmission error would.
fn corrupted(data: &[u8]) -> Vec<u8> {
    let mut bad = data.to_vec();
    let middle = bad.len() / 2;
    bad[middle] ^= 0x55;
    bad
}

fn assert_finished(server: &TestServer, id: &str, data: &[u8], who: &str) {
    let stored = std::fs::read(server.completed_file(id)).unwrap_or_else(|e| panic!("{who}: not finished: {e}"));
    assert!(stored == data, "{who}: the finished file differs from what was sent");
}

fn assert_not_finished(server: &TestServer, id: &str, who: &str) {
    assert!(!server.completed_file(id).exists(), "{who}: a refused final chunk finished the upload");
}

/// The 460 of a checksum mismatch: `Upload-Offset` is the offset before the request, with a reason.
fn assert_mismatch(reply: &Reply, before: u64, who: &str) {
    assert_eq!(reply.status, 460, "{who}: {reply:?}");
    assert_eq!(reply.offset(), Some(before), "{who}: the 460 names the unchanged offset: {reply:?}");
    assert!(reply.body.contains("checksum"), "{who}: a readable reason: {reply:?}");
}

#[test]
fn a_wrong_sha1_answers_460_and_keeps_nothing_then_the_right_one_is_stored() {
    for rt in ALL {
        let server = TestServer::start(rt, Options::default());
        for size in SIZES {
            let who = format!("{rt:?}, {size} B parts");
            let data = pattern(3 * size, 1);
            let (a, b, c) = (&data[..size], &data[size..2 * size], &data[2 * size..]);
            let id = create(server.addr, data.len() as u64);
            let one = size as u64;

            assert_eq!(patch(server.addr, &id, 0, a, None).status, 204, "{who}: a plain PATCH");
            // A middle chunk corrupted on the way: the sha1 of what the client meant to send.
            assert_mismatch(&patch(server.addr, &id, one, &corrupted(b), Some(&checksum("sha1", b))), one, &who);
            assert_eq!(head_offset(server.addr, &id), one, "{who}: HEAD after the 460");
            // The same bytes again with a sha1 of other bytes.
            assert_mismatch(&patch(server.addr, &id, one, b, Some(&checksum("sha1", a))), one, &who);
            assert_eq!(head_offset(server.addr, &id), one, "{who}: HEAD after the second 460");
            let reply = patch(server.addr, &id, one, b, Some(&checksum("sha1", b)));
            assert_eq!((reply.status, reply.offset()), (204, Some(2 * one)), "{who}: the right sha1: {reply:?}");

            // The final chunk, wrong: the upload must not finish.
            assert_mismatch(
                &patch(server.addr, &id, 2 * one, &corrupted(c), Some(&checksum("sha1", c))),
                2 * one,
                &who,
            );
            assert_eq!(head_offset(server.addr, &id), 2 * one, "{who}: HEAD after the final chunk's 460");
            assert_not_finished(&server, &id, &who);
            let reply = patch(server.addr, &id, 2 * one, c, Some(&checksum("sha1", c)));
            assert_eq!((reply.status, reply.offset()), (204, Some(3 * one)), "{who}: {reply:?}");
            assert_finished(&server, &id, &data, &who);
        }
    }
}

#[test]
fn an_unsupported_or_malformed_checksum_answers_400_with_a_reason() {
    for rt in ALL {
        let server = TestServer::start(rt, Options::default());
        let data = pattern(64 * 1024, 2);
        let id = create(server.addr, data.len() as u64);
        assert_eq!(patch(server.addr, &id, 0, &data[..1000], None).status, 204, "{rt:?}");
        let body = &data[1000..2000];
        let b64_32 = STANDARD.encode([7u8; 32]);
        let right_sha1 = STANDARD.encode(digest("sha1", body));
        // (value, what the reason must mention)
        let cases = [
            (format!("sha3 {b64_32}"), vec!["sha3", "sha1"]),
            (format!("SHA3-256 {b64_32}"), vec!["SHA3-256"]),
            ("sha1".to_owned(), vec!["Upload-Checksum"]),
            ("sha1 ***not-base64***".to_owned(), vec!["base64"]),
            (format!("sha1 {}", STANDARD.encode([1u8; 16])), vec!["sha1"]),
            (format!("crc32 {}", STANDARD.encode([1u8; 8])), vec!["crc32"]),
        ];
        for (value, mentions) in cases {
            let who = format!("{rt:?}, Upload-Checksum: {value}");
            let reply = patch(server.addr, &id, 1000, body, Some(&value));
            assert_eq!(reply.status, 400, "{who}: {reply:?}");
            for word in mentions {
                assert!(reply.body.contains(word), "{who}: the reason names {word:?}: {:?}", reply.body);
            }
            assert_eq!(head_offset(server.addr, &id), 1000, "{who}: offset unchanged");
        }
        // Twice: which one would count?
        let headers = [
            ("Upload-Offset", "1000".to_owned()),
            octets(),
            ("Content-Length", body.len().to_string()),
            ("Upload-Checksum", format!("sha1 {right_sha1}")),
            ("Upload-Checksum", format!("sha1 {right_sha1}")),
        ];
        let reply = exchange(server.addr, &request("PATCH", &format!("/files/{id}"), &headers, body), IO_TIMEOUT);
        assert_eq!(reply.status, 400, "{rt:?}: Upload-Checksum twice: {reply:?}");
        // Both as a header and as a trailer.
        let headers = [
            ("Upload-Offset", "1000".to_owned()),
            octets(),
            ("Transfer-Encoding", "chunked".to_owned()),
            ("Trailer", "Upload-Checksum".to_owned()),
            ("Upload-Checksum", format!("sha1 {right_sha1}")),
        ];
        let chunked_body = chunked(body, Some(&format!("sha1 {right_sha1}")));
        let reply =
            exchange(server.addr, &request("PATCH", &format!("/files/{id}"), &headers, &chunked_body), IO_TIMEOUT);
        assert_eq!(reply.status, 400, "{rt:?}: header and trailer: {reply:?}");
        assert_eq!(head_offset(server.addr, &id), 1000, "{rt:?}: offset unchanged after every 400");
        // The same bytes with a valid checksum go in.
        let reply = patch(server.addr, &id, 1000, body, Some(&format!("sha1 {right_sha1}")));
        assert_eq!((reply.status, reply.offset()), (204, Some(2000)), "{rt:?}: {reply:?}");
    }
}

#[test]
fn every_announced_algorithm_is_verified() {
    for rt in ALL {
        let server = TestServer::start(rt, Options::default());
        let part = 20_000;
        let data = pattern(ALGORITHMS.len() * part + 3, 3);
        let id = create(server.addr, data.len() as u64);
        let mut offset = 0;
        for (i, algorithm) in ALGORITHMS.into_iter().enumerate() {
            let who = format!("{rt:?}, {algorithm}");
            let end = if i + 1 == ALGORITHMS.len() { data.len() } else { offset + part };
            let body = &data[offset..end];
            let other = &data[..100];
            // The right length, the wrong digest.
            let reply = patch(server.addr, &id, offset as u64, body, Some(&checksum(algorithm, other)));
            assert_mismatch(&reply, offset as u64, &who);
            let reply = patch(server.addr, &id, offset as u64, &corrupted(body), Some(&checksum(algorithm, body)));
            assert_mismatch(&reply, offset as u64, &who);
            assert_eq!(head_offset(server.addr, &id), offset as u64, "{who}: HEAD after the 460s");
            let reply = patch(server.addr, &id, offset as u64, body, Some(&checksum(algorithm, body)));
            assert_eq!((reply.status, reply.offset()), (204, Some(end as u64)), "{who}: the right digest: {reply:?}");
            offset = end;
        }
        assert_finished(&server, &id, &data, &format!("{rt:?}"));
    }
}

#[test]
fn a_checksum_trailer_is_verified() {
    for rt in ALL {
        let server = TestServer::start(rt, Options::default());
        for size in SIZES {
            let who = format!("{rt:?}, {size} B chunked parts");
            let data = pattern(3 * size, 4);
            let (a, b, c) = (&data[..size], &data[size..2 * size], &data[2 * size..]);
            let id = create(server.addr, data.len() as u64);
            let one = size as u64;

            let reply = patch_chunked(server.addr, &id, 0, a, Some(&checksum("sha1", a)));
            assert_eq!((reply.status, reply.offset()), (204, Some(one)), "{who}: the right sha1 trailer: {reply:?}");

            // Wrong trailer: 460, nothing kept.
            let reply = patch_chunked(server.addr, &id, one, &corrupted(b), Some(&checksum("sha256", b)));
            assert_mismatch(&reply, one, &format!("{who}: wrong trailer"));
            assert_eq!(head_offset(server.addr, &id), one, "{who}: HEAD after the wrong trailer");

            // Announced, never sent: 400, nothing kept.
            let reply = patch_chunked(server.addr, &id, one, b, None);
            assert_eq!(reply.status, 400, "{who}: a missing trailer: {reply:?}");
            assert!(reply.body.contains("trailer"), "{who}: the reason names the trailer: {reply:?}");
            assert_eq!(reply.offset(), Some(one), "{who}: {reply:?}");
            assert_eq!(head_offset(server.addr, &id), one, "{who}: HEAD after the missing trailer");

            // An unsupported algorithm in the trailer: 400, nothing kept.
            let reply = patch_chunked(server.addr, &id, one, b, Some(&format!("sha3 {}", STANDARD.encode([0u8; 32]))));
            assert_eq!(reply.status, 400, "{who}: a sha3 trailer: {reply:?}");
            assert_eq!(head_offset(server.addr, &id), one, "{who}: HEAD after the sha3 trailer");

            let reply = patch_chunked(server.addr, &id, one, b, Some(&checksum("sha512", b)));
            assert_eq!((reply.status, reply.offset()), (204, Some(2 * one)), "{who}: sha512 trailer: {reply:?}");

            // The final chunk: wrong, then right (crc32).
            let reply = patch_chunked(server.addr, &id, 2 * one, c, Some(&checksum("crc32", a)));
            assert_mismatch(&reply, 2 * one, &format!("{who}: wrong final trailer"));
            assert_not_finished(&server, &id, &who);
            let reply = patch_chunked(server.addr, &id, 2 * one, c, Some(&checksum("crc32", c)));
            assert_eq!((reply.status, reply.offset()), (204, Some(3 * one)), "{who}: crc32 trailer: {reply:?}");
            assert_finished(&server, &id, &data, &who);
        }
    }
}

/// Sends `head` and `part` of a body on a new connection, then closes it (the client is gone mid-body).
fn cut_off(addr: SocketAddr, head_and_part: &[u8]) {
    let mut stream = connect(addr, IO_TIMEOUT);
    stream.write_all(head_and_part).expect("send part of a request");
    std::thread::sleep(Duration::from_millis(200)); // the server is now waiting for the rest
    stream.shutdown(Shutdown::Both).expect("cut off");
}

#[test]
fn a_checksummed_body_that_breaks_off_keeps_nothing() {
    for rt in ALL {
        let server = TestServer::start(rt, Options::default());
        let data = pattern(2 * 1024 * 1024, 5);
        let id = create(server.addr, data.len() as u64);
        let sent = 1024 * 1024 + 17;

        // Upload-Checksum header: the head, then 1 MiB + 17 of the 2 MiB body.
        let checked = patch_request(&id, 0, &data, Some(&checksum("sha1", &data)));
        cut_off(server.addr, &checked[..checked.len() - data.len() + sent]);
        // Trailer: 1 MiB + 17 of the chunked body, no last chunk.
        let headers = [
            ("Upload-Offset", "0".to_owned()),
            octets(),
            ("Transfer-Encoding", "chunked".to_owned()),
            ("Trailer", "Upload-Checksum".to_owned()),
        ];
        let mut partial = request("PATCH", &format!("/files/{id}"), &headers, b"");
        partial.extend_from_slice(format!("{sent:x}\r\n").as_bytes());
        partial.extend_from_slice(&data[..sent]);
        partial.extend_from_slice(b"\r\n");
        cut_off(server.addr, &partial);

        // HEAD asks a request still holding the upload to let go; it stays at 0 however long we look.
        let until = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < until {
            assert_eq!(head_offset(server.addr, &id), 0, "{rt:?}: a broken-off checksummed body kept bytes");
            std::thread::sleep(Duration::from_millis(100));
        }

        // The control: the same cut without a checksum keeps what arrived.
        let plain = patch_request(&id, 0, &data, None);
        cut_off(server.addr, &plain[..plain.len() - data.len() + sent]);
        assert_eq!(
            common::wait_for_offset(server.addr, &id, sent as u64, IO_TIMEOUT),
            sent as u64,
            "{rt:?}: a plain cut keeps its bytes"
        );

        let rest = &data[sent..];
        let reply = patch(server.addr, &id, sent as u64, rest, Some(&checksum("sha1", rest)));
        assert_eq!(reply.status, 204, "{rt:?}: {reply:?}");
        assert_finished(&server, &id, &data, &format!("{rt:?}"));
    }
}

/// A creation-with-upload POST of `body` for an upload of `length`, with `Upload-Checksum: <checksum>`.
fn post_with_data(addr: SocketAddr, length: usize, body: &[u8], checksum: &str) -> Reply {
    let headers = [
        ("Upload-Length", length.to_string()),
        octets(),
        ("Content-Length", body.len().to_string()),
        ("Upload-Checksum", checksum.to_owned()),
    ];
    exchange(addr, &request("POST", "/files/", &headers, body), IO_TIMEOUT)
}

#[test]
fn creation_with_upload_is_verified() {
    for rt in ALL {
        let server = TestServer::start(rt, Options::default());
        for size in SIZES {
            let who = format!("{rt:?}, {size} B creation body");
            let data = pattern(size + 1000, 6);
            let first = &data[..size];

            // Right: 201 with the offset of the body.
            let reply = post_with_data(server.addr, data.len(), first, &checksum("sha256", first));
            assert_eq!((reply.status, reply.offset()), (201, Some(size as u64)), "{who}: {reply:?}");
            let id = reply.id().expect("Location");
            assert_eq!(head_offset(server.addr, &id), size as u64, "{who}");
            assert_eq!(patch(server.addr, &id, size as u64, &data[size..], None).status, 204, "{who}");
            assert_finished(&server, &id, &data, &who);

            // Wrong: 460, the upload exists at offset 0.
            let reply = post_with_data(server.addr, data.len(), &corrupted(first), &checksum("md5", first));
            assert_mismatch(&reply, 0, &format!("{who}: wrong checksum"));
            let id = reply.id().unwrap_or_else(|| panic!("{who}: the 460 of a creation carries Location: {reply:?}"));
            assert_eq!(head_offset(server.addr, &id), 0, "{who}: nothing of the creation's body was kept");
            let reply = patch(server.addr, &id, 0, &data, Some(&checksum("crc32", &data)));
            assert_eq!(reply.status, 204, "{who}: {reply:?}");
            assert_finished(&server, &id, &data, &who);

            // Unsupported algorithm: 400 before anything is created.
            let reply = post_with_data(server.addr, data.len(), first, &format!("sha3 {}", STANDARD.encode([0u8; 32])));
            assert_eq!(reply.status, 400, "{who}: sha3: {reply:?}");
            assert!(reply.header("location").is_none(), "{who}: nothing created: {reply:?}");

            // A chunked creation body with a checksum trailer.
            let headers = [
                ("Upload-Length", data.len().to_string()),
                octets(),
                ("Transfer-Encoding", "chunked".to_owned()),
                ("Trailer", "Upload-Checksum".to_owned()),
            ];
            let body = chunked(first, Some(&checksum("sha1", first)));
            let reply = exchange(server.addr, &request("POST", "/files/", &headers, &body), IO_TIMEOUT);
            assert_eq!((reply.status, reply.offset()), (201, Some(size as u64)), "{who}: trailer: {reply:?}");
            let body = chunked(first, Some(&checksum("sha1", &data[1..=size])));
            let reply = exchange(server.addr, &request("POST", "/files/", &headers, &body), IO_TIMEOUT);
            assert_mismatch(&reply, 0, &format!("{who}: wrong trailer"));
            assert!(reply.header("location").is_some(), "{who}: {reply:?}");
        }
    }
}

#[test]
fn options_announces_the_checksum_extensions_and_algorithms() {
    for rt in ALL {
        let server = TestServer::start(rt, Options::default());
        let reply =
            exchange(server.addr, b"OPTIONS /files/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", IO_TIMEOUT);
        assert!(reply.status == 204 || reply.status == 200, "{rt:?}: {reply:?}");
        let list = |name: &str| -> Vec<String> {
            let value = reply.header(name).unwrap_or_else(|| panic!("{rt:?}: no {name}: {reply:?}"));
            value.split(',').map(|v| v.trim().to_owned()).collect()
        };
        let extensions = list("tus-extension");
        for extension in ["checksum", "checksum-trailer"] {
            assert!(extensions.iter().any(|e| e == extension), "{rt:?}: {extension} in {extensions:?}");
        }
        let algorithms = list("tus-checksum-algorithm");
        assert_eq!(algorithms, ALGORITHMS, "{rt:?}: Tus-Checksum-Algorithm");
    }
}

#[test]
fn tuspy_uploads_with_checksums() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = pattern(3 * 1024 * 1024 + 12_345, 7);
    let path = dir.path().join("checksummed.bin");
    std::fs::write(&path, &data).expect("sample file");
    let chunk = 1024 * 1024;
    for rt in ALL {
        let server = TestServer::start(rt, Options::default());
        let (ok, out, err) = run_bounded(
            Command::new(python())
                .arg(clients_dir().join("checksum.py"))
                .arg(&server.url)
                .arg(&path)
                .arg(chunk.to_string()),
            CLIENT_TIMEOUT,
        );
        assert!(ok, "tuspy on {rt:?} failed:\nstdout: {out}\nstderr: {err}");
        eprintln!("tuspy on {rt:?}:\n{err}");
        let mut patches = 0;
        let mut url = None;
        for line in out.lines().filter(|l| l.starts_with('{')) {
            let value: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            if let Some(record) = value.get("patch") {
                let offset = record["offset"].as_u64().expect("offset") as usize;
                let length = record["length"].as_u64().expect("length") as usize;
                let sent = record["upload_checksum"].as_str();
                let expected = checksum("sha1", &data[offset..offset + length]);
                assert_eq!(sent, Some(expected.as_str()), "{rt:?}: tuspy's Upload-Checksum for {offset}+{length}");
                assert_eq!(record["status"], 204, "{rt:?}: {line}");
                patches += 1;
            } else {
                url = value["url"].as_str().map(str::to_owned);
            }
        }
        assert_eq!(patches, data.len().div_ceil(chunk), "{rt:?}: one checksummed PATCH per chunk\n{out}");
        let url = url.unwrap_or_else(|| panic!("{rt:?}: no result line\n{out}"));
        let id = url.rsplit('/').next().expect("id");
        let stored = std::fs::read(server.completed_file(id)).expect("finished file");
        assert_eq!(Sha256::digest(&stored), Sha256::digest(&data), "{rt:?}: sha256 of the finished file");
    }
}
