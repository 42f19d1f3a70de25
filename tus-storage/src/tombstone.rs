//! What the store remembers of uploads that ended: `<upload dir>/.ended/<id>`, a one-line file saying
//! `finished <length>` (a worker claimed it) or `deleted` (terminated). HEAD then answers a claimed upload as
//! finished, so a client resuming it is told it is done instead of sending it again, and a deleted one as 410.
//!
//! A memory, not a promise: written without fsync (a crash forgets it, and the answer falls back to 404), removed
//! by the janitor after `ended_upload_age`. It lives in a directory of its own, which the original Python tussi
//! never looks into (it reads `*.meta` in the upload directory and files in the completed one).

use std::path::Path;
use std::time::{Duration, SystemTime};

use tus_proto::UploadId;

/// The directory's name under the upload directory.
pub(crate) const DIR_NAME: &str = ".ended";

/// How an upload ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Finished with this length, then claimed.
    Finished(u64),
    /// Terminated.
    Deleted,
}

/// Remembers that `id` ended. Best effort: a failure only means the store forgets sooner.
pub(crate) fn remember(dir: &Path, id: UploadId, ended: Ended) {
    let line = match ended {
        Ended::Finished(length) => format!("finished {length}\n"),
        Ended::Deleted => "deleted\n".to_owned(),
    };
    let _ = std::fs::write(dir.join(id.to_string()), line);
}

/// How `id` ended, if the store remembers it.
pub(crate) fn recall(dir: &Path, id: UploadId) -> Option<Ended> {
    let text = std::fs::read_to_string(dir.join(id.to_string())).ok()?;
    match text.trim_end().split_once(' ') {
        Some(("finished", length)) => length.parse().ok().map(Ended::Finished),
        None if text.trim_end() == "deleted" => Some(Ended::Deleted),
        _ => None,
    }
}

/// Forgets what ended more than `age` before `now`; returns how many.
pub(crate) fn forget_older(dir: &Path, age: Duration, now: SystemTime) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut forgotten = 0;
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|modified| now.duration_since(modified).is_ok_and(|d| d > age));
        let named_by_id = entry.file_name().to_str().is_some_and(|n| n.parse::<UploadId>().is_ok());
        if old && named_by_id && std::fs::remove_file(entry.path()).is_ok() {
            forgotten += 1;
        }
    }
    forgotten
}
