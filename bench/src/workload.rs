//! The upload workloads: many uploads (POST then PATCHes) over N worker threads, and creation only (to fill an
//! upload directory). Each worker thread owns one keep-alive connection. HEAD load is in [`crate::evented`]; the
//! same uploads over HTTP/2 are in [`crate::http2`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::hist::Histogram;
use crate::http::{Conn, Endpoint};

/// Size of the shared body buffer every PATCH is written from.
const BODY_BUFFER: usize = 1 << 20;
/// A workload stops early after this many failed requests: a dead server must not keep it spinning.
pub const MAX_ERRORS: u64 = 1_000;

/// The one body buffer all workers send from (bytes `0x5a`).
pub fn body() -> &'static [u8] {
    static BODY: OnceLock<Vec<u8>> = OnceLock::new();
    BODY.get_or_init(|| vec![0x5a; BODY_BUFFER])
}

/// A batch of uploads.
#[derive(Clone, Debug)]
pub struct UploadPlan {
    /// Uploads to make.
    pub count: u64,
    /// Bytes in each upload (`Upload-Length`).
    pub size: u64,
    /// Bytes per PATCH.
    pub chunk: u64,
    /// Worker threads, one connection each.
    pub concurrency: usize,
    /// Only create the uploads (POST), send no data.
    pub create_only: bool,
    /// Workers start no new upload after this long.
    pub max_time: Duration,
}

/// What a workload achieved.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Successful operations (uploads, or HEAD requests).
    pub ok: u64,
    /// Failed operations.
    pub errors: u64,
    /// Body bytes acknowledged by the server.
    pub bytes: u64,
    /// Wall time of the whole workload.
    pub elapsed: Duration,
    /// Latency of each successful operation, in microseconds.
    pub latency: Histogram,
    /// The first failure, for the report.
    pub first_error: Option<String>,
    /// Whether the time limit (or the error limit) cut the workload short.
    pub cut_short: bool,
    /// TCP connections opened (one per worker when keep-alive holds).
    pub connects: u64,
}

impl Outcome {
    /// Successful operations per second.
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Acknowledged MiB per second.
    pub fn mib_per_second(&self) -> f64 {
        self.bytes as f64 / (1024.0 * 1024.0) / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub(crate) fn absorb(&mut self, other: Outcome) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.bytes += other.bytes;
        self.latency.merge(&other.latency);
        self.cut_short |= other.cut_short;
        self.connects += other.connects;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// State shared by the workers of one workload.
pub(crate) struct Shared {
    /// The next upload to make (a counter against the plan's count).
    pub(crate) next: AtomicU64,
    errors: AtomicU64,
    /// Set when the error limit is reached.
    pub(crate) stop: AtomicBool,
    first_error: Mutex<Option<String>>,
}

impl Shared {
    pub(crate) fn new() -> Shared {
        Shared {
            next: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            first_error: Mutex::new(None),
        }
    }

    /// Counts a failure; returns false when the workload must stop.
    pub(crate) fn fail(&self, error: String) -> bool {
        let mut first = self.first_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        first.get_or_insert(error);
        if self.errors.fetch_add(1, Ordering::Relaxed) + 1 >= MAX_ERRORS {
            self.stop.store(true, Ordering::Relaxed);
        }
        !self.stop.load(Ordering::Relaxed)
    }
}

/// Runs `worker` on `concurrency` threads and gathers their outcomes.
fn run_workers(concurrency: usize, shared: &Shared, worker: impl Fn() -> Outcome + Sync) -> Outcome {
    let started = Instant::now();
    let mut total = Outcome::default();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..concurrency.max(1)).map(|_| scope.spawn(&worker)).collect();
        for handle in handles {
            match handle.join() {
                Ok(outcome) => total.absorb(outcome),
                Err(_) => {
                    total.errors += 1;
                    total.first_error.get_or_insert_with(|| "a worker thread panicked".to_owned());
                }
            }
        }
    });
    finish(total, started, shared)
}

/// Completes the workers' gathered outcome: wall time since `started`, the error limit, the first failure.
pub(crate) fn finish(mut total: Outcome, started: Instant, shared: &Shared) -> Outcome {
    total.elapsed = started.elapsed();
    total.cut_short |= shared.stop.load(Ordering::Relaxed);
    let first = shared.first_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    if first.is_some() {
        total.first_error = first;
    }
    total
}

/// Makes `plan.count` uploads against `endpoint`.
pub fn uploads(endpoint: &Endpoint, plan: &UploadPlan) -> Outcome {
    let shared = Shared::new();
    let deadline = Instant::now() + plan.max_time;
    run_workers(plan.concurrency, &shared, || {
        let mut conn = Conn::new(&endpoint.authority);
        let mut mine = Outcome::default();
        let mut target = String::new();
        while !shared.stop.load(Ordering::Relaxed) {
            if shared.next.fetch_add(1, Ordering::Relaxed) >= plan.count {
                break;
            }
            if Instant::now() >= deadline {
                mine.cut_short = true;
                break;
            }
            let started = Instant::now();
            match upload_one(&mut conn, endpoint, plan, &mut target) {
                Ok(bytes) => {
                    mine.ok += 1;
                    mine.bytes += bytes;
                    mine.latency.record(started.elapsed().as_micros() as u64);
                }
                Err(error) => {
                    mine.errors += 1;
                    if !shared.fail(error) {
                        break;
                    }
                }
            }
        }
        mine.connects = conn.connects;
        mine
    })
}

/// One upload: POST, then PATCHes of `plan.chunk` bytes until `plan.size`. Returns the bytes acknowledged.
fn upload_one(conn: &mut Conn, endpoint: &Endpoint, plan: &UploadPlan, target: &mut String) -> Result<u64, String> {
    let created = conn.post(&endpoint.path, plan.size).map_err(|e| format!("POST: {e}"))?;
    if created.status != 201 || !created.has_location {
        return Err(format!("POST answered {} (Location present: {})", created.status, created.has_location));
    }
    target.clear();
    target.push_str(&endpoint.resolve(&conn.location));
    if plan.create_only {
        return Ok(0);
    }
    let mut offset = 0;
    // Bounded: one PATCH per chunk (an empty upload gets none).
    while offset < plan.size {
        let len = plan.chunk.min(plan.size - offset);
        let patched = conn.patch(target, offset, body(), len).map_err(|e| format!("PATCH at {offset}: {e}"))?;
        if patched.status != 204 || patched.upload_offset != Some(offset + len) {
            return Err(format!(
                "PATCH at {offset} answered {} with Upload-Offset {:?} (expected {})",
                patched.status,
                patched.upload_offset,
                offset + len
            ));
        }
        offset += len;
    }
    Ok(offset)
}

/// Creates an upload of 4 KiB holding its first 1 KiB (so it stays unfinished on every server) and returns its
/// request path, for [`heads`](crate::evented::heads).
pub fn prepare_head_target(endpoint: &Endpoint) -> Result<String, String> {
    let mut conn = Conn::new(&endpoint.authority);
    let created = conn.post(&endpoint.path, 4096).map_err(|e| format!("POST: {e}"))?;
    if created.status != 201 || !created.has_location {
        return Err(format!("POST answered {}", created.status));
    }
    let target = endpoint.resolve(&conn.location);
    let patched = conn.patch(&target, 0, body(), 1024).map_err(|e| format!("PATCH: {e}"))?;
    if patched.status != 204 {
        return Err(format!("PATCH answered {}", patched.status));
    }
    Ok(target)
}
