//! Reading what is left of a refused request's body, so that the client reads the answer instead of a broken pipe;
//! and the body wrapper that knows how far a body got (and keeps its trailers).
//!
//! A server that answers before the body is read and then closes the connection resets it while the client is
//! still sending: the client's next write fails (EPIPE, ECONNRESET) and it never reads the status. Browsers and
//! tus-js-client report that as a network error, not as the 413 or 409 it was. So the rest of the body is read and
//! dropped first — up to [`DRAIN_LIMIT`], with the body read timeout between frames — and the connection stays
//! usable for the next request.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Buf as _;
use http::header::EXPECT;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;

use crate::{Runtime, TusApp};

/// The most of a refused body read to nowhere. Past it the connection is closed (a client that sends more than
/// this after its request was refused may see a reset); a 24 MiB tus-js-client PATCH refused by a 10 MiB
/// `max_chunk_size` fits.
pub const DRAIN_LIMIT: u64 = 64 * 1024 * 1024;

/// A body that sent nothing for this long before its request was answered has stalled (a dead connection, a
/// request that was taken over): there is nothing to drain, and the answer goes out at once.
const STALLED_AFTER: Duration = Duration::from_millis(500);

/// A request body that remembers whether it was ever read, when it last brought something, and whether it ended.
#[derive(Debug)]
pub(crate) struct Tracked<B> {
    inner: B,
    polled: bool,
    ended: bool,
    last_frame: Option<Instant>,
    /// The body's trailers, once they came (a chunked body may end with some: an `Upload-Checksum`).
    trailers: Option<HeaderMap>,
}

impl<B> Tracked<B> {
    pub(crate) fn new(inner: B) -> Self {
        Tracked { inner, polled: false, ended: false, last_frame: None, trailers: None }
    }

    /// The trailers the body ended with, if any came.
    pub(crate) fn take_trailers(&mut self) -> Option<HeaderMap> {
        self.trailers.take()
    }

    /// Whether the body was being read and has gone silent.
    fn stalled(&self) -> bool {
        self.polled && self.last_frame.is_none_or(|at| at.elapsed() >= STALLED_AFTER)
    }
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = &mut *self;
        this.polled = true;
        let poll = Pin::new(&mut this.inner).poll_frame(cx);
        match &poll {
            Poll::Ready(None | Some(Err(_))) => this.ended = true,
            Poll::Ready(Some(Ok(frame))) => {
                this.last_frame = Some(Instant::now());
                if let Some(trailers) = frame.trailers_ref() {
                    this.trailers = Some(trailers.clone());
                }
            }
            Poll::Pending => {}
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Reads and drops the rest of `body`, up to [`DRAIN_LIMIT`]. Nothing to do when it ended or stalled; nothing
/// either when it was never read and the client waits for `100 Continue` before sending it (it then sends nothing).
pub(crate) async fn drain<S, B>(app: &TusApp<S>, runtime: &Runtime, headers: &HeaderMap, body: &mut Tracked<B>)
where
    B: Body + Unpin,
{
    if body.is_end_stream() {
        return;
    }
    let expects_continue = headers.get(EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if (!body.polled && expects_continue) || body.stalled() {
        return;
    }
    let mut drained = 0u64;
    while drained <= DRAIN_LIMIT {
        match runtime.timeout(app.body_read_timeout, body.frame()).await {
            Some(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    drained += data.remaining() as u64;
                }
            }
            // Ended, broke off, or went silent: nothing more to wait for.
            _ => return,
        }
    }
    tracing::debug!(drained, "stopped reading a refused body past the drain limit; the connection will close");
}
