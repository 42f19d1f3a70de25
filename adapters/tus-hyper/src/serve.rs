//! The accept loop: one hyper HTTP/1.1 connection task per client, with timeouts and graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures_lite::future::or;
use hyper::server::conn::http1;

use tus_store::Store;

use crate::{Runtime, TusApp, TusService};

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
    /// it; a body streams through it, so with many slow writers this bounds the memory of each.
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
        let (stopped, alive, timer) = (stopped.clone(), alive.clone(), runtime.timer());
        runtime.spawn(async move {
            let mut connection = pin!(http1::Builder::new()
                .timer(crate::runtime::SharedTimer(timer))
                .header_read_timeout(options.header_read_timeout)
                .max_buf_size(options.max_buf_size.max(8192))
                .serve_connection(io, service));
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
            drop(alive);
        });
    }
    drop((stop, alive));
    if runtime.timeout(options.shutdown_grace, all_done.recv()).await.is_none() {
        tracing::warn!("shutdown grace period over with requests still in flight");
    }
}
