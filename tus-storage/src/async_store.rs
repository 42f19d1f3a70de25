//! [`AsyncFileStore`] and [`AsyncUploadWriter`]: the blocking core, one [`Offload`] call per operation.
//!
//! The writer's methods move the blocking [`UploadWriter`] into the pool call and take it back afterwards. If such
//! a future is dropped before it finishes, the call still runs to its end on the pool and the writer is then
//! dropped there (unlocking the upload); this async writer then answers every call with an error.

use std::io::IoSlice;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tus_proto::{
    FailureKind, Interruption, NewUpload, Open, Response, StoreFailure, UploadId, UploadState, WholeStorage,
};

use crate::completed::CompletedUpload;
use crate::config::{JanitorConfig, StoreConfig};
use crate::error::StorageError;
use crate::inline_gate::{InlineGate, InlineWrites, Pass};
use crate::janitor::JanitorReport;
use crate::lock::ReleaseWatch;
use crate::offload::Offload;
use crate::store::FileStore;
use crate::writer::UploadWriter;

/// The async front-end of a [`FileStore`]: the same operations as `async fn`s, run through `O`.
#[derive(Clone, Debug)]
pub struct AsyncFileStore<O> {
    store: FileStore,
    offload: O,
    inline_reads: bool,
    inline_writes: InlineWrites,
    /// Shared by this store's clones: for [`InlineWrites::WhileFast`].
    gate: Arc<InlineGate>,
}

/// The most data a small write (see [`AsyncFileStore::inline_writes`]) may touch: the upload's declared length
/// for a creation (its preallocation), the body for a PATCH.
pub const INLINE_WRITE_MAX: u64 = 64 * 1024;

/// Where a small write runs instead of the pool.
#[derive(Debug)]
enum Place<'a> {
    /// On the calling (async) thread: [`AsyncFileStore::inline_writes`]; with the gate's pass when
    /// [`InlineWrites::WhileFast`] let it through, to be dropped once the write is done.
    Inline(Option<Pass<'a>>),
    /// As a short call of the offload ([`Offload::offload_short`]).
    Short,
}

/// Runs `write` on the calling thread, then gives the gate's pass back: the gate learns how long the write took.
fn run_inline<T>(pass: Option<Pass<'_>>, write: impl FnOnce() -> T) -> T {
    let written = write();
    drop(pass);
    written
}

/// The async counterpart of [`UploadWriter`].
#[derive(Debug)]
pub struct AsyncUploadWriter<O> {
    writer: Option<UploadWriter>,
    id: UploadId,
    watch: ReleaseWatch,
    offload: O,
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
        AsyncFileStore {
            store,
            offload,
            inline_reads: false,
            inline_writes: InlineWrites::default(),
            gate: Arc::new(InlineGate::new(1)),
        }
    }

    /// The store's configuration (adapters read [`StoreConfig::batch_size`] here).
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
        }
    }

    /// [`FileStore::create`] on the pool; a small one without fsync inline or as a short call of the offload (see
    /// [`inline_writes`](Self::inline_writes)).
    pub async fn create(&self, new: &NewUpload) -> Result<(AsyncUploadWriter<O>, UploadId), StoreFailure> {
        // A deferred length preallocates nothing.
        let place = self.small_write(new.length.unwrap_or(0));
        let (store, new) = (self.store.clone(), new.clone());
        let create = move || store.create(&new);
        let (writer, id) = match place {
            Some(Place::Inline(pass)) => run_inline(pass, create),
            Some(Place::Short) => self.offload.offload_short(create).await,
            None => self.offload.offload(create).await,
        }?;
        Ok((self.wrap(writer), id))
    }

    /// Where a write touching `bytes` runs when it is small enough to skip the pool: `None` when it is not (or when
    /// fsync is on: a sync can take milliseconds).
    fn small_write(&self, bytes: u64) -> Option<Place<'_>> {
        if self.store.config().fsync || bytes > INLINE_WRITE_MAX {
            return None;
        }
        Some(match self.inline_writes {
            InlineWrites::Never => Place::Short,
            InlineWrites::Always => Place::Inline(None),
            InlineWrites::WhileFast => match self.gate.try_enter() {
                Some(pass) => Place::Inline(Some(pass)),
                None => Place::Short,
            },
        })
    }

    /// Runs [`stat`](Self::stat) on the calling thread instead of the pool.
    ///
    /// Without it, a `stat` the kernel's caches can answer already runs inline, without ever waiting for the disk
    /// (see [`stat`](Self::stat)); this makes the others inline too: finished uploads, and records not in the
    /// page cache. The price: while the disk stalls (a cold cache on a busy disk, a hung network filesystem), the
    /// calling async thread stalls with it, and every connection it serves. Off by default.
    pub fn inline_reads(mut self, inline: bool) -> Self {
        self.inline_reads = inline;
        self
    }

    /// Where small creations and PATCHes run when fsync is off: [`InlineWrites::WhileFast`] by default.
    ///
    /// A creation of at most [`INLINE_WRITE_MAX`] bytes (or of a deferred length), and a PATCH whose body of at
    /// most that size was read whole ([`patch_whole`](Self::patch_whole)) and whose upload nobody holds, are a few
    /// file-system calls into the page cache. Inline, they cost nothing beyond themselves. As short calls of the
    /// offload ([`Offload::offload_short`]; on tokio's multi-thread runtime they run in place while the thread's
    /// other tasks move to another thread, elsewhere on the pool) the hand-off there and back costs a fifth to
    /// over half of the server's CPU per 4 KiB upload from one client (BENCHMARKS.md), but a stalling disk, or
    /// the kernel throttling writers while much data waits for writeback, then never holds up an async thread and
    /// the connections it serves. [`InlineWrites::WhileFast`] runs them inline one at a time (see
    /// [`inline_writes_at_once`](Self::inline_writes_at_once)) and falls back to short
    /// calls after one was slow (see [`InlineWrites`]). A PATCH that would wait for another writer to let go
    /// waits on the pool in every mode. Has no effect while [`StoreConfig::fsync`] is on (a sync can take
    /// milliseconds): every write then goes to the pool.
    pub fn inline_writes(mut self, mode: InlineWrites) -> Self {
        self.inline_writes = mode;
        self
    }

    /// How many small writes [`InlineWrites::WhileFast`] runs inline at once (at least 1; default 1). Give it the
    /// number of threads that each serve their own connections (one single-threaded runtime per thread, as
    /// `tus_tokio::serve_on_threads` runs them), so that no thread hands a write to the pool only because another
    /// thread's write is running. A stalling disk can then catch that many threads at once, each for one write
    /// before the pause. Clones made before this call keep the gate they had.
    pub fn inline_writes_at_once(mut self, writes: usize) -> Self {
        self.gate = Arc::new(InlineGate::new(writes));
        self
    }

    /// A PATCH whose body was read whole beforehand, in one pool call: [`Open::run_whole`] on the blocking store
    /// (open, write, commit) instead of one call each. `ending` says how the body ended. Without fsync, a body of at
    /// most [`INLINE_WRITE_MAX`] bytes whose upload nobody holds runs inline or as a short call of the offload (see
    /// [`inline_writes`](Self::inline_writes)); a held upload waits for its holder on the pool.
    pub async fn patch_whole<B>(&self, open: Open, body: B, ending: Option<Interruption>) -> Response
    where
        B: AsRef<[u8]> + Send + 'static,
    {
        let (open, body) = match self.small_write(body.as_ref().len() as u64) {
            None => (open, body),
            Some(place) => {
                let store = self.store.clone();
                // Only if the lock is free now: waiting for a holder to let go takes up to the release timeout.
                let unless_held = move || match store.open_now(open.id()) {
                    Ok(None) => Err((open, body)),
                    opened => {
                        let opened = opened.map_err(|e| e.with_id(open.id()).to_failure()).transpose();
                        Ok(open.run_whole(body.as_ref(), ending, &mut Opened { opened }))
                    }
                };
                let attempt = match place {
                    Place::Inline(pass) => run_inline(pass, unless_held),
                    Place::Short => self.offload.offload_short(unless_held).await,
                };
                match attempt {
                    Ok(response) => return response,
                    Err(held) => held,
                }
            }
        };
        let mut store = self.store.clone();
        self.offload.offload(move || open.run_whole(body.as_ref(), ending, &mut store)).await
    }

    /// [`FileStore::stat`]: on the calling thread when the kernel's caches can answer without the disk
    /// ([`FileStore::stat_cached`]: an unfinished upload whose record is cached, the usual HEAD), else on the pool
    /// (or inline, see [`inline_reads`](Self::inline_reads)).
    pub async fn stat(&self, id: UploadId) -> Result<UploadState, StoreFailure> {
        if let Some(state) = self.store.stat_cached(id) {
            return Ok(state);
        }
        if self.inline_reads {
            return self.store.stat(id);
        }
        let store = self.store.clone();
        self.offload.offload(move || store.stat(id)).await
    }

    /// [`FileStore::open`] on the pool (which may wait up to the release timeout for a holder to let go).
    pub async fn open(&self, id: UploadId) -> Result<(AsyncUploadWriter<O>, UploadState), StoreFailure> {
        let store = self.store.clone();
        let (writer, state) = self.offload.offload(move || store.open(id)).await?;
        Ok((self.wrap(writer), state))
    }

    /// [`FileStore::wait_for_file`] on the pool. Occupies one pool thread while waiting. Cancel-safe: if this future
    /// is dropped, the pool-side wait stops within half a second, and an upload it claimed meanwhile is released
    /// untouched for another worker.
    pub async fn wait_for_file(&self, timeout: Duration) -> Result<CompletedUpload, StorageError> {
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

    /// [`FileStore::janitor`] on the pool.
    pub async fn janitor(&self, config: &JanitorConfig, now: SystemTime) -> JanitorReport {
        let (store, config) = (self.store.clone(), config.clone());
        self.offload.offload(move || store.janitor(&config, now)).await
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

    /// [`UploadWriter::write_at`] on the pool, with owned data (a `Vec<u8>`, `bytes::Bytes`...).
    pub async fn write_at<B>(&mut self, offset: u64, data: B) -> Result<(), StoreFailure>
    where
        B: AsRef<[u8]> + Send + 'static,
    {
        self.on_pool(move |writer| writer.write_at(offset, data.as_ref())).await
    }

    /// [`UploadWriter::write_vectored_at`] on the pool, with owned parts (the frames of a request body, say).
    pub async fn write_vectored_at<B>(&mut self, offset: u64, parts: Vec<B>) -> Result<(), StoreFailure>
    where
        B: AsRef<[u8]> + Send + 'static,
    {
        self.on_pool(move |writer| {
            let slices: Vec<IoSlice<'_>> = parts.iter().map(|part| IoSlice::new(part.as_ref())).collect();
            writer.write_vectored_at(offset, &slices)
        })
        .await
    }

    /// [`UploadWriter::commit`] on the pool.
    pub async fn commit(&mut self, offset: u64, complete: bool) -> Result<UploadState, StoreFailure> {
        self.on_pool(move |writer| writer.commit(offset, complete)).await
    }

    /// Runs `step` on the blocking writer on the pool. A call cancelled while on the pool loses the writer (and
    /// with it the lock); later calls then fail.
    async fn on_pool<T, F>(&mut self, step: F) -> Result<T, StoreFailure>
    where
        T: Send + 'static,
        F: FnOnce(&mut UploadWriter) -> Result<T, StoreFailure> + Send + 'static,
    {
        let mut writer = self.writer.take().ok_or_else(|| lost(self.id))?;
        let (writer, result) = self
            .offload
            .offload(move || {
                let result = step(&mut writer);
                (writer, result)
            })
            .await;
        self.writer = Some(writer);
        result
    }
}

/// The blocking store runs a whole PATCH for [`Open::run_whole`].
impl WholeStorage for FileStore {
    type Upload = UploadWriter;

    fn open(&mut self, id: UploadId) -> Result<(UploadWriter, UploadState), StoreFailure> {
        FileStore::open(self, id)
    }

    fn write(&mut self, upload: &mut UploadWriter, offset: u64, data: &[u8]) -> Result<(), StoreFailure> {
        upload.write_at(offset, data)
    }

    fn commit(&mut self, upload: &mut UploadWriter, offset: u64, complete: bool) -> Result<UploadState, StoreFailure> {
        upload.commit(offset, complete)
    }
}

/// The blocking store for an inline [`Open::run_whole`], with the upload opened beforehand.
struct Opened {
    opened: Option<Result<(UploadWriter, UploadState), StoreFailure>>,
}

impl WholeStorage for Opened {
    type Upload = UploadWriter;

    fn open(&mut self, id: UploadId) -> Result<(UploadWriter, UploadState), StoreFailure> {
        // `run_whole` opens exactly once; a second open must not wait for a lock on this (async) thread.
        self.opened
            .take()
            .unwrap_or_else(|| Err(StoreFailure::new(FailureKind::Internal, format!("upload {id}: opened twice"))))
    }

    fn write(&mut self, upload: &mut UploadWriter, offset: u64, data: &[u8]) -> Result<(), StoreFailure> {
        upload.write_at(offset, data)
    }

    fn commit(&mut self, upload: &mut UploadWriter, offset: u64, complete: bool) -> Result<UploadState, StoreFailure> {
        upload.commit(offset, complete)
    }
}
