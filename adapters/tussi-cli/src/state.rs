//! The uploader's progress file: the upload URL, tied to the endpoint it was created on and to the identity of the
//! data (for a file: absolute path, size and modification time), so that a rerun resumes only the same upload of
//! the same, unchanged file.
//!
//! The file is JSON, replaced whole (written beside, then renamed):
//! `{"version":1,"endpoint":"http://127.0.0.1:8080/files/","upload_url":"http://127.0.0.1:8080/files/<id>",
//! "name":"a.bin","identity":{"kind":"file","path":"/abs/a.bin","size":1048576,"mtime_secs":…,"mtime_nanos":…}}`.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The version of the progress-file format written by this crate.
pub const STATE_VERSION: u32 = 1;

/// What the uploaded data was, to recognise it again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Identity {
    /// A file on disk.
    File {
        /// Absolute path.
        path: PathBuf,
        /// Size in bytes.
        size: u64,
        /// Modification time: seconds since the Unix epoch.
        mtime_secs: i64,
        /// Modification time: nanoseconds within the second.
        mtime_nanos: i64,
    },
    /// Generated test data.
    Generated {
        /// Size in bytes.
        size: u64,
        /// Generator seed.
        seed: u64,
    },
}

impl Identity {
    /// The data's length in bytes.
    pub fn size(&self) -> u64 {
        match self {
            Identity::File { size, .. } | Identity::Generated { size, .. } => *size,
        }
    }
}

/// Why saved progress does not belong to the upload asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The upload was created on another endpoint.
    Endpoint {
        /// The endpoint in the progress file.
        saved: String,
    },
    /// The saved upload is of another file, or of generated data where a file is asked for (or the other way).
    OtherData,
    /// Same path, but the file changed since (size or modification time).
    Modified,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Endpoint { saved } => write!(f, "it was started on another server ({saved})"),
            Mismatch::OtherData => f.write_str("it is an upload of other data"),
            Mismatch::Modified => f.write_str("the file was modified since"),
        }
    }
}

/// The content of a progress file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressState {
    /// Format version ([`STATE_VERSION`]).
    pub version: u32,
    /// The creation URL the upload was created at (`--url`).
    pub endpoint: String,
    /// The upload's URL (the creation's `Location`, made absolute).
    pub upload_url: String,
    /// The `filename` sent (for messages).
    pub name: String,
    /// What is being uploaded.
    pub identity: Identity,
}

/// A progress file that exists but cannot be used.
#[derive(Debug)]
pub enum LoadError {
    /// It could not be read.
    Io(io::Error),
    /// It is not a progress file of this format (an older tool's plain URL, say); the text says why.
    Invalid(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io(e) => write!(f, "cannot read it: {e}"),
            LoadError::Invalid(why) => write!(f, "it is not a tussi-upload progress file ({why})"),
        }
    }
}

impl std::error::Error for LoadError {}

impl ProgressState {
    /// A new state for an upload of `identity` at `upload_url`, created on `endpoint`.
    pub fn new(endpoint: &str, upload_url: &str, name: &str, identity: Identity) -> Self {
        ProgressState {
            version: STATE_VERSION,
            endpoint: endpoint.to_owned(),
            upload_url: upload_url.to_owned(),
            name: name.to_owned(),
            identity,
        }
    }

    /// Reads the progress file at `path`: `Ok(None)` when there is none.
    pub fn load(path: &Path) -> Result<Option<ProgressState>, LoadError> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LoadError::Io(e)),
        };
        let state: ProgressState = serde_json::from_str(&text).map_err(|e| LoadError::Invalid(e.to_string()))?;
        if state.version != STATE_VERSION {
            return Err(LoadError::Invalid(format!("format version {}", state.version)));
        }
        Ok(Some(state))
    }

    /// Writes the state to `path`, replacing it whole (a temporary file beside it, then a rename).
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let json = serde_json::to_string_pretty(self).map_err(io::Error::other)?;
        fs::write(&tmp, json + "\n")?;
        fs::rename(&tmp, path)
    }

    /// Removes the progress file at `path`, if any.
    pub fn remove(path: &Path) -> io::Result<()> {
        match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Whether this state is an upload of `identity` on `endpoint`: the same endpoint and the same data — for a
    /// file the same absolute path, size and modification time; for generated data the same size and seed.
    pub fn belongs_to(&self, endpoint: &str, identity: &Identity) -> Result<(), Mismatch> {
        if self.endpoint != endpoint {
            return Err(Mismatch::Endpoint { saved: self.endpoint.clone() });
        }
        match (&self.identity, identity) {
            (saved, current) if saved == current => Ok(()),
            (Identity::File { path: saved, .. }, Identity::File { path: current, .. }) if saved == current => {
                Err(Mismatch::Modified)
            }
            _ => Err(Mismatch::OtherData),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENDPOINT: &str = "http://127.0.0.1:8080/files/";

    fn file(path: &str, size: u64, mtime_secs: i64) -> Identity {
        Identity::File { path: path.into(), size, mtime_secs, mtime_nanos: 5 }
    }

    fn state(identity: Identity) -> ProgressState {
        ProgressState::new(ENDPOINT, "http://127.0.0.1:8080/files/x", "a.bin", identity)
    }

    #[test]
    fn identity_check() {
        let saved = state(file("/data/a.bin", 100, 1_700_000_000));
        assert_eq!(saved.belongs_to(ENDPOINT, &file("/data/a.bin", 100, 1_700_000_000)), Ok(()));
        assert_eq!(saved.belongs_to(ENDPOINT, &file("/data/a.bin", 101, 1_700_000_000)), Err(Mismatch::Modified));
        assert_eq!(saved.belongs_to(ENDPOINT, &file("/data/a.bin", 100, 1_700_000_001)), Err(Mismatch::Modified));
        assert_eq!(saved.belongs_to(ENDPOINT, &file("/data/b.bin", 100, 1_700_000_000)), Err(Mismatch::OtherData));
        let generated = Identity::Generated { size: 100, seed: 7 };
        assert_eq!(saved.belongs_to(ENDPOINT, &generated), Err(Mismatch::OtherData));
        let elsewhere = "http://127.0.0.1:9090/files/";
        assert!(matches!(
            saved.belongs_to(elsewhere, &file("/data/a.bin", 100, 1_700_000_000)),
            Err(Mismatch::Endpoint { .. })
        ));
        let saved = state(generated.clone());
        assert_eq!(saved.belongs_to(ENDPOINT, &generated), Ok(()));
        assert_eq!(saved.belongs_to(ENDPOINT, &Identity::Generated { size: 100, seed: 8 }), Err(Mismatch::OtherData));
    }

    #[test]
    fn identity_of_a_real_file_changes_when_it_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bin");
        fs::write(&path, b"one").unwrap();
        let before = crate::source::Source::open_file(&path).unwrap().identity();
        let saved = state(before.clone());
        assert_eq!(saved.belongs_to(ENDPOINT, &before), Ok(()));
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&path, b"two").unwrap(); // same size, new mtime
        let after = crate::source::Source::open_file(&path).unwrap().identity();
        assert_eq!(saved.belongs_to(ENDPOINT, &after), Err(Mismatch::Modified));
    }

    #[test]
    fn save_load_remove() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("progress.txt");
        assert!(ProgressState::load(&path).unwrap().is_none());
        let saved = state(file("/data/a.bin", 100, 1));
        saved.save(&path).unwrap();
        assert_eq!(ProgressState::load(&path).unwrap(), Some(saved));
        ProgressState::remove(&path).unwrap();
        ProgressState::remove(&path).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn foreign_progress_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("progress.txt");
        // The original Python tool's format: the bare URL.
        fs::write(&path, "http://127.0.0.1:8080/files/abc").unwrap();
        assert!(matches!(ProgressState::load(&path), Err(LoadError::Invalid(_))));
        let mut other = serde_json::to_value(state(file("/a", 1, 1))).unwrap();
        other["version"] = 99.into();
        fs::write(&path, other.to_string()).unwrap();
        assert!(matches!(ProgressState::load(&path), Err(LoadError::Invalid(_))));
    }
}
