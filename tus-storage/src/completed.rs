//! The completed hand-off: [`FileStore::wait_for_file`] claims one finished upload as a [`CompletedUpload`].
//!
//! A claim is a non-blocking exclusive `flock` on the completed data file — the same lock the original tussi's
//! `wait_for_file` takes, so Rust and Python workers can share one completed directory and never get the same
//! upload. Uploads are claimed oldest first, by the modification time of their completed record (the kernel's file
//! clock ticks coarsely, a few milliseconds: finishes closer together than that come in id order).
//!
//! Waiting: an inotify watch on the completed directory (set before the first scan, so nothing is missed) wakes
//! the waiter when a file is renamed in or closed after writing — the finishing writer's close comes after its
//! unlock, in this process or any other. Without inotify, finalisations in this process wake waiters through a
//! condition variable. Either way a slow re-scan ([`StoreConfig::claim_poll_interval`]) is the fallback.
//!
//! [`StoreConfig::claim_poll_interval`]: crate::StoreConfig::claim_poll_interval

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tus_proto::UploadId;

use crate::error::{Cause, FileStoreError};
use crate::fsutil::{is_same_file, read_record, remove_if_exists};
use crate::layout::{Entry, OpenMode};
use crate::lock::{try_lock, Locked};
use crate::store::{is_not_found, FileStore};
use crate::tombstone::{self, Ended};
use tus_store::UploadRecord;

/// One finished upload, claimed by this worker alone until it is dropped or [`finish`](Self::finish)ed.
///
/// When it ends, its data and record are deleted from the completed directory whether or not they were saved.
#[derive(Debug)]
pub struct CompletedUpload {
    lock: Locked,
    ended: bool,
    /// Whether ending deletes the files. Off while an async claim is in transit from the pool, so a claim whose
    /// waiter was cancelled is released untouched for another worker.
    pub(crate) armed: bool,
    id: UploadId,
    name: String,
    data_path: PathBuf,
    record_path: PathBuf,
    /// Where the store remembers ended uploads.
    ended_dir: PathBuf,
    record: UploadRecord,
    data_saved: bool,
    record_saved: bool,
}

fn misuse(why: &str) -> FileStoreError {
    FileStoreError::new("save completed upload", Cause::Misuse(why.into()))
}

/// Renames `from` to `to`, copying across filesystems.
fn move_file(from: &Path, to: &Path) -> Result<(), FileStoreError> {
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(Errno::EXDEV as i32) => {
            std::fs::copy(from, to).map_err(|e| FileStoreError::io("copy completed file", to, e))?;
            std::fs::remove_file(from).map_err(|e| FileStoreError::io("remove completed file", from, e))
        }
        Err(e) => Err(FileStoreError::io("move completed file", to, e).with_path(from)),
    }
}

impl CompletedUpload {
    /// The parsed record (with `finished_at` and `duration`).
    pub fn record(&self) -> &UploadRecord {
        &self.record
    }

    /// The upload's name in the completed directory: its id.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The upload's id.
    pub fn id(&self) -> UploadId {
        self.id
    }

    /// The claimed data file, open for reading (for consumers that stream it elsewhere instead of saving it).
    pub fn data(&self) -> &File {
        &self.lock
    }

    /// Moves the data to `dest` (a rename; a copy across filesystems). A second call is an error.
    pub fn save(&mut self, dest: impl AsRef<Path>) -> Result<(), FileStoreError> {
        if self.data_saved {
            return Err(misuse("upload file already saved"));
        }
        move_file(&self.data_path, dest.as_ref()).map_err(|e| e.with_id(self.id))?;
        self.data_saved = true;
        Ok(())
    }

    /// Moves the record to `dest`. A second call is an error.
    pub fn save_record(&mut self, dest: impl AsRef<Path>) -> Result<(), FileStoreError> {
        if self.record_saved {
            return Err(misuse("record file already saved"));
        }
        move_file(&self.record_path, dest.as_ref()).map_err(|e| e.with_id(self.id))?;
        self.record_saved = true;
        Ok(())
    }

    /// Ends the claim: deletes what is left of the upload in the completed directory, then unlocks. Dropping does
    /// the same, ignoring errors.
    pub fn finish(mut self) -> Result<(), FileStoreError> {
        self.end()
    }

    /// Deletes the files; the lock itself goes when `self` is dropped, after this.
    fn end(&mut self) -> Result<(), FileStoreError> {
        if std::mem::replace(&mut self.ended, true) || !self.armed {
            return Ok(());
        }
        // Remembered before the files go, so that a HEAD never finds the upload missing in between.
        let length = self.record.length.unwrap_or(self.record.offset);
        tombstone::remember(&self.ended_dir, self.id, Ended::finished(length, self.record.concat.as_ref()));
        let mut result = Ok(());
        for path in [&self.data_path, &self.record_path] {
            if let Err(e) = remove_if_exists(path) {
                result = result.and(Err(FileStoreError::io("remove claimed file", path, e).with_id(self.id)));
            }
        }
        result
    }
}

impl Drop for CompletedUpload {
    fn drop(&mut self) {
        let _ = self.end();
    }
}

/// What one scan of the completed directory found.
enum Scan {
    Claimed(Box<CompletedUpload>),
    /// Nothing claimable; `busy` when some finished file was locked by someone else.
    Nothing {
        busy: bool,
        /// Whether a half-made upload was repaired (and can be claimed by the next scan).
        repaired: bool,
    },
}

/// An inotify watch on the completed directory.
struct Watcher(Inotify);

impl Watcher {
    fn new(dir: &Path) -> nix::Result<Watcher> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        inotify.add_watch(dir, AddWatchFlags::IN_MOVED_TO | AddWatchFlags::IN_CLOSE_WRITE)?;
        Ok(Watcher(inotify))
    }

    /// Waits for an event or `timeout`, then drains the queue.
    fn wait(&self, timeout: Duration) {
        let millis = PollTimeout::try_from(timeout.as_millis().max(1)).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(self.0.as_fd(), PollFlags::POLLIN)];
        let _ = nix::poll::poll(&mut fds, millis);
        while matches!(self.0.read_events(), Ok(events) if !events.is_empty()) {}
    }
}

impl FileStore {
    /// Claims the oldest finished upload, waiting up to `timeout` for one; a timeout is an error for which
    /// [`FileStoreError::is_timeout`] is true. See the [module docs](crate::completed) for how waiting works.
    pub fn wait_for_file(&self, timeout: Duration) -> Result<CompletedUpload, FileStoreError> {
        self.wait_claim(timeout, None)
    }

    /// [`wait_for_file`](Self::wait_for_file) that gives up (as a timeout) soon after `cancel` is set.
    pub(crate) fn wait_claim(
        &self,
        timeout: Duration,
        cancel: Option<&AtomicBool>,
    ) -> Result<CompletedUpload, FileStoreError> {
        let deadline = Instant::now() + timeout;
        let completed = self.inner.completed.path();
        let watcher = if self.inner.config.inotify { Watcher::new(completed).ok() } else { None };
        let mut slow = self.inner.config.claim_poll_interval;
        if cancel.is_some() {
            // Cancellation is noticed between waits: keep them short.
            slow = slow.min(Duration::from_millis(500));
        }
        let mut busy_pause = Duration::from_millis(50);
        loop {
            let generation = self.inner.finishes.generation();
            let busy = match self.scan()? {
                Scan::Claimed(claim) => return Ok(*claim),
                Scan::Nothing { busy, .. } => busy,
            };
            let now = Instant::now();
            if now >= deadline || cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Err(FileStoreError::new("wait for file", Cause::Timeout).with_path(completed));
            }
            let mut pause = (deadline - now).min(slow);
            if busy {
                pause = pause.min(busy_pause);
                busy_pause = (busy_pause * 2).min(slow);
            }
            match &watcher {
                _ if self.inner.finishes.generation() != generation => {}
                Some(watcher) => watcher.wait(pause),
                None => self.inner.finishes.wait_changed(generation, pause),
            }
        }
    }

    /// Claims the oldest claimable upload; scans again at once after repairing one (see `recover`).
    fn scan(&self) -> Result<Scan, FileStoreError> {
        match self.scan_once()? {
            Scan::Nothing { busy: _, repaired: true } => self.scan_once(),
            scan => Ok(scan),
        }
    }

    fn scan_once(&self) -> Result<Scan, FileStoreError> {
        let completed = &self.inner.completed;
        let entries =
            std::fs::read_dir(completed.path()).map_err(|e| FileStoreError::io("scan", completed.path(), e))?;
        let mut candidates: Vec<(SystemTime, UploadId)> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| match Entry::parse(entry.file_name().to_str()?)? {
                Entry::Data(id) => {
                    let age = std::fs::metadata(completed.record(id)).or_else(|_| entry.metadata());
                    Some((age.and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH), id))
                }
                _ => None,
            })
            .collect();
        candidates.sort();
        let (mut busy, mut repaired) = (false, false);
        for (_, id) in candidates {
            let (data, record_at) = (completed.at(Entry::Data(id)), completed.at(Entry::Record(id)));
            let Ok(file) = data.open(OpenMode::Read) else { continue };
            let locked = match try_lock(file, true) {
                Ok(locked) => locked,
                Err((_, Errno::EWOULDBLOCK)) => {
                    busy = true;
                    continue;
                }
                Err(_) => continue,
            };
            if !is_same_file(&locked, &data) {
                continue; // claimed and removed between our open and our lock
            }
            match read_record(&record_at) {
                Ok(record) => {
                    // Remembered as finished from the claim on: the worker moves the files away before the claim
                    // ends, and a HEAD meanwhile must not find nothing.
                    let length = record.length.unwrap_or(record.offset);
                    tombstone::remember(&self.inner.ended, id, Ended::finished(length, record.concat.as_ref()));
                    return Ok(Scan::Claimed(Box::new(CompletedUpload {
                        lock: locked,
                        ended: false,
                        armed: true,
                        id,
                        name: id.to_string(),
                        data_path: data.path(),
                        record_path: record_at.path(),
                        ended_dir: self.inner.ended.clone(),
                        record,
                        data_saved: false,
                        record_saved: false,
                    })));
                }
                Err(e) if matches!(e.cause(), Cause::Io(io) if io.kind() != io::ErrorKind::NotFound) => {
                    return Err(e.with_id(id));
                }
                Err(e) if is_not_found(&e) && self.inner.uploads.at(Entry::Record(id)).exists() => {
                    // Beside a staging record: a finalisation cut short by a crash (see `recover`), finished
                    // under the lock `recover` takes itself. A repair that fails (a full disk) leaves it to the
                    // janitor, which reports the error, and does not stop the claims of other uploads.
                    drop(locked);
                    repaired |= self.recover(id, SystemTime::now()).unwrap_or(false);
                }
                Err(_) => {
                    // Missing or corrupt record: discard the upload, as the original does.
                    let _ = data.remove();
                    let _ = record_at.remove();
                    self.inner.discarded.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(Scan::Nothing { busy, repaired })
    }
}
