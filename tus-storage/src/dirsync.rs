//! Group commit for directory syncs: callers that need the same directory synced share one `fsync`.
//!
//! A directory `fsync` makes durable every entry change made in it before the sync *started*. So a caller whose
//! change is done does not need a sync of its own: it needs the first sync that starts after it asked. While one
//! sync runs, every caller that arrives waits for it to end, and then one of them starts the next, which covers
//! all of them. Under load a handful of syncs cover many creations and completions; a lone caller pays exactly
//! one sync, as before.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// The sync generations of one directory.
#[derive(Debug, Default)]
pub(crate) struct DirSync {
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

impl DirSync {
    /// Returns once a sync of `dir` that started after this call has succeeded (every entry change made before
    /// the call is durable), or with the error of that sync.
    ///
    /// A failed sync fails every caller that waited on it. A caller whose own sync succeeded but who wakes only
    /// after a later one failed gets that error as well: a spurious error for a durable change is safe, a missed
    /// one is not (after a failed `fsync` the kernel may drop the dirty state, so no later success can vouch).
    pub(crate) fn sync(&self, dir: &Path) -> io::Result<()> {
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
                let result = File::open(dir).and_then(|d| d.sync_all());
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn lone_caller_syncs_once_per_call() {
        let dir = tempfile::tempdir().unwrap();
        let sync = DirSync::default();
        for expected in 1..=3 {
            sync.sync(dir.path()).unwrap();
            let state = sync.lock();
            assert_eq!((state.started, state.finished, state.running), (expected, expected, false));
        }
    }

    #[test]
    fn concurrent_callers_share_syncs_and_each_gets_a_later_one() {
        let dir = tempfile::tempdir().unwrap();
        let sync = Arc::new(DirSync::default());
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (sync, path) = (Arc::clone(&sync), dir.path().to_owned());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let before = sync.lock().started;
                        sync.sync(&path).unwrap();
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
        let sync = DirSync::default();
        let missing = dir.path().join("missing");
        let err = sync.sync(&missing).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        // The next caller needs a newer sync, which succeeds.
        sync.sync(dir.path()).unwrap();
    }
}
