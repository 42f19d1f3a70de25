//! `stat` without a pool hop when it cannot block: path lookups that the kernel must answer from its caches
//! (`openat2` with `RESOLVE_CACHED`, Linux 5.12) and a read that must come from the page cache (`preadv2` with
//! `RWF_NOWAIT`). Anything that would need the disk — or a kernel without these flags — answers "not cached", and
//! the caller goes to its pool as before. A HEAD thus costs a few system calls on the async thread instead of two
//! thread wake-ups, and never waits for a disk there.

use std::io::IoSliceMut;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::{Errno, ReadWriteFlags};
use tus_proto::{UploadId, UploadState};

use crate::layout::{Dir, Entry};
use crate::store::FileStore;
use tus_store::UploadRecord;

/// The largest record read this way; larger ones go through the pool (and its own bound).
const MAX_CACHED_RECORD: usize = 64 * 1024;

/// The smallest page size of Linux (every other is a multiple of it); also the first read's size.
const PAGE: usize = 4096;

/// Cleared for good once the kernel shows it lacks `RESOLVE_CACHED` or `RWF_NOWAIT`.
#[derive(Debug)]
pub(crate) struct CachedReads(AtomicBool);

impl Default for CachedReads {
    fn default() -> Self {
        CachedReads(AtomicBool::new(true))
    }
}

/// What a lookup from the caches found.
enum Lookup<T> {
    Found(T),
    Missing,
    /// Would need the disk, or failed otherwise: ask the pool.
    Unknown,
}

impl CachedReads {
    fn lookup<T>(&self, result: Result<T, Errno>) -> Lookup<T> {
        match result {
            Ok(value) => Lookup::Found(value),
            Err(Errno::NOENT) => Lookup::Missing,
            // No such flag in this kernel (or a filter forbids the call): stop trying.
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP | Errno::PERM) => {
                self.0.store(false, Ordering::Relaxed);
                Lookup::Unknown
            }
            Err(_) => Lookup::Unknown,
        }
    }

    fn open(&self, dir: &Dir, name: &str, flags: OFlags) -> Lookup<OwnedFd> {
        let flags = flags | OFlags::CLOEXEC;
        self.lookup(rustix::fs::openat2(dir.handle(), name, flags, Mode::empty(), ResolveFlags::CACHED))
    }

    /// Reads a small file from the page cache only.
    fn read(&self, dir: &Dir, name: &str) -> Lookup<Vec<u8>> {
        let fd = match self.open(dir, name, OFlags::RDONLY) {
            Lookup::Found(fd) => fd,
            Lookup::Missing => return Lookup::Missing,
            Lookup::Unknown => return Lookup::Unknown,
        };
        let mut buf = vec![0u8; PAGE];
        let mut filled = 0;
        loop {
            if filled == buf.len() {
                if buf.len() >= MAX_CACHED_RECORD {
                    return Lookup::Unknown; // too large for this path
                }
                buf.resize(buf.len() * 2, 0);
            }
            let read = rustix::io::preadv2(
                &fd,
                &mut [IoSliceMut::new(&mut buf[filled..])],
                filled as u64,
                ReadWriteFlags::NOWAIT,
            );
            match self.lookup(read) {
                Lookup::Found(0) => break,
                Lookup::Found(n) => filled += n,
                Lookup::Missing | Lookup::Unknown => return Lookup::Unknown,
            }
            // A read cut short by `RWF_NOWAIT` stops where an uncached page starts, at a multiple of the page
            // size; one that stops anywhere else stopped at the end of the file (records are replaced by rename,
            // never grown, so the end stays put): no second call to read nothing.
            if filled < buf.len() && filled % PAGE != 0 {
                break;
            }
        }
        buf.truncate(filled);
        Lookup::Found(buf)
    }
}

impl FileStore {
    /// [`FileStore::stat`] answered from the kernel's caches, for the tests of this crate (feature `testing`).
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub fn stat_cached(&self, id: UploadId) -> Option<UploadState> {
        self.cached_stat(id)
    }

    /// [`FileStore::stat`] answered from the kernel's caches, or `None` when that would need the disk (or the
    /// answer is anything but the committed record of an unfinished upload nobody holds): then call `stat`. Never
    /// blocks on I/O.
    pub(crate) fn cached_stat(&self, id: UploadId) -> Option<UploadState> {
        let cached = &self.inner.cached_reads;
        if !cached.0.load(Ordering::Relaxed) {
            return None;
        }
        // The same order as `stat`: finished data first, so that a staging record is never read stale.
        match cached.open(&self.inner.completed, &Entry::Data(id).name(), OFlags::PATH) {
            Lookup::Missing => {}
            Lookup::Found(_) | Lookup::Unknown => return None,
        }
        match cached.read(&self.inner.uploads, &Entry::Record(id).name()) {
            Lookup::Found(bytes) => {
                let record = std::str::from_utf8(&bytes).ok().and_then(|text| UploadRecord::from_json(text).ok())?;
                // A held upload may have bytes its writer has not committed yet: `stat` asks it to let go.
                if self.is_held(id) {
                    return None;
                }
                Some(record.to_state(id, false))
            }
            Lookup::Missing | Lookup::Unknown => None,
        }
    }
}
