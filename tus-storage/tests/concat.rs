//! Concatenation in the file store: what stays of the parts after assembly, as configured.

mod common;

use std::time::SystemTime;

use common::Dirs;
use tus_proto::{Concat, Metadata, NewUpload};
use tus_storage::FileStore;

fn partial(store: &FileStore, data: &[u8]) -> tus_proto::UploadId {
    let new = NewUpload::new(Some(data.len() as u64), Metadata::new(), SystemTime::now()).with_concat(Concat::Partial);
    let (mut writer, id) = store.create(&new).expect("create a partial");
    writer.write_at(0, data).expect("write");
    assert!(writer.commit(data.len() as u64, true).expect("commit").finished);
    id
}

#[test]
fn assembled_parts_are_removed_or_kept_as_configured() {
    for remove in [true, false] {
        let dirs = Dirs::new();
        let mut config = dirs.config();
        config.remove_assembled_parts = remove;
        let store = FileStore::new(config).expect("store");
        let parts = vec![partial(&store, b"ab"), partial(&store, b"cd")];
        let new = NewUpload::new(None, Metadata::new(), SystemTime::now()).with_concat(Concat::Final(parts.clone()));
        let (mut last, _) = store.create(&new).expect("create the final");
        assert_eq!(last.assemble().expect("assemble").offset, 4);
        for part in parts {
            assert_eq!(store.stat(part).is_ok(), !remove, "remove_assembled_parts = {remove}");
        }
    }
}

#[test]
fn a_final_waiting_in_one_store_is_assembled_by_a_part_completed_in_another() {
    // Two stores on the same directories share nothing in memory: what one does reaches the other only through
    // the files, as between two processes.
    let dirs = Dirs::new();
    let (here, there) = (FileStore::new(dirs.config()).expect("store"), FileStore::new(dirs.config()).expect("store"));
    let done = partial(&here, b"ab");
    let new = NewUpload::new(Some(2), Metadata::new(), SystemTime::now()).with_concat(Concat::Partial);
    let (mut late, late_id) = there.create(&new).expect("create the last partial elsewhere");
    let new = NewUpload::new(None, Metadata::new(), SystemTime::now()).with_concat(Concat::Final(vec![done, late_id]));
    let (mut last, id) = here.create(&new).expect("create the final");
    assert!(!last.assemble().expect("assemble, waiting").finished, "a part is still uploading");
    drop(last);
    late.write_at(0, b"cd").expect("write");
    assert!(late.commit(2, true).expect("the last part's commit").finished);
    drop(late);
    let state = here.stat(id).expect("stat");
    assert!(state.finished && state.offset == 4, "assembled by the other store's commit: {state:?}");
    let mut claim = here.wait_for_file(std::time::Duration::from_secs(1)).expect("claim the final");
    assert_eq!(claim.id(), id);
    let out = dirs.root.path().join("final");
    claim.save(&out).expect("save");
    assert_eq!(std::fs::read(out).expect("read"), b"abcd");
}
