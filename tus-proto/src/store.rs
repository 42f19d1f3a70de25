//! What the protocol core asks of storage, and what storage answers: upload state and failure kinds.
//!
//! Storage failures come back into the core as a [`StoreFailure`] of a few kinds; the mapping of those kinds to HTTP
//! statuses lives in one place ([`FailureKind::status`]).

use std::fmt;
use std::time::SystemTime;

use http::StatusCode;

use crate::{Metadata, UploadId};

/// An upload's part in concatenation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Concat {
    /// A partial upload (`Upload-Concat: partial`): uploaded like any other, but never handed to workers nor
    /// announced as completed; a final upload assembles it.
    Partial,
    /// A final upload (`Upload-Concat: final;…`): these partial uploads, in order, assembled into one.
    Final(Vec<UploadId>),
}

/// What storage knows about one upload.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadState {
    /// The upload's id.
    pub id: UploadId,
    /// Total length in bytes; `None` while deferred (creation-defer-length).
    pub length: Option<u64>,
    /// Committed offset: every byte before it is durably stored.
    pub offset: u64,
    /// The client's metadata, from `Upload-Metadata` at creation.
    pub metadata: Metadata,
    /// The server's metadata, from the `on_create` hook.
    pub server_metadata: Metadata,
    /// Every byte arrived and the upload was finalised: it takes no more bytes. Stays true after a worker claimed
    /// it, for as long as the store remembers finished uploads.
    pub finished: bool,
    /// When bytes were last committed (or the upload created), where the store keeps it: an unfinished upload
    /// expires this long after it (expiration).
    pub last_write: Option<SystemTime>,
    /// Its part in concatenation, if any.
    pub concat: Option<Concat>,
}

impl UploadState {
    /// A state with empty metadata, not finished.
    pub fn new(id: UploadId, length: Option<u64>, offset: u64) -> Self {
        UploadState {
            id,
            length,
            offset,
            metadata: Metadata::new(),
            server_metadata: Metadata::new(),
            finished: false,
            last_write: None,
            concat: None,
        }
    }

    /// The state of a finished upload of `length` bytes, with nothing else known (what a store remembers of an
    /// upload a worker claimed).
    pub fn done(id: UploadId, length: u64) -> Self {
        UploadState { finished: true, ..UploadState::new(id, Some(length), length) }
    }

    /// Whether every byte has been received (`offset == length`).
    pub fn is_complete(&self) -> bool {
        self.length == Some(self.offset)
    }
}

/// A validated creation request, handed to storage by a [`Create`](crate::Create) step.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewUpload {
    /// Total length in bytes; `None` for a deferred length.
    pub length: Option<u64>,
    /// The client's metadata.
    pub metadata: Metadata,
    /// The server's metadata returned by the `on_create` hook.
    pub server_metadata: Metadata,
    /// The request time, as given to [`Server::begin`](crate::Server::begin).
    pub created_at: SystemTime,
    /// A partial or final upload of concatenation. A final's length is the sum of its parts' (the store computes
    /// it), and it is created only when every part is a partial upload of the store.
    pub concat: Option<Concat>,
}

impl NewUpload {
    /// A creation request with no server metadata (for stores' own tests and tools; the core builds its own).
    pub fn new(length: Option<u64>, metadata: Metadata, created_at: SystemTime) -> Self {
        NewUpload { length, metadata, server_metadata: Metadata::new(), created_at, concat: None }
    }

    /// Makes it a partial or a final upload.
    pub fn with_concat(mut self, concat: Concat) -> Self {
        self.concat = Some(concat);
        self
    }

    /// Sets the server metadata.
    pub fn with_server_metadata(mut self, server_metadata: Metadata) -> Self {
        self.server_metadata = server_metadata;
        self
    }
}

/// The kinds of storage failure the protocol distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// No such upload (or it was claimed already): 404.
    NotFound,
    /// The upload existed but has expired or was removed: 410.
    Gone,
    /// The upload is finished and was handed over to the application: it can no longer be changed or removed: 403.
    Finished,
    /// A final upload names something that is not a finished partial upload of this store: 400.
    InvalidConcat,
    /// Another request holds the upload and did not let go in time: 423.
    Locked,
    /// No space left for the data: 507.
    NoSpace,
    /// Storage is temporarily unreachable: 503.
    Unavailable,
    /// Anything else (I/O error, corrupt record): 500.
    Internal,
}

impl FailureKind {
    /// The HTTP status this failure is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            FailureKind::NotFound => StatusCode::NOT_FOUND,
            FailureKind::Gone => StatusCode::GONE,
            FailureKind::Finished => StatusCode::FORBIDDEN,
            FailureKind::InvalidConcat => StatusCode::BAD_REQUEST,
            FailureKind::Locked => StatusCode::LOCKED,
            FailureKind::NoSpace => StatusCode::INSUFFICIENT_STORAGE,
            FailureKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            FailureKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The short reason sent to the client. Never the storage's own message, which may name paths.
    pub fn reason(self) -> &'static str {
        match self {
            FailureKind::NotFound => "upload not found",
            FailureKind::Gone => "upload is gone",
            FailureKind::Finished => "upload is finished and was handed over",
            FailureKind::InvalidConcat => "a final upload must name finished partial uploads",
            FailureKind::Locked => "upload is busy with another request",
            FailureKind::NoSpace => "not enough storage space",
            FailureKind::Unavailable => "storage unavailable",
            FailureKind::Internal => "storage error",
        }
    }
}

/// A storage failure: its kind (which decides the response) and a message for logs and events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreFailure {
    kind: FailureKind,
    message: String,
}

impl StoreFailure {
    /// A failure of `kind`, with a message that should carry the operation, path and upload id.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        StoreFailure { kind, message: message.into() }
    }

    /// The kind, which decides the HTTP status.
    pub fn kind(&self) -> FailureKind {
        self.kind
    }

    /// The message, for logs and [`Event::Failed`](crate::Event::Failed).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for StoreFailure {}
