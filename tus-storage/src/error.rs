//! [`FileStoreError`]: what went wrong, during which operation, on which path, for which upload.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use tus_proto::{FailureKind, StoreFailure, UploadId};

/// Why an operation failed, beyond the [`FailureKind`] it maps to.
#[derive(Debug)]
#[non_exhaustive]
pub enum Cause {
    /// An operating-system error.
    Io(io::Error),
    /// Another holder kept the upload's lock past the release timeout.
    LockTimeout,
    /// [`FileStore::wait_for_file`](crate::FileStore::wait_for_file): no finished upload within the timeout.
    Timeout,
    /// A record that is not valid JSON of the expected shape.
    CorruptRecord(String),
    /// The upload was deleted (the store remembers it for a while).
    Deleted,
    /// A final upload names something that is not a finished partial upload: the text says what.
    InvalidConcat(String),
    /// The upload finished and a worker claimed it: it can no longer be changed or deleted.
    HandedOver,
    /// The caller broke a rule of the API (writing past the length, committing bytes never written, saving a
    /// claimed upload twice...). The text says which.
    Misuse(String),
}

/// A storage error: the operation, the path and upload involved, and the cause.
///
/// Converts into the protocol core's [`StoreFailure`] (see [`FileStoreError::kind`] for the mapping); the message
/// of that failure carries the operation, path and id for logs and never reaches clients.
#[derive(Debug)]
pub struct FileStoreError {
    op: &'static str,
    path: Option<PathBuf>,
    id: Option<UploadId>,
    cause: Cause,
}

impl FileStoreError {
    /// An error of operation `op` (a short verb phrase such as `"create upload"`).
    pub fn new(op: &'static str, cause: Cause) -> Self {
        FileStoreError { op, path: None, id: None, cause }
    }

    /// An I/O error of operation `op` on `path`.
    pub fn io(op: &'static str, path: &Path, err: io::Error) -> Self {
        FileStoreError::new(op, Cause::Io(err)).with_path(path)
    }

    /// An errno from a `nix` call of operation `op` on `path`.
    pub fn errno(op: &'static str, path: &Path, errno: Errno) -> Self {
        FileStoreError::io(op, path, io::Error::from(errno))
    }

    /// Adds the path involved.
    pub fn with_path(mut self, path: &Path) -> Self {
        self.path = Some(path.to_path_buf());
        self
    }

    /// Adds the upload involved.
    pub fn with_id(mut self, id: UploadId) -> Self {
        self.id = Some(id);
        self
    }

    /// The operation that failed.
    pub fn operation(&self) -> &'static str {
        self.op
    }

    /// The path involved, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The upload involved, if any.
    pub fn upload_id(&self) -> Option<UploadId> {
        self.id
    }

    /// The cause.
    pub fn cause(&self) -> &Cause {
        &self.cause
    }

    /// Whether this is the timeout of `wait_for_file`.
    pub fn is_timeout(&self) -> bool {
        matches!(self.cause, Cause::Timeout)
    }

    /// The failure kind the protocol core sees: `ENOENT` → `NotFound`; `ENOSPC`, `EDQUOT` → `NoSpace`; lock
    /// timeout → `Locked`; `wait_for_file` timeout → `Unavailable`; deleted → `Gone`; handed over → `Finished`;
    /// anything else → `Internal`.
    pub fn kind(&self) -> FailureKind {
        match &self.cause {
            Cause::Io(err) => match err.raw_os_error().map(Errno::from_raw) {
                Some(Errno::ENOENT) => FailureKind::NotFound,
                Some(Errno::ENOSPC | Errno::EDQUOT) => FailureKind::NoSpace,
                _ if err.kind() == io::ErrorKind::NotFound => FailureKind::NotFound,
                _ => FailureKind::Internal,
            },
            Cause::LockTimeout => FailureKind::Locked,
            Cause::Timeout => FailureKind::Unavailable,
            Cause::Deleted => FailureKind::Gone,
            Cause::InvalidConcat(_) => FailureKind::InvalidConcat,
            Cause::HandedOver => FailureKind::Finished,
            Cause::CorruptRecord(_) | Cause::Misuse(_) => FailureKind::Internal,
        }
    }

    /// The same error as a [`StoreFailure`] for the protocol core.
    pub fn to_failure(&self) -> StoreFailure {
        StoreFailure::new(self.kind(), self.to_string())
    }
}

impl fmt::Display for FileStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.op)?;
        if let Some(id) = self.id {
            write!(f, " [upload {id}]")?;
        }
        if let Some(path) = &self.path {
            write!(f, " [{}]", path.display())?;
        }
        match &self.cause {
            Cause::Io(err) => write!(f, ": {err}"),
            Cause::LockTimeout => f.write_str(": the lock holder did not let go in time"),
            Cause::Timeout => f.write_str(": no finished upload within the timeout"),
            Cause::CorruptRecord(why) => write!(f, ": corrupt record: {why}"),
            Cause::Misuse(why) => write!(f, ": {why}"),
            Cause::Deleted => f.write_str(": the upload was deleted"),
            Cause::InvalidConcat(why) => write!(f, ": {why}"),
            Cause::HandedOver => f.write_str(": the upload finished and was handed over to a worker"),
        }
    }
}

impl std::error::Error for FileStoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.cause {
            Cause::Io(err) => Some(err),
            _ => None,
        }
    }
}

/// A record that could not be read, as the error of reading it.
impl From<tus_store::RecordError> for FileStoreError {
    fn from(err: tus_store::RecordError) -> Self {
        match err {
            tus_store::RecordError::Io(io) => FileStoreError::new("read record", Cause::Io(io)),
            tus_store::RecordError::Corrupt(why) => FileStoreError::new("read record", Cause::CorruptRecord(why)),
            other => FileStoreError::new("read record", Cause::CorruptRecord(other.to_string())),
        }
    }
}

impl From<FileStoreError> for StoreFailure {
    fn from(err: FileStoreError) -> Self {
        err.to_failure()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_mapping() {
        let p = Path::new("/x");
        let kind = |e: Errno| FileStoreError::errno("op", p, e).kind();
        assert_eq!(kind(Errno::ENOENT), FailureKind::NotFound);
        assert_eq!(kind(Errno::ENOSPC), FailureKind::NoSpace);
        assert_eq!(kind(Errno::EDQUOT), FailureKind::NoSpace);
        assert_eq!(kind(Errno::EIO), FailureKind::Internal);
        assert_eq!(FileStoreError::new("op", Cause::LockTimeout).kind(), FailureKind::Locked);
    }

    #[test]
    fn message_names_operation_path_and_id() {
        let id: UploadId = "00000000-0000-4000-8000-00000000002a".parse().unwrap();
        let err = FileStoreError::errno("write data", Path::new("/up/x"), Errno::EIO).with_id(id);
        let failure: StoreFailure = err.into();
        assert_eq!(failure.kind(), FailureKind::Internal);
        assert!(failure.message().starts_with("write data [upload 00000000-0000-4000-8000-00000000002a] [/up/x]: "));
    }
}
