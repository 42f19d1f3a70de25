//! tussi-upload's error handling against a scripted fake TUS server on 127.0.0.1 (one thread, std::net): a 503 and
//! a 423 are retried, a 409 is recovered by HEAD, a connection cut off mid-chunk (after part of it was stored) is
//! retried from the server's offset — and the server ends up with exactly the file.

mod common;

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{test_data, upload};

/// What the fake server does with one PATCH.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Answer with this status, storing nothing.
    Status(u16),
    /// Store the first half of the body, then close the connection without an answer.
    CutOff,
}

#[derive(Default)]
struct Fake {
    length: u64,
    data: Vec<u8>,
    faults: VecDeque<Option<Fault>>,
    log: Vec<String>,
}

/// Serves the fake until `stop`; every accept and read is bounded.
fn serve(listener: TcpListener, fake: Arc<Mutex<Fake>>, stop: Arc<AtomicBool>) {
    listener.set_nonblocking(true).unwrap();
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let _ = handle(stream, &fake);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn handle(stream: TcpStream, fake: &Mutex<Fake>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, _path) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            if h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let body_len: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut fake = fake.lock().unwrap();
        fake.log.push(method.clone());
        let response = match method.as_str() {
            "POST" => {
                let mut body = vec![0; body_len];
                reader.read_exact(&mut body)?;
                fake.length = header("upload-length").unwrap().parse().unwrap();
                "HTTP/1.1 201 Created\r\nLocation: /files/abc\r\nTus-Resumable: 1.0.0\r\nContent-Length: 0\r\n\r\n"
                    .to_owned()
            }
            "HEAD" => format!(
                "HTTP/1.1 200 OK\r\nUpload-Offset: {}\r\nUpload-Length: {}\r\nTus-Resumable: 1.0.0\r\nContent-Length: 0\r\n\r\n",
                fake.data.len(),
                fake.length
            ),
            "PATCH" => {
                let offset: usize = header("upload-offset").unwrap().parse().unwrap();
                let fault = fake.faults.pop_front().flatten();
                match fault {
                    Some(Fault::CutOff) => {
                        let mut half = vec![0; body_len / 2];
                        reader.read_exact(&mut half)?;
                        assert_eq!(offset, fake.data.len());
                        fake.data.extend_from_slice(&half);
                        fake.log.push(format!("cut off after {}", half.len()));
                        return Ok(()); // drops the connection
                    }
                    Some(Fault::Status(status)) => {
                        let mut body = vec![0; body_len];
                        reader.read_exact(&mut body)?;
                        let extra = if status == 409 { format!("Upload-Offset: {}\r\n", fake.data.len()) } else { String::new() };
                        format!("HTTP/1.1 {status} Fault\r\n{extra}Tus-Resumable: 1.0.0\r\nContent-Length: 5\r\n\r\nfault")
                    }
                    None => {
                        let mut body = vec![0; body_len];
                        reader.read_exact(&mut body)?;
                        if offset != fake.data.len() {
                            format!("HTTP/1.1 409 Conflict\r\nUpload-Offset: {}\r\nContent-Length: 0\r\n\r\n", fake.data.len())
                        } else {
                            fake.data.extend_from_slice(&body);
                            format!("HTTP/1.1 204 No Content\r\nUpload-Offset: {}\r\nTus-Resumable: 1.0.0\r\n\r\n", fake.data.len())
                        }
                    }
                }
            }
            _ => "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n".to_owned(),
        };
        drop(fake);
        stream.write_all(response.as_bytes())?;
        stream.flush()?;
    }
}

#[test]
fn retries_and_recovers_until_the_server_has_the_file() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/files/", listener.local_addr().unwrap());
    let fake = Arc::new(Mutex::new(Fake::default()));
    {
        let mut f = fake.lock().unwrap();
        // PATCH 1 ok, 2 → 503, 3 ok, 4 → 409 (sent at a stale offset, as it were), 5 ok, 6 cut off mid-chunk,
        // 7 → 423, then all ok.
        f.faults = VecDeque::from([
            None,
            Some(Fault::Status(503)),
            None,
            Some(Fault::Status(409)),
            None,
            Some(Fault::CutOff),
            Some(Fault::Status(423)),
        ]);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let (fake, stop) = (fake.clone(), stop.clone());
        std::thread::spawn(move || serve(listener, fake, stop))
    };

    let tmp = tempfile::tempdir().unwrap();
    let data = test_data(10 * 1000 + 7, 11);
    std::fs::write(tmp.path().join("f.bin"), &data).unwrap();
    let started = Instant::now();
    let run = upload(tmp.path(), &["--url", &url, "--file", "f.bin", "--chunk-size", "1000"], Duration::from_secs(60));
    stop.store(true, Ordering::Relaxed);
    server.join().unwrap();

    assert_eq!(run.code(), 0, "{run:?}");
    let fake = fake.lock().unwrap();
    assert!(fake.data == data, "the fake server's bytes differ");
    assert!(run.stderr.contains("HTTP 503"), "{}", run.stderr);
    assert!(run.stderr.contains("HTTP 423 Locked: fault; retry 2/5 in 1.0s"), "failures in a row: {}", run.stderr);
    assert!(run.stderr.contains("offset conflict"), "{}", run.stderr);
    assert!(fake.log.iter().any(|l| l == "cut off after 500"), "{:?}", fake.log);
    // Each retry and recovery is followed by a HEAD: three retries (503, cut-off, 423) and the 409.
    assert_eq!(fake.log.iter().filter(|l| *l == "HEAD").count(), 4, "{:?}", fake.log);
    // Backoff: 0.5 s after each failure in a row (503; cut-off then 423 → 0.5 s + 1 s).
    assert!(started.elapsed() >= Duration::from_millis(2000), "{:?}", started.elapsed());
}
