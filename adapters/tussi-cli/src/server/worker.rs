//! The background tasks of `tussi-server`: file workers that hand finished uploads to the destination directory,
//! and the janitor. On the filesystem store they are tussi's own (below); on any other store (`--store`), the
//! library's [`deliver_finished`](tus_tokio::deliver_finished) and [`janitor`](tus_tokio::janitor), which deliver
//! the same way ([`spawn_store_tasks`]).
//!
//! A worker claims one finished upload at a time (`wait_for_file`: a non-blocking `flock`, so several workers —
//! or other processes, Python tussi's included — never get the same one), moves its data and record into a
//! staging directory inside the destination (`<dest>/.tussi-partial/`, same filesystem), then publishes both under
//! the sanitised `filename` with [`place_no_clobber`]: `<name>` and `<name>.meta`, numbered on collisions, never
//! overwriting. If publishing fails, the files stay in the staging directory (logged), never lost.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinSet;
use tus_tokio::tus_hyper::tus_storage::{AsyncFileStore, CompletedUpload, JanitorConfig};
use tus_tokio::tus_hyper::TusApp;
use tus_tokio::tus_store::naming::{place_no_clobber, sanitize_filename};
use tus_tokio::TokioPool;

/// The filesystem store, as the server runs it.
pub(crate) type FileStore = AsyncFileStore<TokioPool>;

/// Name of the staging directory inside the destination directory.
pub(crate) const PARTIAL_DIR: &str = ".tussi-partial";

/// How long one `wait_for_file` call waits before it is renewed.
const CLAIM_WAIT: Duration = Duration::from_secs(60);

/// Creates `<dest>/.tussi-partial` (and `dest`) and returns its path.
pub(crate) fn prepare_dest(dest: &Path) -> io::Result<PathBuf> {
    let partial = dest.join(PARTIAL_DIR);
    std::fs::create_dir_all(&partial)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot create {}: {e}", partial.display())))?;
    Ok(partial)
}

/// This dest dir's worker name for a shared store (`tus_bucket::BucketConfig::worker_name`): read from
/// `<partial>/worker-name`, or made up and written there on first use. It names the dest dir, not the process, so
/// that a server restarted on the same dest dir is given back the claims its killed workers held, and finds what
/// they had already delivered.
pub(crate) fn worker_name(partial: &Path) -> io::Result<String> {
    let path = partial.join("worker-name");
    let context = |e: io::Error, what: &str, path: &Path| {
        io::Error::new(e.kind(), format!("cannot {what} {}: {e}", path.display()))
    };
    match std::fs::read_to_string(&path) {
        Ok(name) if !name.trim().is_empty() => return Ok(name.trim().to_owned()),
        Ok(_) => return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{} is empty", path.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(context(e, "read", &path)),
    }
    // Written in full under a name of its own, then linked into place: a server starting at the same moment on
    // the same dest dir reads either nothing or the whole name, and both end up with the same one.
    let name = uuid::Uuid::new_v4().to_string();
    let draft = partial.join(format!("worker-name.{name}.tmp"));
    std::fs::write(&draft, &name).map_err(|e| context(e, "write", &draft))?;
    let linked = std::fs::hard_link(&draft, &path);
    let _ = std::fs::remove_file(&draft);
    match linked {
        Ok(()) => Ok(name),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            std::fs::read_to_string(&path).map(|n| n.trim().to_owned()).map_err(|e| context(e, "read", &path))
        }
        Err(e) => Err(context(e, "write", &path)),
    }
}

/// What the background tasks are to do, from the command line.
#[derive(Clone, Debug)]
pub(crate) struct Background {
    /// How many workers deliver finished uploads.
    pub(crate) workers: usize,
    /// Where they deliver them.
    pub(crate) dest: PathBuf,
    /// The staging directory inside `dest` (from [`prepare_dest`]).
    pub(crate) partial: PathBuf,
    /// The time between janitor runs.
    pub(crate) janitor_interval: Duration,
    /// What the janitor removes.
    pub(crate) janitor: JanitorConfig,
}

/// Starts the filesystem store's workers and janitor in `tasks`; they end when `stop` turns true.
pub(crate) fn spawn_file_tasks(
    app: Arc<TusApp<FileStore>>,
    background: &Background,
    stop: watch::Receiver<bool>,
    tasks: &mut JoinSet<()>,
) {
    for n in 0..background.workers {
        let (dest, partial) = (background.dest.clone(), background.partial.clone());
        tasks.spawn(file_worker(n, app.clone(), dest, partial, stop.clone()));
    }
    tasks.spawn(janitor(app, background.janitor_interval, background.janitor.clone(), stop));
}

/// Starts the library's workers and janitor for any store in `tasks`; they end when `stop` turns true. The file
/// store does not use them: its own worker claims with `wait_for_file`, which the Python original's workers
/// respect when both share the directories.
pub(crate) fn spawn_store_tasks<S: tus_tokio::Store>(
    app: Arc<TusApp<S>>,
    background: &Background,
    stop: watch::Receiver<bool>,
    tasks: &mut JoinSet<()>,
) {
    let runtime = tus_tokio::runtime();
    for _ in 0..background.workers {
        let task = tus_tokio::deliver_finished(app.clone(), runtime.clone(), background.dest.clone(), stopped(&stop));
        tasks.spawn(task);
    }
    let config = background.janitor.clone();
    tasks.spawn(tus_tokio::janitor(app, runtime, background.janitor_interval, config, stopped(&stop)));
}

/// Completes when `stop` turns true (or its sender is gone): the library tasks take a future, not a channel.
fn stopped(stop: &watch::Receiver<bool>) -> impl std::future::Future<Output = ()> + Send + 'static {
    let mut stop = stop.clone();
    async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
    }
}

/// Worker `n`: claims finished uploads and delivers them into `dest` until `stop` turns true. A claim being
/// delivered when `stop` comes is finished first.
pub(crate) async fn file_worker(
    n: usize,
    app: Arc<TusApp<FileStore>>,
    dest: PathBuf,
    partial: PathBuf,
    mut stop: watch::Receiver<bool>,
) {
    tracing::debug!(worker = n, "file worker started");
    loop {
        let claim = tokio::select! {
            claim = app.store().wait_for_file(CLAIM_WAIT) => claim,
            _ = stop.wait_for(|stopped| *stopped) => break,
        };
        match claim {
            Ok(done) => {
                let (dest, partial) = (dest.clone(), partial.clone());
                let id = done.name().to_owned();
                match tokio::task::spawn_blocking(move || deliver(done, &dest, &partial)).await {
                    Ok(Ok(path)) => tracing::info!(worker = n, upload = %id, "saved {}", path.display()),
                    Ok(Err(error)) => tracing::error!(worker = n, upload = %id, "saving failed: {error}"),
                    Err(error) => tracing::error!(worker = n, upload = %id, "saving panicked: {error}"),
                }
            }
            Err(error) if error.is_timeout() => {}
            Err(error) => {
                tracing::error!(worker = n, "claiming a finished upload failed: {error}");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.wait_for(|stopped| *stopped) => break,
                }
            }
        }
    }
    tracing::debug!(worker = n, "file worker stopped");
}

/// Moves one claimed upload into `dest` under its sanitised `filename`; returns where the data went.
fn deliver(mut done: CompletedUpload, dest: &Path, partial: &Path) -> io::Result<PathBuf> {
    let id = done.name().to_owned();
    let name = sanitize_filename(done.record().metadata.get("filename"), &id);
    let data = partial.join(&id);
    let record = partial.join(format!("{id}.meta"));
    done.save(&data).map_err(io::Error::other)?;
    done.save_record(&record).map_err(io::Error::other)?;
    let placed = place_no_clobber(dest, &name, &data, &record)
        .map_err(|e| io::Error::new(e.kind(), format!("{e} (the upload is kept in {})", partial.display())))?;
    done.finish().map_err(io::Error::other)?;
    Ok(placed)
}

/// Runs the janitor every `interval` (first after one interval) until `stop` turns true.
pub(crate) async fn janitor(
    app: Arc<TusApp<FileStore>>,
    interval: Duration,
    config: JanitorConfig,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|stopped| *stopped) => break,
        }
        let report = app.store().janitor(&config, SystemTime::now()).await;
        for deleted in &report.deleted {
            tracing::info!(upload = %deleted.id, reason = ?deleted.reason, "janitor deleted {}", deleted.path.display());
        }
        for path in &report.skipped_locked {
            tracing::debug!("janitor skipped locked {}", path.display());
        }
        for error in &report.errors {
            tracing::warn!("janitor: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worker_name_is_made_once_per_dest_dir_and_kept() {
        let dest = tempfile::tempdir().unwrap();
        let partial = prepare_dest(dest.path()).unwrap();
        let name = worker_name(&partial).unwrap();
        assert_eq!(name.len(), 36, "a UUID: {name}");
        assert_eq!(worker_name(&partial).unwrap(), name, "read back on the next start");
        let names: Vec<String> =
            std::fs::read_dir(&partial).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        assert_eq!(names, ["worker-name"], "no draft left behind");
        let other = prepare_dest(&dest.path().join("elsewhere")).unwrap();
        assert_ne!(worker_name(&other).unwrap(), name, "another dest dir, another name");
    }
}
