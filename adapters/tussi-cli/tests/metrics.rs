//! `tussi-server --metrics ADDR`: a scrape before and after some uploads sees each counter move by what happened.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::{header, request, Server};

/// The value of the sample `name` (with its labels, as written) in a scrape; 0 when absent.
fn sample(scrape: &str, name: &str) -> f64 {
    scrape.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok()).unwrap_or(0.0)
}

fn scrape(addr: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect to the metrics listener");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("metrics response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// Creates an upload of `data`'s length and sends it in one PATCH; its path.
fn upload(server: &Server, data: &str) -> String {
    let (status, response) = request(server, &format!("POST /files/ HTTP/1.1\nUpload-Length: {}\n", data.len()));
    assert_eq!(status, 201, "{response}");
    let location = header(&response, "location").expect("Location");
    let path = location[location.find("/files/").expect("path")..].to_owned();
    let patch = format!(
        "PATCH {path} HTTP/1.1\nUpload-Offset: 0\nContent-Type: application/offset+octet-stream\n\
         Content-Length: {}\n\n{data}",
        data.len()
    );
    // `request` appends its own headers after the head it is given: put the body after them instead.
    let (head, body) = patch.split_once("\n\n").expect("head and body");
    let (status, response) = request_with_body(server, head, body);
    assert_eq!(status, 204, "{response}");
    path
}

fn request_with_body(server: &Server, head: &str, body: &str) -> (u16, String) {
    let authority = server.url.strip_prefix("http://").and_then(|rest| rest.split('/').next()).expect("URL");
    let mut stream = TcpStream::connect(authority).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = head.replace('\n', "\r\n");
    write!(stream, "{head}\r\nHost: {authority}\r\nTus-Resumable: 1.0.0\r\nConnection: close\r\n\r\n{body}").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status line");
    (status, response)
}

#[test]
fn counters_move_by_what_happened() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), &["--metrics", &addr]);
    let before = scrape(&addr);
    // A client connection, open with no request yet, counts as open.
    let authority = server.url.strip_prefix("http://").and_then(|rest| rest.split('/').next()).expect("URL");
    let idle = TcpStream::connect(authority).expect("connect");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while sample(&scrape(&addr), "tussi_connections_open") < 1.0 {
        assert!(std::time::Instant::now() < deadline, "the open connection is never counted");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(idle);

    upload(&server, "hello world");
    upload(&server, "abc");
    let (status, response) = request(&server, "POST /files/ HTTP/1.1\nUpload-Length: 10\n");
    assert_eq!(status, 201, "{response}");
    let location = header(&response, "location").expect("Location");
    let path = &location[location.find("/files/").expect("path")..];
    assert_eq!(request(&server, &format!("DELETE {path} HTTP/1.1\n")).0, 204);
    assert_eq!(request(&server, "HEAD /files/00000000-0000-4000-8000-000000000000 HTTP/1.1\n").0, 404);

    // A PATCH that goes silent after 3 of its 100,000 bytes (more than the driver reads whole before it opens the
    // upload), and a HEAD meanwhile: the silent request lets go (a takeover), commits what it stored, and the HEAD
    // answers with it.
    let (status, response) = request(&server, "POST /files/ HTTP/1.1\nUpload-Length: 100000\n");
    assert_eq!(status, 201, "{response}");
    let location = header(&response, "location").expect("Location");
    let silent_path = location[location.find("/files/").expect("path")..].to_owned();
    let mut silent = TcpStream::connect(authority).expect("connect");
    write!(
        silent,
        "PATCH {silent_path} HTTP/1.1\r\nHost: {authority}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: 100000\r\n\r\nabc"
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let (status, response) = request(&server, &format!("HEAD {silent_path} HTTP/1.1\n"));
    assert_eq!((status, header(&response, "upload-offset")), (204, Some("3")), "{response}");
    drop(silent);

    // The silent PATCH ends a moment after it let go: wait for it to be counted.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut after = scrape(&addr);
    while sample(&after, "tussi_requests_in_flight") != 0.0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        after = scrape(&addr);
    }
    let moved = |name: &str| sample(&after, name) - sample(&before, name);
    assert_eq!(moved("tussi_uploads_created_total"), 4.0, "{after}");
    assert_eq!(moved("tussi_takeovers_total"), 1.0, "{after}");
    assert_eq!(moved("tussi_uploads_finished_total"), 2.0);
    assert_eq!(moved("tussi_uploads_terminated_total"), 1.0);
    assert_eq!(moved("tussi_bytes_received_total"), 17.0);
    assert_eq!(moved("tussi_requests_total{method=\"PATCH\",status=\"204\"}"), 2.0);
    assert_eq!(moved("tussi_requests_total{method=\"POST\",status=\"201\"}"), 4.0);
    assert_eq!(moved("tussi_requests_total{method=\"HEAD\",status=\"404\"}"), 1.0);
    assert!(moved("tussi_storage_seconds_count{operation=\"commit\"}") >= 2.0, "{after}");
    assert_eq!(sample(&after, "tussi_requests_in_flight"), 0.0);
    // Every connection closed (each request above closed its own): none counts as open any more.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while sample(&scrape(&addr), "tussi_connections_open") != 0.0 {
        assert!(std::time::Instant::now() < deadline, "closed connections still counted as open");
        std::thread::sleep(Duration::from_millis(20));
    }
}
