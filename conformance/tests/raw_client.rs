//! The raw HTTP/1.1 client against tiny scripted servers on 127.0.0.1: what it sends, what it parses, and that
//! every wait is bounded.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tus_conformance::client::Watch;
use tus_conformance::{
    AfterCut, ClientError, Connection, Framing, RawRequest, Timeouts, Transport, Url, WireTransport,
};

fn timeouts(io_ms: u64) -> Timeouts {
    Timeouts { connect: Duration::from_secs(2), io: Duration::from_millis(io_ms) }
}

/// Reads a request head (up to the empty line) from the stream.
fn read_head(s: &mut TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(_) => head.push(b[0]),
        }
    }
    head
}

/// Reads until end of stream (bounded by a read timeout).
fn read_all(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// Serves one connection with `handler` on a background thread; returns the address.
fn serve_one<F>(handler: F) -> String
where
    F: FnOnce(TcpStream) + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    thread::spawn(move || {
        if let Ok((s, _)) = listener.accept() {
            handler(s);
        }
    });
    addr
}

#[test]
fn decodes_chunked_body_with_extensions_and_trailers_then_reuses_the_connection() {
    let addr = serve_one(|mut s| {
        read_head(&mut s);
        s.write_all(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n\
              5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n",
        )
        .expect("write");
        read_head(&mut s);
        s.write_all(b"HTTP/1.1 204 No Content\r\nUpload-Offset: 5\r\n\r\n").expect("write");
    });
    let mut c = Connection::open(&addr, timeouts(2000)).expect("connect");
    let r = c.exchange(&RawRequest::new("GET", "/")).expect("response");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hello, world");
    assert_eq!(r.header("x-trailer"), Some("yes"));
    assert!(r.keep_alive);
    let r2 = c.exchange(&RawRequest::new("HEAD", "/")).expect("second response");
    assert_eq!((r2.status, r2.header("UPLOAD-OFFSET")), (204, Some("5")));
}

#[test]
fn head_response_with_content_length_has_no_body_and_interim_responses_are_recorded() {
    let addr = serve_one(|mut s| {
        read_head(&mut s);
        s.write_all(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 104 Upload Resumption Supported\r\nLocation: /files/x\r\n\r\n\
              HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nCache-Control: no-store\r\nCache-Control: private\r\n\r\n",
        )
        .expect("write");
        thread::sleep(Duration::from_millis(500));
    });
    let start = Instant::now();
    let mut c = Connection::open(&addr, timeouts(3000)).expect("connect");
    let r = c.exchange(&RawRequest::new("HEAD", "/files/x")).expect("response");
    assert!(start.elapsed() < Duration::from_millis(450), "waited for a body a HEAD response has not");
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_eq!(r.interim.iter().map(|i| i.status).collect::<Vec<_>>(), [100, 104]);
    assert_eq!(r.interim[1].headers.get("location"), Some("/files/x"));
    assert_eq!(r.headers.count("cache-control"), 2);
}

#[test]
fn body_delimited_by_close_and_content_length() {
    let addr = serve_one(|mut s| {
        read_head(&mut s);
        s.write_all(b"HTTP/1.0 200 OK\r\n\r\nuntil the end").expect("write");
    });
    let r = tus_conformance::client::one_shot(&addr, &RawRequest::new("GET", "/"), timeouts(2000)).expect("resp");
    assert_eq!(r.body, b"until the end");
    assert!(!r.keep_alive);

    let addr = serve_one(|mut s| {
        read_head(&mut s);
        s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbadEXTRA")
            .expect("write");
    });
    let r = tus_conformance::client::one_shot(&addr, &RawRequest::new("GET", "/"), timeouts(2000)).expect("resp");
    assert_eq!((r.status, r.body.as_slice(), r.keep_alive), (400, &b"bad"[..], false));
}

#[test]
fn a_silent_server_times_out_within_the_bound() {
    let addr = serve_one(|mut s| {
        read_head(&mut s);
        thread::sleep(Duration::from_secs(3));
    });
    let start = Instant::now();
    let mut c = Connection::open(&addr, timeouts(300)).expect("connect");
    let err = c.exchange(&RawRequest::new("GET", "/")).expect_err("no response");
    assert!(matches!(err, ClientError::Timeout(_)), "{err}");
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(280) && took < Duration::from_secs(2), "took {took:?}");
}

#[test]
fn a_server_that_hangs_up_or_babbles_is_reported() {
    let addr = serve_one(|mut s| {
        read_head(&mut s);
    });
    let err = tus_conformance::client::one_shot(&addr, &RawRequest::new("GET", "/"), timeouts(2000)).expect_err("");
    assert!(matches!(err, ClientError::Closed(0)), "{err}");

    let addr = serve_one(|mut s| {
        read_head(&mut s);
        s.write_all(b"SMTP ready\r\n\r\n").expect("write");
    });
    let err = tus_conformance::client::one_shot(&addr, &RawRequest::new("GET", "/"), timeouts(2000)).expect_err("");
    assert!(matches!(err, ClientError::Malformed(_)), "{err}");

    let addr = serve_one(|mut s| {
        read_head(&mut s);
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").expect("write");
    });
    let err = tus_conformance::client::one_shot(&addr, &RawRequest::new("GET", "/"), timeouts(2000)).expect_err("");
    assert!(matches!(err, ClientError::Closed(n) if n > 0), "{err}");
}

/// Captures everything the client sends on one connection, then answers 204.
fn capture_server(answer: bool) -> (String, mpsc::Receiver<Vec<u8>>) {
    let (tx, rx) = mpsc::channel();
    let addr = serve_one(move |mut s| {
        let got = if answer {
            let mut head = read_head(&mut s);
            // Read the rest that is already there (bounded), then answer.
            s.set_read_timeout(Some(Duration::from_millis(300))).expect("timeout");
            let mut buf = [0u8; 4096];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            let _ = s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n");
            head
        } else {
            read_all(&mut s)
        };
        let _ = tx.send(got);
    });
    (addr, rx)
}

#[test]
fn sends_duplicate_headers_and_a_lying_content_length_verbatim() {
    let (addr, rx) = capture_server(false);
    let mut req = RawRequest::new("PATCH", "/files/a b")
        .header("Upload-Offset", "0")
        .header("upload-offset", "3")
        .header("X-Odd", b"\xff\x01")
        .body(b"hello".to_vec());
    req.framing = Framing::Length(10);
    req.delivery.cut = Some((5, AfterCut::Close));
    let err = tus_conformance::client::one_shot(&addr, &req, timeouts(2000)).expect_err("cut");
    assert!(matches!(err, ClientError::CutOff(5)), "{err}");
    let got = rx.recv_timeout(Duration::from_secs(5)).expect("captured");
    let mut want = b"PATCH /files/a b HTTP/1.1\r\nUpload-Offset: 0\r\nupload-offset: 3\r\nX-Odd: \xff\x01\r\n".to_vec();
    want.extend_from_slice(b"Content-Length: 10\r\n\r\nhello");
    assert_eq!(got, want);
}

#[test]
fn cuts_a_body_off_and_half_closes_then_reads_the_answer() {
    let (addr, rx) = capture_server(true);
    let mut req = RawRequest::new("PATCH", "/u").body(b"0123456789".to_vec());
    req.delivery.cut = Some((4, AfterCut::HalfClose));
    let r = tus_conformance::client::one_shot(&addr, &req, timeouts(3000)).expect("answer after half-close");
    assert_eq!(r.status, 204);
    let got = rx.recv_timeout(Duration::from_secs(5)).expect("captured");
    assert!(got.ends_with(b"Content-Length: 10\r\n\r\n0123"), "{:?}", String::from_utf8_lossy(&got));
}

#[test]
fn encodes_chunked_bodies_with_trailers_and_paces_pieces() {
    let (addr, rx) = capture_server(true);
    let mut req = RawRequest::new("PATCH", "/u").body(b"hello world".to_vec());
    req.framing = Framing::Chunked { chunk: 5, trailers: vec![("Upload-Checksum".into(), b"sha1 xyz".to_vec())] };
    req.delivery.piece = Some(4);
    req.delivery.pause = Duration::from_millis(60);
    let start = Instant::now();
    let r = tus_conformance::client::one_shot(&addr, &req, timeouts(3000)).expect("answer");
    assert_eq!(r.status, 204);
    let wire = b"5\r\nhello\r\n5\r\n worl\r\n1\r\nd\r\n0\r\nUpload-Checksum: sha1 xyz\r\n\r\n";
    // Pieces of 4 bytes with 60 ms pauses between them.
    let pauses = wire.len().div_ceil(4) - 1;
    assert!(start.elapsed() >= Duration::from_millis(60 * pauses as u64 - 20));
    let got = rx.recv_timeout(Duration::from_secs(5)).expect("captured");
    let text = String::from_utf8_lossy(&got).to_string();
    assert!(text.contains("Transfer-Encoding: chunked\r\n\r\n"), "{text}");
    assert!(!text.contains("Content-Length"), "{text}");
    assert!(got.ends_with(wire), "{text}");
}

#[test]
fn watch_sees_the_server_closing_a_stalled_connection() {
    let addr = serve_one(|mut s| {
        read_head(&mut s);
        thread::sleep(Duration::from_millis(200));
        let _ = s.write_all(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n");
    });
    let mut c = Connection::open(&addr, timeouts(2000)).expect("connect");
    let mut req = RawRequest::new("PATCH", "/u").body(vec![7u8; 100]);
    req.delivery.cut = Some((10, AfterCut::Stall));
    assert_eq!(c.send(&req).expect("sent"), 10);
    match c.watch(Duration::from_secs(3)) {
        Watch::Closed(after, bytes) => {
            assert!(after >= Duration::from_millis(150) && after < Duration::from_secs(2), "{after:?}");
            assert!(bytes.starts_with(b"HTTP/1.1 408"));
        }
        Watch::Open(_) => panic!("the close was missed"),
    }
    // And an open connection is reported open at the end of the watch, within the bound.
    let addr = serve_one(|mut s| {
        read_head(&mut s);
        thread::sleep(Duration::from_secs(2));
    });
    let mut c = Connection::open(&addr, timeouts(2000)).expect("connect");
    c.send(&req).expect("sent");
    let start = Instant::now();
    assert_eq!(c.watch(Duration::from_millis(300)), Watch::Open(Vec::new()));
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn wire_transport_reuses_keep_alive_connections_and_reconnects_after_close() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        // First connection: two keep-alive answers, then a third answer that closes.
        for (i, stream) in listener.incoming().take(2).enumerate() {
            let mut s = stream.expect("accept");
            tx.send(i).expect("count");
            let answers: &[&[u8]] = if i == 0 {
                &[b"HTTP/1.1 204 No Content\r\n\r\n", b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"]
            } else {
                &[b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]
            };
            for a in answers {
                read_head(&mut s);
                s.write_all(a).expect("write");
            }
        }
    });
    let url = Url::parse(&format!("http://{addr}/files/")).expect("url");
    let mut wire = WireTransport::new(timeouts(2000), true);
    let statuses: Vec<u16> =
        (0..3).map(|_| wire.send(&url, &RawRequest::new("HEAD", "/files/")).expect("response").status).collect();
    assert_eq!(statuses, [204, 204, 200]);
    let connections: Vec<usize> = rx.try_iter().collect();
    assert_eq!(connections, [0, 1], "expected exactly two connections");
}
