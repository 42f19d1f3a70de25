//! Operating `tussi-server`: the health endpoint load balancers poll, and a bounded graceful shutdown.

mod common;

use std::io::Write as _;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{request, Server};

#[test]
fn the_health_endpoint_says_whether_the_storage_takes_files() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), &[]);
    let (status, response) = request(&server, "GET /healthz HTTP/1.1\n");
    assert_eq!(status, 200, "{response}");
    assert!(response.ends_with("ok\n"), "{response}");
    // The upload directory gone under the running server: not ready, and the log says why.
    std::fs::remove_dir_all(&server.uploads).unwrap();
    let (status, response) = request(&server, "GET /healthz HTTP/1.1\n");
    assert_eq!(status, 503, "{response}");
    let deadline = Instant::now() + Duration::from_secs(5);
    let uploads = server.uploads.display().to_string();
    while !server.log().iter().any(|l| l.contains("health check") && l.contains(&uploads)) {
        assert!(Instant::now() < deadline, "no log line with the cause:\n{:#?}", server.log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn shutdown_waits_for_requests_in_flight_at_most_the_configured_time() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), &["--shutdown-timeout", "1"]);
    let (status, response) = request(&server, "POST /files/ HTTP/1.1\nUpload-Length: 10\n");
    assert_eq!(status, 201, "{response}");
    let location = common::header(&response, "location").expect("Location");
    let path = &location[location.find("/files/").expect("path")..];
    // A PATCH that sends 2 of its 10 bytes and goes silent: it would hold the server for the body read timeout
    // (30 s) without the bound.
    let authority = server.url.strip_prefix("http://").and_then(|rest| rest.split('/').next()).expect("URL");
    let mut stalled = TcpStream::connect(authority).expect("connect");
    write!(
        stalled,
        "PATCH {path} HTTP/1.1\r\nHost: {authority}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: 10\r\n\r\nab"
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let (status, _) = server.terminate();
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(6), "shut down after {:?}", started.elapsed());
    drop(stalled);
}
