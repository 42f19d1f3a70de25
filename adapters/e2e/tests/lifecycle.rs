//! The HTTP layer's own duties, on every runtime: graceful shutdown lets a request in flight finish, and a client
//! that never finishes its request head is disconnected after the header read timeout.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use tus_hyper::ServeOptions;
use tussi_e2e::{Options, TestServer, ALL};

fn send(stream: &mut TcpStream, text: &str) {
    stream.write_all(text.as_bytes()).expect("send");
}

fn read_all(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn shutdown_lets_a_request_in_flight_finish() {
    for rt in ALL {
        let server = TestServer::start(rt, Options::default());
        let addr = server.addr;
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        send(&mut stream, "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 10\r\n\r\n");
        let mut head = [0u8; 512];
        let n = stream.read(&mut head).expect("201");
        let created = String::from_utf8_lossy(&head[..n]).into_owned();
        let location = created.lines().find_map(|l| l.strip_prefix("location: ")).expect("location").trim().to_owned();
        let path = location.trim_start_matches(&format!("http://{addr}"));

        // Half a body, then shutdown starts, then the rest of the body: the request must still be served.
        send(
            &mut stream,
            &format!(
                "PATCH {path} HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n\
                 Content-Type: application/offset+octet-stream\r\nContent-Length: 10\r\n\r\nhello"
            ),
        );
        std::thread::sleep(Duration::from_millis(200));
        let stopping = std::thread::spawn(move || {
            let started = Instant::now();
            server.shutdown();
            started.elapsed()
        });
        std::thread::sleep(Duration::from_millis(300));
        send(&mut stream, "world");
        let answer = read_all(&mut stream);
        assert!(answer.starts_with("HTTP/1.1 204"), "{rt:?}: in-flight PATCH answered {answer:?}");
        assert!(answer.contains("upload-offset: 10"), "{rt:?}: {answer:?}");
        let took = stopping.join().expect("shutdown thread");
        assert!(took < Duration::from_secs(10), "{rt:?}: shutdown took {took:?}");
        assert!(TcpStream::connect(addr).is_err(), "{rt:?}: still accepting after shutdown");
    }
}

#[test]
fn a_request_head_that_never_ends_is_cut_off() {
    for rt in ALL {
        let mut serve = ServeOptions::default();
        serve.header_read_timeout = Duration::from_millis(500);
        let server = TestServer::start(rt, Options { serve, ..Options::default() });
        let mut stream = TcpStream::connect(server.addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let started = Instant::now();
        send(&mut stream, "HEAD /files/ HTTP/1.1\r\nHost: t\r\n"); // never finished
        let answer = read_all(&mut stream);
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(400), "{rt:?}: cut off too early ({waited:?})");
        assert!(waited < Duration::from_secs(5), "{rt:?}: not cut off in time ({waited:?})");
        assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{rt:?}: {answer:?}");
    }
}
