//! [`Offload`]: how the async front-end runs blocking storage calls off the async threads.
//!
//! Files must not be driven from async tasks directly (a `write` or `fsync` can block for long), so every storage
//! call of [`AsyncFileStore`](crate::AsyncFileStore) is one closure handed to an [`Offload`]. Batch body bytes
//! ([`StoreConfig::batch_size`](crate::StoreConfig::batch_size), 4 MiB by default) so that one call carries a lot
//! of data: never one pool hop per small frame.
//!
//! [`BlockingPool`] (default feature `blocking`) uses the `blocking` crate's pool, which works under tokio, smol and
//! async-std alike. Tokio users may prefer tokio's own pool:
//!
//! ```ignore
//! #[derive(Clone)]
//! struct TokioPool;
//! impl tus_storage::Offload for TokioPool {
//!     fn offload<F, T>(&self, f: F) -> impl std::future::Future<Output = T> + Send
//!     where F: FnOnce() -> T + Send + 'static, T: Send + 'static {
//!         async move {
//!             match tokio::task::spawn_blocking(f).await {
//!                 Ok(v) => v,
//!                 Err(e) => std::panic::resume_unwind(e.into_panic()),
//!             }
//!         }
//!     }
//! }
//! ```

use std::future::Future;

/// Runs a blocking closure somewhere it may block, and resolves to its result.
pub trait Offload: Clone + Send + Sync + 'static {
    /// Runs `f` on a thread that may block. If the returned future is dropped early, `f` may still run to
    /// completion; its result is then dropped.
    fn offload<F, T>(&self, f: F) -> impl Future<Output = T> + Send
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static;

    /// Runs `f`, a short call (a few file-system calls that end in the page cache), where it may block. The
    /// default hands it to [`offload`](Self::offload). A runtime that can run it on the calling thread while it
    /// hands that thread's other tasks to another one (tokio's `block_in_place`) may do so: the call then waits
    /// for no thread hand-off, and no other task waits for it.
    fn offload_short<F, T>(&self, f: F) -> impl Future<Output = T> + Send
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.offload(f)
    }
}

/// The `blocking` crate's thread pool: works on every async runtime.
#[cfg(feature = "blocking")]
#[derive(Clone, Copy, Debug, Default)]
pub struct BlockingPool;

#[cfg(feature = "blocking")]
impl Offload for BlockingPool {
    fn offload<F, T>(&self, f: F) -> impl Future<Output = T> + Send
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        blocking::unblock(f)
    }
}

/// Runs the closure right where the future is first polled, blocking that thread: for tests and single-purpose
/// tools, never for a server's async threads.
#[derive(Clone, Copy, Debug, Default)]
pub struct Inline;

impl Offload for Inline {
    async fn offload<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        f()
    }
}
