//! The offload policy of `AsyncFileStore` (`inline_writes`): which calls stay on the calling thread, which still go
//! to the pool, and that both store the same; which calls are the offload's short ones in `InlineWrites::Never`;
//! and that the default, `InlineWrites::WhileFast`, runs short calls inline one after another. A PATCH is the
//! contract's open, write and commit, as the driver runs them.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use common::*;
use futures_lite::future::block_on;
use tus_proto::{FailureKind, Metadata, NewUpload, StoreFailure, UploadId, UploadState};
use tus_storage::{AsyncFileStore, BlockingPool, FileStore, InlineWrites, Offload};
use tus_store::{Store, SMALL_WRITE};

const SMALL: u64 = SMALL_WRITE as u64;

/// The blocking pool, counting the calls handed to it: plain ones and short ones apart.
#[derive(Clone, Default)]
struct Counted {
    plain: Arc<AtomicUsize>,
    short: Arc<AtomicUsize>,
}

impl Counted {
    fn calls(&self) -> usize {
        self.plain.load(Ordering::SeqCst)
    }

    fn short_calls(&self) -> usize {
        self.short.load(Ordering::SeqCst)
    }
}

impl Offload for Counted {
    fn offload<F, T>(&self, f: F) -> impl Future<Output = T> + Send
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.plain.fetch_add(1, Ordering::SeqCst);
        BlockingPool.offload(f)
    }

    fn offload_short<F, T>(&self, f: F) -> impl Future<Output = T> + Send
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.short.fetch_add(1, Ordering::SeqCst);
        BlockingPool.offload(f)
    }
}

/// A store with `mode`.
fn store(dirs: &Dirs, fsync: bool, mode: InlineWrites) -> (AsyncFileStore<Counted>, Counted) {
    let (store, pool) = default_store(dirs, fsync);
    (store.inline_writes(mode), pool)
}

/// A store as `AsyncFileStore::new` makes it.
fn default_store(dirs: &Dirs, fsync: bool) -> (AsyncFileStore<Counted>, Counted) {
    let mut config = dirs.config();
    config.fsync = fsync;
    let pool = Counted::default();
    (AsyncFileStore::new(FileStore::new(config).unwrap(), pool.clone()), pool)
}

fn new_upload(length: Option<u64>) -> NewUpload {
    NewUpload::new(length, Metadata::default(), SystemTime::now())
}

/// A PATCH as the driver runs it: open, write, commit (completing the upload when it reaches its length).
fn patch(store: &AsyncFileStore<Counted>, id: UploadId, offset: u64, data: &[u8]) -> Result<UploadState, StoreFailure> {
    block_on(async {
        let (mut upload, state) = store.open(id).await?;
        let end = offset + data.len() as u64;
        store.write(&mut upload, offset, vec![Bytes::copy_from_slice(data)]).await?;
        store.commit(&mut upload, end, state.length == Some(end)).await
    })
}

/// With fsync on, a small creation is a plain pool call in `mode` (`None`: as `AsyncFileStore::new` makes it).
fn a_synced_creation_is_a_plain_call(mode: Option<InlineWrites>) {
    let dirs = Dirs::new();
    let (synced, pool) = match mode {
        Some(mode) => store(&dirs, true, mode),
        None => default_store(&dirs, true),
    };
    block_on(synced.create(new_upload(Some(3)))).unwrap();
    assert_eq!((pool.short_calls(), pool.calls()), (0, 1), "with fsync every write is a plain call");
}

/// Creates an upload of 3 bytes and PATCHes them whole: the PATCH completes it.
fn create_and_patch_abc(store: &AsyncFileStore<Counted>) -> UploadId {
    let (writer, id) = block_on(store.create(new_upload(Some(3)))).unwrap();
    drop(writer);
    let state = patch(store, id, 0, b"abc").unwrap();
    assert_eq!((state.offset, state.finished), (3, true));
    id
}

#[test]
fn small_creations_and_patches_stay_off_the_pool_and_store_the_same() {
    let dirs = Dirs::new();
    let (store, pool) = store(&dirs, false, InlineWrites::Always);
    let body: Vec<u8> = (0..4096u64).map(|pos| pattern_byte(9, pos)).collect();
    let (writer, id) = block_on(store.create(new_upload(Some(4096)))).unwrap();
    drop(writer);
    assert_eq!(patch(&store, id, 0, &body).unwrap().offset, 4096);
    assert_eq!(pool.calls(), 0, "the creation and the PATCH ran on the calling thread");
    let state = block_on(store.stat(id)).unwrap();
    assert_eq!((state.offset, state.finished), (4096, true));
    let mut claim = store.blocking().wait_for_file(Duration::from_secs(1)).unwrap();
    claim.save(dirs.root.path().join("saved")).unwrap();
    assert_eq!(std::fs::read(dirs.root.path().join("saved")).unwrap(), body);
}

#[test]
fn large_creations_still_go_to_the_pool_and_deferred_lengths_do_not() {
    let dirs = Dirs::new();
    let (store, pool) = store(&dirs, false, InlineWrites::Always);
    block_on(store.create(new_upload(Some(SMALL)))).unwrap();
    block_on(store.create(new_upload(None))).unwrap();
    assert_eq!(pool.calls(), 0);
    block_on(store.create(new_upload(Some(SMALL + 1)))).unwrap();
    assert_eq!(pool.calls(), 1, "a larger preallocation runs on the pool");
}

#[test]
fn with_fsync_on_what_syncs_goes_to_the_pool() {
    let dirs = Dirs::new();
    let (store, pool) = store(&dirs, true, InlineWrites::Always);
    create_and_patch_abc(&store);
    assert_eq!(pool.calls(), 2, "with fsync on, the creation and the commit sync on the pool");
}

/// PATCHes the second half of an upload that another writer holds: the holder commits what it has and lets go once
/// asked, as a PATCH in flight does, and the PATCH then completes the upload.
fn patch_a_held_upload(store: &AsyncFileStore<Counted>) {
    let (mut holder, id) =
        store.blocking().create_with(Some(8), Metadata::default(), Metadata::default(), SystemTime::now()).unwrap();
    let holding = thread::spawn(move || {
        holder.write_at(0, b"1234").unwrap();
        for _ in 0..2000 {
            if holder.release_requested() {
                holder.commit(4, false).unwrap();
                return true;
            }
            thread::sleep(Duration::from_millis(1));
        }
        false
    });
    let state = patch(store, id, 4, b"5678").unwrap();
    assert!(holding.join().unwrap(), "the holder was asked to let go");
    assert_eq!((state.offset, state.finished), (8, true));
}

#[test]
fn a_patch_to_a_held_upload_waits_for_the_holder_on_the_pool() {
    let dirs = Dirs::new();
    let (store, pool) = store(&dirs, false, InlineWrites::Always);
    patch_a_held_upload(&store);
    assert_eq!(pool.calls(), 1, "the wait for the holder ran on the pool");
}

#[test]
fn a_patch_to_an_unknown_upload_answers_not_found_inline() {
    let dirs = Dirs::new();
    let (store, pool) = store(&dirs, false, InlineWrites::Always);
    let unknown = UploadId::from_uuid(uuid::Uuid::from_u128(11));
    assert_eq!(patch(&store, unknown, 0, b"abc").unwrap_err().kind(), FailureKind::NotFound);
    assert_eq!(pool.calls(), 0);
}

#[test]
fn by_default_small_writes_run_inline_one_after_another_and_the_rest_on_the_pool() {
    let dirs = Dirs::new();
    let (store, pool) = default_store(&dirs, false);
    for _ in 0..3 {
        create_and_patch_abc(&store);
    }
    assert_eq!((pool.short_calls(), pool.calls()), (0, 0), "each write let the next one through the gate");
    block_on(store.create(new_upload(Some(SMALL + 1)))).unwrap();
    assert_eq!((pool.short_calls(), pool.calls()), (0, 1), "a larger preallocation is a plain call");
    patch_a_held_upload(&store);
    assert_eq!(pool.calls(), 2, "the wait for a holder ran on the pool");

    a_synced_creation_is_a_plain_call(None);
}

#[test]
fn never_inline_small_writes_are_short_calls_and_the_rest_plain_ones() {
    let dirs = Dirs::new();
    let (store, pool) = store(&dirs, false, InlineWrites::Never);
    let id = create_and_patch_abc(&store);
    assert_eq!((pool.short_calls(), pool.calls()), (4, 0), "a small creation, open, write and commit are short calls");
    let finished = block_on(store.stat(id)).unwrap(); // a finished upload's record is read on the pool
    assert_eq!((finished.offset, finished.finished), (3, true));

    block_on(store.create(new_upload(Some(SMALL + 1)))).unwrap();
    assert_eq!((pool.short_calls(), pool.calls()), (4, 2), "a larger preallocation is a plain call");

    a_synced_creation_is_a_plain_call(Some(InlineWrites::Never));
}

#[test]
fn never_inline_a_held_upload_is_tried_short_then_waited_for_on_the_pool() {
    let dirs = Dirs::new();
    let (store, pool) = store(&dirs, false, InlineWrites::Never);
    patch_a_held_upload(&store);
    assert_eq!(
        (pool.short_calls(), pool.calls()),
        (3, 1),
        "a short try to open, the wait on the pool, a short write and commit"
    );
}
