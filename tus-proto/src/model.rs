//! An in-memory store and a synchronous driver: the reference for tests, examples, fuzzing and the in-memory
//! conformance runner. It keeps the storage contract (commit exactly what was written, finalise on completion,
//! answer finished-but-unclaimed uploads) with none of the durability.

use std::collections::HashMap;
use std::time::SystemTime;

use crate::{
    Concat, CreateHook, FailureKind, HookOutcome, Interruption, NewUpload, RequestHead, Response, Server, Step,
    StoreFailure, UploadId, UploadState,
};

/// The storage operations a [`MemoryStore`] can be told to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Creating an upload.
    Create,
    /// Reading an upload's state (HEAD).
    Stat,
    /// Opening an upload for writing.
    Open,
    /// Writing body bytes.
    Write,
    /// Committing an offset.
    Commit,
    /// Recording a deferred length.
    DeclareLength,
    /// Removing an upload.
    Delete,
}

/// The handle of an upload opened in a [`MemoryStore`].
#[derive(Debug)]
pub struct MemoryUpload {
    id: UploadId,
}

#[derive(Debug)]
struct Entry {
    state: UploadState,
    /// Written bytes, committed or not; only `..state.offset` counts.
    data: Vec<u8>,
}

/// Uploads held in memory. Ids are sequential UUIDs, so runs are repeatable.
#[derive(Debug, Default)]
pub struct MemoryStore {
    uploads: HashMap<UploadId, Entry>,
    created: u128,
    /// Per operation: how many more calls succeed, then the failure.
    failures: HashMap<Operation, (usize, FailureKind)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the next `operation` fail with `kind` (once).
    pub fn fail_next(&mut self, operation: Operation, kind: FailureKind) {
        self.fail_after(operation, 0, kind);
    }

    /// Lets `successes` more calls of `operation` succeed, then fails the next one with `kind` (once).
    pub fn fail_after(&mut self, operation: Operation, successes: usize, kind: FailureKind) {
        self.failures.insert(operation, (successes, kind));
    }

    fn injected(&mut self, operation: Operation) -> Result<(), StoreFailure> {
        match self.failures.get_mut(&operation) {
            Some((0, kind)) => {
                let kind = *kind;
                self.failures.remove(&operation);
                Err(StoreFailure::new(kind, format!("injected {operation:?} failure")))
            }
            Some((successes, _)) => {
                *successes -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn entry(&mut self, id: UploadId) -> Result<&mut Entry, StoreFailure> {
        self.uploads.get_mut(&id).ok_or_else(|| StoreFailure::new(FailureKind::NotFound, format!("no upload {id}")))
    }

    /// Creates an upload; a final one only when every part is a finished partial upload (its length is theirs).
    pub fn create(&mut self, new: &NewUpload) -> Result<(MemoryUpload, UploadId), StoreFailure> {
        self.injected(Operation::Create)?;
        let mut length = new.length;
        if let Some(Concat::Final(parts)) = &new.concat {
            let mut sum = 0;
            for part in parts {
                let state = self.uploads.get(part).map(|e| &e.state);
                match state {
                    Some(s) if s.concat == Some(Concat::Partial) && s.length.is_some() => sum += s.length.unwrap_or(0),
                    _ => return Err(StoreFailure::new(FailureKind::InvalidConcat, format!("{part} is no partial"))),
                }
            }
            length = Some(sum);
        }
        self.created += 1;
        let id = UploadId::from_uuid(uuid::Uuid::from_u128(0x4000_8000_0000_0000_0000 | self.created));
        let mut state = UploadState::new(id, length, 0);
        state.concat = new.concat.clone();
        state.metadata = new.metadata.clone();
        state.server_metadata = new.server_metadata.clone();
        state.last_write = Some(new.created_at);
        self.uploads.insert(id, Entry { state, data: Vec::new() });
        Ok((MemoryUpload { id }, id))
    }

    /// The committed state of an upload.
    pub fn stat(&mut self, id: UploadId) -> Result<UploadState, StoreFailure> {
        self.injected(Operation::Stat)?;
        Ok(self.entry(id)?.state.clone())
    }

    /// Opens an upload for writing.
    pub fn open(&mut self, id: UploadId) -> Result<(MemoryUpload, UploadState), StoreFailure> {
        self.injected(Operation::Open)?;
        let state = self.entry(id)?.state.clone();
        Ok((MemoryUpload { id }, state))
    }

    /// Writes `data` at `offset` (not yet committed).
    pub fn write_at(&mut self, upload: &MemoryUpload, offset: u64, data: &[u8]) -> Result<(), StoreFailure> {
        self.injected(Operation::Write)?;
        let entry = self.entry(upload.id)?;
        let start =
            usize::try_from(offset).map_err(|_| StoreFailure::new(FailureKind::Internal, "offset too large"))?;
        let end = start + data.len();
        if entry.data.len() < end {
            entry.data.resize(end, 0);
        }
        entry.data[start..end].copy_from_slice(data);
        Ok(())
    }

    /// Records `offset` as committed; finalises when `complete`.
    pub fn commit(&mut self, upload: &MemoryUpload, offset: u64, complete: bool) -> Result<UploadState, StoreFailure> {
        self.injected(Operation::Commit)?;
        let entry = self.entry(upload.id)?;
        entry.state.offset = offset;
        entry.state.finished |= complete;
        if complete {
            entry.state.length = Some(offset);
        }
        let committed = entry.state.clone();
        if complete && committed.concat == Some(Concat::Partial) {
            let waits = |s: &UploadState| matches!(&s.concat, Some(Concat::Final(p)) if p.contains(&upload.id));
            let waiting: Vec<UploadId> =
                self.uploads.iter().filter(|(_, e)| !e.state.finished && waits(&e.state)).map(|(id, _)| *id).collect();
            for id in waiting {
                self.assemble(&MemoryUpload { id })?;
            }
        }
        Ok(committed)
    }

    /// Records the length of an upload created without one.
    pub fn declare_length(&mut self, upload: &MemoryUpload, length: u64) -> Result<UploadState, StoreFailure> {
        self.injected(Operation::DeclareLength)?;
        let entry = self.entry(upload.id)?;
        entry.state.length = Some(length);
        Ok(entry.state.clone())
    }

    /// Assembles a final upload from its parts, finishes it and removes the parts; while some part is still
    /// uploading, the final stays as it is (the commit completing the last part assembles it).
    pub fn assemble(&mut self, upload: &MemoryUpload) -> Result<UploadState, StoreFailure> {
        let Some(Concat::Final(parts)) = self.entry(upload.id)?.state.concat.clone() else {
            return Err(StoreFailure::new(FailureKind::Internal, "not a final upload"));
        };
        let mut data = Vec::new();
        for part in &parts {
            match self.uploads.get(part) {
                Some(e) if e.state.finished => data.extend_from_slice(self.committed_bytes(*part).unwrap_or_default()),
                Some(_) => return Ok(self.entry(upload.id)?.state.clone()),
                None => return Err(StoreFailure::new(FailureKind::InvalidConcat, "a part vanished")),
            }
        }
        for part in &parts {
            self.uploads.remove(part);
        }
        let entry = self.entry(upload.id)?;
        entry.state.offset = data.len() as u64;
        entry.state.length = Some(entry.state.offset);
        entry.state.finished = true;
        entry.data = data;
        Ok(entry.state.clone())
    }

    /// Removes an upload.
    pub fn delete(&mut self, id: UploadId) -> Result<(), StoreFailure> {
        self.injected(Operation::Delete)?;
        self.uploads
            .remove(&id)
            .map(drop)
            .ok_or_else(|| StoreFailure::new(FailureKind::NotFound, format!("no upload {id}")))
    }

    /// The committed bytes of an upload.
    pub fn committed_bytes(&self, id: UploadId) -> Option<&[u8]> {
        let entry = self.uploads.get(&id)?;
        let end = usize::try_from(entry.state.offset).ok()?;
        entry.data.get(..end)
    }

    /// Claims a finished upload: removes it and returns its state and bytes.
    pub fn claim(&mut self, id: UploadId) -> Option<(UploadState, Vec<u8>)> {
        let state = &self.uploads.get(&id)?.state;
        if !state.finished || state.concat == Some(Concat::Partial) {
            return None;
        }
        let mut entry = self.uploads.remove(&id)?;
        entry.data.truncate(usize::try_from(entry.state.offset).ok()?);
        Some((entry.state, entry.data))
    }

    /// Drives one request to its response, synchronously: the reference driver loop.
    ///
    /// `body` is handed over chunk by chunk; `cut` ends it with an interruption instead of normally. `hook` plays
    /// `on_create`.
    pub fn handle(
        &mut self,
        server: &Server,
        head: RequestHead<'_>,
        body: &[&[u8]],
        cut: Option<Interruption>,
        hook: impl FnOnce(&CreateHook) -> HookOutcome,
        now: SystemTime,
    ) -> Response {
        let response = self.drive(server.begin(head, now), body, cut, hook);
        server.finish(head, response)
    }

    /// The driver loop of [`handle`](Self::handle), from `step` on.
    fn drive(
        &mut self,
        mut step: Step<MemoryUpload>,
        body: &[&[u8]],
        cut: Option<Interruption>,
        hook: impl FnOnce(&CreateHook) -> HookOutcome,
    ) -> Response {
        let mut hook = Some(hook);
        loop {
            step = match step {
                Step::Respond(response) => return response,
                Step::Hook(h) => {
                    let outcome = hook.take().map_or_else(HookOutcome::accept, |hook| hook(&h));
                    h.continue_with(outcome)
                }
                Step::Create(c) => {
                    let result = self.create(c.new_upload());
                    c.continue_with(result)
                }
                Step::Stat(s) => {
                    let result = self.stat(s.id());
                    s.continue_with(result)
                }
                Step::Open(o) => {
                    let result = self.open(o.id());
                    o.continue_with(result)
                }
                Step::Receive(mut rx) => match (self.receive(&mut rx, body), cut) {
                    (Err(failure), _) => rx.failed(failure),
                    (Ok(()), Some(why)) => rx.interrupted(why),
                    (Ok(()), None) => rx.finish(),
                },
                Step::Commit(mut c) => {
                    let (offset, complete) = (c.offset(), c.is_complete());
                    let result = self.commit(c.upload(), offset, complete);
                    c.continue_with(result)
                }
                Step::DeclareLength(mut d) => {
                    let length = d.length();
                    let result = self.declare_length(d.upload(), length);
                    d.continue_with(result)
                }
                Step::Terminate(t) => {
                    let result = self.delete(t.id());
                    t.continue_with(result)
                }
                Step::Assemble(mut a) => {
                    let result = self.assemble(a.upload());
                    a.continue_with(result)
                }
            };
        }
    }

    fn receive(&mut self, rx: &mut crate::Receive<MemoryUpload>, body: &[&[u8]]) -> Result<(), StoreFailure> {
        for chunk in body {
            let data = rx.accept(chunk);
            let at = rx.write_offset();
            if !data.is_empty() {
                // As a real driver: nothing to write, no storage call.
                self.write_at(rx.upload(), at, data)?;
                rx.stored(data.len() as u64);
            }
            if rx.overflowed() {
                break;
            }
        }
        Ok(())
    }
}
