//! One test per status-code path of the protocol core, driven through the model store.

mod common;

use common::{harness, head, header, with_server};
use http::StatusCode;
use tus_proto::model::Operation;
use tus_proto::{Event, FailureKind, HookOutcome, Interruption, Metadata, Server};

const V: (&str, &str) = ("tus-resumable", "1.0.0");
const OCTETS: (&str, &str) = ("content-type", "application/offset+octet-stream");

#[test]
fn options_advertises_version_extensions_and_max_size() {
    let mut t = harness();
    let r = t.send("OPTIONS", "/files", &[("tus-resumable", "0.2.2")], &[]);
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "tus-version"), Some("1.0.0"));
    assert_eq!(
        header(&r, "tus-extension"),
        Some("creation,creation-with-upload,creation-defer-length,termination,checksum,checksum-trailer,concatenation,concatenation-unfinished,expiration")
    );
    assert_eq!(header(&r, "tus-checksum-algorithm"), Some("sha1,sha256,sha512,md5,crc32"));
    assert_eq!(header(&r, "tus-max-size"), Some("1000"));
    assert_eq!(header(&r, "tus-resumable"), None);

    let mut t = with_server(Server::builder().build().unwrap());
    let r = t.send("OPTIONS", "/anything", &[], &[]);
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "tus-max-size"), None);
}

#[test]
fn unsupported_or_missing_version_is_412_with_tus_version() {
    let mut t = harness();
    let id = t.create(10);
    for version in [None, Some("0.2.2"), Some("1.0.0 "), Some("1.0")] {
        for (method, uri) in
            [("POST", "/files".to_string()), ("HEAD", format!("/files/{id}")), ("PATCH", format!("/files/{id}"))]
        {
            let mut headers = vec![("upload-length", "5"), OCTETS, ("upload-offset", "0")];
            if let Some(v) = version {
                headers.push(("tus-resumable", v));
            }
            let r = t.send(method, &uri, &headers, &[b"abc"]);
            assert_eq!(r.status(), 412, "{method} with {version:?}");
            assert_eq!(header(&r, "tus-version"), Some("1.0.0"));
        }
    }
    let parts = head("HEAD", &format!("/files/{id}"), &[V, V]);
    let r = t.send_full(&parts, &[], None, |_| HookOutcome::accept());
    assert_eq!(r.status(), 412, "a repeated Tus-Resumable is not a version");
    assert_eq!(t.store.committed_bytes(id), Some(&b""[..]), "nothing was processed");
}

#[test]
fn method_override_replaces_the_method() {
    let mut t = harness();
    let id = t.create(10);
    let r = t.send("POST", &format!("/files/{id}"), &[V, ("x-http-method-override", "HEAD")], &[]);
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "upload-offset"), Some("0"));
    let r = t.send(
        "POST",
        &format!("/files/{id}"),
        &[V, OCTETS, ("upload-offset", "0"), ("x-http-method-override", "PATCH")],
        &[b"ab"],
    );
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "upload-offset"), Some("2"));
    let r = t.send("POST", "/files", &[V, ("x-http-method-override", "bad method")], &[]);
    assert_eq!(r.status(), 400);
    let parts = head("POST", "/files", &[V, ("x-http-method-override", "HEAD"), ("x-http-method-override", "PATCH")]);
    assert_eq!(t.send_full(&parts, &[], None, |_| HookOutcome::accept()).status(), 400);
}

#[test]
fn other_methods_are_405_with_allow() {
    let mut t = harness();
    let id = t.create(10);
    let r = t.send("GET", "/files", &[V], &[]);
    assert_eq!(r.status(), 405);
    assert_eq!(header(&r, "allow"), Some("OPTIONS, POST"));
    for method in ["GET", "PUT", "POST"] {
        let r = t.send(method, &format!("/files/{id}"), &[V, ("upload-length", "5")], &[]);
        assert_eq!(r.status(), 405, "{method}");
        assert_eq!(header(&r, "allow"), Some("OPTIONS, HEAD, PATCH, DELETE"));
    }
    let r = t.send("HEAD", "/files", &[V], &[]);
    assert_eq!(r.status(), 405);
}

#[test]
fn unknown_and_malformed_ids_are_404_for_head_and_patch() {
    let mut t = harness();
    let unknown = "00000000-0000-4000-8000-000000000999";
    for path in [
        format!("/files/{unknown}"),
        "/files/not-an-id".into(),
        "/files/00000000-0000-4000-8000-00000000099A".into(),
        "/files/a/b".into(),
    ] {
        let r = t.send("HEAD", &path, &[V], &[]);
        assert_eq!(r.status(), 404, "HEAD {path}");
        assert_eq!(header(&r, "upload-offset"), None);
        let r = t.send("PATCH", &path, &[V, OCTETS, ("upload-offset", "0")], &[b"x"]);
        assert_eq!(r.status(), 404, "PATCH {path}");
    }
    let mut t = with_server(Server::builder().build().unwrap());
    assert_eq!(t.send("HEAD", "/files/garbage", &[V], &[]).status(), 404, "no base path: the last segment is the id");
    assert_eq!(t.send("PATCH", "/files/garbage", &[V, OCTETS, ("upload-offset", "0")], &[]).status(), 404);
}

#[test]
fn post_upload_length_rules() {
    let mut t = harness();
    for bad in ["", "-1", "+5", "1_000", "5 ", "0x10", "99999999999999999999999"] {
        let r = t.send("POST", "/files", &[V, ("upload-length", bad)], &[]);
        assert_eq!(r.status(), 400, "{bad:?}");
    }
    assert_eq!(t.send("POST", "/files", &[V], &[]).status(), 400, "missing");
    let parts = head("POST", "/files", &[V, ("upload-length", "5"), ("upload-length", "5")]);
    assert_eq!(t.send_full(&parts, &[], None, |_| HookOutcome::accept()).status(), 400, "repeated");
    for bad in ["0", "2", "true", " 1"] {
        let r = t.send("POST", "/files", &[V, ("upload-defer-length", bad)], &[]);
        assert_eq!(r.status(), 400, "Upload-Defer-Length {bad:?}");
    }
    let both = [V, ("upload-length", "5"), ("upload-defer-length", "1")];
    assert_eq!(t.send("POST", "/files", &both, &[]).status(), 400, "both lengths");
    assert_eq!(t.send("POST", "/files", &[V, ("upload-defer-length", "1")], &[]).status(), 201);
    let r = t.send("POST", "/files", &[V, ("upload-length", "1001")], &[]);
    assert_eq!(r.status(), 413);
    assert_eq!(t.send("POST", "/files", &[V, ("upload-length", "1000")], &[]).status(), 201);
}

#[test]
fn post_metadata_rules() {
    let mut t = harness();
    let long = format!("k {}", "A".repeat(4096));
    for bad in [long.as_str(), "a YQ==,a YQ==", "a YQ", "a /w==", "a,,b", "filename YQo="] {
        let r = t.send("POST", "/files", &[V, ("upload-length", "5"), ("upload-metadata", bad)], &[]);
        assert_eq!(r.status(), 400, "{bad:.40}");
    }
    let r = t.send(
        "POST",
        "/files",
        &[V, ("upload-length", "5"), ("upload-metadata", "filename YS50eHQ=,empty,odd.key YQ==")],
        &[],
    );
    assert_eq!(r.status(), 201);
    let Event::Created { upload } = &r.events()[0] else { panic!("{:?}", r.events()) };
    assert_eq!(upload.metadata.get("filename"), Some("a.txt"));
    assert_eq!(upload.metadata.get("empty"), Some(""));
    assert_eq!(upload.metadata.get("odd.key"), None, "keys outside [A-Za-z0-9_-] are ignored");
    let id = upload.id;
    let r = t.head_of(id);
    assert_eq!(Metadata::parse(header(&r, "upload-metadata").unwrap()).unwrap(), upload.metadata);
}

#[test]
fn post_hook_and_storage_refusals() {
    let mut t = harness();
    let post = head("POST", "/files", &[V, ("upload-length", "5"), ("authorization", "Bearer x")]);
    let r = t.send_full(&post, &[], None, |hook| {
        assert_eq!(hook.headers()["authorization"], "Bearer x");
        HookOutcome::Reject { status: StatusCode::FORBIDDEN, reason: "no".into() }
    });
    assert_eq!((r.status().as_u16(), r.body()), (403, "no"));
    assert!(r.events().is_empty(), "nothing created");
    let r = t.send_full(&post, &[], None, |_| HookOutcome::Reject { status: StatusCode::OK, reason: "odd".into() });
    assert_eq!(r.status(), 500);
    let r = t.send_full(&post, &[], None, |_| HookOutcome::Accept([("user", "7")].into_iter().collect()));
    let Event::Created { upload } = &r.events()[0] else { panic!() };
    assert_eq!(upload.server_metadata.get("user"), Some("7"));
    assert!(upload.metadata.is_empty(), "client metadata untouched");

    t.store.fail_next(Operation::Create, FailureKind::NoSpace);
    let r = t.send("POST", "/files", &[V, ("upload-length", "5")], &[]);
    assert_eq!(r.status(), 507);
    assert!(r.events().is_empty());
}

#[test]
fn location_is_absolute_encoded_and_proxy_aware() {
    let loc = |t: &mut common::Harness, uri: &str, extra: &[(&str, &str)]| {
        let mut headers = vec![V, ("upload-length", "1")];
        headers.extend_from_slice(extra);
        let r = t.send("POST", uri, &headers, &[]);
        assert_eq!(r.status(), 201, "{}", r.body());
        header(&r, "location").unwrap().rsplit_once('/').unwrap().0.to_owned()
    };
    let mut t = with_server(Server::builder().trusted_proxies(["10.0.0.0/8", "::1"]).build().unwrap());
    t.peer = Some("192.0.2.1".parse().unwrap()); // a peer that is no trusted proxy
    assert_eq!(loc(&mut t, "/up%20loads/", &[("host", "example.com:8080")]), "http://example.com:8080/up%20loads");
    assert_eq!(loc(&mut t, "/files", &[]), "/files", "no Host: a relative Location");
    assert_eq!(
        loc(&mut t, "/files", &[("host", "h"), ("x-forwarded-proto", "https")]),
        "http://h/files",
        "untrusted peer"
    );
    t.peer = Some("::ffff:10.1.1.1".parse().unwrap());
    assert_eq!(loc(&mut t, "/files", &[("host", "h"), ("x-forwarded-proto", "https")]), "https://h/files");
    assert_eq!(loc(&mut t, "/files", &[("host", "h"), ("x-forwarded-proto", "gopher")]), "http://h/files");
    assert_eq!(loc(&mut t, "/files", &[("host", "h"), ("forwarded", "proto=https;host=x")]), "https://h/files");
    t.peer = Some("::1".parse().unwrap());
    assert_eq!(loc(&mut t, "/files", &[("host", "h"), ("x-forwarded-proto", "HTTPS")]), "https://h/files");
    let r = t.send("POST", "/files", &[V, ("upload-length", "1"), ("host", "a b")], &[]);
    assert_eq!(r.status(), 400, "invalid Host");

    let mut t = with_server(Server::builder().mounted_at("/api/files/").build().unwrap());
    assert_eq!(loc(&mut t, "/", &[("host", "h")]), "http://h/api/files", "mounted with the prefix stripped");
    let mut t = with_server(Server::builder().base_path("/api/files/").build().unwrap());
    assert_eq!(loc(&mut t, "/api/files", &[("host", "h")]), "http://h/api/files");
    assert_eq!(loc(&mut t, "/api/files/", &[("host", "h")]), "http://h/api/files");
    assert!(Server::builder().base_path("files").build().is_err());
    assert!(Server::builder().trusted_proxies(["10.0.0.0/33"]).build().is_err());
    assert!(Server::builder().max_chunk_size(0).build().is_err());
}

#[test]
fn paths_outside_the_base_path_are_404() {
    let mut t = harness(); // base path /files, requests carry it
    let id = t.create(5);
    for (method, path) in [("POST", "/"), ("POST", "/other"), ("POST", "/filesx"), ("HEAD", &*format!("/{id}"))] {
        let r = t.send(method, path, &[V, ("upload-length", "5")], &[]);
        assert_eq!(r.status(), 404, "{method} {path}");
    }
    assert_eq!(t.head_of(id).status(), 204);
}

#[test]
fn zero_length_upload_is_complete_at_creation() {
    let mut t = harness();
    let r = t.send("POST", "/files", &[V, ("upload-length", "0"), ("host", "h")], &[]);
    assert_eq!(r.status(), 201);
    assert!(matches!(r.events(), [Event::Created { .. }, Event::Completed { upload }] if upload.finished));
    let id = header(&r, "location").unwrap().rsplit('/').next().unwrap().parse().unwrap();
    let r = t.head_of(id);
    assert_eq!((header(&r, "upload-offset"), header(&r, "upload-length")), (Some("0"), Some("0")));
    assert!(t.store.claim(id).is_some());
}

#[test]
fn head_reports_offset_length_and_no_store() {
    let mut t = harness();
    let id = t.create(10);
    assert_eq!(t.patch(id, 0, &[b"abc"]).status(), 204);
    let r = t.head_of(id);
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "upload-offset"), Some("3"));
    assert_eq!(header(&r, "upload-length"), Some("10"));
    assert_eq!(header(&r, "cache-control"), Some("no-store"));
    assert_eq!(header(&r, "upload-metadata"), None);
    t.store.fail_next(Operation::Stat, FailureKind::Unavailable);
    assert_eq!(t.head_of(id).status(), 503);
}

#[test]
fn finished_unclaimed_upload_answers_offset_equals_length() {
    let mut t = harness();
    let id = t.create(4);
    let r = t.patch(id, 0, &[b"ab", b"cd"]);
    assert_eq!(r.status(), 204);
    assert!(matches!(r.events(), [Event::Progress { bytes_written: 4, .. }, Event::Completed { .. }]));
    let r = t.head_of(id);
    assert_eq!((header(&r, "upload-offset"), header(&r, "upload-length")), (Some("4"), Some("4")));
    let r = t.patch(id, 4, &[]);
    assert_eq!((r.status().as_u16(), header(&r, "upload-offset")), (204, Some("4")));
    assert!(r.events().is_empty(), "no second completion");
    assert_eq!(t.patch(id, 4, &[b"x"]).status(), 413);
    assert_eq!(t.patch(id, 2, &[b"cd"]).status(), 409);
    assert_eq!(t.store.claim(id).unwrap().1, b"abcd");
    assert_eq!(t.head_of(id).status(), 404, "claimed uploads are gone");
}

#[test]
fn patch_content_type_offset_and_declared_size() {
    let mut t = harness();
    let id = t.create(150);
    let uri = format!("/files/{id}");
    for ct in [None, Some("application/octet-stream"), Some("text/plain")] {
        let mut headers = vec![V, ("upload-offset", "0")];
        headers.extend(ct.map(|c| ("content-type", c)));
        assert_eq!(t.send("PATCH", &uri, &headers, &[b"a"]).status(), 415, "{ct:?}");
    }
    let r = t.send(
        "PATCH",
        &uri,
        &[V, ("content-type", "Application/Offset+Octet-Stream; x=y"), ("upload-offset", "0")],
        &[b"a"],
    );
    assert_eq!(r.status(), 204);
    for bad in [None, Some("-1"), Some("1.0"), Some(" 1")] {
        let mut headers = vec![V, OCTETS];
        headers.extend(bad.map(|o| ("upload-offset", o)));
        assert_eq!(t.send("PATCH", &uri, &headers, &[b"a"]).status(), 400, "{bad:?}");
    }
    let r = t.send("PATCH", &uri, &[V, OCTETS, ("upload-offset", "1"), ("content-length", "101")], &[]);
    assert_eq!(r.status(), 413, "declared body over max_chunk_size");
    let r = t.patch(id, 0, &[b"zz"]);
    assert_eq!((r.status().as_u16(), header(&r, "upload-offset")), (409, Some("1")));
    assert_eq!(t.store.committed_bytes(id), Some(&b"a"[..]));
}

#[test]
fn patch_past_length_writes_nothing_when_declared() {
    let mut t = harness();
    let id = t.create(5);
    let r = t.patch(id, 0, &[b"abcdef"]);
    assert_eq!(r.status(), 413);
    assert_eq!(t.store.committed_bytes(id), Some(&b""[..]));
    assert!(r.events().is_empty());
}

#[test]
fn streamed_body_past_a_limit_commits_the_allowed_prefix_then_413() {
    let mut t = harness();
    let id = t.create(5);
    let uri = format!("/files/{id}");
    let chunked = [V, OCTETS, ("upload-offset", "0"), ("transfer-encoding", "chunked")];
    let r = t.send("PATCH", &uri, &chunked, &[b"abc", b"def"]);
    assert_eq!((r.status().as_u16(), header(&r, "upload-offset")), (413, Some("5")));
    assert_eq!(t.store.claim(id).unwrap().1, b"abcde", "stored as much as allowed, and finalised");

    let id = t.create(500);
    let big = vec![7u8; 150];
    let r = t.send("PATCH", &format!("/files/{id}"), &[V, OCTETS, ("upload-offset", "0")], &[&big]);
    assert_eq!(
        (r.status().as_u16(), header(&r, "upload-offset")),
        (413, Some("100")),
        "max_chunk_size applies to streamed bodies"
    );
    assert!(r.body().contains("100"));
}

#[test]
fn chunked_bodies_are_accepted() {
    let mut t = harness();
    let id = t.create(6);
    let r = t.send("PATCH", &format!("/files/{id}"), &[V, OCTETS, ("upload-offset", "0")], &[b"ab", b"", b"cdef"]);
    assert_eq!((r.status().as_u16(), header(&r, "upload-offset")), (204, Some("6")));
}

#[test]
fn interrupted_body_commits_what_was_stored() {
    let mut t = harness();
    let id = t.create(10);
    let parts = head("PATCH", &format!("/files/{id}"), &[V, OCTETS, ("upload-offset", "0"), ("content-length", "8")]);
    for (why, status) in
        [(Interruption::ClientGone, 400), (Interruption::TimedOut, 408), (Interruption::TakenOver, 409)]
    {
        let offset = t.store.stat(id).unwrap().offset;
        let parts = head("PATCH", &format!("/files/{id}"), &[V, OCTETS, ("upload-offset", &offset.to_string())]);
        let r = t.send_full(&parts, &[b"x"], Some(why), |_| HookOutcome::accept());
        assert_eq!(r.status(), status, "{why:?}");
        assert_eq!(header(&r, "upload-offset"), Some((offset + 1).to_string().as_str()));
        assert!(matches!(r.events(), [Event::Progress { bytes_written: 1, .. }]));
    }
    let _ = parts;
    let r = t.head_of(id);
    assert_eq!(header(&r, "upload-offset"), Some("3"));
    let parts = head("PATCH", &format!("/files/{id}"), &[V, OCTETS, ("upload-offset", "3"), ("content-length", "4")]);
    let r = t.send_full(&parts, &[b"ab"], None, |_| HookOutcome::accept());
    assert_eq!(
        (r.status().as_u16(), header(&r, "upload-offset")),
        (400, Some("5")),
        "body shorter than Content-Length"
    );
}

#[test]
fn storage_failures_map_to_statuses_and_failed_events() {
    let mut t = harness();
    let id = t.create(10);
    for (kind, status) in [
        (FailureKind::NotFound, 404),
        (FailureKind::Gone, 410),
        (FailureKind::Locked, 423),
        (FailureKind::NoSpace, 507),
        (FailureKind::Unavailable, 503),
        (FailureKind::Internal, 500),
    ] {
        t.store.fail_next(Operation::Open, kind);
        assert_eq!(t.patch(id, 0, &[b"a"]).status(), status, "{kind:?}");
    }
    t.store.fail_next(Operation::Write, FailureKind::NoSpace);
    let r = t.patch(id, 0, &[b"ab"]);
    assert_eq!(r.status(), 507);
    assert!(matches!(r.events(), [Event::Failed { error, .. }] if error.kind() == FailureKind::NoSpace));
    assert!(!r.body().contains("injected"), "storage messages never reach the client");
    t.store.fail_next(Operation::Commit, FailureKind::Internal);
    let r = t.patch(id, 0, &[b"ab"]);
    assert_eq!(r.status(), 500);
    assert!(matches!(r.events(), [Event::Failed { .. }]));
    assert_eq!(header(&t.head_of(id), "upload-offset"), Some("0"));
}

#[test]
fn write_failure_after_some_chunks_commits_them() {
    let mut t = harness();
    let id = t.create(10);
    t.store.fail_after(Operation::Write, 2, FailureKind::NoSpace);
    let r = t.send("PATCH", &format!("/files/{id}"), &[V, OCTETS, ("upload-offset", "0")], &[b"ab", b"cd", b"ef"]);
    assert_eq!((r.status().as_u16(), header(&r, "upload-offset")), (507, Some("4")));
    assert!(matches!(r.events(), [Event::Progress { bytes_written: 4, .. }, Event::Failed { .. }]));
    assert_eq!(t.store.committed_bytes(id), Some(&b"abcd"[..]));
}

#[test]
fn progress_then_completion_across_patches() {
    let mut t = harness();
    let id = t.create(250);
    let mut offset = 0u64;
    let data: Vec<u8> = (0..250u32).map(|i| (i * 7 % 251) as u8).collect();
    for piece in data.chunks(100) {
        let r = t.patch(id, offset, &[piece]);
        offset += piece.len() as u64;
        assert_eq!(header(&r, "upload-offset"), Some(offset.to_string().as_str()));
        let completed = r.events().iter().any(|e| matches!(e, Event::Completed { .. }));
        assert_eq!(completed, offset == 250);
    }
    assert_eq!(t.store.claim(id).unwrap().1, data);
}
