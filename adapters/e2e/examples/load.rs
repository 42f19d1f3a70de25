//! A small load client: N concurrent uploads, each one POST and one PATCH of SIZE bytes, over raw keep-alive-free
//! connections. Prints the wall time and throughput. Used by `scripts/measure-rss.sh`.
//!
//! usage: load URL CONCURRENCY SIZE

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, concurrency, size] = &args[..] else {
        eprintln!("usage: load http://127.0.0.1:PORT/files/ CONCURRENCY SIZE");
        std::process::exit(2);
    };
    let authority = url.trim_start_matches("http://").split('/').next().expect("host:port").to_owned();
    let path = format!("/{}", url.trim_start_matches("http://").split_once('/').map_or("", |(_, p)| p));
    let (concurrency, size): (usize, usize) = (concurrency.parse().expect("count"), size.parse().expect("size"));
    let body: &'static [u8] = Box::leak(vec![0x5a; 64 * 1024].into_boxed_slice());
    let started = Instant::now();
    let threads: Vec<_> = (0..concurrency)
        .map(|_| {
            let (authority, path) = (authority.clone(), path.clone());
            std::thread::spawn(move || upload(&authority, &path, size, body))
        })
        .collect();
    let ok = threads.into_iter().map(|t| matches!(t.join(), Ok(true))).filter(|&done| done).count();
    let elapsed = started.elapsed();
    let mib = (concurrency * size) as f64 / (1024.0 * 1024.0);
    println!("{ok}/{concurrency} uploads of {size} B in {elapsed:.2?}: {:.1} MiB/s", mib / elapsed.as_secs_f64());
    if ok != concurrency {
        std::process::exit(1);
    }
}

fn request(authority: &str, head: &str, size: usize, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(authority).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(120))).expect("timeout");
    stream.write_all(head.as_bytes()).expect("head");
    let mut left = size;
    while left > 0 {
        let n = left.min(body.len());
        stream.write_all(&body[..n]).expect("body");
        left -= n;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

fn upload(authority: &str, path: &str, size: usize, body: &[u8]) -> bool {
    let created = request(
        authority,
        &format!("POST {path} HTTP/1.1\r\nHost: {authority}\r\nTus-Resumable: 1.0.0\r\nUpload-Length: {size}\r\nConnection: close\r\n\r\n"),
        0,
        body,
    );
    let Some(location) = created.lines().find_map(|l| l.strip_prefix("location: ")) else { return false };
    let target = location.trim().trim_start_matches(&format!("http://{authority}")).to_owned();
    let patched = request(
        authority,
        &format!(
            "PATCH {target} HTTP/1.1\r\nHost: {authority}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n\
             Content-Type: application/offset+octet-stream\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
        ),
        size,
        body,
    );
    patched.starts_with("HTTP/1.1 204")
}
