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

#![forbid(unsafe_code)]

mod ahead;
mod app;
mod batch;
mod budget;
mod driver;
mod runtime;
mod serve;
mod service;

pub use app::{
    BoxError, BoxFuture, Rejection, TusApp, TusAppBuilder, DEFAULT_BATCH_MEMORY, DEFAULT_BATCH_SIZE,
    DEFAULT_BODY_READ_TIMEOUT,
};
pub use runtime::Runtime;
pub use serve::{serve, Listener, ServeOptions};
pub use service::{PeerAddr, TusService};
pub use tus_proto;
#[cfg(feature = "fs")]
pub use tus_storage;
pub use tus_store::{self, Claim, JanitorConfig, MemoryStore, Store};
