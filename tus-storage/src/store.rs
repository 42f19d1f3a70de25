//! [`FileStore`]: opening the directories, creating uploads, looking them up and opening them for writing.

use std::convert::Infallible;
use std::fs::{DirBuilder, File, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use nix::unistd::AccessFlags;
use tus_proto::{Concat, Metadata, NewUpload, StoreFailure, UploadId, UploadState};
use uuid::Uuid;

use crate::cached::CachedReads;
use crate::config::StoreConfig;
use crate::error::{Cause, FileStoreError};
use crate::fsutil::{create_record, free_space, is_same_file, read_record};
use crate::group::FilesystemSync;
use crate::helpers::SyncHelpers;
use crate::layout::{At, Dir, Entry, OpenMode};
use crate::lock::{lock_now, lock_with_release, request_release, try_lock, Locked, ReleaseWatch};
use crate::tombstone::{self, Ended};
use crate::writer::UploadWriter;
use tus_store::{ReleaseRequest, UploadRecord, STAT_SETTLE};

/// How far ahead of the bytes written the data file is reserved (`posix_fallocate`): at creation the first
/// stretch, then the next as bytes arrive. Bounds what an upload that declares much and sends little holds of the
/// disk, while most of a large upload still lands in few extents.
pub const RESERVE_AHEAD: u64 = 64 * 1024 * 1024;

/// Uploads up to this length are not reserved with `posix_fallocate` (the free-space check still answers the early
/// 507): their bytes arrive in one write that allocates them anyway, and a reserved range is allocated unwritten,
/// so that write would also convert it, one more metadata change per upload.
pub(crate) const RESERVE_FROM: u64 = tus_store::SMALL_WRITE as u64;

/// The blocking storage core: uploads as files in a staging directory, finished ones in a completed directory.
///
/// Cheap to clone (one `Arc`), `Send + Sync`; every method blocks on file I/O, so async code calls it through
/// [`AsyncFileStore`](crate::AsyncFileStore) or its own thread pool.
#[derive(Clone, Debug)]
pub struct FileStore {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: StoreConfig,
    pub(crate) uploads: Dir,
    pub(crate) completed: Dir,
    /// Where ended uploads are remembered (see the `tombstone` module).
    pub(crate) ended: PathBuf,
    pub(crate) finishes: Notifier,
    pub(crate) preallocation_skipped: AtomicU64,
    pub(crate) discarded: AtomicU64,
    pub(crate) cached_reads: CachedReads,
    pub(crate) helpers: SyncHelpers,
    /// With fsync and [`StoreConfig::syncfs`] on: the filesystem, synced whole instead of file by file.
    pub(crate) filesystem: Option<FilesystemSync>,
}

/// Counters of things the store did quietly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreStats {
    /// Creations whose preallocation was skipped because the filesystem does not support it.
    pub preallocation_skipped: u64,
    /// Finished files discarded by `wait_for_file` because their record was missing or corrupt.
    pub discarded_corrupt: u64,
}

/// In-process wake-up of `wait_for_file` callers: a generation counter bumped after every finalisation.
#[derive(Debug, Default)]
pub(crate) struct Notifier {
    generation: Mutex<u64>,
    cond: Condvar,
}

impl Notifier {
    pub(crate) fn generation(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn notify(&self) {
        *self.generation.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.cond.notify_all();
    }

    /// Waits until the generation differs from `seen`, at most `timeout`.
    pub(crate) fn wait_changed(&self, seen: u64, timeout: Duration) {
        let guard = self.generation.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = self.cond.wait_timeout_while(guard, timeout, |g| *g == seen);
    }
}

fn ensure_dir(path: &Path, mode: u32) -> Result<(), FileStoreError> {
    // Missing parents are created too (as `mkdir -p`); the mode is set on the directory itself, past the umask.
    if std::fs::symlink_metadata(path).is_err() {
        match DirBuilder::new().recursive(true).mode(mode).create(path) {
            Ok(()) => std::fs::set_permissions(path, Permissions::from_mode(mode))
                .map_err(|e| FileStoreError::io("set directory mode", path, e))?,
            Err(e) => return Err(FileStoreError::io("create directory", path, e)),
        }
    }
    let meta = std::fs::metadata(path).map_err(|e| FileStoreError::io("inspect directory", path, e))?;
    if !meta.is_dir() {
        return Err(FileStoreError::errno("inspect directory", path, Errno::ENOTDIR));
    }
    nix::unistd::access(path, AccessFlags::R_OK | AccessFlags::W_OK | AccessFlags::X_OK)
        .map_err(|e| FileStoreError::errno("check directory access", path, e))
}

impl Inner {
    /// Whether changes are made durable file by file (fsync on, without [`StoreConfig::syncfs`]).
    pub(crate) fn sync_per_file(&self) -> bool {
        self.config.fsync && self.filesystem.is_none()
    }

    /// With [`StoreConfig::syncfs`], makes every change made so far durable (one shared `syncfs`); otherwise
    /// nothing.
    pub(crate) fn sync_filesystem(&self) -> Result<(), FileStoreError> {
        self.filesystem.as_ref().map_or(Ok(()), FilesystemSync::sync)
    }

    /// With fsync on, makes the entry changes made so far in `dir` durable: with [`StoreConfig::syncfs`] one shared
    /// `syncfs`, otherwise one shared `fsync` of the directory.
    pub(crate) fn sync_dir(&self, dir: &Dir) -> Result<(), FileStoreError> {
        match &self.filesystem {
            Some(filesystem) => filesystem.sync(),
            None if self.config.fsync => dir.sync(),
            None => Ok(()),
        }
    }
}

fn no_space(path: &Path, id: UploadId) -> FileStoreError {
    FileStoreError::errno("reserve space", path, Errno::ENOSPC).with_id(id)
}

impl FileStore {
    /// Opens (creating when missing, with [`StoreConfig::directory_mode`]) the two directories and checks them:
    /// directories, readable, writable and searchable, on one filesystem. Their contents are not walked.
    ///
    /// The store then names its files relative to handles it holds on the two directories (one path component for
    /// the kernel to walk, not the whole path), while its scans (janitor, `wait_for_file`) use the paths: do not
    /// rename or replace the directories while a store has them open.
    pub fn new(config: StoreConfig) -> Result<FileStore, FileStoreError> {
        ensure_dir(&config.upload_dir, config.directory_mode)?;
        ensure_dir(&config.completed_dir, config.directory_mode)?;
        let ended = config.upload_dir.join(tombstone::DIR_NAME);
        ensure_dir(&ended, config.directory_mode)?;
        let dev = |p: &Path| std::fs::metadata(p).map(|m| m.dev()).map_err(|e| FileStoreError::io("inspect", p, e));
        if dev(&config.upload_dir)? != dev(&config.completed_dir)? {
            return Err(FileStoreError::errno("check same filesystem", &config.completed_dir, Errno::EXDEV));
        }
        let filesystem =
            if config.fsync && config.syncfs { Some(FilesystemSync::open(&config.upload_dir)?) } else { None };
        Ok(FileStore {
            inner: Arc::new(Inner {
                filesystem,
                uploads: Dir::open(config.upload_dir.clone())?,
                completed: Dir::open(config.completed_dir.clone())?,
                ended,
                config,
                finishes: Notifier::default(),
                preallocation_skipped: AtomicU64::new(0),
                discarded: AtomicU64::new(0),
                cached_reads: CachedReads::default(),
                helpers: SyncHelpers::default(),
            }),
        })
    }

    /// The configuration this store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// Counters of skipped preallocations and discarded files.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            preallocation_skipped: self.inner.preallocation_skipped.load(Ordering::Relaxed),
            discarded_corrupt: self.inner.discarded.load(Ordering::Relaxed),
        }
    }

    /// Creates an upload under a fresh random id: data file (`O_EXCL`, its first [`RESERVE_AHEAD`] bytes reserved
    /// with `posix_fallocate`, the rest as bytes arrive; the whole length must fit at creation) and record; with
    /// fsync on, the record and both names are durable (the empty data file
    /// itself becomes durable with the first commit, and is recreated should a crash lose it before). The returned
    /// writer holds the exclusive lock.
    ///
    /// Not enough free space (checked with `statvfs`, then by the preallocation itself) is `NoSpace`, with nothing
    /// left behind. A filesystem that cannot preallocate is used without it (counted in [`StoreStats`]).
    ///
    /// A final upload of concatenation is created only when every part is a finished partial upload, with their
    /// summed length (see the `concat` module).
    pub fn create(&self, new: &NewUpload) -> Result<(UploadWriter, UploadId), StoreFailure> {
        let mut record =
            UploadRecord::new(new.length, new.metadata.clone(), new.server_metadata.clone(), new.created_at);
        if let Some(Concat::Final(parts)) = &new.concat {
            record.length = Some(self.parts_length(parts).map_err(StoreFailure::from)?);
        }
        record.concat = new.concat.clone();
        self.create_upload(record).map_err(StoreFailure::from)
    }

    /// [`create`](Self::create) from the parts of a creation request, for callers without a [`NewUpload`] at
    /// hand (tools, tests).
    pub fn create_with(
        &self,
        length: Option<u64>,
        metadata: Metadata,
        server_metadata: Metadata,
        created_at: SystemTime,
    ) -> Result<(UploadWriter, UploadId), StoreFailure> {
        let record = UploadRecord::new(length, metadata, server_metadata, created_at);
        self.create_upload(record).map_err(StoreFailure::from)
    }

    fn create_upload(&self, record: UploadRecord) -> Result<(UploadWriter, UploadId), FileStoreError> {
        let uploads = &self.inner.uploads;
        let mut attempts = 0;
        let (id, file) = loop {
            let id = UploadId::from_uuid(Uuid::new_v4());
            let data = uploads.at(Entry::Data(id));
            match data.open(OpenMode::CreateNew) {
                Ok(file) => break (id, file),
                // A random v4 id colliding is next to impossible; a few tries, then report it.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 3 => attempts += 1,
                Err(e) => return Err(FileStoreError::io("create upload", &data.path(), e).with_id(id)),
            }
        };
        let result = self.initialise(id, file, record);
        if result.is_err() {
            for entry in [Entry::Data(id), Entry::Record(id)] {
                let _ = uploads.at(entry).remove();
            }
        }
        result.map(|writer| (writer, id))
    }

    fn initialise(&self, id: UploadId, file: File, record: UploadRecord) -> Result<UploadWriter, FileStoreError> {
        let uploads = &self.inner.uploads;
        let locked =
            try_lock(file, true).map_err(|(_, e)| FileStoreError::errno("lock new upload", &uploads.data(id), e))?;
        self.preallocate(&locked, id, record.length)?;
        // The record is written in place: nobody can look this upload up before its id is answered.
        let record_at = uploads.at(Entry::Record(id));
        let record_file = create_record(&record, &record_at).map_err(|e| e.with_id(id))?;
        if let Some(filesystem) = &self.inner.filesystem {
            drop(record_file);
            filesystem.sync().map_err(|e| e.with_id(id))?;
        } else if self.inner.config.fsync {
            // The record and both directory entries are durable before the creation is answered; the two syncs do
            // not depend on each other (the directory's runs on a helper). The data file is not synced: it holds
            // nothing yet, and the first commit's `fdatasync` makes it durable. Should a crash lose it before, the
            // record (offset 0) says all there is to know, and `recover` creates it again: one sync fewer per
            // upload. The caller removes both files should either sync fail.
            let store = self.clone();
            let dir_synced = self.inner.helpers.start(move || store.inner.uploads.sync());
            let record_synced =
                record_file.sync_all().map_err(|e| FileStoreError::io("fsync record", &record_at.path(), e));
            record_synced.and(dir_synced.wait()).map_err(|e| e.with_id(id))?;
        }
        Ok(UploadWriter::active(self.clone(), id, locked, record))
    }

    /// Checks that `length` bytes fit (`NoSpace` otherwise) and reserves the first [`RESERVE_AHEAD`] of them for
    /// the data file of `id` with `posix_fallocate` (from [`RESERVE_FROM`] bytes on); skipped (and counted) on
    /// filesystems that cannot preallocate.
    pub(crate) fn preallocate(&self, file: &File, id: UploadId, length: Option<u64>) -> Result<(), FileStoreError> {
        let Some(length) = length.filter(|&l| l > 0) else { return Ok(()) };
        let path = self.inner.uploads.data(id);
        // The whole length must fit now (the early 507), but only the first stretch is reserved: uploads that
        // declare much and send nothing cannot take the disk from the others.
        if free_space(file, &path)? < length {
            return Err(no_space(&path, id));
        }
        if length <= RESERVE_FROM {
            return Ok(());
        }
        self.reserve(file, id, 0, length.min(RESERVE_AHEAD))
    }

    /// Reserves `len` bytes of the data file of `id` from `from` (`posix_fallocate`): `NoSpace` when the filesystem
    /// is full; nothing on a filesystem that cannot (counted in [`StoreStats`]).
    pub(crate) fn reserve(&self, file: &File, id: UploadId, from: u64, len: u64) -> Result<(), FileStoreError> {
        let path = self.inner.uploads.data(id);
        let (from, len) = match (i64::try_from(from), i64::try_from(len)) {
            (Ok(from), Ok(len)) if len > 0 => (from, len),
            _ => return Ok(()),
        };
        match nix::fcntl::posix_fallocate(file, from, len) {
            Ok(()) => Ok(()),
            Err(Errno::EOPNOTSUPP | Errno::ENOSYS) => {
                self.inner.preallocation_skipped.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(Errno::ENOSPC | Errno::EDQUOT) => Err(no_space(&path, id)),
            Err(e) => Err(FileStoreError::errno("preallocate", &path, e).with_id(id)),
        }
    }

    /// The committed state of an upload, without interrupting a writer.
    ///
    /// Reads the committed record without taking a lock (records are only ever replaced by `rename`, so a reader
    /// sees a whole committed record, and never holds up a writer). A finished upload reads as `finished: true`
    /// with `offset == length`, also once claimed, while remembered; a deleted one is `Gone`; an unknown one
    /// `NotFound`.
    pub fn stat(&self, id: UploadId) -> Result<UploadState, StoreFailure> {
        self.stat_upload(id).map_err(|e| e.with_id(id).to_failure())
    }

    /// [`stat`](Self::stat), taking in what a silent writer stored: when a writer holds the upload, it is asked to
    /// let go first (the lock-release request) and waited for up to [`STAT_SETTLE`]. A writer whose body went
    /// silent commits and lets go, so the answer includes what it stored; a writer still receiving keeps the
    /// upload, and the answer is the committed state. What HEAD runs ([`Store::stat`](tus_store::Store::stat)).
    pub fn stat_settled(&self, id: UploadId) -> Result<UploadState, StoreFailure> {
        self.settle(id);
        self.stat(id)
    }

    /// [`stat`](Self::stat) without waiting: `None` when a writer holds the upload (then call `stat`, on a thread
    /// that may wait).
    pub(crate) fn stat_now(&self, id: UploadId) -> Result<Option<UploadState>, StoreFailure> {
        if self.is_held(id) {
            return Ok(None);
        }
        self.stat_upload(id).map(Some).map_err(|e| e.with_id(id).to_failure())
    }

    /// Whether a writer holds the upload's lock now (a non-blocking attempt at a shared lock, released at once).
    pub(crate) fn is_held(&self, id: UploadId) -> bool {
        let data = self.inner.uploads.at(Entry::Data(id));
        let Ok(file) = data.open(OpenMode::Read) else { return false };
        matches!(try_lock(file, false), Err((_, Errno::EWOULDBLOCK)))
    }

    /// Asks a writer holding `id` to let go, and waits for it up to [`STAT_SETTLE`].
    fn settle(&self, id: UploadId) {
        if !self.is_held(id) {
            return;
        }
        let release = self.inner.uploads.at(Entry::Release(id));
        let deadline = Instant::now() + STAT_SETTLE;
        let mut pause = Duration::from_millis(1);
        while Instant::now() < deadline {
            request_release(&release, ReleaseRequest::Takeover);
            std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
            pause = (pause * 2).min(Duration::from_millis(20));
            if !self.is_held(id) {
                return;
            }
        }
    }

    fn stat_upload(&self, id: UploadId) -> Result<UploadState, FileStoreError> {
        match self.stat_once(id) {
            Err(e) if is_not_found(&e) && self.recover(id, SystemTime::now())? => self.stat_once(id),
            Err(e) if is_not_found(&e) => match tombstone::recall(&self.inner.ended, id) {
                Some(Ended::Finished(length, parts)) => Ok(tombstone::done(id, length, parts)),
                Some(Ended::Deleted) => Err(FileStoreError::new("look up upload", Cause::Deleted)),
                None => Err(e),
            },
            result => result,
        }
    }

    fn stat_once(&self, id: UploadId) -> Result<UploadState, FileStoreError> {
        // No lock: records are only ever replaced whole by `rename`, so the record read is a committed one, and a
        // writer is never held up by a reader. The completed data is looked for first: finalisation publishes it
        // before it removes the staging record, so this order never reads a staging record that is already stale.
        let completed = &self.inner.completed;
        if completed.at(Entry::Data(id)).exists() {
            return read_record(&completed.at(Entry::Record(id))).map(|record| record.to_state(id, true));
        }
        match read_record(&self.inner.uploads.at(Entry::Record(id))) {
            Ok(record) => return Ok(record.to_state(id, false)),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e),
        }
        self.finished_record(id).map(|record| record.to_state(id, true))
    }

    /// The record of a finished, unclaimed upload.
    fn finished_record(&self, id: UploadId) -> Result<UploadRecord, FileStoreError> {
        let completed = &self.inner.completed;
        let data = completed.at(Entry::Data(id));
        data.stat().map_err(|e| FileStoreError::io("look up upload", &data.path(), e))?;
        read_record(&completed.at(Entry::Record(id)))
    }

    /// Opens an upload for writing: takes the exclusive lock, asking a current holder (in any process) to commit
    /// and let go and waiting at most [`StoreConfig::release_timeout`] for it (then `Locked`).
    ///
    /// For a finished, unclaimed upload the writer is a finished one (no lock, no writes) and `state.finished`
    /// is `true`.
    pub fn open(&self, id: UploadId) -> Result<(UploadWriter, UploadState), StoreFailure> {
        self.open_upload(id).map_err(|e| e.with_id(id).to_failure())
    }

    fn open_upload(&self, id: UploadId) -> Result<(UploadWriter, UploadState), FileStoreError> {
        self.open_for(id, ReleaseRequest::Takeover)
    }

    /// [`open`](Self::open), asking a holder to let go for `why`.
    fn open_for(&self, id: UploadId, why: ReleaseRequest) -> Result<(UploadWriter, UploadState), FileStoreError> {
        let timeout = self.inner.config.release_timeout;
        let waited =
            |file, data: &At<'_>, release: &At<'_>| lock_with_release(file, data, release, timeout, why).map(Ok);
        match self.open_locked::<Infallible>(id, waited)? {
            Ok(opened) => Ok(opened),
            Err(never) => match never {},
        }
    }

    /// [`open`](Self::open) if nobody holds the upload, without waiting or asking a holder to let go: `None` when
    /// it is held (call [`open`](Self::open), on a thread that may wait, to take it over). Never blocks on a lock.
    pub(crate) fn open_now(&self, id: UploadId) -> Result<Option<(UploadWriter, UploadState)>, FileStoreError> {
        Ok(self.open_locked(id, lock_now)?.ok())
    }

    /// Opens `id`'s data, takes its lock with `lock` (data, release marker; `Err(G)` if it gave up on a held lock),
    /// and returns the writer: active, or finished if the upload was finalised before or while locking. An upload
    /// a crash left half-made (see `recover`) is repaired and opened.
    fn open_locked<G>(
        &self,
        id: UploadId,
        lock: impl Fn(File, &At<'_>, &At<'_>) -> Result<Result<Locked, G>, FileStoreError>,
    ) -> Result<Result<(UploadWriter, UploadState), G>, FileStoreError> {
        match self.open_locked_once(id, &lock) {
            Err(e) if is_not_found(&e) && self.recover(id, SystemTime::now())? => self.open_locked_once(id, &lock),
            result => result,
        }
    }

    fn open_locked_once<G>(
        &self,
        id: UploadId,
        lock: &impl Fn(File, &At<'_>, &At<'_>) -> Result<Result<Locked, G>, FileStoreError>,
    ) -> Result<Result<(UploadWriter, UploadState), G>, FileStoreError> {
        let uploads = &self.inner.uploads;
        let data = uploads.at(Entry::Data(id));
        match data.open(OpenMode::ReadWrite) {
            Ok(file) => {
                let locked = match lock(file, &data, &uploads.at(Entry::Release(id)))? {
                    Ok(locked) => locked,
                    Err(gave_up) => return Ok(Err(gave_up)),
                };
                if is_same_file(&locked, &data) {
                    let record = read_record(&uploads.at(Entry::Record(id)))?;
                    let state = record.to_state(id, false);
                    return Ok(Ok((UploadWriter::active(self.clone(), id, locked, record), state)));
                }
                // Finalised or deleted while we waited for the lock.
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(FileStoreError::io("open upload", &data.path(), e)),
        }
        let record = match self.finished_record(id) {
            Ok(record) => record,
            Err(e) if is_not_found(&e) => match tombstone::recall(&self.inner.ended, id) {
                // Claimed: what is left is that it finished, and its length.
                Some(Ended::Finished(length, parts)) => {
                    let mut record =
                        UploadRecord::new(Some(length), Metadata::new(), Metadata::new(), SystemTime::now());
                    record.offset = length;
                    record.concat = (!parts.is_empty()).then_some(Concat::Final(parts));
                    record
                }
                Some(Ended::Deleted) => return Err(FileStoreError::new("open upload", Cause::Deleted)),
                None => return Err(e),
            },
            Err(e) => return Err(e),
        };
        let state = record.to_state(id, true);
        Ok(Ok((UploadWriter::finished(self.clone(), id, record), state)))
    }

    /// Removes an upload (termination). An unfinished one is taken as [`open`](Self::open) takes it — asking a
    /// holder to let go, waiting at most the release timeout — and removed under its exclusive lock, record first
    /// (from then on it is unknown), then data; with fsync on the removal is durable when this returns. A finished
    /// one is removed from the completed directory unless a worker has claimed it (`NotFound` then, as for an
    /// unknown upload).
    pub fn delete(&self, id: UploadId) -> Result<(), StoreFailure> {
        self.delete_upload(id).map_err(|e| e.with_id(id).to_failure())
    }

    fn delete_upload(&self, id: UploadId) -> Result<(), FileStoreError> {
        let (writer, state) = self.open_for(id, ReleaseRequest::Terminate)?;
        // A complete partial upload reads as finished but lives, held by the writer, in the upload directory.
        let published = state.finished && state.concat != Some(Concat::Partial);
        let dir = if published { &self.inner.completed } else { &self.inner.uploads };
        if published && !dir.at(Entry::Data(id)).exists() {
            return Err(FileStoreError::new("delete upload", Cause::HandedOver));
        }
        // Holding the upload: for an unfinished one the writer's lock; for a finished one the claim lock, taken
        // here the way a worker takes it, so that a claimed upload is never pulled from under its worker.
        let _claim_lock = if published {
            let data = dir.at(Entry::Data(id));
            let file =
                data.open(OpenMode::Read).map_err(|e| FileStoreError::io("open finished upload", &data.path(), e))?;
            let locked = try_lock(file, true).map_err(|(_, errno)| match errno {
                Errno::EWOULDBLOCK => FileStoreError::new("delete upload", Cause::HandedOver).with_path(&data.path()),
                errno => FileStoreError::errno("lock finished upload", &data.path(), errno),
            })?;
            if !is_same_file(&locked, &data) {
                return Err(FileStoreError::errno("lock finished upload", &data.path(), Errno::ENOENT));
            }
            Some(locked)
        } else {
            None
        };
        for entry in [Entry::Record(id), Entry::Data(id)] {
            let at = dir.at(entry);
            at.remove().map_err(|e| FileStoreError::io("delete upload", &at.path(), e))?;
        }
        self.inner.uploads.at(Entry::Release(id)).remove_if_present();
        self.inner.sync_dir(dir)?;
        tombstone::remember(&self.inner.ended, id, Ended::Deleted);
        drop(writer);
        Ok(())
    }

    /// Whether both directories take files now: a probe file written and removed in each (the readiness check).
    pub fn ready(&self) -> Result<(), StoreFailure> {
        for dir in [&self.inner.uploads, &self.inner.completed] {
            let probe = dir.path().join(format!(".ready-{}", Uuid::new_v4()));
            let written = std::fs::write(&probe, b"").and_then(|()| std::fs::remove_file(&probe));
            written
                .map_err(|e| StoreFailure::from(FileStoreError::io("check the directory is writable", &probe, e)))?;
        }
        Ok(())
    }

    /// A watch for lock-release requests on `id`, as [`UploadWriter::release_watch`] gives.
    pub(crate) fn release_watch(&self, id: UploadId) -> ReleaseWatch {
        ReleaseWatch::new(self.inner.uploads.release(id))
    }
}

pub(crate) fn is_not_found(e: &FileStoreError) -> bool {
    matches!(e.cause(), Cause::Io(io) if io.kind() == io::ErrorKind::NotFound)
}
