//! The final output of every request: a response with a short plain-text reason, and lifecycle events.

use http::header::{HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use std::time::SystemTime;

use http::{HeaderMap, StatusCode};

use crate::{StoreFailure, UploadId, UploadState};

/// The TUS protocol version this crate speaks.
pub const TUS_VERSION: &str = "1.0.0";

/// Header names of the TUS protocol, lower-case as `http` keeps them.
pub mod headers {
    use http::header::HeaderName;

    /// `Tus-Resumable`
    pub const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
    /// `Tus-Version`
    pub const TUS_VERSION: HeaderName = HeaderName::from_static("tus-version");
    /// `Tus-Extension`
    pub const TUS_EXTENSION: HeaderName = HeaderName::from_static("tus-extension");
    /// `Tus-Max-Size`
    pub const TUS_MAX_SIZE: HeaderName = HeaderName::from_static("tus-max-size");
    /// `Upload-Offset`
    pub const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
    /// `Upload-Length`
    pub const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
    /// `Upload-Metadata`
    pub const UPLOAD_METADATA: HeaderName = HeaderName::from_static("upload-metadata");
    /// `Upload-Defer-Length`
    pub const UPLOAD_DEFER_LENGTH: HeaderName = HeaderName::from_static("upload-defer-length");
    /// `Upload-Expires`
    pub const UPLOAD_EXPIRES: HeaderName = HeaderName::from_static("upload-expires");
    /// `Upload-Concat`
    pub const UPLOAD_CONCAT: HeaderName = HeaderName::from_static("upload-concat");
    /// `Upload-Checksum`
    pub const UPLOAD_CHECKSUM: HeaderName = HeaderName::from_static("upload-checksum");
    /// `Tus-Checksum-Algorithm`
    pub const TUS_CHECKSUM_ALGORITHM: HeaderName = HeaderName::from_static("tus-checksum-algorithm");
    /// `X-HTTP-Method-Override`
    pub const X_HTTP_METHOD_OVERRIDE: HeaderName = HeaderName::from_static("x-http-method-override");
    /// `X-Forwarded-Proto`
    pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
    /// `Forwarded` (RFC 7239)
    pub const FORWARDED: HeaderName = HeaderName::from_static("forwarded");
}

/// A lifecycle event, decided by the protocol core and delivered by the driver (for example to `on_event`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// An upload was created.
    Created {
        /// The new upload, offset 0.
        upload: UploadState,
    },
    /// A PATCH stored and committed bytes.
    Progress {
        /// The upload after the commit.
        upload: UploadState,
        /// Bytes this request committed.
        bytes_written: u64,
    },
    /// The last byte arrived and the upload was finalised.
    Completed {
        /// The finished upload.
        upload: UploadState,
    },
    /// The upload was terminated (DELETE): its data and record are gone.
    Terminated {
        /// The upload that was removed.
        id: UploadId,
    },
    /// Storage failed while writing or finalising.
    Failed {
        /// The upload concerned.
        id: UploadId,
        /// What went wrong.
        error: StoreFailure,
    },
}

/// A complete answer to one request: status, headers, a short plain-text reason (empty on success), and the
/// events the driver must deliver.
///
/// The body is always small: a reason for a refusal, never upload data.
#[derive(Clone, Debug)]
#[must_use = "a response must be sent, and its events delivered"]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    reason: String,
    /// For logs: what went wrong inside, when storage failed (never sent to the client).
    cause: Option<String>,
    /// The last write of the unfinished upload this response is about: `Server::finish` turns it into
    /// `Upload-Expires` when uploads expire.
    pub(crate) last_write: Option<SystemTime>,
    events: Vec<Event>,
}

impl Response {
    /// A response with the TUS version header (absent on OPTIONS) and no body.
    pub(crate) fn new(status: StatusCode) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(headers::TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
        Response { status, headers, reason: String::new(), cause: None, last_write: None, events: Vec::new() }
    }

    /// A refusal: `status` with a plain-text reason.
    pub(crate) fn refuse(status: StatusCode, reason: impl Into<String>) -> Self {
        let mut response = Response::new(status);
        response.reason = reason.into();
        response.headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        response
    }

    /// A 500 for a server set up wrong: the client gets a short reason, the log `cause`.
    pub(crate) fn misconfigured(cause: &str) -> Self {
        let mut response = Response::refuse(StatusCode::INTERNAL_SERVER_ERROR, "server misconfigured");
        response.cause = Some(cause.to_owned());
        response
    }

    /// The refusal for a storage failure.
    pub(crate) fn failure(failure: &StoreFailure) -> Self {
        let mut response = Response::refuse(failure.kind().status(), failure.kind().reason());
        response.cause = Some(failure.to_string());
        response
    }

    pub(crate) fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    pub(crate) fn number(self, name: HeaderName, value: u64) -> Self {
        self.header(name, HeaderValue::from(value))
    }

    pub(crate) fn no_store(self) -> Self {
        self.header(CACHE_CONTROL, HeaderValue::from_static("no-store"))
    }

    pub(crate) fn event(mut self, event: Event) -> Self {
        self.events.push(event);
        self
    }

    /// Marks the response as about `state`: an unfinished upload's answer gets `Upload-Expires` (see
    /// `Server::finish`).
    pub(crate) fn about(mut self, state: &UploadState) -> Self {
        self.last_write = if state.finished { None } else { state.last_write };
        self
    }

    /// Puts `event` before the events already there (a creation's `Created` comes before its data's events).
    pub(crate) fn event_first(mut self, event: Event) -> Self {
        self.events.insert(0, event);
        self
    }

    /// Sets a header from a string; an invalid value turns the response into a 500 (values are built from
    /// validated parts, so this does not happen).
    pub(crate) fn header_str(self, name: HeaderName, value: &str) -> Self {
        match HeaderValue::try_from(value) {
            Ok(value) => self.header(name, value),
            Err(_) => Response::refuse(StatusCode::INTERNAL_SERVER_ERROR, "could not build a response header"),
        }
    }

    pub(crate) fn events_from(mut self, events: Vec<Event>) -> Self {
        self.events.extend(events);
        self
    }

    pub(crate) fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// Drops the body, for answers to HEAD.
    pub(crate) fn without_body(mut self) -> Self {
        self.reason.clear();
        self.headers.remove(CONTENT_TYPE);
        self
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers. Never `Content-Length`: the HTTP layer frames the body (and sends none on 204).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body: a short plain-text reason, or empty.
    pub fn body(&self) -> &str {
        &self.reason
    }

    /// What went wrong inside, for the server's log: the storage failure (operation, upload, path, OS error) behind
    /// a refusal. Never sent to the client, whose body holds only the short [`body`](Self::body).
    pub fn cause(&self) -> Option<&str> {
        self.cause.as_deref()
    }

    /// The events to deliver, in order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Splits into an `http` response with the reason as body, and the events.
    pub fn into_http(self) -> (http::Response<String>, Vec<Event>) {
        let mut response = http::Response::new(self.reason);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        (response, self.events)
    }
}
