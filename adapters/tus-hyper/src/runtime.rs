//! What the adapters need of an async runtime: hyper's own executor and timer traits, nothing more.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hyper::rt::{Executor, Timer};

use crate::BoxFuture;

/// An executor and a timer, as hyper defines them. The runtime crates (`tus-tokio`, `tus-smol`,
/// `tus-async-std`) each provide one.
#[derive(Clone)]
pub struct Runtime {
    executor: Arc<dyn Executor<BoxFuture<()>> + Send + Sync>,
    timer: Arc<dyn Timer + Send + Sync>,
}

impl Runtime {
    /// A runtime from hyper's traits.
    pub fn new(
        executor: impl Executor<BoxFuture<()>> + Send + Sync + 'static,
        timer: impl Timer + Send + Sync + 'static,
    ) -> Self {
        Runtime { executor: Arc::new(executor), timer: Arc::new(timer) }
    }

    /// Runs `future` to completion in the background.
    pub fn spawn(&self, future: impl std::future::Future<Output = ()> + Send + 'static) {
        self.executor.execute(Box::pin(future));
    }

    /// Waits for `duration`.
    pub async fn sleep(&self, duration: Duration) {
        self.timer.sleep(duration).await;
    }

    /// Runs `future` for at most `limit`: `None` when the time ran out first.
    pub async fn timeout<T>(&self, limit: Duration, future: impl std::future::Future<Output = T>) -> Option<T> {
        futures_lite::future::or(async { Some(future.await) }, async {
            self.sleep(limit).await;
            None
        })
        .await
    }

    /// The timer, for hyper's own timeouts.
    pub fn timer(&self) -> Arc<dyn Timer + Send + Sync> {
        self.timer.clone()
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Runtime")
    }
}

/// A shared timer handed to hyper, which wants an owned `Timer`.
#[derive(Clone)]
pub(crate) struct SharedTimer(pub(crate) Arc<dyn Timer + Send + Sync>);

impl Timer for SharedTimer {
    fn sleep(&self, duration: Duration) -> std::pin::Pin<Box<dyn hyper::rt::Sleep>> {
        self.0.sleep(duration)
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> std::pin::Pin<Box<dyn hyper::rt::Sleep>> {
        self.0.sleep_until(deadline)
    }

    fn reset(&self, sleep: &mut std::pin::Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: std::time::Instant) {
        self.0.reset(sleep, new_deadline);
    }
}
