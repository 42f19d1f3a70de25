//! `tus-bench`: the benchmark harness of tussi. A keep-alive HTTP/1.1 TUS load generator (blocking uploads:
//! [`http`], [`workload`]; HEAD from one event loop: [`evented`]; the same uploads over h2c: [`http2`]) with an HDR-like latency histogram ([`hist`]), process figures from `/proc` ([`procfs`]), result
//! records ([`record`]) and the Markdown report with its targets ([`report`], [`targets`]); the no-HTTP ceiling of
//! W1 ([`ceiling`]), the floor of W2 at one client ([`floor`]) and the disk's floor of W2 with fsync ([`durable`]).
//!
//! `bench/run.sh` drives it: it starts each server alone, runs the workloads through the `tus-bench` binary,
//! which appends records to one file, and finally renders BENCHMARKS.md from them.

#![forbid(unsafe_code)]

pub mod ceiling;
pub mod durable;
pub mod evented;
pub mod floor;
pub mod hist;
pub mod http;
pub mod http2;
pub mod procfs;
pub mod record;
pub mod report;
pub mod report_w5;
pub mod targets;
pub mod workload;

use record::{Record, Tags};
use workload::Outcome;

/// What was measured around one workload run besides its outcome; a figure is `None` when it could not be read.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Measured {
    /// CPU seconds of the load generator.
    pub client_cpu_s: Option<f64>,
    /// CPU seconds of the server process and its descendants.
    pub server_cpu_s: Option<f64>,
    /// Peak RSS of the server tree at the end, MiB.
    pub peak_rss_mib: Option<f64>,
    /// Percent of the machine's CPU time the hypervisor took during the run.
    pub stolen_pct: Option<f64>,
}

/// The records of one workload run: counts, rates, latency quantiles (ms), and what else was measured.
pub fn outcome_records(tags: &Tags, outcome: &Outcome, measured: &Measured) -> Vec<Record> {
    let ms = |q: f64| outcome.latency.quantile(q) as f64 / 1000.0;
    let mut records = vec![
        tags.record("ok", outcome.ok),
        tags.record("errors", outcome.errors),
        tags.record("secs", format!("{:.3}", outcome.elapsed.as_secs_f64())),
        tags.record("per_s", format!("{:.2}", outcome.per_second())),
        tags.record("mib_per_s", format!("{:.2}", outcome.mib_per_second())),
        tags.record("p50_ms", format!("{:.3}", ms(0.5))),
        tags.record("p99_ms", format!("{:.3}", ms(0.99))),
        tags.record("max_ms", format!("{:.3}", outcome.latency.max() as f64 / 1000.0)),
        tags.record("connects", outcome.connects),
        tags.record("cut_short", u8::from(outcome.cut_short)),
    ];
    let optional = [
        ("client_cpu_s", measured.client_cpu_s),
        ("server_cpu_s", measured.server_cpu_s),
        ("peak_rss_mib", measured.peak_rss_mib),
        ("stolen_pct", measured.stolen_pct),
    ];
    records.extend(optional.iter().filter_map(|(name, v)| Some(tags.record(name, format!("{:.2}", (*v)?)))));
    if let Some(error) = &outcome.first_error {
        records.push(tags.record("first_error", error));
    }
    records
}
