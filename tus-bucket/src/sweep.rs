//! The janitor's pass over the bucket: expires stale and unclaimed uploads (aborting their multipart uploads),
//! forgets old tombstones, and clears what a crash left (folders without info, markers of ended uploads).

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use futures_util::TryStreamExt as _;
use object_store::ObjectMeta;
use object_store::ObjectStoreExt as _;
use tus_proto::{Concat, StoreFailure, UploadId};
use tus_store::{JanitorConfig, SweepReason, Swept};

use crate::io::delete_if_there;
use crate::layout::Layout;
use crate::lease::Refused;
use crate::store::{Ended, Inner};

pub(crate) async fn sweep(inner: &Inner, config: &JanitorConfig, now: SystemTime) -> Swept {
    let mut swept = Swept::default();
    let listing = inner.objects.list(Some(&inner.layout.upload_root())).try_collect::<Vec<ObjectMeta>>().await;
    let listing = match listing {
        Ok(listing) => listing,
        Err(e) => {
            swept.errors.push(StoreFailure::new(tus_proto::FailureKind::Unavailable, format!("listing: {e}")));
            return swept;
        }
    };
    // Each upload folder with its newest object and whether it has an info; the markers; the tombstones.
    let mut folders: HashMap<UploadId, (SystemTime, bool)> = HashMap::new();
    let mut markers: HashMap<UploadId, ObjectMeta> = HashMap::new();
    let mut tombstones = Vec::new();
    for meta in listing {
        let modified = SystemTime::from(meta.last_modified);
        if let Some((id, rest)) = inner.layout.split(&meta.location) {
            let entry = folders.entry(id).or_insert((modified, false));
            entry.0 = entry.0.max(modified);
            entry.1 |= rest == ["info"];
        } else if let Some(id) = inner.layout.ended_id(&meta.location) {
            tombstones.push((id, meta));
        } else if let Some(id) = Layout::finished_id(&meta.location) {
            markers.insert(id, meta);
        }
    }
    let mut kept = HashSet::new();
    for (&id, &(modified, has_info)) in &folders {
        if !has_info {
            // Folders without info: a crash between create's lease and its info, or an ended upload's remains.
            if modified + config.stale_upload_age < now {
                match inner.remove_folder(id).await {
                    Ok(()) => swept.removed.push((id, SweepReason::Leftover)),
                    Err(e) => swept.errors.push(e),
                }
            }
            continue;
        }
        match sweep_upload(inner, config, now, id, markers.contains_key(&id)).await {
            Ok(Some(reason)) => swept.removed.push((id, reason)),
            Ok(None) => {
                kept.insert(id);
            }
            Err(Skip::Held) => {
                kept.insert(id);
                swept.skipped_held += 1;
            }
            Err(Skip::Failed(e)) => {
                kept.insert(id);
                swept.errors.push(e);
            }
        }
    }
    for (id, marker) in &markers {
        if !kept.contains(id) && !folders.contains_key(id) {
            if let Err(e) = delete_if_there(inner.objects.as_ref(), &marker.location).await {
                swept.errors.push(StoreFailure::new(tus_proto::FailureKind::Unavailable, e.to_string()));
            }
        }
    }
    for (id, tombstone) in tombstones {
        if SystemTime::from(tombstone.last_modified) + config.ended_upload_age < now {
            match delete_if_there(inner.objects.as_ref(), &tombstone.location).await {
                Ok(()) => swept.forgotten += 1,
                Err(e) => swept.errors.push(crate::io::store_error(id, "forgetting it", e)),
            }
        }
    }
    swept
}

enum Skip {
    Held,
    Failed(StoreFailure),
}

impl From<StoreFailure> for Skip {
    fn from(e: StoreFailure) -> Self {
        Skip::Failed(e)
    }
}

/// Removes upload `id` if it is too old at `now` and nobody holds it; re-creates a finished upload's lost marker.
async fn sweep_upload(
    inner: &Inner,
    config: &JanitorConfig,
    now: SystemTime,
    id: UploadId,
    has_marker: bool,
) -> Result<Option<SweepReason>, Skip> {
    let Some((info, _)) = inner.read_info(id).await? else { return Ok(None) };
    if info.completing {
        // Its holder died while completing it: finish it now, as the next request would.
        let lease = inner.lease(id, tus_store::ReleaseRequest::Takeover).await.map_err(|_| Skip::Held)?;
        let Some((info, version)) = inner.read_info(id).await? else { return Ok(None) };
        let mut upload = crate::upload::BucketUpload::new(id, Some(lease), info, version);
        if upload.info.completing {
            upload.finish_completing(inner).await?;
        }
        return Ok(None);
    }
    let record = &info.record;
    let reason = match record.finished_at {
        Some(finished_at) if finished_at + config.completed_file_age < now => SweepReason::Unclaimed,
        Some(finished_at) => {
            // A crash between the finishing commit and its marker: put the marker back for the workers.
            if !has_marker && record.concat != Some(Concat::Partial) {
                let marker = inner.layout.finished(id, finished_at);
                let put = inner.objects.put(&marker, object_store::PutPayload::default()).await;
                put.map_err(|e| crate::io::store_error(id, "marking it finished", e))?;
            }
            return Ok(None);
        }
        None if record.last_write + config.stale_upload_age < now => SweepReason::Stale,
        None => return Ok(None),
    };
    // Not held by a writer, and (finished) not claimed by a worker.
    let failed = |e| Skip::Failed(crate::io::store_error(id, "reading its claim", e));
    if info.is_finished() && inner.leases.is_held(&inner.layout.claim(id)).await.map_err(failed)? {
        return Err(Skip::Held);
    }
    let lease = match inner.leases.acquire(inner.layout.lock(id), None, None).await {
        Ok(lease) => lease,
        Err(Refused::Held) => return Err(Skip::Held),
        Err(Refused::Store(e)) => return Err(Skip::Failed(crate::io::store_error(id, "taking its lease", e))),
    };
    // Read again under the lease: a request may have written meanwhile.
    let Some((info, _)) = inner.read_info(id).await? else {
        lease.mark_removed();
        return Ok(None);
    };
    if info.record.last_write != record.last_write {
        return Ok(None);
    }
    inner.remove(id, &info, Some(&lease), Some(Ended::of(&info, false))).await?;
    Ok(Some(reason))
}
