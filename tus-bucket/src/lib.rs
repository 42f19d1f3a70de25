//! tussi's object-storage backend: TUS uploads kept in a bucket — S3, an S3-compatible store (SeaweedFS, MinIO,
//! Ceph, R2), or anything else the [`object_store`] crate speaks with multipart uploads — and shared by every
//! tussi instance that points at the same bucket and prefix.
//!
//! An upload is a multipart upload plus a small `info` object. PATCH bodies stream into parts of
//! [`BucketConfig::part_size`] (S3's floor is 5 MiB for every part but the last); bytes committed below a part's
//! size wait in a tail object that the next PATCH continues from. Offsets are committed only for bytes the store
//! acknowledged, and the multipart id lives in the `info` object, so any instance can continue any upload.
//! Finishing completes the multipart upload into one object; deleting and expiring abort it, so nothing billable
//! is left behind. One instance writes an upload at a time, by a lease on the store's conditional writes (see
//! [`BucketConfig::lease`] for the trade-offs); a finished upload is claimed by exactly one worker on any instance.
//!
//! **What this crate never does:** it keeps no upload on a local disk and never holds a whole PATCH in memory
//! (every upload's buffer is at most a part, and all of them together at most [`BucketConfig::memory_budget`]);
//! it makes no protocol decision (`tus-proto` does, driven by `tus-hyper`). It runs on tokio, as `object_store`
//! does.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::{Duration, SystemTime};
//! use bytes::Bytes;
//! use object_store::memory::InMemory;
//! use tus_bucket::{BucketConfig, BucketStore};
//! use tus_proto::{Metadata, NewUpload};
//! use tus_store::{Claim as _, Store as _};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // `BucketStore::s3_from_env("s3://bucket/prefix")` for S3; any `ObjectStore + MultipartStore` here.
//! let store = BucketStore::new(Arc::new(InMemory::new()), "uploads", BucketConfig::default());
//! let new = NewUpload::new(Some(11), Metadata::from_iter([("filename", "a.txt")]), SystemTime::now());
//! let (mut upload, id) = store.create(new).await?;
//! store.write(&mut upload, 0, vec![Bytes::from_static(b"hello world")]).await?;
//! assert!(store.commit(&mut upload, 11, true).await?.finished);
//! drop(upload);
//!
//! let mut claim = store.claim(Duration::from_secs(1)).await?.expect("a finished upload");
//! assert_eq!(claim.id(), id);
//! claim.finish().await?;
//! # Ok(())
//! # }
//! ```

//! # Running it
//! - **Conditional writes are required**: `If-None-Match: *` and `If-Match` on PUT (AWS S3 since 2024, Cloudflare
//!   R2, MinIO, SeaweedFS, Ceph RGW). Without them two instances could both believe they hold an upload; a store
//!   that ignores the headers is not safe to share between instances.
//! - **Permissions**: get, put, delete and list objects under the prefix, and create, upload to, complete and abort
//!   multipart uploads.
//! - **A lifecycle rule that aborts incomplete multipart uploads** after a few days: an instance that dies between
//!   starting a multipart upload and recording its id leaves an empty one that no `info` names (the janitor aborts
//!   every multipart upload it knows of, but stores do not let it list the others through `object_store`).
//! - **What it costs**: a HEAD reads two small objects (the info and the lease); a PATCH reads them, writes the
//!   lease, then a part per [`part_size`](BucketConfig::part_size) and the info at its end; each upload being
//!   written reads its lease every [`poll`](BucketConfig::poll) and rewrites it every third of the
//!   [`lease`](BucketConfig::lease).
//!
//! The object names are described in the `layout` module's docs: every object of an upload under `<prefix>/<id>/`,
//! plus the `finished/` and `ended/` indexes.

#![forbid(unsafe_code)]

mod claim;
mod concat;
mod info;
mod io;
mod layout;
mod lease;
mod store;
mod sweep;
mod upload;

use std::time::Duration;

pub use claim::BucketClaim;
pub use store::BucketStore;
pub use upload::BucketUpload;

/// How a [`BucketStore`] stores and shares uploads.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BucketConfig {
    /// The size of every part of a multipart upload but the last: 5 MiB by default, S3's floor. An upload whose
    /// length needs more than 10,000 parts of this size (S3's ceiling) gets larger parts; an upload of deferred
    /// length can grow to 10,000 parts.
    pub part_size: usize,
    /// The most memory all uploads' part buffers take together: 32 MiB by default. An upload takes its share
    /// (a part, or what is left of its length) when its first bytes arrive and gives it back at its commit;
    /// while the budget is spent, further uploads wait before reading their bodies.
    pub memory_budget: usize,
    /// How long a lease on an upload lasts without renewal: 10 s by default. A holder renews it while it lives;
    /// one that died (a killed instance) keeps the upload this long, then the next request takes it over. Keep the
    /// instances' clocks within a fraction of it (NTP).
    pub lease: Duration,
    /// How often a holder reads its lease for release requests, and a waiting request checks again: 250 ms by
    /// default. Each held upload costs one read of this period.
    pub poll: Duration,
    /// How long `open` and `delete` wait for a holder to let go before answering `Locked`: 12 s by default, more
    /// than the lease, so that a request always takes over from a holder that died.
    pub release_timeout: Duration,
    /// Whether assembling a final upload removes its partial uploads: yes by default.
    pub remove_assembled_parts: bool,
    /// A name for this instance's file workers that stays the same across restarts (`tussi-server` keeps one in
    /// its dest dir): `None` by default. A claim whose worker died (its lease ran out) is given back to a worker of
    /// the same name at once, and to workers of other names only [`claim_grace`](Self::claim_grace) later. A
    /// worker killed after it published an upload but before it ended the claim then finds its own publication
    /// when it comes back, instead of another instance delivering the upload a second time. Without a name, any
    /// worker takes over a dead one's claim when its lease runs out (delivery at least once across crashes).
    pub worker_name: Option<String>,
    /// How long a dead worker's claim waits for a worker of its name before any worker may take it over: 60 s by
    /// default. Only claims taken under a [`worker_name`](Self::worker_name) wait.
    pub claim_grace: Duration,
}

impl Default for BucketConfig {
    fn default() -> Self {
        BucketConfig {
            part_size: 5 << 20,
            memory_budget: 32 << 20,
            lease: Duration::from_secs(10),
            poll: Duration::from_millis(250),
            release_timeout: Duration::from_secs(12),
            remove_assembled_parts: true,
            worker_name: None,
            claim_grace: Duration::from_secs(60),
        }
    }
}

/// S3's ceiling on the parts of one multipart upload.
pub const MAX_PARTS: usize = 10_000;
