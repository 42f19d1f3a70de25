//! The repairs of what a crash can leave between the syncs of a creation or a finalisation (`recover`): the
//! crash states are built on disk exactly as the sync order allows, then met through every public path.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use common::*;
use tus_proto::{FailureKind, UploadId};
use tus_storage::{FileStore, JanitorConfig, JanitorReason, UploadRecord};

/// A creation whose data file a crash lost: the record (offset 0) is there, the data file is not.
fn lost_creation(dirs: &Dirs, store: &FileStore, length: Option<u64>, seed: u64) -> UploadId {
    let (writer, id) = create(store, length, seed);
    drop(writer);
    std::fs::remove_file(dirs.uploads().join(id.to_string())).unwrap();
    id
}

/// A finalisation a crash cut short before its directory sync: the published data without the completed record's
/// name, beside the staging record as it was before the completing commit.
fn cut_finalisation(dirs: &Dirs, store: &FileStore, length: Option<u64>, seed: u64, before: u64) -> UploadId {
    let (mut writer, id) = create(store, length, seed);
    write_pattern(&mut writer, seed, 0, before, 1000);
    writer.commit(before, false).unwrap();
    let staging = std::fs::read(staging_record(dirs, id)).unwrap();
    let end = length.unwrap_or(before + 3000);
    write_pattern(&mut writer, seed, before, end, 1000);
    assert!(writer.commit(end, true).unwrap().finished);
    drop(writer);
    std::fs::remove_file(completed_record(dirs, id)).unwrap();
    std::fs::write(staging_record(dirs, id), staging).unwrap();
    id
}

fn staging_record(dirs: &Dirs, id: UploadId) -> PathBuf {
    dirs.uploads().join(format!("{id}.meta"))
}

fn completed_record(dirs: &Dirs, id: UploadId) -> PathBuf {
    dirs.completed().join(format!("{id}.meta"))
}

fn assert_finished_on_disk(dirs: &Dirs, id: UploadId, seed: u64, length: u64) {
    let record = UploadRecord::from_file(completed_record(dirs, id)).unwrap();
    assert_eq!((record.length, record.offset), (Some(length), length));
    assert!(record.finished_at.is_some() && record.duration.is_some());
    assert_eq!(record.metadata.get("seed"), Some(seed.to_string().as_str()), "the client's metadata is kept");
    let data = std::fs::read(dirs.completed().join(id.to_string())).unwrap();
    assert_eq!((data.len() as u64, first_mismatch(seed, 0, &data)), (length, None));
    assert!(!staging_record(dirs, id).exists(), "the staging record goes once the finished one is there");
}

#[test]
fn open_recreates_the_lost_data_file_of_a_creation() {
    let dirs = Dirs::new();
    let store = dirs.store();
    let id = lost_creation(&dirs, &store, Some(100_000), 1);
    assert_eq!(store.stat(id).unwrap().offset, 0, "the record alone answers a HEAD");

    let (mut writer, state) = store.open(id).unwrap();
    assert_eq!((state.offset, state.length, state.finished), (0, Some(100_000), false));
    let data = dirs.uploads().join(id.to_string());
    assert_eq!(std::fs::metadata(&data).unwrap().len(), 100_000, "preallocated again");
    write_pattern(&mut writer, 1, 0, 100_000, 20_000);
    assert!(writer.commit(100_000, true).unwrap().finished);
    drop(writer);
    assert_finished_on_disk(&dirs, id, 1, 100_000);
}

#[test]
fn a_lost_data_file_past_offset_0_is_not_invented() {
    // Committed bytes were synced before their offset was: losing them is not a state of the sync order, and
    // an empty file would pretend they are there.
    let dirs = Dirs::new();
    let store = dirs.store();
    let (mut writer, id) = create(&store, Some(10), 2);
    write_pattern(&mut writer, 2, 0, 4, 4);
    writer.commit(4, false).unwrap();
    drop(writer);
    std::fs::remove_file(dirs.uploads().join(id.to_string())).unwrap();
    assert_eq!(store.open(id).unwrap_err().kind(), FailureKind::NotFound);
    assert!(!dirs.uploads().join(id.to_string()).exists());
}

#[test]
fn stat_and_open_finish_a_cut_short_finalisation() {
    for (length, before, seed) in [(Some(4000), 0, 3), (Some(4000), 1000, 4), (None, 2000, 5)] {
        let dirs = Dirs::new();
        let store = dirs.store();
        let id = cut_finalisation(&dirs, &store, length, seed, before);
        let end = length.unwrap_or(before + 3000);
        let state = store.stat(id).unwrap();
        assert!(state.finished, "{length:?}");
        assert_eq!((state.offset, state.length), (end, Some(end)));
        assert_finished_on_disk(&dirs, id, seed, end);

        let id = cut_finalisation(&dirs, &store, length, seed, before);
        let (writer, state) = store.open(id).unwrap();
        assert!(writer.is_finished() && state.finished && state.offset == end);
        assert_finished_on_disk(&dirs, id, seed, end);
    }
}

#[test]
fn wait_for_file_claims_a_cut_short_finalisation_instead_of_discarding_it() {
    let dirs = Dirs::new();
    let store = dirs.store();
    let id = cut_finalisation(&dirs, &store, Some(3000), 6, 0);
    let claim = store.wait_for_file(Duration::from_secs(2)).unwrap();
    assert_eq!(claim.id(), id);
    assert_eq!((claim.record().offset, claim.record().length), (3000, Some(3000)));
    assert!(claim.record().finished_at.is_some());
    assert_eq!(store.stats().discarded_corrupt, 0);
    claim.finish().unwrap();
    assert!(names(&dirs.completed()).is_empty() && names(&dirs.uploads()).is_empty());

    // Without the staging record, published data without a record is discarded, as before.
    let id = cut_finalisation(&dirs, &store, Some(3000), 7, 0);
    std::fs::remove_file(staging_record(&dirs, id)).unwrap();
    assert!(store.wait_for_file(Duration::from_millis(100)).unwrap_err().is_timeout());
    assert_eq!(store.stats().discarded_corrupt, 1);
}

#[test]
fn the_janitor_repairs_young_crash_states_and_deletes_old_ones() {
    let dirs = Dirs::new();
    let store = dirs.store();
    let config = JanitorConfig::default();
    let lost = lost_creation(&dirs, &store, Some(100), 8);
    let cut = cut_finalisation(&dirs, &store, Some(100), 9, 0);

    let mut report = store.janitor(&config, SystemTime::now());
    assert!(report.errors.is_empty() && report.deleted.is_empty(), "{report:?}");
    report.repaired.sort();
    let mut expected = vec![lost, cut];
    expected.sort();
    assert_eq!(report.repaired, expected);
    assert!(dirs.uploads().join(lost.to_string()).exists());
    assert_finished_on_disk(&dirs, cut, 9, 100);

    // A creation lost longer ago than the stale age is not brought back, but deleted as the original does.
    let old = lost_creation(&dirs, &store, Some(100), 10);
    let later = SystemTime::now() + config.stale_upload_age * 2;
    let report = store.janitor(&config, later);
    assert_eq!(report.ids(JanitorReason::OrphanedRecord), [old]);
    assert!(!report.repaired.contains(&old));
    assert!(!staging_record(&dirs, old).exists() && !dirs.uploads().join(old.to_string()).exists());
    // ...while a finalisation cut short that long ago is still finished: its data is whole.
    let cut = cut_finalisation(&dirs, &store, Some(100), 11, 0);
    let report = store.janitor(&config, later);
    assert_eq!(report.repaired, [cut]);
    assert_finished_on_disk(&dirs, cut, 11, 100);
}

#[test]
fn unknown_ids_stay_not_found() {
    let dirs = Dirs::new();
    let store = dirs.store();
    let id: UploadId = "00000000-0000-4000-8000-00000000002a".parse().unwrap();
    assert_eq!(store.stat(id).unwrap_err().kind(), FailureKind::NotFound);
    assert_eq!(store.open(id).unwrap_err().kind(), FailureKind::NotFound);
    assert!(names(&dirs.uploads()).is_empty() && names(&dirs.completed()).is_empty());
}
