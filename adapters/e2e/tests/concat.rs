//! The concatenation extension over real sockets, on every runtime.
//!
//! - A `POST` with `Upload-Concat: partial` creates a partial upload; once complete it reads as finished (`HEAD`:
//!   `Upload-Offset` = length, `Upload-Concat: partial`), but stays in the upload directory: never in the completed
//!   directory, never claimed by a worker, no `Completed` event.
//! - A `POST` with `Upload-Concat: final;<url> …` (absolute URLs and paths mixed, one partial named twice) assembles
//!   the partials in order into one finished upload with the final's own metadata: 201 with `Location`, the bytes
//!   are the parts' in order, `HEAD` echoes `Upload-Concat: final;/files/<id> …`, a `PATCH` is refused 403, one
//!   `Completed` event, claimed once by the worker; the partials are gone (`HEAD` 404, no files left).
//! - A final naming anything but finished partials (unknown, an ordinary upload finished or not, an unfinished
//!   partial unless the server announces concatenation-unfinished, a URL of another endpoint), or carrying
//!   `Upload-Length` or a body, is refused 400 and creates nothing; the finished partials it named stay usable.
//! - Finals racing for the same partials: one is assembled, the others are refused 400 with nothing left behind.
//! - tus-js-client with `parallelUploads: 4` uploads a 64 MiB file: four partial POSTs, one final POST, exactly one
//!   upload claimed (the final, with the file's sha256 and name), nothing left in the upload directory.
//!
//! Raw requests each go on a new connection with `Connection: close`, with read and write timeouts; the client
//! process runs under a deadline and is killed by its PID past it (common/mod.rs).

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{clients_dir, exchange, node_prefix, octets, pattern, request, run_bounded, wait_until, Reply};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tus_hyper::tus_proto::Event;
use tus_hyper::tus_storage::UploadRecord;
use tussi_e2e::{Options, TestServer, ALL};

/// Bound on every socket read and write.
const IO_TIMEOUT: Duration = Duration::from_secs(20);
/// The bound on the tus-js-client run (64 MiB on loopback takes seconds); past it the client is killed by its PID.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(180);
const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------------------------------------------------------
// Raw HTTP

/// Sends a request with `headers`, and `body` with its `Content-Length` when not empty (common/mod.rs: `request`,
/// `exchange`).
fn send(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> Reply {
    let mut headers = headers.to_vec();
    if !body.is_empty() {
        headers.push(("Content-Length", body.len().to_string()));
    }
    exchange(addr, &request(method, path, &headers, body), IO_TIMEOUT)
}

fn post(addr: SocketAddr, headers: &[(&str, String)], body: &[u8]) -> Reply {
    send(addr, "POST", "/files/", headers, body)
}

/// `POST` of a partial upload of `length` (with `data` as creation-with-upload when not empty); returns its id.
fn create_partial(addr: SocketAddr, length: usize, data: &[u8], who: &str) -> String {
    let mut headers = vec![("Upload-Concat", "partial".to_owned()), ("Upload-Length", length.to_string())];
    if !data.is_empty() {
        headers.push(octets());
    }
    let reply = post(addr, &headers, data);
    assert_eq!(reply.status, 201, "{who}: partial POST: {reply:?}");
    assert_eq!(reply.offset().unwrap_or(0), data.len() as u64, "{who}: partial POST: {reply:?}");
    reply.id().unwrap_or_else(|| panic!("{who}: partial POST without Location: {reply:?}"))
}

/// `POST` of an ordinary upload of `length`; returns its id.
fn create_ordinary(addr: SocketAddr, length: usize, who: &str) -> String {
    let reply = post(addr, &[("Upload-Length", length.to_string())], b"");
    assert_eq!(reply.status, 201, "{who}: POST: {reply:?}");
    reply.id().unwrap_or_else(|| panic!("{who}: POST without Location: {reply:?}"))
}

fn patch(addr: SocketAddr, id: &str, offset: usize, body: &[u8]) -> Reply {
    send(addr, "PATCH", &format!("/files/{id}"), &[("Upload-Offset", offset.to_string()), octets()], body)
}

fn patch_ok(addr: SocketAddr, id: &str, offset: usize, body: &[u8], who: &str) {
    let reply = patch(addr, id, offset, body);
    assert_eq!((reply.status, reply.offset()), (204, Some((offset + body.len()) as u64)), "{who}: PATCH: {reply:?}");
}

fn head(addr: SocketAddr, id: &str) -> Reply {
    send(addr, "HEAD", &format!("/files/{id}"), &[], b"")
}

/// `POST` of a final upload with `Upload-Concat: final;<parts>` and `extra` headers.
fn post_final(addr: SocketAddr, parts: &str, extra: &[(&str, String)], body: &[u8]) -> Reply {
    let mut headers = vec![("Upload-Concat", format!("final;{parts}"))];
    headers.extend_from_slice(extra);
    post(addr, &headers, body)
}

fn metadata_header(name: &str) -> (&'static str, String) {
    ("Upload-Metadata", format!("filename {}", STANDARD.encode(name)))
}

// ---------------------------------------------------------------------------------------------------------------
// Data and directories

/// The files in `dir` and its subdirectories, as paths relative to it, sorted; without `.ended` (where the store
/// remembers ended uploads); none if it is missing. An empty subdirectory lists nothing.
fn names(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return names };
    for entry in entries {
        let entry = entry.expect("directory entry");
        let name = entry.file_name().into_string().expect("UTF-8 name");
        if name == ".ended" {
            continue;
        }
        if entry.file_type().expect("file type").is_dir() {
            names.extend(names_in(&entry.path()).into_iter().map(|inner| format!("{name}/{inner}")));
        } else {
            names.push(name);
        }
    }
    names.sort();
    names
}

/// [`names`] of a subdirectory (where `.ended` is an ordinary name).
fn names_in(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let entry = entry.expect("directory entry");
        let name = entry.file_name().into_string().expect("UTF-8 name");
        if entry.file_type().expect("file type").is_dir() {
            names.extend(names_in(&entry.path()).into_iter().map(|inner| format!("{name}/{inner}")));
        } else {
            names.push(name);
        }
    }
    names
}

/// The names in `dir` that belong to upload `id` (its data, record, temporaries).
fn files_of(dir: &Path, id: &str) -> Vec<String> {
    names(dir).into_iter().filter(|name| name.contains(id)).collect()
}

/// A partial upload: `HEAD` answers 204 with `Upload-Concat: partial`, its length, and `offset`.
fn assert_partial(addr: SocketAddr, id: &str, length: usize, offset: usize, who: &str) {
    let reply = head(addr, id);
    assert_eq!(reply.status, 204, "{who}: HEAD of partial {id}: {reply:?}");
    assert_eq!(reply.header("upload-concat"), Some("partial"), "{who}: HEAD of partial {id}: {reply:?}");
    assert_eq!(reply.header("upload-length"), Some(length.to_string().as_str()), "{who}: {reply:?}");
    assert_eq!(reply.offset(), Some(offset as u64), "{who}: HEAD of partial {id}: {reply:?}");
}

/// A complete partial upload stays in the upload directory: not published to the completed one.
fn assert_kept_back(dir: &Path, id: &str, who: &str) {
    assert_eq!(files_of(&dir.join("uploads"), id), [id.to_owned(), format!("{id}.meta")], "{who}: partial {id}");
    assert!(files_of(&dir.join("completed"), id).is_empty(), "{who}: partial {id} was published as completed");
}

/// The parts are gone: `HEAD` 404, no file of theirs in either directory.
fn assert_gone(addr: SocketAddr, dir: &Path, ids: &[&str], who: &str) {
    for id in ids {
        let reply = head(addr, id);
        assert_eq!(reply.status, 404, "{who}: HEAD of assembled partial {id}: {reply:?}");
        for sub in ["uploads", "completed"] {
            assert!(files_of(&dir.join(sub), id).is_empty(), "{who}: files of assembled partial {id} left in {sub}/");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Recorded events (`Options::record_events`)

fn describe(event: &Event) -> String {
    match event {
        Event::Created { upload } => format!("created {}", upload.id),
        Event::Progress { upload, .. } => format!("progress {}", upload.id),
        Event::Completed { upload } => format!("completed {}", upload.id),
        Event::Terminated { id } => format!("terminated {id}"),
        Event::Failed { id, .. } => format!("failed {id}"),
        #[allow(unreachable_patterns)]
        other => format!("other {other:?}"),
    }
}

/// The events of upload `id`, in order, as `"<kind> <id>"`.
fn events_of(server: &TestServer, id: &str) -> Vec<String> {
    server.events().iter().map(describe).filter(|e| e.ends_with(id)).collect()
}

/// Every `Completed` event so far, as `"completed <id>"`.
fn completions(server: &TestServer) -> Vec<String> {
    server.events().iter().map(describe).filter(|e| e.starts_with("completed ")).collect()
}

// ---------------------------------------------------------------------------------------------------------------
// The rules, over raw sockets

#[test]
fn partial_uploads_are_assembled_in_order_into_a_final_upload() {
    for rt in ALL {
        let who = format!("{rt:?}");
        let server = TestServer::start(rt, Options { record_events: true, ..Options::default() });
        let addr = server.addr;

        let reply = exchange(addr, b"OPTIONS /files/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", IO_TIMEOUT);
        let extensions = reply.header("tus-extension").unwrap_or_else(|| panic!("{who}: no Tus-Extension: {reply:?}"));
        assert!(extensions.split(',').any(|e| e.trim() == "concatenation"), "{who}: Tus-Extension: {extensions}");

        // a: read whole by the server, sent in two PATCHes; b: streamed, sent with the POST (creation-with-upload);
        // e: empty (complete at creation); c: streamed, one PATCH.
        let (a, b, c) = (pattern(40 * 1024 + 3, 1), pattern(3 * MIB + 5, 2), pattern(MIB + 1, 3));
        let id_a = create_partial(addr, a.len(), b"", &who);
        assert_partial(addr, &id_a, a.len(), 0, &who);
        patch_ok(addr, &id_a, 0, &a[..1000], &who);
        assert_partial(addr, &id_a, a.len(), 1000, &who);
        patch_ok(addr, &id_a, 1000, &a[1000..], &who);
        let id_b = create_partial(addr, b.len(), &b, &who);
        let id_e = create_partial(addr, 0, b"", &who);
        let id_c = create_partial(addr, c.len(), b"", &who);
        assert_partial(addr, &id_c, c.len(), 0, &who);
        patch_ok(addr, &id_c, 0, &c, &who);

        // Complete partials read as finished, stay in the upload directory, and completed nothing.
        for (id, len) in [(&id_a, a.len()), (&id_b, b.len()), (&id_e, 0), (&id_c, c.len())] {
            assert_partial(addr, id, len, len, &who);
            assert_kept_back(server.dir(), id, &who);
            let events = events_of(&server, id);
            assert_eq!(events.first().map(String::as_str), Some(format!("created {id}").as_str()), "{who}");
            assert!(!events.iter().any(|e| e.starts_with("completed")), "{who}: a partial completed: {events:?}");
        }
        assert!(completions(&server).is_empty(), "{who}: {:?}", completions(&server));
        assert!(names(&server.dir().join("completed")).is_empty(), "{who}: nothing is published");

        // The final: absolute URLs and paths mixed, `a` named twice, its own metadata.
        let url = |id: &str| format!("http://{addr}/files/{id}");
        let parts = format!("{} /files/{id_b} {} /files/{id_a} {}", url(&id_a), url(&id_e), url(&id_c));
        let reply = post_final(addr, &parts, &[metadata_header("joined.bin")], b"");
        assert_eq!(reply.status, 201, "{who}: final POST: {reply:?}");
        let id = reply.id().unwrap_or_else(|| panic!("{who}: final POST without Location: {reply:?}"));
        let expected = [&a[..], &b[..], &[][..], &a[..], &c[..]].concat();

        // Its bytes are the parts', in order, and its record carries the final's metadata.
        let stored = std::fs::read(server.dir().join("completed").join(&id))
            .unwrap_or_else(|e| panic!("{who}: the final is not finished: {e}"));
        assert_eq!(stored.len(), expected.len(), "{who}: the final's length");
        assert!(stored == expected, "{who}: the final's bytes are not the parts' in order");
        let record = UploadRecord::from_file(server.dir().join("completed").join(format!("{id}.meta")))
            .unwrap_or_else(|e| panic!("{who}: the final's record: {e}"));
        assert_eq!(record.metadata.get("filename"), Some("joined.bin"), "{who}: the final's metadata");
        assert_eq!(record.length, Some(expected.len() as u64), "{who}: the final's recorded length");

        // HEAD: finished, with the parts as paths of this endpoint, in order.
        let reply = head(addr, &id);
        assert_eq!(reply.status, 204, "{who}: HEAD of the final: {reply:?}");
        assert_eq!(reply.offset(), Some(expected.len() as u64), "{who}: HEAD of the final: {reply:?}");
        assert_eq!(reply.header("upload-length"), Some(expected.len().to_string().as_str()), "{who}: {reply:?}");
        let echoed = format!("final;/files/{id_a} /files/{id_b} /files/{id_e} /files/{id_a} /files/{id_c}");
        assert_eq!(reply.header("upload-concat"), Some(echoed.as_str()), "{who}: HEAD of the final: {reply:?}");
        let metadata = metadata_header("joined.bin").1;
        assert_eq!(reply.header("upload-metadata"), Some(metadata.as_str()), "{who}: HEAD of the final: {reply:?}");

        // A final takes no PATCH, at its end or anywhere else.
        for offset in [expected.len(), 0] {
            let reply = patch(addr, &id, offset, b"more");
            assert_eq!(reply.status, 403, "{who}: PATCH at {offset} of the final: {reply:?}");
        }
        assert!(std::fs::read(server.dir().join("completed").join(&id)).ok() == Some(expected), "{who}: unchanged");

        // Created and completed once; the partials are gone, and the upload directory is empty.
        assert_eq!(
            events_of(&server, &id),
            [format!("created {id}"), format!("completed {id}")],
            "{who}: final's events"
        );
        assert_eq!(completions(&server), [format!("completed {id}")], "{who}: the only completion");
        assert_gone(addr, server.dir(), &[&id_a, &id_b, &id_e, &id_c], &who);
        assert!(names(&server.dir().join("uploads")).is_empty(), "{who}: {:?}", names(&server.dir().join("uploads")));
        assert_eq!(names(&server.dir().join("completed")), [id.clone(), format!("{id}.meta")], "{who}");
    }
}

/// An id of the same form as `id` that names no upload (its last hex digit changed).
fn unknown_like(id: &str) -> String {
    let mut chars: Vec<char> = id.chars().collect();
    let last = chars.iter().rposition(char::is_ascii_hexdigit).expect("a hex digit in the id");
    chars[last] = if chars[last] == '0' { '1' } else { '0' };
    chars.into_iter().collect()
}

/// A refused creation: `Upload-Concat`, other headers, body.
type Case<'a> = (String, Vec<(&'a str, String)>, &'a [u8]);

#[test]
fn a_final_naming_anything_but_finished_partials_is_refused_and_creates_nothing() {
    for rt in ALL {
        let who = format!("{rt:?}");
        let server = TestServer::start(rt, Options::default());
        let addr = server.addr;
        let data = pattern(100_000, 4);

        let finished_partial = create_partial(addr, data.len(), &data, &who);
        let unfinished_partial = create_partial(addr, 10, b"", &who);
        patch_ok(addr, &unfinished_partial, 0, &data[..3], &who);
        let finished = create_ordinary(addr, 5, &who);
        patch_ok(addr, &finished, 0, &data[..5], &who);
        let unfinished = create_ordinary(addr, 10, &who);
        patch_ok(addr, &unfinished, 0, &data[..3], &who);
        let unknown = unknown_like(&finished_partial);
        assert_eq!(head(addr, &unknown).status, 404, "{who}: {unknown} is unknown");

        let good = format!("/files/{finished_partial}");
        let mut cases: Vec<Case<'_>> = vec![
            // What the parts are.
            (format!("final;/files/{unknown}"), vec![], b""),
            (format!("final;{good} /files/{unknown}"), vec![], b""),
            (format!("final;{good} /files/{finished}"), vec![], b""),
            (format!("final;/files/{unfinished} {good}"), vec![], b""),
            (format!("final;/elsewhere/{finished_partial}"), vec![], b""),
            (format!("final;{good} /files/not-an-id"), vec![], b""),
            ("final;".to_owned(), vec![], b""),
            ("final; ".to_owned(), vec![], b""),
            ("whole".to_owned(), vec![("Upload-Length", "5".to_owned())], b""),
            // What a final must not carry.
            (format!("final;{good}"), vec![("Upload-Length", data.len().to_string())], b""),
            (format!("final;{good}"), vec![("Upload-Defer-Length", "1".to_owned())], b""),
            (format!("final;{good}"), vec![octets()], b"bytes"),
        ];
        // An unfinished partial is a part like any other where the server offers concatenation-unfinished.
        let reply = exchange(addr, b"OPTIONS /files/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", IO_TIMEOUT);
        let extensions = reply.header("tus-extension").unwrap_or_default().to_owned();
        if !extensions.split(',').any(|e| e.trim() == "concatenation-unfinished") {
            cases.push((format!("final;{good} /files/{unfinished_partial}"), vec![], b""));
            cases.push((format!("final;http://{addr}/files/{unfinished_partial}"), vec![], b""));
        }
        let uploads = server.dir().join("uploads");
        let completed = server.dir().join("completed");
        let before = (names(&uploads), names(&completed));
        for (concat, extra, body) in cases {
            let mut headers = vec![("Upload-Concat", concat.clone())];
            headers.extend(extra);
            let reply = post(addr, &headers, body);
            let case = format!("{who}: Upload-Concat: {concat} (with {:?})", &headers[1..]);
            assert_eq!(reply.status, 400, "{case}: {reply:?}");
            assert!(reply.header("location").is_none(), "{case}: nothing is created: {reply:?}");
            assert!(!reply.body.trim().is_empty(), "{case}: a reason: {reply:?}");
            assert_eq!((names(&uploads), names(&completed)), before, "{case}: the directories changed");
        }

        // Everything named is as it was, and the finished partial still assembles.
        assert_partial(addr, &finished_partial, data.len(), data.len(), &who);
        assert_partial(addr, &unfinished_partial, 10, 3, &who);
        assert_eq!(head(addr, &unfinished).offset(), Some(3), "{who}");
        assert_eq!(std::fs::read(server.completed_file(&finished)).ok().as_deref(), Some(&data[..5]), "{who}");
        let reply = post_final(addr, &good, &[], b"");
        assert_eq!(reply.status, 201, "{who}: the final of the finished partial alone: {reply:?}");
        let id = reply.id().expect("Location");
        assert!(std::fs::read(server.completed_file(&id)).ok() == Some(data), "{who}: the final's bytes");
        assert_gone(addr, server.dir(), &[&finished_partial], &who);
    }
}

#[test]
fn the_worker_never_claims_a_partial_and_claims_the_final_once() {
    for rt in ALL {
        let who = format!("{rt:?}");
        let server = TestServer::start(rt, Options { worker: true, ..Options::default() });
        let addr = server.addr;
        let (one, two, plain) = (pattern(200_000, 5), pattern(2 * MIB + 7, 6), pattern(1000, 7));

        // A complete partial, then an ordinary upload: the worker claims oldest first, so once it has the ordinary
        // one it has passed the partial by.
        let first = create_partial(addr, one.len(), &one, &who);
        let ordinary = create_ordinary(addr, plain.len(), &who);
        patch_ok(addr, &ordinary, 0, &plain, &who);
        let claimed = wait_until(Duration::from_secs(10), || server.claimed_record(&ordinary).is_some());
        assert!(claimed, "{who}: the worker did not claim the ordinary upload within 10 s");
        std::thread::sleep(Duration::from_millis(600)); // one more claim round of the worker
        assert!(!server.claimed_file(&first).exists(), "{who}: the worker claimed a partial upload");
        assert_partial(addr, &first, one.len(), one.len(), &who);
        assert_kept_back(server.dir(), &first, &who);

        let second = create_partial(addr, two.len(), b"", &who);
        patch_ok(addr, &second, 0, &two, &who);
        let reply = post_final(addr, &format!("/files/{first} /files/{second}"), &[metadata_header("f.bin")], b"");
        assert_eq!(reply.status, 201, "{who}: final POST: {reply:?}");
        let id = reply.id().expect("Location");
        let claimed = wait_until(Duration::from_secs(10), || server.claimed_record(&id).is_some());
        assert!(claimed, "{who}: the worker did not claim the final within 10 s");
        let emptied = wait_until(Duration::from_secs(10), || {
            names(&server.dir().join("uploads")).is_empty() && names(&server.dir().join("completed")).is_empty()
        });
        assert!(emptied, "{who}: left behind: {:?}", names(&server.dir().join("uploads")));
        let mut expected_claims = vec![ordinary.clone(), format!("{ordinary}.meta"), id.clone(), format!("{id}.meta")];
        expected_claims.sort();
        assert_eq!(names(&server.dir().join("claimed")), expected_claims, "{who}: claimed exactly these");
        let stored = std::fs::read(server.claimed_file(&id)).expect("claimed final");
        assert!(stored == [&one[..], &two[..]].concat(), "{who}: the claimed final's bytes");
        let record = server.claimed_record(&id).expect("claimed record");
        assert_eq!(record.metadata.get("filename"), Some("f.bin"), "{who}: the claimed final's metadata");
        assert_gone(addr, server.dir(), &[&first, &second], &who);
        // Claimed, it still reads as finished.
        let reply = head(addr, &id);
        assert_eq!((reply.status, reply.offset()), (204, Some(stored.len() as u64)), "{who}: {reply:?}");
    }
}

#[test]
fn finals_racing_for_the_same_partials_assemble_them_once() {
    // Several finals naming the same partials at once: one is assembled, the others find the partials taken or
    // gone and are refused like any final naming something that is not a finished partial — with nothing created.
    for rt in ALL {
        let who = format!("{rt:?}");
        let server = TestServer::start(rt, Options::default());
        let addr = server.addr;
        let (one, two) = (pattern(32 * MIB, 9), pattern(32 * MIB + 1, 10));
        let first = create_partial(addr, one.len(), b"", &who);
        patch_ok(addr, &first, 0, &one, &who);
        let second = create_partial(addr, two.len(), b"", &who);
        patch_ok(addr, &second, 0, &two, &who);
        let parts = format!("/files/{first} /files/{second}");
        let start = Arc::new(std::sync::Barrier::new(4));
        let racers: Vec<JoinHandle<Reply>> = (0..4)
            .map(|_| {
                let (start, parts) = (start.clone(), parts.clone());
                std::thread::spawn(move || {
                    start.wait();
                    post_final(addr, &parts, &[], b"")
                })
            })
            .collect();
        let replies: Vec<Reply> = racers.into_iter().map(|r| r.join().expect("racer")).collect();
        let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
        let winners: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
        assert_eq!(winners.len(), 1, "{who}: one final is assembled: {statuses:?}\n{replies:#?}");
        for reply in replies.iter().filter(|r| r.status != 201) {
            assert_eq!(reply.status, 400, "{who}: the others are refused: {reply:?}");
            assert!(reply.header("location").is_none(), "{who}: {reply:?}");
        }
        let id = winners[0].id().expect("Location");
        assert!(std::fs::read(server.completed_file(&id)).ok() == Some([one, two].concat()), "{who}: its bytes");
        assert_gone(addr, server.dir(), &[&first, &second], &who);
        let uploads = names(&server.dir().join("uploads"));
        assert!(uploads.is_empty(), "{who}: the refused finals left {uploads:?} ({statuses:?})");
        assert_eq!(names(&server.dir().join("completed")), [id.clone(), format!("{id}.meta")], "{who}: {statuses:?}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// tus-js-client with parallelUploads

fn sha256_of(path: &Path) -> [u8; 32] {
    Sha256::digest(std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).into()
}

fn node_parallel(endpoint: &str, file: &Path, parallel: usize, who: &str) -> Value {
    let started = Instant::now();
    let (ok, out, err) = run_bounded(
        Command::new("node")
            .arg(clients_dir().join("parallel.mjs"))
            .arg(endpoint)
            .arg(file)
            .arg(parallel.to_string())
            .env("TUS_NODE_PREFIX", node_prefix()),
        CLIENT_TIMEOUT,
    );
    eprintln!("{who}: tus-js-client took {:?}", started.elapsed());
    let report: Option<Value> =
        out.lines().rev().find(|l| l.starts_with('{')).and_then(|l| serde_json::from_str(l).ok());
    match report {
        Some(report) if ok => report,
        Some(report) => {
            panic!("{who}: tus-js-client failed: {}\nrequests:\n{report:#}\nstderr: {err}", report["error"])
        }
        None => panic!("{who}: no report from parallel.mjs (exit ok: {ok})\nstdout: {out}\nstderr: {err}"),
    }
}

#[test]
fn tus_js_client_uploads_64_mib_in_4_parallel_partials() {
    let sample_dir = tempfile::tempdir().expect("tempdir");
    let file: PathBuf = sample_dir.path().join("parallel-64MiB.bin");
    let len = 64 * MIB;
    std::fs::write(&file, pattern(len, 8)).expect("sample");
    let sha256 = sha256_of(&file);
    for rt in ALL {
        let who = format!("tus-js-client parallelUploads: 4 on {rt:?}");
        let server = TestServer::start(rt, Options { worker: true, ..Options::default() });
        let report = node_parallel(&server.url, &file, 4, &who);
        let requests = report["requests"].as_array().cloned().unwrap_or_default();
        let listing = requests.iter().map(Value::to_string).collect::<Vec<_>>().join("\n");
        let concat = |r: &Value| r["headers"]["Upload-Concat"].as_str().map(str::to_owned);

        // Four partial POSTs, each answered 201, whose lengths add up to the file's.
        // (tus-js-client sends `Upload-Concat: partial` with the partials' PATCHes too.)
        let partials: Vec<&Value> =
            requests.iter().filter(|r| r["method"] == "POST" && concat(r).as_deref() == Some("partial")).collect();
        assert_eq!(partials.len(), 4, "{who}: partial POSTs\n{listing}");
        let mut total = 0;
        for r in &partials {
            assert_eq!((r["method"].as_str(), r["status"].as_u64()), (Some("POST"), Some(201)), "{who}: {r}");
            total += r["headers"]["Upload-Length"].as_str().and_then(|v| v.parse::<usize>().ok()).expect("length");
        }
        assert_eq!(total, len, "{who}: the partials' lengths\n{listing}");
        let partial_ids: Vec<String> = partials
            .iter()
            .map(|r| r["location"].as_str().and_then(|l| l.rsplit('/').next()).expect("Location").to_owned())
            .collect();

        // One final POST, the last request, naming the four (their order shows in the sha256 below).
        let finals: Vec<&Value> =
            requests.iter().filter(|r| concat(r).is_some_and(|c| c.starts_with("final;"))).collect();
        assert_eq!(finals.len(), 1, "{who}: final POSTs\n{listing}");
        let last = requests.last().expect("requests");
        assert_eq!(last, finals[0], "{who}: the final POST comes last\n{listing}");
        assert_eq!((last["method"].as_str(), last["status"].as_u64()), (Some("POST"), Some(201)), "{who}: {last}");
        assert!(last["headers"].get("Upload-Length").is_none(), "{who}: the final POST has no length: {last}");
        let final_concat = concat(last).expect("final");
        let mut sorted_named: Vec<&str> = final_concat
            .trim_start_matches("final;")
            .split(' ')
            .map(|url| url.rsplit('/').next().expect("id"))
            .collect();
        sorted_named.sort();
        let mut sorted_partials: Vec<&str> = partial_ids.iter().map(String::as_str).collect();
        sorted_partials.sort();
        assert_eq!(sorted_named, sorted_partials, "{who}: the final names the four partials\n{listing}");
        for r in requests.iter().filter(|r| r["method"] == "PATCH") {
            assert_eq!(r["status"].as_u64(), Some(204), "{who}: {r}");
            let target = r["url"].as_str().and_then(|u| u.rsplit('/').next()).expect("PATCH URL");
            assert!(partial_ids.iter().any(|p| p == target), "{who}: PATCH of no partial: {r}");
        }
        let others = requests.iter().filter(|r| r["method"] != "PATCH" && r["method"] != "POST").count();
        assert_eq!(others, 0, "{who}: only POSTs and PATCHes\n{listing}");

        // Exactly one upload claimed, the final: the file's bytes and name; nothing left behind.
        let url = report["url"].as_str().unwrap_or_else(|| panic!("{who}: no url in {report}"));
        let id = url.rsplit('/').next().expect("id").to_owned();
        let claimed = wait_until(Duration::from_secs(30), || server.claimed_record(&id).is_some());
        assert!(claimed, "{who}: the worker did not claim the final {id} within 30 s");
        let emptied = wait_until(Duration::from_secs(10), || {
            names(&server.dir().join("uploads")).is_empty() && names(&server.dir().join("completed")).is_empty()
        });
        assert!(emptied, "{who}: left in uploads/: {:?}", names(&server.dir().join("uploads")));
        assert_eq!(names(&server.dir().join("claimed")), [id.clone(), format!("{id}.meta")], "{who}: claimed");
        assert!(sha256_of(&server.claimed_file(&id)) == sha256, "{who}: the claimed file's sha256 differs");
        let record = server.claimed_record(&id).expect("record");
        assert_eq!(record.metadata.get("filename"), Some("parallel-64MiB.bin"), "{who}: the final's metadata");
        assert_eq!(record.length, Some(len as u64), "{who}: the final's length");
        let ids: Vec<&str> = partial_ids.iter().map(String::as_str).collect();
        assert_gone(server.addr, server.dir(), &ids, &who);
    }
}
