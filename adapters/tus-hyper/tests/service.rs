//! `TusService`: a request whose future is dropped mid-way (the client went away, a timeout layer gave up) still
//! runs to its end, so what arrived of its body is committed.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{Empty, StreamBody};
use hyper::body::Frame;
use hyper::service::Service as _;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tus_hyper::tus_proto::{Event, UploadId};
use tus_hyper::{MemoryStore, Runtime, Store as _, TusApp, TusService};

type Piece = Result<Frame<Bytes>, std::io::Error>;

/// A body that declares its length up front, as hyper's does for a request with `Content-Length`.
struct Declared<B> {
    body: B,
    length: u64,
}

impl<B: http_body::Body + Unpin> http_body::Body for Declared<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.length)
    }
}

#[tokio::test]
async fn a_dropped_request_still_commits_what_arrived() {
    // A small declared body runs in the service's own future, a streamed one in a task of its own.
    for declared in [true, false] {
        dropped_request_commits(declared).await;
    }
}

async fn dropped_request_commits(declared: bool) {
    let store = MemoryStore::new();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let app = TusApp::builder(store.clone())
        .base_path("/files")
        .on_event(move |event| {
            if let Event::Progress { bytes_written, .. } = event {
                seen.lock().expect("events").push(bytes_written);
            }
            async { Ok(()) }
        })
        .build()
        .expect("app");
    let service = TusService::new(Arc::new(app), Runtime::new(TokioExecutor::new(), TokioTimer::new()));

    let created = service
        .call(
            Request::post("/files")
                .header("host", "h")
                .header("tus-resumable", "1.0.0")
                .header("upload-length", 8)
                .body(Empty::<Bytes>::new())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().expect("ascii");
    let id: UploadId = location.rsplit('/').next().expect("id").parse().expect("id");

    // A body fed by hand: three bytes now, then (once the request is dropped) a broken connection.
    let (feed, pieces) = tokio::sync::mpsc::unbounded_channel::<Piece>();
    let stream = StreamBody::new(Box::pin(futures_lite::stream::unfold(pieces, |mut pieces| async move {
        pieces.recv().await.map(|piece| (piece, pieces))
    })));
    feed.send(Ok(Frame::data(Bytes::from_static(b"abc")))).expect("feed");
    let request = Request::patch(format!("/files/{id}"))
        .header("tus-resumable", "1.0.0")
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", 0);
    let mut pending = if declared {
        let request = request.header("content-length", 8).body(Declared { body: stream, length: 8 });
        service.call(request.expect("request"))
    } else {
        service.call(request.body(stream).expect("request"))
    };
    let waited = tokio::time::timeout(Duration::from_millis(200), &mut pending).await;
    assert!(waited.is_err(), "the request waits for the rest of its body");
    drop(pending);
    feed.send(Err(std::io::Error::other("connection reset"))).expect("feed");

    // The commit, then the event, come from the request's own task: wait for both.
    let finished = || {
        (futures_lite::future::block_on(store.stat(id)).expect("state").offset, events.lock().expect("events").clone())
    };
    for _ in 0..200 {
        if finished() == (3, vec![3]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (offset, progress) = finished();
    assert_eq!(offset, 3, "declared={declared}: the bytes that arrived before the drop were committed");
    assert_eq!(progress, [3], "declared={declared}: and their progress reported");
}
