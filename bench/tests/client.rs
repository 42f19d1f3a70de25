//! The load generator against real servers: tussi (tus-tokio over the in-memory backend) in this process, over
//! HTTP/1.1 and HTTP/2 (h2c), and a scripted raw-socket server for the HTTP corners tussi never produces (relative
//! Location, chunked bodies, `Connection: close`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_lite::future::block_on;
use tus_bench::http::{Conn, Endpoint};
use tus_bench::workload::{self, UploadPlan};
use tus_hyper::tus_proto::UploadId;
use tus_hyper::{MemoryStore, ServeOptions, Store as _, TusApp};

/// tussi on tokio over a MemoryStore, on 127.0.0.1 and a free port; stopped when the sender is dropped.
fn start_tussi() -> (Endpoint, MemoryStore, tokio::sync::oneshot::Sender<()>, std::thread::JoinHandle<()>) {
    let backend = MemoryStore::new();
    let app = Arc::new(TusApp::builder(backend.clone()).base_path("/files").max_size(1 << 30).build().expect("app"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let shutdown = async move {
                let _ = stopped.await;
            };
            tus_tokio::serve(listener, app, ServeOptions::default(), shutdown).await;
        });
    });
    (Endpoint::parse(&format!("http://{addr}/files/")).expect("url"), backend, stop, thread)
}

/// The n-th id the in-memory store hands out (it numbers uploads sequentially).
fn memory_id(n: u128) -> UploadId {
    let hex = format!("{:032x}", 0x4000_8000_0000_0000_0000u128 | n);
    let text = format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]);
    UploadId::from_str(&text).expect("uuid")
}

#[test]
fn uploads_and_heads_against_tussi() {
    let (endpoint, backend, stop, thread) = start_tussi();
    let plan = UploadPlan {
        count: 24,
        size: 100_000,
        chunk: 30_000,
        concurrency: 4,
        create_only: false,
        max_time: Duration::from_secs(60),
    };
    let outcome = workload::uploads(&endpoint, &plan);
    assert_eq!(outcome.errors, 0, "{:?}", outcome.first_error);
    assert_eq!((outcome.ok, outcome.bytes, outcome.latency.count()), (24, 2_400_000, 24));
    assert!(!outcome.cut_short);
    assert_eq!(outcome.connects, 4, "one keep-alive connection per worker");
    // Every upload arrived whole, finished, with the generator's bytes.
    for n in 1..=24 {
        let state = block_on(backend.stat(memory_id(n))).expect("a finished upload");
        assert!(state.finished && state.offset == 100_000, "{state:?}");
        let data = backend.committed_bytes(memory_id(n)).expect("its bytes");
        assert_eq!(data.len(), 100_000);
        assert!(data.iter().all(|&b| b == 0x5a));
    }

    let created = workload::uploads(&endpoint, &UploadPlan { count: 10, create_only: true, ..plan });
    assert_eq!((created.ok, created.errors, created.bytes), (10, 0, 0));
    assert_eq!(block_on(backend.stat(memory_id(34))).expect("created").offset, 0);

    let target = workload::prepare_head_target(&endpoint).expect("HEAD target");
    let heads = tus_bench::evented::heads(&endpoint, &target, 3, Duration::from_millis(300));
    assert_eq!(heads.errors, 0, "{:?}", heads.first_error);
    assert!(heads.ok > 10, "{} HEADs", heads.ok);
    assert_eq!(heads.connects, 3);
    assert!(heads.latency.quantile(0.5) <= heads.latency.quantile(0.99));

    // A failing workload is reported as such and stays bounded: PATCHes beyond Upload-Length are refused.
    let mut conn = Conn::new(&endpoint.authority);
    let refused = conn.patch(&target, 1024, workload::body(), 10_000).expect("answer");
    assert_eq!(refused.status, 413);

    drop(stop);
    thread.join().expect("server thread");
}

/// Checks that uploads `first..=last` of the in-memory store are finished, `size` bytes of the generator's 0x5a.
fn assert_complete(backend: &MemoryStore, first: u128, last: u128, size: u64) {
    for n in first..=last {
        let state = block_on(backend.stat(memory_id(n))).expect("a finished upload");
        assert!(state.finished && state.offset == size, "upload {n}: {state:?}");
        let data = backend.committed_bytes(memory_id(n)).expect("its bytes");
        assert_eq!(data.len() as u64, size, "upload {n}");
        assert!(data.iter().all(|&b| b == 0x5a), "upload {n}");
    }
}

#[test]
fn uploads_over_http2_against_tussi() {
    let (endpoint, backend, stop, thread) = start_tussi();
    // One connection per client; PATCHes of 3 MB, far beyond the server's 64 KiB stream window (ServeOptions'
    // max_buf_size), so the body is sent under flow control.
    let plan = UploadPlan {
        count: 12,
        size: 7_000_000,
        chunk: 3_000_000,
        concurrency: 4,
        create_only: false,
        max_time: Duration::from_secs(60),
    };
    let outcome = tus_bench::http2::uploads(&endpoint, &plan, 4);
    assert_eq!(outcome.errors, 0, "{:?}", outcome.first_error);
    assert_eq!((outcome.ok, outcome.bytes, outcome.latency.count()), (12, 84_000_000, 12));
    assert!(!outcome.cut_short);
    assert_eq!(outcome.connects, 4, "one HTTP/2 connection per client");
    assert_complete(&backend, 1, 12, 7_000_000);

    // Many small uploads from 8 clients multiplexed on one connection.
    let small = UploadPlan { count: 200, size: 4096, chunk: 4096, concurrency: 8, ..plan.clone() };
    let outcome = tus_bench::http2::uploads(&endpoint, &small, 1);
    assert_eq!(outcome.errors, 0, "{:?}", outcome.first_error);
    assert_eq!((outcome.ok, outcome.bytes), (200, 200 * 4096));
    assert_eq!(outcome.connects, 1, "all clients' requests as streams on one connection");
    assert_complete(&backend, 13, 212, 4096);

    // Creation only: POSTs, no PATCH.
    let created = tus_bench::http2::uploads(&endpoint, &UploadPlan { count: 5, create_only: true, ..small }, 2);
    assert_eq!((created.ok, created.errors, created.bytes), (5, 0, 0), "{:?}", created.first_error);
    assert_eq!(block_on(backend.stat(memory_id(217))).expect("created").offset, 0);

    drop(stop);
    thread.join().expect("server thread");
    // The server is gone: every attempt fails fast and the count still bounds the run.
    let gone = UploadPlan { count: 3, size: 10, chunk: 10, concurrency: 2, ..plan };
    let outcome = tus_bench::http2::uploads(&endpoint, &gone, 2);
    assert_eq!((outcome.ok, outcome.errors), (0, 3));
}

#[test]
fn http2_is_spoken_with_prior_knowledge() {
    // A listener that reads what the client sends first: the HTTP/2 connection preface, no HTTP/1.1 upgrade.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/files/", listener.local_addr().expect("address"));
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let mut preface = [0; 24];
        stream.read_exact(&mut preface).expect("preface");
        preface
    });
    let plan = UploadPlan {
        count: 1,
        size: 10,
        chunk: 10,
        concurrency: 1,
        create_only: false,
        max_time: Duration::from_secs(30),
    };
    let outcome = tus_bench::http2::uploads(&Endpoint::parse(&url).expect("url"), &plan, 1);
    assert_eq!((outcome.ok, outcome.errors), (0, 1));
    assert_eq!(&server.join().expect("server"), b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
}

/// Serves `connections` connections one after another, answering each request with the next scripted response,
/// and returns the request lines it saw.
fn scripted_server(responses: Vec<&'static str>, connections: usize) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/files/", listener.local_addr().expect("address"));
    let thread = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut responses = responses.into_iter();
        for _ in 0..connections {
            let (stream, _) = listener.accept().expect("accept");
            stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut writer = stream;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                seen.push(line.trim_end().to_owned());
                let mut length = 0usize;
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).expect("header");
                    if header == "\r\n" {
                        break;
                    }
                    if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().expect("length");
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).expect("body");
                let Some(response) = responses.next() else { return seen };
                writer.write_all(response.as_bytes()).expect("write");
                if response.contains("Connection: close") {
                    break;
                }
            }
        }
        seen
    });
    (url, thread)
}

#[test]
fn relative_location_chunked_bodies_and_connection_close() {
    let (url, server) = scripted_server(
        vec![
            "HTTP/1.1 201 Created\r\nLocation: abc\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nUpload-Offset: 3000\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 204 No Content\r\nUpload-Offset: 5000\r\n\r\n",
        ],
        2,
    );
    let endpoint = Endpoint::parse(&url).expect("url");
    let plan = UploadPlan {
        count: 1,
        size: 5000,
        chunk: 3000,
        concurrency: 1,
        create_only: false,
        max_time: Duration::from_secs(30),
    };
    let outcome = workload::uploads(&endpoint, &plan);
    assert_eq!((outcome.ok, outcome.errors, outcome.bytes), (1, 0, 5000), "{:?}", outcome.first_error);
    assert_eq!(outcome.connects, 2, "reconnected after Connection: close");
    let seen = server.join().expect("server");
    assert_eq!(seen, ["POST /files/ HTTP/1.1", "PATCH /files/abc HTTP/1.1", "PATCH /files/abc HTTP/1.1"]);
}

#[test]
fn wrong_offsets_and_refused_connections_are_errors() {
    let (url, server) = scripted_server(
        vec![
            "HTTP/1.1 201 Created\r\nLocation: http://elsewhere/files/x\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 204 No Content\r\nUpload-Offset: 1\r\n\r\n",
        ],
        1,
    );
    let endpoint = Endpoint::parse(&url).expect("url");
    let plan = UploadPlan {
        count: 1,
        size: 10,
        chunk: 10,
        concurrency: 1,
        create_only: false,
        max_time: Duration::from_secs(30),
    };
    let outcome = workload::uploads(&endpoint, &plan);
    assert_eq!((outcome.ok, outcome.errors), (0, 1));
    assert!(
        outcome.first_error.as_deref().unwrap_or("").contains("Upload-Offset Some(1)"),
        "{:?}",
        outcome.first_error
    );
    assert_eq!(server.join().expect("server")[1], "PATCH /files/x HTTP/1.1");

    // Nothing listens any more: every attempt fails fast and the count still bounds the run.
    let outcome = workload::uploads(&endpoint, &UploadPlan { count: 50, concurrency: 2, ..plan });
    assert_eq!((outcome.ok, outcome.errors), (0, 50));
}

#[test]
fn head_load_counts_answers_and_replaces_failed_connections() {
    // Two good answers, a 404 (an error: the connection is replaced), then a good answer on the new connection;
    // then the server goes away, and refused connections count as errors until the error limit stops the load.
    let (url, server) = scripted_server(
        vec![
            "HTTP/1.1 200 OK\r\nUpload-Offset: 1\r\n\r\n",
            "HTTP/1.1 204 No Content\r\n\r\n",
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nUpload-Offset: 1\r\n\r\n",
        ],
        2,
    );
    let endpoint = Endpoint::parse(&url).expect("url");
    let outcome = tus_bench::evented::heads(&endpoint, "/files/x", 1, Duration::from_millis(500));
    assert_eq!((outcome.ok, outcome.errors), (3, tus_bench::workload::MAX_ERRORS), "{:?}", outcome.first_error);
    assert!(outcome.first_error.as_deref().unwrap_or("").contains("404"), "{:?}", outcome.first_error);
    assert!(outcome.cut_short && outcome.connects > 2);
    let seen = server.join().expect("server");
    assert_eq!(seen, ["HEAD /files/x HTTP/1.1"; 5]);
}
