//! The async storage interface the driver needs, and an in-memory backend for tests.

use std::future::Future;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tus_proto::model::{MemoryStore, MemoryUpload};
use tus_proto::{Interruption, NewUpload, Open, Response, StoreFailure, UploadId, UploadState};

/// Async storage of uploads, as the driver uses it. Each method is one step of the protocol core.
///
/// `tus-storage`'s filesystem store implements it ([`FileBackend`](crate::FileBackend)); another backend (object
/// storage, a database) implements the same six methods.
pub trait Store: Send + Sync + 'static {
    /// An upload opened for writing, held exclusively until dropped.
    type Upload: Send + 'static;

    /// Creates an upload; the handle holds it exclusively.
    fn create(&self, new: NewUpload) -> impl Future<Output = Result<(Self::Upload, UploadId), StoreFailure>> + Send;

    /// The committed state of an upload (also a finished one not yet claimed).
    fn stat(&self, id: UploadId) -> impl Future<Output = Result<UploadState, StoreFailure>> + Send;

    /// Opens an upload for writing, taking it over from a stale request within a bounded time.
    fn open(&self, id: UploadId) -> impl Future<Output = Result<(Self::Upload, UploadState), StoreFailure>> + Send;

    /// Writes `parts`, one after another, at `offset` (not yet committed). The parts are the body's frames as
    /// received (small ones gathered together), so a backend can write them without copying them into one buffer.
    fn write(
        &self,
        upload: &mut Self::Upload,
        offset: u64,
        parts: Vec<Bytes>,
    ) -> impl Future<Output = Result<(), StoreFailure>> + Send;

    /// Records `offset` durably, and finalises the upload when `complete`, in one exclusive section.
    fn commit(
        &self,
        upload: &mut Self::Upload,
        offset: u64,
        complete: bool,
    ) -> impl Future<Output = Result<UploadState, StoreFailure>> + Send;

    /// Whether a newer request asked for this upload: the driver then stops reading, commits and lets go.
    fn release_requested(&self, upload: &Self::Upload) -> bool;

    /// A PATCH whose whole (small) body the driver read before opening, with how the body ended: a backend that
    /// blocks answers it in one pool call with [`Open::run_whole`]. The default hands the request back (`Err`),
    /// and the driver goes step by step through the methods above.
    fn patch_whole(
        &self,
        open: Open,
        body: Bytes,
        ending: Option<Interruption>,
    ) -> impl Future<Output = Result<Response, (Open, Bytes)>> + Send {
        let _ = ending;
        std::future::ready(Err((open, body)))
    }
}

/// The model store of `tus-proto`, shared behind a mutex: for tests and examples, nothing is kept on disk.
#[derive(Clone, Debug, Default)]
pub struct MemoryBackend {
    inner: Arc<Mutex<MemoryStore>>,
}

impl MemoryBackend {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f` on the store (to inspect it, or inject failures).
    pub fn with<T>(&self, f: impl FnOnce(&mut MemoryStore) -> T) -> T {
        let mut guard = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }
}

impl Store for MemoryBackend {
    type Upload = MemoryUpload;

    async fn create(&self, new: NewUpload) -> Result<(MemoryUpload, UploadId), StoreFailure> {
        self.with(|s| s.create(&new))
    }

    async fn stat(&self, id: UploadId) -> Result<UploadState, StoreFailure> {
        self.with(|s| s.stat(id))
    }

    async fn open(&self, id: UploadId) -> Result<(MemoryUpload, UploadState), StoreFailure> {
        self.with(|s| s.open(id))
    }

    async fn write(&self, upload: &mut MemoryUpload, offset: u64, parts: Vec<Bytes>) -> Result<(), StoreFailure> {
        self.with(|s| {
            let mut at = offset;
            for part in &parts {
                s.write_at(upload, at, part)?;
                at += part.len() as u64;
            }
            Ok(())
        })
    }

    async fn commit(
        &self,
        upload: &mut MemoryUpload,
        offset: u64,
        complete: bool,
    ) -> Result<UploadState, StoreFailure> {
        self.with(|s| s.commit(upload, offset, complete))
    }

    fn release_requested(&self, _upload: &MemoryUpload) -> bool {
        false
    }
}
