//! The steps of one request. Each non-final step is a value the driver must consume, feeding back the result of
//! the work it asks for; the next step comes back. Ordering mistakes are type errors, not runtime surprises.

use http::StatusCode;

use crate::{Assemble, Commit, Create, CreateHook, DeclareLength, Open, Receive, Response, Stat, Terminate};

/// What the driver must do next for one request. `U` is the driver's handle to an open upload (for example a
/// locked file): the core carries it between steps but never touches it.
///
/// # The steps of each method
/// [`Server::begin`](crate::Server::begin) returns the first step; every arrow is the driver feeding a result
/// back with `continue_with` (or, for [`Receive`], ending the body). Any step can end in [`Step::Respond`].
///
/// | method | steps | where it can end |
/// |---|---|---|
/// | OPTIONS | `Respond` | 204 with the server's capabilities (a CORS preflight: 204 with what it asks) |
/// | any other, first | `Respond` | 412 without `Tus-Resumable: 1.0.0`, 400 for a bad override, 404/405 for a path or method the endpoint does not serve |
/// | POST | `Hook` → `Create` → `Respond` | 400/413/415 at `begin` (length, metadata, body type); the hook's rejection; a `Create` failure (507, 500); 201 |
/// | POST, length 0 | `Hook` → `Create` → `Commit` → `Respond` | as above; the commit finishes the upload before the 201 |
/// | POST with data | `Hook` → `Create` → `Receive` → `Commit` → `Respond` | as above; then as a PATCH at offset 0, answered 201 with `Location` and `Upload-Offset` (or the refusal of how the body ended, with both) |
/// | HEAD | `Stat` → `Respond` | 404/410/500 from storage; 204 with `Upload-Offset` |
/// | PATCH | `Open` → `Receive` → `Commit` → `Respond` | 415/400/413 at `begin`; a storage failure of `Open` (404, 410, 423, 500); 409 on a wrong offset and 413 past the length after `Open`; after `Receive`, no `Commit` when nothing was stored and nothing finishes; 204 with the new offset, or the refusal of how the body ended (413, 400, 408, 409, 410) with the offset committed |
/// | PATCH fixing a deferred length | `Open` → `DeclareLength` → `Receive` → `Commit` → `Respond` | as PATCH; 400 when `Upload-Length` is below the offset or differs from a known length |
/// | DELETE | `Terminate` → `Respond` | 404/410/403/423 from storage; 204 |
/// | POST of a final upload | `Hook` → `Create` → `Assemble` → `Respond` | 400 at `begin` (a part that names no upload here, a length or data); 400 from storage for a part that is not a finished partial upload; 201 |
///
/// Steps never go back: a request visits each step at most once, in the order of its row.
#[must_use = "a step must be driven to a Response"]
#[derive(Debug)]
#[non_exhaustive]
pub enum Step<U> {
    /// Send this response, completed by [`Server::finish`](crate::Server::finish), and deliver its events. The
    /// request is done.
    Respond(Response),
    /// Call the `on_create` hook, then [`CreateHook::continue_with`] its outcome.
    Hook(CreateHook),
    /// Create the upload in storage, then [`Create::continue_with`] the new handle and id.
    Create(Create),
    /// Read the upload's state, then [`Stat::continue_with`] it.
    Stat(Stat),
    /// Open the upload for writing (exclusively), then [`Open::continue_with`] the handle and state.
    Open(Open),
    /// Assemble a final upload from its partial uploads, then [`Assemble::continue_with`] the finished state.
    Assemble(Assemble<U>),
    /// Record the length of an upload created without one, then [`DeclareLength::continue_with`] the new state.
    DeclareLength(DeclareLength<U>),
    /// Remove the upload from storage, then [`Terminate::continue_with`] the result.
    Terminate(Terminate),
    /// Stream the request body into the upload, as [`Receive`] directs.
    Receive(Receive<U>),
    /// Commit the stored bytes (and finalise when complete), then [`Commit::continue_with`] the result.
    Commit(Commit<U>),
}

impl<U> Step<U> {
    /// The answer of a driver that meets a step it does not know (one added to this crate after the driver was
    /// written): 501, with nothing stored. Drivers call it from the catch-all arm that `#[non_exhaustive]` asks for.
    pub fn unhandled(self) -> Response {
        Response::refuse(StatusCode::NOT_IMPLEMENTED, "this server cannot handle the request")
    }
}
