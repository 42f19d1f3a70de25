//! The scenario catalogue: core protocol, creation (and the other extensions), and network faults.

use crate::context::Ctx;
use crate::runner::run_steps;
use crate::scenario::{Capture, Expect, Outcome, Pred, RequestSpec, Requirement, Scenario, Step, Target};

pub mod checksum;
pub mod concatenation;
pub mod core;
pub mod creation;
pub mod expiration;
pub mod extensions;
pub mod faults;
pub mod options;
mod quotes;

/// Every scenario, in run order, each with the sentence of the protocol text it tests ([`Scenario::quote`]).
///
/// Scenario ids are stable: reports, `--only`/`--skip` globs and CI configurations name them, so an id is never
/// renamed or reused (the crate's `tests/requirements.rs` holds the list).
pub fn all() -> Vec<Scenario> {
    let mut v = core::scenarios();
    v.extend(creation::scenarios());
    v.extend(extensions::scenarios());
    v.extend(checksum::scenarios());
    v.extend(concatenation::scenarios());
    v.extend(expiration::scenarios());
    v.extend(options::scenarios());
    v.extend(faults::scenarios());
    v.into_iter()
        .map(|s| match quotes::of(s.id) {
            Some(quote) => s.quoting(quote),
            None => s,
        })
        .collect()
}

/// The creation extension, needed to make uploads to test.
pub(crate) const CREATION: Requirement = Requirement::Extension("creation");

/// The content type of PATCH bodies.
pub(crate) const OFFSET_STREAM: &str = "application/offset+octet-stream";

/// A setup step creating an upload of `length` bytes, captured as `{upload}`.
pub(crate) fn create(length: u64) -> Step {
    Step::setup(RequestSpec::new("POST", Target::Base).header("Upload-Length", &length.to_string()))
        .status(&[201])
        .capture(Capture::Location("upload"))
}

/// A HEAD of `{upload}`.
pub(crate) fn head() -> RequestSpec {
    RequestSpec::new("HEAD", Target::Var("upload"))
}

/// A well-formed PATCH of `{upload}` at `offset` (a template such as `"0"` or `"{offset}"`).
pub(crate) fn patch(offset: &str, body: &[u8]) -> RequestSpec {
    patch_of("upload", offset, body)
}

/// A well-formed PATCH of the upload captured as `var`, at `offset`.
pub(crate) fn patch_of(var: &'static str, offset: &str, body: &[u8]) -> RequestSpec {
    RequestSpec::new("PATCH", Target::Var(var))
        .header("Upload-Offset", offset)
        .header("Content-Type", OFFSET_STREAM)
        .body(body)
}

/// Runs declarative `steps`; when they all held, `then` judges what they captured (`Err`: a violation of the
/// rule under test; `Ok`: a note for the report). For rules the expectations of a step cannot state (a date
/// that must parse, URLs that must name given uploads).
pub(crate) fn steps_then(
    ctx: &mut Ctx<'_>,
    steps: &[Step],
    then: impl FnOnce(&mut Ctx<'_>) -> Result<String, String>,
) -> Outcome {
    match run_steps(ctx, steps) {
        Outcome::Pass(trace) => match then(ctx) {
            Ok(note) if note.is_empty() => Outcome::Pass(trace),
            Ok(note) => Outcome::Pass(format!("{trace}; {note}")),
            Err(why) => Outcome::Violation(format!("{why} [after {trace}]")),
        },
        other => other,
    }
}

/// A check that HEAD reports `offset`.
pub(crate) fn head_offset_is(offset: &str) -> Step {
    Step::check(head()).status(&[200, 204]).header_eq("Upload-Offset", offset)
}

/// Expects a header to be a non-negative integer.
pub(crate) fn uint(name: &'static str) -> Expect {
    Expect::Header(name, Pred::UInt)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::scenario::Procedure;

    #[test]
    fn ids_are_unique_and_clauses_present() {
        let all = all();
        let mut seen = HashSet::new();
        for s in &all {
            assert!(seen.insert(s.id), "duplicate id {}", s.id);
            assert!(!s.clause.is_empty() && !s.title.is_empty(), "{} lacks clause or title", s.id);
            assert!(s.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'), "{}", s.id);
            if let Procedure::Steps(steps) = &s.procedure {
                assert!(!steps.is_empty(), "{} has no steps", s.id);
            }
        }
        assert!(all.len() >= 40, "only {} scenarios", all.len());
    }

    #[test]
    fn every_scenario_quotes_its_requirement() {
        let all = all();
        for s in &all {
            assert!(!s.quote.is_empty(), "{} quotes no requirement", s.id);
        }
        // The table names no scenario that does not exist, and is in run order.
        let ids: Vec<&str> = all.iter().map(|s| s.id).collect();
        let quoted: Vec<&str> = quotes::QUOTES.iter().map(|(id, _)| *id).collect();
        assert_eq!(quoted, ids);
    }
}
