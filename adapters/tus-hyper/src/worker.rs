//! The file worker as a task: the original tussi's "lifespan" pattern (claim each finished upload, save it under
//! its client-given name) as one call, on any runtime.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tus_store::naming::{find_published, publish, sanitize_filename};
use tus_store::{Claim, Store};

use crate::{Runtime, TusApp};

/// The staging directory inside the destination (same filesystem: publishing is a link, not a copy).
const PARTIAL_DIR: &str = ".tussi-partial";
/// How long one claim waits for an upload to finish before it is renewed (and `stop` looked at).
const CLAIM_WAIT: Duration = Duration::from_secs(5);

/// Claims finished uploads of `app`'s store and delivers each into `dest` under its sanitised `filename` metadata
/// (or its id), with its record beside it as `<name>.meta`, numbered on collisions and never overwriting
/// ([`tus_store::naming`]), until `stop` completes. Saving runs where the store puts it (the file store: on its
/// pool) and publishing on the `blocking` pool: never on the async thread. A delivery that fails leaves the files
/// in `<dest>/.tussi-partial/` (logged), never lost. Several workers may run at once: each upload is claimed once.
///
/// A worker killed while delivering leaves its claim to run out; the worker that claims the upload next, if it
/// delivers into the same `dest`, finds what was already published there and only ends the claim: delivered once,
/// not twice. (The bucket store gives such a claim back to a worker of the same name first; see
/// `tus_bucket::BucketConfig::worker_name`.)
pub async fn deliver_finished<S: Store>(
    app: Arc<TusApp<S>>,
    runtime: Runtime,
    dest: PathBuf,
    stop: impl Future<Output = ()>,
) {
    let partial = dest.join(PARTIAL_DIR);
    let mut stop = std::pin::pin!(stop);
    loop {
        // `stop` is polled first: a store that fails at once (unreachable) must not keep the worker from stopping.
        let next = futures_lite::future::or(
            async {
                stop.as_mut().await;
                None
            },
            async { Some(app.store.claim(CLAIM_WAIT).await) },
        );
        match next.await {
            None => return,
            Some(Ok(None)) => {}
            Some(Ok(Some(claim))) => {
                let id = claim.id();
                match deliver(claim, &dest, &partial).await {
                    Ok(path) => tracing::info!(upload = %id, "saved {}", path.display()),
                    Err(error) => tracing::error!(upload = %id, "saving failed: {error}"),
                }
            }
            Some(Err(failure)) => {
                tracing::error!(cause = %failure, "claiming a finished upload failed");
                let stopped = futures_lite::future::or(
                    async {
                        stop.as_mut().await;
                        true
                    },
                    async {
                        runtime.sleep(Duration::from_secs(1)).await;
                        false
                    },
                );
                if stopped.await {
                    return;
                }
            }
        }
    }
}

/// Saves one claim into the staging directory, publishes it under its name, ends the claim, then removes the
/// staged names. Until the claim ends they are kept as second names of the published files: a worker killed in
/// between is handed the upload again (its store gives the claim back to a worker of the same dest dir, see
/// `tus_bucket::BucketConfig::worker_name`) and finds that publication instead of delivering the upload twice.
async fn deliver<C: Claim>(mut claim: C, dest: &Path, partial: &Path) -> Result<PathBuf, String> {
    let id = claim.id().to_string();
    let name = sanitize_filename(claim.record().metadata.get("filename"), &id);
    let staged = Staged { data: partial.join(&id), record: partial.join(format!("{id}.meta")) };
    let (dir, part, at) = (dest.to_owned(), partial.to_owned(), staged.clone());
    let earlier = blocking::unblock(move || {
        std::fs::create_dir_all(&part)?;
        let found = find_published(&dir, &name, &at.data, &at.record)?;
        if found.is_none() {
            // What a half-finished save left is unlinked, never overwritten: a staged name may still be a second
            // name of a file published earlier.
            at.remove()?;
        }
        Ok::<_, std::io::Error>((found, name))
    })
    .await;
    let (earlier, name) = earlier.map_err(|e| e.to_string())?;
    let placed = match earlier {
        Some(placed) => {
            tracing::info!(upload = %id, "delivered as {} before a restart: ending the claim", placed.display());
            placed
        }
        None => {
            claim.save(staged.data.clone()).await.map_err(|e| e.to_string())?;
            claim.save_record(staged.record.clone()).await.map_err(|e| e.to_string())?;
            let (dir, at) = (dest.to_owned(), staged.clone());
            let placed = blocking::unblock(move || publish(&dir, &name, &at.data, &at.record)).await;
            placed.map_err(|e| format!("{e} (the upload is kept in {})", partial.display()))?
        }
    };
    claim.finish().await.map_err(|e| e.to_string())?;
    if let Err(error) = blocking::unblock(move || staged.remove()).await {
        tracing::warn!(upload = %id, "removing the staged names of {}: {error}", placed.display());
    }
    Ok(placed)
}

/// The staging names of one upload's data and record.
#[derive(Clone)]
struct Staged {
    data: PathBuf,
    record: PathBuf,
}

impl Staged {
    fn remove(&self) -> std::io::Result<()> {
        for path in [&self.data, &self.record] {
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}
