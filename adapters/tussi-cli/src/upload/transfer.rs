//! The transfer: creation, HEAD and PATCH requests with retries, one chunk in memory at a time.

use std::time::{Duration, Instant};

use tussi_cli::source::Source;

use crate::client::{Client, ClientError};
use crate::progress::Progress;

/// Longest pause between two retries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Why an upload failed (exit status 1).
#[derive(Debug)]
pub(crate) struct Failed {
    /// What failed, and why.
    pub(crate) why: String,
    /// Whether the same command later may get further: the retries ran out on a failure that waiting may mend
    /// (no connection, 5xx), not one that needs another command or another server.
    pub(crate) resumable: bool,
}

impl Failed {
    /// A failure that the same command again would meet again.
    pub(crate) fn new(why: String) -> Failed {
        Failed { why, resumable: false }
    }

    /// The retries ran out.
    fn retries_used_up(why: String) -> Failed {
        Failed { why, resumable: true }
    }
}

/// Retries in a row: counts failures since the last success and sleeps with exponential backoff.
pub(crate) struct Retry {
    limit: u32,
    failures: u32,
}

impl Retry {
    /// At most `limit` retries in a row.
    pub(crate) fn new(limit: u32) -> Retry {
        Retry { limit, failures: 0 }
    }

    /// A request succeeded.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }

    /// `error` happened while `what`: waits before the next attempt, or fails when it is not retryable or the
    /// retries are used up.
    pub(crate) fn after(&mut self, what: &str, error: &ClientError, progress: Option<&Progress>) -> Result<(), Failed> {
        if !error.retryable() {
            return Err(Failed::new(format!("{what} failed: {error}")));
        }
        if self.failures >= self.limit {
            return Err(Failed::retries_used_up(format!("{what} failed after {} retries: {error}", self.limit)));
        }
        self.failures += 1;
        let delay = backoff(self.failures);
        let message =
            format!("{what} failed: {error}; retry {}/{} in {:.1}s", self.failures, self.limit, delay.as_secs_f64());
        match progress {
            Some(progress) => progress.message(&message),
            None => eprintln!("{message}"),
        }
        std::thread::sleep(delay);
        Ok(())
    }

    /// A failure that is recovered at once (a 409 answered by a HEAD): counted, so that a server that keeps
    /// answering it cannot keep the upload going round forever.
    pub(crate) fn count(&mut self, what: &str, error: &ClientError) -> Result<(), Failed> {
        if self.failures >= self.limit {
            return Err(Failed::retries_used_up(format!("{what} failed after {} retries: {error}", self.limit)));
        }
        self.failures += 1;
        Ok(())
    }
}

/// The pause before retry `n` (1-based): 0.5 s, 1 s, 2 s, ... at most [`MAX_BACKOFF`].
fn backoff(n: u32) -> Duration {
    let millis = 500u64.saturating_mul(1u64 << n.saturating_sub(1).min(16));
    Duration::from_millis(millis).min(MAX_BACKOFF)
}

/// Creates the upload, retrying; returns the `Location` header.
pub(crate) fn create(
    client: &Client,
    endpoint: &str,
    size: u64,
    metadata: &[(String, String)],
    retry: &mut Retry,
) -> Result<String, Failed> {
    loop {
        match client.create(endpoint, size, metadata) {
            Ok(location) => {
                retry.reset();
                return Ok(location);
            }
            Err(error) => retry.after("creating the upload", &error, None)?,
        }
    }
}

/// HEADs the upload, retrying; `Ok(None)` when the server no longer knows it (404 or 410).
pub(crate) fn offset(
    client: &Client,
    url: &str,
    retry: &mut Retry,
    progress: Option<&Progress>,
) -> Result<Option<(u64, Option<u64>)>, Failed> {
    loop {
        match client.head(url) {
            // No reset here: only a stored chunk ends a run of failures, so that a server that answers HEAD but
            // keeps failing PATCH still runs out of retries.
            Ok(info) => return Ok(Some((info.offset, info.length))),
            Err(error) if matches!(error.status(), Some(404 | 410)) => return Ok(None),
            Err(error) => retry.after("asking for the offset", &error, progress)?,
        }
    }
}

/// Settings of [`send`].
pub(crate) struct Plan<'a> {
    /// The upload URL.
    pub(crate) url: &'a str,
    /// Bytes per PATCH.
    pub(crate) chunk_size: u64,
    /// Bytes per second at most.
    pub(crate) throttle: Option<u64>,
}

/// PATCHes the data from `offset` to the end, chunk by chunk; returns when the server has every byte.
pub(crate) fn send(
    client: &Client,
    source: &Source,
    plan: &Plan<'_>,
    mut offset: u64,
    retry: &mut Retry,
    progress: &mut Progress,
) -> Result<(), Failed> {
    let size = source.size();
    let chunk = usize::try_from(plan.chunk_size.min(size.max(1))).unwrap_or(usize::MAX);
    let mut buf = vec![0u8; chunk];
    let (started, start_offset) = (Instant::now(), offset);
    // A zero-length upload still gets one (empty) PATCH: servers that do not finish it at creation need it.
    let mut empty_sent = size > 0;
    while offset < size || !empty_sent {
        let n = source.read_at(offset, &mut buf).map_err(|e| Failed::new(format!("reading the data failed: {e}")))?;
        match client.patch(plan.url, offset, &buf[..n]) {
            Ok(new_offset) if new_offset > offset && new_offset <= offset + n as u64 => {
                retry.reset();
                offset = new_offset;
                progress.set(offset);
            }
            Ok(_) if n == 0 => {
                retry.reset();
                empty_sent = true;
            }
            Ok(new_offset) => {
                return Err(Failed::new(format!(
                    "the server answered offset {new_offset} to a PATCH of {n} bytes at {offset}"
                )))
            }
            // Finished and already claimed by the server's worker.
            Err(error) if n == 0 && matches!(error.status(), Some(404 | 409 | 410)) => empty_sent = true,
            Err(error) if error.status() == Some(409) => {
                retry.count(&format!("PATCH at offset {offset}"), &error)?;
                progress.message(&format!("offset conflict at {offset} ({error}); asking the server for its offset"));
                offset = resync(client, plan.url, retry, progress)?;
            }
            Err(error) => {
                retry.after(&format!("PATCH at offset {offset}"), &error, Some(progress))?;
                // Part of the chunk may have been stored before the failure: go on from the server's offset.
                offset = resync(client, plan.url, retry, progress)?;
            }
        }
        if let Some(rate) = plan.throttle.filter(|r| *r > 0) {
            let due = Duration::from_secs_f64(offset.saturating_sub(start_offset) as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    progress.set(offset);
    Ok(())
}

fn resync(client: &Client, url: &str, retry: &mut Retry, progress: &mut Progress) -> Result<u64, Failed> {
    match offset(client, url, retry, Some(progress))? {
        Some((offset, _)) => {
            progress.set(offset);
            Ok(offset)
        }
        None => Err(Failed::new(format!("the upload {url} is gone from the server"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(2));
        assert_eq!(backoff(7), Duration::from_secs(30));
        assert_eq!(backoff(1000), Duration::from_secs(30));
    }
}
