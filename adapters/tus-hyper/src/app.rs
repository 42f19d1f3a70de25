//! The application: protocol configuration, storage, hooks, and the limits of the body loop.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use tus_proto::{ConfigError, Event, Metadata, Server};

use crate::budget::BatchBudget;
use tus_store::Store;

/// A boxed error, as hooks return them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// A boxed future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

pub(crate) type EventHandler = Arc<dyn Fn(Event) -> BoxFuture<Result<(), BoxError>> + Send + Sync>;
pub(crate) type CreateHandler =
    Arc<dyn Fn(HeaderMap, Metadata) -> BoxFuture<Result<Metadata, Rejection>> + Send + Sync>;

/// Default read timeout of a request body: a body that sends nothing for this long is cut off (and what arrived
/// is committed).
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default largest storage write: body frames are gathered up to this size per write, while the batch memory
/// budget lasts.
pub const DEFAULT_BATCH_SIZE: usize = 1024 * 1024;
/// Default memory for batches, shared by all requests: past it, each request gathers
/// [`SMALL_WRITE`](tus_store::SMALL_WRITE) bytes per write.
pub const DEFAULT_BATCH_MEMORY: usize = 4 * 1024 * 1024;

/// An `on_create` refusal: nothing is created, and the client gets this status and reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub(crate) status: StatusCode,
    pub(crate) reason: String,
}

impl Rejection {
    /// A refusal with a 4xx or 5xx status (anything else is answered as 500) and a short reason.
    pub fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Rejection { status, reason: reason.into() }
    }
}

/// A TUS endpoint: the protocol core, a store and the hooks. Cheap to share (`Arc`).
pub struct TusApp<S> {
    pub(crate) server: Server,
    pub(crate) store: S,
    pub(crate) on_event: Option<EventHandler>,
    pub(crate) on_create: Option<CreateHandler>,
    pub(crate) body_read_timeout: Duration,
    pub(crate) batch_size: usize,
    pub(crate) batch_budget: Arc<BatchBudget>,
    pub(crate) health_path: Option<String>,
    pub(crate) metrics: Option<crate::Metrics>,
}

impl<S: Store> TusApp<S> {
    /// A builder over `store`, with the original tussi's defaults.
    pub fn builder(store: S) -> TusAppBuilder<S> {
        TusAppBuilder {
            server: Server::builder(),
            store,
            on_event: None,
            on_create: None,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            batch_size: DEFAULT_BATCH_SIZE,
            batch_memory: DEFAULT_BATCH_MEMORY,
            health_path: None,
            metrics: None,
        }
    }

    /// The store (for example to run `wait_for_file` or the janitor of a file store).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The protocol core.
    pub fn server(&self) -> &Server {
        &self.server
    }
}

impl<S> std::fmt::Debug for TusApp<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TusApp")
            .field("server", &self.server)
            .field("on_event", &self.on_event.is_some())
            .field("on_create", &self.on_create.is_some())
            .field("body_read_timeout", &self.body_read_timeout)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

/// Builds a [`TusApp`]. The option names are those of the original tussi's `TUSApp`.
#[must_use = "a builder does nothing until build() is called"]
pub struct TusAppBuilder<S> {
    server: tus_proto::ServerBuilder,
    store: S,
    on_event: Option<EventHandler>,
    on_create: Option<CreateHandler>,
    body_read_timeout: Duration,
    batch_size: usize,
    batch_memory: usize,
    health_path: Option<String>,
    metrics: Option<crate::Metrics>,
}

impl<S: Store> TusAppBuilder<S> {
    /// Called with every lifecycle event, in order, before the response that caused it is sent. An error (or a
    /// panic) is logged and changes neither the response nor the upload.
    pub fn on_event<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.on_event = Some(Arc::new(move |event| Box::pin(handler(event))));
        self
    }

    /// Called on every valid creation request, with the lower-cased request headers and the client's metadata;
    /// returns the server metadata to store, or a [`Rejection`]. A panic is answered 500; nothing is created.
    pub fn on_create<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(HeaderMap, Metadata) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Metadata, Rejection>> + Send + 'static,
    {
        self.on_create = Some(Arc::new(move |headers, metadata| Box::pin(handler(headers, metadata))));
        self
    }

    /// Largest `Upload-Length` accepted; advertised as `Tus-Max-Size`. Default: none.
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.server = self.server.max_size(bytes);
        self
    }

    /// Largest body of one PATCH (or POST with data), declared or streamed. Default: none — bodies are streamed,
    /// so memory needs no such bound (the original tussi's 10 MiB came from reading whole bodies). A refused body
    /// is read to its end (up to [`DRAIN_LIMIT`](crate::DRAIN_LIMIT)) so that the client reads the 413.
    pub fn max_chunk_size(mut self, bytes: u64) -> Self {
        self.server = self.server.max_chunk_size(bytes);
        self
    }

    /// How long an unfinished upload lives after its last write: answers carry `Upload-Expires`, a request past it
    /// gets 410. Default: one day — keep it equal to the `stale_upload_age` of the janitor that sweeps the store.
    pub fn expire_after(mut self, age: Duration) -> Self {
        self.server = self.server.expire_after(age);
        self
    }

    /// Uploads never expire (for a store nobody sweeps): no `Upload-Expires`, no expiration extension.
    pub fn never_expire(mut self) -> Self {
        self.server = self.server.never_expire();
        self
    }

    /// Answers CORS preflights and adds CORS headers to every response (see [`Cors`](tus_proto::Cors)). Default:
    /// off — leave it off when a layer of the host application handles CORS (tower-http's `CorsLayer`).
    pub fn cors(mut self, cors: tus_proto::Cors) -> Self {
        self.server = self.server.cors(cors);
        self
    }

    /// Largest raw `Upload-Metadata`. Default: 4096 bytes.
    pub fn max_metadata_size(mut self, bytes: usize) -> Self {
        self.server = self.server.max_metadata_size(bytes);
        self
    }

    /// Peers (IPs or CIDR blocks) whose `X-Forwarded-Proto` / `Forwarded` set the scheme of `Location`.
    pub fn trusted_proxies<I, T>(mut self, proxies: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.server = self.server.trusted_proxies(proxies);
        self
    }

    /// The path of the endpoint (`/files`): requests to other paths are answered 404, `Location` is built from it.
    pub fn base_path(mut self, path: impl Into<String>) -> Self {
        self.server = self.server.base_path(path);
        self
    }

    /// The path clients use to reach the endpoint (`/files`), when a router strips it before the request arrives
    /// (axum's `nest_service`); `Location` gets it back.
    pub fn mounted_at(mut self, path: impl Into<String>) -> Self {
        self.server = self.server.mounted_at(path);
        self
    }

    /// How long a request body may send nothing before it is cut off. Default: 30 s.
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// Largest storage write: body frames are gathered up to this many bytes per write (at least 1). Default:
    /// 1 MiB. Larger batches mean fewer calls to the storage pool.
    pub fn batch_size(mut self, bytes: usize) -> Self {
        self.batch_size = bytes.max(1);
        self
    }

    /// Memory for batches, shared by all requests: a request gathers up to `batch_size` while this lasts, and
    /// [`SMALL_WRITE`](tus_store::SMALL_WRITE) bytes per write past it, so memory stays bounded however many
    /// uploads run at once. While a batch is written, the next one (up to `batch_size`) is read ahead from what is
    /// still free, never past it. Default: 4 MiB. (A PATCH declaring at most `SMALL_WRITE` bytes is read whole
    /// outside this budget: per request, no more than a batch past the budget, or the connection's own read
    /// buffer.)
    pub fn batch_memory(mut self, bytes: usize) -> Self {
        self.batch_memory = bytes;
        self
    }

    /// Answers `GET` (and `HEAD`) of `path` (`/healthz`) for load balancers: 200 when the store is ready
    /// ([`Store::ready`]: the file store writes a probe file in its directories), 503 with the cause in the log
    /// otherwise. Default: no health endpoint.
    pub fn health_path(mut self, path: impl Into<String>) -> Self {
        self.health_path = Some(path.into());
        self
    }

    /// Counts requests, bytes, uploads and storage latency into `metrics` (registered by the caller in the
    /// registry it serves; see [`Metrics`](crate::Metrics)). Default: none.
    pub fn metrics(mut self, metrics: crate::Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Checks the configuration and builds the app.
    ///
    /// With glibc, this also raises `malloc`'s trim threshold for the process to twice the batch memory (at most
    /// 64 MiB), so that the memory batches free is reused rather than given back to the kernel and faulted in again.
    pub fn build(self) -> Result<TusApp<S>, ConfigError> {
        let server = self.server.build()?;
        crate::budget::keep_freed_batches(self.batch_memory);
        Ok(TusApp {
            server,
            store: self.store,
            on_event: self.on_event,
            on_create: self.on_create,
            body_read_timeout: self.body_read_timeout,
            batch_size: self.batch_size,
            batch_budget: BatchBudget::new(self.batch_memory),
            health_path: self.health_path,
            metrics: self.metrics,
        })
    }
}
