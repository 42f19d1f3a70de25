//! Instances that die: an instance is simulated by a [`BucketStore`] on a shared bucket (object_store's
//! `InMemory`) seen through [`Mortal`], which fails every call once the instance is "killed" — its requests, its
//! lease renewals and its lease's release alike, as a SIGKILL would. Another instance on the same bucket then has
//! to take over: after the dead holder's lease runs out, never before, and from what was committed.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt as _;
use object_store::memory::InMemory;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartId, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use tus_bucket::{BucketConfig, BucketStore};
use tus_proto::{FailureKind, Metadata, NewUpload};
use tus_store::{Claim as _, Store as _};

/// The shared bucket as one instance sees it: every call fails once `dead`; with `die_after_complete`, the
/// instance dies the moment a multipart upload is completed (before it can record that).
#[derive(Debug)]
struct Mortal {
    bucket: Arc<InMemory>,
    dead: AtomicBool,
    die_after_complete: AtomicBool,
}

impl Mortal {
    fn new(bucket: &Arc<InMemory>) -> Arc<Mortal> {
        Arc::new(Mortal { bucket: bucket.clone(), dead: AtomicBool::new(false), die_after_complete: false.into() })
    }

    fn check(&self) -> Result<()> {
        if self.dead.load(Ordering::SeqCst) {
            return Err(object_store::Error::Generic { store: "mortal", source: "the instance was killed".into() });
        }
        Ok(())
    }
}

impl fmt::Display for Mortal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mortal({})", self.bucket)
    }
}

#[async_trait]
impl ObjectStore for Mortal {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.check()?;
        self.bucket.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.check()?;
        self.bucket.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.check()?;
        self.bucket.get_opts(location, options).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        if self.dead.load(Ordering::SeqCst) {
            return futures_util::stream::once(async { self_dead() }).boxed();
        }
        self.bucket.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        if self.dead.load(Ordering::SeqCst) {
            return futures_util::stream::once(async { self_dead() }).boxed();
        }
        self.bucket.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.check()?;
        self.bucket.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.check()?;
        self.bucket.copy_opts(from, to, options).await
    }
}

fn self_dead<T>() -> Result<T> {
    Err(object_store::Error::Generic { store: "mortal", source: "the instance was killed".into() })
}

#[async_trait]
impl MultipartStore for Mortal {
    async fn create_multipart(&self, path: &Path) -> Result<MultipartId> {
        self.check()?;
        self.bucket.create_multipart(path).await
    }

    async fn put_part(&self, path: &Path, id: &MultipartId, part_idx: usize, data: PutPayload) -> Result<PartId> {
        self.check()?;
        self.bucket.put_part(path, id, part_idx, data).await
    }

    async fn complete_multipart(&self, path: &Path, id: &MultipartId, parts: Vec<PartId>) -> Result<PutResult> {
        self.check()?;
        let result = self.bucket.complete_multipart(path, id, parts).await;
        if self.die_after_complete.load(Ordering::SeqCst) {
            self.dead.store(true, Ordering::SeqCst);
        }
        result
    }

    async fn abort_multipart(&self, path: &Path, id: &MultipartId) -> Result<()> {
        self.check()?;
        self.bucket.abort_multipart(path, id).await
    }
}

fn config() -> BucketConfig {
    let mut config = BucketConfig::default();
    config.part_size = 4;
    config.lease = Duration::from_secs(2);
    config.poll = Duration::from_millis(50);
    config.release_timeout = Duration::from_secs(4);
    config
}

fn new_upload(length: u64) -> NewUpload {
    NewUpload::new(Some(length), Metadata::from_iter([("filename", "c.bin")]), SystemTime::now())
}

async fn claimed_bytes(store: &BucketStore) -> Vec<u8> {
    let mut claim = store.claim(Duration::from_secs(5)).await.expect("claim").expect("a finished upload");
    let dest = std::env::temp_dir().join(format!("tus-bucket-crash-{}", uuid::Uuid::new_v4()));
    claim.save(dest.clone()).await.expect("save");
    let bytes = std::fs::read(&dest).expect("read");
    let _ = std::fs::remove_file(&dest);
    claim.finish().await.expect("finish");
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_holder_is_taken_over_after_its_lease_from_what_it_committed() {
    let bucket = Arc::new(InMemory::new());
    let (first, second) = (Mortal::new(&bucket), Mortal::new(&bucket));
    let a = BucketStore::new(first.clone(), "up", config());
    let b = BucketStore::new(second, "up", config());

    let (mut upload, id) = a.create(new_upload(12)).await.expect("create");
    a.write(&mut upload, 0, vec![Bytes::from_static(b"abcdef")]).await.expect("write");
    a.commit(&mut upload, 6, false).await.expect("commit a part and a tail");
    // Four more bytes: a second part sent (from the tail on), never committed.
    a.write(&mut upload, 6, vec![Bytes::from_static(b"GHIJ")]).await.expect("write");
    // Killed while holding it: the lease is never freed, and the uncommitted bytes are lost.
    first.dead.store(true, Ordering::SeqCst);
    drop(upload);

    let started = Instant::now();
    let (mut upload, state) = b.open(id).await.expect("the other instance takes over");
    let waited = started.elapsed();
    assert_eq!(state.offset, 6, "it continues from what the dead holder committed");
    assert!(waited >= Duration::from_millis(500), "not before the dead holder's lease ran out: {waited:?}");
    assert!(waited < config().release_timeout, "within the release timeout: {waited:?}");
    b.write(&mut upload, 6, vec![Bytes::from_static(b"ghijkl")]).await.expect("write");
    assert!(b.commit(&mut upload, 12, true).await.expect("commit").finished);
    drop(upload);
    assert_eq!(claimed_bytes(&b).await, b"abcdefghijkl");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_right_after_completing_is_finished_by_the_next_one() {
    let bucket = Arc::new(InMemory::new());
    let (first, second) = (Mortal::new(&bucket), Mortal::new(&bucket));
    let a = BucketStore::new(first.clone(), "up", config());
    let b = BucketStore::new(second, "up", config());

    let (mut upload, id) = a.create(new_upload(10)).await.expect("create");
    first.die_after_complete.store(true, Ordering::SeqCst);
    a.write(&mut upload, 0, vec![Bytes::from_static(b"0123456789")]).await.expect("write");
    let failed = a.commit(&mut upload, 10, true).await;
    assert!(failed.is_err(), "the dying instance cannot record the finish");
    drop(upload);

    // A HEAD on the other instance finishes it (after the dead holder's lease) instead of asking for bytes again.
    let state = b.stat(id).await.expect("stat");
    assert!(state.finished && state.offset == 10, "finished by the next instance: {state:?}");
    assert_eq!(claimed_bytes(&b).await, b"0123456789", "every byte, handed over once");
    assert!(b.claim(Duration::from_millis(300)).await.expect("claim").is_none(), "and only once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_that_lost_its_lease_cannot_commit_over_its_successor() {
    let bucket = Arc::new(InMemory::new());
    let (first, second) = (Mortal::new(&bucket), Mortal::new(&bucket));
    let a = BucketStore::new(first.clone(), "up", config());
    let b = BucketStore::new(second, "up", config());

    let (mut stale, id) = a.create(new_upload(8)).await.expect("create");
    a.write(&mut stale, 0, vec![Bytes::from_static(b"ab")]).await.expect("write");
    a.commit(&mut stale, 2, false).await.expect("commit");
    // The instance stalls (a long pause: it reaches nothing), its lease runs out, another takes over and commits.
    first.dead.store(true, Ordering::SeqCst);
    let (mut fresh, state) = b.open(id).await.expect("take over");
    assert_eq!(state.offset, 2);
    b.write(&mut fresh, 2, vec![Bytes::from_static(b"cd")]).await.expect("write");
    b.commit(&mut fresh, 4, false).await.expect("commit");
    // The stalled instance comes back and tries to commit bytes of its own: refused, by the lease or by the
    // conditional write of the info — never over the successor's commit.
    first.dead.store(false, Ordering::SeqCst);
    let result = async {
        a.write(&mut stale, 2, vec![Bytes::from_static(b"XY")]).await?;
        a.commit(&mut stale, 4, false).await
    };
    let error = result.await.expect_err("the stale holder's commit");
    assert_eq!(error.kind(), FailureKind::Locked, "{error}");
    drop((stale, fresh));
    assert_eq!(b.stat(id).await.expect("stat").offset, 4);
    let (mut upload, _) = b.open(id).await.expect("open");
    b.write(&mut upload, 4, vec![Bytes::from_static(b"efgh")]).await.expect("write");
    b.commit(&mut upload, 8, true).await.expect("commit");
    drop(upload);
    assert_eq!(claimed_bytes(&b).await, b"abcdefgh", "the successor's bytes, none of the stale holder's");
}
