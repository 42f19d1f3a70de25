//! The whole suite in memory against `tus-proto`: every MUST and SHOULD scenario passes, with no socket.

use tus_conformance::memory::ProtoTransport;
use tus_conformance::{run, scenarios, Config, Url};

#[test]
fn tus_proto_passes_every_must_and_should_in_memory() {
    let server = tus_proto::Server::builder().max_size(1_000_000).base_path("/files").build().expect("server");
    let mut transport = ProtoTransport::new(server);
    let config = Config::new(Url::parse("http://127.0.0.1:1/files/").expect("url"));
    let report = run(&config, &mut transport, None, &scenarios::all()).expect("suite ran");
    print!("{}", report.table());
    let counts = report.counts();
    let bad = report.not_green();
    assert!(bad.is_empty(), "scenarios not green in memory:\n{}", bad.join("\n"));
    assert!(counts.pass >= 30, "too few scenarios ran in memory: {counts:?}");
}
