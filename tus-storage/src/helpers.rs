//! Helper threads for syncs that can overlap.
//!
//! A creation makes two things durable (the record and the directory entries), a commit or finalisation two
//! before its rename (the data and the record). Neither has to wait for the other, but each `fsync` waits for the
//! disk: one after the other they cost two waits, side by side one. The calling thread starts the other on a
//! helper, does its own, then waits for the helper's.
//!
//! Helpers are started on demand (at most [`MAX_HELPERS`]) and wait for work when idle. A job goes only to an idle
//! helper (a rendezvous hand-off); when none is idle and no more may start, the caller runs the job itself, so
//! syncs never queue behind other requests' syncs. The helpers end when the store is dropped.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{Cause, FileStoreError};

/// The most helper threads one store starts.
pub(crate) const MAX_HELPERS: usize = 4;

type Job = Box<dyn FnOnce() + Send>;

/// The helper threads of one store.
#[derive(Debug)]
pub(crate) struct SyncHelpers {
    /// Rendezvous channel: a send succeeds only into the hands of a helper waiting for work.
    handoff: SyncSender<Job>,
    jobs: Arc<Mutex<Receiver<Job>>>,
    started: AtomicUsize,
}

/// The error of a sync whose helper ended without an answer (it cannot, short of a panic).
fn helper_lost() -> FileStoreError {
    let why = std::io::Error::other("the helper thread ended without an answer");
    FileStoreError::new("sync on a helper thread", Cause::Io(why))
}

/// A sync running elsewhere; [`wait`](Pending::wait) for its result.
#[must_use = "a started sync must be waited for before what depends on it"]
#[derive(Debug)]
pub(crate) struct Pending(Receiver<Result<(), FileStoreError>>);

impl Pending {
    /// Waits for the sync to end.
    pub(crate) fn wait(self) -> Result<(), FileStoreError> {
        self.0.recv().unwrap_or_else(|_| Err(helper_lost()))
    }
}

impl Default for SyncHelpers {
    fn default() -> Self {
        let (handoff, jobs) = mpsc::sync_channel(0);
        SyncHelpers { handoff, jobs: Arc::new(Mutex::new(jobs)), started: AtomicUsize::new(0) }
    }
}

impl SyncHelpers {
    /// Runs `sync` on a helper thread, or here (before returning) when no helper is free.
    pub(crate) fn start(&self, sync: impl FnOnce() -> Result<(), FileStoreError> + Send + 'static) -> Pending {
        let (reply, result) = mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            let _ = reply.send(sync()); // the caller may have given up waiting after an error of its own
        });
        let job = match self.handoff.try_send(job) {
            Ok(()) => return Pending(result),
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => job,
        };
        if self.start_helper() {
            // The new helper (or one that has just finished) takes it.
            if let Err(mpsc::SendError(job)) = self.handoff.send(job) {
                job();
            }
        } else {
            job();
        }
        Pending(result)
    }

    /// Starts `fdatasync` of `file` on a helper, through a duplicate of its descriptor (a duplicate shares the
    /// open file and its `flock`; closing it releases neither). Errors name `op` and `path`.
    pub(crate) fn sync_data(&self, file: &File, op: &'static str, path: PathBuf) -> Result<Pending, FileStoreError> {
        let data = file.try_clone().map_err(|e| FileStoreError::io(op, &path, e))?;
        Ok(self.start(move || data.sync_data().map_err(|e| FileStoreError::io(op, &path, e))))
    }

    /// Starts one more helper unless there are enough; whether one started.
    fn start_helper(&self) -> bool {
        let reserved =
            self.started.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < MAX_HELPERS).then_some(n + 1));
        if reserved.is_err() {
            return false;
        }
        let jobs = Arc::clone(&self.jobs);
        let spawned = std::thread::Builder::new().name("tus-sync".into()).spawn(move || loop {
            // Only one idle helper waits in `recv` at a time; the others wait for the lock.
            let job = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
            match job {
                Ok(job) => job(),
                Err(_) => return, // the store is gone
            }
        });
        if spawned.is_err() {
            self.started.fetch_sub(1, Ordering::AcqRel);
        }
        spawned.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::time::Duration;

    #[test]
    fn syncs_run_side_by_side_and_report_their_results() {
        let helpers = SyncHelpers::default();
        // Three jobs that can only finish together: they must run on three threads at once.
        let barrier = Arc::new(Barrier::new(3));
        let pending: Vec<Pending> = (0..2)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                helpers.start(move || {
                    barrier.wait();
                    Ok(())
                })
            })
            .collect();
        barrier.wait();
        for p in pending {
            p.wait().unwrap();
        }
        let failed = helpers.start(|| Err(helper_lost()));
        assert!(failed.wait().is_err());
        assert!(helpers.started.load(Ordering::Acquire) >= 2);
    }

    #[test]
    fn without_a_free_helper_the_caller_runs_the_job() {
        let helpers = SyncHelpers::default();
        let (release, blocked) = mpsc::channel::<()>();
        let blocked = Arc::new(Mutex::new(blocked));
        let busy: Vec<Pending> = (0..MAX_HELPERS)
            .map(|_| {
                let blocked = Arc::clone(&blocked);
                helpers.start(move || {
                    let _ = blocked.lock().unwrap().recv_timeout(Duration::from_secs(10));
                    Ok(())
                })
            })
            .collect();
        assert_eq!(helpers.started.load(Ordering::Acquire), MAX_HELPERS);
        // Every helper is busy: this one runs right here, on this thread.
        let caller = std::thread::current().id();
        let (tx, ran_on) = mpsc::channel();
        helpers
            .start(move || {
                tx.send(std::thread::current().id()).unwrap();
                Ok(())
            })
            .wait()
            .unwrap();
        assert_eq!(ran_on.recv().unwrap(), caller);
        for _ in 0..MAX_HELPERS {
            release.send(()).unwrap();
        }
        for p in busy {
            p.wait().unwrap();
        }
    }
}
