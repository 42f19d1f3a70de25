//! [`UploadWriter`]: writes at explicit offsets and commits (and finalises) under one exclusive lock.

use std::io::IoSlice;
use std::time::SystemTime;

use tus_proto::{Concat, StoreFailure, UploadId, UploadState};

use crate::error::{Cause, FileStoreError};
use crate::fsutil::{create_record, replace_record, start_writeback, write_all_vectored_at, write_new_record};
use crate::helpers::Pending;
use crate::layout::Entry;
use crate::lock::{Locked, ReleaseWatch};
use crate::store::{FileStore, Inner, RESERVE_AHEAD, RESERVE_FROM};
use tus_store::UploadRecord;

/// Exclusive access to one upload, from [`FileStore::create`] or [`FileStore::open`] until dropped.
///
/// The lock is held from creation/open through every write and the commit — including the finalisation when the
/// upload completes — so no other writer, finaliser or janitor can interleave. Dropping the writer unlocks; bytes
/// written but not committed are not counted (the next writer overwrites them).
///
/// Call [`release_requested`](Self::release_requested) between batches: when it turns `true`, another request
/// wants this upload, so stop taking body bytes, [`commit`](Self::commit) what was written and drop the writer.
#[derive(Debug)]
pub struct UploadWriter {
    store: FileStore,
    id: UploadId,
    watch: ReleaseWatch,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Holding the lock. `written` is the end of the contiguous bytes written from the committed offset; the
    /// writeback of the bytes from `writeback_from` on has not been started.
    Active { file: Locked, record: UploadRecord, written: u64, writeback_from: u64, reserved: Option<u64> },
    /// Finalised (by this writer or before it was opened): no lock, no writes.
    Finished { record: UploadRecord },
}

/// With fsync on, the writeback of written bytes is started whenever this many have gathered.
const WRITEBACK_STEP: u64 = 1024 * 1024;

fn misuse(why: String) -> FileStoreError {
    FileStoreError::new("use upload writer", Cause::Misuse(why))
}

/// Replaces the staging record of `id` with `next`: `<id>.meta.tmp` written → `rename` over `<id>.meta` →
/// directory sync. With fsync on, the new record (and `data_synced`, the data's sync when there is one) is durable
/// before the rename: synced file by file, or with syncfs one shared sync covers both.
fn replace_staging_record(
    inner: &Inner,
    id: UploadId,
    next: &UploadRecord,
    data_synced: Option<Pending>,
) -> Result<(), FileStoreError> {
    let uploads = &inner.uploads;
    let tmp = uploads.at(Entry::StagingTemp(id));
    write_new_record(next, &tmp, inner.sync_per_file())?;
    let synced = data_synced.map_or(Ok(()), Pending::wait).and_then(|()| inner.sync_filesystem());
    if let Err(e) = synced {
        let _ = tmp.remove();
        return Err(e);
    }
    replace_record(&tmp, &uploads.at(Entry::Record(id)))?;
    inner.sync_dir(uploads)
}

impl UploadWriter {
    pub(crate) fn active(store: FileStore, id: UploadId, file: Locked, record: UploadRecord) -> Self {
        let watch = store.release_watch(id);
        let (written, writeback_from) = (record.offset, record.offset);
        let reserved = None; // learnt from the file's size on the first write that needs it
        UploadWriter { store, id, watch, state: State::Active { file, record, written, writeback_from, reserved } }
    }

    pub(crate) fn finished(store: FileStore, id: UploadId, record: UploadRecord) -> Self {
        UploadWriter { store, id, watch: ReleaseWatch::never(), state: State::Finished { record } }
    }

    /// The upload's id.
    pub fn id(&self) -> UploadId {
        self.id
    }

    pub(crate) fn store(&self) -> &FileStore {
        &self.store
    }

    /// Whether the upload is finalised (no writes will be accepted).
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Finished { .. })
    }

    /// The committed state.
    pub fn state(&self) -> UploadState {
        match &self.state {
            State::Active { record, .. } => record.to_state(self.id, false),
            State::Finished { record } => record.to_state(self.id, true),
        }
    }

    /// Whether another request (in any process) asked this writer to commit and let go. One `stat(2)`: cheap
    /// enough between batches of a few MiB.
    pub fn release_requested(&self) -> bool {
        self.watch.is_requested()
    }

    /// Records the length of an upload created without one (creation-defer-length) and preallocates it: the
    /// record is replaced as a commit replaces it (durably with fsync on). The same length again is a no-op; a
    /// different one, or one below the committed offset, is refused.
    pub fn declare_length(&mut self, length: u64) -> Result<UploadState, StoreFailure> {
        self.declare(length).map_err(|e| e.with_id(self.id).to_failure())
    }

    fn declare(&mut self, length: u64) -> Result<UploadState, FileStoreError> {
        let (store, id) = (&self.store, self.id);
        let State::Active { file, record, .. } = &mut self.state else {
            return Err(misuse("declare the length of a finished upload".into()));
        };
        match record.length {
            Some(known) if known == length => return Ok(record.to_state(id, false)),
            Some(known) => return Err(misuse(format!("the length {known} cannot become {length}"))),
            None if length < record.offset => {
                return Err(misuse(format!("length {length} below the committed offset {}", record.offset)))
            }
            None => {}
        }
        store.preallocate(file, id, Some(length))?;
        let mut next = record.clone();
        next.length = Some(length);
        replace_staging_record(&store.inner, id, &next, None)?;
        *record = next;
        Ok(record.to_state(id, false))
    }

    /// Fills this upload with `fill` (given its locked data file and record; returns how many bytes it wrote from
    /// offset 0), then commits them complete: finalised like an upload whose last PATCH arrived.
    pub(crate) fn fill_and_finish(
        &mut self,
        fill: impl FnOnce(&std::fs::File, &UploadRecord) -> Result<u64, FileStoreError>,
    ) -> Result<UploadState, FileStoreError> {
        let State::Active { file, record, written, .. } = &mut self.state else {
            return Err(misuse("assemble a finished upload".into()));
        };
        let total = fill(file, record)?;
        *written = total;
        self.commit_at(total, true, SystemTime::now())
    }

    /// A cloneable handle answering [`release_requested`](Self::release_requested), usable while the writer itself
    /// is busy (for example moved into a pool call).
    pub fn release_watch(&self) -> ReleaseWatch {
        self.watch.clone()
    }

    /// Forgets what was written since the last commit: the next write starts at the committed offset again (the
    /// bytes past it are simply overwritten). The committed state does not change.
    pub fn discard(&mut self) {
        if let State::Active { record, written, writeback_from, .. } = &mut self.state {
            *written = record.offset;
            *writeback_from = (*writeback_from).min(record.offset);
        }
    }

    /// Writes `data` at `offset` (a positioned write; nothing is buffered here).
    ///
    /// `offset` must lie between the committed offset and the end of what this writer wrote since (writes are
    /// contiguous), and `offset + data.len()` must not pass the declared length.
    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), StoreFailure> {
        self.write_vectored_at(offset, &[IoSlice::new(data)])
    }

    /// Writes `parts`, one after another, at `offset`: one `pwritev(2)` for many buffers (the frames of a request
    /// body, say) instead of copying them into one first. The same rules as [`write_at`](Self::write_at) hold for
    /// their total length.
    pub fn write_vectored_at(&mut self, offset: u64, parts: &[IoSlice<'_>]) -> Result<(), StoreFailure> {
        self.write(offset, parts).map_err(|e| e.with_id(self.id).to_failure())
    }

    fn write(&mut self, offset: u64, parts: &[IoSlice<'_>]) -> Result<(), FileStoreError> {
        let State::Active { file, record, written, writeback_from, reserved } = &mut self.state else {
            return Err(misuse("write to a finished upload".into()));
        };
        if offset < record.offset || offset > *written {
            let (committed, end) = (record.offset, *written);
            return Err(misuse(format!("write at {offset} outside the writable range {committed}..={end}")));
        }
        let len = parts.iter().map(|part| part.len() as u64).sum::<u64>();
        let end = offset.checked_add(len).ok_or_else(|| misuse("offset overflow".into()))?;
        if record.length.is_some_and(|length| end > length) {
            return Err(misuse(format!("write up to {end} past the declared length {:?}", record.length)));
        }
        let uploads = &self.store.inner.uploads;
        // Reserved ahead of the writer, a stretch at a time (see `RESERVE_AHEAD`); a full disk is `NoSpace` here.
        if let Some(length) = record.length.filter(|&length| length > RESERVE_FROM) {
            let now_reserved = match *reserved {
                Some(reserved) => reserved,
                None => file.metadata().map(|m| m.len()).unwrap_or(0),
            };
            if end > now_reserved {
                let to = length.min(end.saturating_add(RESERVE_AHEAD));
                self.store.reserve(file, self.id, now_reserved, to - now_reserved)?;
                *reserved = Some(to);
            } else {
                *reserved = Some(now_reserved);
            }
        }
        write_all_vectored_at(file, parts, offset)
            .map_err(|e| FileStoreError::io("write data", &uploads.data(self.id), e))?;
        *written = (*written).max(end);
        // With fsync, the commit waits for these bytes to reach the disk: starting their writeback now lets the disk
        // work while the rest of the body arrives, and the commit's `fdatasync` waits only for the tail.
        if self.store.inner.config.fsync && end.saturating_sub(*writeback_from) >= WRITEBACK_STEP {
            let from = (*writeback_from).min(offset);
            start_writeback(file, from, end - from);
            *writeback_from = end;
        }
        Ok(())
    }

    /// Commits `offset` (every byte before it was written through this writer or committed before): with fsync on,
    /// `fdatasync` data and (side by side) record to `<id>.meta.tmp` + `fsync` → `rename` → `fsync` directory; a
    /// finalisation: `fdatasync` data and completed record + `fsync` → `rename` of the data → `fsync` directory.
    ///
    /// With `complete` (`offset` must equal the declared length; a deferred length becomes `offset`) the upload is
    /// finalised in the same lock section: the completed record is written first, then the data is renamed into
    /// the completed directory, then the staging record is removed; the lock is released and `wait_for_file`
    /// callers are woken. The writer is then finished. Committing a finished writer's own offset again is a no-op.
    pub fn commit(&mut self, offset: u64, complete: bool) -> Result<UploadState, StoreFailure> {
        self.commit_at(offset, complete, SystemTime::now()).map_err(|e| e.with_id(self.id).to_failure())
    }

    fn commit_at(&mut self, offset: u64, complete: bool, now: SystemTime) -> Result<UploadState, FileStoreError> {
        let inner = &self.store.inner;
        let (uploads, per_file) = (&inner.uploads, inner.sync_per_file());
        let id = self.id;
        let (file, record, written, writeback_from) = match &mut self.state {
            State::Finished { record } if record.offset == offset => return Ok(record.to_state(id, true)),
            State::Finished { .. } => return Err(misuse(format!("commit of {offset} on a finished upload"))),
            State::Active { file, record, written, writeback_from, .. } => (file, record, *written, writeback_from),
        };
        if offset < record.offset || offset > written {
            let committed = record.offset;
            return Err(misuse(format!("commit of {offset} outside the written range {committed}..={written}")));
        }
        let mut next = record.clone();
        next.offset = offset;
        next.last_write = now;
        if complete {
            match next.length {
                None => next.length = Some(offset),
                Some(length) if length != offset => {
                    return Err(misuse(format!("completion at {offset} before the declared length {length}")))
                }
                Some(_) => {}
            }
        }
        // With fsync on, the data and the record are durable before the record is renamed into place (it then
        // names the new offset) or the data is published: file by file, the data syncs on a helper while this
        // thread writes and syncs the record; with syncfs, one shared sync covers both.
        let data_synced =
            if per_file { Some(inner.helpers.sync_data(file, "fdatasync data", uploads.data(id))?) } else { None };
        // A partial upload is complete when its record says so; it stays here, never published to a worker.
        if !complete || next.concat == Some(Concat::Partial) {
            replace_staging_record(inner, id, &next, data_synced)?;
            *record = next;
            *writeback_from = (*writeback_from).max(offset); // with fsync on, the commit synced them
            let state = record.to_state(id, false);
            if complete {
                // concatenation-unfinished: a final waiting for this part may be complete now.
                self.store.assemble_finals_of(id, file);
            }
            return Ok(state);
        }
        next.finish(now);
        self.finalise(next, data_synced)
    }

    /// Publishes the upload in the completed directory; called with the lock held, `record` finished and, with
    /// fsync on file by file, the data's sync started.
    fn finalise(&mut self, record: UploadRecord, data_synced: Option<Pending>) -> Result<UploadState, FileStoreError> {
        let inner = &self.store.inner;
        let (uploads, completed) = (&inner.uploads, &inner.completed);
        let id = self.id;
        // In place: claimers and `stat` only read a completed record once its data is beside it, renamed in below.
        let record_at = completed.at(Entry::Record(id));
        let record_file = create_record(&record, &record_at)?;
        // The data and the record are durable before the rename publishes the data (file by file: the record's
        // fsync here, the data's on its helper; with syncfs: one shared sync). Their two names in the completed
        // directory become durable together, with one directory sync after the rename: a crash before it may
        // leave the published data without its record's name, beside the staging record, which `recover` turns
        // into the finished record (the data it publishes is whole and synced).
        let synced = match data_synced {
            Some(data_synced) => record_file
                .sync_all()
                .map_err(|e| FileStoreError::io("fsync record", &record_at.path(), e))
                .and(data_synced.wait()),
            None => inner.sync_filesystem(),
        };
        if let Err(e) = synced {
            let _ = record_at.remove();
            return Err(e);
        }
        drop(record_file);
        let published = completed.at(Entry::Data(id));
        if let Err(e) = uploads.at(Entry::Data(id)).rename_to(&published) {
            let _ = record_at.remove();
            return Err(FileStoreError::io("publish data", &published.path(), e));
        }
        // Published: from here on the upload is finished whatever else fails (the janitor removes leftovers).
        let state = record.to_state(id, true);
        let previous = std::mem::replace(&mut self.state, State::Finished { record });
        let sync_result = inner.sync_dir(completed);
        // The staging directory is not synced: if a crash undoes these removals, `stat` still finds the published
        // data first, and the janitor removes the orphaned staging record.
        let _ = uploads.at(Entry::Record(id)).remove();
        uploads.at(Entry::Release(id)).remove_if_present();
        self.watch = ReleaseWatch::never();
        drop(previous); // unlocks, then closes (a close-after-write wakes inotify watchers of the completed dir)
        inner.finishes.notify();
        sync_result.map(|()| state)
    }
}
