//! HEAD: the offset of an upload.

use http::header::HeaderValue;

use crate::response::headers;
use crate::{Response, Step, StoreFailure, UploadId, UploadState};

pub(crate) fn begin<U>(id: UploadId) -> Step<U> {
    Step::Stat(Stat { id })
}

/// Asks for the state of an upload (a shared, read-only look). Answer with [`Stat::continue_with`].
#[derive(Debug)]
#[must_use = "feed the storage result back with continue_with"]
pub struct Stat {
    id: UploadId,
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
            Ok(state) => {
                let mut response =
                    Response::new(http::StatusCode::NO_CONTENT).no_store().number(headers::UPLOAD_OFFSET, state.offset);
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
                response
            }
        };
        Step::Respond(response.no_store().without_body())
    }
}
