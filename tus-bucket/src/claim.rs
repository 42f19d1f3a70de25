//! The hand-off of finished uploads: [`BucketClaim`], one worker's claim on one finished upload, on whichever
//! instance it runs.
//!
//! Finished uploads are listed from the `finished/` markers, oldest first; a worker claims one by taking the
//! lease `<id>/claim` (a conditional create, so of two workers one wins), which it renews while it saves the
//! upload. A worker that dies lets its claim run out, and another worker claims the upload again. Ending the
//! claim removes the upload and remembers it as finished (`ended/<id>`).
//!
//! So a finished upload is handed to one worker at a time, and to another only if the first dies before it ends
//! the claim. A worker may die after it published the file but before `finish`: with a
//! [`worker_name`](crate::BucketConfig::worker_name), the claim waits for a worker of that name (the same dest
//! dir, restarted) for [`claim_grace`](crate::BucketConfig::claim_grace) after its lease ran out, and that worker
//! finds its publication (as `tus_hyper::deliver_finished` does) and only ends the claim: delivered exactly once.
//! A worker that never comes back leaves the upload to any worker after the grace, and without names any worker
//! takes it when the lease runs out: at least once, never lost. An end that fails half-way (the store refused a
//! write) is treated like a death: the claim is left to run out, not freed, and goes back to its name first.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt as _;
use object_store::ObjectMeta;
use object_store::ObjectStoreExt as _;
use tokio::io::AsyncWriteExt as _;
use tus_proto::{FailureKind, StoreFailure, UploadId};
use tus_store::UploadRecord;

use crate::info::Info;
use crate::io::{delete_if_there, failure, store_error};
use crate::layout::Layout;
use crate::lease::{Lease, Owner, Refused};
use crate::store::{Ended, Inner};

/// A finished upload claimed by this worker. Ending it — [`finish`](tus_store::Claim::finish) or drop — removes the
/// upload from the bucket.
pub struct BucketClaim {
    id: UploadId,
    info: Info,
    inner: Arc<Inner>,
    /// `None` once ended.
    lease: Option<Lease>,
    saved: bool,
    saved_record: bool,
}

impl std::fmt::Debug for BucketClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketClaim").field("id", &self.id).finish_non_exhaustive()
    }
}

/// Claims the oldest finished upload nobody claimed, waiting up to `timeout` for one.
pub(crate) async fn claim(inner: &Arc<Inner>, timeout: Duration) -> Result<Option<BucketClaim>, StoreFailure> {
    let deadline = Instant::now() + timeout;
    loop {
        // Registered before the listing, so that a finish in between is not missed.
        let woken = inner.finished.notified();
        if let Some(claim) = claim_listed(inner).await? {
            return Ok(Some(claim));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        // Uploads finished by other instances show up at the next listing.
        let _ = tokio::time::timeout(left.min(inner.config.poll * 4), woken).await;
    }
}

/// One pass over the finished markers, oldest first.
async fn claim_listed(inner: &Arc<Inner>) -> Result<Option<BucketClaim>, StoreFailure> {
    let listing = inner.objects.list(Some(&inner.layout.finished_dir())).try_collect::<Vec<ObjectMeta>>().await;
    let mut markers = listing.map_err(|e| StoreFailure::new(FailureKind::Unavailable, format!("listing: {e}")))?;
    markers.sort_by(|a, b| a.location.as_ref().cmp(b.location.as_ref()));
    for marker in markers {
        let Some(id) = Layout::finished_id(&marker.location) else { continue };
        let path = inner.layout.claim(id);
        let owner = Owner { name: inner.config.worker_name.as_deref(), grace: inner.config.claim_grace };
        let lease = match inner.leases.acquire_as(path, None, None, owner).await {
            Ok(lease) => lease,
            Err(Refused::Held) => continue,
            Err(Refused::Store(e)) => return Err(store_error(id, "claiming it", e)),
        };
        match inner.read_info(id).await? {
            Some((info, _)) if info.is_finished() => {
                return Ok(Some(BucketClaim {
                    id,
                    info,
                    inner: inner.clone(),
                    lease: Some(lease),
                    saved: false,
                    saved_record: false,
                }));
            }
            // Ended meanwhile (deleted, or claimed and ended): the marker is a leftover.
            _ => {
                lease.mark_removed();
                delete_if_there(inner.objects.as_ref(), &marker.location)
                    .await
                    .map_err(|e| store_error(id, "deleting a stale marker", e))?;
            }
        }
    }
    Ok(None)
}

impl BucketClaim {
    async fn end(&mut self) -> Result<(), StoreFailure> {
        let Some(lease) = self.lease.take() else { return Ok(()) };
        end(&self.inner, self.id, &self.info, lease).await
    }
}

/// Removes a claimed upload. When that fails, the claim lease is left to run out rather than freed: the upload may
/// have been delivered already, and a worker of the same name finds that out (see the module's docs).
async fn end(inner: &Inner, id: UploadId, info: &Info, lease: Lease) -> Result<(), StoreFailure> {
    let result = inner.remove(id, info, Some(&lease), Some(Ended::of(info, true))).await;
    if result.is_err() {
        lease.abandon();
    }
    result
}

impl tus_store::Claim for BucketClaim {
    fn id(&self) -> UploadId {
        self.id
    }

    fn record(&self) -> &UploadRecord {
        &self.info.record
    }

    async fn save(&mut self, dest: std::path::PathBuf) -> Result<(), StoreFailure> {
        let id = self.id;
        if std::mem::replace(&mut self.saved, true) {
            return Err(failure(FailureKind::Internal, id, "saved twice"));
        }
        let io = |what: &'static str| {
            let dest = dest.clone();
            move |e: std::io::Error| failure(FailureKind::Internal, id, format_args!("{what} {}: {e}", dest.display()))
        };
        let got = self.inner.objects.get(&self.inner.layout.data(id)).await;
        let mut stream = got.map_err(|e| store_error(id, "reading its data", e))?.into_stream();
        let mut file = tokio::fs::File::create(&dest).await.map_err(io("creating"))?;
        while let Some(chunk) = stream.try_next().await.map_err(|e| store_error(id, "reading its data", e))? {
            file.write_all(&chunk).await.map_err(io("writing"))?;
        }
        file.sync_all().await.map_err(io("syncing"))?;
        Ok(())
    }

    async fn save_record(&mut self, dest: std::path::PathBuf) -> Result<(), StoreFailure> {
        let id = self.id;
        if std::mem::replace(&mut self.saved_record, true) {
            return Err(failure(FailureKind::Internal, id, "record saved twice"));
        }
        let json = self.info.record.to_json();
        tokio::fs::write(&dest, json)
            .await
            .map_err(|e| failure(FailureKind::Internal, id, format_args!("writing {}: {e}", dest.display())))
    }

    async fn finish(mut self) -> Result<(), StoreFailure> {
        self.end().await
    }
}

impl Drop for BucketClaim {
    fn drop(&mut self) {
        let Some(lease) = self.lease.take() else { return };
        let (id, info, inner) = (self.id, self.info.clone(), self.inner.clone());
        // Ending a claim is I/O: it runs in a task of its own. Meanwhile the claim lease keeps other workers off.
        // The task owns the parts, not a claim: a task dropped unrun (the runtime shutting down) only lets the
        // lease go, where a claim's drop would spawn again.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = end(&inner, id, &info, lease).await {
                    tracing::warn!(upload = %id, %error, "ending a dropped claim failed");
                }
            });
        }
    }
}
