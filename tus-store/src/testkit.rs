//! The backend test kit: the contract of [`Store`] as tests, run against any backend with one call.
//!
//! ```
//! # futures_lite::future::block_on(async {
//! tus_store::testkit::run(|| tus_store::MemoryStore::new()).await;
//! # });
//! ```
//!
//! [`run`] calls `new_store` once per case, for an empty store each time (a file store in fresh directories, say),
//! and panics at the first broken promise, naming the case and the promise. It needs no async runtime: waits run
//! on the `blocking` crate's pool. The case that waits for a holder that never lets go takes the backend's release
//! timeout.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_lite::future;
use tus_proto::{Concat, FailureKind, Metadata, NewUpload, StoreFailure, UploadId, UploadState};

use crate::{Claim, JanitorConfig, ReleaseRequest, Store, SweepReason, STAT_SETTLE};

/// Runs every case of the contract against stores made by `new_store`, one store per case.
pub async fn run<S: Store>(mut new_store: impl FnMut() -> S) {
    macro_rules! cases {
        ($($case:ident),* $(,)?) => {$(
            eprintln!("tus-store testkit: {}", stringify!($case));
            $case(&new_store()).await;
        )*};
    }
    cases!(
        created_upload_is_empty_and_unfinished,
        committed_bytes_count_and_others_do_not,
        discard_forgets_uncommitted_bytes,
        complete_commit_finishes_and_claim_hands_it_over_once,
        empty_and_deferred_uploads_finish,
        unknown_uploads_are_not_found,
        open_takes_over_from_a_holder_that_lets_go,
        open_of_a_holder_that_never_lets_go_is_locked,
        delete_removes_unfinished_finished_and_held_uploads,
        claims_come_oldest_first_and_each_once,
        a_claim_ends_with_the_upload_gone,
        sweep_removes_what_is_too_old_and_nothing_else,
        a_deferred_length_is_declared_once,
        stat_takes_in_what_a_silent_holder_stored,
        ended_uploads_are_remembered_then_forgotten,
        partials_assemble_into_one_final_claimed_once,
        a_final_of_unfinished_partials_is_assembled_by_the_last_commit,
    );
}

fn new_upload(length: Option<u64>) -> NewUpload {
    let metadata = Metadata::from_iter([("filename", "kit.bin"), ("empty", "")]);
    NewUpload::new(length, metadata, SystemTime::now())
        .with_server_metadata(Metadata::from_iter([("owner", "testkit")]))
}

fn parts(data: &[u8]) -> Vec<Bytes> {
    // Two parts (one may be empty): the parts of one write land one after another.
    let half = data.len() / 2;
    vec![Bytes::copy_from_slice(&data[..half]), Bytes::copy_from_slice(&data[half..])]
}

async fn sleep(duration: Duration) {
    blocking::unblock(move || std::thread::sleep(duration)).await;
}

fn expect_kind<T: std::fmt::Debug>(result: Result<T, StoreFailure>, kind: FailureKind, promise: &str) {
    match result {
        Err(failure) => assert_eq!(failure.kind(), kind, "{promise}: {failure}"),
        Ok(value) => panic!("{promise}: expected {kind:?}, got {value:?}"),
    }
}

async fn stat<S: Store>(store: &S, id: UploadId) -> UploadState {
    store.stat(id).await.unwrap_or_else(|e| panic!("stat of {id}: {e}"))
}

/// Writes `data` at `offset` and commits it (completing when it reaches `complete`).
async fn store_bytes<S: Store>(store: &S, upload: &mut S::Upload, offset: u64, data: &[u8], complete: bool) {
    store.write(upload, offset, parts(data)).await.expect("write");
    let state = store.commit(upload, offset + data.len() as u64, complete).await.expect("commit");
    assert_eq!(state.offset, offset + data.len() as u64, "commit returns the committed offset");
    assert_eq!(state.finished, complete, "commit returns whether the upload is finished");
}

/// Claims the next finished upload and reads its bytes back through `save`.
async fn claim_bytes<S: Store>(store: &S) -> (S::Claim, Vec<u8>) {
    let mut claim = store.claim(Duration::from_secs(5)).await.expect("claim").expect("a finished upload to claim");
    let dir = tempfile::tempdir().expect("temporary directory");
    let dest = dir.path().join("data");
    claim.save(dest.clone()).await.expect("save");
    let bytes = std::fs::read(&dest).expect("read the saved data");
    (claim, bytes)
}

async fn created_upload_is_empty_and_unfinished<S: Store>(store: &S) {
    store.ready().await.expect("a fresh store is ready");
    let new = new_upload(Some(10));
    let (_upload, id) = store.create(new.clone()).await.expect("create");
    let state = stat(store, id).await;
    assert_eq!((state.id, state.length, state.offset, state.finished), (id, Some(10), 0, false), "a new upload");
    assert_eq!(state.metadata, new.metadata, "create keeps the client's metadata, empty values included");
    assert_eq!(state.server_metadata, new.server_metadata, "create keeps the server metadata");
    let (_other, other) = store.create(new).await.expect("create a second upload");
    assert_ne!(id, other, "every upload gets its own id");
}

async fn committed_bytes_count_and_others_do_not<S: Store>(store: &S) {
    let (mut upload, id) = store.create(new_upload(Some(12))).await.expect("create");
    store_bytes(store, &mut upload, 0, b"abcd", false).await;
    store.write(&mut upload, 4, parts(b"zz")).await.expect("write");
    assert_eq!(stat(store, id).await.offset, 4, "stat never shows uncommitted bytes");
    drop(upload);
    let (mut upload, state) = store.open(id).await.expect("open after the holder let go");
    assert_eq!((state.offset, state.finished), (4, false), "bytes written but not committed are forgotten");
    store_bytes(store, &mut upload, 4, b"efgh", false).await;
    store_bytes(store, &mut upload, 8, b"ijkl", true).await;
    drop(upload);
    let (claim, bytes) = claim_bytes(store).await;
    assert_eq!(bytes, b"abcdefghijkl", "the stored bytes are exactly the committed ones");
    claim.finish().await.expect("finish");
}

async fn discard_forgets_uncommitted_bytes<S: Store>(store: &S) {
    let (mut upload, id) = store.create(new_upload(Some(6))).await.expect("create");
    store_bytes(store, &mut upload, 0, b"ab", false).await;
    store.write(&mut upload, 2, parts(b"XXXX")).await.expect("write");
    store.discard(&mut upload).await.expect("discard");
    assert_eq!(stat(store, id).await.offset, 2, "discard does not change the committed state");
    store_bytes(store, &mut upload, 2, b"cdef", true).await;
    drop(upload);
    let (claim, bytes) = claim_bytes(store).await;
    assert_eq!(bytes, b"abcdef", "discarded bytes never reach the upload");
    drop(claim);
}

async fn complete_commit_finishes_and_claim_hands_it_over_once<S: Store>(store: &S) {
    let (mut upload, id) = store.create(new_upload(Some(5))).await.expect("create");
    store_bytes(store, &mut upload, 0, b"hello", true).await;
    drop(upload);
    let state = stat(store, id).await;
    assert!(state.finished && state.offset == 5 && state.length == Some(5), "finished, unclaimed: {state:?}");
    let (mut opened, state) = store.open(id).await.expect("open a finished upload");
    assert!(state.finished, "open answers a finished upload as finished");
    let again = store.commit(&mut opened, 5, true).await.expect("committing a finished upload's offset again");
    assert!(again.finished, "a repeated final commit is a no-op");
    drop(opened);
    let mut claim = store.claim(Duration::from_secs(5)).await.expect("claim").expect("the finished upload");
    assert_eq!(claim.id(), id, "the claim names the upload");
    let record = claim.record();
    assert_eq!((record.length, record.offset), (Some(5), 5), "the claimed record");
    assert!(
        record.finished_at.is_some() && record.duration.is_some(),
        "a finished record has finished_at and duration"
    );
    assert_eq!(record.metadata.get("filename"), Some("kit.bin"), "the claimed record keeps the metadata");
    let dir = tempfile::tempdir().expect("temporary directory");
    claim.save_record(dir.path().join("record")).await.expect("save_record");
    let saved = crate::UploadRecord::from_file(dir.path().join("record")).expect("the saved record reads back");
    assert_eq!(saved.to_json(), claim.record().to_json(), "save_record writes the record");
    assert!(claim.save_record(dir.path().join("again")).await.is_err(), "save_record twice fails");
    claim.save(dir.path().join("data")).await.expect("save");
    assert!(claim.save(dir.path().join("again")).await.is_err(), "save twice fails");
    assert_eq!(std::fs::read(dir.path().join("data")).expect("saved data"), b"hello", "save writes the data");
    assert!(store.claim(Duration::from_millis(200)).await.expect("claim").is_none(), "an upload is claimed once");
    claim.finish().await.expect("finish");
}

async fn empty_and_deferred_uploads_finish<S: Store>(store: &S) {
    let (mut empty, id) = store.create(new_upload(Some(0))).await.expect("create an empty upload");
    assert!(store.commit(&mut empty, 0, true).await.expect("commit").finished, "an empty upload finishes at 0");
    drop(empty);
    assert!(stat(store, id).await.finished, "the empty upload reads as finished");
    let (claim, bytes) = claim_bytes(store).await;
    assert!(bytes.is_empty(), "an empty upload has no bytes");
    claim.finish().await.expect("finish");

    let (mut deferred, id) = store.create(new_upload(None)).await.expect("create with a deferred length");
    assert_eq!(stat(store, id).await.length, None, "a deferred length is unknown");
    store_bytes(store, &mut deferred, 0, b"abc", false).await;
    store_bytes(store, &mut deferred, 3, b"de", true).await;
    drop(deferred);
    assert_eq!(stat(store, id).await.length, Some(5), "completing sets a deferred length to the offset");
    let (claim, bytes) = claim_bytes(store).await;
    assert_eq!(bytes, b"abcde");
    claim.finish().await.expect("finish");
}

async fn unknown_uploads_are_not_found<S: Store>(store: &S) {
    let unknown: UploadId = "00000000-0000-4000-8000-0000000000ff".parse().expect("an id");
    expect_kind(store.stat(unknown).await, FailureKind::NotFound, "stat of an unknown upload");
    expect_kind(store.open(unknown).await.map(|(_, s)| s), FailureKind::NotFound, "open of an unknown upload");
    expect_kind(store.delete(unknown).await, FailureKind::NotFound, "delete of an unknown upload");
}

async fn open_takes_over_from_a_holder_that_lets_go<S: Store>(store: &S) {
    let (mut holder, id) = store.create(new_upload(Some(8))).await.expect("create");
    store.write(&mut holder, 0, parts(b"abc")).await.expect("write");
    assert_eq!(store.release_requested(&holder), ReleaseRequest::None, "nobody asked yet");
    // The holder checks for a release request now and then, as a driver does while a body is silent; when asked,
    // it commits what it stored and lets go.
    let holder_side = async {
        for _ in 0..200 {
            if store.release_requested(&holder) == ReleaseRequest::Takeover {
                let state = store.commit(&mut holder, 3, false).await.expect("the holder's commit");
                drop(holder);
                return Some(state.offset);
            }
            sleep(Duration::from_millis(10)).await;
        }
        None
    };
    let (let_go, opened) = future::zip(holder_side, store.open(id)).await;
    assert_eq!(let_go, Some(3), "open asks the holder to let go");
    let (mut upload, state) = opened.expect("open after the holder let go");
    assert_eq!(state.offset, 3, "the newcomer sees what the holder committed");
    assert!(!store.release_requested(&upload).is_requested(), "the new holder is not asked to let go");
    store_bytes(store, &mut upload, 3, b"defgh", true).await;
}

async fn open_of_a_holder_that_never_lets_go_is_locked<S: Store>(store: &S) {
    let (holder, id) = store.create(new_upload(Some(8))).await.expect("create");
    expect_kind(store.open(id).await.map(|(_, s)| s), FailureKind::Locked, "open of an upload held past the timeout");
    assert!(store.release_requested(&holder).is_requested(), "the holder was asked to let go");
    drop(holder);
    let (_upload, state) = store.open(id).await.expect("open once the holder is gone");
    assert_eq!(state.offset, 0);
}

async fn delete_removes_unfinished_finished_and_held_uploads<S: Store>(store: &S) {
    let (mut unfinished, id) = store.create(new_upload(Some(8))).await.expect("create");
    store_bytes(store, &mut unfinished, 0, b"ab", false).await;
    drop(unfinished);
    store.delete(id).await.expect("delete an unfinished upload");
    expect_kind(store.stat(id).await, FailureKind::Gone, "stat after delete");
    expect_kind(store.open(id).await.map(|(_, s)| s), FailureKind::Gone, "open after delete");
    expect_kind(store.delete(id).await, FailureKind::Gone, "a second delete");

    let (mut finished, id) = store.create(new_upload(Some(2))).await.expect("create");
    store_bytes(store, &mut finished, 0, b"ab", true).await;
    drop(finished);
    store.delete(id).await.expect("delete a finished, unclaimed upload");
    expect_kind(store.stat(id).await, FailureKind::Gone, "stat after deleting a finished upload");
    assert!(store.claim(Duration::from_millis(200)).await.expect("claim").is_none(), "a deleted upload is not claimed");

    let (mut holder, id) = store.create(new_upload(Some(8))).await.expect("create");
    let holder_side = async {
        for _ in 0..200 {
            // A termination asks the holder to stop at once, body silent or not.
            if store.release_requested(&holder) == ReleaseRequest::Terminate {
                store.commit(&mut holder, 0, false).await.expect("the holder's commit");
                drop(holder);
                return true;
            }
            sleep(Duration::from_millis(10)).await;
        }
        false
    };
    let (let_go, deleted) = future::zip(holder_side, store.delete(id)).await;
    assert!(let_go, "delete asks the holder to let go");
    deleted.expect("delete after the holder let go");
    expect_kind(store.stat(id).await, FailureKind::Gone, "stat after deleting a held upload");
}

async fn claims_come_oldest_first_and_each_once<S: Store>(store: &S) {
    let mut ids = Vec::new();
    for byte in [b'1', b'2', b'3'] {
        let (mut upload, id) = store.create(new_upload(Some(1))).await.expect("create");
        store_bytes(store, &mut upload, 0, &[byte], true).await;
        ids.push(id);
        // Finish times a file clock can tell apart.
        sleep(Duration::from_millis(30)).await;
    }
    let (first, second) = future::zip(store.claim(Duration::from_secs(5)), store.claim(Duration::from_secs(5))).await;
    let (first, second) = (first.expect("claim").expect("one"), second.expect("claim").expect("another"));
    let mut got = [first.id(), second.id()];
    got.sort();
    let mut oldest = [ids[0], ids[1]];
    oldest.sort();
    assert_eq!(got, oldest, "two claims at once get the two oldest uploads, one each");
    let third = store.claim(Duration::from_secs(5)).await.expect("claim").expect("the third upload");
    assert_eq!(third.id(), ids[2], "then the youngest");
    assert!(store.claim(Duration::from_millis(200)).await.expect("claim").is_none(), "nothing is left to claim");
    drop((first, second, third));
}

async fn a_claim_ends_with_the_upload_gone<S: Store>(store: &S) {
    // A worker waiting for an upload is woken when one finishes.
    let finisher = async {
        sleep(Duration::from_millis(100)).await;
        let (mut upload, id) = store.create(new_upload(Some(3))).await.expect("create");
        store_bytes(store, &mut upload, 0, b"abc", true).await;
        id
    };
    let (id, claim) = future::zip(finisher, store.claim(Duration::from_secs(10))).await;
    let claim = claim.expect("claim").expect("woken by the finish");
    assert_eq!(claim.id(), id);
    // While a worker holds the claim (saving it, say), a HEAD still finds the upload finished.
    assert!(stat(store, id).await.finished, "finished while claimed");
    drop(claim); // dropped without saving
                 // The data is gone; that it finished is remembered, so a client resuming it is told it is done.
    let state = stat(store, id).await;
    assert!(state.finished && state.offset == 3 && state.length == Some(3), "stat after the claim ended: {state:?}");
    let (_handle, opened) = store.open(id).await.expect("open after the claim ended");
    assert!(opened.finished && opened.offset == 3, "open after the claim ended: {opened:?}");
    expect_kind(store.delete(id).await, FailureKind::Finished, "delete after the claim ended");
    assert!(
        store.claim(Duration::from_millis(200)).await.expect("claim").is_none(),
        "an ended claim is not handed out"
    );
}

async fn sweep_removes_what_is_too_old_and_nothing_else<S: Store>(store: &S) {
    let (mut stale, stale_id) = store.create(new_upload(Some(4))).await.expect("create");
    store_bytes(store, &mut stale, 0, b"ab", false).await;
    drop(stale);
    let (held, held_id) = store.create(new_upload(Some(4))).await.expect("create");
    let (mut finished, finished_id) = store.create(new_upload(Some(1))).await.expect("create");
    store_bytes(store, &mut finished, 0, b"x", true).await;
    drop(finished);

    let config = JanitorConfig::default();
    let swept = store.sweep(&config, SystemTime::now()).await;
    assert!(swept.removed.is_empty() && swept.errors.is_empty(), "nothing is old yet: {swept:?}");

    let later = SystemTime::now() + config.stale_upload_age + Duration::from_secs(60);
    let swept = store.sweep(&config, later).await;
    assert_eq!(swept.ids(SweepReason::Stale), [stale_id], "a stale unfinished upload is removed: {swept:?}");
    assert!(swept.skipped_held >= 1, "a held upload is skipped: {swept:?}");
    expect_kind(store.stat(stale_id).await, FailureKind::Gone, "an expired upload, once swept, is Gone");
    assert_eq!(stat(store, held_id).await.offset, 0, "the held upload is still there");
    assert!(stat(store, finished_id).await.finished, "a finished upload younger than its age stays");

    let much_later = SystemTime::now() + config.completed_file_age + Duration::from_secs(60);
    let swept = store.sweep(&config, much_later).await;
    assert_eq!(swept.ids(SweepReason::Unclaimed), [finished_id], "an old unclaimed upload is removed: {swept:?}");
    assert!(store.claim(Duration::from_millis(200)).await.expect("claim").is_none(), "a swept upload is not claimed");
    drop(held);
}

async fn a_deferred_length_is_declared_once<S: Store>(store: &S) {
    let (mut upload, id) = store.create(new_upload(None)).await.expect("create");
    store_bytes(store, &mut upload, 0, b"abc", false).await;
    assert_eq!(stat(store, id).await.length, None);
    let state = store.declare_length(&mut upload, 5).await.expect("declare the length");
    assert_eq!((state.length, state.offset), (Some(5), 3));
    drop(upload);
    assert_eq!(stat(store, id).await.length, Some(5), "the length is durable once declared");
    let (mut upload, _) = store.open(id).await.expect("open");
    expect_kind(store.declare_length(&mut upload, 6).await, FailureKind::Internal, "a length never changes");
    store_bytes(store, &mut upload, 3, b"de", true).await;
    assert!(stat(store, id).await.finished);
}

async fn stat_takes_in_what_a_silent_holder_stored<S: Store>(store: &S) {
    let (mut holder, id) = store.create(new_upload(Some(8))).await.expect("create");
    store.write(&mut holder, 0, parts(b"abcd")).await.expect("write");
    // The holder's body has gone silent: asked, it commits what it stored and lets go.
    let holder_side = async {
        for _ in 0..100 {
            if store.release_requested(&holder) == ReleaseRequest::Takeover {
                store.commit(&mut holder, 4, false).await.expect("the holder's commit");
                drop(holder);
                return true;
            }
            sleep(Duration::from_millis(10)).await;
        }
        false
    };
    let (let_go, state) = future::zip(holder_side, store.stat(id)).await;
    assert!(let_go, "stat asks a holder to let go");
    assert_eq!(state.expect("stat").offset, 4, "stat answers with what the holder stored");

    // A holder that keeps the upload: stat answers the committed state after at most about STAT_SETTLE.
    let (mut holder, id) = store.create(new_upload(Some(8))).await.expect("create");
    store_bytes(store, &mut holder, 0, b"ab", false).await;
    let started = std::time::Instant::now();
    assert_eq!(stat(store, id).await.offset, 2);
    assert!(started.elapsed() < STAT_SETTLE * 3, "stat waited {:?}", started.elapsed());
    drop(holder);
}

async fn ended_uploads_are_remembered_then_forgotten<S: Store>(store: &S) {
    let (upload, deleted) = store.create(new_upload(Some(4))).await.expect("create");
    drop(upload);
    store.delete(deleted).await.expect("delete");
    let (mut upload, claimed) = store.create(new_upload(Some(1))).await.expect("create");
    store_bytes(store, &mut upload, 0, b"x", true).await;
    drop(upload);
    let claim = store.claim(Duration::from_secs(5)).await.expect("claim").expect("the finished upload");
    claim.finish().await.expect("finish the claim");

    let config = JanitorConfig::default();
    let swept = store.sweep(&config, SystemTime::now()).await;
    assert_eq!(swept.forgotten, 0, "remembered for a while: {swept:?}");
    expect_kind(store.stat(deleted).await, FailureKind::Gone, "a deleted upload, remembered");
    assert!(stat(store, claimed).await.finished, "a claimed upload, remembered");

    let later = SystemTime::now() + config.ended_upload_age + Duration::from_secs(60);
    let swept = store.sweep(&config, later).await;
    assert_eq!(swept.forgotten, 2, "then forgotten: {swept:?}");
    expect_kind(store.stat(deleted).await, FailureKind::NotFound, "a deleted upload, forgotten");
    expect_kind(store.stat(claimed).await, FailureKind::NotFound, "a claimed upload, forgotten");
}

async fn partials_assemble_into_one_final_claimed_once<S: Store>(store: &S) {
    let mut parts = Vec::new();
    for data in [&b"hello "[..], b"world"] {
        let new = new_upload(Some(data.len() as u64)).with_concat(Concat::Partial);
        let (mut upload, id) = store.create(new).await.expect("create a partial");
        store_bytes(store, &mut upload, 0, data, true).await;
        drop(upload);
        let state = stat(store, id).await;
        assert!(state.finished && state.concat == Some(Concat::Partial), "a complete partial: {state:?}");
        parts.push(id);
    }
    assert!(store.claim(Duration::from_millis(200)).await.expect("claim").is_none(), "partials are never claimed");
    // A complete partial nobody assembled can be deleted like any upload of the store.
    let (mut spare, spare_id) = store.create(new_upload(Some(1)).with_concat(Concat::Partial)).await.expect("create");
    store_bytes(store, &mut spare, 0, b"x", true).await;
    drop(spare);
    store.delete(spare_id).await.expect("delete a complete partial");
    expect_kind(store.stat(spare_id).await, FailureKind::Gone, "a deleted partial");

    // A final may name a part twice; one that is not a partial upload is refused, with nothing created.
    let (plain, plain_id) = store.create(new_upload(Some(3))).await.expect("create");
    drop(plain);
    let refused = store.create(new_upload(None).with_concat(Concat::Final(vec![parts[0], plain_id]))).await;
    expect_kind(refused.map(|(_, id)| id), FailureKind::InvalidConcat, "a final naming an ordinary upload");

    let order = vec![parts[0], parts[1], parts[0]];
    let (mut last, id) =
        store.create(new_upload(None).with_concat(Concat::Final(order.clone()))).await.expect("create the final");
    assert_eq!(stat(store, id).await.length, Some(17), "the final's length is its parts'");
    let assembled = store.assemble(&mut last).await.expect("assemble");
    assert!(assembled.finished && assembled.offset == 17, "{assembled:?}");
    drop(last);
    let (claim, bytes) = claim_bytes(store).await;
    assert_eq!(claim.id(), id);
    assert_eq!(bytes, b"hello worldhello ", "the parts, in order");
    claim.finish().await.expect("finish");
    let ended = stat(store, id).await;
    assert!(ended.finished, "a claimed final reads as finished: {ended:?}");
    assert_eq!(ended.concat, Some(Concat::Final(order)), "and still as the final of its parts (HEAD echoes them)");
    expect_kind(store.stat(parts[1]).await, FailureKind::NotFound, "a part is gone once assembled");
}

async fn a_final_of_unfinished_partials_is_assembled_by_the_last_commit<S: Store>(store: &S) {
    let mut parts = Vec::new();
    for length in [3, 4] {
        let (upload, id) = store.create(new_upload(Some(length)).with_concat(Concat::Partial)).await.expect("create");
        parts.push((upload, id));
    }
    let ids = vec![parts[0].1, parts[1].1];
    let (mut last, id) = store.create(new_upload(None).with_concat(Concat::Final(ids))).await.expect("create");
    let pending = store.assemble(&mut last).await.expect("assemble, pending");
    assert!(!pending.finished && pending.length == Some(7), "not assembled while parts are missing: {pending:?}");
    drop(last);
    let (mut second, _) = parts.pop().expect("second");
    let (mut first, _) = parts.pop().expect("first");
    store_bytes(store, &mut second, 0, b"defg", true).await;
    drop(second);
    assert!(!stat(store, id).await.finished, "one part is still missing");
    store_bytes(store, &mut first, 0, b"abc", true).await;
    drop(first);
    let state = stat(store, id).await;
    assert!(state.finished && state.offset == 7, "the last part's commit assembled the final: {state:?}");
    let (claim, bytes) = claim_bytes(store).await;
    assert_eq!((claim.id(), bytes.as_slice()), (id, &b"abcdefg"[..]));
    claim.finish().await.expect("finish");
}
