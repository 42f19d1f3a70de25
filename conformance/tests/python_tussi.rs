//! Runs the whole suite against the original Python tussi 3.1.0 (installed in a venv by scripts/peers.sh and
//! served by uvicorn on 127.0.0.1) and checks the verdicts against what is known about that server.
//!
//! Needs python3 with venv and access to PyPI on the first run (the venv is cached in target/tus-peers).
//! Set TUS_CONFORMANCE_SKIP_PEERS=1 to skip it explicitly on machines without them.

mod common;

use std::process::Command;

use common::{config, expect, Peer, MAX_SIZE};
use tus_conformance::{run, scenarios, DirProbe, Verdict, WireTransport};

#[test]
fn original_tussi_verdicts_match_known_behaviour() {
    if common::skipped() {
        return;
    }
    let peer = Peer::start("tussi", MAX_SIZE);
    let cfg = config(&peer.url);
    let probe = DirProbe { dirs: vec![peer.data.join("staging"), peer.data.join("completed")] };
    let mut wire = WireTransport::new(cfg.settings.timeouts, true);
    let report = run(&cfg, &mut wire, Some(&probe), &scenarios::all()).expect("server reachable");

    // Discovery.
    assert_eq!(report.server.extensions, ["creation"]);
    assert_eq!(report.server.max_size, Some(MAX_SIZE));
    assert_eq!(report.server.versions, ["1.0.0"]);

    // What tussi does right (tus-protocol.md peer table, tussi-behaviour.md §2).
    for id in [
        "core-options-tus-version",
        "core-version-unsupported-patch",
        "core-version-412-tus-version",
        "core-version-missing-patch",
        "core-response-tus-resumable",
        "core-override-patch",
        "core-head-offset",
        "core-head-length",
        "core-head-cache-control",
        "core-head-unknown",
        "core-patch-resume",
        "core-patch-409",
        "core-patch-409-offset",
        "core-patch-content-type-refused",
        "core-patch-content-type-415",
        "core-patch-past-length",
        "core-patch-unknown",
        "creation-201-location",
        "creation-zero-length",
        "creation-413-max-size",
        "creation-metadata-roundtrip",
        "creation-length-negative",
        "fault-disconnect-offset-bounds",
        "fault-disconnect-resume",
        "fault-concurrent-patch",
        // tussi buffers a PATCH body before it locks the upload, so a stalled body blocks nobody.
        "fault-stale-resume",
    ] {
        expect(&report, id, Verdict::Pass);
    }
    // Its known defects (tussi-behaviour.md §8), each reported at the level of the rule it breaks.
    expect(&report, "creation-metadata-empty-value", Verdict::Fail); // §8.2: empty values dropped
    expect(&report, "core-patch-chunked", Verdict::Warn); // §8.8: chunked PATCH -> 400
    expect(&report, "core-head-after-complete", Verdict::Fail); // §8.6: HEAD after completion -> 404 (a MUST)
    expect(&report, "creation-length-strict-digits", Verdict::Info); // §8.4: "+5" accepted (spec: left free)
    expect(&report, "fault-disconnect-keeps-data", Verdict::Warn); // §8.7: a cut body is lost

    // Status details.
    assert!(report.get("core-patch-past-length-413").expect("ran").detail.contains("PATCH 413"));
    assert!(report.get("core-version-missing-head").expect("ran").detail.contains("HEAD 412"));
    // Extensions it does not offer are not applicable, never failed.
    for id in ["termination-delete", "termination-gone", "defer-length-flow", "creation-with-upload"] {
        expect(&report, id, Verdict::NotApplicable);
    }
    let errors: Vec<_> = report.results.iter().filter(|r| r.verdict == Verdict::Error).collect();
    assert!(errors.is_empty(), "scenarios could not run: {errors:#?}");
    // Exactly two MUST-level failures: the exit status reflects them.
    assert_eq!(report.counts().fail, 2, "{}", report.table());
    assert_eq!(report.exit_code(false), 1);
    // Without termination the uploads stay; the report says so.
    assert!(report.cleanup.created > 30 && report.cleanup.removed == 0, "{:?}", report.cleanup);
    assert_eq!(report.cleanup.skipped.as_deref(), Some("the server does not offer termination"));
    assert!(!report.coverage.core_unexercised());

    // The CLI: filters, JSON, JUnit, exit codes.
    let bin = env!("CARGO_BIN_EXE_tus-conformance");
    let junit = peer.data.join("report.xml");
    let out = Command::new(bin)
        .args([peer.url.as_str(), "--only", "core-head-*", "--json", "--junit"])
        .arg(&junit)
        .output()
        .expect("run CLI");
    // 1: core-head-after-complete, a MUST, fails on tussi.
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let results = json["results"].as_array().expect("results");
    assert!(
        results.len() >= 5 && results.iter().all(|r| r["id"].as_str().is_some_and(|i| i.starts_with("core-head-")))
    );
    let xml = std::fs::read_to_string(&junit).expect("JUnit written");
    assert!(xml.contains("<testsuite name=\"tus-conformance\"") && xml.contains("core-head-cache-control"));

    let status = |args: &[&str]| Command::new(bin).arg(&peer.url).args(args).output().expect("CLI").status.code();
    assert_eq!(status(&["--only", "creation-metadata-empty-value"]), Some(1));
    assert_eq!(status(&["--only", "core-patch-chunked"]), Some(0));
    assert_eq!(status(&["--only", "core-patch-chunked", "--strict"]), Some(1));
    assert_eq!(Command::new(bin).arg("http://127.0.0.1:1/files/").output().expect("CLI").status.code(), Some(2));
}
