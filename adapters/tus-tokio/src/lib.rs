//! tussi on tokio: the runtime glue of `tus-hyper` — a [`Runtime`] from hyper-util's tokio executor and timer,
//! a [`TokioPool`] that runs file work on `spawn_blocking`, a [`Listener`] over `tokio::net::TcpListener`, and
//! [`serve`] (on the caller's runtime) or [`serve_on_threads`] (one single-threaded runtime per thread).
//!
//! It adds no behaviour of its own: every protocol decision is `tus-proto`'s, every file operation
//! `tus-storage`'s.
//!
//! ```no_run
//! use std::sync::Arc;
//! use tus_tokio::{file_store, serve, ServeOptions, StoreConfig, TusApp};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let store = file_store(StoreConfig::new("uploads", "uploads/.completed"))?;
//!     let app = Arc::new(TusApp::builder(store).max_size(1 << 30).build()?);
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     serve(listener, app, ServeOptions::default(), async { let _ = tokio::signal::ctrl_c().await; }).await;
//!     Ok(())
//! }
//! ```

#![forbid(unsafe_code)]

mod threads;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
pub use tus_hyper;
#[cfg(feature = "fs")]
use tus_hyper::tus_storage::{AsyncFileStore, FileStore, FileStoreError, Offload};
use tus_hyper::{Listener, Runtime};

pub use threads::{serve_on_threads, Threads};
// The pieces every embedding needs, one path away.
#[cfg(feature = "fs")]
pub use tus_hyper::tus_storage::{self, StoreConfig};
pub use tus_hyper::{
    deliver_finished, janitor, tus_proto, tus_store, Claim, Cors, JanitorConfig, MemoryStore, PeerAddr, Rejection,
    ServeOptions, Store, TusApp, TusService,
};

/// hyper's tokio executor and timer.
pub fn runtime() -> Runtime {
    Runtime::new(TokioExecutor::new(), TokioTimer::new())
}

#[cfg(feature = "fs")]
/// Runs file work on tokio's blocking pool (`spawn_blocking`), and short calls in place on a multi-thread runtime
/// (`block_in_place`).
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioPool;

#[cfg(feature = "fs")]
impl Offload for TokioPool {
    fn offload<F, T>(&self, f: F) -> impl Future<Output = T> + Send
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let task = tokio::task::spawn_blocking(f);
        async move {
            match task.await {
                Ok(value) => value,
                // The closure panicked: carry the panic to the caller, as a direct call would.
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            }
        }
    }

    /// On a multi-thread runtime, runs `f` right here with `block_in_place`: this thread's other tasks move to
    /// another thread meanwhile, so none waits for the call, and the caller waits for no hand-off to the pool and
    /// back. On a current-thread runtime, which cannot move its tasks, it goes
    /// to the pool like [`offload`](Offload::offload).
    fn offload_short<F, T>(&self, f: F) -> impl Future<Output = T> + Send
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|handle| handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let call = if multi_thread { Short::InPlace(f) } else { Short::Pooled(self.offload(f)) };
        async move {
            match call {
                Short::InPlace(f) => tokio::task::block_in_place(f),
                Short::Pooled(pooled) => pooled.await,
            }
        }
    }
}

/// Where [`TokioPool::offload_short`] runs its call: decided when it is made, awaited later.
#[cfg(feature = "fs")]
enum Short<F, P> {
    InPlace(F),
    Pooled(P),
}

/// Opens (creating if needed) the filesystem store described by `config`, run on [`TokioPool`].
#[cfg(feature = "fs")]
pub fn file_store(config: StoreConfig) -> Result<AsyncFileStore<TokioPool>, FileStoreError> {
    Ok(AsyncFileStore::new(FileStore::new(config)?, TokioPool))
}

/// A tokio TCP listener as a source of hyper connections.
#[derive(Debug)]
pub struct TokioListener(pub tokio::net::TcpListener);

impl Listener for TokioListener {
    type Io = TokioIo<tokio::net::TcpStream>;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        let (stream, peer) = self.0.accept().await?;
        Ok((connection(stream), peer))
    }
}

/// An accepted stream as hyper's connection.
fn connection(stream: tokio::net::TcpStream) -> TokioIo<tokio::net::TcpStream> {
    // TUS traffic is request/response: do not let Nagle hold back small responses.
    let _ = stream.set_nodelay(true);
    TokioIo::new(stream)
}

/// Serves `app` on `listener` until `shutdown` completes, then drains requests in flight (see
/// [`tus_hyper::serve`]).
pub async fn serve<S: Store>(
    listener: tokio::net::TcpListener,
    app: Arc<TusApp<S>>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    tus_hyper::serve(TokioListener(listener), app, runtime(), options, shutdown).await;
}
