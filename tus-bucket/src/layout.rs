//! Where each object of an upload lives in the bucket.
//!
//! Every object of one upload sits under `<prefix>/<id>/`, so that removing an upload is one listing and its
//! deletes, and an instance never has to know every name another one may have written:
//!
//! | object | what it holds |
//! |---|---|
//! | `<id>/info` | the record and the multipart state ([`Info`](crate::info::Info)), JSON |
//! | `<id>/lock` | the lease of the instance that holds the upload ([`lease`](crate::lease)) |
//! | `<id>/tail-<n>-<random>` | committed bytes after the first `n` parts, fewer than a part |
//! | `<id>/data` | the finished upload: the completed multipart upload, or one plain object |
//! | `<id>/claim` | the lease of the worker that claimed the finished upload |
//! | `<id>/waiting/<final>` | a final upload waiting for this partial upload to complete |
//!
//! Beside them, two indexes that workers and HEADs read without knowing the ids:
//! `finished/<finished_at µs>_<id>` marks a finished upload that no worker claimed yet (listed in name order, which
//! is the order uploads finished in), and `ended/<id>` remembers an upload that ended (claimed or deleted).

use std::time::{SystemTime, UNIX_EPOCH};

use object_store::path::Path;
use tus_proto::UploadId;

/// The object names of one bucket prefix.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    prefix: Path,
}

const FINISHED: &str = "finished";
const ENDED: &str = "ended";
const WAITING: &str = "waiting";

impl Layout {
    pub(crate) fn new(prefix: Path) -> Self {
        Layout { prefix }
    }

    /// The prefix everything lives under.
    pub(crate) fn upload_root(&self) -> Path {
        self.prefix.clone()
    }

    /// The folder of every object of upload `id`.
    pub(crate) fn upload(&self, id: UploadId) -> Path {
        self.prefix.clone().join(id.to_string())
    }

    pub(crate) fn info(&self, id: UploadId) -> Path {
        self.upload(id).clone().join("info")
    }

    pub(crate) fn lock(&self, id: UploadId) -> Path {
        self.upload(id).clone().join("lock")
    }

    pub(crate) fn claim(&self, id: UploadId) -> Path {
        self.upload(id).clone().join("claim")
    }

    pub(crate) fn data(&self, id: UploadId) -> Path {
        self.upload(id).clone().join("data")
    }

    /// A tail object, by the name its info gives it.
    pub(crate) fn tail(&self, id: UploadId, name: &str) -> Path {
        self.upload(id).clone().join(name)
    }

    pub(crate) fn waiting_dir(&self, part: UploadId) -> Path {
        self.upload(part).clone().join(WAITING)
    }

    pub(crate) fn waiting(&self, part: UploadId, final_id: UploadId) -> Path {
        self.waiting_dir(part).clone().join(final_id.to_string())
    }

    pub(crate) fn finished_dir(&self) -> Path {
        self.prefix.clone().join(FINISHED)
    }

    /// The marker of a finished upload: its name sorts by finishing time.
    pub(crate) fn finished(&self, id: UploadId, finished_at: SystemTime) -> Path {
        let micros = finished_at.duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0);
        self.finished_dir().clone().join(format!("{micros:020}_{id}"))
    }

    pub(crate) fn ended_dir(&self) -> Path {
        self.prefix.clone().join(ENDED)
    }

    pub(crate) fn ended(&self, id: UploadId) -> Path {
        self.ended_dir().clone().join(id.to_string())
    }

    /// The id a finished marker names.
    pub(crate) fn finished_id(location: &Path) -> Option<UploadId> {
        location.filename()?.split_once('_')?.1.parse().ok()
    }

    /// The upload whose folder `location` is in (`<prefix>/<id>/...`), with the rest of the name; `None` for the
    /// indexes and anything else.
    pub(crate) fn split(&self, location: &Path) -> Option<(UploadId, Vec<String>)> {
        let mut rest = location.prefix_match(&self.prefix)?;
        let id = rest.next()?.as_ref().parse().ok()?;
        Some((id, rest.map(|part| part.as_ref().to_owned()).collect()))
    }

    /// The id an `ended/<id>` tombstone names.
    pub(crate) fn ended_id(&self, location: &Path) -> Option<UploadId> {
        let mut rest = location.prefix_match(&self.ended_dir())?;
        rest.next()?.as_ref().parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        let layout = Layout::new(Path::from("uploads/tus"));
        let id: UploadId = "0b5c1a2e-3f4d-4e6a-8b7c-9d0e1f2a3b4c".parse().unwrap();
        assert_eq!(layout.info(id).as_ref(), "uploads/tus/0b5c1a2e-3f4d-4e6a-8b7c-9d0e1f2a3b4c/info");
        let tail = layout.tail(id, "tail-3-x");
        let (got, rest) = layout.split(&tail).unwrap();
        assert_eq!((got, rest), (id, vec!["tail-3-x".to_owned()]));
        assert!(layout.split(&layout.ended(id)).is_none(), "the indexes are no upload's folder");
        assert_eq!(layout.ended_id(&layout.ended(id)), Some(id));
        let early = layout.finished(id, UNIX_EPOCH + std::time::Duration::from_micros(999));
        let late = layout.finished(id, UNIX_EPOCH + std::time::Duration::from_secs(2));
        assert!(early.as_ref() < late.as_ref(), "markers sort by finishing time");
        assert_eq!(Layout::finished_id(&late), Some(id));
    }
}
