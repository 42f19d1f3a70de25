//! The suite through an in-memory [`Transport`]: a small model TUS server written to the letter of tus 1.0.0
//! answers raw requests without sockets. Every applicable scenario must pass against it (the suite must not
//! call a correct server wrong), and wire-only scenarios must be "not applicable".

mod model;

use model::Model;
use tus_conformance::headers::Headers;
use tus_conformance::{run, scenarios, ClientError, Config, RawRequest, Response, Transport, Url, Verdict};

#[test]
fn a_correct_server_passes_every_applicable_scenario_in_memory() {
    let mut model = Model::default();
    let config = Config::new(Url::parse("http://tus.invalid/files/").expect("url"));
    let report = run(&config, &mut model, None, &scenarios::all()).expect("report");
    assert_eq!(report.transport, "memory-model");
    let all = scenarios::all();
    assert_eq!(report.results.len(), all.len());
    for r in &report.results {
        let wire_only = all.iter().any(|s| s.id == r.id && s.wire_only());
        // Extensions the model does not advertise: their scenarios must say so.
        let unoffered = ["checksum", "checksum-trailer", "concatenation", "concatenation-unfinished", "expiration"]
            .iter()
            .any(|e| r.detail == format!("server does not offer the {e} extension"));
        let ok = if wire_only || unoffered {
            r.verdict == Verdict::NotApplicable
        } else if r.level == "INFO" {
            r.verdict == Verdict::Info
        } else {
            r.verdict == Verdict::Pass
        };
        assert!(ok, "{} ({}): {:?} {}\n\n{}", r.id, r.level, r.verdict, r.detail, report.table());
    }
    assert_eq!(report.exit_code(true), 0);
    // The model's relative Location was resolved, and the extension scenarios really ran.
    assert_eq!(report.verdict("termination-delete"), Some(Verdict::Pass));
    assert_eq!(report.verdict("defer-length-flow"), Some(Verdict::Pass));
    assert_eq!(report.verdict("creation-413-max-size"), Some(Verdict::Pass));
    assert!(report.get("core-patch-chunked").expect("ran").detail.contains("PATCH 204 (offset 12)"));
    // Disconnects are simulated in memory too: the model keeps the 96 KiB that arrived.
    assert_eq!(report.verdict("fault-disconnect-keeps-data"), Some(Verdict::Pass));
    assert!(report.get("fault-disconnect-offset-bounds").expect("ran").detail.contains("HEAD offset 98304"));
}

#[test]
fn a_broken_server_is_caught() {
    /// The model, except that it ignores Upload-Offset mismatches and forgets Cache-Control.
    struct Sloppy(Model);
    impl Transport for Sloppy {
        fn send(&mut self, url: &Url, req: &RawRequest) -> Result<Response, ClientError> {
            let mut req = req.clone();
            if req.effective_method().eq_ignore_ascii_case("PATCH") {
                let id = req.target.trim_start_matches("/files/").to_string();
                let current = self.0.uploads.get(&id).map_or(0, |u| u.data.len());
                for (n, v) in &mut req.headers {
                    if n.eq_ignore_ascii_case("upload-offset") {
                        *v = current.to_string().into_bytes();
                    }
                }
            }
            let mut resp = self.0.send(url, &req)?;
            let kept = resp.headers.iter().filter(|(n, _)| !n.eq_ignore_ascii_case("cache-control"));
            let mut h = Headers::default();
            for (n, v) in kept {
                h.push(n, v);
            }
            resp.headers = h;
            Ok(resp)
        }
        fn name(&self) -> &str {
            "sloppy"
        }
    }
    let mut sloppy = Sloppy(Model::default());
    let mut config = Config::new(Url::parse("http://tus.invalid/files/").expect("url"));
    config.only = vec!["core-*".into()];
    let report = run(&config, &mut sloppy, None, &scenarios::all()).expect("report");
    assert_eq!(report.verdict("core-patch-409"), Some(Verdict::Fail));
    assert_eq!(report.verdict("core-head-cache-control"), Some(Verdict::Fail));
    assert_eq!(report.verdict("core-head-offset"), Some(Verdict::Pass));
    assert_eq!(report.exit_code(false), 1);
}
