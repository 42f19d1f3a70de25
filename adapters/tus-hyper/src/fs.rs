//! `tus-storage`'s filesystem store as a [`Store`].

use bytes::Bytes;
use tus_proto::{Interruption, NewUpload, Open, Response, StoreFailure, UploadId, UploadState};
use tus_storage::{AsyncFileStore, AsyncUploadWriter, Offload};

use crate::Store;

/// The filesystem store, run on the offload pool `O`.
pub type FileBackend<O> = AsyncFileStore<O>;

impl<O: Offload> Store for AsyncFileStore<O> {
    type Upload = AsyncUploadWriter<O>;

    async fn create(&self, new: NewUpload) -> Result<(Self::Upload, UploadId), StoreFailure> {
        AsyncFileStore::create(self, &new).await
    }

    async fn stat(&self, id: UploadId) -> Result<UploadState, StoreFailure> {
        AsyncFileStore::stat(self, id).await
    }

    async fn open(&self, id: UploadId) -> Result<(Self::Upload, UploadState), StoreFailure> {
        AsyncFileStore::open(self, id).await
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

    fn release_requested(&self, upload: &Self::Upload) -> bool {
        upload.release_requested()
    }

    async fn patch_whole(
        &self,
        open: Open,
        body: Bytes,
        ending: Option<Interruption>,
    ) -> Result<Response, (Open, Bytes)> {
        Ok(AsyncFileStore::patch_whole(self, open, body, ending).await)
    }
}
