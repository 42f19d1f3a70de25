//! POST (creation, creation-defer-length, creation-with-upload): validate, ask the `on_create` hook, create, receive
//! the first bytes when the POST carries them, answer 201 with `Location`.

use std::time::SystemTime;

use http::header::{CONTENT_TYPE, LOCATION, TRANSFER_ENCODING};
use http::{HeaderMap, StatusCode};

use crate::checksum::{self, Check};
use crate::commit::{commit_or_respond, created_response, too_large, AfterCommit, Ending, Limit};
use crate::parse::{self, Single};
use crate::patch::{Creation, Limits};
use crate::response::headers;
use crate::{Concat, Event, Metadata, NewUpload, Receive, Response, Server, Step, StoreFailure, UploadId, UploadState};

pub(crate) fn begin<U>(
    server: &Server,
    request_headers: &HeaderMap,
    location_base: String,
    now: SystemTime,
) -> Step<U> {
    match validate(server, request_headers) {
        Ok(valid) => Step::Hook(CreateHook {
            headers: request_headers.clone(),
            new: NewUpload {
                length: valid.length,
                metadata: valid.metadata,
                server_metadata: Metadata::new(),
                created_at: now,
                concat: valid.concat,
            },
            location_base,
            body: valid.body,
            check: valid.check,
            limits: Limits { max_size: server.max_size, max_chunk_size: server.max_chunk_size },
        }),
        Err(response) => Step::Respond(response),
    }
}

/// A valid creation request.
struct Valid {
    /// `None`: deferred (creation-defer-length).
    length: Option<u64>,
    metadata: Metadata,
    /// `Some(Content-Length)` when the POST carries the upload's first bytes (creation-with-upload).
    body: Option<Option<u64>>,
    /// The checksum of those bytes.
    check: Option<Check>,
    /// A partial or final upload (concatenation).
    concat: Option<Concat>,
}

fn validate(server: &Server, request_headers: &HeaderMap) -> Result<Valid, Response> {
    let bad = |reason: String| Response::refuse(StatusCode::BAD_REQUEST, reason);
    let concat = concat_header(server, request_headers).map_err(bad)?;
    if let Some(Concat::Final(_)) = concat {
        // Its length is the sum of its parts', and its bytes are theirs.
        let sized = request_headers.contains_key(headers::UPLOAD_LENGTH)
            || request_headers.contains_key(headers::UPLOAD_DEFER_LENGTH);
        if sized {
            return Err(bad("a final upload takes no Upload-Length: its length is the sum of its parts'".into()));
        }
        if creation_body(server, request_headers, None)?.is_some() {
            return Err(bad("a final upload takes no data: its bytes are its parts'".into()));
        }
        let metadata = metadata(server, request_headers)?;
        return Ok(Valid { length: None, metadata, body: None, check: None, concat });
    }
    let length = parse::integer_header(request_headers, &headers::UPLOAD_LENGTH, "Upload-Length").map_err(bad)?;
    let deferred = match parse::single(request_headers, &headers::UPLOAD_DEFER_LENGTH) {
        Single::Absent => false,
        Single::Present(value) if value.as_bytes() == b"1" => true,
        Single::Present(_) => return Err(bad("Upload-Defer-Length must be 1".into())),
        Single::Repeated => return Err(bad("Upload-Defer-Length appears more than once".into())),
    };
    let length = match (length, deferred) {
        (Some(_), true) => return Err(bad("send either Upload-Length or Upload-Defer-Length, not both".into())),
        (None, false) => return Err(bad("Upload-Length (or Upload-Defer-Length: 1) is required".into())),
        (length, _) => length,
    };
    if let Some(max) = server.max_size.filter(|&max| length.is_some_and(|length| length > max)) {
        return Err(Response::refuse(StatusCode::PAYLOAD_TOO_LARGE, format!("Upload-Length exceeds {max}")));
    }
    let metadata = metadata(server, request_headers)?;
    let body = creation_body(server, request_headers, length)?;
    let check = match body {
        Some(_) => checksum::requested(request_headers).map_err(bad)?,
        None => None,
    };
    Ok(Valid { length, metadata, body, check, concat })
}

/// The `Upload-Concat` of a POST: `partial`, or `final;` and the parts' URLs (absolute, or paths), each naming an
/// upload of this endpoint. The error is the reason for a 400.
fn concat_header(server: &Server, request_headers: &HeaderMap) -> Result<Option<Concat>, String> {
    let value = match parse::single(request_headers, &headers::UPLOAD_CONCAT) {
        Single::Absent => return Ok(None),
        Single::Repeated => return Err("Upload-Concat appears more than once".into()),
        Single::Present(value) => value.to_str().map_err(|_| "Upload-Concat is not ASCII".to_owned())?,
    };
    if value == "partial" {
        return Ok(Some(Concat::Partial));
    }
    let Some(urls) = value.strip_prefix("final;") else {
        return Err("Upload-Concat must be \"partial\" or \"final;<url> <url> ...\"".into());
    };
    let parts = urls
        .split(' ')
        .filter(|url| !url.is_empty())
        .map(|url| server.upload_at(url).ok_or_else(|| format!("{url:?} in Upload-Concat names no upload here")))
        .collect::<Result<Vec<_>, _>>()?;
    if parts.is_empty() {
        return Err("a final upload names at least one partial upload".into());
    }
    Ok(Some(Concat::Final(parts)))
}

/// The validated `Upload-Metadata` of a POST.
fn metadata(server: &Server, request_headers: &HeaderMap) -> Result<Metadata, Response> {
    let bad = |reason: String| Response::refuse(StatusCode::BAD_REQUEST, reason);
    let metadata = match parse::single(request_headers, &headers::UPLOAD_METADATA) {
        Single::Absent => Metadata::new(),
        Single::Repeated => return Err(bad("Upload-Metadata appears more than once".into())),
        Single::Present(value) => {
            if value.len() > server.max_metadata_size {
                return Err(bad(format!("Upload-Metadata is longer than {} bytes", server.max_metadata_size)));
            }
            let text = value.to_str().map_err(|_| bad("Upload-Metadata is not ASCII".into()))?;
            Metadata::parse(text).map_err(|e| bad(e.to_string()))?
        }
    };
    if let Some(filename) = metadata.get("filename") {
        if !filename.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(bad("filename must be printable ASCII".into()));
        }
    }
    Ok(metadata)
}

/// Whether the POST carries data (creation-with-upload), with its declared length. A body of another type is
/// refused rather than ignored: its bytes would be lost without the client knowing.
fn creation_body(
    server: &Server,
    request_headers: &HeaderMap,
    length: Option<u64>,
) -> Result<Option<Option<u64>>, Response> {
    let declared = parse::integer_header(request_headers, &http::header::CONTENT_LENGTH, "Content-Length")
        .map_err(|reason| Response::refuse(StatusCode::BAD_REQUEST, reason))?;
    let data = match parse::single(request_headers, &CONTENT_TYPE) {
        Single::Present(value) => parse::is_offset_octet_stream(value.as_bytes()),
        Single::Absent | Single::Repeated => false,
    };
    if !data {
        let has_body = declared.is_some_and(|len| len > 0) || request_headers.contains_key(TRANSFER_ENCODING);
        if has_body {
            return Err(Response::refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "a POST body must be application/offset+octet-stream (creation-with-upload)",
            ));
        }
        return Ok(None);
    }
    let room = length.or(server.max_size);
    if let Some(declared) = declared {
        if room.is_some_and(|room| declared > room) {
            let limit = if length.is_some() { Limit::Length } else { Limit::MaxSize(room.unwrap_or_default()) };
            return Err(too_large(limit));
        }
        if let Some(max) = server.max_chunk_size.filter(|&max| declared > max) {
            return Err(too_large(Limit::ChunkSize(max)));
        }
    }
    Ok(Some(declared))
}

/// What the `on_create` hook decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookOutcome {
    /// Create the upload, storing this server metadata beside the client's.
    Accept(Metadata),
    /// Refuse with this status (4xx or 5xx; anything else becomes 500) and plain-text reason. Nothing is created.
    Reject {
        /// The status to answer with, for example 401 or 403.
        status: StatusCode,
        /// A short reason for the client.
        reason: String,
    },
}

impl HookOutcome {
    /// Accept with no server metadata: what a driver without a hook feeds back.
    pub fn accept() -> Self {
        HookOutcome::Accept(Metadata::new())
    }
}

/// Asks the driver to run the `on_create` hook on a valid creation request. Answer with
/// [`CreateHook::continue_with`]; a driver without a hook answers [`HookOutcome::accept`].
#[derive(Debug)]
#[must_use = "feed the hook's outcome back with continue_with"]
pub struct CreateHook {
    headers: HeaderMap,
    new: NewUpload,
    location_base: String,
    body: Option<Option<u64>>,
    check: Option<Check>,
    limits: Limits,
}

impl CreateHook {
    /// The request headers; names are lower-case.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The client's metadata, already validated.
    pub fn metadata(&self) -> &Metadata {
        &self.new.metadata
    }

    /// The declared length of the upload.
    pub fn length(&self) -> Option<u64> {
        self.new.length
    }

    /// Feeds back the hook's outcome. A hook that failed should be fed back as a 500 rejection.
    pub fn continue_with<U>(self, outcome: HookOutcome) -> Step<U> {
        match outcome {
            HookOutcome::Accept(server_metadata) => Step::Create(Create {
                new: NewUpload { server_metadata, ..self.new },
                location_base: self.location_base,
                body: self.body,
                check: self.check,
                limits: self.limits,
            }),
            HookOutcome::Reject { status, reason } => {
                let status = if status.is_client_error() || status.is_server_error() {
                    status
                } else {
                    StatusCode::INTERNAL_SERVER_ERROR
                };
                Step::Respond(Response::refuse(status, reason))
            }
        }
    }
}

/// Asks storage to create an upload. Answer with [`Create::continue_with`].
#[derive(Debug)]
#[must_use = "feed the storage result back with continue_with"]
pub struct Create {
    new: NewUpload,
    location_base: String,
    body: Option<Option<u64>>,
    check: Option<Check>,
    limits: Limits,
}

impl Create {
    /// What to create.
    pub fn new_upload(&self) -> &NewUpload {
        &self.new
    }

    /// Whether the request carries the upload's first bytes (creation-with-upload): a [`Receive`] step follows the
    /// creation, as for a PATCH at offset 0.
    pub fn has_body(&self) -> bool {
        self.body.is_some()
    }

    /// Feeds back the handle of the created upload (holding it exclusively) and its id, or the failure.
    /// A POST with data goes on to [`Receive`] its body; an upload of length 0 is complete at creation: a
    /// [`Commit`](crate::Commit) step finalises it before the 201.
    pub fn continue_with<U>(self, result: Result<(U, UploadId), StoreFailure>) -> Step<U> {
        let (upload, id) = match result {
            Ok(created) => created,
            Err(failure) => return Step::Respond(Response::failure(&failure)),
        };
        let location = format!("{}/{}", self.location_base, id);
        let mut state = UploadState::new(id, self.new.length, 0);
        state.metadata = self.new.metadata;
        state.server_metadata = self.new.server_metadata;
        state.last_write = Some(self.new.created_at);
        state.concat = self.new.concat;
        let created = Event::Created { upload: state.clone() };
        if let Some(Concat::Final(_)) = &state.concat {
            return Step::Assemble(Assemble { upload, location, created });
        }
        if let Some(declared) = self.body {
            let creation = Creation { location: location.clone(), created: created.clone() };
            return match Receive::new(upload, state, declared, self.limits, self.check, Some(creation)) {
                Ok(rx) => Step::Receive(rx),
                // Checked before the creation: a declared body never exceeds the length or the limits.
                Err(response) => Step::Respond(response.header_str(LOCATION, &location).event(created)),
            };
        }
        if state.is_complete() {
            let after = AfterCommit::Created { location, created, with_upload: false, ending: Ending::Finished };
            return commit_or_respond(upload, state, 0, after);
        }
        Step::Respond(created_response(&location).about(&state).event(created))
    }
}

/// Asks storage to assemble a final upload from its partial uploads (concatenation), in order, and finish it.
/// Answer with [`Assemble::continue_with`].
#[derive(Debug)]
#[must_use = "feed the storage result back with continue_with"]
pub struct Assemble<U> {
    upload: U,
    location: String,
    created: Event,
}

impl<U> Assemble<U> {
    /// The final upload, just created: its record names the parts.
    pub fn upload(&mut self) -> &mut U {
        &mut self.upload
    }

    /// Feeds back the final upload's state — finished, or not yet when some part is still uploading
    /// (concatenation-unfinished) — or the failure. 201 with `Location`; a finished final is handed to workers like
    /// any finished upload.
    pub fn continue_with(self, result: Result<UploadState, StoreFailure>) -> Step<U> {
        Step::Respond(match result {
            Ok(state) if state.finished => {
                let completed = Event::Completed { upload: state };
                created_response(&self.location).event(self.created).event(completed)
            }
            // concatenation-unfinished: assembled when its last part completes.
            Ok(_) => created_response(&self.location).event(self.created),
            // The store removed the final it could not assemble: for the client (and events) it never was.
            Err(failure) => Response::failure(&failure),
        })
    }
}
