//! What the store remembers of uploads that ended: `<upload dir>/.ended/<id>`, a one-line file saying
//! `finished <length>` (a worker claimed it; a final upload adds ` final <part id> ...`, so that it is still
//! answered as the final it was) or `deleted` (terminated). HEAD then answers a claimed upload as
//! finished, so a client resuming it is told it is done instead of sending it again, and a deleted one as 410.
//!
//! A memory, not a promise: written without fsync (a crash forgets it, and the answer falls back to 404), removed
//! by the janitor after `ended_upload_age`. It lives in a directory of its own, which the original Python tussi
//! never looks into (it reads `*.meta` in the upload directory and files in the completed one).

use std::path::Path;
use std::time::{Duration, SystemTime};

use tus_proto::{Concat, UploadId, UploadState};

/// The directory's name under the upload directory.
pub(crate) const DIR_NAME: &str = ".ended";

/// How an upload ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Finished with this length (a final upload: of these parts), then claimed.
    Finished(u64, Vec<UploadId>),
    /// Terminated.
    Deleted,
}

impl Ended {
    /// A claimed upload of `length`, with `concat` (its record's).
    pub(crate) fn finished(length: u64, concat: Option<&Concat>) -> Self {
        match concat {
            Some(Concat::Final(parts)) => Ended::Finished(length, parts.clone()),
            _ => Ended::Finished(length, Vec::new()),
        }
    }
}

/// The state of a claimed upload of `length` (a final upload: of `parts`).
pub(crate) fn done(id: UploadId, length: u64, parts: Vec<UploadId>) -> UploadState {
    let mut state = UploadState::done(id, length);
    if !parts.is_empty() {
        state.concat = Some(Concat::Final(parts));
    }
    state
}

/// Remembers that `id` ended. Best effort: a failure only means the store forgets sooner.
pub(crate) fn remember(dir: &Path, id: UploadId, ended: Ended) {
    let line = match ended {
        Ended::Finished(length, parts) if parts.is_empty() => format!("finished {length}\n"),
        Ended::Finished(length, parts) => {
            let parts: Vec<String> = parts.iter().map(UploadId::to_string).collect();
            format!("finished {length} final {}\n", parts.join(" "))
        }
        Ended::Deleted => "deleted\n".to_owned(),
    };
    let _ = std::fs::write(dir.join(id.to_string()), line);
}

/// How `id` ended, if the store remembers it.
pub(crate) fn recall(dir: &Path, id: UploadId) -> Option<Ended> {
    let text = std::fs::read_to_string(dir.join(id.to_string())).ok()?;
    let mut words = text.split_whitespace();
    match (words.next()?, words.next()) {
        ("finished", Some(length)) => {
            let length = length.parse().ok()?;
            let parts = match words.next() {
                None => Vec::new(),
                Some("final") => words.map(|id| id.parse().ok()).collect::<Option<_>>()?,
                Some(_) => return None,
            };
            Some(Ended::Finished(length, parts))
        }
        ("deleted", None) => Some(Ended::Deleted),
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
