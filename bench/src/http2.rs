//! The upload workload over HTTP/2: cleartext with prior knowledge (h2c, what tussi serves beside HTTP/1.1 on the
//! same port), through hyper's HTTP/2 client connection on tokio. The same exchanges as [`crate::workload`]'s
//! HTTP/1.1 uploads (POST, then PATCHes from the shared body buffer, the same checks), with each client a task
//! instead of a thread, and the clients dealt out over a number of HTTP/2 connections: one each (every client's
//! requests are streams on its own connection), or several clients multiplexed on one.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::client::conn::http2::{Builder, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::http::{Endpoint, Response, IO_TIMEOUT};
use crate::workload::{body, finish, Outcome, Shared, UploadPlan};

/// The most bytes one body frame hands to hyper (a slice of the shared body buffer; h2 splits it into frames of
/// the peer's `SETTINGS_MAX_FRAME_SIZE` as flow control allows).
const PIECE: usize = 1 << 20;

/// A request body of `left` bytes, taken cyclically from the shared body buffer without copying.
pub struct Repeat {
    left: u64,
}

impl Repeat {
    /// A body of `len` bytes (0: no body).
    pub fn new(len: u64) -> Repeat {
        Repeat { left: len }
    }
}

impl Body for Repeat {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let source = body();
        let n = self.left.min(source.len().min(PIECE) as u64) as usize;
        self.left -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&source[..n])))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

/// One HTTP/2 connection that any number of clients share, opened when first needed and again after it closed.
pub struct Connection {
    authority: String,
    sender: tokio::sync::Mutex<Option<SendRequest<Repeat>>>,
    connects: AtomicU64,
}

impl Connection {
    /// A connection to `authority` (`host:port`), opened by the first request.
    pub fn new(authority: &str) -> Connection {
        Connection {
            authority: authority.to_owned(),
            sender: tokio::sync::Mutex::new(None),
            connects: AtomicU64::new(0),
        }
    }

    /// Connections opened so far (1 while the server keeps the first one open).
    pub fn connects(&self) -> u64 {
        self.connects.load(Ordering::Relaxed)
    }

    /// A handle for sending requests on the connection, opening it (TCP, then the HTTP/2 preface and settings)
    /// when there is none or it closed. Must be called inside a tokio runtime with timers.
    pub async fn sender(&self) -> io::Result<SendRequest<Repeat>> {
        let mut slot = self.sender.lock().await;
        if let Some(sender) = slot.as_ref().filter(|s| !s.is_closed()) {
            return Ok(sender.clone());
        }
        *slot = None;
        let opened = tokio::time::timeout(IO_TIMEOUT, async {
            let stream = tokio::net::TcpStream::connect(&self.authority).await?;
            stream.set_nodelay(true)?;
            // hyper's client defaults otherwise: the server's windows and frame size decide how a body is sent.
            let (sender, connection) =
                Builder::new(TokioExecutor::new()).handshake(TokioIo::new(stream)).await.map_err(io::Error::other)?;
            // Drives the connection until every handle is dropped or it fails (requests then fail with the cause).
            tokio::spawn(async move {
                let _ = connection.await;
            });
            io::Result::Ok(sender)
        })
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connecting timed out"))??;
        self.connects.fetch_add(1, Ordering::Relaxed);
        *slot = Some(opened.clone());
        Ok(opened)
    }
}

/// One client: its handle on a shared [`Connection`], and the `Location` of the last response that had one.
pub struct Client {
    connection: Arc<Connection>,
    sender: Option<SendRequest<Repeat>>,
    uri_prefix: String,
    /// The `Location` of the last response that had one.
    pub location: String,
}

impl Client {
    /// A client sending its requests as streams on `connection`.
    pub fn new(connection: Arc<Connection>) -> Client {
        let uri_prefix = format!("http://{}", connection.authority);
        Client { connection, sender: None, uri_prefix, location: String::new() }
    }

    /// `POST path` with `Upload-Length: length` (TUS creation).
    pub async fn post(&mut self, path: &str, length: u64) -> io::Result<Response> {
        let request = self.request("POST", path).header("upload-length", length).header("content-length", 0);
        self.exchange(request, 0).await
    }

    /// `PATCH path` at `offset` with a body of `len` bytes from the shared body buffer.
    pub async fn patch(&mut self, path: &str, offset: u64, len: u64) -> io::Result<Response> {
        let request = self
            .request("PATCH", path)
            .header("upload-offset", offset)
            .header("content-type", "application/offset+octet-stream")
            .header("content-length", len);
        self.exchange(request, len).await
    }

    fn request(&self, method: &str, path: &str) -> http::request::Builder {
        http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.uri_prefix))
            .header("tus-resumable", "1.0.0")
    }

    /// Sends one request as a new stream and reads its response (the body is read to its end and dropped).
    async fn exchange(&mut self, request: http::request::Builder, len: u64) -> io::Result<Response> {
        let request = request.body(Repeat::new(len)).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            self.sender = Some(self.connection.sender().await?);
        }
        let sender = self.sender.as_mut().expect("set above");
        let exchanged = tokio::time::timeout(IO_TIMEOUT, async {
            sender.ready().await.map_err(io::Error::other)?;
            let response = sender.send_request(request).await.map_err(io::Error::other)?;
            let (parts, incoming) = response.into_parts();
            if !incoming.is_end_stream() {
                incoming.collect().await.map_err(io::Error::other)?;
            }
            io::Result::Ok(parts)
        })
        .await;
        let parts = match exchanged {
            Ok(Ok(parts)) => parts,
            Ok(Err(error)) => {
                self.sender = None;
                return Err(error);
            }
            Err(_) => {
                self.sender = None;
                return Err(io::Error::new(io::ErrorKind::TimedOut, "no response in time"));
            }
        };
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let location = header("location");
        if let Some(location) = location {
            self.location.clear();
            self.location.push_str(location);
        }
        Ok(Response {
            status: parts.status.as_u16(),
            upload_offset: header("upload-offset").and_then(|v| v.parse().ok()),
            has_location: location.is_some(),
        })
    }
}

/// Makes `plan.count` uploads against `endpoint` over HTTP/2: `plan.concurrency` clients, dealt out in turn over
/// `connections` connections (clamped to 1..=clients; as many as clients: one connection each), on a tokio runtime
/// of as many threads as clients, at most one per CPU.
pub fn uploads(endpoint: &Endpoint, plan: &UploadPlan, connections: usize) -> Outcome {
    let clients = plan.concurrency.max(1);
    let connections = connections.clamp(1, clients);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(clients.min(cpus))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return Outcome { errors: 1, first_error: Some(format!("tokio runtime: {error}")), ..Outcome::default() }
        }
    };
    let shared = Arc::new(Shared::new());
    let plan = Arc::new(plan.clone());
    let endpoint = Arc::new(endpoint.clone());
    let pool: Vec<Arc<Connection>> = (0..connections).map(|_| Arc::new(Connection::new(&endpoint.authority))).collect();
    let started = Instant::now();
    let deadline = started + plan.max_time;
    let mut total = runtime.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|i| {
                let (shared, plan, endpoint) = (shared.clone(), plan.clone(), endpoint.clone());
                let mut client = Client::new(pool[i % connections].clone());
                tokio::spawn(async move {
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
                        let began = Instant::now();
                        match upload_one(&mut client, &endpoint, &plan, &mut target).await {
                            Ok(bytes) => {
                                mine.ok += 1;
                                mine.bytes += bytes;
                                mine.latency.record(began.elapsed().as_micros() as u64);
                            }
                            Err(error) => {
                                mine.errors += 1;
                                if !shared.fail(error) {
                                    break;
                                }
                            }
                        }
                    }
                    mine
                })
            })
            .collect();
        let mut total = Outcome::default();
        for task in tasks {
            match task.await {
                Ok(outcome) => total.absorb(outcome),
                Err(_) => {
                    total.errors += 1;
                    total.first_error.get_or_insert_with(|| "a client task panicked".to_owned());
                }
            }
        }
        total
    });
    total.connects = pool.iter().map(|c| c.connects()).sum();
    let total = finish(total, started, &shared);
    // Closes the connections: their driver tasks end with the runtime.
    drop(pool);
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    total
}

/// One upload: POST, then PATCHes of `plan.chunk` bytes until `plan.size`. Returns the bytes acknowledged. The
/// same checks and messages as the HTTP/1.1 workload's.
async fn upload_one(
    client: &mut Client,
    endpoint: &Endpoint,
    plan: &UploadPlan,
    target: &mut String,
) -> Result<u64, String> {
    let created = client.post(&endpoint.path, plan.size).await.map_err(|e| format!("POST: {e}"))?;
    if created.status != 201 || !created.has_location {
        return Err(format!("POST answered {} (Location present: {})", created.status, created.has_location));
    }
    target.clear();
    target.push_str(&endpoint.resolve(&client.location));
    if plan.create_only {
        return Ok(0);
    }
    let mut offset = 0;
    // Bounded: one PATCH per chunk (an empty upload gets none).
    while offset < plan.size {
        let len = plan.chunk.min(plan.size - offset);
        let patched = client.patch(target, offset, len).await.map_err(|e| format!("PATCH at {offset}: {e}"))?;
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
