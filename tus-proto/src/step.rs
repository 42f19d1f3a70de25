//! The steps of one request. Each non-final step is a value the driver must consume, feeding back the result of
//! the work it asks for; the next step comes back. Ordering mistakes are type errors, not runtime surprises.

use crate::{Commit, Create, CreateHook, Open, Receive, Response, Stat};

/// What the driver must do next for one request. `U` is the driver's handle to an open upload (for example a
/// locked file): the core carries it between steps but never touches it.
#[must_use = "a step must be driven to a Response"]
#[derive(Debug)]
pub enum Step<U> {
    /// Send this response and deliver its events. The request is done.
    Respond(Response),
    /// Call the `on_create` hook, then [`CreateHook::continue_with`] its outcome.
    Hook(CreateHook),
    /// Create the upload in storage, then [`Create::continue_with`] the new handle and id.
    Create(Create),
    /// Read the upload's state, then [`Stat::continue_with`] it.
    Stat(Stat),
    /// Open the upload for writing (exclusively), then [`Open::continue_with`] the handle and state.
    Open(Open),
    /// Stream the request body into the upload, as [`Receive`] directs.
    Receive(Receive<U>),
    /// Commit the stored bytes (and finalise when complete), then [`Commit::continue_with`] the result.
    Commit(Commit<U>),
}
