//! tussi on async-std — **legacy**: async-std is discontinued upstream (RUSTSEC-2025-0052); prefer `tus-smol`,
//! which runs on the same async-io reactor and `blocking` pool. This crate is kept out of the workspace's default
//! build and shares `tus-smol`'s glue; it differs only in spawning with `async_std::task::spawn`.
//!
//! It adds no behaviour of its own.
//!
//! ```no_run
//! use std::sync::Arc;
//! use tus_async_std::tus_hyper::{ServeOptions, TusApp};
//! use tus_async_std::tus_hyper::tus_storage::StoreConfig;
//!
//! async_std::task::block_on(async {
//!     let store = tus_async_std::file_store(StoreConfig::new("uploads", "uploads/.completed"))?;
//!     let app = Arc::new(TusApp::builder(store).build()?);
//!     let listener = async_std::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     tus_async_std::serve(listener, app, ServeOptions::default(), std::future::pending()).await;
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use smol_hyper::rt::{FuturesIo, SmolTimer};
pub use tus_hyper;
use tus_hyper::{Listener, Runtime, ServeOptions, Store, TusApp};
#[cfg(feature = "fs")]
pub use tus_smol::{file_store, BlockingPool};

/// Spawns with `async_std::task::spawn` and detaches.
#[derive(Clone, Copy, Debug, Default)]
pub struct AsyncStdSpawn;

impl<F> hyper::rt::Executor<F> for AsyncStdSpawn
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        drop(async_std::task::spawn(future));
    }
}

/// async-std's executor and async-io's timer.
pub fn runtime() -> Runtime {
    Runtime::new(AsyncStdSpawn, SmolTimer::new())
}

/// An async-std TCP listener as a source of hyper connections.
#[derive(Debug)]
pub struct AsyncStdListener(pub async_std::net::TcpListener);

impl Listener for AsyncStdListener {
    type Io = FuturesIo<async_std::net::TcpStream>;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        let (stream, peer) = self.0.accept().await?;
        let _ = stream.set_nodelay(true);
        Ok((FuturesIo::new(stream), peer))
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then drains requests in flight (see
/// [`tus_hyper::serve`]).
pub async fn serve<S: Store>(
    listener: async_std::net::TcpListener,
    app: Arc<TusApp<S>>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    tus_hyper::serve(AsyncStdListener(listener), app, runtime(), options, shutdown).await;
}
