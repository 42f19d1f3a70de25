//! Group commit: callers that need the same sync share one.
//!
//! A directory's `fsync` makes durable every entry change made in it before the sync *started*; a `syncfs` does
//! the same for every change anywhere in the filesystem. So a caller whose change is done does not need a sync of
//! its own: it needs the first sync that starts after it asked. While one sync runs, every caller that arrives
//! waits for it to end, and then one of them (no dedicated thread) runs the next, which covers all of them. Under
//! load a handful of syncs cover many creations and completions; a lone caller pays exactly one sync.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crate::error::FileStoreError;

/// The sync generations of one thing to sync (a directory, a filesystem).
#[derive(Debug, Default)]
pub(crate) struct SyncGroup {
    state: Mutex<State>,
    finished: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Syncs started so far; the one running (if any) is number `started`.
    started: u64,
    /// Syncs finished so far (they run one at a time, so in order).
    finished: u64,
    running: bool,
    /// The newest sync that failed, and how.
    failure: Option<(u64, io::ErrorKind, String)>,
}

impl SyncGroup {
    /// Returns once a sync (`run`, by this caller or another) that started after this call has succeeded (every
    /// change made before the call is durable), or with the error of that sync. Every caller passes the same
    /// `run`.
    ///
    /// A failed sync fails every caller that waited on it. A caller whose own sync succeeded but who wakes only
    /// after a later one failed gets that error as well: a spurious error for a durable change is safe, a missed
    /// one is not (after a failed `fsync` the kernel may drop the dirty state, so no later success can vouch).
    pub(crate) fn sync(&self, run: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        let mut state = self.lock();
        // A sync running now may have started before the caller's change: only the next one surely covers it.
        let needed = state.started + 1;
        loop {
            if state.finished >= needed {
                return match &state.failure {
                    Some((generation, kind, message)) if *generation >= needed => {
                        Err(io::Error::new(*kind, message.clone()))
                    }
                    _ => Ok(()),
                };
            }
            if !state.running {
                state.running = true;
                state.started += 1;
                let generation = state.started;
                drop(state);
                let result = run();
                state = self.lock();
                state.running = false;
                state.finished = generation;
                if let Err(e) = &result {
                    state.failure = Some((generation, e.kind(), e.to_string()));
                }
                self.finished.notify_all();
                // This sync started after the caller asked (`generation >= needed`), so it is the caller's.
                return result;
            }
            state = self.finished.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent at every unlock, so a panic elsewhere does not make it unusable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The store's filesystem, synced whole with `syncfs(2)` and group commit ([`StoreConfig::syncfs`]).
///
/// [`StoreConfig::syncfs`]: crate::StoreConfig::syncfs
#[derive(Debug)]
pub(crate) struct FilesystemSync {
    /// An open directory of the filesystem (`syncfs` takes any descriptor on it, but not an `O_PATH` one).
    fd: OwnedFd,
    path: PathBuf,
    syncs: SyncGroup,
}

impl FilesystemSync {
    /// Opens `dir` to sync the filesystem holding it.
    pub(crate) fn open(dir: &Path) -> Result<FilesystemSync, FileStoreError> {
        let fd = File::open(dir).map_err(|e| FileStoreError::io("open directory", dir, e))?;
        Ok(FilesystemSync { fd: fd.into(), path: dir.to_owned(), syncs: SyncGroup::default() })
    }

    /// Returns once every change made anywhere in the filesystem before the call is durable: one `syncfs` shared
    /// with every concurrent caller (see [`SyncGroup`]).
    pub(crate) fn sync(&self) -> Result<(), FileStoreError> {
        self.syncs
            .sync(|| rustix::fs::syncfs(&self.fd).map_err(io::Error::from))
            .map_err(|e| FileStoreError::io("syncfs", &self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn sync_dir(dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    #[test]
    fn lone_caller_syncs_once_per_call() {
        let dir = tempfile::tempdir().unwrap();
        let sync = SyncGroup::default();
        for expected in 1..=3 {
            sync.sync(|| sync_dir(dir.path())).unwrap();
            let state = sync.lock();
            assert_eq!((state.started, state.finished, state.running), (expected, expected, false));
        }
    }

    #[test]
    fn concurrent_callers_share_syncs_and_each_gets_a_later_one() {
        let dir = tempfile::tempdir().unwrap();
        let sync = Arc::new(SyncGroup::default());
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (sync, path) = (Arc::clone(&sync), dir.path().to_owned());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let before = sync.lock().started;
                        sync.sync(|| sync_dir(&path)).unwrap();
                        // A sync that started after the call has finished.
                        assert!(sync.lock().finished > before);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let state = sync.lock();
        assert!(state.started <= 16 * 50 && state.started >= 50, "{} syncs", state.started);
        assert_eq!(state.finished, state.started);
    }

    #[test]
    fn a_failed_sync_fails_its_callers_and_later_ones_recover() {
        let dir = tempfile::tempdir().unwrap();
        let sync = SyncGroup::default();
        let missing = dir.path().join("missing");
        let err = sync.sync(|| sync_dir(&missing)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        // The next caller needs a newer sync, which succeeds.
        sync.sync(|| sync_dir(dir.path())).unwrap();
    }
}
