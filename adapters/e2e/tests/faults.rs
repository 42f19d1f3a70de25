//! Network faults over real sockets, on every runtime: a client cut off mid-PATCH, and a stale request taken
//! over by a resuming client.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use tussi_e2e::{Options, TestServer, ALL};

struct Reply {
    status: u16,
    headers: HashMap<String, String>,
}

/// Sends one request on a new connection and reads the response head (bodies here are short reasons).
fn exchange(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(15))).expect("timeout");
    stream.write_all(request).expect("send");
    read_reply(&mut stream)
}

fn read_reply(stream: &mut TcpStream) -> Reply {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("read response");
        assert_eq!(n, 1, "connection closed before the response head ended: {:?}", String::from_utf8_lossy(&raw));
        raw.push(byte[0]);
    }
    let text = String::from_utf8(raw).expect("ASCII head");
    let mut lines = text.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply { status, headers }
}

fn create(addr: SocketAddr, length: u64) -> String {
    let reply = exchange(
        addr,
        format!("POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Length: {length}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(reply.status, 201);
    reply.headers["location"].rsplit('/').next().expect("id").to_owned()
}

fn head_offset(addr: SocketAddr, id: &str) -> u64 {
    let reply = exchange(
        addr,
        format!("HEAD /files/{id} HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(reply.status, 204);
    reply.headers["upload-offset"].parse().expect("offset")
}

fn patch_head(id: &str, offset: u64, length: usize) -> String {
    format!(
        "PATCH /files/{id} HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    )
}

fn patch(addr: SocketAddr, id: &str, offset: u64, data: &[u8]) -> Reply {
    let mut request = patch_head(id, offset, data.len()).into_bytes();
    request.extend_from_slice(data);
    exchange(addr, &request)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31) ^ (i >> 9)) as u8).collect()
}

/// Waits until HEAD reports `expected` (the commit of a broken-off body happens just after the disconnect).
fn wait_for_offset(addr: SocketAddr, id: &str, expected: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let offset = head_offset(addr, id);
        if offset == expected || Instant::now() > deadline {
            return offset;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_client_cut_off_mid_patch_keeps_the_bytes_it_sent() {
    for rt in ALL {
        let server = TestServer::start(rt, Options::default());
        let data = pattern(1 << 20);
        let id = create(server.addr, data.len() as u64);

        let sent = 300 * 1024 + 17;
        let mut stream = TcpStream::connect(server.addr).expect("connect");
        stream.write_all(patch_head(&id, 0, data.len()).as_bytes()).expect("head");
        stream.write_all(&data[..sent]).expect("part of the body");
        stream.shutdown(Shutdown::Both).expect("cut off");
        drop(stream);

        assert_eq!(wait_for_offset(server.addr, &id, sent as u64), sent as u64, "{rt:?}: HEAD shows the stored bytes");
        let reply = patch(server.addr, &id, sent as u64, &data[sent..]);
        assert_eq!(reply.status, 204, "{rt:?}");
        let stored = std::fs::read(server.completed_file(&id)).expect("finished file");
        assert!(stored == data, "{rt:?}: the resumed upload is byte-identical");
    }
}

#[test]
fn a_client_cut_off_mid_way_through_a_small_body_keeps_the_bytes_it_sent() {
    // A body this small is read whole before the upload is opened: the cut lands while the request is still
    // reading, and what arrived must be committed all the same.
    for rt in ALL {
        let server = TestServer::start(rt, Options::default());
        let data = pattern(40 * 1024);
        let id = create(server.addr, data.len() as u64);

        let sent = 10 * 1024 + 17;
        let mut stream = TcpStream::connect(server.addr).expect("connect");
        stream.write_all(patch_head(&id, 0, data.len()).as_bytes()).expect("head");
        stream.write_all(&data[..sent]).expect("part of the body");
        std::thread::sleep(Duration::from_millis(100)); // the server is now waiting for the rest
        stream.shutdown(Shutdown::Both).expect("cut off");
        drop(stream);

        assert_eq!(wait_for_offset(server.addr, &id, sent as u64), sent as u64, "{rt:?}: HEAD shows the stored bytes");
        assert_eq!(patch(server.addr, &id, sent as u64, &data[sent..]).status, 204, "{rt:?}");
        let stored = std::fs::read(server.completed_file(&id)).expect("finished file");
        assert!(stored == data, "{rt:?}: the resumed upload is byte-identical");
    }
}

#[test]
fn a_stale_request_is_taken_over_within_the_bound() {
    for rt in ALL {
        let release_timeout = Duration::from_secs(3);
        let server = TestServer::start(rt, Options { release_timeout, ..Options::default() });
        let data = pattern(512 * 1024);
        let id = create(server.addr, data.len() as u64);

        // A stale request: half of its body, then silence with the connection open (a half-open client).
        let sent = 100 * 1024;
        let mut stale = TcpStream::connect(server.addr).expect("connect");
        stale.set_read_timeout(Some(Duration::from_secs(15))).expect("timeout");
        stale.write_all(patch_head(&id, 0, data.len()).as_bytes()).expect("head");
        stale.write_all(&data[..sent]).expect("part of the body");
        std::thread::sleep(Duration::from_millis(300));

        // The resuming client: HEAD, PATCH (which takes over), and a 409 carrying the offset the stale one stored.
        let started = Instant::now();
        let offset = head_offset(server.addr, &id);
        assert!(offset == 0 || offset == sent as u64, "{rt:?}: HEAD offset {offset}");
        let reply = patch(server.addr, &id, offset, &data[offset as usize..]);
        let taken_over = started.elapsed();
        let resume_at = match reply.status {
            204 => data.len() as u64,
            409 => reply.headers["upload-offset"].parse().expect("offset in 409"),
            other => panic!("{rt:?}: resuming PATCH answered {other}"),
        };
        assert_eq!(resume_at, if reply.status == 409 { sent as u64 } else { data.len() as u64 }, "{rt:?}");
        assert!(taken_over < release_timeout, "{rt:?}: served in {taken_over:?}, bound {release_timeout:?}");
        if reply.status == 409 {
            assert_eq!(patch(server.addr, &id, resume_at, &data[resume_at as usize..]).status, 204, "{rt:?}");
        }
        // The stale request was answered (it lost the upload) rather than left hanging.
        let stale_reply = read_reply(&mut stale);
        assert!(stale_reply.status >= 400, "{rt:?}: stale request answered {}", stale_reply.status);
        assert!(std::fs::read(server.completed_file(&id)).expect("finished") == data, "{rt:?}: data intact");
        eprintln!("{rt:?}: resuming request served in {taken_over:?}");
    }
}
