//! `serve_on_threads`: connections are dealt out to the serving threads in turn, each served start to end on its
//! thread, and shutdown lets a request in flight finish before it returns.
#![allow(missing_docs)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tus_tokio::tus_hyper::{MemoryStore, ServeOptions, TusApp};
use tus_tokio::{serve_on_threads, Threads};

const CREATE: &[u8] =
    b"POST /files HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 5\r\nContent-Length: 0\r\n\r\n";

/// Sends `request` and reads one response head (no body: the test requests have none).
async fn exchange(stream: &mut TcpStream, request: &[u8]) -> String {
    stream.write_all(request).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "connection closed mid-response: {head:?}");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Serves `app` from two threads on a free port: its address, the shutdown trigger and the serving task.
async fn start(app: TusApp<MemoryStore>) -> (SocketAddr, oneshot::Sender<()>, JoinHandle<std::io::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let threads = Threads { serving: 2, io: 2 };
    let server = tokio::spawn(serve_on_threads(listener, Arc::new(app), threads, ServeOptions::default(), async {
        let _ = stopped.await;
    }));
    (addr, stop, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_dealt_out_in_turn_and_served_on_their_thread() {
    // Each creation event is delivered on the thread that serves the request.
    let served_on = Arc::new(Mutex::new(Vec::new()));
    let log = served_on.clone();
    let app = TusApp::builder(MemoryStore::new())
        .base_path("/files")
        .on_event(move |_event| {
            log.lock().unwrap().push(std::thread::current().name().unwrap_or("?").to_owned());
            async { Ok(()) }
        })
        .build()
        .unwrap();
    let (addr, stop, server) = start(app).await;

    let mut connections = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        // Two requests per connection: a kept-alive connection stays on its thread.
        for _ in 0..2 {
            let head = exchange(&mut stream, CREATE).await;
            assert!(head.starts_with("HTTP/1.1 201"), "{head}");
        }
        connections.push(stream);
    }
    let names = served_on.lock().unwrap().clone();
    assert_eq!(names.len(), 8, "{names:?}");
    for pair in names.chunks(2) {
        assert_eq!(pair[0], pair[1], "both requests of a connection on one thread: {names:?}");
    }
    let firsts: Vec<&str> = names.iter().step_by(2).map(String::as_str).collect();
    assert_eq!(firsts, ["tus-serve-0", "tus-serve-1", "tus-serve-0", "tus-serve-1"], "dealt out in turn");

    stop.send(()).unwrap();
    let returned = tokio::time::timeout(Duration::from_secs(10), server).await.expect("shutdown in time");
    returned.unwrap().unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "no longer accepting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_request_in_flight_finish() {
    let app = TusApp::builder(MemoryStore::new()).base_path("/files").build().unwrap();
    let (addr, stop, server) = start(app).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let created = exchange(&mut stream, CREATE).await;
    let location = created.lines().find_map(|line| line.strip_prefix("location: ")).expect("location").to_owned();
    let path = location.split_once("//").and_then(|(_, rest)| rest.split_once('/')).map(|(_, p)| p).unwrap();
    // A PATCH whose body is still on its way when shutdown begins.
    let head = format!(
        "PATCH /{path} HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: 5\r\n\r\nab"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!server.is_finished(), "shutdown waits for the request in flight");
    let answer = exchange(&mut stream, b"cde").await;
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    assert!(answer.contains("upload-offset: 5"), "{answer}");
    tokio::time::timeout(Duration::from_secs(10), server).await.expect("shutdown in time").unwrap().unwrap();
}
