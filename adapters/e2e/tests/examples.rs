//! The serve examples of tokio and smol, run as their users run them (`--dest-dir`: the lifespan pattern, a file
//! worker and an hourly janitor beside the server): a file uploaded over a real socket lands in the destination
//! directory under its name, through the async worker. The examples are the binaries `cargo test` builds into
//! `target/<profile>/examples/`; run alone, this test builds them first.

mod common;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{create, exchange, octets, pattern, request, wait_until};

const TIMEOUT: Duration = Duration::from_secs(10);

/// A running example, killed when dropped.
struct Example(Child);

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The example binary `name` of `package`, built if this test runs without it.
fn example(package: &str, name: &str) -> PathBuf {
    // target/<profile>/deps/<this test> → target/<profile>/examples/<name>
    let exe = std::env::current_exe().expect("the test's path");
    let path = exe.parent().and_then(|deps| deps.parent()).expect("target dir").join("examples").join(name);
    if !path.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", package, "--example", name])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the example {name}");
    }
    path
}

/// Starts `binary` on a free port with a destination directory; returns it with the address it serves.
fn start(binary: &PathBuf, root: &std::path::Path) -> (Example, SocketAddr) {
    let mut child = Command::new(binary)
        .args(["--host", "127.0.0.1", "--port", "0", "--upload-dir"])
        .arg(root.join("uploads"))
        .arg("--dest-dir")
        .arg(root.join("dest"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example");
    let stderr = child.stderr.take().expect("stderr");
    let example = Example(child);
    // It says where it serves: "serving http://127.0.0.1:PORT/files/".
    let mut line = String::new();
    BufReader::new(stderr).read_line(&mut line).expect("the example's first line");
    let addr = line
        .trim()
        .strip_prefix("serving http://")
        .and_then(|rest| rest.strip_suffix("/files/"))
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
    (example, addr)
}

fn a_file_lands_in_the_destination(package: &str, name: &str) {
    let root = tempfile::tempdir().expect("temporary directory");
    std::fs::create_dir_all(root.path().join("dest")).expect("dest");
    let (_example, addr) = start(&example(package, name), root.path());
    let data = pattern(300_000, 7);
    let id = create(addr, data.len() as u64, TIMEOUT);
    // The creation had no metadata: send it again with a name, so that the worker has one to save under.
    let headers = [("Upload-Length", data.len().to_string()), ("Upload-Metadata", "filename ZXhhbXBsZS5iaW4=".into())];
    let reply = exchange(addr, &request("POST", "/files/", &headers, b""), TIMEOUT);
    assert_eq!(reply.status, 201, "{reply:?}");
    let named = reply.id().expect("Location");
    for upload in [&id, &named] {
        let headers = [("Upload-Offset", "0".to_owned()), octets(), ("Content-Length", data.len().to_string())];
        let reply = exchange(addr, &request("PATCH", &format!("/files/{upload}"), &headers, &data), TIMEOUT);
        assert_eq!(reply.status, 204, "{reply:?}");
    }
    let dest = root.path().join("dest");
    let landed = wait_until(Duration::from_secs(10), || dest.join("example.bin").is_file() && dest.join(&id).is_file());
    let listing: Vec<_> = std::fs::read_dir(&dest).expect("dest").flatten().map(|e| e.file_name()).collect();
    assert!(landed, "{name}: the worker saved both uploads: {listing:?}");
    assert!(std::fs::read(dest.join("example.bin")).expect("saved") == data, "{name}: the saved bytes");
    assert!(std::fs::read(dest.join(&id)).expect("saved") == data, "{name}: an unnamed upload is saved under its id");
    assert!(dest.join("example.bin.meta").is_file(), "{name}: the record beside it: {listing:?}");
}

#[test]
fn the_tokio_example_delivers_finished_uploads() {
    a_file_lands_in_the_destination("tus-tokio", "tokio-serve");
}

#[test]
fn the_smol_example_delivers_finished_uploads() {
    a_file_lands_in_the_destination("tus-smol", "smol-serve");
}
