//! `--access-log`: one line per request, built from the `tus` span that `tus-hyper` opens around every request.
//!
//! The span carries `method`, `path`, `upload_id` and `status`, and for a PATCH `bytes` (what this request stored)
//! and `offset` (the upload's offset after it). When the span closes, the layer prints:
//!
//! ```text
//! 2026-01-02T03:04:05.678901Z access: PATCH /files/<id> 204 bytes=262144 offset=524288 3.2ms
//! ```
//!
//! The line goes to stderr with the other logs, independent of `RUST_LOG`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Instant;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Metadata, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime as _, SystemTime};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Whether the access-log layer wants to see `meta`: `tus-hyper`'s request spans.
pub(crate) fn wanted(meta: &Metadata<'_>) -> bool {
    meta.is_span() && meta.name() == "tus" && meta.target().starts_with("tus_hyper")
}

/// The access-log layer (install with a filter made from [`wanted`]).
#[derive(Debug, Default)]
pub(crate) struct AccessLog;

/// What one request's span has gathered.
#[derive(Debug)]
struct Entry {
    start: Instant,
    method: String,
    path: String,
    status: Option<u64>,
    offset: Option<u64>,
    written: u64,
}

impl Visit for Entry {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "status" => self.status = Some(value),
            "bytes" => self.written = value,
            "offset" => self.offset = Some(value),
            _ => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if let Ok(value) = u64::try_from(value) {
            self.record_u64(field, value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "method" => value.clone_into(&mut self.method),
            "path" => value.clone_into(&mut self.path),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // `method` is recorded with `%` (Display), which reaches visitors as a debug value.
        if field.name() == "method" {
            self.method = format!("{value:?}");
        }
    }
}

impl<S> Layer<S> for AccessLog
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut entry = Entry {
            start: Instant::now(),
            method: String::new(),
            path: String::new(),
            status: None,
            offset: None,
            written: 0,
        };
        attrs.record(&mut entry);
        span.extensions_mut().insert(entry);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(entry) = span.extensions_mut().get_mut::<Entry>() {
                values.record(entry);
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(entry) = span.extensions_mut().remove::<Entry>() else { return };
        let mut line = String::new();
        let _ = SystemTime.format_time(&mut Writer::new(&mut line));
        let status = entry.status.map_or_else(|| "-".to_owned(), |s| s.to_string());
        let _ = write!(line, " access: {} {} {status} bytes={}", entry.method, entry.path, entry.written);
        if let Some(offset) = entry.offset {
            let _ = write!(line, " offset={offset}");
        }
        let _ = write!(line, " {:.1}ms", entry.start.elapsed().as_secs_f64() * 1000.0);
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}
