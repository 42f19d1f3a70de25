//! The driver loop: runs the protocol core's steps for one request against a [`Store`], streaming the body.

use std::net::IpAddr;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, SystemTime};

use bytes::{Buf as _, Bytes, BytesMut};
use futures_lite::FutureExt as _;
use http::{Request, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt as _, Full};
use tracing::{field, Instrument as _};
use tus_proto::{CreateHook, HookOutcome, Interruption, Receive, RequestHead, Response, Step};

use crate::ahead::{Ahead, ReadAhead};
use crate::batch::Batch;
use crate::budget::Reservation;
use crate::drain::{drain, Tracked};
use crate::{Runtime, TusApp};
use tus_store::{ReleaseRequest, Store, SMALL_WRITE};

/// Answers one request: runs every step, delivers the events, and returns the HTTP response.
///
/// Must run to completion even when the client goes away ([`TusService`](crate::TusService) sees to it: a request
/// it drops finishes in a task of its own), so that a body that breaks off is committed as far as it was stored.
pub(crate) async fn handle<S, B>(
    app: &TusApp<S>,
    runtime: &Runtime,
    request: Request<B>,
    peer: Option<IpAddr>,
) -> http::Response<Full<Bytes>>
where
    S: Store,
    B: Body,
    B::Error: std::fmt::Display,
{
    let span = tracing::info_span!(
        "tus",
        method = %request.method(),
        path = request.uri().path(),
        upload_id = field::Empty,
        status = field::Empty,
        bytes = field::Empty,
        offset = field::Empty,
    );
    async move {
        if let Some(metrics) = &app.metrics {
            metrics.request_started();
        }
        let (parts, body) = request.into_parts();
        let mut body = Tracked::new(Box::pin(body));
        let head = RequestHead::from_parts(&parts).with_peer(peer);
        let response = drive(app, runtime, head, &mut body).await;
        let response = app.server.finish(head, response);
        log_outcome(&response);
        drain(app, runtime, &parts.headers, &mut body).await;
        let (mut response, events) = response.into_http();
        if let Some(metrics) = &app.metrics {
            metrics.request_done(&parts.method, response.status().as_u16(), &events);
        }
        if response.status().as_u16() == 460 {
            // No standard reason phrase: hyper would write "<none>".
            response.extensions_mut().insert(hyper::ext::ReasonPhrase::from_static(b"Checksum Mismatch"));
        }
        deliver(app, events).await;
        response.map(|reason| Full::new(Bytes::from(reason)))
    }
    .instrument(span)
    .await
}

async fn drive<S, B>(app: &TusApp<S>, runtime: &Runtime, head: RequestHead<'_>, body: &mut Tracked<B>) -> Response
where
    S: Store,
    B: Body + Unpin,
    B::Error: std::fmt::Display,
{
    let store = &app.store;
    let span = tracing::Span::current();
    let mut step = app.server.begin(head, SystemTime::now());
    // A small body, read whole before its upload is opened (see `SMALL_WRITE`).
    let mut read_before_open: Option<(Bytes, Option<Interruption>)> = None;
    loop {
        step = match step {
            Step::Respond(response) => return response,
            Step::Hook(hook) => {
                let outcome = run_create_hook(app, &hook).await;
                hook.continue_with(outcome)
            }
            Step::Create(create) => {
                let result = timed(app, "create", store.create(create.new_upload().clone())).await;
                if let Ok((_, id)) = &result {
                    span.record("upload_id", field::display(id));
                }
                create.continue_with(result)
            }
            Step::Stat(stat) => {
                span.record("upload_id", field::display(stat.id()));
                let result = timed(app, "stat", store.stat(stat.id())).await;
                stat.continue_with(result)
            }
            Step::Open(open) => {
                span.record("upload_id", field::display(open.id()));
                // A small body is read before the upload is opened: a slow client then never holds the upload
                // while it sends, and the open, write and commit that follow are short storage calls in a row.
                if let Some(length) = open.declared_length().filter(|&length| length <= SMALL_WRITE as u64) {
                    read_before_open = Some(read_whole(app, runtime, body, length).await);
                }
                let result = timed(app, "open", store.open(open.id())).await;
                open.continue_with(result)
            }
            Step::Receive(rx) => match read_before_open.take() {
                Some((data, ending)) => receive_read(app, rx, data, ending, body.take_trailers()).await,
                None => receive(app, runtime, rx, body).await,
            },
            Step::Commit(mut commit) => {
                let (offset, complete) = (commit.offset(), commit.is_complete());
                let result = timed(app, "commit", store.commit(commit.upload(), offset, complete)).await;
                commit.continue_with(result)
            }
            Step::DeclareLength(mut declare) => {
                let length = declare.length();
                let result = timed(app, "declare_length", store.declare_length(declare.upload(), length)).await;
                declare.continue_with(result)
            }
            Step::Assemble(mut assemble) => {
                let result = timed(app, "assemble", store.assemble(assemble.upload())).await;
                assemble.continue_with(result)
            }
            Step::Terminate(terminate) => {
                span.record("upload_id", field::display(terminate.id()));
                let result = timed(app, "delete", store.delete(terminate.id())).await;
                terminate.continue_with(result)
            }
            other => return other.unhandled(),
        };
    }
}

/// Reads a body of at most `declared` bytes, and how it ended. The body read timeout applies between frames.
async fn read_whole<B>(
    app: &TusApp<impl Store>,
    runtime: &Runtime,
    body: &mut B,
    declared: u64,
) -> (Bytes, Option<Interruption>)
where
    B: Body + Unpin,
    B::Error: std::fmt::Display,
{
    let declared = usize::try_from(declared).unwrap_or(usize::MAX);
    let mut data = BytesMut::with_capacity(declared);
    let ending = loop {
        let frame = match runtime.timeout(app.body_read_timeout, body.frame()).await {
            None => break Some(Interruption::TimedOut),
            Some(None) => break None,
            Some(Some(Err(error))) => {
                tracing::debug!(%error, "request body broke off");
                break Some(Interruption::ClientGone);
            }
            Some(Some(Ok(frame))) => frame,
        };
        let Ok(mut chunk) = frame.into_data() else { continue };
        // HTTP framing keeps a body within its Content-Length; the bound holds whatever the body does. The body is
        // read to its end, so that the connection can carry the next request.
        let take = chunk.remaining().min(declared - data.len());
        data.extend_from_slice(&chunk.copy_to_bytes(take));
    };
    (data.freeze(), ending)
}

/// Stores a body that was read before its upload was opened, in one write.
async fn receive_read<S: Store>(
    app: &TusApp<S>,
    mut rx: Receive<S::Upload>,
    data: Bytes,
    ending: Option<Interruption>,
    trailers: Option<http::HeaderMap>,
) -> Step<S::Upload> {
    let accepted = rx.accept(&data).len();
    if accepted > 0 {
        if let Err(failure) = write(app, &mut rx, vec![data.slice(..accepted)]).await {
            return rx.failed(failure);
        }
    }
    if let Some(trailers) = trailers {
        rx.trailers(&trailers);
    }
    conclude(rx, ending)
}

/// Ends a body: finishes, or reports how it was cut.
fn conclude<U>(rx: Receive<U>, ending: Option<Interruption>) -> Step<U> {
    match ending {
        Some(why) => rx.interrupted(why),
        None => rx.finish(),
    }
}

/// How often a silent body loop checks whether a newer request wants the upload.
const TAKEOVER_POLL: Duration = Duration::from_millis(100);
/// How long a body must have sent nothing before a newer request for the same upload may take it over.
const STALE_AFTER: Duration = Duration::from_millis(500);

/// Streams the body into storage: frames are gathered into batches (kept as received, see [`Batch`]), each written
/// in one storage call. A batch is as large as the shared budget grants (up to `batch_size`, at least
/// [`SMALL_WRITE`]).
/// While a batch is written, the body is read ahead with what the budget has free.
async fn receive<S, B>(
    app: &TusApp<S>,
    runtime: &Runtime,
    mut rx: Receive<S::Upload>,
    body: &mut Tracked<B>,
) -> Step<S::Upload>
where
    S: Store,
    B: Body + Unpin,
    B::Error: std::fmt::Display,
{
    let mut batch = Batch::default();
    let mut reservation: Option<Reservation> = None;
    let mut ahead = ReadAhead::default();
    let ending = loop {
        let data = match next_data(app, runtime, &mut rx, body, &mut ahead).await {
            Ok(data) => data,
            Err(ending) => break ending,
        };
        let accepted = rx.accept(&data).len();
        let mut rest = data.slice(..accepted);
        while !rest.is_empty() {
            // A batch starts: size it from the shared budget (at most what this request may still store).
            let room = match &reservation {
                Some(reservation) => reservation.size(),
                None => {
                    let want = usize::try_from(rx.remaining() + (batch.len() + rest.len()) as u64)
                        .unwrap_or(usize::MAX)
                        .min(app.batch_size);
                    reservation.insert(app.batch_budget.reserve(want)).size()
                }
            };
            // A batch never grows past its grant: the rest of a frame starts the next one.
            batch.push(rest.split_to((room - batch.len()).min(rest.len())));
            if batch.len() < room {
                continue;
            }
            // At most the next batch is read ahead, and only while the request may still store more.
            let ahead_want = usize::try_from(rx.remaining()).unwrap_or(usize::MAX).min(app.batch_size);
            let reserve = || app.batch_budget.try_reserve(ahead_want);
            let written = ahead.while_writing(write(app, &mut rx, batch.take()), body, reserve).await;
            reservation = None;
            if let Err(failure) = written {
                return rx.failed(failure);
            }
            // A DELETE of this upload stops it at once, however lively the body.
            if app.store.release_requested(rx.upload()) == ReleaseRequest::Terminate {
                return conclude(rx, Some(Interruption::Terminated));
            }
        }
        if rx.overflowed() {
            break None;
        }
    };
    if !batch.is_empty() {
        if let Err(failure) = write(app, &mut rx, batch.take()).await {
            return rx.failed(failure);
        }
    }
    if let Some(trailers) = body.take_trailers() {
        rx.trailers(&trailers);
    }
    conclude(rx, ending)
}

/// The next data of the body, or how it ended: what was read ahead first, then the body itself, with the read
/// timeout between frames.
async fn next_data<S, B>(
    app: &TusApp<S>,
    runtime: &Runtime,
    rx: &mut Receive<S::Upload>,
    body: &mut B,
    ahead: &mut ReadAhead,
) -> Result<Bytes, Option<Interruption>>
where
    S: Store,
    B: Body + Unpin,
    B::Error: std::fmt::Display,
{
    match ahead.take() {
        Ahead::Data(data) => return Ok(data),
        Ahead::End(ending) => return Err(ending),
        Ahead::Empty => {}
    }
    let mut idle = Duration::ZERO;
    loop {
        // Only a silent body is stale: a request that is still receiving bytes finishes, and the newcomer gets the
        // upload after it (or 423 once the storage's bound runs out). A termination does not wait.
        match app.store.release_requested(rx.upload()) {
            ReleaseRequest::Terminate => return Err(Some(Interruption::Terminated)),
            ReleaseRequest::Takeover if idle >= STALE_AFTER => {
                if let Some(metrics) = &app.metrics {
                    metrics.takeover();
                }
                return Err(Some(Interruption::TakenOver));
            }
            _ => {}
        }
        // Wake up now and then while the body is silent: a stalled request must notice a takeover request.
        let wait = TAKEOVER_POLL.min(app.body_read_timeout.saturating_sub(idle));
        match runtime.timeout(wait, body.frame()).await {
            None if idle + wait >= app.body_read_timeout => return Err(Some(Interruption::TimedOut)),
            None => idle += wait,
            Some(None) => return Err(None),
            Some(Some(Err(error))) => {
                tracing::debug!(%error, "request body broke off");
                return Err(Some(Interruption::ClientGone));
            }
            Some(Some(Ok(frame))) => {
                // Trailers carry nothing yet (checksum-trailer will read them).
                if let Ok(mut data) = frame.into_data() {
                    return Ok(data.copy_to_bytes(data.remaining()));
                }
            }
        }
    }
}

async fn write<S: Store>(
    app: &TusApp<S>,
    rx: &mut Receive<S::Upload>,
    parts: Vec<Bytes>,
) -> Result<(), tus_proto::StoreFailure> {
    let (at, len) = (rx.write_offset(), parts.iter().map(|part| part.len() as u64).sum());
    timed(app, "write", app.store.write(rx.upload(), at, parts)).await?;
    rx.stored(len);
    Ok(())
}

async fn run_create_hook<S>(app: &TusApp<S>, hook: &CreateHook) -> HookOutcome {
    let Some(on_create) = &app.on_create else { return HookOutcome::accept() };
    let (headers, metadata) = (hook.headers().clone(), hook.metadata().clone());
    match AssertUnwindSafe(async { on_create(headers, metadata).await }).catch_unwind().await {
        Ok(Ok(server_metadata)) => HookOutcome::Accept(server_metadata),
        Ok(Err(rejection)) => HookOutcome::Reject { status: rejection.status, reason: rejection.reason },
        Err(_) => {
            if let Some(metrics) = &app.metrics {
                metrics.hook_failed("on_create");
            }
            tracing::error!("on_create panicked; answering 500");
            HookOutcome::Reject { status: StatusCode::INTERNAL_SERVER_ERROR, reason: "on_create failed".into() }
        }
    }
}

/// Runs one storage call, timing it into the metrics when the app has them.
async fn timed<S, T>(app: &TusApp<S>, operation: &'static str, call: impl std::future::Future<Output = T>) -> T {
    let Some(metrics) = &app.metrics else { return call.await };
    let started = std::time::Instant::now();
    let result = call.await;
    metrics.storage(operation, started.elapsed());
    result
}

/// Logs how the request ended, for operators: a refusal (4xx) at info with its reason, a server error (5xx) at
/// error with its cause (the operation, the upload, the path, the OS error), anything else at debug. The span
/// carries the method, path and upload id.
fn log_outcome(response: &Response) {
    let status = response.status();
    let span = tracing::Span::current();
    span.record("status", status.as_u16());
    // What the request kept, from what it answers: a body the checksum refused kept nothing.
    let kept: u64 = response
        .events()
        .iter()
        .map(|event| match event {
            tus_proto::Event::Progress { bytes_written, .. } => *bytes_written,
            _ => 0,
        })
        .sum();
    if kept > 0 {
        span.record("bytes", kept);
    }
    let offset =
        response.headers().get(tus_proto::headers::UPLOAD_OFFSET).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if let Some(offset) = offset {
        span.record("offset", offset);
    }
    // An answer to HEAD carries no reason: the status's own name stands in.
    let reason = Some(response.body()).filter(|r| !r.is_empty()).or(status.canonical_reason()).unwrap_or_default();
    if status.is_server_error() {
        let cause = response.cause().unwrap_or(reason);
        tracing::error!(status = status.as_u16(), reason, cause, "request failed");
    } else if status.is_client_error() {
        tracing::info!(status = status.as_u16(), reason, "request refused");
    } else {
        tracing::debug!(status = status.as_u16(), "request answered");
    }
}

/// Delivers events in order. A failing or panicking handler is logged; it never changes the response or the
/// upload, and the following events are still delivered.
async fn deliver<S>(app: &TusApp<S>, events: Vec<tus_proto::Event>) {
    let Some(on_event) = &app.on_event else { return };
    for event in events {
        let failed = match AssertUnwindSafe(async { on_event(event).await }).catch_unwind().await {
            Ok(Ok(())) => false,
            Ok(Err(error)) => {
                tracing::warn!(%error, "on_event handler failed");
                true
            }
            Err(_) => {
                tracing::error!("on_event handler panicked");
                true
            }
        };
        if let (true, Some(metrics)) = (failed, &app.metrics) {
            metrics.hook_failed("on_event");
        }
    }
}
