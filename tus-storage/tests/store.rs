//! The blocking core against real files: creation, writes, commits, lookups, lock take-over, finalisation.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use tus_proto::{FailureKind, Metadata, UploadId};
use tus_storage::{FileStore, UploadRecord};

#[test]
fn small_uploads_are_not_preallocated() {
    let dirs = Dirs::new();
    let store = dirs.store();
    let (mut writer, id) = create(&store, Some(4096), 3);
    let data = dirs.uploads().join(id.to_string());
    assert_eq!(std::fs::metadata(&data).unwrap().len(), 0, "no posix_fallocate for 4 KiB");
    write_pattern(&mut writer, 3, 0, 4096, 4096);
    assert!(writer.commit(4096, true).unwrap().finished);
    assert_eq!(std::fs::metadata(dirs.completed().join(id.to_string())).unwrap().len(), 4096);
    assert_eq!(store.stats().preallocation_skipped, 0, "skipping a small one is not a failed preallocation");
}

#[test]
fn create_preallocates_and_records() {
    let dirs = Dirs::new();
    let store = dirs.store();
    let (writer, id) = create(&store, Some(100_000), 7);
    let data = std::fs::metadata(dirs.uploads().join(id.to_string())).unwrap();
    assert_eq!(data.len(), 100_000, "posix_fallocate sets the size");
    assert!(std::os::unix::fs::MetadataExt::blocks(&data) * 512 >= 100_000, "blocks are allocated");
    let text = std::fs::read_to_string(dirs.uploads().join(format!("{id}.meta"))).unwrap();
    assert!(text.starts_with(r#"{"length":100000,"offset":0,"metadata":{"filename":"7.bin","seed":"7"},"server_metadata":{},"last_write":"#), "{text}");
    assert!(text.ends_with(r#","finished_at":null,"duration":null}"#), "{text}");
    assert_eq!(writer.state().offset, 0);
    assert_eq!(names(&dirs.uploads()), [id.to_string(), format!("{id}.meta")]);
    assert_eq!(store.stats().preallocation_skipped, 0);
}

#[test]
fn commits_are_what_reopen_sees() {
    let dirs = Dirs::new();
    let store = dirs.store();
    let (mut writer, id) = create(&store, Some(1000), 1);
    write_pattern(&mut writer, 1, 0, 600, 128);
    assert_eq!(writer.commit(400, false).unwrap().offset, 400);
    drop(writer); // bytes 400..600 were written but never committed
    let (mut writer, state) = store.open(id).unwrap();
    assert_eq!((state.offset, state.length, state.finished), (400, Some(1000), false));
    assert_eq!(state.metadata.get("seed"), Some("1"));
    assert_eq!(store.stat(id).unwrap().offset, 400);
    write_pattern(&mut writer, 1, 400, 1000, 256);
    let state = writer.commit(1000, true).unwrap();
    assert!(state.finished && writer.is_finished());
    let done = std::fs::read(dirs.completed().join(id.to_string())).unwrap();
    assert_eq!(first_mismatch(1, 0, &done), None);
    assert_eq!(done.len(), 1000);
    assert!(names(&dirs.uploads()).is_empty(), "staging record removed: {:?}", names(&dirs.uploads()));
    let record = UploadRecord::from_file(dirs.completed().join(format!("{id}.meta"))).unwrap();
    assert_eq!((record.offset, record.length), (1000, Some(1000)));
    assert!(record.finished_at.is_some() && record.duration.is_some());
}

#[test]
fn writer_refuses_what_would_corrupt_the_record() {
    let dirs = Dirs::new();
    let store = dirs.store();
    let (mut writer, _) = create(&store, Some(10), 2);
    fn kind<T: std::fmt::Debug>(r: Result<T, tus_proto::StoreFailure>) -> FailureKind {
        r.unwrap_err().kind()
    }
    assert_eq!(kind(writer.write_at(11, b"")), FailureKind::Internal, "a gap after the written bytes");
    assert_eq!(kind(writer.write_at(8, b"abc")), FailureKind::Internal, "past the length");
    writer.write_at(0, b"abcd").unwrap();
    assert_eq!(kind(writer.commit(5, false)), FailureKind::Internal, "committing bytes never written");
    assert_eq!(kind(writer.commit(4, true)), FailureKind::Internal, "completing before the length");
    writer.commit(4, false).unwrap();
    assert_eq!(kind(writer.write_at(3, b"x")), FailureKind::Internal, "overwriting committed bytes");
    assert_eq!(kind(writer.commit(3, false)), FailureKind::Internal, "an offset going back");
    writer.write_at(4, b"efghij").unwrap();
    writer.commit(10, true).unwrap();
    assert_eq!(kind(writer.write_at(10, b"")), FailureKind::Internal, "writing to a finished upload");
    assert_eq!(writer.commit(10, true).unwrap().offset, 10, "re-committing the final offset is fine");
}

#[test]
fn a_vectored_write_stores_its_parts_in_order_past_the_system_limit_on_parts() {
    let dirs = Dirs::new();
    let store = dirs.store();
    // 3,000 parts (Linux takes 1,024 per call), some empty, of sizes that do not line up with pages.
    let sizes: Vec<usize> = (0..3000).map(|i| if i % 7 == 3 { 0 } else { 1 + (i * 37) % 700 }).collect();
    let total: usize = sizes.iter().sum();
    let (mut writer, id) = create(&store, Some(total as u64 + 10), 11);
    writer.write_at(0, &pattern(11, 0, 10)).unwrap();
    let mut parts = Vec::new();
    let mut at = 10;
    for size in &sizes {
        parts.push(pattern(11, at, *size));
        at += *size as u64;
    }
    let slices: Vec<std::io::IoSlice<'_>> = parts.iter().map(|part| std::io::IoSlice::new(part)).collect();
    writer.write_vectored_at(10, &slices).unwrap();
    let past_the_end = [std::io::IoSlice::new(b"x"), std::io::IoSlice::new(b"")];
    assert_eq!(
        writer.write_vectored_at(at, &past_the_end).unwrap_err().kind(),
        FailureKind::Internal,
        "the total length is checked"
    );
    writer.commit(at, true).unwrap();
    let done = std::fs::read(dirs.completed().join(id.to_string())).unwrap();
    assert_eq!(done.len(), total + 10);
    assert_eq!(first_mismatch(11, 0, &done), None);
}

#[test]
fn zero_length_and_deferred_length() {
    let dirs = Dirs::new();
    let store = dirs.store();
    let (mut writer, id) = create(&store, Some(0), 3);
    assert!(writer.commit(0, true).unwrap().finished);
    assert_eq!(std::fs::metadata(dirs.completed().join(id.to_string())).unwrap().len(), 0);
    thread::sleep(Duration::from_millis(20)); // "oldest" is by record mtime, whose clock ticks coarsely

    let (mut writer, id2) = create(&store, None, 4);
    write_pattern(&mut writer, 4, 0, 5000, 1000);
    writer.commit(3000, false).unwrap();
    assert_eq!(store.stat(id2).unwrap().length, None);
    let state = writer.commit(5000, true).unwrap();
    assert_eq!((state.length, state.offset, state.finished), (Some(5000), 5000, true));
    let claim = store.wait_for_file(Duration::from_secs(1)).unwrap();
    assert_eq!(claim.id(), id, "oldest first");
}

#[test]
fn no_space_leaves_nothing_behind() {
    let dirs = Dirs::new();
    let store = dirs.store();
    let result = store.create_with(Some(u64::MAX / 4), Metadata::new(), Metadata::new(), SystemTime::now());
    assert_eq!(result.map(|_| ()).unwrap_err().kind(), FailureKind::NoSpace);
    assert!(names(&dirs.uploads()).is_empty());
}

#[test]
fn stat_follows_the_upload_through_its_life() {
    let dirs = Dirs::new();
    let store = dirs.store();
    let unknown = UploadId::from_uuid(uuid::Uuid::from_u128(42));
    assert_eq!(store.stat(unknown).unwrap_err().kind(), FailureKind::NotFound);
    assert_eq!(store.open(unknown).map(|_| ()).unwrap_err().kind(), FailureKind::NotFound);

    let (mut writer, id) = create(&store, Some(8), 5);
    write_pattern(&mut writer, 5, 0, 4, 4);
    writer.commit(4, false).unwrap();
    // While the writer holds its lock, stat answers at once with the committed state.
    let started = Instant::now();
    let state = store.stat(id).unwrap();
    assert!(started.elapsed() < Duration::from_millis(100));
    assert_eq!((state.offset, state.finished), (4, false));
    assert!(!writer.release_requested(), "stat does not interrupt the writer");
    // `stat_settled` asks it to let go and, when it does not, answers the committed state after a bounded wait.
    let started = Instant::now();
    let state = store.stat_settled(id).unwrap();
    assert!(started.elapsed() < tus_store::STAT_SETTLE + Duration::from_millis(500), "{:?}", started.elapsed());
    assert_eq!((state.offset, state.finished), (4, false));
    assert!(writer.release_requested(), "stat_settled asked the writer to let go");

    write_pattern(&mut writer, 5, 4, 8, 4);
    writer.commit(8, true).unwrap();
    let state = store.stat(id).unwrap();
    assert_eq!((state.offset, state.length, state.finished), (8, Some(8), true));
    let (finished_writer, state) = store.open(id).unwrap();
    assert!(finished_writer.is_finished() && state.finished);

    store.wait_for_file(Duration::from_secs(1)).unwrap().finish().unwrap();
    let state = store.stat(id).unwrap();
    assert_eq!((state.offset, state.finished), (8, true), "claimed uploads are remembered as finished");
}

#[test]
fn a_new_request_takes_over_from_a_writer_that_listens() {
    let dirs = Dirs::new();
    let mut config = dirs.config();
    config.release_timeout = Duration::from_secs(3);
    let store = FileStore::new(config).unwrap();
    let (mut writer, id) = create(&store, Some(1 << 20), 6);
    let holder = thread::spawn(move || {
        // A slow body: 1 KiB at a time, checking for a release request between batches.
        let mut at = 0;
        while !writer.release_requested() {
            writer.write_at(at, &pattern(6, at, 1024)).unwrap();
            at += 1024;
            thread::sleep(Duration::from_millis(5));
        }
        writer.commit(at, false).unwrap();
        at
    });
    thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    let (_writer, state) = store.open(id).unwrap();
    let committed = holder.join().unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert_eq!(state.offset, committed, "the new request sees what the old one committed");
    assert!(committed > 0);
    assert!(!dirs.uploads().join(format!("{id}.release")).exists(), "the marker is cleared by the new holder");
}

#[test]
fn a_holder_that_never_lets_go_means_locked() {
    let dirs = Dirs::new();
    let mut config = dirs.config();
    config.release_timeout = Duration::from_millis(300);
    let store = FileStore::new(config).unwrap();
    let (writer, id) = create(&store, Some(10), 7);
    let started = Instant::now();
    let err = store.open(id).map(|_| ()).unwrap_err();
    let waited = started.elapsed();
    assert_eq!(err.kind(), FailureKind::Locked, "{err}");
    assert!(waited >= Duration::from_millis(300) && waited < Duration::from_millis(1000), "{waited:?}");
    assert!(writer.release_requested(), "the holder was asked");
    drop(writer);
    assert!(store.open(id).is_ok());
}

#[test]
fn directories_get_the_configured_mode() {
    let dirs = Dirs::new();
    let mut config = dirs.config();
    config.directory_mode = 0o750;
    FileStore::new(config).unwrap();
    for dir in [dirs.uploads(), dirs.completed()] {
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o750);
    }
    // An existing directory is checked, not changed.
    let mut config = dirs.config();
    config.directory_mode = 0o700;
    FileStore::new(config).unwrap();
    assert_eq!(std::fs::metadata(dirs.uploads()).unwrap().permissions().mode() & 0o777, 0o750);
    // A file where a directory should be is an error.
    let mut config = dirs.config();
    config.completed_dir = dirs.root.path().join("file");
    std::fs::write(&config.completed_dir, b"").unwrap();
    assert!(FileStore::new(config).is_err());
}

#[test]
fn fsync_off_still_stores_and_finalises() {
    let dirs = Dirs::new();
    let mut config = dirs.config();
    config.fsync = false;
    let store = FileStore::new(config).unwrap();
    let (mut writer, id) = create(&store, Some(3000), 8);
    write_pattern(&mut writer, 8, 0, 3000, 700);
    writer.commit(3000, true).unwrap();
    let claim = store.wait_for_file(Duration::from_secs(1)).unwrap();
    assert_eq!(claim.id(), id);
}

#[test]
fn proto_driver_loop_over_the_file_store() {
    use http::{Method, Request};
    use tus_proto::{HookOutcome, RequestHead, Server, Step};

    let dirs = Dirs::new();
    let store = dirs.store();
    let server = Server::builder().base_path("/files").build().unwrap();
    let run = |method: Method, uri: &str, headers: &[(&str, &str)], body: &[u8]| {
        let mut builder =
            Request::builder().method(method).uri(uri).header("host", "x").header("tus-resumable", "1.0.0");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let (head, ()) = builder.body(()).unwrap().into_parts();
        let mut step = server.begin(RequestHead::from_parts(&head), SystemTime::now());
        loop {
            step = match step {
                Step::Respond(response) => break response,
                Step::Hook(hook) => hook.continue_with(HookOutcome::accept()),
                Step::Create(c) => {
                    let result = store.create(c.new_upload());
                    c.continue_with(result)
                }
                Step::Stat(s) => {
                    let result = store.stat(s.id());
                    s.continue_with(result)
                }
                Step::Open(o) => {
                    let result = store.open(o.id());
                    o.continue_with(result)
                }
                Step::Receive(mut rx) => {
                    for chunk in body.chunks(3) {
                        let data = rx.accept(chunk);
                        let at = rx.write_offset();
                        rx.upload().write_at(at, data).unwrap();
                        rx.stored(data.len() as u64);
                    }
                    rx.finish()
                }
                Step::Commit(mut c) => {
                    let (offset, complete) = (c.offset(), c.is_complete());
                    let result = c.upload().commit(offset, complete);
                    c.continue_with(result)
                }
                Step::Terminate(t) => {
                    let result = store.delete(t.id());
                    t.continue_with(result)
                }
                other => break other.unhandled(),
            };
        }
    };
    let created =
        run(Method::POST, "/files", &[("upload-length", "11"), ("upload-metadata", "filename YS50eHQ=")], b"");
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let path = location.strip_prefix("http://x").unwrap().to_owned();
    let patch = [("content-type", "application/offset+octet-stream"), ("upload-offset", "0")];
    assert_eq!(run(Method::PATCH, &path, &patch, b"hello ").status(), 204);
    let head = run(Method::HEAD, &path, &[], b"");
    assert_eq!(head.headers()["upload-offset"], "6");
    let patch = [("content-type", "application/offset+octet-stream"), ("upload-offset", "6")];
    assert_eq!(run(Method::PATCH, &path, &patch, b"world").status(), 204);
    let head = run(Method::HEAD, &path, &[], b"");
    assert_eq!(head.headers()["upload-offset"], "11", "finished but unclaimed still answers");
    let mut claim = store.wait_for_file(Duration::from_secs(1)).unwrap();
    assert_eq!(claim.record().metadata.get("filename"), Some("a.txt"));
    claim.save(dirs.root.path().join("a.txt")).unwrap();
    drop(claim);
    assert_eq!(std::fs::read(dirs.root.path().join("a.txt")).unwrap(), b"hello world");
    let head = run(Method::HEAD, &path, &[], b"");
    assert_eq!(head.headers()["upload-offset"], "11", "claimed: remembered as finished");
    assert_eq!(run(Method::DELETE, &path, &[], b"").status(), 403, "claimed: the application's now");
}

#[test]
fn missing_parent_directories_are_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uploads = dir.path().join("a/b/uploads");
    let completed = dir.path().join("c/completed");
    let mut config = tus_storage::StoreConfig::new(&uploads, &completed);
    config.directory_mode = 0o750;
    tus_storage::FileStore::new(config).expect("store over missing parents");
    use std::os::unix::fs::PermissionsExt;
    for path in [&uploads, &completed] {
        assert!(path.is_dir(), "{path:?} created");
        assert_eq!(std::fs::metadata(path).expect("meta").permissions().mode() & 0o777, 0o750, "{path:?} mode");
    }
}

#[test]
fn inline_reads_answer_what_the_pool_answers() {
    use tus_storage::{AsyncFileStore, BlockingPool};
    use tus_store::Store as _;
    let dirs = Dirs::new();
    let pooled = AsyncFileStore::new(dirs.store(), BlockingPool);
    let inline = AsyncFileStore::new(dirs.store(), BlockingPool).inline_reads(true);
    let both = |id| {
        let a = futures_lite::future::block_on(pooled.stat(id));
        let b = futures_lite::future::block_on(inline.stat(id));
        assert_eq!(a, b, "inline and pooled stat differ");
        a
    };
    let unknown = UploadId::from_uuid(uuid::Uuid::from_u128(7));
    assert_eq!(both(unknown).unwrap_err().kind(), FailureKind::NotFound);
    let store = dirs.store();
    let (mut writer, id) = create(&store, Some(6), 3);
    write_pattern(&mut writer, 3, 0, 3, 3);
    writer.commit(3, false).unwrap();
    assert_eq!(both(id).map(|s| (s.offset, s.finished)), Ok((3, false)));
    write_pattern(&mut writer, 3, 3, 6, 3);
    writer.commit(6, true).unwrap();
    assert_eq!(both(id).map(|s| (s.offset, s.finished)), Ok((6, true)));
}

/// Whether this kernel has `RESOLVE_CACHED` (5.12) and buffered `RWF_NOWAIT` reads: the cached `stat` needs both.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release.split(|c: char| !c.is_ascii_digit()).filter_map(|p| p.parse::<u32>().ok());
    (parts.next().unwrap(), parts.next().unwrap()) >= (major, minor)
}

#[test]
fn cached_stat_answers_unfinished_uploads_like_stat_and_leaves_the_rest_to_it() {
    let dirs = Dirs::new();
    let store = dirs.store();
    let (mut writer, id) = create(&store, Some(1000), 3);
    write_pattern(&mut writer, 3, 0, 400, 400);
    writer.commit(400, false).unwrap();
    // A held upload may have bytes its writer has not committed: left to `stat_settled`, which asks for them.
    assert_eq!(store.stat_cached(id), None, "a held upload is not answered from the caches");
    drop(writer);
    // `stat` looks the paths up once (a missing completed file leaves a negative entry in the dentry cache).
    let state = store.stat(id).unwrap();
    let cached = store.stat_cached(id);
    if kernel_at_least(5, 12) {
        assert_eq!(cached.as_ref(), Some(&state), "a record just written is in the caches");
    } else {
        assert!(cached.is_none() || cached.as_ref() == Some(&state));
    }
    // A new commit is seen at once (the record is replaced by a rename).
    let (mut writer, _) = store.open(id).unwrap();
    write_pattern(&mut writer, 3, 400, 700, 300);
    writer.commit(700, false).unwrap();
    drop(writer);
    let cached = store.stat_cached(id);
    if kernel_at_least(5, 12) {
        assert_eq!(cached.map(|s| s.offset), Some(700));
    } else {
        assert!(cached.is_none() || cached.is_some_and(|s| s.offset == 700));
    }
    // Records of exactly one page and of several pages read whole (leading JSON whitespace: a cut read fails).
    let record_path = dirs.uploads().join(format!("{id}.meta"));
    let record = std::fs::read_to_string(&record_path).unwrap();
    for size in [4095, 4096, 4097, 8192, 20_000] {
        let padded = format!("{record:>size$}");
        let staged = dirs.uploads().join("padded.tmp");
        std::fs::write(&staged, &padded).unwrap();
        std::fs::rename(&staged, &record_path).unwrap();
        let state = store.stat(id).unwrap();
        assert_eq!(state.offset, 700);
        let cached = store.stat_cached(id);
        if kernel_at_least(5, 12) {
            assert_eq!(cached.as_ref(), Some(&state), "record of {size} bytes");
        } else {
            assert!(cached.is_none() || cached.as_ref() == Some(&state));
        }
    }
    // Finished, unknown, or with a damaged record: not answered from the caches; `stat` decides.
    let (mut writer, _) = store.open(id).unwrap();
    write_pattern(&mut writer, 3, 700, 1000, 300);
    writer.commit(1000, true).unwrap();
    assert!(store.stat(id).unwrap().finished);
    assert_eq!(store.stat_cached(id), None, "finished uploads go to stat");
    let unknown: UploadId = "00000000-0000-4000-8000-00000000beef".parse().unwrap();
    assert!(store.stat(unknown).is_err());
    assert_eq!(store.stat_cached(unknown), None);
    let (writer, damaged) = create(&store, Some(10), 4);
    drop(writer);
    std::fs::write(dirs.uploads().join(format!("{damaged}.meta")), "{\"length\":").unwrap();
    assert!(store.stat(damaged).is_err());
    assert_eq!(store.stat_cached(damaged), None);
}
