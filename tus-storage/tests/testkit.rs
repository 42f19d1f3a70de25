//! The filesystem store keeps the storage contract: the backend test kit, run against it with fsync on (file by
//! file, and through syncfs) and off.

use std::time::Duration;

use tempfile::TempDir;
use tus_storage::{AsyncFileStore, BlockingPool, FileStore, StoreConfig};

/// Stores in fresh directories under one temporary root, each with a short release timeout.
fn stores(fsync: bool, syncfs: bool) -> (TempDir, impl FnMut() -> AsyncFileStore<BlockingPool>) {
    let root = tempfile::tempdir().expect("temporary directory");
    let base = root.path().to_path_buf();
    let mut made = 0;
    let new_store = move || {
        made += 1;
        let dir = base.join(format!("store-{made}"));
        let mut config = StoreConfig::new(dir.join("uploads"), dir.join("completed"));
        config.fsync = fsync;
        config.syncfs = syncfs;
        config.release_timeout = Duration::from_millis(500);
        AsyncFileStore::new(FileStore::new(config).expect("open the store"), BlockingPool)
    };
    (root, new_store)
}

#[test]
fn the_file_store_passes_the_backend_test_kit_with_fsync() {
    let (_root, new_store) = stores(true, false);
    futures_lite::future::block_on(tus_store::testkit::run(new_store));
}

#[test]
fn the_file_store_passes_the_backend_test_kit_without_fsync() {
    let (_root, new_store) = stores(false, false);
    futures_lite::future::block_on(tus_store::testkit::run(new_store));
}

#[test]
fn the_file_store_passes_the_backend_test_kit_with_syncfs() {
    let (_root, new_store) = stores(true, true);
    futures_lite::future::block_on(tus_store::testkit::run(new_store));
}
