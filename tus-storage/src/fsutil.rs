//! Small filesystem steps shared by the store, the writer, the hand-off and the janitor.

use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::num::NonZeroU64;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::FileStoreError;
use crate::layout::{At, OpenMode};
use tus_store::UploadRecord;

/// Renames a new record `tmp` (written and, with fsync, synced) over `dest`; removes `tmp` on failure. The
/// directory is not synced here: callers do it once after all their renames.
pub(crate) fn replace_record(tmp: &At<'_>, dest: &At<'_>) -> Result<(), FileStoreError> {
    tmp.rename_to(dest).map_err(|e| {
        let _ = tmp.remove();
        FileStoreError::io("rename record", &dest.path(), e)
    })
}

/// Writes `record` straight to `dest` (created, or truncated when a crash left one behind), fsynced when `fsync`;
/// removed again on failure. Only for a record nobody reads before the caller publishes it: a creation record (its
/// id is not known to anyone yet) or a completed record (read only once the data is renamed in beside it). One
/// file and no rename: half the directory operations of a temporary file and [`replace_record`].
pub(crate) fn write_new_record(record: &UploadRecord, dest: &At<'_>, fsync: bool) -> Result<(), FileStoreError> {
    let file = create_record(record, dest)?;
    if fsync {
        if let Err(e) = file.sync_all() {
            let _ = dest.remove();
            return Err(FileStoreError::io("fsync record", &dest.path(), e));
        }
    }
    Ok(())
}

/// [`write_new_record`] without the sync: the caller syncs the returned file (and removes `dest` should that fail).
pub(crate) fn create_record(record: &UploadRecord, dest: &At<'_>) -> Result<File, FileStoreError> {
    let result = dest
        .open(OpenMode::CreateTruncate)
        .map_err(|e| FileStoreError::io("create record", &dest.path(), e))
        .and_then(|mut file| {
            file.write_all(record.to_json().as_bytes())
                .map_err(|e| FileStoreError::io("write record", &dest.path(), e))?;
            Ok(file)
        });
    if result.is_err() {
        let _ = dest.remove();
    }
    result
}

/// Starts writing `len` bytes of `file` from `offset` to the disk, without waiting for them.
///
/// Done with `posix_fadvise(DONTNEED)`: Linux first starts the writeback of the range's dirty pages (and does not
/// wait for it), then drops the range's clean pages, which freshly written pages are not. A later `fdatasync` only
/// waits for what is still in flight. (`sync_file_range` says it directly but is out of reach without unsafe code.)
/// Only a hint: failures are ignored.
pub(crate) fn start_writeback(file: &File, offset: u64, len: u64) {
    let _ = rustix::fs::fadvise(file, offset, NonZeroU64::new(len), rustix::fs::Advice::DontNeed);
}

/// Writes all of `parts`, one after another, at `offset` of `file`: `pwritev(2)` calls of at most `IOV_MAX` parts,
/// repeated after short writes. One system call for a batch of body frames, instead of one per frame or a copy
/// into one buffer first.
pub(crate) fn write_all_vectored_at(file: &File, parts: &[IoSlice<'_>], mut offset: u64) -> io::Result<()> {
    /// The most parts Linux takes in one call.
    const IOV_MAX: usize = 1024;
    let mut parts = parts.to_vec();
    let mut rest = &mut parts[..];
    IoSlice::advance_slices(&mut rest, 0); // skips empty parts up front
    while !rest.is_empty() {
        let take = rest.len().min(IOV_MAX);
        match rustix::io::pwritev(file, &rest[..take], offset) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                offset += n as u64;
                IoSlice::advance_slices(&mut rest, n);
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(errno) => return Err(errno.into()),
        }
    }
    Ok(())
}

/// Reads and parses the record at `at`.
pub(crate) fn read_record(at: &At<'_>) -> Result<UploadRecord, FileStoreError> {
    let file = at.open(OpenMode::Read).map_err(|e| FileStoreError::io("read record", &at.path(), e))?;
    UploadRecord::from_reader(file).map_err(|e| FileStoreError::from(e).with_path(&at.path()))
}

/// Removes a file; a missing file is not an error. Returns whether it existed.
pub(crate) fn remove_if_exists(path: &Path) -> io::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Bytes available to unprivileged users on the filesystem holding `file` (named `path` in errors).
pub(crate) fn free_space(file: &File, path: &Path) -> Result<u64, FileStoreError> {
    let stat = nix::sys::statvfs::fstatvfs(file).map_err(|e| FileStoreError::errno("statvfs", path, e))?;
    Ok(stat.blocks_available().saturating_mul(stat.fragment_size()))
}

/// Whether the open `file` is still the file named by `at` (it was not renamed away or deleted meanwhile).
pub(crate) fn is_same_file(file: &File, at: &At<'_>) -> bool {
    match (file.metadata(), at.stat()) {
        (Ok(a), Ok(b)) => a.dev() == b.st_dev && a.ino() == b.st_ino,
        _ => false,
    }
}
