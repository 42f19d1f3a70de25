//! Scenarios for other extensions, run only when the server advertises them: termination,
//! creation-defer-length and creation-with-upload.

use super::{create, head, head_offset_is, patch, CREATION, OFFSET_STREAM};
use crate::scenario::{Capture, Expect, Level, Pred, RequestSpec, Requirement, Scenario, Step, Target};

/// The extension scenarios.
pub fn scenarios() -> Vec<Scenario> {
    let termination = Requirement::Extension("termination");
    let defer = Requirement::Extension("creation-defer-length");
    let with_upload = Requirement::Extension("creation-with-upload");
    vec![
        Scenario::steps(
            "termination-delete",
            "DELETE on an upload answers 204",
            "tus 1.0.0 termination, DELETE: the Server MUST respond with 204 No Content",
            Level::Extension("termination"),
            &[CREATION, termination],
            vec![
                create(10),
                Step::setup(patch("0", b"abc")).status(&[204]),
                Step::check(RequestSpec::new("DELETE", Target::Var("upload"))).status(&[204]),
            ],
        ),
        Scenario::steps(
            "termination-terminated",
            "After DELETE answered 204, the upload takes no more data: a PATCH at its offset is refused",
            "tus 1.0.0 termination, DELETE: the Server \"MUST respond with the 204 No Content status confirming \
             that the upload was terminated\": an upload that still takes bytes was not terminated (which status \
             refuses them is the SHOULD of termination-gone)",
            Level::Extension("termination"),
            &[CREATION, termination],
            vec![
                create(10),
                Step::setup(patch("0", b"abc")).status(&[204]),
                Step::gate(RequestSpec::new("DELETE", Target::Var("upload"))).status(&[204]),
                Step::check(patch("3", b"def")).expect(Expect::Refused),
            ],
        ),
        Scenario::steps(
            "termination-gone",
            "After a DELETE, HEAD and PATCH on the upload answer 404 or 410",
            "tus 1.0.0 termination: for all future requests to this URL, the Server SHOULD respond with 404 Not Found \
             or 410 Gone",
            Level::Should,
            &[CREATION, termination],
            vec![
                create(10),
                Step::setup(patch("0", b"abc")).status(&[204]),
                Step::gate(RequestSpec::new("DELETE", Target::Var("upload"))).status(&[204]),
                Step::check(head()).status(&[404, 410]),
                Step::check(patch("3", b"def")).status(&[404, 410]),
            ],
        ),
        Scenario::steps(
            "termination-unknown",
            "DELETE on an unknown upload (404 is usual)",
            "tus 1.0.0 termination (status left free)",
            Level::Informational,
            &[termination],
            vec![Step::check(RequestSpec::new("DELETE", Target::Unknown)).status(&[404, 410])],
        ),
        Scenario::steps(
            "defer-length-flow",
            "Upload-Defer-Length: 1 creates an upload whose HEAD says so; a PATCH then sets Upload-Length",
            "tus 1.0.0 creation-defer-length",
            Level::Extension("creation-defer-length"),
            &[CREATION, defer],
            vec![
                Step::check(RequestSpec::new("POST", Target::Base).header("Upload-Defer-Length", "1"))
                    .status(&[201])
                    .capture(Capture::Location("upload")),
                Step::check(head())
                    .header_eq("Upload-Defer-Length", "1")
                    .header_eq("Upload-Offset", "0")
                    .expect(Expect::Absent("Upload-Length")),
                Step::check(patch("0", b"hello").header("Upload-Length", "8")).status(&[204]),
                Step::check(head()).header_eq("Upload-Length", "8").header_eq("Upload-Offset", "5"),
            ],
        ),
        Scenario::steps(
            "defer-length-bad-value",
            "Upload-Defer-Length with a value other than 1 gets 400",
            "tus 1.0.0 creation-defer-length: other values -> 400",
            Level::Should,
            &[CREATION, defer],
            vec![Step::check(RequestSpec::new("POST", Target::Base).header("Upload-Defer-Length", "2")).status(&[400])],
        ),
        Scenario::steps(
            "creation-with-upload",
            "POST carrying data gets 201 with Upload-Offset; HEAD agrees",
            "tus 1.0.0 creation-with-upload: 201 MUST include Upload-Offset",
            Level::Extension("creation-with-upload"),
            &[CREATION, with_upload],
            vec![
                Step::check(
                    RequestSpec::new("POST", Target::Base)
                        .header("Upload-Length", "10")
                        .header("Content-Type", OFFSET_STREAM)
                        .body(b"abcd"),
                )
                .status(&[201])
                .expect(Expect::Header("Upload-Offset", Pred::Eq("4".into())))
                .capture(Capture::Location("upload")),
                head_offset_is("4").expect(Expect::Data { at: 0, bytes: b"abcd".to_vec() }),
            ],
        ),
    ]
}
