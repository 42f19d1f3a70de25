//! The backend test kit against a bucket in memory (object_store's `InMemory`, which keeps conditional writes and
//! multipart uploads as S3 does). `tests/s3.rs` runs it against a real S3 server.

use std::sync::Arc;
use std::time::Duration;

use object_store::memory::InMemory;
use tus_bucket::{BucketConfig, BucketStore};

fn quick() -> BucketConfig {
    let mut config = BucketConfig::default();
    // Small parts, so that the kit's few bytes cross part boundaries; a short release timeout for the case of a
    // holder that never lets go.
    config.part_size = 3;
    config.poll = Duration::from_millis(50);
    config.release_timeout = Duration::from_secs(2);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_test_kit_passes_in_memory() {
    tus_store::testkit::run(|| BucketStore::new(Arc::new(InMemory::new()), "kit", quick())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_test_kit_passes_with_default_parts() {
    let mut config = quick();
    config.part_size = BucketConfig::default().part_size;
    tus_store::testkit::run(|| BucketStore::new(Arc::new(InMemory::new()), "", config.clone())).await;
}
