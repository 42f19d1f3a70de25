//! DELETE (termination): remove an upload, whatever state it is in, and answer 204.

use http::StatusCode;

use crate::{Event, Response, Step, StoreFailure, UploadId};

pub(crate) fn begin<U>(id: UploadId) -> Step<U> {
    Step::Terminate(Terminate { id })
}

/// Asks storage to remove an upload: its data and record, at once, taking it from a request that holds it (which
/// is stopped and answered). Answer with [`Terminate::continue_with`].
///
/// A finished upload that no worker has claimed yet is removed like any other: the client cancelled it, and no
/// worker will see it. One that a worker claimed is the application's now: storage answers
/// [`FailureKind::Finished`](crate::FailureKind::Finished) (403).
#[derive(Debug)]
#[must_use = "feed the storage result back with continue_with"]
pub struct Terminate {
    id: UploadId,
}

impl Terminate {
    /// The upload to remove.
    pub fn id(&self) -> UploadId {
        self.id
    }

    /// Feeds back whether storage removed it: 204 and [`Event::Terminated`], or the failure (404 unknown, 410
    /// removed before, 403 handed over, 423 held by a request that did not let go).
    pub fn continue_with<U>(self, result: Result<(), StoreFailure>) -> Step<U> {
        Step::Respond(match result {
            Ok(()) => Response::new(StatusCode::NO_CONTENT).event(Event::Terminated { id: self.id }),
            Err(failure) => Response::failure(&failure),
        })
    }
}
