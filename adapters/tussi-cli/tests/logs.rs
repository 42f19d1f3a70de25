//! What `tussi-server` tells its operator: every refusal (4xx) at info with method, path, status and reason, and
//! every server error (5xx) with its cause — the operation, the path and the OS or record error — on its default
//! log level.

mod common;

use std::time::{Duration, Instant};

use common::{header, request, Server};

/// Creates an upload of `length` bytes and returns its path.
fn create(server: &Server, length: u64) -> String {
    let (status, response) = request(server, &format!("POST /files/ HTTP/1.1\nUpload-Length: {length}\n"));
    assert_eq!(status, 201, "{response}");
    let location = header(&response, "location").expect("Location");
    location.split_once("//").and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned())).expect("path")
}

/// Waits (bounded) for a log line that contains every one of `parts`.
fn logged(server: &Server, parts: &[&str]) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(line) = server.log().into_iter().find(|line| parts.iter().all(|p| line.contains(p))) {
            return Some(line);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn refusals_are_logged_with_their_reason_and_server_errors_with_their_cause() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), &[]);
    let path = create(&server, 10);

    // A refusal: the wrong offset.
    let patch = format!(
        "PATCH {path} HTTP/1.1\nUpload-Offset: 5\nContent-Type: application/offset+octet-stream\nContent-Length: 0\n"
    );
    assert_eq!(request(&server, &patch).0, 409);
    let line = logged(&server, &["request refused", "PATCH", &path, "409", "Upload-Offset does not match"]);
    assert!(line.as_deref().is_some_and(|l| l.contains("INFO")), "no info line for the 409 in:\n{:#?}", server.log());

    // A server error: the upload's record damaged on disk. The client gets a short reason; the log gets the cause.
    let id = path.rsplit('/').next().unwrap();
    let record = server.uploads.join(format!("{id}.meta"));
    std::fs::write(&record, "{\"length\":").unwrap();
    let (status, response) = request(&server, &format!("HEAD {path} HTTP/1.1\n"));
    assert_eq!(status, 500, "{response}");
    assert!(!response.contains(".meta"), "paths never reach the client: {response}");
    let record = record.display().to_string();
    let line = logged(&server, &["request failed", "HEAD", "500", "corrupt record", &record]);
    assert!(
        line.as_deref().is_some_and(|l| l.contains("ERROR")),
        "no error line with the cause in:\n{:#?}",
        server.log()
    );
}
