//! tussi on smol: the runtime glue of `tus-hyper` — a [`Runtime`] that spawns with `smol::spawn` and times with
//! async-io, a [`Listener`] over `smol::net::TcpListener`, and [`serve`]. File work runs on the `blocking` pool
//! ([`BlockingPool`]), which smol itself uses.
//!
//! It adds no behaviour of its own. `tus-async-std` shares this crate's glue ([`SmolListener`] works for any
//! futures-io stream) and differs only in how it spawns.
//!
//! ```no_run
//! use std::sync::Arc;
//! use tus_smol::{ServeOptions, StoreConfig, TusApp};
//!
//! smol::block_on(async {
//!     let store = tus_smol::file_store(StoreConfig::new("uploads", "uploads/.completed"))?;
//!     let app = Arc::new(TusApp::builder(store).build()?);
//!     let listener = smol::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     tus_smol::serve(listener, app, ServeOptions::default(), std::future::pending()).await;
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
#[cfg(feature = "fs")]
pub use tus_hyper::tus_storage::BlockingPool;
#[cfg(feature = "fs")]
use tus_hyper::tus_storage::{AsyncFileStore, FileStore, FileStoreError};
use tus_hyper::{Listener, Runtime};

// The pieces every embedding needs, one path away.
#[cfg(feature = "fs")]
pub use tus_hyper::tus_storage::{self, StoreConfig};
pub use tus_hyper::{
    deliver_finished, janitor, tus_proto, tus_store, Claim, Cors, JanitorConfig, MemoryStore, PeerAddr, Rejection,
    ServeOptions, Store, TusApp, TusService,
};

/// Spawns with `smol::spawn` (the global executor) and detaches.
#[derive(Clone, Copy, Debug, Default)]
pub struct SmolSpawn;

impl<F> hyper::rt::Executor<F> for SmolSpawn
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        smol::spawn(future).detach();
    }
}

/// smol's executor and async-io's timer.
pub fn runtime() -> Runtime {
    Runtime::new(SmolSpawn, SmolTimer::new())
}

/// Opens (creating if needed) the filesystem store described by `config`, run on the `blocking` pool.
#[cfg(feature = "fs")]
pub fn file_store(config: StoreConfig) -> Result<AsyncFileStore<BlockingPool>, FileStoreError> {
    Ok(AsyncFileStore::new(FileStore::new(config)?, BlockingPool))
}

/// A TCP listener whose streams speak futures-io, as a source of hyper connections.
#[derive(Debug)]
pub struct SmolListener(pub smol::net::TcpListener);

impl Listener for SmolListener {
    type Io = FuturesIo<smol::net::TcpStream>;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        let (stream, peer) = self.0.accept().await?;
        let _ = stream.set_nodelay(true);
        Ok((FuturesIo::new(stream), peer))
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then drains requests in flight (see
/// [`tus_hyper::serve`]).
pub async fn serve<S: Store>(
    listener: smol::net::TcpListener,
    app: Arc<TusApp<S>>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    tus_hyper::serve(SmolListener(listener), app, runtime(), options, shutdown).await;
}
