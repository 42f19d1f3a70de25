//! [`MemoryStore`]: the contract kept in memory, for tests, examples and library authors without a disk; nothing
//! survives the process.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tus_proto::{Concat, FailureKind, NewUpload, StoreFailure, UploadId, UploadState};

use crate::{Claim, JanitorConfig, ReleaseRequest, Store, SweepReason, Swept, UploadRecord, STAT_SETTLE};

/// The operations a [`MemoryStore`] can be told to fail, to test what a driver does with failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// [`Store::create`].
    Create,
    /// [`Store::stat`].
    Stat,
    /// [`Store::open`].
    Open,
    /// [`Store::write`].
    Write,
    /// [`Store::commit`].
    Commit,
    /// [`Store::delete`].
    Delete,
    /// [`Store::declare_length`].
    DeclareLength,
    /// [`Store::assemble`].
    Assemble,
}

/// Uploads held in memory. Ids are sequential UUIDs (repeatable runs). Cheap to clone: clones share the uploads.
#[derive(Clone, Debug)]
pub struct MemoryStore {
    shared: Arc<Shared>,
    release_timeout: Duration,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Signalled whenever a holder lets go or an upload finishes.
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    uploads: HashMap<UploadId, Entry>,
    created: u128,
    /// Incremented by every handle handed out: tells a handle from one that took over after it.
    handles: u64,
    /// Per operation: how many more calls succeed, then the failure.
    failures: HashMap<Operation, (usize, FailureKind)>,
    /// Uploads that ended (claimed or deleted), remembered until swept.
    ended: HashMap<UploadId, Ended>,
}

/// What the store remembers of an upload that ended, and since when.
#[derive(Debug)]
struct Ended {
    /// `Some(length)` for a claimed upload, `None` for a deleted one.
    finished: Option<u64>,
    /// A claimed final upload's concatenation: it is still answered as the final it was.
    concat: Option<Concat>,
    at: SystemTime,
}

impl Ended {
    /// What a request for an ended upload gets: `Ok(length)` when it finished, else `Gone`.
    fn answer(&self, id: UploadId) -> Result<u64, StoreFailure> {
        self.finished.ok_or_else(|| failure(FailureKind::Gone, id, "the upload was deleted"))
    }

    /// The state of an ended upload that finished; `Gone` for a deleted one.
    fn state(&self, id: UploadId) -> Result<UploadState, StoreFailure> {
        let mut state = UploadState::done(id, self.answer(id)?);
        state.concat = self.concat.clone();
        Ok(state)
    }
}

#[derive(Debug)]
struct Entry {
    record: UploadRecord,
    /// Bytes written, committed or not: only `..record.offset` counts.
    data: Vec<u8>,
    finished: bool,
    claimed: bool,
    /// The handle holding the upload, if any.
    holder: Option<u64>,
    release_requested: ReleaseRequest,
}

/// An upload held in a [`MemoryStore`]; dropping it lets go.
#[derive(Debug)]
pub struct MemoryUpload {
    id: UploadId,
    handle: u64,
    /// Where this handle's writes end (from the committed offset on).
    written: u64,
    shared: Arc<Shared>,
}

fn failure(kind: FailureKind, id: UploadId, what: &str) -> StoreFailure {
    StoreFailure::new(kind, format!("memory store, upload {id}: {what}"))
}

fn not_found(id: UploadId) -> StoreFailure {
    failure(FailureKind::NotFound, id, "no such upload")
}

fn misuse(id: UploadId, what: String) -> StoreFailure {
    failure(FailureKind::Internal, id, &what)
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store; a held upload is taken over after at most 3 s.
    pub fn new() -> Self {
        MemoryStore { shared: Arc::default(), release_timeout: Duration::from_secs(3) }
    }

    /// How long `open` and `delete` wait for a holder to let go after asking it to.
    pub fn release_timeout(mut self, timeout: Duration) -> Self {
        self.release_timeout = timeout;
        self
    }

    /// Makes the next call of `operation` fail with `kind` (once).
    pub fn fail_next(&self, operation: Operation, kind: FailureKind) {
        self.fail_after(operation, 0, kind);
    }

    /// Lets `successes` more calls of `operation` succeed, then fails the next one with `kind` (once).
    pub fn fail_after(&self, operation: Operation, successes: usize, kind: FailureKind) {
        self.lock().failures.insert(operation, (successes, kind));
    }

    /// The committed bytes of an unclaimed upload.
    pub fn committed_bytes(&self, id: UploadId) -> Option<Vec<u8>> {
        let state = self.lock();
        let entry = state.uploads.get(&id).filter(|e| !e.claimed)?;
        entry.data.get(..usize::try_from(entry.record.offset).ok()?).map(<[u8]>::to_vec)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// Takes `id` for a new handle, asking a holder to let go (for `why`) and waiting for it up to the release
    /// timeout; runs `then` with the entry while the lock is held. Waits on the `blocking` pool, never on the
    /// caller's thread.
    async fn take_over<T: Send + 'static>(
        &self,
        id: UploadId,
        why: ReleaseRequest,
        then: impl FnOnce(&mut State, UploadId) -> Result<T, StoreFailure> + Send + 'static,
    ) -> Result<T, StoreFailure> {
        let (shared, timeout) = (self.shared.clone(), self.release_timeout);
        blocking::unblock(move || {
            let (state, free) = shared.wait_for_holder(id, why, timeout)?;
            if !free {
                return Err(failure(FailureKind::Locked, id, "the holder did not let go in time"));
            }
            let mut state = state;
            state.uploads.get_mut(&id).expect("waited for it").release_requested = ReleaseRequest::None;
            then(&mut state, id)
        })
        .await
    }

    fn handle(&self, state: &mut State, id: UploadId, written: u64) -> MemoryUpload {
        state.handles += 1;
        let handle = state.handles;
        if let Some(entry) = state.uploads.get_mut(&id) {
            entry.holder = (!entry.finished).then_some(handle);
        }
        MemoryUpload { id, handle, written, shared: self.shared.clone() }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks the holder of `id` (if any) to let go for `why`, and waits up to `timeout` for it: the locked state,
    /// and whether nobody holds the upload now. Errors for an upload that is not there (or ended).
    fn wait_for_holder(
        &self,
        id: UploadId,
        why: ReleaseRequest,
        timeout: Duration,
    ) -> Result<(MutexGuard<'_, State>, bool), StoreFailure> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if state.uploads.get(&id).is_some_and(|e| e.claimed) {
                return Err(failure(FailureKind::Finished, id, "a worker claimed the upload"));
            }
            let Some(entry) = state.uploads.get_mut(&id) else {
                return Err(match state.ended.get(&id) {
                    Some(ended) => match ended.answer(id) {
                        Ok(_) => failure(FailureKind::Finished, id, "the upload was claimed"),
                        Err(gone) => gone,
                    },
                    None => not_found(id),
                });
            };
            if entry.holder.is_none() {
                return Ok((state, true));
            }
            // A termination is never downgraded to a takeover.
            if entry.release_requested != ReleaseRequest::Terminate {
                entry.release_requested = why;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok((state, false));
            }
            state = self.changed.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}

impl State {
    fn injected(&mut self, operation: Operation, id: Option<UploadId>) -> Result<(), StoreFailure> {
        match self.failures.get_mut(&operation) {
            Some((0, kind)) => {
                let kind = *kind;
                self.failures.remove(&operation);
                let upload = id.map_or_else(String::new, |id| format!(", upload {id}"));
                Err(StoreFailure::new(kind, format!("memory store{upload}: injected {operation:?} failure")))
            }
            Some((successes, _)) => {
                *successes -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Assembles the final upload `id` if every part is a complete partial: its data, finished, the parts removed.
    fn assemble_if_ready(&mut self, id: UploadId) -> Option<UploadState> {
        let Some(Concat::Final(parts)) = self.uploads.get(&id).filter(|e| !e.finished)?.record.concat.clone() else {
            return None;
        };
        let mut data = Vec::new();
        for part in &parts {
            let entry = self.uploads.get(part).filter(|e| !e.claimed && e.record.is_finished_partial())?;
            data.extend_from_slice(&entry.data[..entry.record.offset as usize]);
        }
        for part in &parts {
            self.uploads.remove(part);
        }
        let now = SystemTime::now();
        let entry = self.uploads.get_mut(&id)?;
        entry.record.offset = data.len() as u64;
        entry.record.length = Some(entry.record.offset);
        entry.record.last_write = now;
        entry.record.finish(now);
        entry.data = data;
        entry.finished = true;
        entry.holder = None;
        Some(state_of(id, entry))
    }

    /// The final uploads waiting for `part`.
    fn finals_waiting_for(&self, part: UploadId) -> Vec<UploadId> {
        let waits = |e: &Entry| matches!(&e.record.concat, Some(Concat::Final(parts)) if parts.contains(&part));
        self.uploads.iter().filter(|(_, e)| !e.finished && waits(e)).map(|(id, _)| *id).collect()
    }

    /// The entry `upload` holds, or why it holds none.
    fn held(&mut self, upload: &MemoryUpload) -> Result<&mut Entry, StoreFailure> {
        let entry = self.uploads.get_mut(&upload.id).ok_or_else(|| not_found(upload.id))?;
        if entry.finished {
            return Err(misuse(upload.id, "the upload is finished".into()));
        }
        if entry.holder != Some(upload.handle) {
            return Err(misuse(upload.id, "another request took the upload over".into()));
        }
        Ok(entry)
    }
}

fn state_of(id: UploadId, entry: &Entry) -> UploadState {
    entry.record.to_state(id, entry.finished)
}

impl Drop for MemoryUpload {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        if let Some(entry) = state.uploads.get_mut(&self.id).filter(|e| e.holder == Some(self.handle)) {
            entry.holder = None;
            // Bytes written past the committed offset are forgotten.
            entry.data.truncate(usize::try_from(entry.record.offset).unwrap_or(usize::MAX));
        }
        drop(state);
        self.shared.changed.notify_all();
    }
}

impl Store for MemoryStore {
    type Upload = MemoryUpload;
    type Claim = MemoryClaim;

    async fn create(&self, new: NewUpload) -> Result<(MemoryUpload, UploadId), StoreFailure> {
        let mut state = self.lock();
        state.injected(Operation::Create, None)?;
        state.created += 1;
        let id = UploadId::from_uuid(uuid::Uuid::from_u128(0x4000_8000_0000_0000_0000 | state.created));
        let mut length = new.length;
        if let Some(Concat::Final(parts)) = &new.concat {
            // Finished or not (concatenation-unfinished), each part is a partial upload of known length.
            let mut sum = 0u64;
            for part in parts {
                match state.uploads.get(part).filter(|e| !e.claimed && e.record.concat == Some(Concat::Partial)) {
                    Some(Entry { record: UploadRecord { length: Some(len), .. }, .. }) => sum += len,
                    _ => {
                        return Err(failure(FailureKind::InvalidConcat, *part, "not a partial upload of known length"))
                    }
                }
            }
            length = Some(sum);
        }
        let mut record = UploadRecord::new(length, new.metadata, new.server_metadata, new.created_at);
        record.concat = new.concat;
        let entry = Entry {
            record,
            data: Vec::new(),
            finished: false,
            claimed: false,
            holder: None,
            release_requested: ReleaseRequest::None,
        };
        state.uploads.insert(id, entry);
        let upload = self.handle(&mut state, id, 0);
        Ok((upload, id))
    }

    async fn stat(&self, id: UploadId) -> Result<UploadState, StoreFailure> {
        {
            let mut state = self.lock();
            state.injected(Operation::Stat, Some(id))?;
            if let Some(ended) = state.ended.get(&id) {
                return ended.state(id);
            }
            let entry = state.uploads.get(&id).filter(|e| !e.claimed).ok_or_else(|| not_found(id))?;
            if entry.holder.is_none() {
                return Ok(state_of(id, entry));
            }
        }
        let shared = self.shared.clone();
        blocking::unblock(move || {
            let (state, _) = shared.wait_for_holder(id, ReleaseRequest::Takeover, STAT_SETTLE)?;
            Ok(state_of(id, &state.uploads[&id]))
        })
        .await
    }

    async fn open(&self, id: UploadId) -> Result<(MemoryUpload, UploadState), StoreFailure> {
        {
            let mut state = self.lock();
            state.injected(Operation::Open, Some(id))?;
            if let Some(ended) = state.ended.get(&id) {
                let ended = ended.state(id)?;
                return Ok((self.handle(&mut state, id, ended.offset), ended));
            }
        }
        let store = self.clone();
        self.take_over(id, ReleaseRequest::Takeover, move |state, id| {
            let entry = &state.uploads[&id];
            let (opened, offset) = (state_of(id, entry), entry.record.offset);
            Ok((store.handle(state, id, offset), opened))
        })
        .await
    }

    async fn write(&self, upload: &mut MemoryUpload, offset: u64, parts: Vec<Bytes>) -> Result<(), StoreFailure> {
        let mut state = self.lock();
        state.injected(Operation::Write, Some(upload.id))?;
        let entry = state.held(upload)?;
        let len: u64 = parts.iter().map(|p| p.len() as u64).sum();
        let end = offset.checked_add(len).ok_or_else(|| misuse(upload.id, "offset overflow".into()))?;
        if offset < entry.record.offset || offset > upload.written.max(entry.record.offset) {
            return Err(misuse(upload.id, format!("write at {offset} outside the writable range")));
        }
        if entry.record.length.is_some_and(|length| end > length) {
            return Err(misuse(upload.id, format!("write up to {end} past the length")));
        }
        let end_index = usize::try_from(end).map_err(|_| misuse(upload.id, "offset too large".into()))?;
        entry.data.truncate(offset as usize);
        entry.data.reserve(end_index - entry.data.len());
        for part in &parts {
            entry.data.extend_from_slice(part);
        }
        upload.written = end;
        Ok(())
    }

    async fn commit(
        &self,
        upload: &mut MemoryUpload,
        offset: u64,
        complete: bool,
    ) -> Result<UploadState, StoreFailure> {
        let mut state = self.lock();
        state.injected(Operation::Commit, Some(upload.id))?;
        let id = upload.id;
        if let Some(entry) = state.uploads.get(&id).filter(|e| e.finished && e.record.offset == offset) {
            return Ok(state_of(id, entry)); // committing a finished upload's own offset again
        }
        let entry = state.held(upload)?;
        if offset < entry.record.offset || offset > upload.written.max(entry.record.offset) {
            return Err(misuse(id, format!("commit of {offset} outside the written range")));
        }
        let now = SystemTime::now();
        if complete {
            match entry.record.length {
                None => entry.record.length = Some(offset),
                Some(length) if length != offset => {
                    return Err(misuse(id, format!("completion at {offset} before the length {length}")))
                }
                Some(_) => {}
            }
        }
        entry.record.offset = offset;
        entry.record.last_write = now;
        // A partial upload reads as finished from its record alone, and is never handed over.
        if complete && entry.record.concat != Some(Concat::Partial) {
            entry.record.finish(now);
            entry.finished = true;
            entry.holder = None;
        }
        let committed = state_of(id, entry);
        if committed.finished && committed.concat == Some(Concat::Partial) {
            // concatenation-unfinished: a final waiting for this part may be complete now.
            for waiting in state.finals_waiting_for(id) {
                state.assemble_if_ready(waiting);
            }
        }
        drop(state);
        if complete {
            self.shared.changed.notify_all();
        }
        Ok(committed)
    }

    async fn discard(&self, upload: &mut MemoryUpload) -> Result<(), StoreFailure> {
        let mut state = self.lock();
        let entry = state.held(upload)?;
        entry.data.truncate(usize::try_from(entry.record.offset).unwrap_or(usize::MAX));
        upload.written = entry.record.offset;
        Ok(())
    }

    async fn assemble(&self, upload: &mut MemoryUpload) -> Result<UploadState, StoreFailure> {
        let mut state = self.lock();
        state.injected(Operation::Assemble, Some(upload.id))?;
        let id = upload.id;
        let Some(Concat::Final(parts)) = state.held(upload)?.record.concat.clone() else {
            return Err(misuse(id, "assemble of an upload that is not a final one".into()));
        };
        // A part gone meanwhile (assembled into another final, deleted): refused, and the final removed.
        let partial = |e: &Entry| !e.claimed && e.record.concat == Some(Concat::Partial);
        if let Some(gone) = parts.iter().find(|part| !state.uploads.get(part).is_some_and(partial)) {
            let gone = *gone;
            state.uploads.remove(&id);
            return Err(failure(FailureKind::InvalidConcat, gone, "not a partial upload any more"));
        }
        // Not ready: the commit that completes its last partial assembles it.
        let assembled = state.assemble_if_ready(id).unwrap_or_else(|| state_of(id, &state.uploads[&id]));
        drop(state);
        self.shared.changed.notify_all();
        Ok(assembled)
    }

    async fn declare_length(&self, upload: &mut MemoryUpload, length: u64) -> Result<UploadState, StoreFailure> {
        let mut state = self.lock();
        state.injected(Operation::DeclareLength, Some(upload.id))?;
        let id = upload.id;
        let entry = state.held(upload)?;
        match entry.record.length {
            Some(known) if known != length => return Err(misuse(id, format!("length {known} cannot become {length}"))),
            _ if length < entry.record.offset => return Err(misuse(id, format!("length {length} below the offset"))),
            _ => entry.record.length = Some(length),
        }
        Ok(state_of(id, entry))
    }

    fn release_requested(&self, upload: &MemoryUpload) -> ReleaseRequest {
        let state = self.lock();
        match state.uploads.get(&upload.id) {
            Some(entry) if entry.holder == Some(upload.handle) => entry.release_requested,
            _ => ReleaseRequest::None,
        }
    }

    async fn delete(&self, id: UploadId) -> Result<(), StoreFailure> {
        self.lock().injected(Operation::Delete, Some(id))?;
        self.take_over(id, ReleaseRequest::Terminate, |state, id| {
            state.uploads.remove(&id);
            state.ended.insert(id, Ended { finished: None, concat: None, at: SystemTime::now() });
            Ok(())
        })
        .await
    }

    async fn claim(&self, timeout: Duration) -> Result<Option<MemoryClaim>, StoreFailure> {
        let shared = self.shared.clone();
        let claimed = blocking::unblock(move || {
            let deadline = Instant::now() + timeout;
            let mut state = shared.lock();
            loop {
                let oldest = state
                    .uploads
                    .iter()
                    .filter(|(_, e)| e.finished && !e.claimed)
                    .min_by_key(|(id, e)| (e.record.finished_at, **id))
                    .map(|(id, _)| *id);
                if let Some(id) = oldest {
                    let entry = state.uploads.get_mut(&id).expect("listed just now");
                    entry.claimed = true;
                    // Remembered as finished from the claim on, while the worker saves it.
                    let length = entry.record.length.unwrap_or(entry.record.offset);
                    let claimed = (id, entry.record.clone(), std::mem::take(&mut entry.data));
                    let concat = entry.record.concat.clone().filter(|c| matches!(c, Concat::Final(_)));
                    state.ended.insert(id, Ended { finished: Some(length), concat, at: SystemTime::now() });
                    return Some(claimed);
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                state = shared.changed.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0;
            }
        })
        .await;
        Ok(claimed.map(|(id, record, data)| MemoryClaim {
            id,
            record,
            data: Bytes::from(data),
            saved: (false, false),
            shared: Some(self.shared.clone()),
        }))
    }

    async fn sweep(&self, config: &JanitorConfig, now: SystemTime) -> Swept {
        let mut swept = Swept::default();
        let mut expired = Vec::new();
        let mut state = self.lock();
        let before = state.ended.len();
        let older = |t: SystemTime, age: Duration| now.duration_since(t).is_ok_and(|d| d > age);
        state.ended.retain(|_, ended| !older(ended.at, config.ended_upload_age));
        swept.forgotten = before - state.ended.len();
        state.uploads.retain(|id, entry| {
            let reason = if entry.claimed {
                None
            } else if entry.finished {
                let finished_at = entry.record.finished_at.unwrap_or(entry.record.last_write);
                older(finished_at, config.completed_file_age).then_some(SweepReason::Unclaimed)
            } else {
                older(entry.record.last_write, config.stale_upload_age).then_some(SweepReason::Stale)
            };
            match reason {
                Some(_) if entry.holder.is_some() => {
                    swept.skipped_held += 1;
                    true
                }
                Some(reason) => {
                    swept.removed.push((*id, reason));
                    if reason == SweepReason::Stale {
                        // Expired: a client that comes back is told so (Gone).
                        expired.push(*id);
                    }
                    false
                }
                None => true,
            }
        });
        for id in expired {
            state.ended.insert(id, Ended { finished: None, concat: None, at: now });
        }
        swept
    }
}

/// A finished upload claimed from a [`MemoryStore`].
#[derive(Debug)]
pub struct MemoryClaim {
    id: UploadId,
    record: UploadRecord,
    data: Bytes,
    /// Whether the data and the record were saved.
    saved: (bool, bool),
    /// The store, until the claim ends.
    shared: Option<Arc<Shared>>,
}

impl MemoryClaim {
    /// The upload's bytes.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    fn end(&mut self) {
        if let Some(shared) = self.shared.take() {
            let mut state = shared.lock();
            state.uploads.remove(&self.id);
            let length = self.record.length.unwrap_or(self.record.offset);
            let concat = self.record.concat.clone().filter(|c| matches!(c, Concat::Final(_)));
            state.ended.insert(self.id, Ended { finished: Some(length), concat, at: SystemTime::now() });
        }
    }
}

/// Writes `bytes` as the file `dest` on the `blocking` pool, once (`saved` says whether it was).
async fn save_once(id: UploadId, saved: &mut bool, dest: PathBuf, bytes: Bytes) -> Result<(), StoreFailure> {
    if *saved {
        return Err(misuse(id, "saved twice".into()));
    }
    let written = blocking::unblock(move || std::fs::write(&dest, &bytes).map_err(|e| (dest, e))).await;
    written.map_err(|(dest, e)| failure(FailureKind::Internal, id, &format!("save to {}: {e}", dest.display())))?;
    *saved = true;
    Ok(())
}

impl Claim for MemoryClaim {
    fn id(&self) -> UploadId {
        self.id
    }

    fn record(&self) -> &UploadRecord {
        &self.record
    }

    async fn save(&mut self, dest: PathBuf) -> Result<(), StoreFailure> {
        save_once(self.id, &mut self.saved.0, dest, self.data.clone()).await
    }

    async fn save_record(&mut self, dest: PathBuf) -> Result<(), StoreFailure> {
        let json = Bytes::from(self.record.to_json());
        save_once(self.id, &mut self.saved.1, dest, json).await
    }

    async fn finish(mut self) -> Result<(), StoreFailure> {
        self.end();
        Ok(())
    }
}

impl Drop for MemoryClaim {
    fn drop(&mut self) {
        self.end();
    }
}
