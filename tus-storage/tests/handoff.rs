//! The completed hand-off, the janitor and the async front-end.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::thread;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use tus_proto::{FailureKind, Metadata};
use tus_storage::{AsyncFileStore, BlockingPool, FileStore, Inline, JanitorConfig, JanitorReason, Offload};
use tus_store::Store as _;

fn finish(store: &FileStore, len: u64, seed: u64) -> tus_proto::UploadId {
    let (mut writer, id) = create(store, Some(len), seed);
    write_pattern(&mut writer, seed, 0, len, 4096);
    writer.commit(len, true).unwrap();
    id
}

#[test]
fn claims_oldest_first_and_cleans_up() {
    let dirs = Dirs::new();
    let store = dirs.store();
    let first = finish(&store, 10, 1);
    thread::sleep(Duration::from_millis(20));
    let second = finish(&store, 20, 2);
    let mut a = store.wait_for_file(Duration::from_secs(1)).unwrap();
    assert_eq!((a.id(), a.name()), (first, first.to_string().as_str()));
    let b = store.wait_for_file(Duration::from_secs(1)).unwrap();
    assert_eq!(b.id(), second, "the first one is claimed: the second worker gets the next");
    let started = Instant::now();
    let err = store.wait_for_file(Duration::from_millis(200)).unwrap_err();
    assert!(err.is_timeout() && started.elapsed() >= Duration::from_millis(200));

    let dest = dirs.root.path();
    a.save(dest.join("a")).unwrap();
    assert!(a.save(dest.join("a2")).is_err(), "a second save is an error");
    a.save_record(dest.join("a.meta")).unwrap();
    assert!(a.save_record(dest.join("a2.meta")).is_err());
    a.finish().unwrap();
    assert_eq!(first_mismatch(1, 0, &std::fs::read(dest.join("a")).unwrap()), None);
    assert_eq!(tus_storage::UploadRecord::from_file(dest.join("a.meta")).unwrap().length, Some(10));

    use std::io::Read;
    let mut data = Vec::new();
    b.data().read_to_end(&mut data).unwrap();
    assert_eq!(first_mismatch(2, 0, &data), None);
    drop(b); // not saved: both files are deleted anyway
    assert!(names(&dirs.completed()).is_empty(), "{:?}", names(&dirs.completed()));
}

#[test]
fn corrupt_or_missing_records_are_discarded() {
    let dirs = Dirs::new();
    let store = dirs.store();
    let good = finish(&store, 5, 3);
    let bad = finish(&store, 5, 4);
    std::fs::write(dirs.completed().join(format!("{bad}.meta")), b"{not json").unwrap();
    let orphan = finish(&store, 5, 5);
    std::fs::remove_file(dirs.completed().join(format!("{orphan}.meta"))).unwrap();
    let claim = store.wait_for_file(Duration::from_secs(1)).unwrap();
    assert_eq!(claim.id(), good);
    drop(claim);
    assert!(store.wait_for_file(Duration::ZERO).unwrap_err().is_timeout());
    assert_eq!(store.stats().discarded_corrupt, 2);
    assert!(names(&dirs.completed()).is_empty());
}

/// A waiter with a 30 s slow poll must be woken by the finish itself, with inotify and without it.
fn wakes_up_at_once(inotify: bool) {
    let dirs = Dirs::new();
    let mut config = dirs.config();
    config.inotify = inotify;
    config.claim_poll_interval = Duration::from_secs(30);
    let store = FileStore::new(config).unwrap();
    let waiter = {
        let store = store.clone();
        thread::spawn(move || {
            let claim = store.wait_for_file(Duration::from_secs(20)).unwrap();
            (claim.id(), Instant::now())
        })
    };
    thread::sleep(Duration::from_millis(300));
    let id = finish(&store, 100, 6);
    let finished = Instant::now();
    let (claimed, at) = waiter.join().unwrap();
    assert_eq!(claimed, id);
    let latency = at.saturating_duration_since(finished);
    assert!(latency < Duration::from_secs(1), "woken after {latency:?}");
}

#[test]
fn wakes_up_at_once_with_inotify() {
    wakes_up_at_once(true);
}

#[test]
fn wakes_up_at_once_in_process_without_inotify() {
    wakes_up_at_once(false);
}

#[test]
fn concurrent_claimers_never_share() {
    let dirs = Dirs::new();
    let store = dirs.store();
    let mut expected: Vec<_> = (0..12).map(|i| finish(&store, 64, 100 + i)).collect();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            thread::spawn(move || {
                let mut got = Vec::new();
                while let Ok(claim) = store.wait_for_file(Duration::from_millis(200)) {
                    got.push(claim.id());
                    thread::sleep(Duration::from_millis(5)); // hold the claim a little
                }
                got
            })
        })
        .collect();
    let mut claimed: Vec<_> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    claimed.sort();
    expected.sort();
    assert_eq!(claimed, expected);
}

#[test]
fn janitor_cases() {
    let dirs = Dirs::new();
    let store = dirs.store();
    let day = Duration::from_secs(86_400);
    let config = JanitorConfig::default();
    // Case 1: every byte committed but never finalised (the original's 500-on-last-PATCH zombie).
    let (mut w, zombie) = create(&store, Some(4), 1);
    write_pattern(&mut w, 1, 0, 4, 4);
    w.commit(4, false).unwrap();
    drop(w);
    // Case 2: stale once a day has passed; a locked one is skipped however old.
    let (w, stale) = create(&store, Some(4), 2);
    drop(w);
    let (locked_writer, locked) = create(&store, Some(4), 3);
    // Case 3: a staging record without data, past offset 0 (at offset 0 it is a creation a crash cut short, which
    // is repaired: tests/recovery.rs).
    let (mut w, orphan_record) = create(&store, Some(4), 4);
    write_pattern(&mut w, 4, 0, 2, 2);
    w.commit(2, false).unwrap();
    drop(w);
    std::fs::remove_file(dirs.uploads().join(orphan_record.to_string())).unwrap();
    // Case 4: a finished upload, expired after a week; case 5: completed data without a record.
    let expired = finish(&store, 4, 5);
    let orphan_data = finish(&store, 4, 6);
    std::fs::remove_file(dirs.completed().join(format!("{orphan_data}.meta"))).unwrap();

    let report = store.janitor(&config, SystemTime::now());
    assert_eq!(report.ids(JanitorReason::FinaliseZombie), [zombie]);
    assert_eq!(report.ids(JanitorReason::OrphanedRecord), [orphan_record]);
    assert_eq!(report.ids(JanitorReason::OrphanedCompletedData), [orphan_data]);
    assert!(report.ids(JanitorReason::Stale).is_empty());
    assert!(report.ids(JanitorReason::Expired).is_empty());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report.repaired.is_empty(), "{:?}", report.repaired);
    assert!(report.skipped_locked.iter().any(|p| p.ends_with(locked.to_string())));
    assert_eq!(store.stat(zombie).unwrap_err().kind(), FailureKind::NotFound);

    // Two days later: the stale upload goes, the locked one is skipped; the finished one is not a week old.
    let report = store.janitor(&config, SystemTime::now() + 2 * day);
    assert_eq!(report.ids(JanitorReason::Stale), [stale]);
    assert!(report.skipped_locked.iter().any(|p| p.ends_with(locked.to_string())));
    assert!(report.ids(JanitorReason::Expired).is_empty());
    assert_eq!(store.stat(locked).unwrap().offset, 0);
    assert!(store.stat(expired).unwrap().finished);

    // Eight days later: the finished upload expires, data and record.
    let report = store.janitor(&config, SystemTime::now() + 8 * day);
    assert_eq!(report.ids(JanitorReason::Expired), [expired]);
    assert_eq!(report.deleted.iter().filter(|d| d.reason == JanitorReason::Expired).count(), 2);
    assert!(names(&dirs.completed()).is_empty(), "{:?}", names(&dirs.completed()));
    drop(locked_writer);
    let report = store.janitor(&config, SystemTime::now() + 2 * day);
    assert_eq!(report.ids(JanitorReason::Stale), [locked], "unlocked now");
    assert!(names(&dirs.uploads()).is_empty(), "{:?}", names(&dirs.uploads()));
}

#[test]
fn janitor_removes_a_creation_that_crashed_while_writing_its_record() {
    // Creation records are written in place: a crash mid-write leaves data beside an empty or cut record.
    let dirs = Dirs::new();
    let store = dirs.store();
    let config = JanitorConfig::default();
    let (w, cut) = create(&store, Some(4), 1);
    drop(w);
    let record = dirs.uploads().join(format!("{cut}.meta"));
    let text = std::fs::read_to_string(&record).unwrap();
    std::fs::write(&record, &text[..text.len() / 2]).unwrap();
    let (w, healthy) = create(&store, Some(4), 2);
    drop(w);

    // Young: reported, kept (it may be a creation in progress in another process).
    let report = store.janitor(&config, SystemTime::now());
    assert!(report.ids(JanitorReason::UnreadableRecord).is_empty());
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert!(record.exists());
    // Past the stale age: deleted, data and record, as unreadable (the healthy upload goes too, as stale).
    let report = store.janitor(&config, SystemTime::now() + config.stale_upload_age * 2);
    assert_eq!(report.ids(JanitorReason::UnreadableRecord), [cut]);
    assert_eq!(report.ids(JanitorReason::Stale), [healthy]);
    assert!(!record.exists() && !dirs.uploads().join(cut.to_string()).exists());
}

#[test]
fn janitor_skips_a_claim_that_moved_its_record_away() {
    let dirs = Dirs::new();
    let store = dirs.store();
    let config = JanitorConfig::default();
    let claimed = finish(&store, 4, 2);
    let mut claim = store.wait_for_file(Duration::from_secs(1)).unwrap();
    assert_eq!(claim.id(), claimed);
    claim.save_record(dirs.root.path().join("r.meta")).unwrap();
    let orphan = finish(&store, 4, 3);
    std::fs::remove_file(dirs.completed().join(format!("{orphan}.meta"))).unwrap();
    // The claimed data now has no record beside it, like the orphan, but it is locked: skipped.
    let report = store.janitor(&config, SystemTime::now());
    assert!(report.skipped_locked.iter().any(|p| p.ends_with(claimed.to_string())), "{report:?}");
    assert_eq!(report.ids(JanitorReason::OrphanedCompletedData), [orphan]);
    claim.save(dirs.root.path().join("r")).unwrap();
    drop(claim);
    assert_eq!(std::fs::read(dirs.root.path().join("r")).unwrap(), pattern(2, 0, 4));
}

#[test]
fn async_front_end_on_the_blocking_pool_and_inline() {
    fn run<O: Offload>(offload: O) {
        let dirs = Dirs::new();
        let store = AsyncFileStore::new(dirs.store(), offload);
        futures_lite::future::block_on(async {
            let new_meta = Metadata::from_iter([("k", "v")]);
            let sync = store.blocking().clone();
            let (w, id) = sync.create_with(Some(10), new_meta, Metadata::new(), SystemTime::now()).unwrap();
            drop(w);
            let (mut writer, state) = store.open(id).await.unwrap();
            assert_eq!(state.offset, 0);
            writer.write_at(0, b"hello".to_vec()).await.unwrap();
            assert_eq!(writer.commit(5, false).await.unwrap().offset, 5);
            assert_eq!(store.stat(id).await.unwrap().offset, 5);
            writer.write_at(5, &b"world"[..]).await.unwrap();
            assert!(writer.commit(10, true).await.unwrap().finished);
            assert_eq!(writer.is_finished(), Some(true));
            let mut claim = store.wait_for_file(Duration::from_secs(1)).await.unwrap();
            claim.save(dirs.root.path().join("out")).unwrap();
            drop(claim);
            assert_eq!(std::fs::read(dirs.root.path().join("out")).unwrap(), b"helloworld");
            let report = store.janitor(&JanitorConfig::default(), SystemTime::now()).await;
            assert!(report.deleted.is_empty());
            let state = store.stat(id).await.unwrap();
            assert!(state.finished && state.offset == 10, "a claimed upload is remembered as finished: {state:?}");
        });
    }
    run(BlockingPool);
    run(Inline);
}

#[test]
fn a_cancelled_async_wait_leaves_the_upload_for_others() {
    let dirs = Dirs::new();
    let store = AsyncFileStore::new(dirs.store(), BlockingPool);
    let sync = store.blocking().clone();
    futures_lite::future::block_on(async {
        // The wait loses a race against a 100 ms timer and is dropped while its pool thread still waits.
        let timer = BlockingPool.offload(|| thread::sleep(Duration::from_millis(100)));
        let raced =
            futures_lite::future::or(async { Some(store.wait_for_file(Duration::from_secs(10)).await) }, async {
                timer.await;
                None
            })
            .await;
        assert!(raced.is_none());
    });
    // An upload finishing right after the cancellation must still be there for the next worker.
    let id = finish(&sync, 8, 9);
    thread::sleep(Duration::from_millis(800));
    assert!(dirs.completed().join(id.to_string()).exists(), "a cancelled wait must not consume the upload");
    let claim = sync.wait_for_file(Duration::from_secs(1)).unwrap();
    assert_eq!(claim.id(), id);
}

#[test]
fn delete_leaves_nothing_behind_and_never_takes_a_claimed_upload() {
    let dirs = Dirs::new();
    let store = dirs.store();
    // An unfinished upload: its data, record and release marker go, and it is unknown from then on.
    let (mut writer, id) = store.create_with(Some(10), Metadata::new(), Metadata::new(), SystemTime::now()).unwrap();
    writer.write_at(0, b"abc").unwrap();
    writer.commit(3, false).unwrap();
    drop(writer);
    store.delete(id).unwrap();
    let left: Vec<_> = std::fs::read_dir(dirs.uploads())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name != ".ended" && name != ".completed")
        .collect();
    assert!(left.is_empty(), "files left in the upload directory: {left:?}");
    assert_eq!(store.stat(id).unwrap_err().kind(), FailureKind::Gone, "a deleted upload is remembered as gone");

    // A finished upload that a worker holds is the worker's: delete answers Finished and the claim is untouched.
    let id = finish(&store, 4, 9);
    let mut claim = store.wait_for_file(Duration::from_secs(1)).unwrap();
    assert_eq!(store.delete(id).unwrap_err().kind(), FailureKind::Finished);
    claim.save(dirs.root.path().join("kept")).unwrap();
    assert_eq!(std::fs::read(dirs.root.path().join("kept")).unwrap(), pattern(9, 0, 4));
    claim.finish().unwrap();

    // A finished upload nobody claimed: both completed files go, and no worker gets it.
    let id = finish(&store, 4, 10);
    store.delete(id).unwrap();
    let left: Vec<_> = std::fs::read_dir(dirs.completed()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "files left in the completed directory: {left:?}");
    assert!(store.wait_for_file(Duration::from_millis(200)).unwrap_err().is_timeout());
}
