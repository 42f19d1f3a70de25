//! A reference model of TUS operation sequences, checked against `tus-proto` driving its in-memory store.
//!
//! Shared, by `#[path]`, between the property test `tests/op_sequences.rs` and the `ops` fuzz target in `fuzz/`
//! (which also derives `arbitrary::Arbitrary` for the operations, through its `arbitrary` feature). It uses only
//! `tus_proto` and `http`, so both can include it as it is.
//!
//! [`Harness::apply`] runs one [`Op`] as real requests through [`Server`] and [`MemoryStore`] — with a driver loop
//! of its own that also checks the steps — and compares every response, and the committed bytes of every upload
//! afterwards, with what a few lines of independent bookkeeping ([`ModelUpload`]) expect. The first difference is
//! returned as an `Err` describing it.
//!
//! What "crash and reopen" means for an in-memory store: the only state a store promises to keep is the committed
//! one (offset, committed bytes, finished, metadata). [`Op::CrashAndReopen`] throws the store away and builds a new
//! one holding exactly that, with the ids in creation order, and — as a crash can leave written-but-uncommitted
//! bytes behind (preallocated or partly written data) — fills every upload past its committed offset with junk.
//! Pending injected faults die with the old store. The protocol must then carry on as if nothing happened: no junk
//! byte may ever be counted as committed.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, Request};
use tus_proto::model::{MemoryStore, MemoryUpload, Operation};
use tus_proto::{
    Event, FailureKind, HookOutcome, Interruption, Metadata, NewUpload, RequestHead, Response, Server, Step,
    StoreFailure, UploadId,
};

/// `Tus-Max-Size` of the server under test (lengths are `u8`, so some creations are too large).
pub const MAX_SIZE: u64 = 200;
/// `max_chunk_size` of the server under test (small, so both body limits are reached).
pub const MAX_CHUNK: u64 = 24;
/// The request time of the first operation.
pub const START: Duration = Duration::from_secs(1_795_470_219);

/// One step of a client's (or the environment's) life.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Op {
    /// POST: create an upload of `length` bytes, with a `filename` in `Upload-Metadata` when `named`.
    Create { length: u8, named: bool },
    /// PATCH an upload (see [`pick`]) at some offset, the body in chunks, with a `Content-Length` or not.
    Patch { upload: u8, offset: OffsetChoice, chunks: Vec<Vec<u8>>, declare: Declare },
    /// HEAD an upload.
    Head { upload: u8 },
    /// PATCH at the right offset, announcing `missing` bytes more than arrive, then the body breaks off.
    Disconnect { upload: u8, sent: Vec<u8>, missing: u8, why: Cut },
    /// The process dies and a new store is opened on the committed state (see the module documentation).
    CrashAndReopen { junk: u8 },
    /// Time passes before the next request.
    AdvanceClock { secs: u32 },
    /// After `after` more successes, the store fails one `operation` with `kind`.
    Fault { operation: Oper, kind: Kind, after: u8 },
    /// A consumer claims a finished upload (removes it from the store).
    Claim { upload: u8 },
}

/// Which `Upload-Offset` a PATCH sends, relative to the committed offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum OffsetChoice {
    Current,
    Behind(u8),
    Ahead(u8),
    Raw(u16),
}

/// Which `Content-Length` a PATCH sends, relative to the bytes it sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Declare {
    Absent,
    Exact,
    More(u8),
    Less(u8),
}

/// How a body breaks off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Cut {
    ClientGone,
    TimedOut,
    TakenOver,
}

/// A store operation that can be made to fail (mirrors [`Operation`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Oper {
    Create,
    Stat,
    Open,
    Write,
    Commit,
}

/// A failure kind (mirrors [`FailureKind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Kind {
    NotFound,
    Gone,
    Locked,
    NoSpace,
    Unavailable,
    Internal,
}

impl Cut {
    pub fn interruption(self) -> Interruption {
        match self {
            Cut::ClientGone => Interruption::ClientGone,
            Cut::TimedOut => Interruption::TimedOut,
            Cut::TakenOver => Interruption::TakenOver,
        }
    }

    /// The status of a PATCH whose body broke off this way.
    fn status(self) -> u16 {
        match self {
            Cut::ClientGone => 400,
            Cut::TimedOut => 408,
            Cut::TakenOver => 409,
        }
    }
}

impl Oper {
    pub fn operation(self) -> Operation {
        match self {
            Oper::Create => Operation::Create,
            Oper::Stat => Operation::Stat,
            Oper::Open => Operation::Open,
            Oper::Write => Operation::Write,
            Oper::Commit => Operation::Commit,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl Kind {
    pub fn failure_kind(self) -> FailureKind {
        match self {
            Kind::NotFound => FailureKind::NotFound,
            Kind::Gone => FailureKind::Gone,
            Kind::Locked => FailureKind::Locked,
            Kind::NoSpace => FailureKind::NoSpace,
            Kind::Unavailable => FailureKind::Unavailable,
            Kind::Internal => FailureKind::Internal,
        }
    }

    /// The status a failure of this kind is answered with, written down independently of `FailureKind::status`.
    fn status(self) -> u16 {
        match self {
            Kind::NotFound => 404,
            Kind::Gone => 410,
            Kind::Locked => 423,
            Kind::NoSpace => 507,
            Kind::Unavailable => 503,
            Kind::Internal => 500,
        }
    }
}

/// What the model knows about one upload.
#[derive(Clone, Debug)]
pub struct ModelUpload {
    pub id: UploadId,
    pub length: u64,
    pub metadata: Metadata,
    /// The committed bytes: the offset is their length.
    pub data: Vec<u8>,
    pub finished: bool,
    pub claimed: bool,
}

/// The id of the `n`-th upload a [`MemoryStore`] creates (its ids are sequential, as documented).
pub fn nth_id(n: u128) -> UploadId {
    format!("00000000-0000-4000-8000-{n:012x}").parse().expect("a canonical UUID")
}

/// An id no upload of the harness ever has.
pub fn unknown_id() -> UploadId {
    "ffffffff-ffff-4fff-bfff-ffffffffffff".parse().expect("a canonical UUID")
}

/// Which upload an operation's `upload` byte names: one of the `count` created so far, or (one time in
/// `count + 1`, and always when there is none) an id that was never created.
pub fn pick(upload: u8, count: usize) -> Option<usize> {
    let i = usize::from(upload) % (count + 1);
    (i < count).then_some(i)
}

/// Server, store, clock and model.
pub struct Harness {
    pub server: Server,
    pub store: MemoryStore,
    pub now: SystemTime,
    pub uploads: Vec<ModelUpload>,
    /// Successful creations so far: the next id is `nth_id(created + 1)`.
    pub created: u128,
    /// Mirror of the store's pending faults, by [`Oper`]: (successes left, kind).
    pub faults: [Option<(usize, Kind)>; 5],
    /// Operations applied so far (for messages).
    pub step: usize,
}

/// What the model expects of one response.
#[derive(Debug, PartialEq, Eq)]
struct Expected {
    status: u16,
    /// `Upload-Offset` header, when there must be one (and then exactly this value); `None`: must be absent.
    offset: Option<u64>,
    /// The kinds of the events, in order.
    events: Vec<&'static str>,
}

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    pub fn new() -> Harness {
        let server = Server::builder()
            .max_size(MAX_SIZE)
            .max_chunk_size(MAX_CHUNK)
            .base_path("/files")
            // The model has no expiry: its clock advances by days between operations.
            .never_expire()
            .build()
            .expect("a valid configuration");
        Harness {
            server,
            store: MemoryStore::new(),
            now: SystemTime::UNIX_EPOCH + START,
            uploads: Vec::new(),
            created: 0,
            faults: [None; 5],
            step: 0,
        }
    }

    /// Runs a whole sequence; the first violation is returned with its position.
    pub fn run(ops: &[Op]) -> Result<Harness, String> {
        let mut harness = Harness::new();
        for op in ops {
            harness.apply(op).map_err(|e| format!("op #{} {op:?}: {e}", harness.step))?;
        }
        Ok(harness)
    }

    /// Applies one operation and checks the response and the store against the model.
    pub fn apply(&mut self, op: &Op) -> Result<(), String> {
        self.step += 1;
        match op {
            Op::Create { length, named } => self.create(u64::from(*length), *named)?,
            Op::Patch { upload, offset, chunks, declare } => {
                let target = pick(*upload, self.uploads.len());
                let committed = target.map_or(0, |i| self.uploads[i].data.len() as u64);
                let offset = match *offset {
                    OffsetChoice::Current => committed,
                    OffsetChoice::Behind(n) => committed.saturating_sub(u64::from(n)),
                    OffsetChoice::Ahead(n) => committed + u64::from(n),
                    OffsetChoice::Raw(n) => u64::from(n),
                };
                let sent: u64 = chunks.iter().map(|c| c.len() as u64).sum();
                let declared = match *declare {
                    Declare::Absent => None,
                    Declare::Exact => Some(sent),
                    Declare::More(n) => Some(sent + u64::from(n)),
                    Declare::Less(n) => Some(sent.saturating_sub(u64::from(n))),
                };
                let chunks: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
                self.patch(target, offset, declared, &chunks, None)?;
            }
            Op::Disconnect { upload, sent, missing, why } => {
                let target = pick(*upload, self.uploads.len());
                let committed = target.map_or(0, |i| self.uploads[i].data.len() as u64);
                let declared = sent.len() as u64 + u64::from(*missing);
                self.patch(target, committed, Some(declared), &[sent.as_slice()], Some(*why))?;
            }
            Op::Head { upload } => self.head(pick(*upload, self.uploads.len()))?,
            Op::CrashAndReopen { junk } => self.crash_and_reopen(*junk)?,
            Op::AdvanceClock { secs } => self.now += Duration::from_secs(u64::from(*secs)),
            Op::Fault { operation, kind, after } => {
                self.store.fail_after(operation.operation(), usize::from(*after), kind.failure_kind());
                self.faults[operation.index()] = Some((usize::from(*after), *kind));
            }
            Op::Claim { upload } => self.claim(pick(*upload, self.uploads.len()))?,
        }
        self.check_store()
    }

    /// The model's side of `MemoryStore::fail_after`: whether this call of `operation` fails, and how.
    fn tick(&mut self, operation: Oper) -> Option<Kind> {
        match &mut self.faults[operation.index()] {
            Some((0, kind)) => {
                let kind = *kind;
                self.faults[operation.index()] = None;
                Some(kind)
            }
            Some((successes, _)) => {
                *successes -= 1;
                None
            }
            None => None,
        }
    }

    /// Every upload's committed bytes are the model's; claimed uploads are gone.
    fn check_store(&self) -> Result<(), String> {
        for upload in &self.uploads {
            let stored = self.store.committed_bytes(upload.id);
            if upload.claimed {
                ensure!(stored.is_none(), "claimed upload {} is still in the store", upload.id);
            } else {
                let stored = stored.ok_or_else(|| format!("upload {} vanished from the store", upload.id))?;
                ensure!(
                    stored == upload.data.as_slice(),
                    "upload {}: committed bytes {stored:?}, expected {:?}",
                    upload.id,
                    upload.data
                );
            }
        }
        Ok(())
    }

    fn create(&mut self, length: u64, named: bool) -> Result<(), String> {
        let length_text = length.to_string();
        let mut headers = vec![("host", "h"), ("tus-resumable", "1.0.0"), ("upload-length", length_text.as_str())];
        let name = format!("file-{}.bin", self.step);
        let encoded = encode_base64(name.as_bytes());
        let metadata_header = format!("filename {encoded}");
        if named {
            headers.push(("upload-metadata", metadata_header.as_str()));
        }
        let parts = head("POST", "/files", &headers);
        let response = self.drive(&parts, &[], None)?;

        let expected = if length > MAX_SIZE {
            Expected { status: 413, offset: None, events: vec![] }
        } else if let Some(kind) = self.tick(Oper::Create) {
            Expected { status: kind.status(), offset: None, events: vec![] }
        } else {
            self.created += 1;
            let id = nth_id(self.created);
            let metadata = if named { Metadata::from_iter([("filename", name.as_str())]) } else { Metadata::new() };
            let mut upload = ModelUpload { id, length, metadata, data: Vec::new(), finished: false, claimed: false };
            // An empty upload is complete at creation, and finalised by a commit before the answer.
            let expected = if length == 0 {
                match self.tick(Oper::Commit) {
                    Some(kind) => Expected { status: kind.status(), offset: None, events: vec!["Created", "Failed"] },
                    None => {
                        upload.finished = true;
                        Expected { status: 201, offset: None, events: vec!["Created", "Completed"] }
                    }
                }
            } else {
                Expected { status: 201, offset: None, events: vec!["Created"] }
            };
            if expected.status == 201 {
                let location = response.headers().get("location").and_then(|v| v.to_str().ok());
                ensure!(
                    location == Some(format!("http://h/files/{id}").as_str()),
                    "Location {location:?}, expected the new upload {id}"
                );
            }
            self.uploads.push(upload);
            expected
        };
        compare(&parts, &response, &expected)
    }

    fn head(&mut self, target: Option<usize>) -> Result<(), String> {
        let id = target.map_or_else(unknown_id, |i| self.uploads[i].id);
        let parts = head("HEAD", &format!("/files/{id}"), &[("tus-resumable", "1.0.0")]);
        let response = self.drive(&parts, &[], None)?;
        let live = target.filter(|&i| !self.uploads[i].claimed);
        let expected = match (self.tick(Oper::Stat), live) {
            (Some(kind), _) => Expected { status: kind.status(), offset: None, events: vec![] },
            (None, None) => Expected { status: 404, offset: None, events: vec![] },
            (None, Some(i)) => {
                let upload = &self.uploads[i];
                let length = response.headers().get("upload-length").and_then(|v| v.to_str().ok());
                ensure!(length == Some(upload.length.to_string().as_str()), "HEAD Upload-Length {length:?}");
                let metadata = response.headers().get("upload-metadata").and_then(|v| v.to_str().ok());
                let want = (!upload.metadata.is_empty()).then(|| upload.metadata.to_header_value());
                ensure!(metadata == want.as_deref(), "HEAD Upload-Metadata {metadata:?}, expected {want:?}");
                let cache = response.headers().get("cache-control").and_then(|v| v.to_str().ok());
                ensure!(cache == Some("no-store"), "HEAD without Cache-Control: no-store");
                Expected { status: 204, offset: Some(upload.data.len() as u64), events: vec![] }
            }
        };
        compare(&parts, &response, &expected)
    }

    fn patch(
        &mut self,
        target: Option<usize>,
        offset: u64,
        declared: Option<u64>,
        chunks: &[&[u8]],
        cut: Option<Cut>,
    ) -> Result<(), String> {
        let id = target.map_or_else(unknown_id, |i| self.uploads[i].id);
        let offset_text = offset.to_string();
        let declared_text = declared.map(|d| d.to_string());
        let mut headers = vec![
            ("tus-resumable", "1.0.0"),
            ("content-type", "application/offset+octet-stream"),
            ("upload-offset", offset_text.as_str()),
        ];
        if let Some(declared) = &declared_text {
            headers.push(("content-length", declared.as_str()));
        }
        let parts = head("PATCH", &format!("/files/{id}"), &headers);
        let response = self.drive(&parts, chunks, cut.map(Cut::interruption))?;
        let expected = self.expect_patch(target, offset, declared, chunks, cut);
        compare(&parts, &response, &expected)
    }

    /// The model of PATCH, in the order the protocol decides: headers, open, offset, room, body, commit.
    fn expect_patch(
        &mut self,
        target: Option<usize>,
        offset: u64,
        declared: Option<u64>,
        chunks: &[&[u8]],
        cut: Option<Cut>,
    ) -> Expected {
        let refuse = |status: u16| Expected { status, offset: None, events: vec![] };
        if declared.is_some_and(|d| d > MAX_CHUNK) {
            return refuse(413);
        }
        if let Some(kind) = self.tick(Oper::Open) {
            return refuse(kind.status());
        }
        let Some(i) = target.filter(|&i| !self.uploads[i].claimed) else {
            return refuse(404);
        };
        let (length, committed, finished) =
            (self.uploads[i].length, self.uploads[i].data.len() as u64, self.uploads[i].finished);
        if offset != committed {
            return Expected { status: 409, offset: Some(committed), events: vec![] };
        }
        let room = length - committed;
        if declared.is_some_and(|d| d > room) {
            return refuse(413);
        }
        let limit = room.min(MAX_CHUNK);
        // The body: every chunk is offered, the part within the limit written, until the limit is passed.
        let (mut accepted, mut overflow, mut write_failure) = (Vec::new(), false, None);
        for chunk in chunks {
            let take = (limit - accepted.len() as u64).min(chunk.len() as u64) as usize;
            overflow |= take < chunk.len();
            if let Some(kind) = self.tick(Oper::Write) {
                write_failure = Some(kind);
                break;
            }
            accepted.extend_from_slice(&chunk[..take]);
            if overflow {
                break;
            }
        }
        let stored = accepted.len() as u64;
        let new_offset = committed + stored;
        let complete = new_offset == length;
        let mut events = Vec::new();
        let mut settled = committed;
        if stored > 0 || (complete && !finished) {
            if let Some(kind) = self.tick(Oper::Commit) {
                return Expected { status: kind.status(), offset: None, events: vec!["Failed"] };
            }
            let upload = &mut self.uploads[i];
            upload.data.extend_from_slice(&accepted);
            upload.finished |= complete;
            settled = new_offset;
            if stored > 0 {
                events.push("Progress");
            }
            if complete {
                events.push("Completed");
            }
        }
        let status = if let Some(kind) = write_failure {
            events.push("Failed");
            kind.status()
        } else if let Some(cut) = cut {
            cut.status()
        } else if overflow {
            413
        } else if declared.is_some_and(|d| stored < d) {
            400
        } else {
            204
        };
        Expected { status, offset: Some(settled), events }
    }

    fn claim(&mut self, target: Option<usize>) -> Result<(), String> {
        let id = target.map_or_else(unknown_id, |i| self.uploads[i].id);
        let claimed = self.store.claim(id);
        match target.filter(|&i| self.uploads[i].finished && !self.uploads[i].claimed) {
            Some(i) => {
                let (state, data) = claimed.ok_or_else(|| format!("finished upload {id} could not be claimed"))?;
                let upload = &mut self.uploads[i];
                ensure!(data == upload.data, "claimed bytes {data:?}, expected {:?}", upload.data);
                ensure!(state.finished && state.offset == upload.length, "claimed state {state:?}");
                ensure!(state.metadata == upload.metadata, "claimed metadata {:?}", state.metadata);
                upload.claimed = true;
            }
            None => ensure!(claimed.is_none(), "upload {id} claimed although not finished (or claimed before)"),
        }
        Ok(())
    }

    /// A new store holding the committed state, with junk past every committed offset.
    fn crash_and_reopen(&mut self, junk: u8) -> Result<(), String> {
        let mut store = MemoryStore::new();
        for upload in &self.uploads {
            let new = NewUpload::new(Some(upload.length), upload.metadata.clone(), self.now);
            let (handle, id) = store.create(&new).map_err(|e| format!("reopen: create: {e}"))?;
            ensure!(id == upload.id, "reopen: ids are not sequential ({id} for {})", upload.id);
            let committed = upload.data.len() as u64;
            let tail = vec![junk; (upload.length - committed) as usize];
            store.write_at(&handle, 0, &upload.data).map_err(|e| format!("reopen: write: {e}"))?;
            store.write_at(&handle, committed, &tail).map_err(|e| format!("reopen: write junk: {e}"))?;
            store.commit(&handle, committed, upload.finished).map_err(|e| format!("reopen: commit: {e}"))?;
            if upload.claimed {
                ensure!(store.claim(id).is_some(), "reopen: a claimed upload was not finished");
            }
        }
        self.store = store;
        self.faults = [None; 5];
        Ok(())
    }

    /// The driver loop (as `MemoryStore::handle`), checking each step on the way.
    fn drive(
        &mut self,
        parts: &http::request::Parts,
        body: &[&[u8]],
        cut: Option<Interruption>,
    ) -> Result<Response, String> {
        let head = RequestHead::from_parts(parts);
        let mut step: Step<MemoryUpload> = self.server.begin(head, self.now);
        loop {
            step = match step {
                Step::Respond(response) => return Ok(response),
                Step::Hook(hook) => hook.continue_with(HookOutcome::accept()),
                Step::Create(create) => {
                    let new = create.new_upload();
                    ensure!(new.created_at == self.now, "created_at {:?} is not the request time", new.created_at);
                    let result = self.store.create(new);
                    create.continue_with(result)
                }
                Step::Stat(stat) => {
                    let result = self.store.stat(stat.id());
                    stat.continue_with(result)
                }
                Step::Open(open) => {
                    let result = self.store.open(open.id());
                    open.continue_with(result)
                }
                Step::Receive(mut rx) => {
                    let start = rx.write_offset();
                    let mut failure: Option<StoreFailure> = None;
                    for chunk in body {
                        let data = rx.accept(chunk);
                        ensure!(chunk.starts_with(data), "accept returned bytes that are not the chunk's prefix");
                        let at = rx.write_offset();
                        ensure!(rx.pending() == data.len() as u64, "pending {} != accepted chunk", rx.pending());
                        if let Err(e) = self.store.write_at(rx.upload(), at, data) {
                            failure = Some(e);
                            break;
                        }
                        rx.stored(data.len() as u64);
                        ensure!(rx.write_offset() == at + data.len() as u64, "write offset did not advance");
                        if rx.overflowed() {
                            break;
                        }
                    }
                    ensure!(rx.write_offset() >= start, "write offset went back");
                    match (failure, cut) {
                        (Some(failure), _) => rx.failed(failure),
                        (None, Some(why)) => rx.interrupted(why),
                        (None, None) => rx.finish(),
                    }
                }
                Step::Commit(mut commit) => {
                    let (offset, complete) = (commit.offset(), commit.is_complete());
                    let result = self.store.commit(commit.upload(), offset, complete);
                    commit.continue_with(result)
                }
                other => return Ok(other.unhandled()),
            };
        }
    }
}

/// A request head with these headers.
pub fn head(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut builder = Request::builder().method(Method::from_bytes(method.as_bytes()).expect("a method")).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).expect("a valid head").into_parts().0
}

fn event_kind(event: &Event) -> &'static str {
    match event {
        Event::Created { .. } => "Created",
        Event::Progress { .. } => "Progress",
        Event::Completed { .. } => "Completed",
        Event::Failed { .. } => "Failed",
        _ => "unknown",
    }
}

/// The response is the expected one, and keeps the rules every response keeps.
fn compare(parts: &http::request::Parts, response: &Response, expected: &Expected) -> Result<(), String> {
    let h: &HeaderMap = response.headers();
    let offset = h.get("upload-offset").map(|v| v.to_str().unwrap_or("?").to_owned());
    let events: Vec<&str> = response.events().iter().map(event_kind).collect();
    let got = (response.status().as_u16(), offset, events);
    let want = (expected.status, expected.offset.map(|o| o.to_string()), expected.events.clone());
    ensure!(got == want, "(status, Upload-Offset, events) = {got:?}, expected {want:?} ({:?})", response.body());
    ensure!(!h.contains_key("content-length"), "the core set Content-Length");
    ensure!(h.get("tus-resumable").is_some_and(|v| v == "1.0.0"), "no Tus-Resumable: 1.0.0");
    if parts.method == Method::HEAD {
        ensure!(response.body().is_empty(), "HEAD answered with a body");
    } else if response.status().as_u16() >= 400 {
        ensure!(!response.body().is_empty(), "error {} without a reason", response.status());
    }
    Ok(())
}

/// Padded standard base64, written out here so that the model does not share the code under test.
pub fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for group in bytes.chunks(3) {
        let b = [group[0], group.get(1).copied().unwrap_or(0), group.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (k, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if k <= group.len() {
                out.push(char::from(ALPHABET[(n >> shift & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
