//! [`BucketUpload`]: an upload held for writing, and its writes and commits.
//!
//! Bytes gather in a buffer of at most one part; every full part goes to the multipart upload at once (created
//! with the first one, its id recorded before any part is sent). A commit stores what is left in the buffer as a
//! new tail object `tail-<n>-<random>` (`n`: the parts before it) and then records the new offset, parts and tail's
//! name in the info object — a conditional write, so a holder that lost its lease cannot overwrite its successor's
//! commit, and its own tail, never named by an info, is only junk the upload's removal takes. The next holder reads
//! the tail back and continues it; the old tail is deleted once the info no longer names it.
//!
//! Parts sent but not committed are overwritten by the next holder (the same part numbers) and left out of the
//! completion, which names only the committed parts. A holder stops writing a quarter of its lease before the lease
//! could run out (see [`Lease::is_valid`]), so two holders never send the same part number at once.

use std::time::SystemTime;

use bytes::Bytes;
use object_store::multipart::PartId;
use object_store::ObjectStoreExt as _;
use object_store::{PutMode, PutPayload, UpdateVersion};
use tokio::sync::OwnedSemaphorePermit;
use tus_proto::{Concat, FailureKind, StoreFailure, UploadId, UploadState};
use tus_store::ReleaseRequest;

use crate::info::{Info, Multipart};
use crate::io::{delete_if_there, failure, put_json, store_error};
use crate::lease::Lease;
use crate::store::Inner;
use crate::MAX_PARTS;

/// An upload held by this instance, from `create` or `open` until dropped.
#[derive(Debug)]
pub struct BucketUpload {
    pub(crate) id: UploadId,
    /// `None` for a finished upload, which takes no writes.
    pub(crate) lease: Option<Lease>,
    /// The committed state, and the version of the info object it was read or written as.
    pub(crate) info: Info,
    version: Option<UpdateVersion>,
    /// Whether this handle stands for an upload that finished (and perhaps ended: then `info` is a stand-in).
    finished: bool,
    pending: Pending,
}

/// What this handle wrote since the last commit.
#[derive(Debug, Default)]
struct Pending {
    /// Parts sent to the multipart upload after the committed ones.
    parts: Vec<PartId>,
    /// Bytes after the last part, from `buffer_start`; `None` until the committed tail is read back.
    buffer: Option<Vec<Bytes>>,
    buffered: u64,
    /// Where the buffer starts in the upload.
    buffer_start: u64,
    /// The end of what was written.
    end: u64,
    /// This upload's share of the memory budget while it buffers.
    permit: Option<OwnedSemaphorePermit>,
}

impl BucketUpload {
    pub(crate) fn new(id: UploadId, lease: Option<Lease>, info: Info, version: UpdateVersion) -> Self {
        let finished = info.is_finished();
        let mut upload =
            BucketUpload { id, lease, info, version: Some(version), finished, pending: Pending::default() };
        upload.discard();
        upload
    }

    /// A handle of an upload that ended (claimed): finished, with nothing to write.
    pub(crate) fn ended(id: UploadId) -> Self {
        let record = tus_store::UploadRecord::new(Some(0), Default::default(), Default::default(), SystemTime::now());
        BucketUpload {
            id,
            lease: None,
            info: Info::new(record),
            version: None,
            finished: true,
            pending: Pending::default(),
        }
    }

    /// The upload's id.
    pub fn id(&self) -> UploadId {
        self.id
    }

    pub(crate) fn release_requested(&self) -> ReleaseRequest {
        self.lease.as_ref().map_or(ReleaseRequest::None, Lease::asked)
    }

    pub(crate) fn state(&self) -> UploadState {
        self.info.record.to_state(self.id, self.finished)
    }

    /// Forgets what was written since the last commit.
    pub(crate) fn discard(&mut self) {
        let start = self.info.parts_len();
        self.pending = Pending {
            parts: Vec::new(),
            // An empty tail needs no reading back.
            buffer: (self.info.tail == 0).then(Vec::new),
            buffered: 0,
            buffer_start: start,
            end: self.info.record.offset,
            permit: None,
        };
    }

    /// Fails unless this handle may write: unfinished, and its lease still its own.
    fn check_writable(&self) -> Result<(), StoreFailure> {
        if self.finished {
            return Err(failure(FailureKind::Finished, self.id, "finished uploads take no writes"));
        }
        match &self.lease {
            Some(lease) if !lease.is_valid() => {
                Err(failure(FailureKind::Locked, self.id, "its lease ran out: another request may hold it now"))
            }
            Some(_) => Ok(()),
            None => Err(failure(FailureKind::Internal, self.id, "not held")),
        }
    }

    /// The part size of this upload.
    fn part_size(&self, inner: &Inner) -> u64 {
        part_size(inner, &self.info)
    }

    pub(crate) async fn write(&mut self, inner: &Inner, offset: u64, parts: Vec<Bytes>) -> Result<(), StoreFailure> {
        self.check_writable()?;
        let id = self.id;
        let added: u64 = parts.iter().map(|p| p.len() as u64).sum();
        if offset < self.info.record.offset || offset > self.pending.end {
            let what = format_args!("write at {offset} outside {}..={}", self.info.record.offset, self.pending.end);
            return Err(failure(FailureKind::Internal, id, what));
        }
        if self.info.record.length.is_some_and(|length| offset + added > length) {
            return Err(failure(FailureKind::Internal, id, "write past the upload's length"));
        }
        self.reserve(inner).await?;
        self.load_tail(inner).await?;
        if offset < self.pending.end {
            self.truncate(offset)?;
        }
        let buffer = self.pending.buffer.get_or_insert_with(Vec::new);
        buffer.extend(parts.into_iter().filter(|p| !p.is_empty()));
        self.pending.buffered += added;
        self.pending.end += added;
        let part_size = self.part_size(inner);
        while self.pending.buffered >= part_size {
            let part = take_front(&mut self.pending, part_size);
            self.send_part(inner, part).await?;
        }
        Ok(())
    }

    /// Takes this upload's share of the memory budget before its buffer fills (unless `open` took it already).
    async fn reserve(&mut self, inner: &Inner) -> Result<(), StoreFailure> {
        if self.pending.permit.is_none() {
            self.pending.permit = Some(reserve(inner, self.id, &self.info).await?);
        }
        Ok(())
    }

    /// Gives the handle the share of the memory budget `open` took for it.
    pub(crate) fn hold_permit(&mut self, permit: OwnedSemaphorePermit) {
        self.pending.permit = Some(permit);
    }

    /// Reads the committed tail back into the buffer, once per commit.
    async fn load_tail(&mut self, inner: &Inner) -> Result<(), StoreFailure> {
        if self.pending.buffer.is_some() {
            return Ok(());
        }
        let (id, tail) = (self.id, self.info.tail);
        let path = inner.layout.tail(id, &self.info.tail_name);
        let bytes =
            inner.objects.get_range(&path, 0..tail).await.map_err(|e| store_error(id, "reading its tail", e))?;
        if bytes.len() as u64 != tail {
            return Err(failure(FailureKind::Internal, id, format_args!("tail is {} bytes, not {tail}", bytes.len())));
        }
        self.pending.buffer = Some(vec![bytes]);
        self.pending.buffered = tail;
        Ok(())
    }

    /// Drops buffered bytes from `offset` on (a rewrite of bytes not yet committed).
    fn truncate(&mut self, offset: u64) -> Result<(), StoreFailure> {
        if offset < self.pending.buffer_start {
            return Err(failure(FailureKind::Internal, self.id, "rewrite of bytes already sent as a part"));
        }
        let keep = offset - self.pending.buffer_start;
        let part = take_front(&mut self.pending, keep);
        self.pending.buffer = Some(part);
        self.pending.buffered = keep;
        self.pending.end = offset;
        Ok(())
    }

    /// Sends one full part; creates the multipart upload (recording its id) first if there is none yet.
    async fn send_part(&mut self, inner: &Inner, part: Vec<Bytes>) -> Result<(), StoreFailure> {
        let id = self.id;
        let data_path = inner.layout.data(id);
        if self.info.multipart.is_none() {
            let part_size = self.part_size(inner);
            let upload_id = inner
                .multipart
                .create_multipart(&data_path)
                .await
                .map_err(|e| store_error(id, "starting its multipart upload", e))?;
            let mut info = self.info.clone();
            info.multipart = Some(Multipart { id: upload_id, part_size, parts: Vec::new() });
            self.save_info(inner, info).await?;
        }
        let multipart = self.info.multipart.as_ref().expect("created above");
        let index = multipart.parts.len() + self.pending.parts.len();
        if index >= MAX_PARTS {
            return Err(failure(FailureKind::NoSpace, id, "larger than 10,000 parts: raise the part size"));
        }
        let payload = PutPayload::from_iter(part);
        self.check_writable()?;
        let sent = inner.multipart.put_part(&data_path, &multipart.id, index, payload).await;
        self.pending.parts.push(sent.map_err(|e| store_error(id, "sending a part", e))?);
        self.pending.buffer_start += multipart.part_size;
        Ok(())
    }

    /// Writes `info` as the committed state (conditionally on the version this handle last saw).
    async fn save_info(&mut self, inner: &Inner, info: Info) -> Result<(), StoreFailure> {
        let id = self.id;
        self.check_writable()?;
        let mode = match self.version.take() {
            Some(version) => PutMode::Update(version),
            None => PutMode::Overwrite,
        };
        match put_json(inner.objects.as_ref(), &inner.layout.info(id), &info.to_doc(), mode).await {
            Ok(version) => {
                self.version = Some(version);
                self.info = info;
                Ok(())
            }
            Err(object_store::Error::Precondition { .. }) => {
                Err(failure(FailureKind::Locked, id, "another request changed it: this request's lease ran out"))
            }
            Err(e) => Err(store_error(id, "writing its info", e)),
        }
    }

    pub(crate) async fn commit(
        &mut self,
        inner: &Inner,
        offset: u64,
        complete: bool,
    ) -> Result<UploadState, StoreFailure> {
        let was_finished = self.finished;
        let state = self.commit_bytes(inner, offset, complete).await?;
        if complete && !was_finished {
            self.finish(inner).await?;
        }
        Ok(state)
    }

    /// [`commit`](Self::commit) without what follows a finish (workers told, waiting finals assembled).
    pub(crate) async fn commit_bytes(
        &mut self,
        inner: &Inner,
        offset: u64,
        complete: bool,
    ) -> Result<UploadState, StoreFailure> {
        let id = self.id;
        if self.finished {
            let length = self.info.record.length.unwrap_or(self.info.record.offset);
            if complete && offset == length {
                return Ok(self.state());
            }
            return Err(failure(FailureKind::Finished, id, "finished uploads take no commits"));
        }
        self.check_writable()?;
        if offset < self.info.record.offset || offset > self.pending.end {
            let what = format_args!("commit of {offset} outside {}..={}", self.info.record.offset, self.pending.end);
            return Err(failure(FailureKind::Internal, id, what));
        }
        if complete && self.info.record.length.is_some_and(|length| length != offset) {
            return Err(failure(FailureKind::Internal, id, "completing commit short of the length"));
        }
        if offset < self.pending.end {
            self.load_tail(inner).await?;
            self.truncate(offset)?;
        }
        let old_tail = (self.info.tail > 0).then(|| inner.layout.tail(id, &self.info.tail_name));
        let now = SystemTime::now();
        let mut info = self.info.clone();
        info.record.offset = offset;
        info.record.last_write = now;
        if complete {
            self.load_tail(inner).await?;
            self.store_data(inner, offset).await?;
            info.record.length = Some(offset);
            info.record.finish(now);
            info.multipart = None;
            info.tail = 0;
            info.tail_name.clear();
        } else {
            let parts = info.multipart.as_ref().map_or(0, |m| m.parts.len()) + self.pending.parts.len();
            if let Some(multipart) = &mut info.multipart {
                multipart.parts.extend(self.pending.parts.iter().map(|p| p.content_id.clone()));
            }
            // A tail never read back was not written to either: it stays as committed.
            info.tail = if self.pending.buffer.is_some() { self.pending.buffered } else { self.info.tail };
            let unchanged = self.pending.parts.is_empty() && info.tail == self.info.tail;
            if info.tail == 0 {
                info.tail_name.clear();
            }
            if let (Some(buffer), true, false) = (&self.pending.buffer, info.tail > 0, unchanged) {
                // A name of its own: a tail is never overwritten, so a holder that lost its lease cannot change
                // the tail its successor committed (its own tail is never named by an info).
                info.tail_name = format!("tail-{parts}-{}", uuid::Uuid::new_v4().simple());
                let path = inner.layout.tail(id, &info.tail_name);
                let payload = PutPayload::from_iter(buffer.iter().cloned());
                self.check_writable()?;
                inner.objects.put(&path, payload).await.map_err(|e| store_error(id, "writing its tail", e))?;
            }
        }
        let old_tail = old_tail.filter(|_| complete || info.tail_name != self.info.tail_name);
        self.save_info(inner, info).await?;
        if let Some(path) = old_tail {
            // Only a leftover once the info moved past it: a failure here leaves junk the upload's removal takes.
            if let Err(e) = delete_if_there(inner.objects.as_ref(), &path).await {
                tracing::warn!(upload = %id, error = %e, "cannot delete an old tail");
            }
        }
        self.discard();
        self.finished = complete;
        Ok(self.state())
    }

    /// Puts every byte of the finished upload into its `data` object: completes the multipart upload with the
    /// buffer as its last part, or puts the buffer as one object when no part was needed.
    async fn store_data(&mut self, inner: &Inner, length: u64) -> Result<(), StoreFailure> {
        let id = self.id;
        let buffer = self.pending.buffer.take().unwrap_or_default();
        if self.info.multipart.is_none() && self.pending.parts.is_empty() {
            // One plain object: putting it again (after a crash before the info said finished) is harmless.
            let payload = PutPayload::from_iter(buffer);
            let put = inner.objects.put(&inner.layout.data(id), payload).await;
            put.map_err(|e| store_error(id, "writing its data", e))?;
            return Ok(());
        }
        if !buffer.is_empty() {
            self.send_part(inner, buffer).await?;
        }
        // A completed multipart upload takes no more parts: record that every part is sent before completing, so
        // that if this instance dies right after the completion the next holder completes it instead of sending
        // the last bytes again.
        let mut completing = self.info.clone();
        let multipart = completing.multipart.as_mut().expect("parts were sent");
        multipart.parts.extend(self.pending.parts.drain(..).map(|part| part.content_id));
        completing.record.offset = length;
        completing.record.length = Some(length);
        completing.tail = 0;
        completing.tail_name.clear();
        completing.completing = true;
        self.save_info(inner, completing).await?;
        self.complete_multipart(inner).await
    }

    /// Completes the multipart upload from the parts the info names; one completed before (by a holder that died
    /// before recording it) counts when its object has the upload's length.
    async fn complete_multipart(&self, inner: &Inner) -> Result<(), StoreFailure> {
        let id = self.id;
        let data_path = inner.layout.data(id);
        let multipart = self.info.multipart.as_ref().ok_or_else(|| failure(FailureKind::Internal, id, "no parts"))?;
        let parts = multipart.parts.iter().map(|content_id| PartId { content_id: content_id.clone() }).collect();
        match inner.multipart.complete_multipart(&data_path, &multipart.id, parts).await {
            Ok(_) => Ok(()),
            // Stores answer a completed upload's id differently (S3: 404 NoSuchUpload); what counts is the object.
            Err(error) => match inner.objects.head(&data_path).await {
                Ok(meta) if meta.size == self.info.record.offset => Ok(()),
                _ => Err(store_error(id, "completing its multipart upload", error)),
            },
        }
    }

    /// Finishes an upload whose holder died while completing it (its info says `completing`).
    pub(crate) async fn finish_completing(&mut self, inner: &Inner) -> Result<(), StoreFailure> {
        self.check_writable()?;
        self.complete_multipart(inner).await?;
        let mut info = self.info.clone();
        info.completing = false;
        info.multipart = None;
        info.record.finish(SystemTime::now());
        self.save_info(inner, info).await?;
        self.discard();
        self.finished = true;
        self.finish(inner).await
    }

    /// After the info says finished: a partial upload may complete waiting finals; any other upload is marked for
    /// the workers.
    async fn finish(&mut self, inner: &Inner) -> Result<(), StoreFailure> {
        if self.info.record.concat == Some(Concat::Partial) {
            return crate::concat::assemble_waiting(inner, self).await;
        }
        self.mark_finished(inner).await
    }

    /// Puts the marker the workers claim finished uploads by, and wakes this instance's waiting workers.
    pub(crate) async fn mark_finished(&self, inner: &Inner) -> Result<(), StoreFailure> {
        let id = self.id;
        let finished_at = self.info.record.finished_at.unwrap_or_else(SystemTime::now);
        let marker = inner.layout.finished(id, finished_at);
        inner
            .objects
            .put(&marker, PutPayload::default())
            .await
            .map_err(|e| store_error(id, "marking it finished", e))?;
        inner.finished.notify_waiters();
        Ok(())
    }

    pub(crate) async fn declare_length(&mut self, inner: &Inner, length: u64) -> Result<UploadState, StoreFailure> {
        self.check_writable()?;
        match self.info.record.length {
            Some(known) if known == length => return Ok(self.state()),
            Some(known) => {
                return Err(failure(FailureKind::Internal, self.id, format_args!("length is {known}, not {length}")))
            }
            None if length < self.info.record.offset => {
                return Err(failure(FailureKind::Internal, self.id, "length below the offset"))
            }
            None => {}
        }
        let mut info = self.info.clone();
        info.record.length = Some(length);
        self.save_info(inner, info).await?;
        Ok(self.state())
    }
}

/// The share of the memory budget an upload whose committed state is `info` takes while it buffers: a part, or
/// what is left of its length after its committed parts, whichever is less.
pub(crate) async fn reserve(inner: &Inner, id: UploadId, info: &Info) -> Result<OwnedSemaphorePermit, StoreFailure> {
    let part_size = part_size(inner, info);
    // (A completing upload counts its last, short part as a whole one: nothing is left.)
    let left = info.record.length.map_or(part_size, |length| length.saturating_sub(info.parts_len()));
    let kib = part_size.min(left).div_ceil(1024).clamp(1, inner.budget_kib() as u64) as u32;
    let permit = inner.budget.clone().acquire_many_owned(kib).await;
    permit.map_err(|_| failure(FailureKind::Internal, id, "the memory budget is closed"))
}

/// The part size of an upload: the configured one, larger when its length needs more parts than S3 allows.
fn part_size(inner: &Inner, info: &Info) -> u64 {
    if let Some(multipart) = &info.multipart {
        return multipart.part_size;
    }
    let configured = inner.config.part_size.max(1) as u64;
    let needed = info.record.length.map_or(0, |length| length.div_ceil(MAX_PARTS as u64));
    if needed > configured {
        needed.next_multiple_of(1 << 20)
    } else {
        configured
    }
}

/// Takes the first `n` buffered bytes (splitting a frame where needed; never copying).
fn take_front(pending: &mut Pending, n: u64) -> Vec<Bytes> {
    let buffer = pending.buffer.get_or_insert_with(Vec::new);
    let mut taken = Vec::new();
    let mut want = n;
    let mut rest = Vec::with_capacity(buffer.len());
    for mut frame in buffer.drain(..) {
        if want == 0 {
            rest.push(frame);
        } else if frame.len() as u64 <= want {
            want -= frame.len() as u64;
            taken.push(frame);
        } else {
            taken.push(frame.split_to(want as usize));
            want = 0;
            rest.push(frame);
        }
    }
    *buffer = rest;
    pending.buffered -= n - want;
    taken
}

impl Inner {
    pub(crate) fn budget_kib(&self) -> usize {
        (self.config.memory_budget / 1024).clamp(1, tokio::sync::Semaphore::MAX_PERMITS)
    }
}
