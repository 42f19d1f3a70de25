//! The accept loop: one hyper connection task per client (HTTP/1.1, or HTTP/2 over cleartext with prior knowledge),
//! with timeouts and graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures_lite::future::or;
use hyper_util::server::conn::auto;

use tus_store::Store;

use crate::{Runtime, TusApp, TusService};

/// Most HTTP/2 streams one connection may have open at once.
const MAX_STREAMS: u32 = 64;

/// Runs the HTTP/2 connection's stream tasks on the runtime.
#[derive(Clone)]
struct SpawnOn(Runtime);

impl<F: Future<Output = ()> + Send + 'static> hyper::rt::Executor<F> for SpawnOn {
    fn execute(&self, future: F) {
        self.0.spawn(future);
    }
}

/// A source of connections: each runtime crate wraps its TCP listener in one.
pub trait Listener: Send + 'static {
    /// The connection type, already adapted to hyper's I/O traits.
    type Io: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static;

    /// Waits for the next connection.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Io, SocketAddr)>> + Send;
}

/// Limits of the HTTP layer. Start from `ServeOptions::default()` and set the fields you change.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct ServeOptions {
    /// How long a client may take to send a request head (also while a kept-alive connection is idle).
    pub header_read_timeout: Duration,
    /// How long shutdown waits for requests in flight before it returns.
    pub shutdown_grace: Duration,
    /// Largest read buffer of one connection (hyper's `max_buf_size`, at least 8192). A request head must fit in
    /// it; a body streams through it, so with many slow writers this bounds the memory of each. Over HTTP/2 a
    /// stream may send 4 of these ahead of the reads and a connection 8, in frames of one.
    pub max_buf_size: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            max_buf_size: 64 * 1024,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes; then stops accepting, lets requests in flight finish
/// (up to the grace period) and returns.
pub async fn serve<S, L>(
    mut listener: L,
    app: Arc<TusApp<S>>,
    runtime: Runtime,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) where
    S: Store,
    L: Listener,
{
    let metrics = app.metrics.clone();
    let service = TusService::new(app, runtime.clone());
    // Closing `stop` tells connections to finish; every connection holds a clone of `alive`, so a closed `alive`
    // channel means all are done.
    let (stop, stopped) = async_channel::bounded::<()>(1);
    let (alive, all_done) = async_channel::bounded::<()>(1);
    let mut shutdown = pin!(shutdown);
    loop {
        let next = or(async { Some(listener.accept().await) }, async {
            shutdown.as_mut().await;
            None
        });
        let (io, peer) = match next.await {
            None => break,
            Some(Ok(accepted)) => accepted,
            Some(Err(error)) => {
                // Out of file descriptors and the like: wait a moment rather than spin.
                tracing::warn!(%error, "accept failed");
                runtime.sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let service = service.for_peer(peer.ip());
        let open = metrics.as_ref().map(crate::Metrics::connection_opened);
        let (stopped, alive, timer) = (stopped.clone(), alive.clone(), runtime.timer());
        let executor = SpawnOn(runtime.clone());
        runtime.spawn(async move {
            // HTTP/1.1, and cleartext HTTP/2 with prior knowledge (h2c), told apart by the connection's first bytes.
            let mut builder = auto::Builder::new(executor);
            builder
                .http1()
                .timer(crate::runtime::SharedTimer(timer.clone()))
                .header_read_timeout(options.header_read_timeout)
                .max_buf_size(options.max_buf_size.max(8192));
            // The flow-control windows bound what a client may send ahead of the reads: a stream 4 read buffers,
            // the whole connection 8. Frames as large as a read buffer: with HTTP/2's defaults (64 KiB windows,
            // 16 KiB frames) one large PATCH moved at a third of HTTP/1.1's speed for three times the CPU (bench
            // W7); with these, at about its speed.
            let buffer = u32::try_from(options.max_buf_size.max(16_384)).unwrap_or(u32::MAX);
            let stream_window = buffer.saturating_mul(4).max(65_535);
            builder
                .http2()
                .timer(crate::runtime::SharedTimer(timer))
                .initial_stream_window_size(stream_window)
                .initial_connection_window_size(stream_window.saturating_mul(2))
                .max_frame_size(buffer.min(16_777_215))
                .max_concurrent_streams(MAX_STREAMS);
            let mut connection = pin!(builder.serve_connection(io, service));
            let finished = or(async { Some(connection.as_mut().await) }, async {
                let _ = stopped.recv().await;
                None
            })
            .await;
            let result = match finished {
                Some(result) => result,
                None => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
            drop((alive, open));
        });
    }
    drop((stop, alive));
    if runtime.timeout(options.shutdown_grace, all_done.recv()).await.is_none() {
        tracing::warn!("shutdown grace period over with requests still in flight");
    }
}
