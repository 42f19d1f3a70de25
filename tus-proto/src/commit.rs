//! Commit: the last storage step of PATCH (and of creating an empty upload), and the answer that follows it.
//!
//! The lowest of the method modules: `post` and `patch` end in a commit, and this module needs neither.

use http::header::HeaderValue;
use http::StatusCode;

use crate::response::headers;
use crate::{Concat, Event, Response, Step, StoreFailure, UploadState};

/// How the body of a PATCH ended, which decides the answer after the commit.
#[derive(Debug)]
pub(crate) enum Ending {
    Finished,
    Overflow(Limit),
    Short,
    Unstored,
    Interrupted(Interruption),
    StoreFailed(StoreFailure),
    /// The body does not match its `Upload-Checksum`.
    ChecksumMismatch,
    /// The `Upload-Checksum` trailer was missing or invalid: the reason.
    ChecksumInvalid(String),
}

/// What the commit completes.
#[derive(Debug)]
pub(crate) enum AfterCommit {
    /// A creation: an upload of length 0, or a POST that carried data (`with_upload`).
    Created {
        location: String,
        created: Event,
        with_upload: bool,
        ending: Ending,
    },
    Patched(Ending),
}

/// Commits `stored` bytes after `state.offset`, unless there is nothing to commit: no new bytes, and nothing to
/// finalise.
pub(crate) fn commit_or_respond<U>(upload: U, state: UploadState, stored: u64, after: AfterCommit) -> Step<U> {
    let offset = state.offset + stored;
    let complete = state.length == Some(offset);
    if stored == 0 && (!complete || state.finished) {
        return Step::Respond(answer(after, Ok(state), Vec::new()));
    }
    Step::Commit(Commit { upload, state, offset, complete, stored, after })
}

/// Asks storage to record the new offset durably, and to finalise the upload when it is complete, in one
/// exclusive section. Answer with [`Commit::continue_with`].
#[derive(Debug)]
#[must_use = "feed the storage result back with continue_with"]
pub struct Commit<U> {
    upload: U,
    state: UploadState,
    offset: u64,
    complete: bool,
    stored: u64,
    after: AfterCommit,
}

impl<U> Commit<U> {
    /// The open upload.
    pub fn upload(&mut self) -> &mut U {
        &mut self.upload
    }

    /// The offset to record: every byte before it has been stored.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the upload is complete at this offset and must be finalised.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Feeds back the committed state, or the failure. The handle is dropped (and so released) here.
    pub fn continue_with(self, result: Result<UploadState, StoreFailure>) -> Step<U> {
        let events = match &result {
            Ok(state) => {
                let mut events = Vec::new();
                if self.stored > 0 {
                    events.push(Event::Progress { upload: state.clone(), bytes_written: self.stored });
                }
                // A partial upload is only a part: the final that assembles it completes.
                if self.complete && state.concat != Some(Concat::Partial) {
                    events.push(Event::Completed { upload: state.clone() });
                }
                events
            }
            Err(failure) => vec![Event::Failed { id: self.state.id, error: failure.clone() }],
        };
        Step::Respond(answer(self.after, result, events))
    }
}

/// The answer once storage is settled: `committed` is the state after the commit (or the unchanged state when
/// nothing was committed), or the commit's failure; `events` are the commit's own, placed in the order they
/// happened.
fn answer(after: AfterCommit, committed: Result<UploadState, StoreFailure>, events: Vec<Event>) -> Response {
    match after {
        AfterCommit::Patched(ending) => match committed {
            Err(failure) => Response::failure(&failure).events_from(events),
            Ok(state) => ending_response(ending, &state, events),
        },
        // A creation stands even when its data did not all arrive: the client is told where the upload is and
        // how far it got, so that it can resume instead of creating it again.
        AfterCommit::Created { location, created, with_upload, ending } => {
            let response = match committed {
                Err(failure) => return Response::failure(&failure).event(created).events_from(events),
                Ok(state) => match ending {
                    Ending::Finished if with_upload => created_response(&location)
                        .number(headers::UPLOAD_OFFSET, state.offset)
                        .about(&state)
                        .events_from(events),
                    Ending::Finished => created_response(&location).about(&state).events_from(events),
                    ending => ending_response(ending, &state, events).header_str(http::header::LOCATION, &location),
                },
            };
            response.event_first(created)
        }
    }
}

/// The answer to a body that ended as `ending`, with the committed state: 204, or the refusal of how it ended, with
/// the offset; `events` (the commit's) come before a failure's own.
fn ending_response(ending: Ending, state: &UploadState, events: Vec<Event>) -> Response {
    let response = match ending {
        Ending::Finished => Response::new(StatusCode::NO_CONTENT),
        Ending::Overflow(limit) => too_large(limit),
        Ending::Short => Response::refuse(StatusCode::BAD_REQUEST, "request body is shorter than Content-Length"),
        Ending::Unstored => {
            Response::refuse(StatusCode::INTERNAL_SERVER_ERROR, "request body was not completely stored")
        }
        Ending::Interrupted(Interruption::TakenOver) => {
            Response::refuse(StatusCode::CONFLICT, "a newer request for this upload took over")
        }
        Ending::Interrupted(Interruption::Terminated) => {
            Response::refuse(StatusCode::GONE, "the upload was terminated by another request")
        }
        Ending::Interrupted(Interruption::TimedOut) => {
            Response::refuse(StatusCode::REQUEST_TIMEOUT, "request body timed out")
        }
        Ending::Interrupted(Interruption::ClientGone) => {
            Response::refuse(StatusCode::BAD_REQUEST, "request body ended early")
        }
        Ending::ChecksumMismatch => Response::refuse(
            StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST),
            "checksum mismatch: the request's bytes were not kept",
        ),
        Ending::ChecksumInvalid(reason) => Response::refuse(StatusCode::BAD_REQUEST, reason),
        Ending::StoreFailed(failure) => {
            let id = state.id;
            return Response::failure(&failure)
                .number(headers::UPLOAD_OFFSET, state.offset)
                .events_from(events)
                .event(Event::Failed { id, error: failure });
        }
    };
    response.number(headers::UPLOAD_OFFSET, state.offset).about(state).events_from(events)
}

/// How a body ended before it was complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Interruption {
    /// The client closed the connection or the body stream failed.
    ClientGone,
    /// The body stalled past the server's read timeout.
    TimedOut,
    /// A newer request for the same upload asked this one to let go.
    TakenOver,
    /// A DELETE of the upload asked this one to stop.
    Terminated,
}

/// Which limit bounds the body of one PATCH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Limit {
    /// The bytes left before `Upload-Length`.
    Length,
    /// `max_chunk_size`.
    ChunkSize(u64),
    /// `max_size`, for an upload whose length is not known yet.
    MaxSize(u64),
}

pub(crate) fn too_large(limit: Limit) -> Response {
    let reason = match limit {
        Limit::Length => "request body exceeds Upload-Length".to_owned(),
        Limit::ChunkSize(max) => format!("request body exceeds the chunk size limit of {max} bytes"),
        Limit::MaxSize(max) => format!("request body takes the upload past the size limit of {max} bytes"),
    };
    Response::refuse(StatusCode::PAYLOAD_TOO_LARGE, reason)
}

/// The answer to a creation: 201 with `Location`.
pub(crate) fn created_response(location: &str) -> Response {
    let response = Response::new(StatusCode::CREATED);
    match HeaderValue::try_from(location) {
        Ok(value) => response.header(http::header::LOCATION, value),
        // Built from a validated Host and path, so always a valid header value.
        Err(_) => Response::refuse(StatusCode::INTERNAL_SERVER_ERROR, "could not build Location"),
    }
}
