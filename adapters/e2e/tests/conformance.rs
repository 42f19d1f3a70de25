//! The conformance suite over real sockets against each runtime: every MUST and SHOULD scenario passes, and the
//! bytes each scenario stored are checked on disk.

use std::time::Duration;

use tus_conformance::{run, scenarios, Config, DirProbe, Timeouts, Url, Verdict, WireTransport};
use tussi_e2e::{InlineWrites, Options, Rt, TestServer, ALL};

#[test]
fn every_runtime_passes_every_must_and_should_over_the_wire() {
    for rt in ALL {
        passes_every_must_and_should(rt, InlineWrites::default());
    }
}

#[test]
fn small_writes_in_every_place_pass_every_must_and_should_too() {
    // Small creations and PATCHes always on the async threads, or never (on tokio: in place with block_in_place);
    // concurrent and stale PATCHes must still take turns.
    passes_every_must_and_should(Rt::Tokio, InlineWrites::Never);
    passes_every_must_and_should(Rt::Smol, InlineWrites::Always);
}

fn passes_every_must_and_should(rt: Rt, inline_writes: InlineWrites) {
    let options = Options {
        max_size: Some(1_000_000),
        body_read_timeout: Duration::from_secs(2),
        inline_writes,
        ..Options::default()
    };
    let server = TestServer::start(rt, options);
    let config = Config::new(Url::parse(&server.url).expect("url"));
    let probe = DirProbe { dirs: vec![server.dir().join("uploads"), server.dir().join("completed")] };
    let mut wire = WireTransport::new(Timeouts::default(), true);
    let report = run(&config, &mut wire, Some(&probe), &scenarios::all()).expect("suite ran");
    println!("== {rt:?}\n{}", report.table());
    let not_green = report.not_green();
    assert!(not_green.is_empty(), "{rt:?}: scenarios not green:\n{}", not_green.join("\n"));
    let counts = report.counts();
    assert!(counts.pass >= 40, "{rt:?}: too few scenarios passed: {counts:?}");
    assert_eq!(report.verdict("fault-stale-resume"), Some(Verdict::Pass), "{rt:?}");
    assert_eq!(report.verdict("fault-concurrent-patch"), Some(Verdict::Pass), "{rt:?}");
    // OPTIONS lists every TUS 1.0.0 extension, and sha1 among the checksum algorithms.
    for ext in EXTENSIONS {
        assert!(report.server.has(ext), "{rt:?}: {ext} not advertised: {:?}", report.server.extensions);
    }
    assert!(report.server.checksum_algorithms.iter().any(|a| a == "sha1"), "{rt:?}: {:?}", report.server);
    // Each runs only when OPTIONS lists its extension(s): a pass proves both.
    for id in EXTENSION_SCENARIOS {
        assert_eq!(report.verdict(id), Some(Verdict::Pass), "{rt:?}: {id}");
    }
}

/// The extensions of TUS 1.0.0, all of which tussi offers.
const EXTENSIONS: [&str; 9] = [
    "creation",
    "creation-with-upload",
    "creation-defer-length",
    "termination",
    "checksum",
    "checksum-trailer",
    "concatenation",
    "concatenation-unfinished",
    "expiration",
];

/// The scenarios of the extensions (and of OPTIONS consistency), each of which must pass.
const EXTENSION_SCENARIOS: [&str; 19] = [
    "termination-delete",
    "defer-length-flow",
    "defer-length-bad-value",
    "creation-with-upload",
    "checksum-options-algorithms",
    "checksum-sha1-match",
    "checksum-mismatch-460",
    "checksum-unsupported-400",
    "checksum-trailer-match",
    "checksum-trailer-mismatch-460",
    "concat-partial-head",
    "concat-final",
    "concat-patch-final-403",
    "concat-unfinished-final",
    "concat-unfinished-head-no-offset",
    "expiration-patch",
    "expiration-post",
    "expiration-head",
    "options-extensions-consistent",
];
