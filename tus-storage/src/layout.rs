//! File names in the two directories.
//!
//! ```text
//! <upload dir>/<id>             data, pre-allocated to the declared length
//! <upload dir>/<id>.meta        record (committed offset)
//! <upload dir>/<id>.meta.tmp    record being replaced (renamed over <id>.meta; a new record is written in place)
//! <upload dir>/<id>.release     lock-release request from a waiting request (any process)
//! <completed dir>/<id>          finished data (renamed from the upload dir)
//! <completed dir>/<id>.meta     finished record, written before the data is renamed
//! <completed dir>/<id>.tmp.meta finished record being written by earlier builds (now written in place)
//! ```
//! The temporary name differs between the directories on purpose: the original's `wait_for_file` treats every
//! completed file not ending in `.meta` as data to claim (and deletes it when it has no record), and its storage
//! treats every staging file ending in `.meta` as a record (and deletes it when it has no data).

use std::path::{Path, PathBuf};

use tus_proto::UploadId;

use crate::dirsync::DirSync;
use crate::error::StorageError;

/// What a directory entry is, by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    Data(UploadId),
    Record(UploadId),
    StagingTemp(UploadId),
    CompletedTemp(UploadId),
    Release(UploadId),
}

impl Entry {
    pub(crate) fn parse(name: &str) -> Option<Entry> {
        let (stem, kind): (&str, fn(UploadId) -> Entry) = if let Some(s) = name.strip_suffix(".meta.tmp") {
            (s, Entry::StagingTemp)
        } else if let Some(s) = name.strip_suffix(".tmp.meta") {
            (s, Entry::CompletedTemp)
        } else if let Some(s) = name.strip_suffix(".meta") {
            (s, Entry::Record)
        } else if let Some(s) = name.strip_suffix(".release") {
            (s, Entry::Release)
        } else {
            (name, Entry::Data)
        };
        stem.parse().ok().map(kind)
    }
}

/// The paths of one directory, and its shared syncs.
#[derive(Debug)]
pub(crate) struct Dir {
    path: PathBuf,
    syncs: DirSync,
}

impl Dir {
    pub(crate) fn new(path: PathBuf) -> Dir {
        Dir { path, syncs: DirSync::default() }
    }
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
    /// Makes every entry change made in this directory so far durable (one `fsync`, shared with concurrent
    /// callers: see [`DirSync`]).
    pub(crate) fn sync(&self) -> Result<(), StorageError> {
        self.syncs.sync(&self.path).map_err(|e| StorageError::io("fsync directory", &self.path, e))
    }
    pub(crate) fn data(&self, id: UploadId) -> PathBuf {
        self.path.join(id.to_string())
    }
    pub(crate) fn record(&self, id: UploadId) -> PathBuf {
        self.path.join(format!("{id}.meta"))
    }
    pub(crate) fn staging_temp(&self, id: UploadId) -> PathBuf {
        self.path.join(format!("{id}.meta.tmp"))
    }
    pub(crate) fn completed_temp(&self, id: UploadId) -> PathBuf {
        self.path.join(format!("{id}.tmp.meta"))
    }
    pub(crate) fn release(&self, id: UploadId) -> PathBuf {
        self.path.join(format!("{id}.release"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let id: UploadId = "00000000-0000-4000-8000-00000000002a".parse().unwrap();
        let d = Dir::new(PathBuf::from("/d"));
        for (path, entry) in [
            (d.data(id), Entry::Data(id)),
            (d.record(id), Entry::Record(id)),
            (d.staging_temp(id), Entry::StagingTemp(id)),
            (d.completed_temp(id), Entry::CompletedTemp(id)),
            (d.release(id), Entry::Release(id)),
        ] {
            let name = path.file_name().unwrap().to_str().unwrap();
            assert_eq!(Entry::parse(name), Some(entry), "{name}");
        }
        for other in ["tmpabc.meta", "x", "00000000-0000-4000-8000-00000000002A", ".meta", "a.b.meta"] {
            assert_eq!(Entry::parse(other), None, "{other}");
        }
    }
}
