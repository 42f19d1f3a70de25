//! Runs the axum example (built by `cargo test` beside this test) and uploads through it: the tower Service mounted
//! with `nest_service("/files", …)` behind a bearer-token middleware, and the worker that collects finished uploads.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Example(Child);

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().and_then(|deps| deps.parent()).expect("target dir").join("examples").join("axum")
}

fn exchange(addr: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

#[test]
fn uploads_pass_the_bearer_check_and_get_locations_under_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(example_binary())
        .arg("127.0.0.1:0")
        .env("TOKEN", "s3cret")
        .env("TUSSI_DIR", dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the axum example (built by cargo test)");
    let stderr = child.stderr.take().expect("stderr");
    let _example = Example(child);
    // The banner names the address; the example's tasks may log before it.
    let banner = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .find(|line| line.contains("serving http://"))
        .expect("banner");
    let addr = banner.split("http://").nth(1).and_then(|s| s.split('/').next()).expect("address in banner").to_owned();

    let post = |auth: &str| {
        exchange(
            &addr,
            &format!(
                "POST /files/ HTTP/1.1\r\nHost: {addr}\r\n{auth}Tus-Resumable: 1.0.0\r\nUpload-Length: 5\r\n\
                 Connection: close\r\n\r\n"
            ),
        )
    };
    assert!(post("").starts_with("HTTP/1.1 401"), "no token, no upload");
    assert!(post("Authorization: Bearer wrong\r\n").starts_with("HTTP/1.1 401"));
    let options = exchange(&addr, "OPTIONS /files/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(options.starts_with("HTTP/1.1 204") && options.contains("tus-version: 1.0.0"), "{options}");

    let created = post("Authorization: Bearer s3cret\r\n");
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    let location = created.lines().find_map(|l| l.strip_prefix("location: ")).expect("Location").trim().to_owned();
    let prefix = format!("http://{addr}/files/");
    assert!(location.starts_with(&prefix), "Location {location} is under the mount point");
    let path = location.trim_start_matches(&format!("http://{addr}"));
    let patched = exchange(
        &addr,
        &format!(
            "PATCH {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer s3cret\r\nTus-Resumable: 1.0.0\r\n\
             Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: 5\r\n\
             Connection: close\r\n\r\nhello"
        ),
    );
    assert!(patched.starts_with("HTTP/1.1 204") && patched.contains("upload-offset: 5"), "{patched}");
    // The example's worker claims the finished upload and saves it under its id.
    let id = location.rsplit('/').next().expect("id");
    let saved = dir.path().join("done").join(id);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !saved.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(std::fs::read(&saved).expect("the worker saved the finished upload"), b"hello");
    let completed = dir.path().join("completed").join(id);
    assert!(!completed.exists(), "the claim ended: nothing left in the completed directory");
}
