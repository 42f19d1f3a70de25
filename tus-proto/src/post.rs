//! POST (creation): validate, ask the `on_create` hook, create, answer 201 with `Location`.

use std::time::SystemTime;

use http::{HeaderMap, StatusCode};

use crate::commit::{commit_or_respond, created_response, AfterCommit};
use crate::parse::{self, Single};
use crate::response::headers;
use crate::{Event, Metadata, NewUpload, Response, Server, Step, StoreFailure, UploadId, UploadState};

pub(crate) fn begin<U>(
    server: &Server,
    request_headers: &HeaderMap,
    location_base: String,
    now: SystemTime,
) -> Step<U> {
    match validate(server, request_headers) {
        Ok((length, metadata)) => Step::Hook(CreateHook {
            headers: request_headers.clone(),
            new: NewUpload { length: Some(length), metadata, server_metadata: Metadata::new(), created_at: now },
            location_base,
        }),
        Err(response) => Step::Respond(response),
    }
}

fn validate(server: &Server, request_headers: &HeaderMap) -> Result<(u64, Metadata), Response> {
    let bad = |reason: String| Response::refuse(StatusCode::BAD_REQUEST, reason);
    if request_headers.contains_key(headers::UPLOAD_DEFER_LENGTH) {
        return Err(bad("creation-defer-length is not supported: send Upload-Length".into()));
    }
    let length = parse::integer_header(request_headers, &headers::UPLOAD_LENGTH, "Upload-Length")
        .map_err(bad)?
        .ok_or_else(|| bad("Upload-Length is required".into()))?;
    if let Some(max) = server.max_size {
        if length > max {
            return Err(Response::refuse(StatusCode::PAYLOAD_TOO_LARGE, format!("Upload-Length exceeds {max}")));
        }
    }
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
    Ok((length, metadata))
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
}

impl Create {
    /// What to create.
    pub fn new_upload(&self) -> &NewUpload {
        &self.new
    }

    /// Feeds back the handle of the created upload (holding it exclusively) and its id, or the failure.
    /// An upload of length 0 is complete at creation: a [`Commit`](crate::Commit) step finalises it before the 201.
    pub fn continue_with<U>(self, result: Result<(U, UploadId), StoreFailure>) -> Step<U> {
        let (upload, id) = match result {
            Ok(created) => created,
            Err(failure) => return Step::Respond(Response::failure(&failure)),
        };
        let location = format!("{}/{}", self.location_base, id);
        let mut state = UploadState::new(id, self.new.length, 0);
        state.metadata = self.new.metadata;
        state.server_metadata = self.new.server_metadata;
        let created = Event::Created { upload: state.clone() };
        if state.is_complete() {
            return commit_or_respond(upload, state, 0, AfterCommit::Created { location, created });
        }
        Step::Respond(created_response(&location).event(created))
    }
}
