//! [`AsyncFileStore`]: the blocking core behind the storage contract ([`tus_store::Store`]), one call of the
//! [`Offload`] per operation — or none, for the short ones the offload policy (`Policy::place`) keeps on the
//! calling thread.
//!
//! The writer's methods move the blocking [`UploadWriter`] into the pool call and take it back afterwards. If such
//! a future is dropped before it finishes, the call still runs to its end on the pool and the writer is then
//! dropped there (unlocking the upload); this async writer then answers every call with an error.

use std::io::IoSlice;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tus_proto::{Concat, FailureKind, NewUpload, StoreFailure, UploadId, UploadState};
use tus_store::{Claim, JanitorConfig, ReleaseRequest, Store, SweepReason, Swept, UploadRecord, SMALL_WRITE};

use crate::completed::CompletedUpload;
use crate::config::StoreConfig;
use crate::error::FileStoreError;
use crate::inline_gate::{InlineGate, InlineWrites, Pass};
use crate::janitor::{JanitorReason, JanitorReport};
use crate::lock::ReleaseWatch;
use crate::offload::Offload;
use crate::store::FileStore;
use crate::writer::UploadWriter;

/// The filesystem store as a [`tus_store::Store`]: the blocking [`FileStore`], its calls run through `O`.
#[derive(Clone, Debug)]
pub struct AsyncFileStore<O> {
    store: FileStore,
    offload: O,
    policy: Policy,
}

/// The offload policy: which calls run on the calling (async) thread, which as short calls of the offload, which
/// on its pool. Decided in `Policy::place` alone.
#[derive(Clone, Debug)]
struct Policy {
    fsync: bool,
    inline_reads: bool,
    inline_writes: InlineWrites,
    /// Shared by the store's clones and its writers: for [`InlineWrites::WhileFast`].
    gate: Arc<InlineGate>,
}

/// One storage call, as the policy sees it.
#[derive(Clone, Copy, Debug)]
enum Work {
    /// A creation preallocating `length` bytes.
    Create { length: u64 },
    /// Opening an upload nobody holds (one that is held is waited for on the pool).
    Open,
    /// Writing `bytes`.
    Write { bytes: u64 },
    /// Committing an offset (finishing included).
    Commit,
    /// Assembling a final upload from its parts: as long as copying them takes.
    Assemble,
}

/// Where a storage call runs.
#[derive(Debug)]
enum Place<'a> {
    /// On the offload's pool.
    Pool,
    /// As a short call of the offload ([`Offload::offload_short`]).
    Short,
    /// On the calling thread; with the gate's pass when [`InlineWrites::WhileFast`] let it through, to be dropped
    /// once the call is done (the gate learns how long it took).
    Inline(Option<Pass<'a>>),
}

impl Policy {
    /// Where `work` runs. A call is short when it waits for no disk flush and touches at most [`SMALL_WRITE`]
    /// bytes: a few file-system calls into the page cache, which cost less than a hand-off to the pool and back.
    /// Short calls run inline as [`InlineWrites`] allows; everything else (a sync can take milliseconds, a large
    /// write or a wait for a holder much longer) runs on the pool.
    fn place(&self, work: Work) -> Place<'_> {
        let short = match work {
            Work::Create { length } => !self.fsync && length <= SMALL_WRITE as u64,
            Work::Open => true,
            Work::Write { bytes } => bytes <= SMALL_WRITE as u64,
            Work::Commit => !self.fsync,
            Work::Assemble => false,
        };
        if !short {
            return Place::Pool;
        }
        match self.inline_writes {
            InlineWrites::Never => Place::Short,
            InlineWrites::Always => Place::Inline(None),
            InlineWrites::WhileFast => self.gate.try_enter().map_or(Place::Short, |pass| Place::Inline(Some(pass))),
        }
    }
}

/// Runs `call` where `place` says.
async fn run<O: Offload, T: Send + 'static>(
    offload: &O,
    place: Place<'_>,
    call: impl FnOnce() -> T + Send + 'static,
) -> T {
    match place {
        Place::Pool => offload.offload(call).await,
        Place::Short => offload.offload_short(call).await,
        Place::Inline(pass) => {
            let result = call();
            drop(pass);
            result
        }
    }
}

/// The async counterpart of [`UploadWriter`]: the [`Store::Upload`] of [`AsyncFileStore`].
#[derive(Debug)]
pub struct AsyncUploadWriter<O> {
    writer: Option<UploadWriter>,
    id: UploadId,
    watch: ReleaseWatch,
    offload: O,
    policy: Policy,
}

fn lost(id: UploadId) -> StoreFailure {
    StoreFailure::new(FailureKind::Internal, format!("upload {id}: writer lost to a cancelled storage call"))
}

/// Sets its flag when dropped: tells a pool-side wait that its async caller is gone.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl<O: Offload> AsyncFileStore<O> {
    /// Wraps a blocking store (open it with [`FileStore::new`] at start-up).
    pub fn new(store: FileStore, offload: O) -> Self {
        let policy = Policy {
            fsync: store.config().fsync,
            inline_reads: false,
            inline_writes: InlineWrites::default(),
            gate: Arc::new(InlineGate::new(1)),
        };
        AsyncFileStore { store, offload, policy }
    }

    /// The store's configuration.
    pub fn config(&self) -> &StoreConfig {
        self.store.config()
    }

    /// The blocking store behind this front-end.
    pub fn blocking(&self) -> &FileStore {
        &self.store
    }

    fn wrap(&self, writer: UploadWriter) -> AsyncUploadWriter<O> {
        AsyncUploadWriter {
            id: writer.id(),
            watch: writer.release_watch(),
            writer: Some(writer),
            offload: self.offload.clone(),
            policy: self.policy.clone(),
        }
    }

    /// Runs `stat` on the calling thread instead of the pool.
    ///
    /// Without it, a `stat` the kernel's caches can answer already runs inline, without ever waiting for the disk;
    /// this makes the others inline too: finished uploads, and records not in the page cache. The price: while the
    /// disk stalls (a cold cache on a busy disk, a hung network filesystem), the calling async thread stalls with
    /// it, and every connection it serves. Off by default.
    pub fn inline_reads(mut self, inline: bool) -> Self {
        self.policy.inline_reads = inline;
        self
    }

    /// Where short calls run (see `Policy::place`: opening an upload nobody holds, writing at most
    /// [`SMALL_WRITE`] bytes, and with fsync off creating an upload that small and committing):
    /// [`InlineWrites::WhileFast`] by default.
    ///
    /// Inline, they cost nothing beyond themselves. As short calls of the offload ([`Offload::offload_short`]; on
    /// tokio's multi-thread runtime they run in place while the thread's other tasks move to another thread,
    /// elsewhere on the pool) the hand-off there and back costs more than the call, but a stalling disk, or the
    /// kernel throttling writers while much data waits for writeback, then never holds up an async thread and the
    /// connections it serves. [`InlineWrites::WhileFast`] runs them inline a bounded number at a time (see
    /// [`inline_writes_at_once`](Self::inline_writes_at_once)) and falls back to short calls after one was slow
    /// (see [`InlineWrites`]). Calls that sync, write more, or wait for another writer to let go always run on the
    /// pool.
    pub fn inline_writes(mut self, mode: InlineWrites) -> Self {
        self.policy.inline_writes = mode;
        self
    }

    /// How many short calls [`InlineWrites::WhileFast`] runs inline at once (at least 1; default 1). Give it the
    /// number of threads that each serve their own connections (one single-threaded runtime per thread, as
    /// `tus_tokio::serve_on_threads` runs them), so that no thread hands a call to the pool only because another
    /// thread's call is running. A stalling disk can then catch that many threads at once, each for one call
    /// before the pause. Clones made before this call keep the gate they had.
    pub fn inline_writes_at_once(mut self, calls: usize) -> Self {
        self.policy.gate = Arc::new(InlineGate::new(calls));
        self
    }

    /// [`FileStore::wait_for_file`] on the pool, as the blocking claim. Occupies one pool thread while waiting.
    /// Cancel-safe: if this future is dropped, the pool-side wait stops within half a second, and an upload it
    /// claimed meanwhile is released untouched for another worker. [`Store::claim`] is the same with async saves.
    pub async fn wait_for_file(&self, timeout: Duration) -> Result<CompletedUpload, FileStoreError> {
        let store = self.store.clone();
        let cancel = Arc::new(AtomicBool::new(false));
        let guard = CancelOnDrop(cancel.clone());
        let claim = self
            .offload
            .offload(move || {
                let mut claim = store.wait_claim(timeout, Some(&cancel))?;
                claim.armed = false;
                Ok(claim)
            })
            .await;
        drop(guard);
        claim.map(|mut claim| {
            claim.armed = true;
            claim
        })
    }

    /// [`FileStore::janitor`] on the pool: what [`Store::sweep`] does, file by file.
    pub async fn janitor(&self, config: &JanitorConfig, now: SystemTime) -> JanitorReport {
        let (store, config) = (self.store.clone(), config.clone());
        self.offload.offload(move || store.janitor(&config, now)).await
    }
}

impl<O: Offload> Store for AsyncFileStore<O> {
    type Upload = AsyncUploadWriter<O>;
    type Claim = FileClaim<O>;

    /// [`FileStore::create`]; short (see `Policy::place`) when fsync is off and the preallocation small.
    async fn create(&self, new: NewUpload) -> Result<(AsyncUploadWriter<O>, UploadId), StoreFailure> {
        let work = match new.concat {
            // Its length is its parts': read from their records, then preallocated.
            Some(Concat::Final(_)) => Work::Assemble,
            // A deferred length preallocates nothing.
            _ => Work::Create { length: new.length.unwrap_or(0) },
        };
        let place = self.policy.place(work);
        let store = self.store.clone();
        let (writer, id) = run(&self.offload, place, move || store.create(&new)).await?;
        Ok((self.wrap(writer), id))
    }

    /// [`FileStore::stat_settled`]: on the calling thread when the kernel's caches can answer without the disk (an
    /// unfinished upload whose record is cached, the usual HEAD), else on the pool (or inline, see
    /// [`inline_reads`](AsyncFileStore::inline_reads)).
    async fn stat(&self, id: UploadId) -> Result<UploadState, StoreFailure> {
        if let Some(state) = self.store.cached_stat(id) {
            return Ok(state);
        }
        if self.policy.inline_reads {
            if let Some(state) = self.store.stat_now(id)? {
                return Ok(state);
            }
        }
        // On the pool, which may wait for a writer to let go.
        let store = self.store.clone();
        self.offload.offload(move || store.stat_settled(id)).await
    }

    /// [`FileStore::open`]: tried without waiting where the policy places short calls, and on the pool (where it
    /// may wait up to the release timeout for a holder to let go) when the upload is held.
    async fn open(&self, id: UploadId) -> Result<(AsyncUploadWriter<O>, UploadState), StoreFailure> {
        let store = self.store.clone();
        let now = run(&self.offload, self.policy.place(Work::Open), move || store.open_now(id)).await;
        let opened = match now.map_err(|e| e.with_id(id).to_failure())? {
            Some(opened) => opened,
            None => {
                let store = self.store.clone();
                self.offload.offload(move || store.open(id)).await?
            }
        };
        let (writer, state) = opened;
        Ok((self.wrap(writer), state))
    }

    async fn write(&self, upload: &mut Self::Upload, offset: u64, parts: Vec<Bytes>) -> Result<(), StoreFailure> {
        upload.write_vectored_at(offset, parts).await
    }

    async fn commit(
        &self,
        upload: &mut Self::Upload,
        offset: u64,
        complete: bool,
    ) -> Result<UploadState, StoreFailure> {
        upload.commit(offset, complete).await
    }

    async fn discard(&self, upload: &mut Self::Upload) -> Result<(), StoreFailure> {
        upload.writer.as_mut().ok_or_else(|| lost(upload.id))?.discard();
        Ok(())
    }

    async fn assemble(&self, upload: &mut Self::Upload) -> Result<UploadState, StoreFailure> {
        upload.run(Work::Assemble, UploadWriter::assemble).await
    }

    async fn declare_length(&self, upload: &mut Self::Upload, length: u64) -> Result<UploadState, StoreFailure> {
        upload.run(Work::Commit, move |writer| writer.declare_length(length)).await
    }

    fn release_requested(&self, upload: &Self::Upload) -> ReleaseRequest {
        upload.watch.request()
    }

    /// [`FileStore::delete`] on the pool.
    async fn delete(&self, id: UploadId) -> Result<(), StoreFailure> {
        let store = self.store.clone();
        self.offload.offload(move || store.delete(id)).await
    }

    /// [`wait_for_file`](AsyncFileStore::wait_for_file), with a timeout answered `None`.
    async fn claim(&self, timeout: Duration) -> Result<Option<FileClaim<O>>, StoreFailure> {
        match self.wait_for_file(timeout).await {
            Ok(claim) => Ok(Some(FileClaim {
                id: claim.id(),
                record: claim.record().clone(),
                claim: Some(claim),
                offload: self.offload.clone(),
            })),
            Err(e) if e.is_timeout() => Ok(None),
            Err(e) => Err(e.to_failure()),
        }
    }

    /// [`FileStore::ready`] on the pool.
    async fn ready(&self) -> Result<(), StoreFailure> {
        let store = self.store.clone();
        self.offload.offload(move || store.ready()).await
    }

    /// [`janitor`](AsyncFileStore::janitor), upload by upload.
    async fn sweep(&self, config: &JanitorConfig, now: SystemTime) -> Swept {
        let report = self.janitor(config, now).await;
        let mut swept = Swept::default();
        for deleted in &report.deleted {
            let reason = match deleted.reason {
                JanitorReason::Stale => SweepReason::Stale,
                JanitorReason::Expired => SweepReason::Unclaimed,
                _ => SweepReason::Leftover,
            };
            if !swept.removed.iter().any(|(id, _)| *id == deleted.id) {
                swept.removed.push((deleted.id, reason));
            }
        }
        swept.skipped_held = report.skipped_locked.len();
        swept.forgotten = report.forgotten;
        swept.errors = report.errors.iter().map(FileStoreError::to_failure).collect();
        swept
    }
}

/// A finished upload claimed from an [`AsyncFileStore`]: the [`CompletedUpload`] with its calls on the pool.
///
/// End it with [`Claim::finish`], which removes its files on the pool. Dropping it unfinished removes them on the
/// dropping thread (two `unlink`s), as a drop cannot wait for the pool.
#[derive(Debug)]
pub struct FileClaim<O> {
    id: UploadId,
    record: UploadRecord,
    /// `None` while a call has it on the pool (for good if that call was cancelled).
    claim: Option<CompletedUpload>,
    offload: O,
}

impl<O: Offload> FileClaim<O> {
    /// The blocking claim (to read its data file directly, say).
    pub fn blocking(&self) -> Option<&CompletedUpload> {
        self.claim.as_ref()
    }

    async fn on_pool(
        &mut self,
        call: impl FnOnce(&mut CompletedUpload) -> Result<(), FileStoreError> + Send + 'static,
    ) -> Result<(), StoreFailure> {
        let id = self.id;
        let lost = || StoreFailure::new(FailureKind::Internal, format!("upload {id}: claim lost to a cancelled call"));
        let mut claim = self.claim.take().ok_or_else(lost)?;
        let (claim, result) = self
            .offload
            .offload(move || {
                let result = call(&mut claim);
                (claim, result)
            })
            .await;
        self.claim = Some(claim);
        result.map_err(|e| e.to_failure())
    }
}

impl<O: Offload> Claim for FileClaim<O> {
    fn id(&self) -> UploadId {
        self.id
    }

    fn record(&self) -> &UploadRecord {
        &self.record
    }

    async fn save(&mut self, dest: PathBuf) -> Result<(), StoreFailure> {
        self.on_pool(move |claim| claim.save(dest)).await
    }

    async fn save_record(&mut self, dest: PathBuf) -> Result<(), StoreFailure> {
        self.on_pool(move |claim| claim.save_record(dest)).await
    }

    async fn finish(mut self) -> Result<(), StoreFailure> {
        let Some(claim) = self.claim.take() else { return Ok(()) };
        self.offload.offload(move || claim.finish()).await.map_err(|e| e.to_failure())
    }
}

impl<O: Offload> AsyncUploadWriter<O> {
    /// The upload's id.
    pub fn id(&self) -> UploadId {
        self.id
    }

    /// Whether another request asked this writer to commit and let go. One `stat(2)` on the calling thread; use
    /// [`release_watch`](Self::release_watch) to check from elsewhere.
    pub fn release_requested(&self) -> bool {
        self.watch.is_requested()
    }

    /// A cloneable handle for the same check.
    pub fn release_watch(&self) -> ReleaseWatch {
        self.watch.clone()
    }

    /// Whether the upload is finalised; `None` if the writer was lost to a cancelled call.
    pub fn is_finished(&self) -> Option<bool> {
        self.writer.as_ref().map(UploadWriter::is_finished)
    }

    /// The committed state; `None` if the writer was lost to a cancelled call.
    pub fn state(&self) -> Option<UploadState> {
        self.writer.as_ref().map(UploadWriter::state)
    }

    /// The blocking writer back (`None` if it was lost to a cancelled call).
    pub fn into_blocking(self) -> Option<UploadWriter> {
        self.writer
    }

    /// [`UploadWriter::write_at`] where the offload policy places it, with owned data (a `Vec<u8>`, `bytes::Bytes`...).
    pub async fn write_at<B>(&mut self, offset: u64, data: B) -> Result<(), StoreFailure>
    where
        B: AsRef<[u8]> + Send + 'static,
    {
        let bytes = data.as_ref().len() as u64;
        self.run(Work::Write { bytes }, move |writer| writer.write_at(offset, data.as_ref())).await
    }

    /// [`UploadWriter::write_vectored_at`] where the offload policy places it, with owned parts (the frames of a request body, say).
    pub async fn write_vectored_at<B>(&mut self, offset: u64, parts: Vec<B>) -> Result<(), StoreFailure>
    where
        B: AsRef<[u8]> + Send + 'static,
    {
        let bytes = parts.iter().map(|part| part.as_ref().len() as u64).sum();
        self.run(Work::Write { bytes }, move |writer| {
            let slices: Vec<IoSlice<'_>> = parts.iter().map(|part| IoSlice::new(part.as_ref())).collect();
            writer.write_vectored_at(offset, &slices)
        })
        .await
    }

    /// [`UploadWriter::commit`] where the offload policy places it.
    pub async fn commit(&mut self, offset: u64, complete: bool) -> Result<UploadState, StoreFailure> {
        self.run(Work::Commit, move |writer| writer.commit(offset, complete)).await
    }

    /// Runs `step` on the blocking writer where the policy places `work`. A call cancelled while on the pool loses
    /// the writer (and with it the lock); later calls then fail.
    async fn run<T, F>(&mut self, work: Work, step: F) -> Result<T, StoreFailure>
    where
        T: Send + 'static,
        F: FnOnce(&mut UploadWriter) -> Result<T, StoreFailure> + Send + 'static,
    {
        let mut writer = self.writer.take().ok_or_else(|| lost(self.id))?;
        let place = self.policy.place(work);
        let (writer, result) = run(&self.offload, place, move || {
            let result = step(&mut writer);
            (writer, result)
        })
        .await;
        self.writer = Some(writer);
        result
    }
}
