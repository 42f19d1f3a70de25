//! The file worker as a task: the original tussi's "lifespan" pattern (claim each finished upload, save it under
//! its client-given name) as one call, on any runtime.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tus_store::naming::{place_no_clobber, sanitize_filename};
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
pub async fn deliver_finished<S: Store>(
    app: Arc<TusApp<S>>,
    runtime: Runtime,
    dest: PathBuf,
    stop: impl Future<Output = ()>,
) {
    let partial = dest.join(PARTIAL_DIR);
    let mut stop = std::pin::pin!(stop);
    loop {
        let next = futures_lite::future::or(async { Some(app.store.claim(CLAIM_WAIT).await) }, async {
            stop.as_mut().await;
            None
        });
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
                runtime.sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Saves one claim into the staging directory, publishes it under its name, then ends the claim.
async fn deliver<C: Claim>(mut claim: C, dest: &Path, partial: &Path) -> Result<PathBuf, String> {
    let id = claim.id().to_string();
    let name = sanitize_filename(claim.record().metadata.get("filename"), &id);
    let (data, record) = (partial.join(&id), partial.join(format!("{id}.meta")));
    let created = partial.to_owned();
    blocking::unblock(move || std::fs::create_dir_all(&created)).await.map_err(|e| e.to_string())?;
    claim.save(data.clone()).await.map_err(|e| e.to_string())?;
    claim.save_record(record.clone()).await.map_err(|e| e.to_string())?;
    let dest = dest.to_owned();
    let placed = blocking::unblock(move || place_no_clobber(&dest, &name, &data, &record)).await;
    let placed = placed.map_err(|e| format!("{e} (the upload is kept in {})", partial.display()))?;
    claim.finish().await.map_err(|e| e.to_string())?;
    Ok(placed)
}
