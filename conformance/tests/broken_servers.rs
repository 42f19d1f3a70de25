//! The suite catches real mistakes: tussi's own server (tus-hyper over its MemoryStore, on a real socket) passes,
//! and each deliberately broken variant of it — at least one per extension, and two of the core — turns the suite
//! red, failing exactly the scenarios of the rule it breaks.
//!
//! Each variant is tussi with one [`Flaw`] (tests/tussi/): a rewrite of requests or responses between the socket
//! and the app. Stored bytes are checked through the store itself ([`tussi::MemoryProbe`]), so a flaw that only
//! shows in the bytes (a concatenation in the wrong order) is caught too.
//!
//! The flawed runs skip the `fault-*` scenarios: they are timing-heavy (stalls, server timeouts) and no flaw here
//! touches what they check; the honest run has them all.

mod tussi;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use tus_conformance::{run, scenarios, Config, Report, Timeouts, Url, Verdict, WireTransport};
use tussi::{Flaw, Server, FLAWS};

/// The suite over the wire against `server`, with its store as the data probe; `faults` also runs the `fault-*`
/// scenarios.
fn suite(server: &Server, faults: bool) -> Report {
    let mut config = Config::new(Url::parse(&server.url).expect("url"));
    if !faults {
        config.skip = vec!["fault-*".into()];
    }
    let mut wire = WireTransport::new(Timeouts::default(), true);
    run(&config, &mut wire, Some(&server.probe()), &scenarios::all()).expect("the suite ran")
}

fn ids_with(report: &Report, verdict: Verdict) -> BTreeSet<String> {
    report.results.iter().filter(|r| r.verdict == verdict).map(|r| r.id.clone()).collect()
}

/// The scenarios each flaw must fail (and only those), and the extension whose rule it breaks (None: core).
fn expected(flaw: Flaw) -> (Option<&'static str>, &'static [&'static str]) {
    match flaw {
        Flaw::None => (None, &[]),
        Flaw::HeadCacheable => (None, &["core-head-cache-control"]),
        Flaw::NoTusResumable => (None, &["core-response-tus-resumable"]),
        Flaw::ZeroLengthRefused => (Some("creation"), &["creation-zero-length"]),
        Flaw::CreationBodyDropped => (Some("creation-with-upload"), &["creation-with-upload"]),
        Flaw::DeferLengthForgotten => (Some("creation-defer-length"), &["defer-length-flow"]),
        Flaw::DeleteKeepsUpload => (Some("termination"), &["termination-terminated"]),
        Flaw::ChecksumUnchecked => (Some("checksum"), &["checksum-mismatch-460", "checksum-unsupported-400"]),
        // tussi refuses (400) a body whose announced trailer never came: the matching trailer fails too.
        Flaw::TrailersIgnored => {
            (Some("checksum-trailer"), &["checksum-trailer-match", "checksum-trailer-mismatch-460"])
        }
        // Every scenario that reads the final's bytes back sees the parts in the wrong order.
        Flaw::ConcatReversed => {
            (Some("concatenation"), &["concat-final", "concat-patch-final-403", "concat-unfinished-final"])
        }
        Flaw::UnfinishedFinalWithoutLength => (Some("concatenation-unfinished"), &["concat-unfinished-final"]),
        Flaw::ExpiresForgotten => (Some("expiration"), &["expiration-patch"]),
    }
}

/// The honest server's report (one run, shared by the tests of this file).
fn honest() -> &'static Report {
    static REPORT: OnceLock<Report> = OnceLock::new();
    REPORT.get_or_init(|| {
        let server = Server::start(Flaw::None);
        let report = suite(&server, true);
        println!("== honest tussi\n{}", report.table());
        report
    })
}

#[test]
fn honest_tussi_passes_every_must_and_should() {
    let report = honest();
    let not_green = report.not_green();
    assert!(not_green.is_empty(), "honest tussi is not green:\n{}", not_green.join("\n"));
    assert_eq!(report.exit_code(true), 0);
    // Every scenario a flaw must fail ran and passed here: the flawed runs fail because of the flaw.
    for flaw in FLAWS {
        let (extension, ids) = expected(flaw);
        if let Some(extension) = extension {
            assert!(report.server.has(extension), "{flaw:?}: tussi does not advertise {extension}");
        }
        for id in ids {
            assert_eq!(report.verdict(id), Some(Verdict::Pass), "{flaw:?}: {id} on honest tussi");
        }
    }
    // One flaw per extension at least.
    let covered: BTreeSet<&str> = FLAWS.iter().filter_map(|f| expected(*f).0).collect();
    for extension in &report.server.extensions {
        assert!(covered.contains(extension.as_str()), "no broken variant for {extension}");
    }
}

/// Runs the suite against tussi with `flaw` and checks that it fails exactly the expected scenarios.
fn red(flaw: Flaw) {
    let (_, ids) = expected(flaw);
    let server = Server::start(flaw);
    let report = suite(&server, false);
    let failed = ids_with(&report, Verdict::Fail);
    let wanted: BTreeSet<String> = ids.iter().map(|id| id.to_string()).collect();
    assert_eq!(failed, wanted, "{flaw:?}: the failures are not the flaw's\n{}", report.text(true));
    assert_eq!(report.exit_code(false), 1, "{flaw:?}: the suite is not red");
    // The failure says what went wrong and keeps the exchanges that show it.
    for id in ids {
        let r = report.get(id).expect("ran");
        assert!(!r.exchanges.is_empty(), "{flaw:?}: {id} kept no exchanges");
        println!("{flaw:?}: {id} FAIL: {}", r.detail);
    }
}

#[test]
fn head_without_cache_control_fails() {
    red(Flaw::HeadCacheable);
}

#[test]
fn responses_without_tus_resumable_fail() {
    red(Flaw::NoTusResumable);
}

#[test]
fn refusing_empty_uploads_fails() {
    red(Flaw::ZeroLengthRefused);
}

#[test]
fn dropping_the_body_of_a_creation_with_upload_fails() {
    red(Flaw::CreationBodyDropped);
}

#[test]
fn forgetting_the_deferred_length_on_head_fails() {
    red(Flaw::DeferLengthForgotten);
}

#[test]
fn delete_answered_204_without_deleting_fails() {
    red(Flaw::DeleteKeepsUpload);
}

#[test]
fn skipping_the_checksum_check_fails() {
    red(Flaw::ChecksumUnchecked);
}

#[test]
fn ignoring_checksum_trailers_fails() {
    red(Flaw::TrailersIgnored);
}

#[test]
fn concatenating_in_the_wrong_order_fails() {
    red(Flaw::ConcatReversed);
}

#[test]
fn an_unfinished_final_without_its_length_fails() {
    red(Flaw::UnfinishedFinalWithoutLength);
}

#[test]
fn forgetting_upload_expires_fails() {
    red(Flaw::ExpiresForgotten);
}
