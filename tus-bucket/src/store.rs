//! [`BucketStore`]: the [`Store`] contract on an object store — creating, reading, opening and deleting uploads;
//! the writes live in [`upload`](crate::upload), the hand-off in [`claim`](crate::claim), the janitor's side in
//! [`sweep`](crate::sweep).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::TryStreamExt as _;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::ObjectStoreExt as _;
use object_store::{ObjectStore, PutMode};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore};
use tus_proto::{Concat, FailureKind, NewUpload, StoreFailure, UploadId, UploadState};
use tus_store::{JanitorConfig, ReleaseRequest, Store, Swept, UploadRecord, STAT_SETTLE};

use crate::claim::BucketClaim;
use crate::info::{Info, InfoDoc};
use crate::io::{delete_if_there, failure, get_json, put_json, store_error};
use crate::layout::Layout;
use crate::lease::{Lease, Leases, Refused, Timing};
use crate::upload::BucketUpload;
use crate::BucketConfig;

/// Uploads in a bucket, shared by every instance that uses the same store and prefix. Cloning is cheap (the
/// clones share everything).
#[derive(Clone)]
pub struct BucketStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) objects: Arc<dyn ObjectStore>,
    pub(crate) multipart: Arc<dyn MultipartStore>,
    pub(crate) layout: Layout,
    pub(crate) config: BucketConfig,
    pub(crate) leases: Leases,
    /// The memory budget of part buffers, in KiB.
    pub(crate) budget: Arc<Semaphore>,
    /// Woken when this instance finishes an upload (workers on other instances notice at their next listing).
    pub(crate) finished: Notify,
}

/// How long a readiness check waits for the store: a load balancer's check must get an answer, not hang.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// What is remembered of an upload that ended: `ended/<id>`.
#[derive(Serialize, Deserialize)]
pub(crate) struct Ended {
    /// Claimed by a worker (else deleted or expired).
    pub(crate) finished: bool,
    pub(crate) length: u64,
    /// A final upload's parts, in order: a HEAD after the claim still answers it as the final it was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) final_parts: Vec<String>,
}

impl Ended {
    /// What to remember of the upload `info` describes once it ends.
    pub(crate) fn of(info: &Info, finished: bool) -> Self {
        let final_parts = match &info.record.concat {
            Some(Concat::Final(parts)) => parts.iter().map(UploadId::to_string).collect(),
            _ => Vec::new(),
        };
        Ended { finished, length: info.record.length.unwrap_or(info.record.offset), final_parts }
    }
}

impl std::fmt::Debug for BucketStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketStore").field("objects", &self.inner.objects.to_string()).finish_non_exhaustive()
    }
}

impl BucketStore {
    /// A store of uploads under `prefix` (a path in the bucket; `""` for its root) of `objects`.
    pub fn new<T: ObjectStore + MultipartStore>(objects: Arc<T>, prefix: &str, config: BucketConfig) -> Self {
        let budget_kib = (config.memory_budget / 1024).clamp(1, Semaphore::MAX_PERMITS);
        let timing = Timing { lease: config.lease, poll: config.poll };
        BucketStore {
            inner: Arc::new(Inner {
                objects: objects.clone(),
                multipart: objects.clone(),
                layout: Layout::new(Path::from(prefix)),
                config,
                leases: Leases::new(objects, timing),
                budget: Arc::new(Semaphore::new(budget_kib)),
                finished: Notify::new(),
            }),
        }
    }

    /// A store on S3 or an S3-compatible server at `url` (`s3://bucket/prefix`), configured by the usual `AWS_*`
    /// environment variables: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, and for other servers
    /// `AWS_ENDPOINT` (with `AWS_ALLOW_HTTP=true` for plain http).
    #[cfg(feature = "aws")]
    pub fn s3_from_env(url: &str, config: BucketConfig) -> Result<Self, object_store::Error> {
        let bad = |why: &str| object_store::Error::Generic {
            store: "S3",
            source: format!("{url:?} is not an s3://bucket/prefix address: {why}").into(),
        };
        let rest = url.strip_prefix("s3://").ok_or_else(|| bad("it does not start with s3://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket"));
        }
        // Retries bounded well below a client's patience: a store that stays down answers 503 within seconds
        // instead of holding every request for the default three minutes.
        let retry =
            object_store::RetryConfig { max_retries: 3, retry_timeout: Duration::from_secs(20), ..Default::default() };
        let s3 = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket).with_retry(retry).build()?;
        Ok(BucketStore::new(Arc::new(s3), prefix.trim_matches('/'), config))
    }

    /// The settings this store runs with.
    pub fn config(&self) -> &BucketConfig {
        &self.inner.config
    }
}

impl Inner {
    /// The committed info of `id`, with its version; `None` when the upload has no info (never was, or ended).
    pub(crate) async fn read_info(
        &self,
        id: UploadId,
    ) -> Result<Option<(Info, object_store::UpdateVersion)>, StoreFailure> {
        let read = get_json::<InfoDoc>(self.objects.as_ref(), &self.layout.info(id)).await;
        match read.map_err(|e| store_error(id, "reading its info", e))? {
            Some(doc) => Ok(Some((Info::from_doc(id, doc.value)?, doc.version))),
            None => Ok(None),
        }
    }

    /// The state of an upload without info: remembered as ended (finished, or `Gone`) or `NotFound`.
    pub(crate) async fn ended_state(&self, id: UploadId) -> Result<UploadState, StoreFailure> {
        let read = get_json::<Ended>(self.objects.as_ref(), &self.layout.ended(id)).await;
        match read.map_err(|e| store_error(id, "reading its tombstone", e))? {
            Some(ended) if ended.value.finished => {
                let mut state = UploadState::done(id, ended.value.length);
                if !ended.value.final_parts.is_empty() {
                    let parts = ended.value.final_parts.iter().map(|part| part.parse());
                    let parts = parts.collect::<Result<_, _>>();
                    let parts = parts.map_err(|_| failure(FailureKind::Internal, id, "damaged tombstone"))?;
                    state.concat = Some(Concat::Final(parts));
                }
                Ok(state)
            }
            Some(_) => Err(failure(FailureKind::Gone, id, "deleted")),
            None => Err(failure(FailureKind::NotFound, id, "no such upload")),
        }
    }

    /// Takes the lease of `id` for writing, asking a holder to let go with `ask` and waiting for it up to the
    /// release timeout.
    pub(crate) async fn lease(&self, id: UploadId, ask: ReleaseRequest) -> Result<Lease, StoreFailure> {
        let deadline = Instant::now() + self.config.release_timeout;
        let path = self.layout.lock(id);
        match self.leases.acquire(path, Some(ask), Some(deadline)).await {
            Ok(lease) => Ok(lease),
            Err(Refused::Held) => Err(failure(FailureKind::Locked, id, "another request holds it")),
            Err(Refused::Store(e)) => Err(store_error(id, "taking its lease", e)),
        }
    }

    /// Removes every object of upload `id` (aborting its multipart upload) and remembers it as ended; `lease` is
    /// the caller's lease of it, if any.
    pub(crate) async fn remove(
        &self,
        id: UploadId,
        info: &Info,
        lease: Option<&Lease>,
        ended: Option<Ended>,
    ) -> Result<(), StoreFailure> {
        let objects = self.objects.as_ref();
        if let Some(lease) = lease {
            lease.mark_removed();
        }
        if let Some(multipart) = &info.multipart {
            match self.multipart.abort_multipart(&self.layout.data(id), &multipart.id).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(store_error(id, "aborting its multipart upload", e)),
            }
        }
        // The tombstone first, then the info: a HEAD in between finds one or the other, never neither.
        if let Some(ended) = ended {
            put_json(objects, &self.layout.ended(id), &ended, PutMode::Overwrite)
                .await
                .map_err(|e| store_error(id, "writing its tombstone", e))?;
        }
        // Without its info the upload is gone for every instance, whatever else is left.
        delete_if_there(objects, &self.layout.info(id)).await.map_err(|e| store_error(id, "deleting its info", e))?;
        if let Some(finished_at) = info.record.finished_at {
            delete_if_there(objects, &self.layout.finished(id, finished_at))
                .await
                .map_err(|e| store_error(id, "deleting its finished marker", e))?;
        }
        self.remove_folder(id).await
    }

    /// Deletes what is left in the folder of upload `id`.
    pub(crate) async fn remove_folder(&self, id: UploadId) -> Result<(), StoreFailure> {
        let objects = self.objects.as_ref();
        let listed: Vec<_> = objects
            .list(Some(&self.layout.upload(id)))
            .try_collect()
            .await
            .map_err(|e| store_error(id, "listing its objects", e))?;
        for meta in listed {
            delete_if_there(objects, &meta.location).await.map_err(|e| store_error(id, "deleting an object", e))?;
        }
        Ok(())
    }

    /// The record of a final upload of `parts`: their summed length, each a partial upload of known length.
    async fn final_length(&self, parts: &[UploadId]) -> Result<u64, StoreFailure> {
        let mut sum = 0u64;
        for &part in parts {
            let length = match self.read_info(part).await? {
                Some((info, _)) if info.record.concat == Some(Concat::Partial) => info.record.length,
                _ => None,
            };
            let length = length
                .ok_or_else(|| failure(FailureKind::InvalidConcat, part, "not a partial upload of known length"))?;
            sum = sum.checked_add(length).ok_or_else(|| failure(FailureKind::InvalidConcat, part, "too long"))?;
        }
        Ok(sum)
    }
}

impl Store for BucketStore {
    type Upload = BucketUpload;
    type Claim = BucketClaim;

    async fn create(&self, new: NewUpload) -> Result<(BucketUpload, UploadId), StoreFailure> {
        let inner = &self.inner;
        let mut length = new.length;
        if let Some(Concat::Final(parts)) = &new.concat {
            length = Some(inner.final_length(parts).await?);
        }
        let id = UploadId::from_uuid(uuid::Uuid::new_v4());
        let mut record = UploadRecord::new(length, new.metadata, new.server_metadata, new.created_at);
        record.concat = new.concat;
        let lease = match inner.leases.acquire_new(inner.layout.lock(id)).await {
            Ok(lease) => lease,
            Err(Refused::Held) => return Err(failure(FailureKind::Locked, id, "a fresh id is held")),
            Err(Refused::Store(e)) => return Err(store_error(id, "taking its lease", e)),
        };
        let info = Info::new(record);
        let version = put_json(inner.objects.as_ref(), &inner.layout.info(id), &info.to_doc(), PutMode::Create)
            .await
            .map_err(|e| store_error(id, "writing its info", e))?;
        Ok((BucketUpload::new(id, Some(lease), info, version), id))
    }

    async fn stat(&self, id: UploadId) -> Result<UploadState, StoreFailure> {
        let inner = &self.inner;
        let Some((info, _)) = inner.read_info(id).await? else { return inner.ended_state(id).await };
        if info.is_finished() {
            return Ok(info.record.to_state(id, true));
        }
        if info.completing {
            return self.open(id).await.map(|(_, state)| state);
        }
        // A holder whose body went silent commits what it stored when asked: the answer includes it.
        let lock = inner.layout.lock(id);
        let settled = inner.leases.settle(&lock, STAT_SETTLE).await;
        settled.map_err(|e| store_error(id, "reading its lease", e))?;
        match inner.read_info(id).await? {
            // The holder died while completing it (it was asked to let go, or its lease ran out meanwhile): finish
            // it now, rather than answer an offset equal to the length of an upload no worker will ever see.
            Some((info, _)) if info.completing => self.open(id).await.map(|(_, state)| state),
            Some((info, _)) => Ok(info.record.to_state(id, info.is_finished())),
            None => inner.ended_state(id).await,
        }
    }

    async fn open(&self, id: UploadId) -> Result<(BucketUpload, UploadState), StoreFailure> {
        let inner = &self.inner;
        let Some((info, version)) = inner.read_info(id).await? else {
            let state = inner.ended_state(id).await?;
            return Ok((BucketUpload::ended(id), state));
        };
        if info.is_finished() {
            let state = info.record.to_state(id, true);
            return Ok((BucketUpload::new(id, None, info, version), state));
        }
        // The memory its body will be buffered in, taken before the driver reads any of the body and before the
        // lease: a request waiting for memory holds neither body bytes nor the upload.
        let permit = crate::upload::reserve(inner, id, &info).await?;
        let lease = inner.lease(id, ReleaseRequest::Takeover).await?;
        // Read again under the lease: the last holder may have committed, finished or deleted it meanwhile.
        let Some((info, version)) = inner.read_info(id).await? else {
            lease.mark_removed();
            let state = inner.ended_state(id).await?;
            return Ok((BucketUpload::ended(id), state));
        };
        let mut upload = BucketUpload::new(id, Some(lease), info, version);
        upload.hold_permit(permit);
        if upload.info.completing {
            upload.finish_completing(inner).await?;
        }
        let state = upload.state();
        Ok((upload, state))
    }

    async fn write(
        &self,
        upload: &mut BucketUpload,
        offset: u64,
        parts: Vec<bytes::Bytes>,
    ) -> Result<(), StoreFailure> {
        upload.write(&self.inner, offset, parts).await
    }

    async fn commit(
        &self,
        upload: &mut BucketUpload,
        offset: u64,
        complete: bool,
    ) -> Result<UploadState, StoreFailure> {
        upload.commit(&self.inner, offset, complete).await
    }

    async fn declare_length(&self, upload: &mut BucketUpload, length: u64) -> Result<UploadState, StoreFailure> {
        upload.declare_length(&self.inner, length).await
    }

    async fn assemble(&self, upload: &mut BucketUpload) -> Result<UploadState, StoreFailure> {
        crate::concat::assemble(&self.inner, upload).await
    }

    async fn discard(&self, upload: &mut BucketUpload) -> Result<(), StoreFailure> {
        upload.discard();
        Ok(())
    }

    fn release_requested(&self, upload: &BucketUpload) -> ReleaseRequest {
        upload.release_requested()
    }

    async fn delete(&self, id: UploadId) -> Result<(), StoreFailure> {
        let inner = &self.inner;
        let Some((info, _)) = inner.read_info(id).await? else {
            return match inner.ended_state(id).await {
                Ok(_) => Err(failure(FailureKind::Finished, id, "a worker claimed it")),
                Err(e) => Err(e),
            };
        };
        if info.is_finished() && inner.leases.is_held(&inner.layout.claim(id)).await.unwrap_or(true) {
            return Err(failure(FailureKind::Finished, id, "a worker claimed it"));
        }
        let lease = inner.lease(id, ReleaseRequest::Terminate).await?;
        let Some((info, _)) = inner.read_info(id).await? else {
            lease.mark_removed();
            return match inner.ended_state(id).await {
                Ok(_) => Err(failure(FailureKind::Finished, id, "a worker claimed it")),
                Err(e) => Err(e),
            };
        };
        inner.remove(id, &info, Some(&lease), Some(Ended::of(&info, false))).await
    }

    async fn claim(&self, timeout: Duration) -> Result<Option<BucketClaim>, StoreFailure> {
        crate::claim::claim(&self.inner, timeout).await
    }

    async fn ready(&self) -> Result<(), StoreFailure> {
        // A write, as uploads make them: a missing bucket or a read-only credential reads as "not found" or works
        // for reads, but not here. The probe is one small object, overwritten by every check.
        let probe = self.inner.layout.ended_dir().clone().join(".ready");
        let write = self.inner.objects.put(&probe, object_store::PutPayload::from_static(b"ready"));
        match tokio::time::timeout(READY_TIMEOUT, write).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(StoreFailure::new(FailureKind::Unavailable, format!("the object store: {e}"))),
            Err(_) => Err(StoreFailure::new(FailureKind::Unavailable, "the object store did not answer in time")),
        }
    }

    async fn sweep(&self, config: &JanitorConfig, now: SystemTime) -> Swept {
        crate::sweep::sweep(&self.inner, config, now).await
    }
}
