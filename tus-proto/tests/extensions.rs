//! Termination, creation-with-upload, creation-defer-length and CORS, through the model store.

mod common;

use common::*;
use tus_proto::{Cors, Event, HookOutcome, Interruption, RequestHead, Server, UploadId};

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

/// `Upload-Checksum: <algorithm> <base64 digest>` of `data`, computed here by hand-picked vectors' algorithms.
fn checksum(algorithm: &str, data: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest: Vec<u8> = match algorithm {
        "sha1" => sha1::Sha1::digest(data).to_vec(),
        "sha256" => sha2::Sha256::digest(data).to_vec(),
        "sha512" => sha2::Sha512::digest(data).to_vec(),
        "md5" => md5::Md5::digest(data).to_vec(),
        "crc32" => crc32fast::hash(data).to_be_bytes().to_vec(),
        other => panic!("{other}"),
    };
    format!("{algorithm} {}", base64::engine::general_purpose::STANDARD.encode(digest))
}

#[test]
fn a_matching_checksum_keeps_the_bytes_in_every_algorithm() {
    // A known vector: sha1("abc").
    assert_eq!(checksum("sha1", b"abc"), "sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
    let mut t = harness();
    for algorithm in ["sha1", "sha256", "sha512", "md5", "crc32"] {
        let id = t.create(6);
        let value = checksum(algorithm, b"abc");
        let path = format!("/files/{id}");
        let headers = [V, OCTETS, ("upload-offset", "0"), ("content-length", "3"), ("upload-checksum", &value)];
        let r = t.send("PATCH", &path, &headers, &[b"ab", b"c"]);
        assert_eq!(r.status(), 204, "{algorithm}: {}", r.body());
        assert_eq!(header(&r, "upload-offset"), Some("3"));
    }
}

#[test]
fn a_checksum_mismatch_is_460_and_keeps_nothing() {
    let mut t = harness();
    let id = t.create(6);
    let path = format!("/files/{id}");
    let wrong = checksum("sha1", b"abd");
    let headers = [V, OCTETS, ("upload-offset", "0"), ("content-length", "3"), ("upload-checksum", &wrong)];
    let r = t.send("PATCH", &path, &headers, &[b"abc"]);
    assert_eq!(r.status(), 460);
    assert_eq!(header(&r, "upload-offset"), Some("0"), "the offset stays");
    assert_eq!(t.store.stat(id).unwrap().offset, 0);
    assert!(r.events().is_empty(), "no progress: {:?}", r.events());
    // The same bytes with the right checksum go in.
    let right = checksum("sha1", b"abc");
    let headers = [V, OCTETS, ("upload-offset", "0"), ("content-length", "3"), ("upload-checksum", &right)];
    assert_eq!(t.send("PATCH", &path, &headers, &[b"abc"]).status(), 204);
    assert_eq!(t.store.committed_bytes(id), Some(&b"abc"[..]));
}

#[test]
fn a_checksummed_body_that_breaks_off_keeps_nothing() {
    let mut t = harness();
    let id = t.create(6);
    let value = checksum("sha256", b"abcdef");
    let parts = head(
        "PATCH",
        &format!("/files/{id}"),
        &[V, OCTETS, ("upload-offset", "0"), ("content-length", "6"), ("upload-checksum", &value)],
    );
    let r = t.send_full(&parts, &[b"abc"], Some(Interruption::ClientGone), |_| HookOutcome::accept());
    assert_eq!(r.status(), 400);
    assert_eq!(t.store.stat(id).unwrap().offset, 0, "the checksum covers the whole body: nothing is kept");
}

#[test]
fn checksum_header_refusals_are_400() {
    let mut t = harness();
    let id = t.create(6);
    let path = format!("/files/{id}");
    for bad in
        ["sha3 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", "SHA1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", "sha1", "sha1 !!!", "sha1 YWJj"]
    {
        let headers = [V, OCTETS, ("upload-offset", "0"), ("content-length", "3"), ("upload-checksum", bad)];
        let r = t.send("PATCH", &path, &headers, &[b"abc"]);
        assert_eq!(r.status(), 400, "{bad:?}");
        assert!(r.body().contains("checksum") || r.body().contains("Checksum"), "{bad:?}: {}", r.body());
    }
    let unsupported = t.send(
        "PATCH",
        &path,
        &[V, OCTETS, ("upload-offset", "0"), ("content-length", "3"), ("upload-checksum", "sha3 AAAA")],
        &[b"abc"],
    );
    assert!(unsupported.body().contains("sha1,sha256,sha512,md5,crc32"), "{}", unsupported.body());
    assert_eq!(t.store.stat(id).unwrap().offset, 0);
}

#[test]
fn creation_with_upload_verifies_its_checksum() {
    let mut t = harness();
    let wrong = checksum("md5", b"xyz");
    let r = t.send(
        "POST",
        "/files",
        &[V, OCTETS, ("host", "h"), ("upload-length", "3"), ("content-length", "3"), ("upload-checksum", &wrong)],
        &[b"abc"],
    );
    assert_eq!(r.status(), 460);
    assert_eq!(header(&r, "upload-offset"), Some("0"));
    assert!(header(&r, "location").is_some(), "the upload was created; its bytes were not kept");
}

#[test]
fn unfinished_uploads_carry_upload_expires_and_answer_410_once_expired() {
    use std::time::{Duration, SystemTime};
    let mut t = harness();
    let r = t.send("POST", "/files", &[V, ("host", "h"), ("upload-length", "6")], &[]);
    let created = SystemTime::UNIX_EPOCH + NOW;
    let expires = httpdate::fmt_http_date(created + tus_proto::DEFAULT_EXPIRE_AFTER);
    assert_eq!(header(&r, "upload-expires"), Some(expires.as_str()), "on the 201");
    assert!(httpdate::parse_http_date(header(&r, "upload-expires").unwrap()).is_ok());
    let id = id_of(&r);
    let path = format!("/files/{id}");
    assert_eq!(header(&t.send("HEAD", &path, &[V], &[]), "upload-expires"), Some(expires.as_str()), "on HEAD");
    assert!(header(&t.patch(id, 0, &[b"abc"]), "upload-expires").is_some(), "on the 204 of a PATCH");

    // Past its expiry, before any janitor ran: 410, never a bare 404.
    let later = created + tus_proto::DEFAULT_EXPIRE_AFTER + Duration::from_secs(1);
    let parts = head("HEAD", &path, &[V]);
    let r = t.store.handle(&t.server, RequestHead::from_parts(&parts), &[], None, |_| HookOutcome::accept(), later);
    assert_eq!(r.status(), 410);
    let parts = head("PATCH", &path, &[V, OCTETS, ("upload-offset", "3"), ("content-length", "1")]);
    let r = t.store.handle(&t.server, RequestHead::from_parts(&parts), &[b"d"], None, |_| HookOutcome::accept(), later);
    assert_eq!(r.status(), 410);
    assert_eq!(t.store.stat(id).unwrap().offset, 3, "an expired upload takes no bytes");

    // A finished upload does not expire.
    assert_eq!(t.patch(id, 3, &[b"def"]).status(), 204);
    let r = t.store.handle(
        &t.server,
        RequestHead::from_parts(&head("HEAD", &path, &[V])),
        &[],
        None,
        |_| HookOutcome::accept(),
        later,
    );
    assert_eq!((r.status().as_u16(), header(&r, "upload-expires")), (204, None));

    // Without expiration: no header, no extension.
    let mut t = with_server(Server::builder().base_path("/files").never_expire().build().unwrap());
    let r = t.send("POST", "/files", &[V, ("host", "h"), ("upload-length", "6")], &[]);
    assert_eq!(header(&r, "upload-expires"), None);
    let r = t.send("OPTIONS", "/files", &[], &[]);
    assert!(!header(&r, "tus-extension").unwrap().contains("expiration"));
}

/// Creates a partial upload of `data`, sent in one PATCH; its path.
fn partial(t: &mut Harness, data: &[u8]) -> String {
    let length = data.len().to_string();
    let r =
        t.send("POST", "/files", &[V, ("host", "h"), ("upload-length", &length), ("upload-concat", "partial")], &[]);
    assert_eq!(r.status(), 201, "{}", r.body());
    let id = id_of(&r);
    let r = t.patch(id, 0, &[data]);
    assert_eq!(r.status(), 204);
    assert!(!r.events().iter().any(|e| matches!(e, Event::Completed { .. })), "a partial is never completed");
    format!("/files/{id}")
}

#[test]
fn a_final_upload_assembles_its_partials_in_order() {
    let mut t = harness();
    let (a, b) = (partial(&mut t, b"hello "), partial(&mut t, b"world"));
    let head_a = t.send("HEAD", &a, &[V], &[]);
    assert_eq!((header(&head_a, "upload-concat"), header(&head_a, "upload-offset")), (Some("partial"), Some("6")));
    // Absolute and relative URLs; the same partial twice.
    let concat = format!("final;http://h{a} {b} {a}");
    let r = t.send(
        "POST",
        "/files",
        &[V, ("host", "h"), ("upload-concat", &concat), ("upload-metadata", "filename YS50eHQ=")],
        &[],
    );
    assert_eq!(r.status(), 201, "{}", r.body());
    assert!(matches!(r.events(), [Event::Created { .. }, Event::Completed { .. }]), "{:?}", r.events());
    let id = id_of(&r);
    assert_eq!(t.store.committed_bytes(id), Some(&b"hello worldhello "[..]));
    let state = t.store.stat(id).unwrap();
    assert!(state.finished && state.length == Some(17));
    assert_eq!(state.metadata.get("filename"), Some("a.txt"), "the final's own metadata");
    let path = format!("/files/{id}");
    let head = t.send("HEAD", &path, &[V], &[]);
    assert_eq!(header(&head, "upload-concat"), Some(format!("final;{a} {b} {a}").as_str()));
    assert_eq!(header(&head, "upload-offset"), Some("17"));
    // PATCH on a final: 403.
    let r = t.send("PATCH", &path, &[V, OCTETS, ("upload-offset", "17"), ("content-length", "0")], &[]);
    assert_eq!(r.status(), 403);
}

#[test]
fn a_final_upload_refuses_what_is_not_a_partial() {
    let mut t = harness();
    let plain = format!("/files/{}", t.create(3));
    let r = t.send("POST", "/files", &[V, ("host", "h"), ("upload-length", "3"), ("upload-concat", "partial")], &[]);
    let unfinished = format!("/files/{}", id_of(&r));
    let done = partial(&mut t, b"abc");
    let _ = unfinished;
    for (parts, why) in [
        (plain.clone(), "an ordinary upload"),
        ("/files/00000000-0000-4000-8000-0000000000ff".into(), "an unknown upload"),
    ] {
        let concat = format!("final;{done} {parts}");
        let r = t.send("POST", "/files", &[V, ("host", "h"), ("upload-concat", &concat)], &[]);
        assert_eq!(r.status(), 400, "{why}: {}", r.body());
        assert!(r.events().is_empty(), "{why}: nothing created");
    }
    for bad in ["final;", "final;/elsewhere/x", "final;not a url", "partial;", "finale;/files/x", "Partial"] {
        let r = t.send("POST", "/files", &[V, ("host", "h"), ("upload-length", "3"), ("upload-concat", bad)], &[]);
        assert_eq!(r.status(), 400, "{bad:?}");
    }
    let concat = format!("final;{done}");
    let r = t.send("POST", "/files", &[V, ("host", "h"), ("upload-length", "3"), ("upload-concat", &concat)], &[]);
    assert_eq!(r.status(), 400, "a final takes no Upload-Length");
    assert!(t.store.stat(done.rsplit('/').next().unwrap().parse().unwrap()).is_ok(), "the partial is still there");
}

#[test]
fn a_final_of_unfinished_partials_is_assembled_when_the_last_one_completes() {
    let mut t = harness();
    let r = t.send("POST", "/files", &[V, ("host", "h"), ("upload-length", "3"), ("upload-concat", "partial")], &[]);
    let pending = id_of(&r);
    let done = partial(&mut t, b"def");
    let concat = format!("final;/files/{pending} {done}");
    let r = t.send("POST", "/files", &[V, ("host", "h"), ("upload-concat", &concat)], &[]);
    assert_eq!(r.status(), 201, "{}", r.body());
    assert!(matches!(r.events(), [Event::Created { .. }]), "not completed yet: {:?}", r.events());
    let id = id_of(&r);
    let head = t.send("HEAD", &format!("/files/{id}"), &[V], &[]);
    assert_eq!(header(&head, "upload-offset"), None, "no offset until it is assembled");
    assert!(header(&head, "upload-concat").unwrap().starts_with("final;"));
    assert_eq!(t.patch(pending, 0, &[b"abc"]).status(), 204);
    assert_eq!(t.store.committed_bytes(id), Some(&b"abcdef"[..]), "the last part's commit assembled it");
    let head = t.send("HEAD", &format!("/files/{id}"), &[V], &[]);
    assert_eq!(header(&head, "upload-offset"), Some("6"));
}

#[test]
fn paths_outside_the_endpoint_are_404_whatever_the_version() {
    let mut t = harness();
    for (method, path) in [("GET", "/"), ("HEAD", "/healthz"), ("POST", "/filesx"), ("OPTIONS", "/other/files")] {
        let r = t.send(method, path, &[], &[]);
        assert_eq!(r.status(), 404, "{method} {path}");
    }
    assert_eq!(t.send("POST", "/files", &[("upload-length", "1")], &[]).status(), 412, "the endpoint keeps its rules");
    assert_eq!(t.send("GET", "/files/", &[], &[]).status(), 412);
}

#[test]
fn trusting_proxies_without_a_peer_address_is_refused_loudly() {
    let server = Server::builder().base_path("/files").trusted_proxies(["10.0.0.0/8"]).build().unwrap();
    let mut t = with_server(server);
    let forwarded = [V, ("host", "h"), ("upload-length", "1"), ("x-forwarded-proto", "https")];
    let r = t.send("POST", "/files", &forwarded, &[]);
    assert_eq!(r.status(), 500, "no peer address: the forwarded scheme cannot be trusted or ignored silently");
    assert!(r.cause().is_some_and(|c| c.contains("peer address")), "{:?}", r.cause());
    t.peer = Some("10.1.2.3".parse().unwrap());
    let r = t.send("POST", "/files", &forwarded, &[]);
    assert_eq!(r.status(), 201);
    assert!(header(&r, "location").unwrap().starts_with("https://h/files/"));
}
