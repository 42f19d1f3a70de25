//! The runtime-agnostic hyper layer of tussi: the driver loop that runs `tus-proto`'s steps against any
//! [`Store`], a hyper and tower [`TusService`], and an accept loop ([`serve`]) with timeouts and graceful shutdown.
//!
//! It never picks a runtime: spawning and timers come through hyper's own `rt` traits in a [`Runtime`], which the
//! runtime crates (`tus-tokio`, `tus-smol`, `tus-async-std`) provide. It never touches storage itself: every
//! storage call is one of the [`Store`] contract's. The filesystem store (`tus-storage`, Linux) comes with the
//! default feature `fs`; without it this crate builds on any platform, with [`MemoryStore`] or a backend of your
//! own.
//!
//! ```
//! use std::sync::Arc;
//! use tus_hyper::{MemoryStore, TusApp};
//!
//! let app = TusApp::builder(MemoryStore::new())
//!     .max_size(1 << 30)
//!     .on_event(|event| async move {
//!         println!("{event:?}");
//!         Ok(())
//!     })
//!     .build()?;
//! let app = Arc::new(app); // hand it to TusService::new, or to a runtime crate's serve
//! # Ok::<(), tus_proto::ConfigError>(())
//! ```
//!
//! # One PATCH, from the socket to `fdatasync`
//! Every request takes the same path: the core (`tus-proto`) only hands out steps, this crate's driver runs each
//! one against the [`Store`] and feeds the result back, and storage never calls into the core. Followed for a PATCH
//! on the filesystem store (`tus-storage`), function by function:
//!
//! 1. [`serve`] accepts the connection and gives it to hyper's HTTP/1.1 connection with a [`TusService`] for that
//!    peer. hyper reads the request head and calls the service.
//! 2. `TusService::respond` picks where the request runs: a body declared at most
//!    [`SMALL_WRITE`](tus_store::SMALL_WRITE) in the service's own future, a larger or streamed one in a task of its
//!    own (both keep running to the commit if the client or hyper drops the request).
//! 3. `driver::handle` → `drive`: [`Server::begin`](tus_proto::Server::begin) checks the head (version, method,
//!    path, `Content-Type`, `Upload-Offset`, the declared length against `max_chunk_size`) and returns
//!    `Step::Open`, or a `Step::Respond` with the refusal.
//! 4. `Step::Open`: a small body is read whole first (`read_whole`), so that a slow client never holds the upload.
//!    Then [`Store::open`]: `AsyncFileStore::open` asks `Policy::place` where to run, tries `FileStore::open_now`
//!    (`flock(LOCK_EX|LOCK_NB)` on the data file, the record read) and, if another request holds the upload,
//!    `FileStore::open` on the pool, which asks the holder to let go and waits a bounded time. The result goes back
//!    through [`Open::continue_with`](tus_proto::Open::continue_with): 409 on a wrong offset, 413 past the length,
//!    else `Step::Receive`.
//! 5. `Step::Receive`: `receive` reads body frames (`next_data`: the read timeout, and the takeover check while
//!    the body is silent), lets [`Receive::accept`](tus_proto::Receive::accept) bound each one, gathers them in a
//!    `Batch` and hands each full batch to [`Store::write`] while the next one is read ahead
//!    (`ReadAhead::while_writing`): `AsyncUploadWriter::write_vectored_at` runs `UploadWriter::write_vectored_at`
//!    (one `pwritev(2)`) where `Policy::place` says, and [`Receive::stored`](tus_proto::Receive::stored) counts the
//!    bytes. When the body ends, breaks off or overflows, `Receive::finish` / `interrupted` returns `Step::Commit`
//!    of exactly the stored bytes.
//! 6. `Step::Commit`: [`Store::commit`] → `AsyncUploadWriter::commit` → `UploadWriter::commit` on the pool (with
//!    fsync on): `fdatasync` of the data beside the new record's `write` + `fsync` to `<id>.meta.tmp`, then
//!    `rename` over `<id>.meta` and `fsync` of the directory; the last byte finishes the upload in the same lock
//!    section (`UploadWriter::finalise`). [`Commit::continue_with`](tus_proto::Commit::continue_with) returns
//!    `Step::Respond`: 204 with the new `Upload-Offset`, and the events.
//! 7. `drive` returns the response; `deliver` hands its events to `on_event`; hyper writes it to the socket.

#![forbid(unsafe_code)]

mod ahead;
mod app;
mod batch;
mod budget;
mod drain;
mod driver;
mod janitor;
mod metrics;
mod runtime;
mod serve;
mod service;
mod worker;

pub use app::{
    BoxError, BoxFuture, Rejection, TusApp, TusAppBuilder, DEFAULT_BATCH_MEMORY, DEFAULT_BATCH_SIZE,
    DEFAULT_BODY_READ_TIMEOUT,
};
pub use drain::DRAIN_LIMIT;
pub use janitor::janitor;
pub use metrics::Metrics;
pub use prometheus_client;
pub use runtime::Runtime;
pub use serve::{serve, Listener, ServeOptions};
pub use service::{PeerAddr, TusService};
pub use tus_proto::{self, Cors};
#[cfg(feature = "fs")]
pub use tus_storage;
pub use tus_store::{self, Claim, JanitorConfig, MemoryStore, ReleaseRequest, Store};
pub use worker::deliver_finished;
