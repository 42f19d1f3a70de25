//! The janitor: deletes abandoned uploads and leftovers, never touching a locked file.
//!
//! The five cases of the original tussi, plus the leftovers of this crate's own crash windows:
//!
//! | reason | where | what |
//! |---|---|---|
//! | [`FinaliseZombie`](JanitorReason::FinaliseZombie) | upload dir | `offset == length` but never finalised |
//! | [`Stale`](JanitorReason::Stale) | upload dir | no commit for `stale_upload_age` |
//! | [`OrphanedRecord`](JanitorReason::OrphanedRecord) | upload dir | `.meta` without data (but see repairs below) |
//! | [`Expired`](JanitorReason::Expired) | completed dir | finished (record written) more than `completed_file_age` ago |
//! | [`OrphanedCompletedData`](JanitorReason::OrphanedCompletedData) | completed dir | data without `.meta` (but see repairs below) |
//! | [`OrphanedUploadData`](JanitorReason::OrphanedUploadData) | upload dir | data without `.meta`, older than `stale_upload_age` |
//! | [`UnreadableRecord`](JanitorReason::UnreadableRecord) | upload dir | data with a `.meta` that does not parse, older than `stale_upload_age` |
//! | [`OrphanedCompletedRecord`](JanitorReason::OrphanedCompletedRecord) | completed dir | `.meta` without data, older than `completed_file_age` |
//! | [`Leftover`](JanitorReason::Leftover) | both | temporary records and release markers nobody can be using |
//!
//! What a crash leaves half-made is repaired instead, and listed in [`JanitorReport::repaired`]: a young staging
//! record at offset 0 without data (a creation's data file lost) and completed data without a record beside its
//! staging record (a finalisation cut short before its directory sync).
//!
//! Every upload-dir deletion happens under the exclusive lock of the data file, taken with `LOCK_NB`: a file
//! locked by a writer, a reader or a claimer is skipped and listed in [`JanitorReport::skipped_locked`]. A completed
//! record without data is only deleted once old, because it is also what a finalisation in progress (record
//! first, data next) and a claim that already saved the data look like.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use nix::errno::Errno;
use tus_proto::UploadId;

use crate::error::{Cause, FileStoreError};
use crate::fsutil::{is_same_file, read_record, remove_if_exists};
use crate::layout::{At, Dir, Entry, OpenMode};
use crate::lock::{try_lock, Locked};
use crate::store::{is_not_found, FileStore};
use tus_store::JanitorConfig;

/// Temporary files older than this are leftovers of a crash (they normally live for milliseconds).
const LEFTOVER_AGE: Duration = Duration::from_secs(3600);

/// Why the janitor deleted a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JanitorReason {
    /// Case 1: every byte received but never finalised.
    FinaliseZombie,
    /// Case 2: no commit for `stale_upload_age`.
    Stale,
    /// Case 3: a staging record without data.
    OrphanedRecord,
    /// Case 4: finished and unclaimed for `completed_file_age`.
    Expired,
    /// Case 5: completed data without a record.
    OrphanedCompletedData,
    /// Staging data without a record, older than `stale_upload_age` (a creation that crashed).
    OrphanedUploadData,
    /// A completed record without data, older than `completed_file_age`.
    OrphanedCompletedRecord,
    /// Staging data whose record does not parse, older than `stale_upload_age`: a creation that crashed while
    /// writing its record (records are created in place), or a record damaged since. The upload cannot be resumed.
    UnreadableRecord,
    /// A temporary record or release marker nobody can be using.
    Leftover,
}

/// One deleted file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Deleted {
    /// The file.
    pub path: PathBuf,
    /// The upload it belonged to.
    pub id: UploadId,
    /// Why it went.
    pub reason: JanitorReason,
}

/// What one janitor run did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct JanitorReport {
    /// Files deleted, with their reason.
    pub deleted: Vec<Deleted>,
    /// Data files left alone because someone held a lock on them.
    pub skipped_locked: Vec<PathBuf>,
    /// Errors met on the way (the run goes on after each).
    pub errors: Vec<FileStoreError>,
    /// Uploads a crash left half-made, repaired instead of deleted: a creation's lost data file created again, or
    /// a cut-short finalisation finished (see [`FileStore::wait_for_file`]'s and `stat`'s repairs).
    pub repaired: Vec<UploadId>,
    /// Ended uploads (claimed or deleted) the store stopped remembering, after `ended_upload_age`.
    pub forgotten: usize,
}

impl JanitorReport {
    /// The ids deleted for `reason`, in order, without repeats.
    pub fn ids(&self, reason: JanitorReason) -> Vec<UploadId> {
        let mut ids: Vec<UploadId> = self.deleted.iter().filter(|d| d.reason == reason).map(|d| d.id).collect();
        ids.dedup();
        ids
    }

    fn delete(&mut self, path: PathBuf, id: UploadId, reason: JanitorReason) {
        match remove_if_exists(&path) {
            Ok(true) => self.deleted.push(Deleted { path, id, reason }),
            Ok(false) => {}
            Err(e) => self.errors.push(FileStoreError::io("janitor delete", &path, e).with_id(id)),
        }
    }
}

/// The kinds of file present per upload id in one directory.
#[derive(Default)]
struct Files {
    data: bool,
    record: bool,
    temp: bool,
    release: bool,
}

fn scan(dir: &Dir, report: &mut JanitorReport) -> BTreeMap<UploadId, Files> {
    let mut ids: BTreeMap<UploadId, Files> = BTreeMap::new();
    let entries = match std::fs::read_dir(dir.path()) {
        Ok(entries) => entries,
        Err(e) => {
            report.errors.push(FileStoreError::io("janitor scan", dir.path(), e));
            return ids;
        }
    };
    for entry in entries.filter_map(Result::ok) {
        let Some(kind) = entry.file_name().to_str().and_then(Entry::parse) else { continue };
        match kind {
            Entry::Data(id) => ids.entry(id).or_default().data = true,
            Entry::Record(id) => ids.entry(id).or_default().record = true,
            Entry::StagingTemp(id) | Entry::CompletedTemp(id) => ids.entry(id).or_default().temp = true,
            Entry::Release(id) => ids.entry(id).or_default().release = true,
        }
    }
    ids
}

fn age(path: &Path, now: SystemTime) -> Option<Duration> {
    let modified = std::fs::symlink_metadata(path).and_then(|m| m.modified()).ok()?;
    Some(now.duration_since(modified).unwrap_or(Duration::ZERO))
}

enum Lock {
    Held(Locked),
    Busy,
    Gone,
}

fn lock_data(data: &At<'_>, write: bool, report: &mut JanitorReport, id: UploadId) -> Lock {
    let path = &data.path();
    let file = match data.open(if write { OpenMode::ReadWrite } else { OpenMode::Read }) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Lock::Gone,
        Err(e) => {
            report.errors.push(FileStoreError::io("janitor open", path, e).with_id(id));
            return Lock::Busy;
        }
    };
    match try_lock(file, true) {
        Ok(locked) if is_same_file(&locked, data) => Lock::Held(locked),
        Ok(_) => Lock::Gone,
        Err((_, Errno::EWOULDBLOCK)) => {
            report.skipped_locked.push(path.to_path_buf());
            Lock::Busy
        }
        Err((_, e)) => {
            report.errors.push(FileStoreError::errno("janitor lock", path, e).with_id(id));
            Lock::Busy
        }
    }
}

impl FileStore {
    /// Runs the janitor once over both directories, judging ages against `now` (an argument, so tests and
    /// schedulers decide the clock). See the [module docs](crate::janitor) for the cases.
    pub fn janitor(&self, config: &JanitorConfig, now: SystemTime) -> JanitorReport {
        // Forgetting first: what this run ends is remembered for a full `ended_upload_age`.
        let forgotten = crate::tombstone::forget_older(&self.inner.ended, config.ended_upload_age, now);
        let mut report = JanitorReport { forgotten, ..JanitorReport::default() };
        // Finals whose parts all completed but whose assembly a crash or a failure left undone.
        report.repaired.extend(self.assemble_waiting());
        self.sweep_uploads(config, now, &mut report);
        self.sweep_completed(config, now, &mut report);
        report
    }

    fn sweep_uploads(&self, config: &JanitorConfig, now: SystemTime, report: &mut JanitorReport) {
        use JanitorReason::*;
        let dir = &self.inner.uploads;
        for (id, files) in scan(dir, report) {
            let data_at = dir.at(Entry::Data(id));
            let data = data_at.path();
            let lock = if files.data { lock_data(&data_at, true, report, id) } else { Lock::Gone };
            let _held: Locked = match lock {
                Lock::Busy => continue,
                Lock::Gone => {
                    if files.record && !self.repair(id, config, now, report) {
                        report.delete(dir.record(id), id, OrphanedRecord);
                    }
                    if files.temp {
                        report.delete(dir.staging_temp(id), id, Leftover);
                    }
                    if files.release {
                        report.delete(dir.release(id), id, Leftover);
                    }
                    continue;
                }
                Lock::Held(locked) => locked,
            };
            // Temporary records only exist inside a writer's lock section: with the lock held here, it is a leftover.
            if files.temp {
                report.delete(dir.staging_temp(id), id, Leftover);
            }
            let reason = match read_record(&dir.at(Entry::Record(id))) {
                // A complete partial upload waits here for its final (and expires like an unfinished one).
                Ok(record) if record.length == Some(record.offset) && !record.is_finished_partial() => {
                    Some(FinaliseZombie)
                }
                Ok(record) => {
                    let idle = now.duration_since(record.last_write).unwrap_or(Duration::ZERO);
                    (idle > config.stale_upload_age).then_some(Stale)
                }
                Err(e) if is_not_found(&e) => {
                    age(&data, now).is_some_and(|a| a > config.stale_upload_age).then_some(OrphanedUploadData)
                }
                Err(e) => {
                    let old = matches!(e.cause(), Cause::CorruptRecord(_))
                        && age(&data, now).is_some_and(|a| a > config.stale_upload_age);
                    report.errors.push(e.with_id(id));
                    old.then_some(UnreadableRecord)
                }
            };
            if let Some(reason) = reason {
                // The record first: a record without data at offset 0 is what a crash leaves of a creation, which
                // `recover` repairs (and would bring back).
                report.delete(dir.record(id), id, reason);
                report.delete(data, id, reason);
                report.delete(dir.release(id), id, reason);
                if reason == Stale {
                    // Expired: a client that comes back is told so (410), not that the upload never existed.
                    crate::tombstone::remember(&self.inner.ended, id, crate::tombstone::Ended::Deleted);
                }
            }
        }
    }

    /// Repairs a crash's half-made upload `id` (see `recover`); whether it did. A lost creation is not brought
    /// back once its record is older than `stale_upload_age` (it would be deleted as stale anyway).
    fn repair(&self, id: UploadId, config: &JanitorConfig, now: SystemTime, report: &mut JanitorReport) -> bool {
        let published = self.inner.completed.at(Entry::Data(id)).exists();
        if !published && age(&self.inner.uploads.record(id), now).is_none_or(|a| a > config.stale_upload_age) {
            return false;
        }
        match self.recover(id, now) {
            Ok(repaired) => {
                if repaired {
                    report.repaired.push(id);
                }
                repaired
            }
            Err(e) => {
                report.errors.push(e);
                true // neither repaired nor to be deleted while the error lasts
            }
        }
    }

    fn sweep_completed(&self, config: &JanitorConfig, now: SystemTime, report: &mut JanitorReport) {
        use JanitorReason::*;
        let dir = &self.inner.completed;
        for (id, files) in scan(dir, report) {
            if files.temp && age(&dir.completed_temp(id), now).is_some_and(|a| a > LEFTOVER_AGE) {
                report.delete(dir.completed_temp(id), id, Leftover);
            }
            let (data, record) = (dir.data(id), dir.record(id));
            let lock = if files.data { lock_data(&dir.at(Entry::Data(id)), false, report, id) } else { Lock::Gone };
            let _held: Locked = match lock {
                Lock::Busy => continue,
                Lock::Gone => {
                    if files.record && age(&record, now).is_some_and(|a| a > config.completed_file_age) {
                        report.delete(record, id, OrphanedCompletedRecord);
                    }
                    continue;
                }
                Lock::Held(locked) => locked,
            };
            match age(&record, now) {
                // Beside a staging record: a finalisation cut short, which the upload-dir sweep above repairs (or
                // reported an error for); not deleted.
                None if self.inner.uploads.at(Entry::Record(id)).exists() => {}
                None => report.delete(data, id, OrphanedCompletedData),
                Some(a) if a > config.completed_file_age => {
                    report.delete(data, id, Expired);
                    report.delete(record, id, Expired);
                }
                Some(_) => {}
            }
        }
    }
}
