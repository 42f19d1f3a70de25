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

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
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

/// The name of an upload's data file.
pub(crate) fn data_name(id: UploadId) -> String {
    id.to_string()
}

/// The name of an upload's record.
pub(crate) fn record_name(id: UploadId) -> String {
    format!("{id}.meta")
}

/// One of the store's directories: its paths, a handle on it, and its shared syncs.
#[derive(Debug)]
pub(crate) struct Dir {
    path: PathBuf,
    /// `O_PATH` handle for lookups relative to the directory (one path component to walk instead of all of
    /// `path`'s). Only cache-only reads use it; if the directory were renamed away while the store runs they
    /// would find the old one's entries missing and fall back to the path-based calls.
    handle: OwnedFd,
    syncs: DirSync,
}

impl Dir {
    /// Opens the handle on an existing directory.
    pub(crate) fn open(path: PathBuf) -> Result<Dir, StorageError> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let handle = rustix::fs::open(&path, flags, Mode::empty())
            .map_err(|e| StorageError::io("open directory", &path, e.into()))?;
        Ok(Dir { path, handle, syncs: DirSync::default() })
    }
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
    pub(crate) fn handle(&self) -> BorrowedFd<'_> {
        self.handle.as_fd()
    }
    /// Makes every entry change made in this directory so far durable (one `fsync`, shared with concurrent
    /// callers: see [`DirSync`]).
    pub(crate) fn sync(&self) -> Result<(), StorageError> {
        self.syncs.sync(&self.path).map_err(|e| StorageError::io("fsync directory", &self.path, e))
    }
    pub(crate) fn data(&self, id: UploadId) -> PathBuf {
        self.path.join(data_name(id))
    }
    pub(crate) fn record(&self, id: UploadId) -> PathBuf {
        self.path.join(record_name(id))
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
        let root = tempfile::tempdir().unwrap();
        let d = Dir::open(root.path().to_owned()).unwrap();
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
