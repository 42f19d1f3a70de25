//! Core protocol scenarios (tus 1.0.0 "Core Protocol"): OPTIONS, Tus-Resumable, method override, HEAD, PATCH.
//!
//! Most need an upload to work on and so require the creation extension; the rules they check are core rules.

use std::time::Duration;

use super::{create, head, head_offset_is, patch, uint, CREATION, OFFSET_STREAM};
use crate::context::{parse_uint, pattern, Ctx};
use crate::scenario::{Capture, Expect, Level, Outcome, Pred, RequestSpec, Scenario, Step, Target};

/// The core scenarios.
pub fn scenarios() -> Vec<Scenario> {
    let mut v = options();
    v.extend(versions());
    v.extend(head_rules());
    v.extend(patch_rules());
    v.extend(patch_edges());
    v
}

fn options() -> Vec<Scenario> {
    vec![
        Scenario::steps(
            "core-options-tus-version",
            "OPTIONS answers 200/204 with Tus-Version listing 1.0.0",
            "tus 1.0.0 core, OPTIONS: Tus-Version",
            Level::Must,
            &[],
            vec![Step::check(RequestSpec::new("OPTIONS", Target::Base))
                .status(&[200, 204])
                .expect(Expect::Header("Tus-Version", Pred::Token("1.0.0".into())))],
        ),
        Scenario::steps(
            "core-options-ignores-tus-resumable",
            "OPTIONS with an unsupported Tus-Resumable is still answered (the server ignores it)",
            "tus 1.0.0 core, OPTIONS: server MUST ignore Tus-Resumable",
            Level::Must,
            &[],
            vec![Step::check(RequestSpec::new("OPTIONS", Target::Base).tus(Some("0.0.1")))
                .status(&[200, 204])
                .expect(Expect::Header("Tus-Version", Pred::Present))],
        ),
        Scenario::custom(
            "core-options-headers-wellformed",
            "Tus-Extension, if sent, is a non-empty list; Tus-Max-Size, if sent, a non-negative integer",
            "tus 1.0.0 core, headers: Tus-Extension, Tus-Max-Size",
            Level::Must,
            &[],
            options_wellformed,
        ),
        Scenario::custom(
            "core-options-max-size",
            "Whether Tus-Max-Size is advertised (SHOULD when a hard limit is known)",
            "tus 1.0.0 core, headers: Tus-Max-Size",
            Level::Informational,
            &[],
            |ctx| match ctx.server.max_size {
                Some(m) => Outcome::Observed(format!("Tus-Max-Size: {m}")),
                None => Outcome::Observed("no Tus-Max-Size advertised".into()),
            },
        ),
    ]
}

fn options_wellformed(ctx: &mut Ctx<'_>) -> Outcome {
    let (_, resp) = match ctx.request(&RequestSpec::new("OPTIONS", Target::Base)) {
        Ok(r) => r,
        Err(e) => return Outcome::Violation(e),
    };
    if resp.status / 100 != 2 {
        return Outcome::NotApplicable(format!("OPTIONS answered {}", resp.status));
    }
    let mut problems = Vec::new();
    for value in resp.headers.get_all("tus-extension") {
        if value.split(',').any(|e| e.trim().is_empty()) {
            problems.push(format!("Tus-Extension {value:?} has an empty element"));
        }
    }
    if let Some(max) = resp.header("tus-max-size") {
        if parse_uint(max).is_none() {
            problems.push(format!("Tus-Max-Size {max:?} is not a non-negative integer"));
        }
    }
    for v in resp.headers.list("tus-version") {
        if !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') {
            problems.push(format!("Tus-Version element {v:?} is not a version"));
        }
    }
    if problems.is_empty() {
        Outcome::Pass(format!("extensions: {}", ctx.server.extensions.join(",")))
    } else {
        Outcome::Violation(problems.join("; "))
    }
}

fn versions() -> Vec<Scenario> {
    vec![
        Scenario::steps(
            "core-version-unsupported-patch",
            "PATCH with an unsupported Tus-Resumable gets 412 and is not processed",
            "tus 1.0.0 core, Tus-Resumable: 412, MUST NOT process",
            Level::Must,
            &[CREATION],
            vec![create(12), Step::check(patch("0", b"hello").tus(Some("0.2.2"))).status(&[412]), head_offset_is("0")],
        ),
        Scenario::steps(
            "core-version-412-tus-version",
            "The 412 for an unsupported version carries Tus-Version",
            "tus 1.0.0 core, Tus-Resumable: 412 MUST include Tus-Version",
            Level::Must,
            &[CREATION],
            vec![
                create(12),
                // No 412 at all: not applicable here (core-version-unsupported-patch fails it). A 412 without
                // Tus-Version: a violation.
                Step::gate(patch("0", b"hello").tus(Some("0.2.2")))
                    .status(&[412])
                    .then_check(Expect::Header("Tus-Version", Pred::Present)),
            ],
        ),
        Scenario::steps(
            "core-version-unsupported-head",
            "HEAD with an unsupported Tus-Resumable gets 412",
            "tus 1.0.0 core, Tus-Resumable: 412",
            Level::Must,
            &[CREATION],
            vec![create(12), Step::check(head().tus(Some("0.2.2"))).status(&[412])],
        ),
        Scenario::steps(
            "core-version-missing-patch",
            "PATCH without Tus-Resumable is refused with 412 and not processed",
            "tus 1.0.0 core, Tus-Resumable: MUST be in every request",
            Level::Should,
            &[CREATION],
            vec![create(12), Step::check(patch("0", b"hello").tus(None)).status(&[412]), head_offset_is("0")],
        ),
        Scenario::steps(
            "core-version-missing-head",
            "HEAD without Tus-Resumable (as browsers' caches and proxies may send)",
            "tus 1.0.0 core, Tus-Resumable (open question: HEAD without it)",
            Level::Informational,
            &[CREATION],
            vec![create(12), Step::check(head().tus(None))],
        ),
        Scenario::steps(
            "core-response-tus-resumable",
            "201, HEAD and 204 responses carry Tus-Resumable: 1.0.0",
            "tus 1.0.0 core, Tus-Resumable: in every response",
            Level::Must,
            &[CREATION],
            vec![
                Step::check(RequestSpec::new("POST", Target::Base).header("Upload-Length", "12"))
                    .status(&[201])
                    .header_eq("Tus-Resumable", "1.0.0")
                    .capture(Capture::Location("upload")),
                Step::check(head()).header_eq("Tus-Resumable", "1.0.0"),
                Step::check(patch("0", b"hello")).status(&[204]).header_eq("Tus-Resumable", "1.0.0"),
            ],
        ),
        Scenario::steps(
            "core-override-patch",
            "POST with X-HTTP-Method-Override: PATCH is handled as a PATCH",
            "tus 1.0.0 core, X-HTTP-Method-Override",
            Level::Must,
            &[CREATION],
            vec![
                create(12),
                Step::check(
                    RequestSpec::new("POST", Target::Var("upload"))
                        .header("X-HTTP-Method-Override", "PATCH")
                        .header("Upload-Offset", "0")
                        .header("Content-Type", OFFSET_STREAM)
                        .body(b"hello"),
                )
                .status(&[204])
                .header_eq("Upload-Offset", "5"),
                head_offset_is("5"),
            ],
        ),
        Scenario::steps(
            "core-override-head",
            "POST with X-HTTP-Method-Override: HEAD is handled as a HEAD",
            "tus 1.0.0 core, X-HTTP-Method-Override",
            Level::Must,
            &[CREATION],
            vec![
                create(12),
                Step::check(RequestSpec::new("POST", Target::Var("upload")).header("X-HTTP-Method-Override", "HEAD"))
                    .status(&[200, 204])
                    .header_eq("Upload-Offset", "0"),
            ],
        ),
    ]
}

fn head_rules() -> Vec<Scenario> {
    vec![
        Scenario::steps(
            "core-head-offset",
            "HEAD on a new upload includes Upload-Offset: 0",
            "tus 1.0.0 core, HEAD: Upload-Offset always",
            Level::Must,
            &[CREATION],
            vec![create(12), Step::check(head()).header_eq("Upload-Offset", "0")],
        ),
        Scenario::steps(
            "core-head-status",
            "HEAD succeeds with 200 or 204",
            "tus 1.0.0 core, HEAD: 200 OK or 204 No Content",
            Level::Should,
            &[CREATION],
            vec![create(12), Step::check(head()).status(&[200, 204])],
        ),
        Scenario::steps(
            "core-head-length",
            "HEAD includes the known Upload-Length",
            "tus 1.0.0 core, HEAD: Upload-Length if known",
            Level::Must,
            &[CREATION],
            vec![create(12), Step::check(head()).header_eq("Upload-Length", "12")],
        ),
        Scenario::steps(
            "core-head-cache-control",
            "HEAD responses forbid caching with Cache-Control: no-store",
            "tus 1.0.0 core, HEAD: Cache-Control: no-store",
            Level::Must,
            &[CREATION],
            vec![
                create(12),
                Step::check(head()).expect(Expect::Header("Cache-Control", Pred::Token("no-store".into()))),
            ],
        ),
        Scenario::steps(
            "core-head-unknown",
            "HEAD on an unknown upload: 404, 410 or 403, without Upload-Offset",
            "tus 1.0.0 core, HEAD: resource not found",
            Level::Should,
            &[],
            vec![Step::check(RequestSpec::new("HEAD", Target::Unknown))
                .status(&[404, 410, 403])
                .expect(Expect::Absent("Upload-Offset"))],
        ),
        Scenario::steps(
            "core-head-after-complete",
            "HEAD on a completed upload still answers, with Upload-Offset equal to Upload-Length",
            "tus 1.0.0 core, HEAD: the Server MUST always include the Upload-Offset header, even if the offset is 0 \
             or the upload is already considered completed",
            Level::Must,
            &[CREATION],
            vec![
                create(5),
                Step::setup(patch("0", b"hello")).status(&[204]),
                Step::check(head()).status(&[200, 204]).header_eq("Upload-Offset", "5"),
            ],
        ),
    ]
}

fn patch_rules() -> Vec<Scenario> {
    let a = pattern(10, 1);
    let b = pattern(10, 2);
    let c = pattern(10, 3);
    let all: Vec<u8> = [a.clone(), b.clone(), c.clone()].concat();
    vec![
        Scenario::steps(
            "core-patch-204",
            "A valid PATCH gets 204 with the new Upload-Offset",
            "tus 1.0.0 core, PATCH: 204 with Upload-Offset",
            Level::Must,
            &[CREATION],
            vec![create(12), Step::check(patch("0", b"hello")).status(&[204]).header_eq("Upload-Offset", "5")],
        ),
        Scenario::steps(
            "core-patch-resume",
            "Three PATCHes in a row, each resuming at the offset HEAD reports; the bytes are stored in order",
            "tus 1.0.0 core, PATCH: new offset = old offset + bytes stored",
            Level::Must,
            &[CREATION],
            vec![
                create(40),
                Step::check(patch("0", &a)).status(&[204]).header_eq("Upload-Offset", "10"),
                Step::check(head())
                    .header_eq("Upload-Offset", "10")
                    .capture(Capture::Header("Upload-Offset", "offset")),
                Step::check(patch("{offset}", &b)).status(&[204]).header_eq("Upload-Offset", "20"),
                Step::check(head())
                    .header_eq("Upload-Offset", "20")
                    .capture(Capture::Header("Upload-Offset", "offset")),
                Step::check(patch("{offset}", &c)).status(&[204]).header_eq("Upload-Offset", "30"),
                head_offset_is("30").expect(Expect::Data { at: 0, bytes: all }),
            ],
        ),
        Scenario::steps(
            "core-patch-complete",
            "The PATCH that reaches Upload-Length gets 204 with Upload-Offset equal to the length",
            "tus 1.0.0 core, PATCH: 204 with Upload-Offset",
            Level::Must,
            &[CREATION],
            vec![
                create(10),
                Step::check(patch("0", b"01234")).status(&[204]).header_eq("Upload-Offset", "5"),
                Step::check(patch("5", b"56789"))
                    .status(&[204])
                    .header_eq("Upload-Offset", "10")
                    .expect(Expect::Data { at: 0, bytes: b"0123456789".to_vec() }),
            ],
        ),
        Scenario::steps(
            "core-patch-409",
            "PATCH with a wrong Upload-Offset gets 409 and changes nothing",
            "tus 1.0.0 core, PATCH: offsets do not match -> 409",
            Level::Must,
            &[CREATION],
            vec![
                create(12),
                Step::setup(patch("0", b"hello")).status(&[204]),
                Step::check(patch("0", b"HELLO")).status(&[409]),
                Step::check(patch("7", b"x")).status(&[409]),
                head_offset_is("5").expect(Expect::Data { at: 0, bytes: b"hello".to_vec() }),
            ],
        ),
        Scenario::steps(
            "core-patch-409-offset",
            "The 409 carries the correct Upload-Offset",
            "tus 1.1 draft and IETF resumable uploads: 409 with Upload-Offset",
            Level::Recommended,
            &[CREATION],
            vec![
                create(12),
                Step::setup(patch("0", b"hello")).status(&[204]),
                Step::gate(patch("0", b"HELLO")).status(&[409]),
                Step::check(patch("0", b"HELLO")).header_eq("Upload-Offset", "5"),
            ],
        ),
        Scenario::steps(
            "core-patch-content-type-refused",
            "PATCH with another or no Content-Type is refused and stores nothing",
            // The MUST binds the client; the server's duty is a SHOULD (415), so a refusal is checked at SHOULD.
            "tus 1.0.0 core, PATCH: requests MUST use application/offset+octet-stream, otherwise the server SHOULD refuse",
            Level::Should,
            &[CREATION],
            vec![
                create(12),
                Step::check(
                    RequestSpec::new("PATCH", Target::Var("upload"))
                        .header("Upload-Offset", "0")
                        .header("Content-Type", "text/plain")
                        .body(b"hello"),
                )
                .expect(Expect::Refused),
                Step::check(
                    RequestSpec::new("PATCH", Target::Var("upload")).header("Upload-Offset", "0").body(b"hello"),
                )
                .expect(Expect::Refused),
                head_offset_is("0"),
            ],
        ),
        Scenario::steps(
            "core-patch-content-type-415",
            "PATCH with another or no Content-Type gets 415",
            "tus 1.0.0 core, PATCH: otherwise 415 Unsupported Media Type",
            Level::Should,
            &[CREATION],
            vec![
                create(12),
                Step::check(
                    RequestSpec::new("PATCH", Target::Var("upload"))
                        .header("Upload-Offset", "0")
                        .header("Content-Type", "text/plain")
                        .body(b"hello"),
                )
                .status(&[415]),
                Step::check(
                    RequestSpec::new("PATCH", Target::Var("upload")).header("Upload-Offset", "0").body(b"hello"),
                )
                .status(&[415]),
            ],
        ),
        Scenario::steps(
            "core-patch-past-length",
            "PATCH with more bytes than Upload-Length allows is refused (4xx) and the offset stays within the length",
            "tus 1.0.0 core, Upload-Length: size of the entire upload",
            Level::Must,
            &[CREATION],
            vec![create(5), Step::check(patch("0", b"hello world")).expect(Expect::Class(4)), head_offset_is("0")],
        ),
        Scenario::steps(
            "core-patch-past-length-413",
            "Which status refuses a PATCH past Upload-Length (413 is usual)",
            "tus 1.0.0 core (status left free)",
            Level::Informational,
            &[CREATION],
            vec![create(5), Step::check(patch("0", b"hello world")).status(&[413])],
        ),
        Scenario::steps(
            "core-patch-unknown",
            "PATCH on an unknown upload gets 404",
            "tus 1.0.0 core, PATCH: non-existent resource -> 404",
            Level::Should,
            &[],
            vec![Step::check(
                RequestSpec::new("PATCH", Target::Unknown)
                    .header("Upload-Offset", "0")
                    .header("Content-Type", OFFSET_STREAM)
                    .body(b"hello"),
            )
            .status(&[404])],
        ),
        Scenario::steps(
            "core-patch-chunked",
            "A PATCH with a chunked body (no Content-Length) is accepted",
            "tus 1.0.0 core, PATCH (Content-Length not required); RFC 9112 chunked coding",
            Level::Should,
            &[CREATION],
            vec![
                create(20),
                Step::check(patch("0", b"hello world!").chunked(4)).status(&[204]).header_eq("Upload-Offset", "12"),
                head_offset_is("12").expect(Expect::Data { at: 0, bytes: b"hello world!".to_vec() }),
            ],
        ),
        Scenario::steps(
            "core-patch-slow-body",
            "A PATCH body sent slowly, in small pieces with pauses, is fully stored",
            "tus 1.0.0 core, PATCH: apply the bytes contained in the message",
            Level::Must,
            &[CREATION],
            vec![
                create(64),
                Step::check(patch("0", &pattern(48, 9)).paced(6, Duration::from_millis(100)))
                    .status(&[204])
                    .header_eq("Upload-Offset", "48"),
                head_offset_is("48").expect(Expect::Data { at: 0, bytes: pattern(48, 9) }),
            ],
        )
        .timed(),
    ]
}

fn patch_edges() -> Vec<Scenario> {
    let info = |id, title, steps| {
        Scenario::steps(id, title, "tus 1.0.0 core (behaviour left free)", Level::Informational, &[CREATION], steps)
    };
    vec![
        info(
            "core-info-patch-missing-offset",
            "PATCH without Upload-Offset (400 is usual)",
            vec![
                create(12),
                Step::check(
                    RequestSpec::new("PATCH", Target::Var("upload"))
                        .header("Content-Type", OFFSET_STREAM)
                        .body(b"hello"),
                )
                .expect(Expect::Class(4)),
                head_offset_is("0"),
            ],
        ),
        info(
            "core-info-patch-bad-offset",
            "PATCH with Upload-Offset: -1 and then +0 (400 is usual)",
            vec![
                create(12),
                Step::check(patch("-1", b"hello")).expect(Expect::Class(4)),
                Step::check(patch("+0", b"hello")).expect(Expect::Class(4)),
                head_offset_is("0"),
            ],
        ),
        info(
            "core-info-patch-duplicate-offset",
            "PATCH with two Upload-Offset fields (0 and 3)",
            vec![
                create(12),
                Step::check(patch("0", b"hello").header("Upload-Offset", "3")).expect(Expect::Class(4)),
                head_offset_is("0"),
            ],
        ),
        info(
            "core-info-patch-empty",
            "An empty PATCH (Content-Length: 0) at the current offset",
            vec![create(12), Step::check(patch("0", b"")).status(&[204]).expect(uint("Upload-Offset"))],
        ),
        info(
            "core-info-patch-complete-upload",
            "PATCH on a complete upload (open question: 403, 404, 409 or 410?)",
            vec![create(5), Step::setup(patch("0", b"hello")).status(&[204]), Step::check(patch("5", b"x"))],
        ),
    ]
}
