//! [`StoreConfig`]: directories, durability and lock-release settings.

use std::path::PathBuf;
use std::time::Duration;

/// Settings of a [`FileStore`](crate::FileStore). Build with [`StoreConfig::new`] and adjust the public fields.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StoreConfig {
    /// Staging directory: `<id>` data and `<id>.meta` records of uploads in progress.
    pub upload_dir: PathBuf,
    /// Directory receiving finished uploads; must be on the same filesystem as `upload_dir`.
    pub completed_dir: PathBuf,
    /// Mode of the directories the store creates (not their parents): default `0o755`.
    pub directory_mode: u32,
    /// Make every commit crash-durable (`fdatasync` data, `fsync` record and directory): default `true`.
    pub fsync: bool,
    /// With [`fsync`](Self::fsync) on, make changes durable with `syncfs(2)` of the whole filesystem instead of
    /// an `fsync` per file and directory: one call, shared by every request waiting at that moment, covers all
    /// their files (group commit). Default `false`.
    ///
    /// The same promises at a fraction of the disk flushes when many small uploads run at once. Only for a
    /// filesystem the store has to itself: `syncfs` writes back every program's dirty data there, and a request
    /// then waits for all of it.
    pub syncfs: bool,
    /// How long a new request for an upload waits for a current holder to commit and let go after asking it to
    /// (see [`UploadWriter::release_requested`](crate::UploadWriter::release_requested)): default 3 s. Past it the
    /// request fails with `FailureKind::Locked`.
    pub release_timeout: Duration,
    /// Slowest re-scan of the completed directory by `wait_for_file`, a fallback for missed wake-ups: default 2 s.
    pub claim_poll_interval: Duration,
    /// Watch the completed directory with inotify so finishes in other processes wake `wait_for_file` at once:
    /// default `true`. When off (or when inotify is unavailable) only in-process finishes wake waiters at once.
    pub inotify: bool,
    /// Remove the partial uploads a final upload was assembled from (concatenation): default `true`. When off,
    /// they stay, complete, until the janitor's `stale_upload_age` (another final may name them again).
    pub remove_assembled_parts: bool,
}

impl StoreConfig {
    /// Defaults for the given directories.
    pub fn new(upload_dir: impl Into<PathBuf>, completed_dir: impl Into<PathBuf>) -> Self {
        StoreConfig {
            upload_dir: upload_dir.into(),
            completed_dir: completed_dir.into(),
            directory_mode: 0o755,
            fsync: true,
            syncfs: false,
            release_timeout: Duration::from_secs(3),
            claim_poll_interval: Duration::from_secs(2),
            inotify: true,
            remove_assembled_parts: true,
        }
    }

    /// How many threads the file work of this store should get (the size of the runtime's blocking pool): 32
    /// with [`fsync`](Self::fsync) on, 2 per CPU without.
    ///
    /// With fsync on, threads spend most of their time waiting for the disk to flush, and more of them keep more
    /// flushes in flight. Without it, file work runs on the page cache and is CPU work: threads beyond a couple per
    /// CPU only queue on the directory lock (creations and completions in one directory take it exclusively) and
    /// cost a sleep and a wake-up each time.
    ///
    /// A request waiting for an upload's lock ([`release_timeout`](Self::release_timeout) at most) holds one of
    /// these threads while it waits; size the pool up where many clients fight over the same uploads.
    pub fn io_threads(&self) -> usize {
        if self.fsync {
            32
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get()).saturating_mul(2)
        }
    }
}
