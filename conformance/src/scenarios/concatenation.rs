//! Scenarios for the concatenation and concatenation-unfinished extensions, run only when the server advertises
//! them: partial uploads (`Upload-Concat: partial`), a final upload naming them (`Upload-Concat: final;<url>
//! <url>`), what HEAD says of each, PATCH on a final, and a final created before its parts are complete.

use super::{head, patch, patch_of, steps_then, CREATION};
use crate::context::Ctx;
use crate::scenario::{Capture, Expect, Level, Outcome, Pred, RequestSpec, Requirement, Scenario, Step, Target};
use crate::url::Url;

const EXT: Level = Level::Extension("concatenation");
const UNFINISHED: Level = Level::Extension("concatenation-unfinished");

/// The first part's bytes.
const PART1: &[u8] = b"hello";
/// The second part's bytes.
const PART2: &[u8] = b" world";
/// The final upload's bytes: the parts in order.
const WHOLE: &[u8] = b"hello world";

/// A step creating a partial upload of `length` bytes, captured as `var`.
fn partial(var: &'static str, length: usize) -> Step {
    Step::setup(
        RequestSpec::new("POST", Target::Base)
            .header("Upload-Length", &length.to_string())
            .header("Upload-Concat", "partial"),
    )
    .status(&[201])
    .capture(Capture::Location(var))
}

/// A step uploading `body` to the upload captured as `var`, at `offset`.
fn upload(var: &'static str, offset: usize, body: &[u8]) -> Step {
    Step::setup(patch_of(var, &offset.to_string(), body)).status(&[204])
}

/// The POST of a final upload naming `part1` then `part2` (their absolute URLs); the final is captured as
/// `upload`.
fn create_final(role: fn(RequestSpec) -> Step) -> Step {
    role(RequestSpec::new("POST", Target::Base).header("Upload-Concat", "final;{part1} {part2}"))
        .status(&[201])
        .capture(Capture::Location("upload"))
}

/// Two complete partial uploads (`part1`, `part2`) and a final upload of both (`upload`), created in a step of
/// this role.
fn finished_final(role: fn(RequestSpec) -> Step) -> Vec<Step> {
    vec![
        partial("part1", PART1.len()),
        upload("part1", 0, PART1),
        partial("part2", PART2.len()),
        upload("part2", 0, PART2),
        create_final(role),
    ]
}

/// A complete partial upload (`part1`), one with only its first 3 bytes (`part2`), and a final upload of both
/// (`upload`), created before `part2` is complete.
fn unfinished_final() -> Vec<Step> {
    vec![
        partial("part1", PART1.len()),
        upload("part1", 0, PART1),
        partial("part2", PART2.len()),
        upload("part2", 0, &PART2[..3]),
        create_final(Step::check),
    ]
}

/// A check that `HEAD` of the final upload shows it finished: offset = length = the parts' sum, its bytes the
/// parts' in order.
fn final_is_whole() -> Step {
    let whole = WHOLE.len().to_string();
    Step::check(head())
        .status(&[200, 204])
        .header_eq("Upload-Offset", &whole)
        .header_eq("Upload-Length", &whole)
        .expect(Expect::Data { at: 0, bytes: WHOLE.to_vec() })
}

/// The concatenation scenarios.
pub fn scenarios() -> Vec<Scenario> {
    let concatenation = Requirement::Extension("concatenation");
    let unfinished = Requirement::Extension("concatenation-unfinished");
    let whole = WHOLE.len().to_string();
    vec![
        Scenario::steps(
            "concat-partial-head",
            "POST with Upload-Concat: partial creates an upload whose HEAD echoes Upload-Concat: partial",
            "tus 1.0.0 concatenation: \"The response to a HEAD request for a partial upload MUST contain the \
             Upload-Offset header\"; \"Response to HEAD request against partial or final upload MUST include the \
             Upload-Concat header and its value as received in the upload creation request\"",
            EXT,
            &[CREATION, concatenation],
            vec![
                Step::check(
                    RequestSpec::new("POST", Target::Base)
                        .header("Upload-Length", &PART1.len().to_string())
                        .header("Upload-Concat", "partial"),
                )
                .status(&[201])
                .capture(Capture::Location("upload")),
                Step::check(head())
                    .status(&[200, 204])
                    .header_eq("Upload-Concat", "partial")
                    .header_eq("Upload-Offset", "0")
                    .header_eq("Upload-Length", "5"),
                Step::check(patch("0", &PART1[..3])).status(&[204]).header_eq("Upload-Offset", "3"),
                Step::check(head()).header_eq("Upload-Concat", "partial").header_eq("Upload-Offset", "3"),
            ],
        ),
        Scenario::custom(
            "concat-final",
            "A final upload of two finished partial uploads: 201; HEAD has offset = length = their sum, \
             Upload-Concat: final; naming them; its bytes are theirs in order",
            "tus 1.0.0 concatenation: a final upload is created with \"Upload-Concat: final;\" and the partial \
             upload URLs, in order; its length is the sum of the partial uploads' lengths; \"After \
             successful concatenation, the Upload-Offset and Upload-Length MUST be set and their values MUST be \
             equal\"; HEAD MUST include Upload-Concat as received",
            EXT,
            &[CREATION, concatenation],
            concat_final,
        ),
        Scenario::steps(
            "concat-patch-final-403",
            "PATCH on a final upload gets 403 and changes nothing",
            "tus 1.0.0 concatenation: \"The Server MUST respond with the 403 Forbidden status to PATCH requests \
             against a final upload URL and MUST NOT modify the final or its partial uploads\"",
            EXT,
            &[CREATION, concatenation],
            {
                let mut steps = finished_final(Step::setup);
                steps.extend([Step::check(patch(&whole, b"!")).status(&[403]), final_is_whole()]);
                steps
            },
        ),
        Scenario::steps(
            "concat-unfinished-final",
            "A final upload naming a partial upload still in progress: 201; once the part completes, HEAD of the \
             final has offset = length = the sum and its bytes are the parts in order",
            "tus 1.0.0 concatenation-unfinished: the Client MAY create the final upload before the partial \
             uploads are finished; \"The Upload-Length header MUST be included if the length of the final \
             resource can be calculated\"; after concatenation Upload-Offset and Upload-Length MUST be equal",
            UNFINISHED,
            &[CREATION, concatenation, unfinished],
            {
                let mut steps = unfinished_final();
                steps.extend([
                    Step::check(head())
                        .status(&[200, 204])
                        .header_eq("Upload-Length", &whole)
                        .expect(Expect::Header("Upload-Concat", Pred::Present)),
                    Step::check(patch_of("part2", "3", &PART2[3..])).status(&[204]).header_eq("Upload-Offset", "6"),
                    final_is_whole(),
                ]);
                steps
            },
        ),
        Scenario::steps(
            "concat-unfinished-head-no-offset",
            "HEAD of a final upload whose parts are not all complete omits Upload-Offset",
            "tus 1.0.0 concatenation: \"The response to a HEAD request for a final upload SHOULD NOT contain the \
             Upload-Offset header unless the concatenation has been successfully finished\"",
            Level::Should,
            &[CREATION, concatenation, unfinished],
            {
                let mut steps = unfinished_final();
                steps.push(Step::check(head()).status(&[200, 204]).expect(Expect::Absent("Upload-Offset")));
                steps
            },
        ),
    ]
}

/// The final upload of two finished parts, then a check that its `Upload-Concat` names them, in order.
fn concat_final(ctx: &mut Ctx<'_>) -> Outcome {
    let whole = WHOLE.len().to_string();
    let mut steps = finished_final(Step::check);
    steps.push(
        Step::check(head())
            .status(&[200, 204])
            .header_eq("Upload-Offset", &whole)
            .header_eq("Upload-Length", &whole)
            .expect(Expect::Header("Upload-Concat", Pred::Present))
            .capture(Capture::Header("Upload-Concat", "concat"))
            .expect(Expect::Data { at: 0, bytes: WHOLE.to_vec() }),
    );
    steps_then(ctx, &steps, |ctx| {
        let var = |name: &str| ctx.var(name).unwrap_or_default().to_string();
        names_parts(&var("concat"), &var("upload"), &[var("part1"), var("part2")])
    })
}

/// Whether an `Upload-Concat` value of the final at `final_url` is `final;` followed by URLs (absolute or
/// relative to the final's URL) naming `parts` in order. `Ok` carries a note when they are not the URLs sent.
fn names_parts(value: &str, final_url: &str, parts: &[String]) -> Result<String, String> {
    let Some(urls) = value.trim().strip_prefix("final;") else {
        return Err(format!("HEAD: Upload-Concat {value:?} (expected \"final;\" and the partial upload URLs)"));
    };
    let base = Url::parse(final_url).map_err(|e| e.to_string())?;
    let named: Vec<&str> = urls.split(' ').filter(|u| !u.is_empty()).collect();
    let resolved: Vec<Option<Url>> = named.iter().map(|u| base.join(u).ok()).collect();
    let wanted: Vec<Option<Url>> = parts.iter().map(|p| Url::parse(p).ok()).collect();
    if resolved != wanted {
        return Err(format!("HEAD: Upload-Concat {value:?} does not name the partial uploads {parts:?} in order"));
    }
    if named.iter().zip(parts).all(|(n, p)| n == p) {
        Ok(String::new())
    } else {
        Ok(format!("Upload-Concat echoed as {value:?}: the same uploads, not the URLs as sent"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_values_name_the_parts() {
        let parts = ["http://h:1/files/a".to_string(), "http://h:1/files/b".to_string()];
        let f = "http://h:1/files/f";
        assert_eq!(names_parts("final;http://h:1/files/a http://h:1/files/b", f, &parts).expect("same"), "");
        assert!(names_parts("final;/files/a /files/b", f, &parts).expect("paths").contains("not the URLs"));
        assert!(names_parts("final;/files/b /files/a", f, &parts).is_err());
        assert!(names_parts("final;/files/a", f, &parts).is_err());
        assert!(names_parts("partial", f, &parts).is_err());
    }
}
