//! File names in the two directories.
//!
//! The layout itself, entry by entry, is the table in the crate docs (`lib.rs`, "Layout"): [`Entry`] names each
//! kind of file in it.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};
use tus_proto::UploadId;

use crate::error::FileStoreError;
use crate::group::SyncGroup;

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

    /// The file name: the inverse of [`parse`](Self::parse).
    pub(crate) fn name(self) -> String {
        match self {
            Entry::Data(id) => id.to_string(),
            Entry::Record(id) => format!("{id}.meta"),
            Entry::StagingTemp(id) => format!("{id}.meta.tmp"),
            Entry::CompletedTemp(id) => format!("{id}.tmp.meta"),
            Entry::Release(id) => format!("{id}.release"),
        }
    }
}

/// One of the store's directories: its path, a handle on it, and its shared syncs.
///
/// Every file operation of the store names its file relative to the handle (see [`At`]), so the kernel walks one
/// path component instead of all of `path`'s. The path serves messages and the directory scans of the janitor
/// and the hand-off; the two agree as long as nobody renames or replaces the directory under a running store.
#[derive(Debug)]
pub(crate) struct Dir {
    path: PathBuf,
    /// `O_PATH` handle: usable as the directory of `*at` system calls, grants nothing else.
    handle: OwnedFd,
    syncs: SyncGroup,
}

impl Dir {
    /// Opens the handle on an existing directory.
    pub(crate) fn open(path: PathBuf) -> Result<Dir, FileStoreError> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let handle = rustix::fs::open(&path, flags, Mode::empty())
            .map_err(|e| FileStoreError::io("open directory", &path, e.into()))?;
        Ok(Dir { path, handle, syncs: SyncGroup::default() })
    }
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
    pub(crate) fn handle(&self) -> BorrowedFd<'_> {
        self.handle.as_fd()
    }
    /// Makes every entry change made in this directory so far durable (one `fsync`, shared with concurrent
    /// callers: see [`SyncGroup`]).
    pub(crate) fn sync(&self) -> Result<(), FileStoreError> {
        self.syncs
            .sync(|| std::fs::File::open(&self.path)?.sync_all())
            .map_err(|e| FileStoreError::io("fsync directory", &self.path, e))
    }
    /// The entry `entry` of this directory, for operations on it.
    pub(crate) fn at(&self, entry: Entry) -> At<'_> {
        At { dir: self, name: entry.name() }
    }
    pub(crate) fn data(&self, id: UploadId) -> PathBuf {
        self.at(Entry::Data(id)).path()
    }
    pub(crate) fn record(&self, id: UploadId) -> PathBuf {
        self.at(Entry::Record(id)).path()
    }
    pub(crate) fn staging_temp(&self, id: UploadId) -> PathBuf {
        self.at(Entry::StagingTemp(id)).path()
    }
    pub(crate) fn completed_temp(&self, id: UploadId) -> PathBuf {
        self.at(Entry::CompletedTemp(id)).path()
    }
    pub(crate) fn release(&self, id: UploadId) -> PathBuf {
        self.at(Entry::Release(id)).path()
    }
}

/// How [`At::open`] opens a file.
#[derive(Clone, Copy, Debug)]
pub(crate) enum OpenMode {
    Read,
    ReadWrite,
    /// Read and write a file that must not exist yet.
    CreateNew,
    /// Write a file created, or emptied when it exists.
    CreateTruncate,
    /// Write a file created when missing, left as it is otherwise.
    Create,
}

/// A name in a [`Dir`]: system calls on it walk one path component, from the directory's handle.
#[derive(Debug)]
pub(crate) struct At<'d> {
    dir: &'d Dir,
    name: String,
}

impl At<'_> {
    /// The full path, for messages and path-based callers.
    pub(crate) fn path(&self) -> PathBuf {
        self.dir.path.join(&self.name)
    }

    pub(crate) fn open(&self, mode: OpenMode) -> io::Result<File> {
        let flags = match mode {
            OpenMode::Read => OFlags::RDONLY,
            OpenMode::ReadWrite => OFlags::RDWR,
            OpenMode::CreateNew => OFlags::RDWR | OFlags::CREATE | OFlags::EXCL,
            OpenMode::CreateTruncate => OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC,
            OpenMode::Create => OFlags::WRONLY | OFlags::CREATE,
        };
        let fd = rustix::fs::openat(self.dir.handle(), &*self.name, flags | OFlags::CLOEXEC, Mode::from(0o666))?;
        Ok(File::from(fd))
    }

    /// The entry's own status (a symbolic link is not followed).
    pub(crate) fn stat(&self) -> io::Result<rustix::fs::Stat> {
        Ok(rustix::fs::statat(self.dir.handle(), &*self.name, AtFlags::SYMLINK_NOFOLLOW)?)
    }

    pub(crate) fn exists(&self) -> bool {
        self.stat().is_ok()
    }

    /// Removes the entry; a missing one is not an error. Returns whether it existed.
    pub(crate) fn remove(&self) -> io::Result<bool> {
        match rustix::fs::unlinkat(self.dir.handle(), &*self.name, AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::NOENT) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the entry only when it is there: a lookup (which takes no directory lock) instead of an `unlink`
    /// that locks the directory even to find nothing. For files that are almost always absent (release markers).
    pub(crate) fn remove_if_present(&self) {
        if self.exists() {
            let _ = self.remove();
        }
    }

    /// Renames the entry to `to` (in this or another directory of the same filesystem), replacing it.
    pub(crate) fn rename_to(&self, to: &At<'_>) -> io::Result<()> {
        Ok(rustix::fs::renameat(self.dir.handle(), &*self.name, to.dir.handle(), &*to.name)?)
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
