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
