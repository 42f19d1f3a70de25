//! `flock` on data files, always non-blocking, and the cross-process lock-release request.
//!
//! Every lock attempt uses `LOCK_NB`; waiting is a bounded loop of attempts with short sleeps, so no pool thread is
//! ever parked on a lock indefinitely.
//!
//! **Lock-release request.** A request that finds an upload's data file locked creates the marker file
//! `<upload dir>/<id>.release` and keeps retrying until its deadline ([`StoreConfig::release_timeout`]), re-creating
//! the marker should it vanish. The holder — in this process or any other — sees the marker through
//! [`UploadWriter::release_requested`] (one `stat(2)`), stops taking body bytes, commits what it stored and drops
//! the writer, which unlocks. Whoever takes the lock next removes the marker. A holder that never checks (a stuck
//! process, the original Python tussi) is not interrupted: the waiting request then fails with `Locked`.
//!
//! [`StoreConfig::release_timeout`]: crate::StoreConfig::release_timeout
//! [`UploadWriter::release_requested`]: crate::UploadWriter::release_requested

use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use tus_store::ReleaseRequest;

use crate::error::{Cause, FileStoreError};
use crate::layout::{At, OpenMode};

/// A data file under `flock`; unlocks when dropped.
pub(crate) type Locked = Flock<File>;

/// One non-blocking attempt. `Err((file, EWOULDBLOCK))` means someone else holds a conflicting lock.
pub(crate) fn try_lock(file: File, exclusive: bool) -> Result<Locked, (File, Errno)> {
    let arg = if exclusive { FlockArg::LockExclusiveNonblock } else { FlockArg::LockSharedNonblock };
    let mut file = file;
    loop {
        match Flock::lock(file, arg) {
            Err((f, Errno::EINTR)) => file = f,
            other => return other,
        }
    }
}

/// Locks `file` (opened from `data`) exclusively if nobody holds it, without waiting and without asking a holder
/// to let go: `Ok(Err(file))` when it is held. Removes a stale release marker once the lock is taken.
pub(crate) fn lock_now(file: File, data: &At<'_>, release: &At<'_>) -> Result<Result<Locked, File>, FileStoreError> {
    match try_lock(file, true) {
        Ok(locked) => {
            clear_release(release);
            Ok(Ok(locked))
        }
        Err((file, Errno::EWOULDBLOCK)) => Ok(Err(file)),
        Err((_, errno)) => Err(FileStoreError::errno("lock upload", &data.path(), errno)),
    }
}

/// Tries to lock `file` (opened from `data`) exclusively until `timeout`, asking the holder to let go through the
/// marker `release` when the first attempt fails. Removes the marker once the lock is taken.
pub(crate) fn lock_with_release(
    file: File,
    data: &At<'_>,
    release: &At<'_>,
    timeout: Duration,
    why: ReleaseRequest,
) -> Result<Locked, FileStoreError> {
    let mut file = match lock_now(file, data, release)? {
        Ok(locked) => return Ok(locked),
        Err(file) => file,
    };
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        request_release(release, why);
        let now = Instant::now();
        if now >= deadline {
            return Err(FileStoreError::new("lock upload", Cause::LockTimeout).with_path(&data.path()));
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
        file = match lock_now(file, data, release)? {
            Ok(locked) => return Ok(locked),
            Err(file) => file,
        };
    }
}

/// Creates the release marker if it is missing: empty for a takeover, with one byte for a termination (the holder
/// tells them apart by the size it sees anyway). Failures are ignored: the waiter then simply times out.
pub(crate) fn request_release(release: &At<'_>, why: ReleaseRequest) {
    let terminate = why == ReleaseRequest::Terminate;
    match release.stat() {
        Ok(stat) if stat.st_size > 0 || !terminate => {}
        _ => {
            if let Ok(mut marker) = release.open(OpenMode::Create) {
                if terminate {
                    let _ = marker.write_all(b"t");
                }
            }
        }
    }
}

fn clear_release(release: &At<'_>) {
    release.remove_if_present();
}

/// A cheap, cloneable check for a lock-release request on one upload; see the
/// [crate docs](crate#locks-and-the-lock-release-request).
#[derive(Clone, Debug)]
pub struct ReleaseWatch {
    marker: Option<Arc<PathBuf>>,
}

impl ReleaseWatch {
    pub(crate) fn new(marker: PathBuf) -> Self {
        ReleaseWatch { marker: Some(Arc::new(marker)) }
    }

    /// A watch that never fires (finished uploads).
    pub(crate) fn never() -> Self {
        ReleaseWatch { marker: None }
    }

    /// Whether another request (in any process) has asked the holder to commit and let go. One `stat(2)`.
    pub fn is_requested(&self) -> bool {
        self.request().is_requested()
    }

    /// Whether another request asked the holder to let go, and why. One `stat(2)`.
    pub fn request(&self) -> ReleaseRequest {
        match self.marker.as_deref().map(std::fs::metadata) {
            Some(Ok(marker)) if marker.len() > 0 => ReleaseRequest::Terminate,
            Some(Ok(_)) => ReleaseRequest::Takeover,
            _ => ReleaseRequest::None,
        }
    }
}
