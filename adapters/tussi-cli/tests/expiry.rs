//! Expiration with `tussi-server`: every unfinished upload carries `Upload-Expires` (an HTTP-date), and once it is
//! past, the upload answers 410 — before the janitor ran and after it removed the files — never a bare 404.

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::{header, request, Server};

#[test]
fn an_idle_upload_expires_and_answers_410() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), &["--stale-upload-age", "2", "--janitor-interval", "1"]);
    let (status, response) = request(&server, "POST /files/ HTTP/1.1\nUpload-Length: 10\n");
    assert_eq!(status, 201, "{response}");
    let expires = header(&response, "upload-expires").expect("Upload-Expires on the 201");
    let expires = httpdate::parse_http_date(expires).expect("an HTTP-date");
    let from_now = expires.duration_since(SystemTime::now()).unwrap_or_default();
    assert!(from_now <= Duration::from_secs(3), "expires in {from_now:?}, configured 2 s");
    let location = header(&response, "location").expect("Location");
    let path = &location[location.find("/files/").expect("path")..];
    let id = path.rsplit('/').next().unwrap();

    let (status, response) = request(&server, &format!("HEAD {path} HTTP/1.1\n"));
    assert_eq!(status, 204);
    assert!(header(&response, "upload-expires").is_some(), "Upload-Expires on HEAD: {response}");

    // Idle past the expiry: 410 whether or not the janitor ran yet, and the janitor removes the files.
    let deadline = Instant::now() + Duration::from_secs(15);
    let record = server.uploads.join(format!("{id}.meta"));
    while record.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!record.exists(), "the janitor removed the expired upload");
    assert!(!server.uploads.join(id).exists());
    let (status, response) = request(&server, &format!("HEAD {path} HTTP/1.1\n"));
    assert_eq!(status, 410, "{response}");
    let patch = format!(
        "PATCH {path} HTTP/1.1\nUpload-Offset: 0\nContent-Type: application/offset+octet-stream\nContent-Length: 0\n"
    );
    assert_eq!(request(&server, &patch).0, 410);
}
