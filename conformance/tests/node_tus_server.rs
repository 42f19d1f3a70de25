//! Runs the suite against @tus/server 2 with @tus/file-store 2 (installed in a private node_modules by
//! scripts/peers.sh, listening on 127.0.0.1) and checks the verdicts against its documented deviations.
//!
//! Needs node and npm with access to the npm registry on the first run. Set TUS_CONFORMANCE_SKIP_PEERS=1 to skip
//! it explicitly on machines without them.

mod common;

use common::{config, expect, Peer, MAX_SIZE};
use tus_conformance::{run, scenarios, DirProbe, Verdict, WireTransport};

#[test]
fn tus_node_server_verdicts_match_known_behaviour() {
    if common::skipped() {
        return;
    }
    let peer = Peer::start("tus-node", MAX_SIZE);
    // A GET on an upload URL can crash this server: the suite sends none unless asked (--verify-get).
    let cfg = config(&peer.url);
    let probe = DirProbe { dirs: vec![peer.data.join("files")] };
    let mut wire = WireTransport::new(cfg.settings.timeouts, true);
    let report = run(&cfg, &mut wire, Some(&probe), &scenarios::all()).expect("server reachable");

    for ext in ["creation", "creation-with-upload", "creation-defer-length", "termination"] {
        assert!(report.server.has(ext), "{ext} not advertised: {:?}", report.server.extensions);
    }
    for id in [
        "core-head-cache-control",
        "core-head-after-complete", // HEAD after completion -> 200 with offset == length
        "core-patch-409",
        "core-patch-past-length",
        "core-patch-chunked",
        "core-version-missing-patch", // 412 on a missing Tus-Resumable
        "creation-413-max-size",
        "creation-metadata-empty-value",
        "termination-delete",
        "termination-gone",
        "defer-length-flow",
        "creation-with-upload",
        "fault-disconnect-keeps-data", // streams to disk and keeps a cut body
        "fault-disconnect-resume",
        "fault-concurrent-patch",
        "fault-stale-resume", // a new request releases the stale one's lock
    ] {
        expect(&report, id, Verdict::Pass);
    }
    // Its deviations (tus-protocol.md peer table; X-HTTP-Method-Override is not implemented in 2.x).
    expect(&report, "core-version-unsupported-patch", Verdict::Fail); // 400 instead of 412
    expect(&report, "creation-unsupported-version", Verdict::Fail);
    expect(&report, "core-override-patch", Verdict::Fail);
    expect(&report, "core-patch-content-type-415", Verdict::Warn); // 400/403
    expect(&report, "core-patch-409-offset", Verdict::Warn); // 409 without Upload-Offset
    let errors: Vec<_> = report.results.iter().filter(|r| r.verdict == Verdict::Error).collect();
    assert!(errors.is_empty(), "scenarios could not run: {errors:#?}\n{}", report.table());
    // It offers termination: the uploads the run created were deleted.
    let c = &report.cleanup;
    assert!(c.created > 30 && c.removed + c.already_gone == c.created && c.failed == 0, "{c:?}");
}
