//! Creation extension scenarios: POST with Upload-Length, Location, limits, metadata, zero-length uploads.

use super::{create, head, CREATION};
use crate::check::encode_metadata;
use crate::scenario::{Capture, Expect, Level, Pred, RequestSpec, Requirement, Scenario, Step, Target};

const EXT: Level = Level::Extension("creation");

fn post() -> RequestSpec {
    RequestSpec::new("POST", Target::Base)
}

fn post_len(value: &str) -> RequestSpec {
    post().header("Upload-Length", value)
}

/// The creation scenarios.
pub fn scenarios() -> Vec<Scenario> {
    let meta = [("filename", Some(&b"world_domination plan.pdf"[..])), ("type", Some(&b"text/plain"[..]))];
    let meta_empty = [("filename", Some(&b"a.txt"[..])), ("flag", None), ("note", Some(&b""[..]))];
    vec![
        Scenario::steps(
            "creation-201-location",
            "POST with Upload-Length gets 201 and a Location that HEAD can use",
            "tus 1.0.0 creation, POST: 201 Created with Location (absolute or relative)",
            EXT,
            &[CREATION],
            vec![
                Step::check(post_len("100"))
                    .status(&[201])
                    .expect(Expect::Header("Location", Pred::Present))
                    .capture(Capture::Location("upload")),
                Step::check(head())
                    .status(&[200, 204])
                    .header_eq("Upload-Offset", "0")
                    .header_eq("Upload-Length", "100"),
            ],
        ),
        Scenario::steps(
            "creation-distinct-locations",
            "Two POSTs create two different uploads",
            "tus 1.0.0 creation, POST: a new upload resource",
            EXT,
            &[CREATION],
            vec![
                create(10),
                Step::setup(
                    RequestSpec::new("PATCH", Target::Var("upload"))
                        .header("Upload-Offset", "0")
                        .header("Content-Type", super::OFFSET_STREAM)
                        .body(b"abc"),
                )
                .status(&[204]),
                Step::check(post_len("10")).status(&[201]).capture(Capture::Location("upload")),
                Step::check(head()).header_eq("Upload-Offset", "0"),
            ],
        ),
        Scenario::steps(
            "creation-zero-length",
            "An upload of length 0 is created; HEAD reports offset 0 and length 0",
            "tus 1.0.0 creation, Upload-Length: 0 (complete at creation)",
            EXT,
            &[CREATION],
            vec![
                Step::check(post_len("0")).status(&[201]).capture(Capture::Location("upload")),
                Step::check(head()).status(&[200, 204]).header_eq("Upload-Offset", "0").header_eq("Upload-Length", "0"),
            ],
        ),
        Scenario::steps(
            "creation-413-max-size",
            "POST with Upload-Length above the advertised Tus-Max-Size gets 413",
            "tus 1.0.0 creation, POST: length exceeds the maximum -> 413",
            EXT,
            &[CREATION, Requirement::MaxSize],
            vec![Step::check(post_len("{max_size_plus_one}")).status(&[413])],
        ),
        Scenario::steps(
            "creation-at-max-size",
            "POST with Upload-Length equal to Tus-Max-Size is accepted",
            "tus 1.0.0 core, Tus-Max-Size: maximum allowed size",
            Level::Should,
            &[CREATION, Requirement::MaxSize],
            vec![Step::check(post_len("{max_size}")).status(&[201])],
        ),
        Scenario::steps(
            "creation-unsupported-version",
            "POST with an unsupported Tus-Resumable gets 412 with Tus-Version",
            "tus 1.0.0 core, Tus-Resumable: 412 with Tus-Version",
            Level::Must,
            &[CREATION],
            vec![Step::check(post_len("10").tus(Some("0.2.2")))
                .status(&[412])
                .expect(Expect::Header("Tus-Version", Pred::Present))],
        ),
        // A request without a length, or with one that is not a non-negative integer, breaks a MUST of the client;
        // the text names no status for the server's refusal. Refusing it (4xx) is checked at SHOULD level, and 400,
        // what most servers answer, is only noted when another 4xx comes.
        Scenario::steps(
            "creation-length-missing",
            "POST without Upload-Length or Upload-Defer-Length is refused with a 4xx (400 is usual)",
            "tus 1.0.0 creation, POST: the request MUST include Upload-Length or Upload-Defer-Length (binds the \
             client; no status is named for the refusal)",
            Level::Should,
            &[CREATION],
            vec![Step::check(post()).expect(Expect::Class(4)).expect(Expect::Usual(400))],
        ),
        Scenario::steps(
            "creation-length-invalid",
            "POST with Upload-Length: abc is refused with a 4xx (400 is usual)",
            "tus 1.0.0 core, Upload-Length: the value MUST be a non-negative integer (binds the client; no status is \
             named for the refusal)",
            Level::Should,
            &[CREATION],
            vec![Step::check(post_len("abc")).expect(Expect::Class(4)).expect(Expect::Usual(400))],
        ),
        Scenario::steps(
            "creation-length-negative",
            "POST with Upload-Length: -1 is refused with a 4xx (400 is usual)",
            "tus 1.0.0 core, Upload-Length: the value MUST be a non-negative integer (binds the client; no status is \
             named for the refusal)",
            Level::Should,
            &[CREATION],
            vec![Step::check(post_len("-1")).expect(Expect::Class(4)).expect(Expect::Usual(400))],
        ),
        Scenario::steps(
            "creation-length-strict-digits",
            "POST with Upload-Length: +5 (refusing it, digits only, is usual)",
            // The MUST on the value binds the client; how a server reads "+5" is left free.
            "tus 1.0.0 core, Upload-Length: a non-negative integer (server reaction left free)",
            Level::Informational,
            &[CREATION],
            vec![Step::check(post_len("+5")).expect(Expect::Class(4))],
        ),
        Scenario::steps(
            "creation-metadata-roundtrip",
            "Upload-Metadata given at creation is echoed by HEAD",
            "tus 1.0.0 creation, Upload-Metadata: HEAD MUST include it as specified",
            EXT,
            &[CREATION],
            vec![
                Step::gate(post_len("10").header("Upload-Metadata", &encode_metadata(&meta)))
                    .status(&[201])
                    .capture(Capture::Location("upload")),
                Step::check(head()).expect(Expect::Metadata(meta.to_vec())),
            ],
        ),
        Scenario::steps(
            "creation-metadata-empty-value",
            "Metadata keys with empty values (key alone, or key and empty value) are echoed",
            "tus 1.0.0 creation, Upload-Metadata: the value MAY be empty",
            EXT,
            &[CREATION],
            vec![
                Step::gate(post_len("10").header("Upload-Metadata", "filename YS50eHQ=,note ,flag"))
                    .status(&[201])
                    .capture(Capture::Location("upload")),
                Step::check(head()).expect(Expect::Metadata(meta_empty.to_vec())),
            ],
        ),
        Scenario::steps(
            "creation-info-metadata-invalid",
            "Upload-Metadata with a value that is not base64 (400 is usual)",
            "tus 1.0.0 creation, Upload-Metadata (server MAY reject)",
            Level::Informational,
            &[CREATION],
            vec![
                Step::check(post_len("10").header("Upload-Metadata", "filename !!!notbase64")).expect(Expect::Class(4))
            ],
        ),
        Scenario::steps(
            "creation-info-metadata-duplicate",
            "Upload-Metadata with a duplicate key (keys MUST be unique; 400 is usual)",
            "tus 1.0.0 creation, Upload-Metadata: keys MUST be unique",
            Level::Informational,
            &[CREATION],
            vec![Step::check(post_len("10").header("Upload-Metadata", "k YQ==,k Yg==")).expect(Expect::Class(4))],
        ),
        Scenario::steps(
            "creation-info-post-with-body",
            "POST carrying data when creation-with-upload is not the point (what happens to the body?)",
            "tus 1.0.0 creation-with-upload (only when advertised)",
            Level::Informational,
            &[CREATION],
            vec![
                Step::check(post_len("10").header("Content-Type", super::OFFSET_STREAM).body(b"abcd"))
                    .capture(Capture::Location("upload")),
                Step::check(head()).expect(Expect::Header("Upload-Offset", Pred::UInt)),
            ],
        ),
    ]
}
