//! The driver loop with hyper bodies over the memory backend: hooks, events, batching and broken bodies.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt as _, Empty, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tus_hyper::tus_proto::{Event, FailureKind, Metadata, NewUpload, StoreFailure, UploadId, UploadState};
use tus_hyper::tus_store::{MemoryClaim, Swept};
use tus_hyper::{JanitorConfig, MemoryStore, Rejection, Runtime, Store, TusApp, TusService};

/// One request through the service, as hyper would send it.
async fn handle<S: Store, B>(
    app: &Arc<TusApp<S>>,
    rt: &Runtime,
    request: Request<B>,
    _peer: Option<std::net::IpAddr>,
) -> http::Response<Full<Bytes>>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: std::fmt::Display,
{
    let service = TusService::new(app.clone(), rt.clone());
    match hyper::service::Service::call(&service, request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// A finished upload's state and bytes.
async fn finished(store: &MemoryStore, id: UploadId) -> (UploadState, Vec<u8>) {
    let state = store.stat(id).await.expect("state");
    assert!(state.finished, "{state:?}");
    (state, store.committed_bytes(id).expect("bytes"))
}

fn runtime() -> Runtime {
    Runtime::new(TokioExecutor::new(), TokioTimer::new())
}

fn post(length: u64) -> Request<Empty<Bytes>> {
    Request::post("/files")
        .header("host", "h")
        .header("tus-resumable", "1.0.0")
        .header("upload-length", length)
        .header("upload-metadata", "filename YS50eHQ=")
        .body(Empty::new())
        .expect("request")
}

fn patch<B>(id: UploadId, offset: u64, body: B) -> Request<B> {
    Request::patch(format!("/files/{id}"))
        .header("tus-resumable", "1.0.0")
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset)
        .body(body)
        .expect("request")
}

fn id_of<B>(response: &http::Response<B>) -> UploadId {
    let location = response.headers()["location"].to_str().expect("ascii");
    location.rsplit('/').next().expect("id").parse().expect("canonical id")
}

type Log = Arc<Mutex<Vec<String>>>;

/// Metrics registered in a registry of their own, and a way to read one sample back from its text.
fn metrics() -> (tus_hyper::Metrics, impl Fn(&str) -> f64) {
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = tus_hyper::Metrics::register(&mut registry);
    let sample = move |name: &str| {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
        text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok()).unwrap_or(0.0)
    };
    (metrics, sample)
}

fn event_name(event: &Event) -> String {
    match event {
        Event::Created { .. } => "created".into(),
        Event::Progress { bytes_written, .. } => format!("progress {bytes_written}"),
        Event::Completed { .. } => "completed".into(),
        Event::Failed { .. } => "failed".into(),
        _ => "other".into(),
    }
}

#[tokio::test]
async fn failing_and_panicking_event_handlers_change_nothing() {
    for panics in [false, true] {
        let log: Log = Arc::default();
        let seen = log.clone();
        let store = MemoryStore::new();
        let (metrics, sample) = metrics();
        let app = TusApp::builder(store.clone())
            .base_path("/files")
            .metrics(metrics)
            .on_event(move |event| {
                seen.lock().expect("log").push(event_name(&event));
                async move {
                    if panics {
                        panic!("handler bug");
                    }
                    Err("handler refuses".into())
                }
            })
            .build()
            .map(Arc::new)
            .expect("app");
        let rt = runtime();
        let created = handle(&app, &rt, post(4), None).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let id = id_of(&created);
        let done = handle(&app, &rt, patch(id, 0, Full::new(Bytes::from_static(b"abcd"))), None).await;
        assert_eq!(done.status(), StatusCode::NO_CONTENT, "panics={panics}");
        assert!(store.stat(id).await.expect("state").finished, "finalised despite the handler");
        assert_eq!(*log.lock().expect("log"), ["created", "progress 4", "completed"], "every event delivered in order");
        assert_eq!(sample("tussi_hook_failures_total{hook=\"on_event\"}"), 3.0, "each failure counted");
    }
}

#[tokio::test]
async fn on_create_sets_server_metadata_rejects_or_fails_with_nothing_created() {
    let store = MemoryStore::new();
    let (metrics, sample) = metrics();
    let app = TusApp::builder(store.clone())
        .base_path("/files")
        .metrics(metrics)
        .on_create(|headers, metadata: Metadata| async move {
            match headers.get("authorization").map(|v| v.as_bytes()) {
                Some(b"Bearer ok") => {
                    Ok([("owner", "alice"), ("file", metadata.get("filename").unwrap_or("?"))].into_iter().collect())
                }
                Some(b"Bearer boom") => panic!("hook bug"),
                _ => Err(Rejection::new(StatusCode::UNAUTHORIZED, "who are you?")),
            }
        })
        .build()
        .map(Arc::new)
        .expect("app");
    let rt = runtime();
    let with_auth = |token: &str| {
        let mut request = post(3);
        request.headers_mut().insert("authorization", format!("Bearer {token}").parse().expect("header"));
        request
    };
    let refused = handle(&app, &rt, post(3), None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused.into_body().collect().await.expect("body").to_bytes(), "who are you?");
    assert_eq!(handle(&app, &rt, with_auth("boom"), None).await.status(), StatusCode::INTERNAL_SERVER_ERROR);
    // A refusal is the hook's answer; a panic is its failure.
    assert_eq!(sample("tussi_hook_failures_total{hook=\"on_create\"}"), 1.0);
    let created = handle(&app, &rt, with_auth("ok"), None).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let state = store.stat(id_of(&created)).await.expect("state");
    assert_eq!(state.server_metadata.get("owner"), Some("alice"));
    assert_eq!(state.server_metadata.get("file"), Some("a.txt"));
    assert_eq!(state.metadata.get("filename"), Some("a.txt"), "client metadata kept apart");
    // Exactly one upload exists: the refused and failed requests created nothing.
    let second = "00000000-0000-4000-8000-000000000002".parse().expect("id");
    assert_eq!(store.stat(second).await.map_err(|f| f.kind()), Err(FailureKind::NotFound));
}

/// A body whose frames are `pieces`, in order; an `Err` piece breaks the body off there.
type Pieces = Vec<Result<Bytes, std::io::Error>>;
type FrameStream = futures_lite::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, std::io::Error>>>;

fn frames(pieces: Pieces) -> StreamBody<FrameStream> {
    let frames: Vec<_> = pieces.into_iter().map(|piece| piece.map(Frame::data)).collect();
    StreamBody::new(futures_lite::stream::iter(frames))
}

#[tokio::test]
async fn small_and_large_frames_are_stored_in_order() {
    let store = MemoryStore::new();
    let app = TusApp::builder(store.clone()).base_path("/files").batch_size(1000).build().map(Arc::new).expect("app");
    let rt = runtime();
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let id = id_of(&handle(&app, &rt, post(data.len() as u64), None).await);
    // Tiny frames (batched), then one frame larger than a batch (written as it is), then tiny ones again.
    let mut pieces: Pieces = data[..3000].chunks(7).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    pieces.push(Ok(Bytes::copy_from_slice(&data[3000..8000])));
    pieces.extend(data[8000..].chunks(13).map(|c| Ok(Bytes::copy_from_slice(c))));
    let response = handle(&app, &rt, patch(id, 0, frames(pieces)), None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (state, stored) = finished(&store, id).await;
    assert_eq!(state.offset, 10_000);
    assert!(stored == data, "bytes stored in order");
}

#[tokio::test]
async fn a_body_that_breaks_off_is_committed_as_far_as_it_came() {
    let store = MemoryStore::new();
    let app = TusApp::builder(store.clone()).base_path("/files").build().map(Arc::new).expect("app");
    let rt = runtime();
    let id = id_of(&handle(&app, &rt, post(100), None).await);
    let pieces = vec![
        Ok(Bytes::from_static(b"0123456789")),
        Ok(Bytes::from_static(b"abcdef")),
        Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "client gone")),
    ];
    let response = handle(&app, &rt, patch(id, 0, frames(pieces)), None).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()["upload-offset"], "16");
    assert_eq!(store.committed_bytes(id), Some(b"0123456789abcdef".to_vec()));
}

/// The memory backend with writes that take a while (they yield first): the driver reads the body ahead meanwhile.
/// Each write records how many frames the body had given when it finished.
#[derive(Clone, Default)]
struct SlowWrites {
    inner: MemoryStore,
    given: Arc<std::sync::atomic::AtomicUsize>,
    frames_at_write: Arc<Mutex<Vec<(u64, usize)>>>,
    /// Where each write's parts start in memory.
    parts_at_write: Arc<Mutex<Vec<Vec<usize>>>>,
}

impl Store for SlowWrites {
    type Upload = <MemoryStore as Store>::Upload;
    type Claim = MemoryClaim;

    async fn create(&self, new: NewUpload) -> Result<(Self::Upload, UploadId), StoreFailure> {
        self.inner.create(new).await
    }

    async fn stat(&self, id: UploadId) -> Result<UploadState, StoreFailure> {
        self.inner.stat(id).await
    }

    async fn open(&self, id: UploadId) -> Result<(Self::Upload, UploadState), StoreFailure> {
        self.inner.open(id).await
    }

    async fn write(&self, upload: &mut Self::Upload, offset: u64, parts: Vec<Bytes>) -> Result<(), StoreFailure> {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        let end = offset + parts.iter().map(|part| part.len() as u64).sum::<u64>();
        self.frames_at_write.lock().expect("log").push((end, self.given.load(std::sync::atomic::Ordering::SeqCst)));
        self.parts_at_write.lock().expect("log").push(parts.iter().map(|part| part.as_ptr() as usize).collect());
        self.inner.write(upload, offset, parts).await
    }

    async fn commit(
        &self,
        upload: &mut Self::Upload,
        offset: u64,
        complete: bool,
    ) -> Result<UploadState, StoreFailure> {
        self.inner.commit(upload, offset, complete).await
    }

    async fn discard(&self, upload: &mut Self::Upload) -> Result<(), StoreFailure> {
        self.inner.discard(upload).await
    }

    async fn assemble(&self, upload: &mut Self::Upload) -> Result<UploadState, StoreFailure> {
        self.inner.assemble(upload).await
    }

    async fn declare_length(&self, upload: &mut Self::Upload, length: u64) -> Result<UploadState, StoreFailure> {
        self.inner.declare_length(upload, length).await
    }

    fn release_requested(&self, upload: &Self::Upload) -> tus_hyper::tus_store::ReleaseRequest {
        self.inner.release_requested(upload)
    }

    async fn delete(&self, id: UploadId) -> Result<(), StoreFailure> {
        self.inner.delete(id).await
    }

    async fn claim(&self, timeout: std::time::Duration) -> Result<Option<MemoryClaim>, StoreFailure> {
        self.inner.claim(timeout).await
    }

    async fn sweep(&self, config: &JanitorConfig, now: std::time::SystemTime) -> Swept {
        self.inner.sweep(config, now).await
    }
}

/// `pieces` as a body that counts the frames it gives.
fn counted(
    pieces: Pieces,
    given: &Arc<std::sync::atomic::AtomicUsize>,
) -> impl http_body::Body<Data = Bytes, Error = std::io::Error> + Unpin {
    let given = given.clone();
    let frames = pieces.into_iter().map(move |piece| {
        given.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        piece.map(Frame::data)
    });
    StreamBody::new(futures_lite::stream::iter(frames))
}

#[tokio::test]
async fn the_body_is_read_ahead_while_a_batch_is_written() {
    let store = SlowWrites::default();
    let app = TusApp::builder(store.clone()).base_path("/files").batch_size(1000).build().map(Arc::new).expect("app");
    let rt = runtime();
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let id = id_of(&handle(&app, &rt, post(data.len() as u64), None).await);
    let pieces: Pieces = data.chunks(100).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    let response = handle(&app, &rt, patch(id, 0, counted(pieces, &store.given)), None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (_, stored) = finished(&store.inner, id).await;
    assert!(stored == data, "bytes stored in order");
    // Without reading ahead, a write of the bytes up to `end` finishes when the body has given end / 100 frames.
    let log = store.frames_at_write.lock().expect("log").clone();
    assert_eq!(log.len(), 10, "one write per batch: {log:?}");
    assert!(
        log[..9].iter().all(|&(end, given)| given > (end / 100) as usize),
        "a batch ahead during each write: {log:?}"
    );
}

#[tokio::test]
async fn large_frames_reach_the_store_as_received() {
    let store = SlowWrites::default();
    let app =
        TusApp::builder(store.clone()).base_path("/files").batch_size(5 * 20_480).build().map(Arc::new).expect("app");
    let rt = runtime();
    let frames: Vec<Bytes> = (0..10u8).map(|i| Bytes::from(vec![i; 20_480])).collect();
    let id = id_of(&handle(&app, &rt, post(10 * 20_480), None).await);
    let pieces: Pieces = frames.iter().cloned().map(Ok).collect();
    let response = handle(&app, &rt, patch(id, 0, counted(pieces, &store.given)), None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (_, stored) = finished(&store.inner, id).await;
    assert!(stored.chunks(20_480).enumerate().all(|(i, frame)| frame == [i as u8; 20_480]), "stored in order");
    let received: Vec<usize> = frames.iter().map(|frame| frame.as_ptr() as usize).collect();
    let written = store.parts_at_write.lock().expect("log").clone();
    assert_eq!(written, [received[..5].to_vec(), received[5..].to_vec()], "two writes of five frames, not copied");
}

#[tokio::test]
async fn a_body_that_ends_or_overflows_while_read_ahead_is_committed_as_far_as_it_came() {
    // Broken off: 2,000 bytes, then an error, read ahead during the second batch's write.
    let store = SlowWrites::default();
    let app = TusApp::builder(store.clone()).base_path("/files").batch_size(1000).build().map(Arc::new).expect("app");
    let rt = runtime();
    let id = id_of(&handle(&app, &rt, post(5000), None).await);
    let mut pieces: Pieces = (0..20u8).map(|i| Ok(Bytes::from(vec![i; 100]))).collect();
    pieces.push(Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "client gone")));
    let response = handle(&app, &rt, patch(id, 0, counted(pieces, &store.given)), None).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()["upload-offset"], "2000");
    let expected: Vec<u8> = (0..20u8).flat_map(|i| vec![i; 100]).collect();
    assert_eq!(store.inner.committed_bytes(id), Some(expected));

    // Too long: 1,550 bytes declared, 3,000 sent; the bytes past the length arrive while reading ahead.
    let id = id_of(&handle(&app, &rt, post(1550), None).await);
    let pieces: Pieces = (0..30u8).map(|i| Ok(Bytes::from(vec![i; 100]))).collect();
    let response = handle(&app, &rt, patch(id, 0, counted(pieces, &store.given)), None).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let state = store.inner.stat(id).await.expect("state");
    assert_eq!(state.offset, 1550, "stored up to the length, nothing past it");
}

/// A body of `data` in two frames, ended by the trailers `trailers`.
fn with_trailers(data: &[u8], trailers: http::HeaderMap) -> StreamBody<FrameStream> {
    let (a, b) = data.split_at(data.len() / 2);
    let frames = vec![
        Ok(Frame::data(Bytes::copy_from_slice(a))),
        Ok(Frame::data(Bytes::copy_from_slice(b))),
        Ok(Frame::trailers(trailers)),
    ];
    StreamBody::new(futures_lite::stream::iter(frames))
}

#[tokio::test]
async fn a_checksum_trailer_is_verified_and_a_mismatch_keeps_nothing() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let store = MemoryStore::new();
    let app = TusApp::builder(store.clone()).base_path("/files").build().map(Arc::new).expect("app");
    let rt = runtime();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let trailer = |bytes: &[u8]| {
        let digest = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes));
        let mut trailers = http::HeaderMap::new();
        trailers.insert("upload-checksum", format!("sha256 {digest}").parse().expect("value"));
        trailers
    };
    let announced = |request: Request<StreamBody<FrameStream>>| {
        let (mut parts, body) = request.into_parts();
        parts.headers.insert("trailer", "Upload-Checksum".parse().expect("value"));
        Request::from_parts(parts, body)
    };
    let id = id_of(&handle(&app, &rt, post(data.len() as u64), None).await);

    let wrong = announced(patch(id, 0, with_trailers(&data, trailer(b"something else"))));
    let response = handle(&app, &rt, wrong, None).await;
    assert_eq!(response.status().as_u16(), 460);
    assert_eq!(response.headers()["upload-offset"], "0");
    assert_eq!(store.stat(id).await.expect("state").offset, 0, "a mismatch keeps nothing");

    let unannounced = patch(id, 0, with_trailers(&data, trailer(&data)));
    let response = handle(&app, &rt, unannounced, None).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "an unannounced trailer was not hashed: refused");
    assert_eq!(store.stat(id).await.expect("state").offset, 0);

    let id = id_of(&handle(&app, &rt, post(data.len() as u64), None).await);
    let right = announced(patch(id, 0, with_trailers(&data, trailer(&data))));
    let response = handle(&app, &rt, right, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (_, stored) = finished(&store, id).await;
    assert!(stored == data);

    let id = id_of(&handle(&app, &rt, post(data.len() as u64), None).await);
    let missing = announced(patch(id, 0, with_trailers(&data, http::HeaderMap::new())));
    let response = handle(&app, &rt, missing, None).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "an announced trailer that never came");
    assert_eq!(store.stat(id).await.expect("state").offset, 0);
}

#[tokio::test]
async fn the_janitor_task_sweeps_every_interval_until_stopped() {
    let store = MemoryStore::new();
    let (metrics, sample) = metrics();
    let app = TusApp::builder(store.clone()).base_path("/files").metrics(metrics).build().map(Arc::new).expect("app");
    let id = id_of(&handle(&app, &runtime(), post(10), None).await);
    let mut config = JanitorConfig::default();
    config.stale_upload_age = std::time::Duration::ZERO; // everything unfinished is stale at once
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        let _ = stop_rx.await;
    };
    let task = tokio::spawn(tus_hyper::janitor(app, runtime(), std::time::Duration::from_millis(20), config, stop));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while store.stat(id).await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "the janitor never swept");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(store.stat(id).await.map_err(|f| f.kind()), Err(FailureKind::Gone), "expired: gone");
    assert_eq!(sample("tussi_uploads_swept_total{reason=\"stale\"}"), 1.0, "the expiry counted");
    stop_tx.send(()).expect("the janitor still runs");
    tokio::time::timeout(std::time::Duration::from_secs(5), task).await.expect("stops when told").expect("no panic");
}

#[tokio::test]
async fn the_file_worker_delivers_finished_uploads_under_their_names() {
    let store = MemoryStore::new();
    let app = TusApp::builder(store.clone()).base_path("/files").build().map(Arc::new).expect("app");
    let rt = runtime();
    let dest = tempfile::tempdir().expect("dest");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        let _ = stop_rx.await;
    };
    let worker = tokio::spawn(tus_hyper::deliver_finished(app.clone(), rt.clone(), dest.path().to_owned(), stop));
    // Two uploads named "a.txt" (post() sets that name): the second is numbered, nothing is overwritten.
    for body in [&b"first"[..], b"other"] {
        let id = id_of(&handle(&app, &rt, post(5), None).await);
        let response = handle(&app, &rt, patch(id, 0, Full::new(Bytes::from_static(body))), None).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
    let (first, second) = (dest.path().join("a.txt"), dest.path().join("a_1.txt"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !(first.exists() && second.exists()) {
        assert!(std::time::Instant::now() < deadline, "the worker delivered nothing");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut delivered = [std::fs::read(&first).expect("a.txt"), std::fs::read(&second).expect("a_1.txt")];
    delivered.sort();
    assert_eq!(delivered, [b"first".to_vec(), b"other".to_vec()]);
    assert!(dest.path().join("a.txt.meta").exists(), "the record beside the data");
    stop_tx.send(()).expect("the worker still runs");
    tokio::time::timeout(std::time::Duration::from_secs(10), worker).await.expect("stops when told").expect("no panic");
}

#[tokio::test]
async fn a_restarted_worker_ends_what_it_had_published_and_redoes_what_it_had_not() {
    let store = MemoryStore::new();
    let app = TusApp::builder(store.clone()).base_path("/files").build().map(Arc::new).expect("app");
    let rt = runtime();
    let dest = tempfile::tempdir().expect("dest");
    let mut ids = Vec::new();
    for body in [&b"first"[..], b"other"] {
        let id = id_of(&handle(&app, &rt, post(5), None).await);
        let response = handle(&app, &rt, patch(id, 0, Full::new(Bytes::from_static(body))), None).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        ids.push(id);
    }
    // What a worker killed mid-delivery leaves: the first upload staged and published (the staged names are
    // second names of the published files) but its claim not ended; the second one half saved.
    let staging = dest.path().join(".tussi-partial");
    std::fs::create_dir_all(&staging).expect("staging");
    let staged = |id: UploadId, data: &[u8]| {
        let (path, record) = (staging.join(id.to_string()), staging.join(format!("{id}.meta")));
        std::fs::write(&path, data).expect("stage data");
        std::fs::write(&record, "{}").expect("stage record");
        (path, record)
    };
    let (data, record) = staged(ids[0], b"first");
    std::fs::hard_link(&data, dest.path().join("a.txt")).expect("published data");
    std::fs::hard_link(&record, dest.path().join("a.txt.meta")).expect("published record");
    staged(ids[1], b"ot");

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        let _ = stop_rx.await;
    };
    let worker = tokio::spawn(tus_hyper::deliver_finished(app.clone(), rt.clone(), dest.path().to_owned(), stop));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let left = || std::fs::read_dir(&staging).expect("staging").count();
    while !(dest.path().join("a_1.txt").exists() && left() == 0) {
        assert!(std::time::Instant::now() < deadline, "the worker did not finish: {} staged", left());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop_tx.send(()).expect("the worker still runs");
    tokio::time::timeout(std::time::Duration::from_secs(10), worker).await.expect("stops when told").expect("no panic");

    let mut names: Vec<String> = std::fs::read_dir(dest.path())
        .expect("dest")
        .map(|e| e.expect("entry").file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, [".tussi-partial", "a.txt", "a.txt.meta", "a_1.txt", "a_1.txt.meta"], "each delivered once");
    assert_eq!(std::fs::read(dest.path().join("a.txt")).expect("a.txt"), b"first");
    assert_eq!(std::fs::read(dest.path().join("a_1.txt")).expect("a_1.txt"), b"other", "saved anew, in full");
    assert!(store.claim(std::time::Duration::ZERO).await.expect("claim").is_none(), "both claims ended");
}
