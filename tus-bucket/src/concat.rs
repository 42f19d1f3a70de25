//! Concatenation: a final upload filled from its partial uploads, in order, by copying their `data` objects
//! through the write path (object_store has no server-side part copy, so the bytes pass through this instance,
//! a part-sized buffer at a time).
//!
//! A final created while some of its parts are unfinished leaves a `waiting/<final>` object in each of those
//! parts' folders; the commit that completes a part reads them and assembles every final whose parts are now all
//! complete, on whichever instance that commit runs. Parts are held by their leases while they are copied, so two
//! finals never consume one part: the second finds it gone (`InvalidConcat`).

use futures_util::TryStreamExt as _;
use object_store::ObjectStoreExt as _;
use object_store::PutPayload;
use tus_proto::{Concat, FailureKind, StoreFailure, UploadId, UploadState};
use tus_store::ReleaseRequest;

use crate::info::Info;
use crate::io::{failure, store_error};
use crate::lease::Lease;
use crate::store::Inner;
use crate::upload::BucketUpload;

/// Assembles the final upload held by `upload`, or registers it with its unfinished parts.
pub(crate) async fn assemble(inner: &Inner, upload: &mut BucketUpload) -> Result<UploadState, StoreFailure> {
    if upload.info.is_finished() {
        return Ok(upload.state());
    }
    let parts = final_parts(upload)?;
    let mut unfinished = Vec::new();
    for &part in &parts {
        match part_info(inner, part).await? {
            Some(info) if info.is_finished() => {}
            Some(_) => unfinished.push(part),
            None => return refuse(inner, upload, part).await,
        }
    }
    if unfinished.is_empty() {
        return copy_parts(inner, upload, &parts, None).await;
    }
    for &part in &unfinished {
        let path = inner.layout.waiting(part, upload.id);
        inner.objects.put(&path, PutPayload::default()).await.map_err(|e| store_error(part, "registering", e))?;
    }
    // A part that completed before it saw the registration would not assemble the final: look once more.
    for &part in &unfinished {
        match part_info(inner, part).await? {
            Some(info) if info.is_finished() => {}
            Some(_) => return Ok(upload.state()),
            None => return refuse(inner, upload, part).await,
        }
    }
    copy_parts(inner, upload, &parts, None).await
}

/// After partial upload `part` finished (its info says so): assembles every final waiting for it whose parts are
/// now all complete. Failures are logged: the part's own commit stands.
pub(crate) async fn assemble_waiting(inner: &Inner, part: &BucketUpload) -> Result<(), StoreFailure> {
    let listing = inner.objects.list(Some(&inner.layout.waiting_dir(part.id))).try_collect::<Vec<_>>().await;
    let waiting = listing.map_err(|e| store_error(part.id, "listing the finals waiting for it", e))?;
    for meta in waiting {
        let Some(final_id) = meta.location.filename().and_then(|name| name.parse::<UploadId>().ok()) else { continue };
        if let Err(error) = assemble_for(inner, part, final_id).await {
            tracing::warn!(upload = %final_id, part = %part.id, %error, "assembling a waiting final failed");
        }
        if let Err(error) = inner.objects.delete(&meta.location).await {
            tracing::debug!(upload = %final_id, %error, "cannot delete a waiting registration");
        }
    }
    Ok(())
}

async fn assemble_for(inner: &Inner, part: &BucketUpload, final_id: UploadId) -> Result<(), StoreFailure> {
    let lease = inner.lease(final_id, ReleaseRequest::Takeover).await?;
    let Some((info, version)) = inner.read_info(final_id).await? else {
        lease.mark_removed();
        return Ok(());
    };
    let mut upload = BucketUpload::new(final_id, Some(lease), info, version);
    if upload.info.is_finished() {
        return Ok(());
    }
    let parts = final_parts(&upload)?;
    for &other in parts.iter().filter(|&&p| p != part.id) {
        match part_info(inner, other).await? {
            Some(info) if info.is_finished() => {}
            Some(_) => return Ok(()),
            None => {
                refuse(inner, &mut upload, other).await?;
            }
        }
    }
    copy_parts(inner, &mut upload, &parts, Some(part)).await.map(drop)
}

fn final_parts(upload: &BucketUpload) -> Result<Vec<UploadId>, StoreFailure> {
    match &upload.info.record.concat {
        Some(Concat::Final(parts)) => Ok(parts.clone()),
        _ => Err(failure(FailureKind::Internal, upload.id, "not a final upload")),
    }
}

/// The info of a part that is still a partial upload; `None` when it is not (any more).
async fn part_info(inner: &Inner, part: UploadId) -> Result<Option<Info>, StoreFailure> {
    Ok(inner.read_info(part).await?.map(|(info, _)| info).filter(|info| info.record.concat == Some(Concat::Partial)))
}

/// Removes a final that cannot be assembled: `part` is no longer a partial upload.
async fn refuse(inner: &Inner, upload: &mut BucketUpload, part: UploadId) -> Result<UploadState, StoreFailure> {
    inner.remove(upload.id, &upload.info, upload.lease.as_ref(), None).await?;
    Err(failure(FailureKind::InvalidConcat, part, "no longer a partial upload (assembled into another final?)"))
}

/// Copies every part into the final, finishes it, and removes the parts (unless configured to keep them). `held`
/// is the part whose commit runs this: its lease is already this instance's.
async fn copy_parts(
    inner: &Inner,
    upload: &mut BucketUpload,
    parts: &[UploadId],
    held: Option<&BucketUpload>,
) -> Result<UploadState, StoreFailure> {
    let mut leases: Vec<(UploadId, Lease, Info)> = Vec::new();
    for &part in parts {
        if Some(part) == held.map(|h| h.id) || leases.iter().any(|(id, ..)| *id == part) {
            continue;
        }
        let lease = inner.lease(part, ReleaseRequest::Takeover).await?;
        match part_info(inner, part).await? {
            Some(info) if info.is_finished() => leases.push((part, lease, info)),
            _ => return refuse(inner, upload, part).await,
        }
    }
    let mut offset = 0u64;
    for &part in parts {
        let got = inner.objects.get(&inner.layout.data(part)).await;
        let mut stream = got.map_err(|e| store_error(part, "reading its data", e))?.into_stream();
        while let Some(chunk) = stream.try_next().await.map_err(|e| store_error(part, "reading its data", e))? {
            let len = chunk.len() as u64;
            upload.write(inner, offset, vec![chunk]).await?;
            offset += len;
        }
    }
    // A final is never a partial upload: its finish only tells the workers.
    let state = upload.commit_bytes(inner, offset, true).await?;
    upload.mark_finished(inner).await?;
    if inner.config.remove_assembled_parts {
        for (part, lease, info) in &leases {
            inner.remove(*part, info, Some(lease), None).await?;
        }
        if let Some(held) = held {
            inner.remove(held.id, &held.info, held.lease.as_ref(), None).await?;
        }
    }
    Ok(state)
}
