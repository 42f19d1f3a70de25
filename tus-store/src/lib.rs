//! The storage contract of tussi: the [`Store`] trait every upload backend implements, the [`Claim`] of a finished
//! upload, the [`UploadRecord`] every backend persists, an in-memory backend ([`MemoryStore`]), safe destination
//! names for the workers that save finished uploads ([`naming`]: the client's `filename` is never a path), and the
//! backend test kit (`testkit`, feature `testkit`) that is the contract's executable definition.
//!
//! **What this crate never does:** it speaks no HTTP and makes no protocol decision (that is `tus-proto`'s work,
//! run by the driver in `tus-hyper`); it picks no async runtime (its futures run on any executor, and the memory
//! store waits on the `blocking` crate's pool); and it depends on nothing platform-specific, so a backend written
//! against it builds on Linux, macOS and Windows alike.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use bytes::Bytes;
//! use tus_proto::{Metadata, NewUpload};
//! use tus_store::{Claim as _, MemoryStore, Store as _};
//!
//! # futures_lite::future::block_on(async {
//! let store = MemoryStore::new();
//! let new = NewUpload::new(Some(11), Metadata::from_iter([("filename", "a.txt")]), SystemTime::now());
//! let (mut upload, id) = store.create(new).await?;
//! store.write(&mut upload, 0, vec![Bytes::from_static(b"hello "), Bytes::from_static(b"world")]).await?;
//! let state = store.commit(&mut upload, 11, true).await?; // durable, and finished: every byte is there
//! assert!(state.finished);
//! drop(upload); // lets go of the upload
//!
//! // A worker claims the finished upload, saves it and ends the claim.
//! let claim = store.claim(Duration::from_secs(1)).await?.expect("a finished upload");
//! assert_eq!(claim.id(), id);
//! assert_eq!(claim.record().metadata.get("filename"), Some("a.txt"));
//! claim.finish().await?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # The contract
//! An upload is a record ([`UploadRecord`]: length, committed offset, metadata, times) and its data. Its life:
//!
//! ```text
//!            create                write* commit(offset)            commit(length, complete)        claim
//!  (none) ──────────▶ unfinished ───────────────────────▶ unfinished ─────────────────────────▶ finished ─────▶ claimed ──▶ (gone)
//!                         │  delete / sweep (stale)                                   │ delete / sweep (old)
//!                         └──────────────────────────────▶ (gone) ◀──────────────────┘
//! ```
//!
//! - **Exclusive handles.** [`create`](Store::create) and [`open`](Store::open) return an [`Upload`](Store::Upload)
//!   handle that holds the upload exclusively until it is dropped: no other handle, deletion or sweep touches the
//!   upload meanwhile, in this process or any other that shares the backend. Reads ([`stat`](Store::stat)) never
//!   wait for a holder and never see uncommitted bytes.
//! - **Taking over from a stale holder.** `open` (and `stat`, and `delete`) of a held upload asks the holder to
//!   let go — the holder sees [`release_requested`](Store::release_requested) ask, commits what it stored and drops
//!   its handle — and waits a bounded time for it (`open` and `delete`: the backend's release timeout, then
//!   [`FailureKind::Locked`](tus_proto::FailureKind::Locked); `stat`: [`STAT_SETTLE`], then the committed state).
//!   A holder is never interrupted in the middle of a write.
//! - **Writes and commits.** [`write`](Store::write) stores bytes at an offset between the committed offset and
//!   the end of what this handle wrote; they count for nothing until [`commit`](Store::commit) records a new
//!   offset. When `commit` returns, every byte before the offset is stored as durably as the backend promises
//!   (the file store: on disk, with fsync on), and a crash can never show an offset whose bytes are missing. Bytes
//!   written but not committed are forgotten when the handle is dropped, or at once with
//!   [`discard`](Store::discard) (a checksum mismatch: the bytes of the last request must not count).
//! - **Finishing.** `commit` with `complete` (the offset is the length; a deferred length becomes the offset)
//!   finishes the upload in the same exclusive section: from then on `stat` and `open` answer it as finished
//!   (`finished: true`, `offset == length`), and one worker can claim it.
//! - **Finished stays finished.** A finished upload stays readable by `stat` and `open` (an `open` handle of a
//!   finished upload accepts no writes; committing its own offset again is a no-op) until a worker claims it, and
//!   afterwards too, as finished with `offset == length`, for [`JanitorConfig::ended_upload_age`]: a client that
//!   resumes a finished upload is told it is done instead of sending it again.
//! - **Claiming.** [`claim`](Store::claim) hands one finished upload to one worker, oldest first: no upload is
//!   handed out twice, across every process that shares the backend. When the [`Claim`] ends (finished or dropped)
//!   its data and record are gone from the store; only the fact that it finished, and its length, are remembered.
//!   A claim whose worker dies before it ends is handed out again (when is the backend's choice), so that nothing
//!   is lost; a worker that publishes with [`naming::publish`] and looks with [`naming::find_published`] first
//!   delivers such an upload once all the same.
//! - **Concatenation.** A partial upload ([`Concat::Partial`](tus_proto::Concat)) is written like any other; once
//!   every byte is committed it reads as finished, but it is never claimed. A final upload is created only when
//!   every part it names is a partial upload of known length (`create` answers `InvalidConcat` otherwise), with
//!   their summed length. [`assemble`](Store::assemble) fills and finishes it when every part is complete; when
//!   some are not (concatenation-unfinished) it stays unfinished, and the `commit` that completes its last part
//!   assembles it — in whichever process that happens. The parts are then gone (unless the backend is configured
//!   to keep them: the file store's `remove_assembled_parts`).
//! - **Deferred length.** An upload created without a length gets it once, from
//!   [`declare_length`](Store::declare_length) or from the commit that completes it.
//! - **Deleting.** [`delete`](Store::delete) removes an upload that no worker claimed, taking it over from a holder
//!   with [`ReleaseRequest::Terminate`] (the holder stops at once); afterwards it is `Gone`, while remembered.
//! - **Sweeping.** [`sweep`](Store::sweep) removes unfinished uploads without a commit for
//!   [`JanitorConfig::stale_upload_age`] and finished ones unclaimed for [`JanitorConfig::completed_file_age`],
//!   skipping held ones, and forgets ended uploads after [`JanitorConfig::ended_upload_age`]. It is what expires
//!   uploads.
//!
//! Failures come back as [`StoreFailure`]s, whose kind decides the HTTP status (in one
//! place: [`FailureKind::status`](tus_proto::FailureKind::status)) and whose message names the operation, the
//! upload and (for files) the path, for logs.

#![forbid(unsafe_code)]

mod iso8601;
mod memory;
pub mod naming;
mod record;
#[cfg(feature = "testkit")]
pub mod testkit;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tus_proto::{NewUpload, StoreFailure, UploadId, UploadState};

pub use memory::{MemoryClaim, MemoryStore, MemoryUpload, Operation};
pub use record::{RecordError, UploadRecord};

/// Up to this many bytes a write counts as small: the driver reads a body declared this small whole before it opens
/// the upload, no batch of body bytes is smaller, and the file store may run a write this small on the calling
/// thread instead of its pool. 64 KiB: a few page-cache pages, a few microseconds to copy.
pub const SMALL_WRITE: usize = 64 * 1024;

/// A storage backend for uploads: the operations the driver runs for the protocol core's steps, plus the hand-off
/// of finished uploads and the sweep. The crate docs state the contract; `testkit::run` checks it.
///
/// Every method is `&self`: a store is shared by all requests (wrap state in `Arc`s; cloning should be cheap).
/// Futures must be `Send`, and must not block the thread that polls them: blocking work goes to a thread pool.
pub trait Store: Send + Sync + 'static {
    /// An upload held exclusively, from [`create`](Self::create) or [`open`](Self::open) until dropped.
    type Upload: Send + 'static;
    /// A finished upload handed to one worker by [`claim`](Self::claim).
    type Claim: Claim;

    /// Creates an upload under a fresh id (never one the client chose) and holds it. Not enough space:
    /// `NoSpace`, with nothing left behind. When this returns, the upload is as durable as the backend promises
    /// (the file store with fsync on: it survives a crash).
    fn create(&self, new: NewUpload) -> impl Future<Output = Result<(Self::Upload, UploadId), StoreFailure>> + Send;

    /// The committed state of an upload, finished ones included (also once claimed, while the store remembers
    /// them). A holder is asked to let go ([`ReleaseRequest::Takeover`]) and waited for at most
    /// [`STAT_SETTLE`]: a holder whose body went silent commits what it stored, so the answer includes it; a
    /// holder still receiving keeps the upload and the answer is the committed state. `NotFound` for an unknown
    /// upload, `Gone` for a deleted one.
    fn stat(&self, id: UploadId) -> impl Future<Output = Result<UploadState, StoreFailure>> + Send;

    /// Holds an upload for writing, taking it over from a holder that does not let go within the release timeout
    /// (`Locked`). A finished upload opens as finished (its handle takes no writes), also once claimed while the
    /// store remembers it; a deleted one is `Gone`.
    fn open(&self, id: UploadId) -> impl Future<Output = Result<(Self::Upload, UploadState), StoreFailure>> + Send;

    /// Writes `parts`, one after another, at `offset`: between the committed offset and the end of what this handle
    /// wrote, never past the length. Not yet committed. The parts are body frames as received (small ones gathered
    /// together), so a backend can store them without copying them into one buffer.
    fn write(
        &self,
        upload: &mut Self::Upload,
        offset: u64,
        parts: Vec<Bytes>,
    ) -> impl Future<Output = Result<(), StoreFailure>> + Send;

    /// Records `offset` (every byte before it written through this handle or committed before) durably; with
    /// `complete` (`offset` is the length, or becomes it when deferred) finishes the upload in the same exclusive
    /// section. Returns the committed state.
    fn commit(
        &self,
        upload: &mut Self::Upload,
        offset: u64,
        complete: bool,
    ) -> impl Future<Output = Result<UploadState, StoreFailure>> + Send;

    /// Records the length of an upload created without one (creation-defer-length), durably, and reserves its
    /// space where the backend does (`NoSpace` when it cannot). `length` is at least the committed offset; a
    /// length once recorded never changes (a different one is a misuse: `Internal`). Returns the new state.
    fn declare_length(
        &self,
        upload: &mut Self::Upload,
        length: u64,
    ) -> impl Future<Output = Result<UploadState, StoreFailure>> + Send;

    /// Assembles a final upload (created with [`Concat::Final`](tus_proto::Concat)) from its parts, in order, and
    /// finishes it as a complete `commit` would: from then on it is claimed like any finished upload, and the
    /// parts are removed. When some part is not complete yet, the final stays unfinished (the answer says so) and
    /// the commit completing its last part assembles it. When it cannot be assembled (a part is no longer a
    /// partial upload — another final took it, or it was deleted: `InvalidConcat`), the final is removed and
    /// nothing of it stays. Backends copy without passing the bytes through user space where they can.
    fn assemble(&self, upload: &mut Self::Upload) -> impl Future<Output = Result<UploadState, StoreFailure>> + Send;

    /// Forgets every byte written through this handle since the last commit: the next write starts at the
    /// committed offset again. The committed state does not change.
    fn discard(&self, upload: &mut Self::Upload) -> impl Future<Output = Result<(), StoreFailure>> + Send;

    /// Whether another request asked for this upload, and why: the holder then stops writing, commits and drops
    /// the handle — at once for a [`Terminate`](ReleaseRequest::Terminate), once its body is silent for a
    /// [`Takeover`](ReleaseRequest::Takeover). Called between writes and while a body is silent, so it must be
    /// cheap and must not block long.
    fn release_requested(&self, upload: &Self::Upload) -> ReleaseRequest;

    /// Removes an upload that is not finished, or finished and not claimed, taking it over from a holder as
    /// [`open`](Self::open) does but with [`ReleaseRequest::Terminate`]. Afterwards the upload is `Gone` (while the
    /// store remembers it). `NotFound` for an unknown upload, `Gone` for one deleted before, `Finished` for one a
    /// worker claimed (it is the application's now).
    fn delete(&self, id: UploadId) -> impl Future<Output = Result<(), StoreFailure>> + Send;

    /// Hands the oldest finished, unclaimed upload to this caller alone, waiting up to `timeout` for one to finish:
    /// `None` when none did.
    fn claim(&self, timeout: Duration) -> impl Future<Output = Result<Option<Self::Claim>, StoreFailure>> + Send;

    /// Whether the store can take uploads now (for a load balancer's health check): the file store writes and
    /// removes a probe file in each of its directories. The default answers yes.
    fn ready(&self) -> impl Future<Output = Result<(), StoreFailure>> + Send {
        async { Ok(()) }
    }

    /// Removes what is too old at `now` (see [`JanitorConfig`]), skipping uploads someone holds.
    fn sweep(&self, config: &JanitorConfig, now: SystemTime) -> impl Future<Output = Swept> + Send;
}

/// A finished upload claimed by one worker. When it ends — [`finish`](Self::finish)ed or dropped — the upload is
/// removed from the store, whether or not it was saved.
pub trait Claim: Send + 'static {
    /// The upload's id.
    fn id(&self) -> UploadId;

    /// The upload's record, finished (with `finished_at` and `duration`).
    fn record(&self) -> &UploadRecord;

    /// Stores the data as the file `dest` (a rename where the backend can, else a copy). A second call fails.
    fn save(&mut self, dest: PathBuf) -> impl Future<Output = Result<(), StoreFailure>> + Send;

    /// Stores the record as the file `dest`, in the original tussi's JSON ([`UploadRecord::from_file`] reads it
    /// back). A second call fails.
    fn save_record(&mut self, dest: PathBuf) -> impl Future<Output = Result<(), StoreFailure>> + Send;

    /// Ends the claim: removes the upload from the store. Dropping the claim does the same, ignoring errors.
    fn finish(self) -> impl Future<Output = Result<(), StoreFailure>> + Send;
}

/// How long [`Store::stat`] waits for a holder to let go: a silent holder commits and lets go well within it.
pub const STAT_SETTLE: Duration = Duration::from_secs(1);

/// Why another request asks the holder of an upload to let go ([`Store::release_requested`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReleaseRequest {
    /// Nobody asked.
    None,
    /// A newer request (PATCH, HEAD) wants the upload: let go once the body has been silent for a while, so that
    /// a client resuming after a network drop takes over from its own dead request, while a live one finishes.
    Takeover,
    /// The upload is being deleted: stop now.
    Terminate,
}

impl ReleaseRequest {
    /// Whether anybody asked.
    pub fn is_requested(self) -> bool {
        self != ReleaseRequest::None
    }
}

/// Ages after which [`Store::sweep`] removes uploads.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JanitorConfig {
    /// An unfinished upload with no commit for this long is removed: default 86400 s (one day).
    pub stale_upload_age: Duration,
    /// A finished, unclaimed upload older than this is removed: default 604800 s (one week).
    pub completed_file_age: Duration,
    /// How long the store remembers an upload that ended — claimed (HEAD keeps answering it as finished, so a
    /// client resuming it is told it is done) or deleted (answered `Gone`): default 86400 s, the stale age.
    pub ended_upload_age: Duration,
}

impl Default for JanitorConfig {
    fn default() -> Self {
        JanitorConfig {
            stale_upload_age: Duration::from_secs(86_400),
            completed_file_age: Duration::from_secs(604_800),
            ended_upload_age: Duration::from_secs(86_400),
        }
    }
}

/// Why [`Store::sweep`] removed an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SweepReason {
    /// Unfinished, no commit for `stale_upload_age`.
    Stale,
    /// Finished and unclaimed for `completed_file_age`.
    Unclaimed,
    /// Remains of an upload that cannot be used any more (a crash's leftovers, a damaged record).
    Leftover,
}

/// What one [`Store::sweep`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Swept {
    /// The uploads removed, with why (an upload appears once).
    pub removed: Vec<(UploadId, SweepReason)>,
    /// Uploads left alone because someone held them.
    pub skipped_held: usize,
    /// Ended uploads (claimed or deleted) the store stopped remembering.
    pub forgotten: usize,
    /// Failures met on the way (the sweep goes on after each).
    pub errors: Vec<StoreFailure>,
}

impl Swept {
    /// The ids removed for `reason`, in order.
    pub fn ids(&self, reason: SweepReason) -> Vec<UploadId> {
        self.removed.iter().filter(|(_, r)| *r == reason).map(|(id, _)| *id).collect()
    }
}
