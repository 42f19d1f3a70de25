//! HTTP/2 over cleartext with prior knowledge (h2c), next to HTTP/1.1 on the same port: an upload through curl.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{test_data, wait_for_file, Server};

/// Runs curl with HTTP/2 prior knowledge; its stdout (headers with `-i`).
fn curl(args: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["--http2-prior-knowledge", "--silent", "--show-error", "--max-time", "30", "-i"])
        .args(args)
        .output()
        .expect("curl (Debian's curl package)");
    assert!(output.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn header<'r>(response: &'r str, name: &str) -> Option<&'r str> {
    response.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(str::trim)
}

#[test]
fn an_upload_over_h2c_lands_whole() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), &[]);
    let data = test_data(3 * 1024 * 1024 + 17, 5);
    let file = root.path().join("h2c.bin");
    std::fs::write(&file, &data).unwrap();
    let length = data.len().to_string();

    let created = curl(&[
        "-X",
        "POST",
        "-H",
        "Tus-Resumable: 1.0.0",
        "-H",
        &format!("Upload-Length: {length}"),
        "-H",
        "Upload-Metadata: filename aDJjLmJpbg==",
        &server.url,
    ]);
    assert!(created.starts_with("HTTP/2 201"), "{created}");
    let location = header(&created, "location").expect("Location").to_owned();

    let body = format!("@{}", file.display());
    let patched = curl(&[
        "-X",
        "PATCH",
        "-H",
        "Tus-Resumable: 1.0.0",
        "-H",
        "Upload-Offset: 0",
        "-H",
        "Content-Type: application/offset+octet-stream",
        "--data-binary",
        &body,
        &location,
    ]);
    assert!(patched.starts_with("HTTP/2 204"), "{patched}");
    assert_eq!(header(&patched, "upload-offset"), Some(length.as_str()));

    let saved = server.dest.join("h2c.bin");
    assert!(wait_for_file(&saved, Duration::from_secs(10)), "the worker saved the upload");
    assert!(std::fs::read(&saved).unwrap() == data, "the bytes arrived whole over HTTP/2");
}
