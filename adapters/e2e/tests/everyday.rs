//! The TUS clients' everyday options against a real server, and two raw-socket cases that real clients run into.
//!
//! - tus-js-client (clients/everyday.mjs): `chunkSize` left at Infinity, `uploadDataDuringCreation`,
//!   `uploadLengthDeferred` on a Node stream, `abort(true)`, and resuming through its Node `FileUrlStorage` an upload
//!   that has already finished (and been claimed by the file worker);
//! - tuspy (clients/everyday.py) with its defaults;
//! - raw sockets: a HEAD during a silent PATCH reports what the PATCH stored, a refused body is drained so the
//!   client reads the 413 instead of a reset, and creation-with-upload with `Expect: 100-continue` (the body sent
//!   after the `100 Continue`; a POST refused from its head answered with the final status, no body sent).
//!
//! The clients are installed as in clients.rs (common/mod.rs: `conformance/scripts/peers.sh install
//! tus-js-client|tuspy`, pinned versions, into `target/tus-peers/`). Every client process runs under a deadline and
//! is killed by its PID past it; every socket has read and write timeouts.

mod common;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    clients_dir, connect, exchange, node_prefix, patch_head, pattern, python, read_reply, request, run_bounded,
    wait_until, Reply,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tussi_e2e::{Options, Rt, TestServer, ALL};

const MIB: usize = 1024 * 1024;
/// Bound on every socket read and write of a one-request connection.
const IO_TIMEOUT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------------------------
// Client processes

/// Runs `everyday.mjs MODE ENDPOINT ARGS...` and returns its JSON line; panics (showing the requests it sent and
/// its error) when it fails. Uploads here are tens of MiB on loopback: 120 s is far beyond a healthy run.
fn node(mode: &str, endpoint: &str, args: &[&str], who: &str) -> Value {
    let (ok, out, err) = run_bounded(
        Command::new("node")
            .arg(clients_dir().join("everyday.mjs"))
            .arg(mode)
            .arg(endpoint)
            .args(args)
            .env("TUS_NODE_PREFIX", node_prefix()),
        Duration::from_secs(120),
    );
    let line = out.lines().rev().find(|l| l.starts_with('{'));
    let report: Option<Value> = line.and_then(|l| serde_json::from_str(l).ok());
    match report {
        Some(report) if ok => report,
        Some(report) => panic!(
            "{who}: tus-js-client failed: {}\nrequests it sent:\n{}\nstderr: {err}",
            report["error"].as_str().unwrap_or("?"),
            requests_text(&report)
        ),
        None => panic!("{who}: no report from everyday.mjs (exit ok: {ok})\nstdout: {out}\nstderr: {err}"),
    }
}

/// The requests of a report, one a line: `METHOD URL headers -> status`.
fn requests_text(report: &Value) -> String {
    requests(report)
        .iter()
        .map(|r| format!("  {} {} {} -> {}", r["method"], r["url"], r["headers"], r["status"]))
        .collect::<Vec<_>>()
        .join("\n")
}

fn requests(report: &Value) -> Vec<Value> {
    report["requests"].as_array().cloned().unwrap_or_default()
}

/// The methods of a report's requests, in order.
fn methods(report: &Value) -> Vec<String> {
    requests(report).iter().map(|r| r["method"].as_str().unwrap_or("?").to_owned()).collect()
}

fn url_of(report: &Value) -> String {
    report["url"].as_str().unwrap_or_else(|| panic!("no url in {report}")).to_owned()
}

fn id_of(url: &str) -> String {
    url.rsplit('/').next().expect("id").to_owned()
}

// ---------------------------------------------------------------------------------------------------------------
// Files

struct Sample {
    path: PathBuf,
    len: usize,
    sha256: [u8; 32],
}

impl Sample {
    fn new(dir: &Path, len: usize) -> Sample {
        let data = pattern(len, len as u64);
        let path = dir.join(format!("sample-{len}.bin"));
        std::fs::write(&path, &data).expect("sample");
        Sample { path, len, sha256: Sha256::digest(&data).into() }
    }

    fn arg(&self) -> &str {
        self.path.to_str().expect("UTF-8 path")
    }
}

fn sha256_of(path: &Path) -> Option<[u8; 32]> {
    std::fs::read(path).ok().map(|data| Sha256::digest(&data).into())
}

/// The upload `id` is finished on the server (unclaimed: under completed/) and holds exactly the sample.
fn assert_finished(server: &TestServer, id: &str, sample: &Sample, who: &str) {
    let path = server.completed_file(id);
    let len = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{who}: upload {id} not finished: {e}")).len();
    assert_eq!(len, sample.len as u64, "{who}: finished length");
    assert!(sha256_of(&path) == Some(sample.sha256), "{who}: the finished upload's sha256 differs from the file's");
    let record = server.completed_record(id).unwrap_or_else(|| panic!("{who}: no finished record"));
    assert_eq!(record.length, Some(sample.len as u64), "{who}: the record's length");
    let name = sample.path.file_name().and_then(|n| n.to_str());
    assert_eq!(record.metadata.get("filename"), name, "{who}: metadata");
}

// ---------------------------------------------------------------------------------------------------------------
// 1-5: tus-js-client

#[test]
fn tus_js_client_default_chunk_size_sends_24_mib_in_one_patch() {
    // chunkSize defaults to Infinity: the whole file goes in one PATCH, which a server must take when it sets no
    // per-request limit (the default).
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = Sample::new(dir.path(), 24 * MIB);
    for rt in ALL {
        let who = format!("tus-js-client, default chunkSize, on {rt:?}");
        let server = TestServer::start(rt, Options::default());
        let report = node("upload", &server.url, &[sample.arg()], &who);
        assert_eq!(methods(&report), ["POST", "PATCH"], "{who}: requests\n{}", requests_text(&report));
        assert_finished(&server, &id_of(&url_of(&report)), &sample, &who);
    }
}

#[test]
fn tus_js_client_uploads_data_during_creation() {
    let dir = tempfile::tempdir().expect("tempdir");
    // With 1 MiB chunks: the POST carries the first MiB, PATCHes the rest. With the default chunkSize: the POST
    // carries the whole file, past the old 10 MiB per-request limit.
    let small = Sample::new(dir.path(), 3 * MIB + 5);
    let large = Sample::new(dir.path(), 12 * MIB + 5);
    for rt in ALL {
        let server = TestServer::start(rt, Options::default());

        let who = format!("tus-js-client, uploadDataDuringCreation, chunkSize 1 MiB, on {rt:?}");
        let report = node("upload", &server.url, &[small.arg(), "chunk=1048576", "during-creation"], &who);
        let sent = requests(&report);
        assert_eq!(
            methods(&report),
            ["POST", "PATCH", "PATCH", "PATCH"],
            "{who}: requests\n{}",
            requests_text(&report)
        );
        assert_eq!(sent[0]["status"], 201, "{who}: the POST with data\n{}", requests_text(&report));
        assert_eq!(sent[1]["headers"]["Upload-Offset"], "1048576", "{who}: the POST stored its MiB");
        assert_finished(&server, &id_of(&url_of(&report)), &small, &who);

        let who = format!("tus-js-client, uploadDataDuringCreation, default chunkSize, on {rt:?}");
        let report = node("upload", &server.url, &[large.arg(), "during-creation"], &who);
        assert_eq!(methods(&report), ["POST"], "{who}: one POST carries it all\n{}", requests_text(&report));
        assert_finished(&server, &id_of(&url_of(&report)), &large, &who);
    }
}

#[test]
fn tus_js_client_uploads_a_stream_of_deferred_length() {
    // A Node Readable of unknown size: tus-js-client sends `Upload-Defer-Length: 1`, PATCHes of chunkSize, and
    // `Upload-Length` once the stream ends.
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = Sample::new(dir.path(), 5 * MIB + 3);
    for rt in ALL {
        let who = format!("tus-js-client, uploadLengthDeferred on a stream, on {rt:?}");
        let server = TestServer::start(rt, Options::default());
        let report = node("deferred", &server.url, &[sample.arg(), "chunk=1048576"], &who);
        let sent = requests(&report);
        assert_eq!(sent[0]["headers"]["Upload-Defer-Length"], "1", "{who}: deferred\n{}", requests_text(&report));
        assert!(
            sent.iter()
                .any(|r| r["method"] == "PATCH"
                    && r["headers"]["Upload-Length"].as_str() == Some(&*sample.len.to_string())),
            "{who}: the length was declared on a PATCH\n{}",
            requests_text(&report)
        );
        assert_finished(&server, &id_of(&url_of(&report)), &sample, &who);
    }
}

#[test]
fn tus_js_client_abort_with_terminate_deletes_the_upload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = Sample::new(dir.path(), 30 * MIB);
    for rt in ALL {
        let who = format!("tus-js-client, abort(true), on {rt:?}");
        let server = TestServer::start(rt, Options::default());
        let report = node("abort", &server.url, &[sample.arg(), "chunk=1048576"], &who);
        assert_eq!(report["aborted"], true, "{who}: abort(true) resolved\n{}", requests_text(&report));
        let sent = requests(&report);
        assert!(
            sent.iter().any(|r| r["method"] == "DELETE" && r["status"] == 204),
            "{who}: a DELETE answered 204\n{}",
            requests_text(&report)
        );
        let id = id_of(&url_of(&report));
        let head = head_of(server.addr, &id);
        assert!(head.status == 404 || head.status == 410, "{who}: HEAD after the DELETE answered {}", head.status);
        let left = files_of(&server, &id);
        assert!(left.is_empty(), "{who}: files of the deleted upload remain: {left:?}");
        eprintln!("{who}: aborted at {} bytes sent; requests:\n{}", report["abortedAt"], requests_text(&report));
    }
}

/// The upload's data and record files (`<id>`, `<id>.meta`, their temporaries and `<id>.release`) left in uploads/
/// or completed/. Not the store's tombstone `uploads/.ended/<id>` (a one-line memo, `deleted`, so that HEAD answers
/// 410 rather than 404; the janitor forgets it later): that one is checked to say `deleted` when present.
fn files_of(server: &TestServer, id: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for dir in ["uploads", "completed"] {
        for entry in std::fs::read_dir(server.dir().join(dir)).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with(id) {
                found.push(entry.path());
            }
        }
    }
    let tombstone = server.dir().join("uploads/.ended").join(id);
    if let Ok(text) = std::fs::read_to_string(&tombstone) {
        if text.trim() != "deleted" {
            found.push(tombstone);
        }
    }
    found
}

#[test]
fn tus_js_client_resumes_a_finished_upload_without_sending_a_byte() {
    // tus-js-client in Node, with its FileUrlStorage and the default storeFingerprintForResuming (true) and
    // removeFingerprintOnSuccess (false): a second run for the same file finds the first upload and, the upload
    // being complete, must send only a HEAD — also once the file worker claimed the upload (a consumer took the
    // file; the client still asks about its URL).
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = Sample::new(dir.path(), 3 * MIB + 11);
    for (rt, worker) in [(Rt::Tokio, false), (Rt::Tokio, true), (Rt::Smol, true)] {
        let who = format!("tus-js-client, resume of a finished upload, on {rt:?}, worker {worker}");
        let server = TestServer::start(rt, Options { worker, ..Options::default() });
        let storage = dir.path().join(format!("tus-url-storage-{rt:?}-{worker}.json"));
        let storage = storage.to_str().expect("UTF-8 path");

        let first = node("resume", &server.url, &[sample.arg(), storage], &format!("{who}, first run"));
        assert_eq!(first["previous"], 0, "{who}: the first run finds nothing stored");
        assert_eq!(methods(&first), ["POST", "PATCH"], "{who}: first run\n{}", requests_text(&first));
        let url = url_of(&first);
        let id = id_of(&url);
        if worker {
            // Claimed: the worker saved data and record elsewhere and ended the claim (the completed files gone).
            let claimed = wait_until(Duration::from_secs(10), || {
                server.claimed_record(&id).is_some()
                    && !server.completed_file(&id).exists()
                    && server.completed_record(&id).is_none()
            });
            assert!(claimed, "{who}: the file worker did not claim {id} within 10 s");
            assert!(sha256_of(&server.claimed_file(&id)) == Some(sample.sha256), "{who}: claimed data");
        } else {
            assert!(wait_until(Duration::from_secs(10), || server.completed_file(&id).exists()), "{who}: finished");
            assert_finished(&server, &id, &sample, &who);
        }

        // A new node process: only the URL storage file carries over.
        let second = node("resume", &server.url, &[sample.arg(), storage], &format!("{who}, second run"));
        assert_eq!(second["previous"], 1, "{who}: the second run finds the first upload in the URL storage");
        let sent = methods(&second);
        assert!(
            !sent.iter().any(|m| m == "PATCH" || m == "POST"),
            "{who}: the second run sent data (or a new upload) for a finished upload:\n{}",
            requests_text(&second)
        );
        assert_eq!(sent, ["HEAD"], "{who}: second run\n{}", requests_text(&second));
        assert_eq!(url_of(&second), url, "{who}: the same upload");
        let len = sample.len as u64;
        assert_eq!(second["progress"], serde_json::json!([[len, len]]), "{who}: reported complete at once");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 6: tuspy

#[test]
fn tuspy_defaults_upload_a_file_over_10_mib_in_one_patch() {
    // tuspy's default chunk_size is sys.maxsize: one PATCH for the whole file. (clients.rs always sets chunk_size.)
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = Sample::new(dir.path(), 12 * MIB + 7);
    for rt in ALL {
        let who = format!("tuspy with defaults on {rt:?}");
        let server = TestServer::start(rt, Options::default());
        let (ok, out, err) = run_bounded(
            Command::new(python()).arg(clients_dir().join("everyday.py")).arg(&server.url).arg(sample.arg()),
            Duration::from_secs(120),
        );
        assert!(ok, "{who}: tuspy failed\nstdout: {out}\nstderr: {err}");
        let line = out.lines().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("{who}: no result in {out}"));
        let report: Value = serde_json::from_str(line).expect("JSON line");
        assert_finished(&server, &id_of(&url_of(&report)), &sample, &who);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Raw sockets

fn create(addr: SocketAddr, length: u64) -> String {
    common::create(addr, length, IO_TIMEOUT)
}

/// `HEAD /files/<id>` on a new connection.
fn head_of(addr: SocketAddr, id: &str) -> Reply {
    exchange(addr, &request("HEAD", &format!("/files/{id}"), &[], b""), IO_TIMEOUT)
}

/// The head of a creation-with-upload POST: an upload of `upload_length` bytes, a body of `content_length`, and the
/// `extra` header lines (each ending in CRLF).
fn post_with_upload(upload_length: u64, content_length: usize, extra: &str) -> String {
    format!(
        "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Length: {upload_length}\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {content_length}\r\n{extra}\r\n"
    )
}

/// Case 7: a client sends 2 MiB of an 8 MiB PATCH and falls silent with the connection open (a stalled or half-open
/// client). A HEAD 0.5 s later must report the 2 MiB the holder stored — within 1 s, which means taking the upload
/// over from the silent PATCH (or having it commit) rather than answering the last commit — and the client then
/// finishes from there.
#[test]
fn a_head_during_a_stalled_patch_reports_what_it_stored_within_a_second() {
    const TOTAL: usize = 8 * MIB;
    const SENT: usize = 2 * MIB;
    for rt in ALL {
        let server = TestServer::start(rt, Options::default());
        let data = pattern(TOTAL, 1);
        let id = create(server.addr, TOTAL as u64);

        let mut stalled = connect(server.addr, IO_TIMEOUT);
        stalled.write_all(&patch_head(&id, 0, TOTAL)).expect("PATCH head");
        stalled.write_all(&data[..SENT]).expect("2 MiB of the body");
        std::thread::sleep(Duration::from_millis(500));

        // HEAD, again while it answers less than 2 MiB, for at most 1 s from the first.
        let first_sent = Instant::now();
        let mut answers = Vec::new();
        let offset = loop {
            let sent = Instant::now();
            let reply = head_of(server.addr, &id);
            let took = sent.elapsed();
            assert_eq!(reply.status, 204, "{rt:?}: HEAD during the stalled PATCH");
            let offset: u64 = reply.header("upload-offset").and_then(|v| v.parse().ok()).expect("Upload-Offset");
            answers.push((offset, took));
            assert!(
                took <= Duration::from_millis(1500),
                "{rt:?}: a HEAD took {took:?} (bound 1.5 s); answers so far (offset, time): {answers:?}"
            );
            if offset >= SENT as u64 || first_sent.elapsed() >= Duration::from_secs(1) {
                break offset;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(
            offset, SENT as u64,
            "{rt:?}: HEAD within 1 s of the first one answers what the stalled PATCH stored; answers (offset, time): \
             {answers:?}"
        );
        eprintln!("{rt:?}: HEAD answers (offset, time) during the stalled PATCH: {answers:?}");

        let mut request = patch_head(&id, SENT as u64, TOTAL - SENT);
        request.extend_from_slice(&data[SENT..]);
        let reply = exchange(server.addr, &request, IO_TIMEOUT);
        assert_eq!(reply.status, 204, "{rt:?}: the rest from {SENT}: {}", reply.body);
        let stored = std::fs::read(server.completed_file(&id)).expect("finished file");
        assert!(Sha256::digest(&stored) == Sha256::digest(&data), "{rt:?}: the finished upload's sha256");

        // The stalled request lost the upload. What it is answered is only logged, not asserted: after a HEAD
        // takeover it is answered once the body read timeout cuts its silent body off (409, ~10 s here), so a
        // short look usually sees nothing yet.
        stalled.set_read_timeout(Some(Duration::from_secs(1))).expect("timeout");
        let answer = read_reply(&mut stalled, false).map(|r| r.status);
        eprintln!("{rt:?}: the stalled PATCH was answered {answer:?}");
    }
}

/// What a client that writes a whole refused body while reading the response saw.
struct Refusal {
    reply: io::Result<Reply>,
    /// When the response head was read.
    read_at: Option<Instant>,
    /// Bytes of the body written, and the write error with when it happened.
    written: usize,
    write_error: Option<(io::Error, Instant)>,
}

/// Sends `head` and a `body_len` body from a writer thread while this thread reads the response (an HTTP client
/// that streams its body and watches for an early response). Both directions have 20 s timeouts: a server that
/// neither reads nor closes shows up as a write timeout.
fn send_refused(addr: SocketAddr, head: &str, body_len: usize) -> Refusal {
    let mut stream = connect(addr, Duration::from_secs(20));
    let mut writing = stream.try_clone().expect("clone");
    let head = head.as_bytes().to_vec();
    let writer = std::thread::spawn(move || {
        let piece = pattern(256 * 1024, 2);
        if let Err(e) = writing.write_all(&head) {
            return (0, Some((e, Instant::now())));
        }
        let mut written = 0;
        while written < body_len {
            let n = piece.len().min(body_len - written);
            if let Err(e) = writing.write_all(&piece[..n]) {
                return (written, Some((e, Instant::now())));
            }
            written += n;
        }
        (written, None)
    });
    let reply = read_reply(&mut stream, false);
    let read_at = reply.is_ok().then(Instant::now);
    if reply.is_err() {
        // Unblock the writer at once: the outcome is known.
        let _ = stream.shutdown(Shutdown::Both);
    }
    let (written, write_error) = writer.join().expect("writer thread");
    Refusal { reply, read_at, written, write_error }
}

/// The client read a complete 413, and its writes either all went through or failed only after that.
fn assert_refused_and_read(refusal: Refusal, body_len: usize, who: &str) {
    let write = match &refusal.write_error {
        None => format!("wrote all {} bytes", refusal.written),
        Some((e, _)) => format!("write failed after {} of {body_len} bytes: {e} ({:?})", refusal.written, e.kind()),
    };
    let reply = match refusal.reply {
        Ok(reply) => reply,
        Err(e) => panic!("{who}: the client could not read the response: {e} ({:?}); {write}", e.kind()),
    };
    assert_eq!(reply.status, 413, "{who}: status ({}); {write}", reply.body);
    if let Some((error, failed_at)) = &refusal.write_error {
        let read_at = refusal.read_at.expect("read");
        assert!(
            *failed_at >= read_at,
            "{who}: the body's write failed ({error}, {:?}) {:?} before the 413 was read, after {} of {body_len} bytes",
            error.kind(),
            read_at - *failed_at,
            refusal.written
        );
    }
    eprintln!("{who}: read {} ({} body bytes); {write}", reply.status, reply.body.len());
}

/// Case 8: a refused body is drained: the client keeps writing while the server answers 413, and must read the 413
/// rather than a reset (a kernel that closes a socket with unread data sends RST, and the client's unread response
/// is lost with it).
#[test]
fn a_refused_body_is_drained_and_the_client_reads_the_413() {
    const BODY: usize = 24 * MIB;
    for rt in ALL {
        let options = Options { max_chunk_size: Some(10 * MIB as u64), ..Options::default() };
        let server = TestServer::start(rt, options);

        // A PATCH past the per-request limit (the upload is long enough: only the limit refuses it).
        let id = create(server.addr, 32 * MIB as u64);
        let head = format!(
            "PATCH /files/{id} HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n\
             Content-Type: application/offset+octet-stream\r\nContent-Length: {BODY}\r\n\r\n"
        );
        assert_refused_and_read(send_refused(server.addr, &head, BODY), BODY, &format!("{rt:?}: 24 MiB PATCH"));
        let reply = head_of(server.addr, &id);
        assert_eq!(reply.header("upload-offset"), Some("0"), "{rt:?}: a refused declared body stores nothing");

        // Creation-with-upload whose body is longer than the Upload-Length it declares.
        let head = post_with_upload(1000, BODY, "");
        assert_refused_and_read(send_refused(server.addr, &head, BODY), BODY, &format!("{rt:?}: 24 MiB POST"));
    }
}

const EXPECT_CONTINUE: &str = "Expect: 100-continue\r\n";

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// Case 9: creation-with-upload with `Expect: 100-continue` (as curl and .NET's HttpClient send a larger body): the
/// client sends the head alone and waits; the server, taking the body, answers `100 Continue`; the client sends the
/// body and reads the 201 of an upload that holds it.
#[test]
fn creation_with_upload_expecting_100_continue_gets_a_100_then_the_201() {
    const LEN: usize = 1000;
    let data = pattern(LEN, 3);
    for rt in ALL {
        let server = TestServer::start(rt, Options::default());
        // The read timeout bounds the wait for the 100 Continue: a server that never asks for the body fails here.
        let mut stream = connect(server.addr, Duration::from_secs(5));
        let head = post_with_upload(LEN as u64, LEN, EXPECT_CONTINUE);
        let sent = Instant::now();
        stream.write_all(head.as_bytes()).expect("the POST head");
        let interim = read_reply(&mut stream, false)
            .unwrap_or_else(|e| panic!("{rt:?}: no answer within 5 s to the head alone (the body not sent): {e}"));
        let waited = sent.elapsed();
        assert_eq!(interim.status, 100, "{rt:?}: the answer to the head alone: {:?}", interim.head);
        assert!(interim.head.starts_with("HTTP/1.1 100 Continue\r\n"), "{rt:?}: {:?}", interim.head);

        stream.write_all(&data).expect("the body");
        let reply = read_reply(&mut stream, false).expect("the response to the POST");
        assert_eq!(reply.status, 201, "{rt:?}: {:?} {}", reply.head, reply.body);
        assert_eq!(reply.header("upload-offset"), Some("1000"), "{rt:?}: {:?}", reply.head);
        let location = reply.header("location").unwrap_or_else(|| panic!("{rt:?}: no Location: {:?}", reply.head));
        let id = id_of(location);
        let head_reply = head_of(server.addr, &id);
        assert_eq!(head_reply.header("upload-offset"), Some("1000"), "{rt:?}: HEAD {location}: {:?}", head_reply.head);
        assert!(std::fs::read(server.completed_file(&id)).ok() == Some(data.clone()), "{rt:?}: the stored bytes");
        eprintln!(
            "{rt:?}: sent {head:?}; read {:?} after {waited:?}; sent {LEN} bytes; read {:?}",
            interim.head, reply.head
        );
    }
}

/// Case 10: a POST with `Expect: 100-continue` that the server refuses from its head alone (a 2000-byte body for a
/// 1000-byte upload) is answered at once with the final 413 and no `100 Continue` before it, so the client never
/// sends the body; nothing is created.
#[test]
fn a_post_expecting_100_continue_refused_by_its_head_gets_the_413_without_sending_the_body() {
    for rt in ALL {
        let server = TestServer::start(rt, Options::default());
        let before = files_under(server.dir());
        let mut stream = connect(server.addr, Duration::from_secs(5));
        let head = post_with_upload(1000, 2000, EXPECT_CONTINUE);
        stream.write_all(head.as_bytes()).expect("the POST head");
        let reply = read_reply(&mut stream, false)
            .unwrap_or_else(|e| panic!("{rt:?}: no answer within 5 s to the head alone (the body not sent): {e}"));
        assert_eq!(
            reply.status, 413,
            "{rt:?}: the first answer to the head alone, which must be final (no 100 Continue): {:?}",
            reply.head
        );
        // What the connection does next is only logged: hyper closes it, since the body it never asked for may
        // still come.
        stream.set_read_timeout(Some(Duration::from_secs(1))).expect("timeout");
        let mut rest = Vec::new();
        let after = stream.read_to_end(&mut rest).map(|_| String::from_utf8_lossy(&rest).into_owned());
        eprintln!("{rt:?}: sent {head:?}; read {:?} {:?}; then {after:?}", reply.head, reply.body);
        assert_eq!(files_under(server.dir()), before, "{rt:?}: the refused POST created files");
    }
}
