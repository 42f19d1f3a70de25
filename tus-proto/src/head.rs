//! HEAD: the offset of an upload.

use std::time::SystemTime;

use http::header::HeaderValue;
use http::StatusCode;

use crate::response::headers;
use crate::{Concat, Response, Step, StoreFailure, UploadId, UploadState};

pub(crate) fn begin<U>(id: UploadId, expired_before: Option<SystemTime>, collection: String) -> Step<U> {
    Step::Stat(Stat { id, expired_before, collection })
}

/// Asks for the state of an upload (a shared, read-only look). Answer with [`Stat::continue_with`].
#[derive(Debug)]
#[must_use = "feed the storage result back with continue_with"]
pub struct Stat {
    id: UploadId,
    /// An unfinished upload last written before this has expired.
    expired_before: Option<SystemTime>,
    /// The path uploads live under, for the URLs of `Upload-Concat`.
    collection: String,
}

impl Stat {
    /// The upload to look up.
    pub fn id(&self) -> UploadId {
        self.id
    }

    /// Feeds back what storage found. A finished upload answers offset == length, also once a worker claimed it
    /// (for as long as the store remembers it); an upload whose length is deferred answers `Upload-Defer-Length: 1`.
    pub fn continue_with<U>(self, result: Result<UploadState, StoreFailure>) -> Step<U> {
        let response = match result {
            Err(failure) => Response::failure(&failure),
            Ok(state) if is_expired(&state, self.expired_before) => expired(),
            Ok(state) => {
                let mut response = Response::new(StatusCode::NO_CONTENT).no_store();
                // A final upload has no offset until it is assembled.
                let unassembled = matches!(state.concat, Some(Concat::Final(_))) && !state.finished;
                if !unassembled {
                    response = response.number(headers::UPLOAD_OFFSET, state.offset);
                }
                match &state.concat {
                    None => {}
                    Some(Concat::Partial) => {
                        response = response.header(headers::UPLOAD_CONCAT, HeaderValue::from_static("partial"))
                    }
                    Some(Concat::Final(parts)) => {
                        let urls: Vec<String> = parts.iter().map(|id| format!("{}/{id}", self.collection)).collect();
                        response = response.header_str(headers::UPLOAD_CONCAT, &format!("final;{}", urls.join(" ")));
                    }
                }
                response = match state.length {
                    Some(length) => response.number(headers::UPLOAD_LENGTH, length),
                    None => response.header(headers::UPLOAD_DEFER_LENGTH, HeaderValue::from_static("1")),
                };
                if !state.metadata.is_empty() {
                    // Keys and base64 are always valid header characters.
                    if let Ok(value) = HeaderValue::try_from(state.metadata.to_header_value()) {
                        response = response.header(headers::UPLOAD_METADATA, value);
                    }
                }
                response.about(&state)
            }
        };
        Step::Respond(response.no_store().without_body())
    }
}

/// Whether an unfinished upload was last written before `expired_before`.
pub(crate) fn is_expired(state: &UploadState, expired_before: Option<SystemTime>) -> bool {
    match (state.last_write, expired_before) {
        (Some(last_write), Some(before)) => !state.finished && last_write < before,
        _ => false,
    }
}

/// The answer for an expired upload: 410, so the client knows why it must start over.
pub(crate) fn expired() -> Response {
    Response::refuse(StatusCode::GONE, "the upload expired")
}
