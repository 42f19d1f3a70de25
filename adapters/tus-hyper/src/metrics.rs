//! Prometheus metrics of a [`TusApp`](crate::TusApp), on `prometheus-client`: what was asked, what was stored, what
//! happened to uploads, and how long storage took. Off unless given to the builder.
//!
//! | tussi | tusd's name for the same | what |
//! |---|---|---|
//! | `tussi_requests_total{method,status}` | `tusd_requests_total{method}`, `tusd_errors_total{status}` | answered requests |
//! | `tussi_requests_in_flight` | — | requests being answered |
//! | `tussi_connections_open` | `tusd_connections_open` | client connections open (served by `serve`) |
//! | `tussi_bytes_received_total` | `tusd_bytes_received` | upload bytes committed |
//! | `tussi_uploads_created_total` | `tusd_uploads_created` | uploads created |
//! | `tussi_uploads_finished_total` | `tusd_uploads_finished` | uploads finished (every byte committed) |
//! | `tussi_uploads_terminated_total` | `tusd_uploads_terminated` | uploads deleted by clients |
//! | `tussi_uploads_failed_total` | — | storage failures while writing or finishing |
//! | `tussi_storage_seconds{operation}` | — | latency of storage calls (`commit` includes the fsyncs) |
//! | `tussi_takeovers_total` | — | PATCHes whose silent body let go of the upload to a newer request |
//! | `tussi_hook_failures_total{hook}` | — | `on_event` handlers that failed or panicked, `on_create` hooks that panicked |
//! | `tussi_uploads_swept_total{reason}` | — | uploads the janitor removed: `stale` (expired), `unclaimed`, `leftover` |

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tus_proto::Event;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HookLabels {
    hook: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SweepLabels {
    reason: &'static str,
}

/// The metrics of one app, registered in a [`Registry`] that the application serves (see
/// `prometheus_client::encoding::text::encode`). Cheap to clone: clones share the values.
#[derive(Clone, Debug)]
pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    in_flight: Gauge,
    connections: Gauge,
    bytes_received: Counter,
    created: Counter,
    finished: Counter,
    terminated: Counter,
    failed: Counter,
    storage: Family<OperationLabels, Histogram>,
    takeovers: Counter,
    hook_failures: Family<HookLabels, Counter>,
    swept: Family<SweepLabels, Counter>,
}

impl Metrics {
    /// Creates the metrics and registers them in `registry` (names above, with the `tussi_` prefix).
    pub fn register(registry: &mut Registry) -> Metrics {
        // From 100 µs to about 15 min: small creations and HEADs, and whole-upload commits and assemblies alike.
        let storage = Family::<OperationLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 4.0, 12))
        });
        let metrics = Metrics {
            requests: Family::default(),
            in_flight: Gauge::default(),
            connections: Gauge::default(),
            bytes_received: Counter::default(),
            created: Counter::default(),
            finished: Counter::default(),
            terminated: Counter::default(),
            failed: Counter::default(),
            storage,
            takeovers: Counter::default(),
            hook_failures: Family::default(),
            swept: Family::default(),
        };
        let tussi = registry.sub_registry_with_prefix("tussi");
        tussi.register("requests", "Requests answered, by method and status", metrics.requests.clone());
        tussi.register("requests_in_flight", "Requests being answered", metrics.in_flight.clone());
        tussi.register("connections_open", "Client connections open", metrics.connections.clone());
        tussi.register("bytes_received", "Upload bytes committed", metrics.bytes_received.clone());
        tussi.register("uploads_created", "Uploads created", metrics.created.clone());
        tussi.register("uploads_finished", "Uploads finished", metrics.finished.clone());
        tussi.register("uploads_terminated", "Uploads deleted by their clients", metrics.terminated.clone());
        tussi.register("uploads_failed", "Storage failures while writing or finishing", metrics.failed.clone());
        tussi.register("storage_seconds", "Latency of storage calls, by operation", metrics.storage.clone());
        tussi.register("takeovers", "Silent PATCHes that let go to a newer request", metrics.takeovers.clone());
        tussi.register("hook_failures", "Hooks and event handlers that failed, by hook", metrics.hook_failures.clone());
        tussi.register("uploads_swept", "Uploads the janitor removed, by reason", metrics.swept.clone());
        metrics
    }

    /// A client connection opened; it counts as open until the guard is dropped.
    pub(crate) fn connection_opened(&self) -> ConnectionOpen {
        self.connections.inc();
        ConnectionOpen(self.connections.clone())
    }

    pub(crate) fn request_started(&self) {
        self.in_flight.inc();
    }

    /// A request answered with `status`, and what its events say happened.
    pub(crate) fn request_done(&self, method: &http::Method, status: u16, events: &[Event]) {
        self.in_flight.dec();
        self.requests.get_or_create(&RequestLabels { method: method.as_str().to_owned(), status }).inc();
        for event in events {
            match event {
                Event::Created { .. } => self.created.inc(),
                Event::Progress { bytes_written, .. } => self.bytes_received.inc_by(*bytes_written),
                Event::Completed { .. } => self.finished.inc(),
                Event::Terminated { .. } => self.terminated.inc(),
                Event::Failed { .. } => self.failed.inc(),
                _ => 0,
            };
        }
    }

    /// A PATCH let go of its upload to a newer request.
    pub(crate) fn takeover(&self) {
        self.takeovers.inc();
    }

    /// `hook` (`on_event`, `on_create`) failed or panicked.
    pub(crate) fn hook_failed(&self, hook: &'static str) {
        self.hook_failures.get_or_create(&HookLabels { hook }).inc();
    }

    /// What one sweep of the janitor removed.
    pub(crate) fn swept(&self, swept: &tus_store::Swept) {
        for (_, reason) in &swept.removed {
            let reason = match reason {
                tus_store::SweepReason::Stale => "stale",
                tus_store::SweepReason::Unclaimed => "unclaimed",
                _ => "leftover",
            };
            self.swept.get_or_create(&SweepLabels { reason }).inc();
        }
    }

    /// A storage call of `operation` that took `took`.
    pub(crate) fn storage(&self, operation: &'static str, took: Duration) {
        self.storage.get_or_create(&OperationLabels { operation }).observe(took.as_secs_f64());
    }
}

/// An open connection, counted until dropped.
pub(crate) struct ConnectionOpen(Gauge);

impl Drop for ConnectionOpen {
    fn drop(&mut self) {
        self.0.dec();
    }
}
