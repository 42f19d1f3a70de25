//! The janitor as a task: [`Store::sweep`] every interval until told to stop, on any runtime.

use std::future::Future;
use std::time::{Duration, SystemTime};

use tus_store::{JanitorConfig, Store, Swept};

use crate::{Runtime, TusApp};

/// Sweeps `app`'s store every `interval` (the first sweep one interval after the start) until `stop` completes,
/// logging what each sweep removed (info) and the failures it met (warn). Spawn it beside the server:
///
/// ```no_run
/// # use std::{sync::Arc, time::Duration};
/// # use tus_hyper::{JanitorConfig, MemoryStore, Runtime, TusApp};
/// # fn demo(app: Arc<TusApp<MemoryStore>>, runtime: Runtime, stop: impl std::future::Future<Output = ()> + Send + 'static) {
/// let task = tus_hyper::janitor(app, runtime.clone(), Duration::from_secs(3600), JanitorConfig::default(), stop);
/// runtime.spawn(task);
/// # }
/// ```
///
/// Keep `config.stale_upload_age` equal to the app's `expire_after`, so that what `Upload-Expires` promises is
/// what happens.
pub async fn janitor<S: Store>(
    app: std::sync::Arc<TusApp<S>>,
    runtime: Runtime,
    interval: Duration,
    config: JanitorConfig,
    stop: impl Future<Output = ()>,
) {
    let mut stop = std::pin::pin!(stop);
    loop {
        let stopped = futures_lite::future::or(
            async {
                runtime.sleep(interval).await;
                false
            },
            async {
                stop.as_mut().await;
                true
            },
        )
        .await;
        if stopped {
            return;
        }
        let swept = app.store.sweep(&config, SystemTime::now()).await;
        if let Some(metrics) = &app.metrics {
            metrics.swept(&swept);
        }
        log_sweep(&swept);
    }
}

fn log_sweep(swept: &Swept) {
    for (id, reason) in &swept.removed {
        tracing::info!(upload = %id, ?reason, "janitor removed an upload");
    }
    for error in &swept.errors {
        tracing::warn!(cause = %error, "janitor");
    }
}
