//! Regressions found by the fuzz targets in `fuzz/` (each also kept there as a named seed, `seed-regression-*`).

mod common;

use common::{harness, header};

/// `request` target, seed `seed-regression-head-override-patch`: a HEAD request with `X-HTTP-Method-Override:
/// PATCH` was routed as a PATCH, and its 409 came back with a body. A HEAD request is answered as a HEAD.
#[test]
fn head_with_a_method_override_is_still_a_head() {
    let mut t = harness();
    let id = t.create(10);
    let uri = format!("/files/{id}");
    let override_patch = [
        ("tus-resumable", "1.0.0"),
        ("content-type", "application/offset+octet-stream"),
        ("upload-offset", "3"),
        ("x-http-method-override", "PATCH"),
    ];
    // `send` also checks that a HEAD is answered without a body.
    let r = t.send("HEAD", &uri, &override_patch, &[b"abc"]);
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "upload-offset"), Some("0"));
    assert_eq!(header(&r, "cache-control"), Some("no-store"));
    assert!(r.body().is_empty());
    assert_eq!(t.store.committed_bytes(id), Some(&b""[..]), "a HEAD wrote nothing");
    // Even an override that is invalid or repeated does not turn a HEAD into anything else.
    let r = t.send("HEAD", &uri, &[("tus-resumable", "1.0.0"), ("x-http-method-override", "bad method")], &[]);
    assert_eq!(r.status(), 204);
}
