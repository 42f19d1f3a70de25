//! Termination, creation-with-upload, creation-defer-length and CORS, through the model store.

mod common;

use common::*;
use tus_proto::{Cors, Event, Server, UploadId};

const V: (&str, &str) = ("tus-resumable", "1.0.0");
const OCTETS: (&str, &str) = ("content-type", "application/offset+octet-stream");

fn id_of(r: &tus_proto::Response) -> UploadId {
    let location = header(r, "location").expect("Location");
    location.rsplit('/').next().unwrap().parse().unwrap()
}

#[test]
fn delete_removes_an_upload_and_answers_204_with_an_event() {
    let mut t = harness();
    let id = t.create(10);
    assert_eq!(t.patch(id, 0, &[b"abc"]).status(), 204);
    let r = t.send("DELETE", &format!("/files/{id}"), &[V], &[]);
    assert_eq!(r.status(), 204);
    assert_eq!(r.events(), &[Event::Terminated { id }]);
    assert_eq!(t.send("HEAD", &format!("/files/{id}"), &[V], &[]).status(), 404);
    assert_eq!(t.patch(id, 3, &[b"def"]).status(), 404);
    assert_eq!(t.send("DELETE", &format!("/files/{id}"), &[V], &[]).status(), 404, "twice");
}

#[test]
fn delete_needs_the_version_and_can_come_as_an_override() {
    let mut t = harness();
    let id = t.create(10);
    let path = format!("/files/{id}");
    assert_eq!(t.send("DELETE", &path, &[], &[]).status(), 412);
    assert!(t.store.stat(id).is_ok(), "a refused DELETE deletes nothing");
    let r = t.send("POST", &path, &[V, ("x-http-method-override", "DELETE")], &[]);
    assert_eq!(r.status(), 204);
    assert!(t.store.stat(id).is_err());
}

#[test]
fn creation_with_upload_stores_the_body_and_answers_the_offset() {
    let mut t = harness();
    let r = t.send(
        "POST",
        "/files",
        &[V, OCTETS, ("host", "h"), ("upload-length", "10"), ("content-length", "4")],
        &[b"ab", b"cd"],
    );
    assert_eq!(r.status(), 201, "{}", r.body());
    assert_eq!(header(&r, "upload-offset"), Some("4"));
    let id = id_of(&r);
    assert!(
        matches!(r.events(), [Event::Created { .. }, Event::Progress { bytes_written: 4, .. }]),
        "{:?}",
        r.events()
    );
    assert_eq!(t.store.committed_bytes(id), Some(&b"abcd"[..]));
    assert_eq!(t.patch(id, 4, &[b"efghij"]).status(), 204);
    assert!(t.store.stat(id).unwrap().finished);

    // The whole upload in the POST: finished before the 201.
    let r = t.send("POST", "/files", &[V, OCTETS, ("upload-length", "3"), ("content-length", "3")], &[b"xyz"]);
    assert_eq!((r.status().as_u16(), header(&r, "upload-offset")), (201, Some("3")));
    assert!(matches!(r.events().last(), Some(Event::Completed { .. })));

    // A plain POST has no Upload-Offset.
    let r = t.send("POST", "/files", &[V, ("upload-length", "3")], &[]);
    assert_eq!((r.status().as_u16(), header(&r, "upload-offset")), (201, None));
}

#[test]
fn creation_with_upload_refusals() {
    let mut t = harness();
    let before = t.store.stat("00000000-0000-4000-8000-000000000001".parse().unwrap()).is_ok();
    assert!(!before);
    // Declared longer than the upload: refused before anything is created.
    let r = t.send("POST", "/files", &[V, OCTETS, ("upload-length", "3"), ("content-length", "4")], &[b"abcd"]);
    assert_eq!(r.status(), 413);
    assert!(r.events().is_empty(), "nothing created");
    // A body of another type would be lost: refused.
    let r = t.send(
        "POST",
        "/files",
        &[V, ("content-type", "text/plain"), ("upload-length", "3"), ("content-length", "3")],
        &[b"abc"],
    );
    assert_eq!(r.status(), 415);
    // Streamed past the length (no Content-Length): what fits is kept, the client is told where and how far.
    let r = t.send("POST", "/files", &[V, OCTETS, ("host", "h"), ("upload-length", "3")], &[b"abcdef"]);
    assert_eq!(r.status(), 413);
    assert_eq!(header(&r, "upload-offset"), Some("3"));
    let id = id_of(&r);
    assert!(t.store.stat(id).unwrap().finished);
    // A body cut short: the upload stands with what arrived.
    let r = t.send(
        "POST",
        "/files",
        &[V, OCTETS, ("host", "h"), ("upload-length", "10"), ("content-length", "8")],
        &[b"abc"],
    );
    assert_eq!(r.status(), 400);
    assert_eq!(header(&r, "upload-offset"), Some("3"));
    assert_eq!(t.store.stat(id_of(&r)).unwrap().offset, 3);
}

#[test]
fn deferred_length_is_fixed_once_by_a_patch() {
    let mut t = harness();
    let r = t.send("POST", "/files", &[V, ("host", "h"), ("upload-defer-length", "1")], &[]);
    assert_eq!(r.status(), 201);
    let id = id_of(&r);
    let path = format!("/files/{id}");
    let head = t.send("HEAD", &path, &[V], &[]);
    assert_eq!(header(&head, "upload-defer-length"), Some("1"));
    assert_eq!(header(&head, "upload-length"), None);
    // Bytes without a length yet.
    assert_eq!(t.patch(id, 0, &[b"hello"]).status(), 204);
    // A length below what is stored is refused; so is one above max_size (1000).
    let patch = |offset: &'static str, length: &'static str| {
        [V, OCTETS, ("upload-offset", offset), ("upload-length", length), ("content-length", "0")]
    };
    assert_eq!(t.send("PATCH", &path, &patch("5", "4"), &[]).status(), 400);
    assert_eq!(t.send("PATCH", &path, &patch("5", "1001"), &[]).status(), 413);
    assert_eq!(t.store.stat(id).unwrap().length, None);
    // The length is fixed, and never changes afterwards.
    assert_eq!(t.send("PATCH", &path, &patch("5", "8"), &[]).status(), 204);
    assert_eq!(t.store.stat(id).unwrap().length, Some(8));
    assert_eq!(t.send("PATCH", &path, &patch("5", "9"), &[]).status(), 400);
    assert_eq!(t.send("PATCH", &path, &patch("5", "8"), &[]).status(), 204, "the same length again is fine");
    let head = t.send("HEAD", &path, &[V], &[]);
    assert_eq!((header(&head, "upload-length"), header(&head, "upload-defer-length")), (Some("8"), None));
    assert_eq!(t.patch(id, 5, &[b"abcd"]).status(), 413, "past the fixed length");
    assert_eq!(t.patch(id, 5, &[b"abc"]).status(), 204);
    assert!(t.store.stat(id).unwrap().finished);
}

#[test]
fn deferred_length_with_the_last_bytes_finishes_the_upload() {
    let mut t = harness();
    let r = t.send("POST", "/files", &[V, ("host", "h"), ("upload-defer-length", "1")], &[]);
    let id = id_of(&r);
    let path = format!("/files/{id}");
    let last = [V, OCTETS, ("upload-offset", "0"), ("upload-length", "3"), ("content-length", "3")];
    let r = t.send("PATCH", &path, &last, &[b"abc"]);
    assert_eq!(r.status(), 204);
    assert!(matches!(r.events().last(), Some(Event::Completed { .. })));
    assert_eq!(t.store.stat(id).unwrap().length, Some(3));
}

fn cors_server(cors: Cors) -> Harness {
    with_server(Server::builder().base_path("/files").cors(cors).build().unwrap())
}

#[test]
fn cors_preflight_and_every_response() {
    let mut t = cors_server(Cors::any_origin());
    let origin = ("origin", "http://page.example:8000");
    let r = t.send(
        "OPTIONS",
        "/files",
        &[origin, ("access-control-request-method", "POST"), ("access-control-request-headers", "tus-resumable")],
        &[],
    );
    assert_eq!(r.status(), 204, "preflights carry no Tus-Resumable and still pass");
    assert_eq!(header(&r, "access-control-allow-origin"), Some("http://page.example:8000"));
    assert!(header(&r, "access-control-allow-methods").unwrap().contains("DELETE"));
    let allowed = header(&r, "access-control-allow-headers").unwrap().to_ascii_lowercase();
    for h in ["tus-resumable", "upload-length", "upload-offset", "upload-metadata", "x-http-method-override"] {
        assert!(allowed.contains(h), "{h} allowed");
    }
    assert_eq!(header(&r, "access-control-max-age"), Some("86400"));

    // A refusal is readable too (412 here), with Vary and the exposed headers.
    let r = t.send("POST", "/files", &[origin, ("upload-length", "3")], &[]);
    assert_eq!(r.status(), 412);
    assert_eq!(header(&r, "access-control-allow-origin"), Some("http://page.example:8000"));
    assert_eq!(header(&r, "vary"), Some("Origin"));
    let exposed = header(&r, "access-control-expose-headers").unwrap();
    for h in ["Location", "Upload-Offset", "Upload-Length", "Tus-Resumable", "Upload-Expires", "Upload-Defer-Length"] {
        assert!(exposed.contains(h), "{h} exposed");
    }
    let r = t.send("POST", "/files", &[origin, V, ("upload-length", "3"), ("host", "h")], &[]);
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "access-control-allow-origin"), Some("http://page.example:8000"));
}

#[test]
fn cors_origins_are_a_list_and_credentials_a_choice() {
    let cors = Cors::origins(["https://app.example.com/"]).allow_credentials(true);
    let mut t = cors_server(cors);
    let r = t.send("POST", "/files", &[("origin", "https://app.example.com"), V, ("upload-length", "1")], &[]);
    assert_eq!(header(&r, "access-control-allow-origin"), Some("https://app.example.com"));
    assert_eq!(header(&r, "access-control-allow-credentials"), Some("true"));
    let r = t.send("POST", "/files", &[("origin", "https://evil.example.com"), V, ("upload-length", "1")], &[]);
    assert_eq!(header(&r, "access-control-allow-origin"), None, "other origins get nothing a browser accepts");
    assert_eq!(header(&r, "vary"), Some("Origin"));

    for bad in ["app.example.com", "https://app.example.com/path", "https://u@app.example.com", "*"] {
        assert!(Server::builder().cors(Cors::origins([bad])).build().is_err(), "{bad}");
    }
    assert!(Server::builder().cors(Cors::any_origin().allow_headers(["bad header"])).build().is_err());
}

#[test]
fn without_cors_there_are_no_cors_headers_and_options_stays_tus() {
    let mut t = harness();
    let r = t.send("OPTIONS", "/files", &[("origin", "http://x"), ("access-control-request-method", "POST")], &[]);
    assert_eq!(r.status(), 204);
    assert!(header(&r, "tus-version").is_some());
    assert_eq!(header(&r, "access-control-allow-origin"), None);
    assert_eq!(header(&r, "vary"), None);
}
