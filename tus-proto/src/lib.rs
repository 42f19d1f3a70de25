//! The sans-IO core of the [TUS] 1.0.0 resumable upload protocol: core, creation, creation-with-upload,
//! creation-defer-length, termination, checksum, checksum-trailer and expiration, with CORS for browsers.
//!
//! `tus-proto` turns an HTTP request head, and the results of storage operations, into decisions and responses.
//! It **never** does I/O: no sockets, no files, no threads, no async, no clock — the time and the peer address are
//! arguments, and the storage work is done by the caller (the *driver*) between steps.
//!
//! A request is a chain of [`Step`]s. [`Server::begin`] looks at the head; every step but the last asks the driver
//! for one piece of work and is consumed by feeding the result back with `continue_with`, so a step can be neither
//! forgotten nor answered twice. The last step is always [`Step::Respond`]: a [`Response`] with a short plain-text
//! reason and the lifecycle [`Event`]s to deliver.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use http::{Method, Request};
//! use tus_proto::model::MemoryStore;
//! use tus_proto::{HookOutcome, RequestHead, Server, Step};
//!
//! let server = Server::builder().max_size(1 << 30).base_path("/files").build()?;
//! let mut store = MemoryStore::new(); // a real driver uses tus-storage here
//!
//! let (head, _body) = Request::builder()
//!     .method(Method::POST)
//!     .uri("/files")
//!     .header("host", "example.com")
//!     .header("tus-resumable", "1.0.0")
//!     .header("upload-length", "5")
//!     .body(())?
//!     .into_parts();
//!
//! // The driver loop: one arm per kind of work.
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_470_219); // the driver reads the clock
//! let mut step = server.begin(RequestHead::from_parts(&head), now);
//! let response = loop {
//!     step = match step {
//!         Step::Respond(response) => break response,
//!         Step::Hook(hook) => hook.continue_with(HookOutcome::accept()), // on_create runs here
//!         Step::Create(create) => {
//!             let result = store.create(create.new_upload());
//!             create.continue_with(result)
//!         }
//!         Step::Stat(stat) => {
//!             let result = store.stat(stat.id());
//!             stat.continue_with(result)
//!         }
//!         Step::Open(open) => {
//!             let result = store.open(open.id());
//!             open.continue_with(result)
//!         }
//!         Step::Receive(mut rx) => {
//!             for chunk in [&b"hel"[..], b"lo"] {
//!                 let data = rx.accept(chunk);
//!                 let at = rx.write_offset();
//!                 match store.write_at(rx.upload(), at, data) {
//!                     Ok(()) => rx.stored(data.len() as u64),
//!                     Err(failure) => return Err(failure.into()),
//!                 }
//!             }
//!             rx.finish()
//!         }
//!         Step::Commit(mut commit) => {
//!             let (offset, complete) = (commit.offset(), commit.is_complete());
//!             let result = store.commit(commit.upload(), offset, complete);
//!             commit.continue_with(result)
//!         }
//!         other => break other.unhandled(), // a step added after this driver was written
//!     };
//! };
//! let response = server.finish(RequestHead::from_parts(&head), response); // CORS headers, when configured
//! assert_eq!(response.status(), 201);
//! let location = response.headers()["location"].to_str()?;
//! assert!(location.starts_with("http://example.com/files/"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With the feature `testing`, `model::MemoryStore::handle` is this loop, ready-made, over a model store: for this
//! crate's property tests, the fuzz targets and the in-memory conformance runner. A server's storage implements
//! the contract of the `tus-store` crate instead.
//!
//! # What the core decides
//! - Every status code and header of TUS 1.0.0 core, creation, creation-with-upload, creation-defer-length,
//!   termination, checksum (460 on a mismatch) and expiration (`Upload-Expires`): 412 with `Tus-Version`, 415, 409 with the current `Upload-Offset`, 413, 404, 410, 405 with
//!   `Allow`, 201 with `Location` (and `Upload-Offset` when the POST carried data), 204 (never with
//!   `Content-Length`), and `Cache-Control: no-store` on HEAD. Storage failures map to statuses in one place
//!   ([`FailureKind::status`]).
//! - CORS, when configured ([`Cors`]): preflights, and the CORS headers on every response through
//!   [`Server::finish`], which a driver calls on each final response.
//! - Strict parsing: integers are ASCII digits only and bounded, metadata is validated (see [`Metadata`]), and only
//!   canonical UUIDs ([`UploadId`]) can name an upload.
//! - How much of a PATCH body to store, and which offset to commit — exactly what was stored, also when the body
//!   breaks off.
//!
//! [TUS]: https://tus.io/protocols/resumable-upload

#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Refusals travel as `Err(Response)` inside the crate: a cold path, where moving 150 bytes does not matter.
#![allow(clippy::result_large_err)]

mod checksum;
mod commit;
mod cors;
mod delete;
mod head;
mod id;
mod metadata;
#[cfg(feature = "testing")]
pub mod model;
#[cfg(feature = "testing")]
pub mod parse;
#[cfg(not(feature = "testing"))]
#[allow(unreachable_pub)]
mod parse;
mod patch;
mod post;
mod proxy;
mod response;
mod server;
mod step;
mod store;

pub use checksum::ChecksumAlgorithm;
pub use commit::{Commit, Interruption};
pub use cors::Cors;
pub use delete::Terminate;
pub use head::Stat;
pub use id::{InvalidUploadId, UploadId};
pub use metadata::{is_kept_key, Metadata, MetadataError};
pub use patch::{DeclareLength, Open, Receive};
pub use post::{Assemble, Create, CreateHook, HookOutcome};
pub use proxy::{InvalidIpBlock, IpBlock};
pub use response::{headers, Event, Response, TUS_VERSION};
pub use server::{ConfigError, RequestHead, Server, ServerBuilder, DEFAULT_EXPIRE_AFTER, DEFAULT_MAX_METADATA_SIZE};
pub use step::Step;
pub use store::{Concat, FailureKind, NewUpload, StoreFailure, UploadState};
