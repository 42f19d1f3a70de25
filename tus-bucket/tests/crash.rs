//! Instances that die (and, at the end, their file workers): an instance is simulated by a [`BucketStore`] on a shared bucket (object_store's
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
use tus_proto::{FailureKind, Metadata, NewUpload, UploadId};
use tus_store::{Claim as _, Store as _};

/// The shared bucket as one instance sees it: every call fails once `dead`; with `die_after_complete`, the
/// instance dies the moment a multipart upload is completed (before it can record that).
#[derive(Debug)]
struct Mortal {
    bucket: Arc<InMemory>,
    dead: AtomicBool,
    die_after_complete: AtomicBool,
    /// Die at the first tombstone (`ended/<id>`) written: a claim's end, after the worker delivered the upload.
    die_at_tombstone: AtomicBool,
    /// Fail the next tombstone write, and only that one (the flag is cleared when it fails); from then on every
    /// listing fails too, until `lists_fail` is cleared: the instance's workers cannot claim anything meanwhile.
    fail_tombstone_once: AtomicBool,
    lists_fail: AtomicBool,
}

impl Mortal {
    fn new(bucket: &Arc<InMemory>) -> Arc<Mortal> {
        Arc::new(Mortal {
            bucket: bucket.clone(),
            dead: AtomicBool::new(false),
            die_after_complete: false.into(),
            die_at_tombstone: false.into(),
            fail_tombstone_once: false.into(),
            lists_fail: false.into(),
        })
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
        let tombstone = location.as_ref().contains("/ended/");
        if self.die_at_tombstone.load(Ordering::SeqCst) && tombstone {
            self.dead.store(true, Ordering::SeqCst);
        }
        if tombstone && self.fail_tombstone_once.swap(false, Ordering::SeqCst) {
            self.lists_fail.store(true, Ordering::SeqCst);
            return Err(object_store::Error::Generic { store: "mortal", source: "a failed write".into() });
        }
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
        if self.dead.load(Ordering::SeqCst) || self.lists_fail.load(Ordering::SeqCst) {
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

/// An instance with a worker name (`BucketConfig::worker_name`), on the shared bucket.
fn named(bucket: &Arc<InMemory>, name: &str) -> (Arc<Mortal>, BucketStore) {
    let mortal = Mortal::new(bucket);
    let mut config = config();
    config.worker_name = Some(name.to_owned());
    config.claim_grace = Duration::from_secs(4);
    (mortal.clone(), BucketStore::new(mortal, "up", config))
}

/// Writes and finishes an upload of `wxyz`, named `c.bin`, on `store`.
async fn finished_upload(store: &BucketStore) -> UploadId {
    let (mut upload, id) = store.create(new_upload(4)).await.expect("create");
    store.write(&mut upload, 0, vec![Bytes::from_static(b"wxyz")]).await.expect("write");
    assert!(store.commit(&mut upload, 4, true).await.expect("commit").finished);
    id
}

/// Instance `a` finishes an upload and its worker claims it, then the instance is killed holding the claim.
async fn killed_while_claiming(a: &BucketStore, mortal: &Mortal) -> UploadId {
    let id = finished_upload(a).await;
    let claim = a.claim(Duration::from_secs(5)).await.expect("claim").expect("the finished upload");
    assert_eq!(claim.id(), id);
    mortal.dead.store(true, Ordering::SeqCst);
    drop(claim);
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_workers_claim_goes_back_to_its_name_first() {
    let bucket = Arc::new(InMemory::new());
    let (first, a) = named(&bucket, "dest-a");
    let (_, b) = named(&bucket, "dest-b");
    let killed = Instant::now();
    let id = killed_while_claiming(&a, &first).await;

    // The other name waits past the dead claim's lease (2 s), within its grace (4 s more).
    let early = b.claim(Duration::from_secs(3)).await.expect("claim");
    assert!(early.is_none(), "another worker name took the dead worker's claim after {:?}", killed.elapsed());
    // The dead instance, restarted under its name, is given its claim back.
    let (_, a_again) = named(&bucket, "dest-a");
    let claim = a_again.claim(Duration::from_secs(3)).await.expect("claim").expect("its own claim back");
    let took = killed.elapsed();
    assert_eq!(claim.id(), id);
    assert!(took < Duration::from_secs(5), "within the grace: {took:?}");
    claim.finish().await.expect("finish");
    assert!(b.claim(Duration::from_secs(4)).await.expect("claim").is_none(), "handed off once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_workers_claim_goes_to_any_worker_after_the_grace() {
    let bucket = Arc::new(InMemory::new());
    let (first, a) = named(&bucket, "dest-a");
    let (_, b) = named(&bucket, "dest-b");
    let killed = Instant::now();
    let id = killed_while_claiming(&a, &first).await;

    let claim = b.claim(Duration::from_secs(10)).await.expect("claim").expect("taken over after the grace");
    let took = killed.elapsed();
    assert_eq!(claim.id(), id);
    // The lease ran out between 2/3 and 1 lease (2 s) after the kill, renewed every third; then the 4 s grace.
    assert!(took >= Duration::from_millis(5_200), "not before the grace ran out: {took:?}");
    assert!(took < Duration::from_secs(9), "soon after it: {took:?}");
    let dest = std::env::temp_dir().join(format!("tus-bucket-crash-{}", uuid::Uuid::new_v4()));
    let mut claim = claim;
    claim.save(dest.clone()).await.expect("save");
    assert_eq!(std::fs::read(&dest).expect("read"), b"wxyz", "never lost");
    let _ = std::fs::remove_file(&dest);
    claim.finish().await.expect("finish");
}

/// Runs the library's file worker on `store`, delivering into `dest`, until the returned sender is dropped.
fn file_worker(
    store: BucketStore,
    dest: &std::path::Path,
) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let app = Arc::new(tus_tokio::TusApp::builder(store).build().expect("app"));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        let _ = stop_rx.await;
    };
    (stop_tx, tokio::spawn(tus_tokio::deliver_finished(app, tus_tokio::runtime(), dest.to_owned(), stop)))
}

/// Tells the workers to stop and waits for them.
async fn stop_workers<const N: usize>(workers: [(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>); N]) {
    for (stop, worker) in workers {
        drop(stop);
        tokio::time::timeout(Duration::from_secs(10), worker)
            .await
            .expect("a worker stops when told")
            .expect("no panic");
    }
}

/// The names in `dir`, sorted.
fn names(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> = entries.map(|e| e.expect("entry").file_name().into_string().expect("utf-8")).collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_after_delivering_is_not_delivered_again() {
    let bucket = Arc::new(InMemory::new());
    let (first, a) = named(&bucket, "dest-a");
    let (dest_a, dest_b) = (tempfile::tempdir().expect("dest a"), tempfile::tempdir().expect("dest b"));
    finished_upload(&a).await;

    // Instance A's worker publishes c.bin, and the instance dies as it ends the claim.
    first.die_at_tombstone.store(true, Ordering::SeqCst);
    let (stop_a, worker_a) = file_worker(a, dest_a.path());
    let started = Instant::now();
    while !first.dead.load(Ordering::SeqCst) {
        assert!(started.elapsed() < Duration::from_secs(5), "A's worker did not get to ending its claim");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed = Instant::now();
    assert!(dest_a.path().join("c.bin").exists(), "published before the claim's end");
    // B's worker (another name) from now on: the claim is A's, dead.
    let (_, b) = named(&bucket, "dest-b");
    let (stop_b, worker_b) = file_worker(b, dest_b.path());
    drop(stop_a);
    let stopped = tokio::time::timeout(Duration::from_secs(5), worker_a).await;
    stopped.expect("A's worker stops when told, its store failing").expect("no panic");

    // A again, on the same dest dir and name: given the claim back once its lease ran out, it finds c.bin there
    // and ends the claim, before B's worker may take it (lease + grace: 6 s).
    let (_, a_again) = named(&bucket, "dest-a");
    let (stop_again, worker_again) = file_worker(a_again, dest_a.path());
    let staging = dest_a.path().join(".tussi-partial");
    while !names(&staging).is_empty() {
        assert!(killed.elapsed() < Duration::from_secs(5), "the claim was not ended: {:?} staged", names(&staging));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Past the grace: had the claim not ended, B's worker would have taken it by now.
    tokio::time::sleep(Duration::from_secs(7).saturating_sub(killed.elapsed())).await;
    stop_workers([(stop_again, worker_again), (stop_b, worker_b)]).await;
    assert_eq!(names(dest_a.path()), [".tussi-partial", "c.bin", "c.bin.meta"], "delivered once, into A's dest dir");
    assert_eq!(std::fs::read(dest_a.path().join("c.bin")).expect("c.bin"), b"wxyz");
    assert!(names(dest_b.path()).is_empty(), "and not again into B's: {:?}", names(dest_b.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_whose_end_failed_goes_back_to_its_own_worker() {
    let bucket = Arc::new(InMemory::new());
    let (first, a) = named(&bucket, "dest-a");
    let (dest_a, dest_b) = (tempfile::tempdir().expect("dest a"), tempfile::tempdir().expect("dest b"));
    finished_upload(&a).await;

    // A's worker publishes c.bin; ending the claim fails (the store refuses one write, then A's listings for a
    // while), and the worker is stopped (a server shutting down, say).
    first.fail_tombstone_once.store(true, Ordering::SeqCst);
    let (stop_a, worker_a) = file_worker(a.clone(), dest_a.path());
    let started = Instant::now();
    while first.fail_tombstone_once.load(Ordering::SeqCst) {
        assert!(started.elapsed() < Duration::from_secs(5), "A's worker did not get to ending its claim");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let failed = Instant::now();
    drop(stop_a);
    tokio::time::timeout(Duration::from_secs(5), worker_a).await.expect("A's worker stops").expect("no panic");
    assert!(dest_a.path().join("c.bin").exists(), "published before the claim's end");
    first.lists_fail.store(false, Ordering::SeqCst);

    // B's worker (another name) runs past the claim's lease: the claim was left to run out, not freed, so it
    // waits for A's name.
    let (_, b) = named(&bucket, "dest-b");
    let (stop_b, worker_b) = file_worker(b, dest_b.path());
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(failed.elapsed())).await;
    let (stop_again, worker_again) = file_worker(a, dest_a.path());
    let staging = dest_a.path().join(".tussi-partial");
    while !names(&staging).is_empty() {
        assert!(failed.elapsed() < Duration::from_secs(6), "the claim was not ended: {:?} staged", names(&staging));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_workers([(stop_again, worker_again), (stop_b, worker_b)]).await;
    assert_eq!(names(dest_a.path()), [".tussi-partial", "c.bin", "c.bin.meta"], "delivered once, into A's dest dir");
    assert!(names(dest_b.path()).is_empty(), "and not into B's: {:?}", names(dest_b.path()));
}
