//! The runtime-agnostic hyper layer of tussi: the driver loop that runs `tus-proto`'s steps against a [`Store`],
//! a hyper and tower [`TusService`], and an accept loop ([`serve`]) with timeouts and graceful shutdown.
//!
//! It never picks a runtime: spawning and timers come through hyper's own `rt` traits in a [`Runtime`], which the
//! runtime crates (`tus-tokio`, `tus-smol`, `tus-async-std`) provide, and file work goes through `tus-storage`'s
//! offload pool.
//!
//! ```
//! use std::sync::Arc;
//! use tus_hyper::{MemoryBackend, TusApp};
//!
//! let app = TusApp::builder(MemoryBackend::new())
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
mod fs;
mod runtime;
mod serve;
mod service;
mod store;

pub use app::{
    BoxError, BoxFuture, Rejection, TusApp, TusAppBuilder, DEFAULT_BATCH_MEMORY, DEFAULT_BATCH_SIZE,
    DEFAULT_BODY_READ_TIMEOUT,
};
pub use driver::handle;
pub use fs::FileBackend;
pub use runtime::Runtime;
pub use serve::{serve, Listener, ServeOptions};
pub use service::{PeerAddr, TusService};
pub use store::{MemoryBackend, Store};
pub use tus_proto;
pub use tus_storage;
