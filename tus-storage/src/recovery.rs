//! Repairs of the two half-made states that a crash can leave behind the store's sync order.
//!
//! With fsync on, the store makes durable exactly what its answers promise, and no more than that needs:
//!
//! - **A creation** syncs the record and the directory, not the empty data file: its inode may not reach the disk
//!   before the first commit's `fdatasync`. A crash can thus leave a record at offset 0 without data. Repair: create
//!   the data file again (preallocated, empty). Nothing was stored, so nothing is lost.
//! - **A finalisation** syncs the data and the completed record, renames the data into the completed directory and
//!   then syncs that directory once, for both names. A crash before that sync may leave the published data without
//!   the completed record's name, but with the staging record (removed only after the sync). Repair: write the
//!   finished record from the staging record. The published data is whole: it was synced before the rename, which
//!   only a completing commit makes.
//!
//! Everything else is left to the existing paths (the janitor removes leftovers). The repair runs where those
//! states are met: `stat` and `open` of such an upload, a `wait_for_file` scan and the janitor. A Python tussi
//! worker sharing the completed directory would discard such data instead (as it discards any data without a
//! record); it can only meet it after a crash of this crate's process.

use std::io;
use std::time::SystemTime;

use nix::errno::Errno;
use tus_proto::UploadId;

use crate::error::FileStoreError;
use crate::fsutil::{is_same_file, read_record, write_new_record};
use crate::layout::{Entry, OpenMode};
use crate::lock::try_lock;
use crate::store::{is_not_found, FileStore};

impl FileStore {
    /// Repairs upload `id` if a crash left it half-made (see the module docs); `Ok(true)` when it did, or when
    /// someone else did meanwhile, so that looking the upload up again may now succeed.
    pub(crate) fn recover(&self, id: UploadId, now: SystemTime) -> Result<bool, FileStoreError> {
        // The order of the two checks matters: the data moves from staging to completed in one `rename`, so data
        // missing from staging *and then* from completed was in neither (finalisation removes the staging record
        // before it unlocks, and a claim needs the lock, so a claimed upload has no staging record left).
        if self.inner.uploads.at(Entry::Data(id)).exists() {
            return Ok(false);
        }
        if self.inner.completed.at(Entry::Data(id)).exists() {
            self.finish_published(id, now)
        } else {
            self.recreate_data(id)
        }
        .map_err(|e| e.with_id(id))
    }

    /// Published data without a completed record, beside its staging record: writes the finished record.
    fn finish_published(&self, id: UploadId, now: SystemTime) -> Result<bool, FileStoreError> {
        let (uploads, completed) = (&self.inner.uploads, &self.inner.completed);
        let (published, record_at) = (completed.at(Entry::Data(id)), completed.at(Entry::Record(id)));
        if record_at.exists() {
            return Ok(false); // an ordinary finished upload
        }
        let Some(mut record) = staging_record(self, id)? else { return Ok(false) };
        let file = match published.open(OpenMode::Read) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(FileStoreError::io("open published data", &published.path(), e)),
        };
        // Under the claim lock: no claimer can take the data while its record is being written.
        let locked = match try_lock(file, true) {
            Ok(locked) => locked,
            Err((_, Errno::EWOULDBLOCK)) => return Ok(false), // claimed (a claimer may have saved the record first)
            Err((_, e)) => return Err(FileStoreError::errno("lock published data", &published.path(), e)),
        };
        if !is_same_file(&locked, &published) || record_at.exists() {
            return Ok(true); // repaired, or claimed and removed, meanwhile: look again
        }
        let size = locked.metadata().map_err(|e| FileStoreError::io("inspect published data", &published.path(), e))?;
        // Preallocation sizes the data file to the declared length; a deferred length is the bytes written.
        let length = record.length.unwrap_or(size.len());
        if size.len() != length {
            return Ok(false); // not what a finalisation publishes: left to the claim's discard and the janitor
        }
        (record.length, record.offset, record.last_write) = (Some(length), length, now);
        record.finish(now);
        write_new_record(&record, &record_at, self.inner.config.fsync)?;
        if self.inner.config.fsync {
            completed.sync()?;
        }
        let _ = uploads.at(Entry::Record(id)).remove();
        uploads.at(Entry::Release(id)).remove_if_present();
        drop(locked);
        self.inner.finishes.notify();
        Ok(true)
    }

    /// A staging record at offset 0 without data, and no published data: creates the data file again.
    fn recreate_data(&self, id: UploadId) -> Result<bool, FileStoreError> {
        let uploads = &self.inner.uploads;
        let Some(record) = staging_record(self, id)? else { return Ok(false) };
        if record.offset != 0 {
            return Ok(false); // committed bytes are gone: nothing to rebuild them from
        }
        let data = uploads.at(Entry::Data(id));
        let file = match data.open(OpenMode::CreateNew) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(true), // someone else repaired it
            Err(e) => return Err(FileStoreError::io("recreate upload data", &data.path(), e)),
        };
        // Locked already: whoever holds it opened the upload, so looking again finds it.
        let Ok(locked) = try_lock(file, true) else { return Ok(true) };
        // The janitor may have removed the record meanwhile (it removes a record before its data).
        let repaired = if uploads.at(Entry::Record(id)).exists() {
            self.preallocate(&locked, id, record.length).and_then(|()| {
                if !self.inner.config.fsync {
                    return Ok(());
                }
                locked.sync_all().map_err(|e| FileStoreError::io("fsync recreated data", &data.path(), e))?;
                uploads.sync()
            })
        } else {
            Ok(())
        };
        if repaired.is_err() || !uploads.at(Entry::Record(id)).exists() {
            let _ = data.remove();
            return repaired.map(|()| false);
        }
        Ok(true)
    }
}

/// The staging record of `id`, `None` when there is none.
fn staging_record(store: &FileStore, id: UploadId) -> Result<Option<crate::UploadRecord>, FileStoreError> {
    match read_record(&store.inner.uploads.at(Entry::Record(id))) {
        Ok(record) => Ok(Some(record)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}
