//! PATCH: check the offset, stream the body into the upload, commit exactly what was stored.

use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};

use std::time::SystemTime;

use crate::checksum::{self, Check, Verdict};
use crate::commit::{commit_or_respond, too_large, AfterCommit, Ending, Interruption, Limit};
use crate::head::{expired, is_expired};
use crate::parse::{self, Single};
use crate::response::headers;
use crate::{Concat, Event, Response, Server, Step, StoreFailure, UploadId, UploadState};

pub(crate) fn begin<U>(
    server: &Server,
    request_headers: &HeaderMap,
    id: UploadId,
    expired_before: Option<SystemTime>,
) -> Step<U> {
    match validate(server, request_headers) {
        Ok((offset, declared, upload_length, check)) => Step::Open(Open {
            id,
            offset,
            declared,
            upload_length,
            check,
            expired_before,
            limits: Limits { max_size: server.max_size, max_chunk_size: server.max_chunk_size },
        }),
        Err(response) => Step::Respond(response),
    }
}

/// The request's `Upload-Offset`, `Content-Length`, `Upload-Length` and checksum.
#[allow(clippy::type_complexity)]
fn validate(
    server: &Server,
    request_headers: &HeaderMap,
) -> Result<(u64, Option<u64>, Option<u64>, Option<Check>), Response> {
    let bad = |reason: String| Response::refuse(StatusCode::BAD_REQUEST, reason);
    let content_type_ok = match parse::single(request_headers, &CONTENT_TYPE) {
        Single::Present(value) => parse::is_offset_octet_stream(value.as_bytes()),
        Single::Absent | Single::Repeated => false,
    };
    if !content_type_ok {
        return Err(Response::refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/offset+octet-stream",
        ));
    }
    let declared =
        parse::integer_header(request_headers, &http::header::CONTENT_LENGTH, "Content-Length").map_err(bad)?;
    if let Some(max) = server.max_chunk_size.filter(|&max| declared.is_some_and(|len| len > max)) {
        return Err(too_large(Limit::ChunkSize(max)));
    }
    let offset = parse::integer_header(request_headers, &headers::UPLOAD_OFFSET, "Upload-Offset")
        .map_err(bad)?
        .ok_or_else(|| bad("Upload-Offset is required".into()))?;
    // creation-defer-length: the length may come with any PATCH, and fixes it once.
    let upload_length =
        parse::integer_header(request_headers, &headers::UPLOAD_LENGTH, "Upload-Length").map_err(bad)?;
    if let Some(max) = server.max_size.filter(|&max| upload_length.is_some_and(|length| length > max)) {
        return Err(Response::refuse(StatusCode::PAYLOAD_TOO_LARGE, format!("Upload-Length exceeds {max}")));
    }
    let check = checksum::requested(request_headers).map_err(bad)?;
    Ok((offset, declared, upload_length, check))
}

/// The server's limits on what one request may store.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_size: Option<u64>,
    pub(crate) max_chunk_size: Option<u64>,
}

/// Asks storage to open an upload for writing, exclusively. Answer with [`Open::continue_with`].
#[derive(Debug)]
#[must_use = "feed the storage result back with continue_with"]
pub struct Open {
    id: UploadId,
    offset: u64,
    declared: Option<u64>,
    upload_length: Option<u64>,
    check: Option<Check>,
    expired_before: Option<SystemTime>,
    limits: Limits,
}

impl Open {
    /// The upload to open.
    pub fn id(&self) -> UploadId {
        self.id
    }

    /// The request's `Upload-Offset`.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The request's `Content-Length`, when it declared one (never above the chunk size limit). A driver may read
    /// a small body whole before it opens the upload, so that a slow client never holds the upload while it sends.
    pub fn declared_length(&self) -> Option<u64> {
        self.declared
    }

    /// Feeds back the open handle and the upload's committed state, or the failure. An upload whose length is
    /// deferred, opened by a request that brings `Upload-Length`, goes through [`DeclareLength`] first.
    pub fn continue_with<U>(self, result: Result<(U, UploadState), StoreFailure>) -> Step<U> {
        let (upload, state) = match result {
            Ok(opened) => opened,
            Err(failure) => return Step::Respond(Response::failure(&failure)),
        };
        if is_expired(&state, self.expired_before) {
            return Step::Respond(expired());
        }
        if let Some(Concat::Final(_)) = state.concat {
            return Step::Respond(Response::refuse(
                StatusCode::FORBIDDEN,
                "a final upload is assembled from its parts and takes no PATCH",
            ));
        }
        if self.offset != state.offset {
            return Step::Respond(
                Response::refuse(StatusCode::CONFLICT, "Upload-Offset does not match the upload's offset")
                    .number(headers::UPLOAD_OFFSET, state.offset),
            );
        }
        match (state.length, self.upload_length) {
            (Some(length), Some(asked)) if length != asked => Step::Respond(Response::refuse(
                StatusCode::BAD_REQUEST,
                format!("Upload-Length cannot change: the upload's length is {length}"),
            )),
            (None, Some(length)) if length < state.offset => Step::Respond(Response::refuse(
                StatusCode::BAD_REQUEST,
                format!("Upload-Length is smaller than the {} bytes already stored", state.offset),
            )),
            (None, Some(length)) => Step::DeclareLength(DeclareLength { upload, length, open: self }),
            _ => receive_or_respond(Receive::new(upload, state, self.declared, self.limits, self.check, None)),
        }
    }
}

/// Asks storage to fix the length of an upload created with a deferred length, durably, before any byte of this
/// request counts (and to reserve the space, where the backend does). Answer with [`DeclareLength::continue_with`].
#[derive(Debug)]
#[must_use = "feed the storage result back with continue_with"]
pub struct DeclareLength<U> {
    upload: U,
    length: u64,
    open: Open,
}

impl<U> DeclareLength<U> {
    /// The open upload.
    pub fn upload(&mut self) -> &mut U {
        &mut self.upload
    }

    /// The length to record: never below the committed offset, never above `max_size`.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// Feeds back the upload's state with its length recorded, or the failure.
    pub fn continue_with(self, result: Result<UploadState, StoreFailure>) -> Step<U> {
        match result {
            Err(failure) => Step::Respond(Response::failure(&failure)),
            Ok(state) => {
                let open = self.open;
                receive_or_respond(Receive::new(self.upload, state, open.declared, open.limits, open.check, None))
            }
        }
    }
}

/// The receive step, or the refusal of a body that declared more than the upload may take.
fn receive_or_respond<U>(result: Result<Receive<U>, Response>) -> Step<U> {
    match result {
        Ok(rx) => Step::Receive(rx),
        Err(response) => Step::Respond(response),
    }
}

/// Streams a request body into an open upload.
///
/// For each chunk of body the driver calls [`accept`](Self::accept), writes the returned prefix at
/// [`write_offset`](Self::write_offset) (chunks may be batched: writes are contiguous), and reports each successful
/// write with [`stored`](Self::stored). The body ends with [`finish`](Self::finish), [`interrupted`](Self::interrupted)
/// or [`failed`](Self::failed); each leads to a [`Commit`](crate::Commit) of exactly the bytes reported stored.
#[derive(Debug)]
#[must_use = "drive the body, then end it with finish, interrupted or failed"]
pub struct Receive<U> {
    upload: U,
    state: UploadState,
    start: u64,
    limit: u64,
    bound: Limit,
    declared: Option<u64>,
    accepted: u64,
    stored: u64,
    overflowed: bool,
    /// Set when the body is a creation's (creation-with-upload).
    creation: Option<Creation>,
    /// The checksum the body must match, when the request sent one.
    check: Option<Check>,
    /// Why an `Upload-Checksum` trailer was refused.
    invalid_trailer: Option<String>,
}

/// The creation a body belongs to (creation-with-upload): answered 201 with `Location` once committed.
#[derive(Debug)]
pub(crate) struct Creation {
    pub(crate) location: String,
    pub(crate) created: Event,
}

impl<U> Receive<U> {
    /// Receives into `upload` from its committed state, within the upload's length (or `max_size` while it is
    /// deferred) and the chunk size limit. A body that declares more than that is refused before a byte is read.
    pub(crate) fn new(
        upload: U,
        state: UploadState,
        declared: Option<u64>,
        limits: Limits,
        check: Option<Check>,
        creation: Option<Creation>,
    ) -> Result<Receive<U>, Response> {
        let (room, bound) = match (state.length, limits.max_size) {
            (Some(length), _) => (length.saturating_sub(state.offset), Limit::Length),
            (None, Some(max)) => (max.saturating_sub(state.offset), Limit::MaxSize(max)),
            (None, None) => (i64::MAX as u64 - state.offset, Limit::Length),
        };
        if declared.is_some_and(|declared| declared > room) {
            return Err(too_large(bound));
        }
        let (limit, bound) = match limits.max_chunk_size {
            Some(max) if max < room => (max, Limit::ChunkSize(max)),
            _ => (room, bound),
        };
        Ok(Receive {
            upload,
            start: state.offset,
            state,
            limit,
            bound,
            declared,
            accepted: 0,
            stored: 0,
            overflowed: false,
            creation,
            check,
            invalid_trailer: None,
        })
    }

    /// The open upload, to write to.
    pub fn upload(&mut self) -> &mut U {
        &mut self.upload
    }

    /// The upload's id.
    pub fn id(&self) -> UploadId {
        self.state.id
    }

    /// Takes the next chunk of body and returns the prefix of it to store. Bytes past the limit (upload length or
    /// chunk size) are refused: the returned prefix is shorter, [`overflowed`](Self::overflowed) becomes true, and
    /// the request will be answered 413 after committing what was stored.
    pub fn accept<'c>(&mut self, chunk: &'c [u8]) -> &'c [u8] {
        let room = self.limit - self.accepted;
        let take = usize::try_from(room).map_or(chunk.len(), |room| room.min(chunk.len()));
        if take < chunk.len() {
            self.overflowed = true;
        }
        self.accepted += take as u64;
        if let Some(check) = &mut self.check {
            check.update(&chunk[..take]);
        }
        &chunk[..take]
    }

    /// Takes the body's trailers (a chunked body may end with some): an `Upload-Checksum` trailer, announced with
    /// `Trailer: Upload-Checksum`, is what the body is checked against.
    pub fn trailers(&mut self, trailers: &http::HeaderMap) {
        let result = match &mut self.check {
            Some(check) => check.trailers(trailers),
            // Not hashed, so it cannot be verified: refused rather than ignored, as the client asked for a check.
            None if trailers.contains_key(crate::headers::UPLOAD_CHECKSUM) => {
                Err("an Upload-Checksum trailer must be announced with Trailer: Upload-Checksum".into())
            }
            None => Ok(()),
        };
        if let Err(reason) = result {
            self.invalid_trailer = Some(reason);
        }
    }

    /// Where the next write goes: the start offset plus everything reported stored.
    pub fn write_offset(&self) -> u64 {
        self.start + self.stored
    }

    /// How many more bytes this request may store (before the upload's length or the chunk size limit).
    pub fn remaining(&self) -> u64 {
        self.limit - self.accepted
    }

    /// Bytes accepted but not yet reported stored (for example waiting in the driver's batch buffer).
    pub fn pending(&self) -> u64 {
        self.accepted - self.stored
    }

    /// Reports that `bytes` more accepted bytes were written at [`write_offset`](Self::write_offset). Reports
    /// beyond what was accepted are ignored: only accepted bytes are ever committed.
    pub fn stored(&mut self, bytes: u64) {
        self.stored = (self.stored + bytes.min(self.accepted - self.stored)).min(self.accepted);
    }

    /// Whether the body brought more than the limit; the driver can stop reading.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// The body ended normally. Everything accepted should have been reported stored by now.
    pub fn finish(self) -> Step<U> {
        let ending = self.body_ending();
        self.end(ending)
    }

    /// How a body that ended normally ended.
    fn body_ending(&self) -> Ending {
        if self.overflowed {
            Ending::Overflow(self.bound)
        } else if self.stored < self.accepted {
            Ending::Unstored
        } else if self.declared.is_some_and(|declared| self.accepted < declared) {
            Ending::Short
        } else {
            Ending::Finished
        }
    }

    /// The body broke off; what was stored is committed.
    pub fn interrupted(self, why: Interruption) -> Step<U> {
        self.end(Ending::Interrupted(why))
    }

    /// A write failed; what was stored before it is committed and the failure answered.
    pub fn failed(self, failure: StoreFailure) -> Step<U> {
        self.end(Ending::StoreFailed(failure))
    }

    fn end(mut self, ending: Ending) -> Step<U> {
        // A checksum covers the whole body: anything but a complete, matching body keeps nothing.
        let checked = self.check.is_some() || self.invalid_trailer.is_some();
        let ending = match (self.check.take(), ending) {
            _ if self.invalid_trailer.is_some() => {
                Ending::ChecksumInvalid(self.invalid_trailer.take().unwrap_or_default())
            }
            (None, ending) => ending,
            (Some(check), Ending::Finished) => match check.verdict() {
                Verdict::Match => Ending::Finished,
                Verdict::Mismatch => Ending::ChecksumMismatch,
                Verdict::Invalid(reason) => Ending::ChecksumInvalid(reason),
            },
            (Some(_), ending) => ending,
        };
        if checked && !matches!(ending, Ending::Finished) {
            self.stored = 0;
        }
        let after = match self.creation {
            None => AfterCommit::Patched(ending),
            Some(Creation { location, created }) => {
                AfterCommit::Created { location, created, with_upload: true, ending }
            }
        };
        commit_or_respond(self.upload, self.state, self.stored, after)
    }
}
