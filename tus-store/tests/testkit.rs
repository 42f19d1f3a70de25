//! The memory store keeps the contract: the backend test kit, run against it.

use std::time::Duration;

use tus_store::MemoryStore;

#[test]
fn the_memory_store_passes_the_backend_test_kit() {
    futures_lite::future::block_on(tus_store::testkit::run(|| {
        MemoryStore::new().release_timeout(Duration::from_millis(500))
    }));
}
