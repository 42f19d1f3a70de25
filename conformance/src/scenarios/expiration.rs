//! Scenarios for the expiration extension, run only when the server advertises it: `Upload-Expires` on the
//! responses about an unfinished upload, as an HTTP-date.

use std::time::SystemTime;

use super::{create, head, patch, steps_then, CREATION};
use crate::context::Ctx;
use crate::scenario::{Capture, Expect, Level, Outcome, Pred, RequestSpec, Requirement, Scenario, Step, Target};

const EXPIRATION: Requirement = Requirement::Extension("expiration");

/// The expiration scenarios.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::custom(
            "expiration-patch",
            "The 204 of a PATCH leaving the upload unfinished carries Upload-Expires, an HTTP-date",
            "tus 1.0.0 expiration: a Server lists expiration to tell that it \"MAY remove unfinished uploads once \
             they expire\", and Upload-Expires \"MUST be included in every PATCH response if the upload is going to \
             expire\"; \"The value of the Upload-Expires header MUST be in RFC 9110 datetime format\"",
            Level::Extension("expiration"),
            &[CREATION, EXPIRATION],
            expires_on_patch,
        ),
        Scenario::custom(
            "expiration-post",
            "The 201 of a POST creating an unfinished upload carries Upload-Expires, an HTTP-date",
            "tus 1.0.0 expiration: \"If the expiration is known at the creation, the Upload-Expires header MUST be \
             included in the response to the initial POST request\" (whether it is known is the server's business: \
             SHOULD here); value in RFC 9110 datetime format",
            Level::Should,
            &[CREATION, EXPIRATION],
            expires_on_post,
        ),
        Scenario::custom(
            "expiration-head",
            "HEAD of an unfinished upload carries Upload-Expires, an HTTP-date",
            "tus 1.0.0 expiration asks it of PATCH (and POST) responses; on HEAD it tells a resuming client the \
             deadline before it sends (\"The Client SHOULD use this header to determine if an upload is still \
             valid before attempting to resume the upload\")",
            Level::Recommended,
            &[CREATION, EXPIRATION],
            expires_on_head,
        ),
    ]
}

/// Expects `Upload-Expires` and captures it as `{expires}`.
fn with_expires(step: Step) -> Step {
    step.expect(Expect::Header("Upload-Expires", Pred::Present)).capture(Capture::Header("Upload-Expires", "expires"))
}

fn expires_on_patch(ctx: &mut Ctx<'_>) -> Outcome {
    let steps = [create(10), with_expires(Step::check(patch("0", b"abc")).status(&[204]))];
    steps_then(ctx, &steps, check_expires)
}

fn expires_on_post(ctx: &mut Ctx<'_>) -> Outcome {
    let post = RequestSpec::new("POST", Target::Base).header("Upload-Length", "10");
    let steps = [with_expires(Step::check(post).status(&[201]).capture(Capture::Location("upload")))];
    steps_then(ctx, &steps, check_expires)
}

fn expires_on_head(ctx: &mut Ctx<'_>) -> Outcome {
    let steps = [
        create(10),
        Step::setup(patch("0", b"abc")).status(&[204]),
        with_expires(Step::check(head()).status(&[200, 204])),
    ];
    steps_then(ctx, &steps, check_expires)
}

/// Judges the captured `{expires}`.
fn check_expires(ctx: &mut Ctx<'_>) -> Result<String, String> {
    http_date(ctx.var("expires").unwrap_or_default(), SystemTime::now())
}

/// Whether `value` is an HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, or one of the two obsolete forms a recipient
/// must accept). The note says when it expires relative to `now`, and whether the form is not IMF-fixdate (which
/// senders MUST generate).
fn http_date(value: &str, now: SystemTime) -> Result<String, String> {
    let at = httpdate::parse_http_date(value)
        .map_err(|_| format!("Upload-Expires {value:?} is not an HTTP-date (RFC 9110 section 5.6.7)"))?;
    let mut note = match at.duration_since(now) {
        Ok(ahead) => format!("Upload-Expires {value:?}: in {} s", ahead.as_secs()),
        Err(e) => format!("Upload-Expires {value:?}: already {} s past (clock skew?)", e.duration().as_secs()),
    };
    if httpdate::fmt_http_date(at) != value {
        note.push_str(", not in IMF-fixdate form");
    }
    Ok(note)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn http_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").expect("date");
        assert_eq!(
            http_date("Mon, 07 Nov 1994 08:49:37 GMT", now).expect("fixdate"),
            format!("Upload-Expires {:?}: in 86400 s", "Mon, 07 Nov 1994 08:49:37 GMT")
        );
        assert!(http_date("Sunday, 06-Nov-94 08:49:37 GMT", now).expect("rfc850").contains("not in IMF-fixdate"));
        assert!(http_date("Sun, 06 Nov 1994 08:49:36 GMT", now + Duration::from_secs(60))
            .expect("past")
            .contains("past"));
        assert!(http_date("1994-11-06T08:49:37Z", now).is_err());
        assert!(http_date("86400", now).is_err());
        assert!(http_date("", now).is_err());
    }
}
