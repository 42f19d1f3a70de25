//! Uploads that declare much and send nothing cannot take the disk: the data file is reserved a stretch at a time
//! ([`RESERVE_AHEAD`]) as bytes arrive, while the whole declared length must fit at creation (the early 507).

mod common;

use std::os::unix::fs::MetadataExt as _;
use std::time::SystemTime;

use common::Dirs;
use tus_proto::{FailureKind, Metadata};
use tus_storage::RESERVE_AHEAD;

/// Free bytes of the filesystem under `path`, for an unprivileged writer.
fn free_space(path: &std::path::Path) -> u64 {
    let stat = nix::sys::statvfs::statvfs(path).expect("statvfs");
    stat.blocks_available() as u64 * stat.fragment_size() as u64
}

/// Bytes the filesystem allocated to a file.
fn allocated(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).expect("data file").blocks() * 512
}

#[test]
fn declaring_more_than_the_disk_holds_leaves_it_usable() {
    let dirs = Dirs::new();
    let store = dirs.store();
    let free = free_space(&dirs.uploads());
    // Three uploads that each fit alone, 1.8 disks together, sending nothing: all are accepted, and each holds at
    // most one stretch of the disk.
    let declared = free / 10 * 6;
    let mut idle = Vec::new();
    for _ in 0..3 {
        let (writer, id) = store
            .create_with(Some(declared), Metadata::new(), Metadata::new(), SystemTime::now())
            .unwrap_or_else(|e| panic!("an idle upload of {declared} bytes: {e}"));
        let held = allocated(&dirs.uploads().join(id.to_string()));
        assert!(held <= RESERVE_AHEAD + 4096, "an idle upload holds {held} bytes of disk");
        idle.push(writer);
    }
    // The early 507 stays: one upload larger than the free space is refused at once.
    let refused = store.create_with(Some(free * 2), Metadata::new(), Metadata::new(), SystemTime::now());
    assert_eq!(refused.map(|_| ()).unwrap_err().kind(), FailureKind::NoSpace);

    // A real upload still goes through, reserving ahead as its bytes arrive.
    let length = 3 * RESERVE_AHEAD / 2;
    let (mut writer, id) =
        store.create_with(Some(length), Metadata::new(), Metadata::new(), SystemTime::now()).expect("create");
    let chunk = vec![7u8; 1 << 20];
    let mut at = 0;
    while at < length {
        let n = (length - at).min(chunk.len() as u64);
        writer.write_at(at, &chunk[..n as usize]).expect("write");
        at += n;
    }
    assert!(writer.commit(length, true).expect("commit").finished);
    let data = dirs.completed().join(id.to_string());
    assert_eq!(std::fs::metadata(&data).expect("finished data").len(), length);
    drop(idle);
}
