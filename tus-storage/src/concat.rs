//! Concatenation in the file store. A partial upload stays in the upload directory once complete — never
//! published to the completed directory, so no worker (ours or the original Python tussi's) ever claims it — and
//! a final upload is filled from its parts with `copy_file_range`: the kernel copies without passing the bytes
//! through user space, and shares the extents instead on filesystems with reflinks (Btrfs, XFS). The final is then
//! finalised like any upload, and the parts removed.

use std::fs::File;
use std::time::{Duration, Instant};

use nix::errno::Errno;

use rustix::fs::copy_file_range;
use tus_proto::{Concat, StoreFailure, UploadId, UploadState};

use crate::error::{Cause, FileStoreError};
use crate::fsutil::read_record;
use crate::layout::{Entry, OpenMode};
use crate::lock::{try_lock, Locked};
use crate::store::FileStore;
use crate::writer::UploadWriter;

fn invalid(part: UploadId, why: &str) -> FileStoreError {
    FileStoreError::new("assemble final upload", Cause::InvalidConcat(format!("part {part}: {why}")))
}

/// Where a final upload waiting for its parts is registered: `<upload dir>/.finals/<id>` (empty files).
pub(crate) const FINALS_DIR: &str = ".finals";

impl FileStore {
    /// The summed length of `parts`, each a partial upload of this store with a known length (finished or not:
    /// concatenation-unfinished).
    pub(crate) fn parts_length(&self, parts: &[UploadId]) -> Result<u64, FileStoreError> {
        let mut sum = 0u64;
        for &part in parts {
            let record = read_record(&self.inner.uploads.at(Entry::Record(part)))
                .map_err(|_| invalid(part, "no such partial upload"))?;
            let length = match (record.concat, record.length) {
                (Some(Concat::Partial), Some(length)) => length,
                _ => return Err(invalid(part, "not a partial upload of known length")),
            };
            sum = sum.checked_add(length).ok_or_else(|| invalid(part, "the parts are too long together"))?;
        }
        Ok(sum)
    }

    /// Whether every part is a complete partial upload.
    fn parts_ready(&self, parts: &[UploadId]) -> bool {
        parts.iter().all(|&part| {
            read_record(&self.inner.uploads.at(Entry::Record(part))).is_ok_and(|r| r.is_finished_partial())
        })
    }

    fn registration(&self, id: UploadId) -> std::path::PathBuf {
        self.inner.config.upload_dir.join(FINALS_DIR).join(id.to_string())
    }

    /// Assembles the final uploads waiting for `part`, which just completed and whose data `own` this caller holds
    /// locked. Failures are left for the janitor's next run (see [`assemble_waiting`](Self::assemble_waiting)):
    /// the part itself is complete whatever happens here.
    pub(crate) fn assemble_finals_of(&self, part: UploadId, own: &File) {
        for id in self.waiting_finals() {
            let Ok((mut writer, state)) = self.open(id) else { continue };
            let names_part = matches!(&state.concat, Some(Concat::Final(parts)) if parts.contains(&part));
            if !state.finished && names_part {
                if let Err(e) = writer.assemble_with(Some((part, own))) {
                    tracing::warn!(upload = %id, "assembling a final upload failed: {e}");
                }
            }
        }
    }

    /// Assembles every registered final upload whose parts are all complete (the janitor's repair of an assembly
    /// a crash or a failure left undone); returns the ids assembled.
    pub(crate) fn assemble_waiting(&self) -> Vec<UploadId> {
        let mut assembled = Vec::new();
        for id in self.waiting_finals() {
            let Ok((mut writer, state)) = self.open(id) else { continue };
            if !state.finished && writer.assemble_with(None).is_ok_and(|s| s.finished) {
                assembled.push(id);
            }
        }
        assembled
    }

    /// The registered finals; registrations of finals that are gone or finished are removed on the way.
    fn waiting_finals(&self) -> Vec<UploadId> {
        let Ok(entries) = std::fs::read_dir(self.inner.config.upload_dir.join(FINALS_DIR)) else { return Vec::new() };
        let mut waiting = Vec::new();
        for entry in entries.flatten() {
            let Some(id) = entry.file_name().to_str().and_then(|n| n.parse::<UploadId>().ok()) else { continue };
            if self.inner.uploads.at(Entry::Record(id)).exists() {
                waiting.push(id);
            } else {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        waiting
    }

    /// A part's data, locked exclusively (so that no delete or janitor takes it meanwhile), with its length; `None`
    /// when someone still holds it after the release timeout (the request that completed it, finishing).
    fn lock_part(&self, part: UploadId) -> Result<Option<(Locked, u64)>, FileStoreError> {
        let uploads = &self.inner.uploads;
        let data = uploads.at(Entry::Data(part));
        let mut file = data.open(OpenMode::Read).map_err(|_| invalid(part, "no such partial upload"))?;
        let deadline = Instant::now() + self.inner.config.release_timeout;
        let locked = loop {
            match try_lock(file, true) {
                Ok(locked) => break locked,
                Err((_, errno)) if errno != Errno::EWOULDBLOCK => {
                    return Err(FileStoreError::errno("lock part", &data.path(), errno))
                }
                Err(_) if Instant::now() >= deadline => return Ok(None),
                Err((back, _)) => {
                    file = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        };
        let record = read_record(&uploads.at(Entry::Record(part))).map_err(|_| invalid(part, "its record is gone"))?;
        if !record.is_finished_partial() {
            return Err(invalid(part, "not a finished partial upload"));
        }
        Ok(Some((locked, record.offset)))
    }

    /// Removes a part after its final was assembled: record first (from then on it is unknown), then data.
    fn remove_part(&self, part: UploadId) {
        for entry in [Entry::Record(part), Entry::Data(part), Entry::Release(part)] {
            let _ = self.inner.uploads.at(entry).remove();
        }
    }
}
/// Copies `len` bytes of `from` (from its start) to `to` at `at`, in the kernel.
fn copy_into(from: &File, to: &File, at: u64, len: u64) -> Result<(), std::io::Error> {
    let (mut from_offset, mut to_offset) = (0u64, at);
    while from_offset < len {
        let chunk = usize::try_from(len - from_offset).unwrap_or(usize::MAX).min(1 << 30);
        let copied = copy_file_range(from, Some(&mut from_offset), to, Some(&mut to_offset), chunk)?;
        if copied == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "a part is shorter than its record"));
        }
    }
    Ok(())
}

impl UploadWriter {
    /// Assembles this final upload from its parts, in order (a part may appear twice), finalises it, and removes
    /// the parts. When some part is not complete yet, the final is registered as waiting and stays unfinished:
    /// the commit that completes its last part assembles it (concatenation-unfinished). When it cannot be
    /// assembled (a part gone or held past the release timeout, an I/O error), the final is removed: the client
    /// is told it was refused, and nothing of it stays.
    pub fn assemble(&mut self) -> Result<UploadState, StoreFailure> {
        let result = self.assemble_with(None);
        if result.is_err() {
            self.abandon();
        }
        result.map_err(|e| e.with_id(self.id()).to_failure())
    }

    /// Removes this (final) upload's files and registration; the lock goes with the writer.
    fn abandon(&self) {
        let store = self.store();
        let _ = std::fs::remove_file(store.registration(self.id()));
        for entry in [Entry::Record(self.id()), Entry::Data(self.id())] {
            let _ = store.inner.uploads.at(entry).remove();
        }
    }

    /// [`assemble`](Self::assemble), with the data of a part the caller holds locked (`own`: the part whose commit
    /// completes it). A part held by someone else past the release timeout leaves the final waiting when `own` is
    /// given (the janitor retries), and is an error otherwise.
    pub(crate) fn assemble_with(&mut self, own: Option<(UploadId, &File)>) -> Result<UploadState, FileStoreError> {
        let store = self.store().clone();
        let Some(Concat::Final(parts)) = self.state().concat else {
            return Err(FileStoreError::new("assemble", Cause::Misuse("not a final upload".into())));
        };
        // Registered before looking at the parts: a part completing meanwhile then finds it (no lost wake-up).
        let registration = store.registration(self.id());
        // The directory is made on first use: most stores never concatenate.
        let registered = registration
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&registration, b""));
        registered.map_err(|e| FileStoreError::io("register final upload", &registration, e))?;
        let is_own = |part: UploadId| own.is_some_and(|(id, _)| id == part);
        if !parts.iter().all(|&part| is_own(part) || store.parts_ready(&[part])) {
            return Ok(self.state());
        }
        // Each distinct part locked once (but the caller's own), before the first byte is copied, and held until
        // the parts are removed: a final racing for the same parts waits, then finds them gone.
        let mut locked: Vec<(UploadId, Option<Locked>, u64)> = Vec::new();
        for &part in &parts {
            if locked.iter().any(|(id, ..)| *id == part) {
                continue;
            }
            if is_own(part) {
                let record = read_record(&store.inner.uploads.at(Entry::Record(part)))?;
                locked.push((part, None, record.offset));
                continue;
            }
            match store.lock_part(part)? {
                Some((lock, len)) => locked.push((part, Some(lock), len)),
                None if own.is_some() => return Ok(self.state()),
                None => return Err(FileStoreError::new("assemble final upload", Cause::LockTimeout)),
            }
        }
        let state = self.fill_and_finish(|file, _| {
            let mut at = 0u64;
            for part in &parts {
                let (_, lock, len) = locked.iter().find(|(id, ..)| id == part).expect("locked above");
                // Only the caller's own part is not locked here.
                let Some(from) = lock.as_deref().or(own.map(|(_, own)| own)) else {
                    return Err(FileStoreError::new("assemble", Cause::Misuse("a part without its data".into())));
                };
                copy_into(from, file, at, *len)
                    .map_err(|e| FileStoreError::io("copy part", &store.inner.uploads.data(*part), e))?;
                at += len;
            }
            Ok(at)
        })?;
        // Assembled and durable as the store promises: the parts have served.
        let _ = std::fs::remove_file(&registration);
        if store.inner.config.remove_assembled_parts {
            for (part, ..) in &locked {
                store.remove_part(*part);
            }
        }
        drop(locked);
        Ok(state)
    }
}
