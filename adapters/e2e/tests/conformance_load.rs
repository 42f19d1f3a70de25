//! Verdicts that do not depend on the machine's load: the whole conformance suite, five times over the wire against
//! tussi (tokio, file store, stored bytes checked on disk) while busy threads keep every core at full load, gives
//! the same verdict for every scenario in every run, and none of them is red.
//!
//! A run against our server once turned red while a cargo build ran beside it. The timing-based scenarios now
//! wait for a settled offset instead of a fixed pause, resume after a 409 the way a client does, and get one
//! reported retry when a timing-based check still misses ([`tus_conformance::Scenario::timing`]). This test holds
//! them to it under a load harder than a build on a small machine: four times as many spinning threads as cores,
//! at the same priority as the server and the suite. Which scenario went red that time was not recorded; CPU load
//! alone has not reproduced it (see the report in CONFORMANCE.md), so this test guards the outcome, not one cause.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tus_conformance::{run, scenarios, Config, DirProbe, Report, Timeouts, Url, Verdict, WireTransport};
use tussi_e2e::{Options, Rt, TestServer};

/// Threads that spin until dropped.
struct CpuHog {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<u64>>,
}

impl CpuHog {
    fn start(threads: usize) -> CpuHog {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..threads)
            .map(|seed| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    // Arithmetic the optimiser cannot drop: the result is returned.
                    let mut x = seed as u64 + 1;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..10_000 {
                            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
                        }
                    }
                    x
                })
            })
            .collect();
        CpuHog { stop, threads }
    }
}

impl Drop for CpuHog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn verdicts(report: &Report) -> BTreeMap<String, Verdict> {
    report.results.iter().map(|r| (r.id.clone(), r.verdict)).collect()
}

#[test]
fn five_runs_beside_a_cpu_hog_give_identical_green_verdicts() {
    let options =
        Options { max_size: Some(1_000_000), body_read_timeout: Duration::from_secs(2), ..Options::default() };
    let server = TestServer::start(Rt::Tokio, options);
    let probe = DirProbe { dirs: vec![server.dir().join("uploads"), server.dir().join("completed")] };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let hog = CpuHog::start(4 * cores);
    let mut runs = Vec::new();
    for i in 1..=5 {
        let started = Instant::now();
        // The defaults of the command line: verdicts must hold without tuning timeouts for a slow machine.
        let config = Config::new(Url::parse(&server.url).expect("url"));
        let mut wire = WireTransport::new(Timeouts::default(), true);
        let report = run(&config, &mut wire, Some(&probe), &scenarios::all()).expect("the suite ran");
        let retried: Vec<String> = report
            .results
            .iter()
            .filter(|r| r.retried.is_some())
            .map(|r| format!("{} ({:?})", r.id, r.retried))
            .collect();
        println!("run {i}: {:?} in {:.1} s; retried: {retried:?}", report.counts(), started.elapsed().as_secs_f64());
        runs.push(report);
    }
    drop(hog);
    let first = verdicts(&runs[0]);
    for (i, report) in runs.iter().enumerate() {
        let differing: Vec<String> = verdicts(report)
            .iter()
            .filter(|(id, v)| first.get(*id) != Some(v))
            .map(|(id, v)| {
                let r = report.get(id).expect("result");
                format!("{id}: {:?} in run 1, {v:?} in run {}: {}", first.get(id), i + 1, r.detail)
            })
            .collect();
        assert!(differing.is_empty(), "verdicts changed under load:\n{}", differing.join("\n"));
        let red = report.not_green();
        assert!(red.is_empty(), "run {} not green under load:\n{}", i + 1, red.join("\n"));
    }
    assert!(first.values().filter(|v| **v == Verdict::Pass).count() >= 50, "{first:?}");
}
