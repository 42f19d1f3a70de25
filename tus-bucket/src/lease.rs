//! Leases: one holder per upload (and one worker per claim) across every instance that shares the bucket, built on
//! the store's conditional writes.
//!
//! A lease is a small object (`<id>/lock`, `<id>/claim`) naming its holder and when the lease runs out. It is taken
//! by creating the object (`PutMode::Create`: `If-None-Match: *`) or, when it is free or ran out, by replacing the
//! version that was read (`PutMode::Update`: `If-Match`); of two instances racing, the store lets exactly one
//! write succeed. While held, a task of the holder re-reads the object every `poll` and renews it well before it
//! runs out; another instance that wants the upload writes its request (`takeover` or `terminate`) into the
//! object, and the holder sees it at its next read. Dropping the lease frees the object (a conditional write, so
//! a holder that lost its lease never frees its successor's).
//!
//! Within one instance the leases it holds are also known in memory ([`Leases`]): a request for a lease this
//! instance holds reaches the holder at once, and one whose holder just let go waits for the object to be freed
//! rather than finding it still taken.
//!
//! The trade-offs, written down: a holder that stops (SIGKILL, a lost machine) keeps the upload until its lease
//! runs out (`lease`, 10 s by default) — then the next request takes over; instances must agree on the time to
//! within a fraction of the lease (NTP); and each held upload costs a read every `poll` (4 a second by default),
//! which is what makes a release request reach the holder in a fraction of a second without a side channel.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use object_store::path::Path;
use object_store::{ObjectStore, PutMode};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tus_store::ReleaseRequest;

use crate::io::{delete_if_there, get_json, put_json};

/// How leases are timed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    /// How long a lease lasts without renewal.
    pub(crate) lease: Duration,
    /// How often a holder re-reads its lease, and a waiter re-checks one.
    pub(crate) poll: Duration,
}

/// The stored lease.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct LeaseDoc {
    /// Who holds it; `None` once freed.
    holder: Option<String>,
    /// When it runs out, in milliseconds since the Unix epoch.
    expires_ms: u64,
    /// What another instance asked of the holder.
    #[serde(default)]
    release: Option<Asked>,
    /// The holder's name that outlives it (a claim's worker name, [`Owner`]), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
}

/// Who takes a claim lease, and how long a dead holder of another name keeps it (see
/// [`BucketConfig::worker_name`](crate::BucketConfig::worker_name)).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Owner<'a> {
    pub(crate) name: Option<&'a str>,
    pub(crate) grace: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Asked {
    Takeover,
    Terminate,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl LeaseDoc {
    fn held_by(holder: &str, timing: Timing, owner: Option<&str>) -> Self {
        LeaseDoc {
            holder: Some(holder.to_owned()),
            expires_ms: now_ms() + timing.lease.as_millis() as u64,
            release: None,
            owner: owner.map(str::to_owned),
        }
    }

    /// Held by someone whose lease has not run out.
    fn is_live(&self) -> bool {
        self.holder.is_some() && self.expires_ms > now_ms()
    }

    /// Kept for its dead holder's name: held by an owner other than `owner.name` (a freed lease has none), whose
    /// lease ran out less than `owner.grace` ago.
    fn is_kept_from(&self, owner: Owner<'_>) -> bool {
        self.owner.as_deref().is_some_and(|name| Some(name) != owner.name)
            && self.expires_ms + owner.grace.as_millis() as u64 > now_ms()
    }
}

/// Why a lease could not be taken.
#[derive(Debug)]
pub(crate) enum Refused {
    /// A live holder kept it past the deadline.
    Held,
    /// The store failed.
    Store(object_store::Error),
}

impl From<object_store::Error> for Refused {
    fn from(e: object_store::Error) -> Self {
        Refused::Store(e)
    }
}

/// A lease held by this process. Dropping it frees the object (in a task of its own).
#[derive(Debug)]
pub(crate) struct Lease {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// 0: nobody asked; 1: takeover; 2: terminate.
    asked: AtomicU8,
    /// Another holder replaced this one (this holder's lease ran out): every write must stop.
    lost: AtomicBool,
    /// The owner is done: free (or, once the upload is removed, delete) the object.
    stop: Notify,
    /// The upload's objects were removed: delete the lease object instead of freeing it.
    removed: AtomicBool,
    /// Until when this holder may write (see [`Lease::is_valid`]).
    valid_until: Mutex<Instant>,
    /// The owner dropped the lease (its task frees the object).
    dropped: AtomicBool,
    /// The owner gave the lease up without freeing it: it runs out by itself ([`Lease::abandon`]).
    abandoned: AtomicBool,
    /// The task is over: the object is freed, deleted or someone else's.
    ended: AtomicBool,
    ended_notify: Notify,
}

impl Shared {
    fn ask(&self, asked: Asked) {
        self.asked.fetch_max(asked as u8 + 1, Ordering::AcqRel);
    }
}

/// The leases of one instance: the store they live in, how they are timed, and the ones this instance holds.
pub(crate) struct Leases {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) timing: Timing,
    held: Arc<Mutex<HashMap<Path, Arc<Shared>>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Until when a lease written at `written` (the instant before the write was sent) lets its holder write.
fn valid_until(written: Instant, timing: Timing) -> Instant {
    written + timing.lease - timing.lease / 4
}

impl Lease {
    /// Whether another instance asked this holder to let go, and why.
    pub(crate) fn asked(&self) -> ReleaseRequest {
        match self.shared.asked.load(Ordering::Acquire) {
            0 => ReleaseRequest::None,
            1 => ReleaseRequest::Takeover,
            _ => ReleaseRequest::Terminate,
        }
    }

    /// Whether this holder may still write: the lease was renewed recently enough that it cannot have run out
    /// yet. A holder that cannot renew (partitioned, paused) stops writing a quarter of the lease before another
    /// instance may take over, so that a stale holder never writes over its successor.
    pub(crate) fn is_valid(&self) -> bool {
        !self.shared.lost.load(Ordering::Acquire) && Instant::now() < *lock(&self.shared.valid_until)
    }

    /// Marks the lease's upload removed: on drop the lease object is deleted rather than freed.
    pub(crate) fn mark_removed(&self) {
        self.shared.removed.store(true, Ordering::Release);
    }

    /// Stops renewing the lease and leaves it to run out, neither freed nor deleted: for a claim whose end failed
    /// half-way, so that the claim goes back to a worker of its name first, as if its worker had died.
    pub(crate) fn abandon(self) {
        self.shared.abandoned.store(true, Ordering::Release);
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.shared.dropped.store(true, Ordering::Release);
        self.shared.stop.notify_one();
    }
}

impl Leases {
    pub(crate) fn new(store: Arc<dyn ObjectStore>, timing: Timing) -> Self {
        Leases { store, timing, held: Arc::new(Mutex::new(HashMap::new())) }
    }

    /// This instance's holder of `path`, if any: told of `asked` at once; if it let go, waited for (until
    /// `deadline`, at most a poll period without one) until its task has freed the object.
    async fn local(&self, path: &Path, asked: Option<Asked>, deadline: Option<Instant>) {
        let Some(shared) = lock(&self.held).get(path).cloned() else { return };
        if let Some(asked) = asked {
            shared.ask(asked);
        }
        let deadline = deadline.unwrap_or_else(|| Instant::now() + self.timing.poll);
        while shared.dropped.load(Ordering::Acquire) && !shared.ended.load(Ordering::Acquire) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            let _ = tokio::time::timeout(left.min(self.timing.poll), shared.ended_notify.notified()).await;
        }
    }

    /// Takes the lease of a new upload: a create, without the read [`acquire`](Self::acquire) starts with (no
    /// lease object can exist for a fresh random id; should one, `acquire` takes over).
    pub(crate) async fn acquire_new(&self, path: Path) -> Result<Lease, Refused> {
        let holder = uuid::Uuid::new_v4().to_string();
        let sent = Instant::now();
        let mine = LeaseDoc::held_by(&holder, self.timing, None);
        match put_json(self.store.as_ref(), &path, &mine, PutMode::Create).await {
            Ok(version) => Ok(self.start(path, holder, version, sent)),
            Err(object_store::Error::AlreadyExists { .. }) => self.acquire(path, None, None).await,
            Err(e) => Err(e.into()),
        }
    }

    /// Takes the lease at `path` for a new holder; waits for a live holder until `deadline` (asking it to let go
    /// with `ask`), or gives up at once without a deadline. `Takeover` is the weaker request: a `Terminate` is
    /// never weakened.
    pub(crate) async fn acquire(
        &self,
        path: Path,
        ask: Option<ReleaseRequest>,
        deadline: Option<Instant>,
    ) -> Result<Lease, Refused> {
        self.acquire_as(path, ask, deadline, Owner { name: None, grace: Duration::ZERO }).await
    }

    /// [`acquire`](Self::acquire) for `owner`: a lease whose dead holder had another owner's name is taken only
    /// `owner.grace` after it ran out; the lease taken carries `owner.name`.
    pub(crate) async fn acquire_as(
        &self,
        path: Path,
        ask: Option<ReleaseRequest>,
        deadline: Option<Instant>,
        owner: Owner<'_>,
    ) -> Result<Lease, Refused> {
        let (store, timing) = (self.store.as_ref(), self.timing);
        let asked = match ask {
            Some(ReleaseRequest::Terminate) => Some(Asked::Terminate),
            Some(ReleaseRequest::Takeover) => Some(Asked::Takeover),
            _ => None,
        };
        let holder = uuid::Uuid::new_v4().to_string();
        loop {
            self.local(&path, asked, deadline).await;
            let sent = Instant::now();
            let mine = LeaseDoc::held_by(&holder, timing, owner.name);
            match get_json::<LeaseDoc>(store, &path).await? {
                None => match put_json(store, &path, &mine, PutMode::Create).await {
                    Ok(version) => return Ok(self.start(path, holder, version, sent)),
                    Err(object_store::Error::AlreadyExists { .. }) => continue,
                    Err(e) => return Err(e.into()),
                },
                Some(current) if !current.value.is_live() && !current.value.is_kept_from(owner) => {
                    match put_json(store, &path, &mine, PutMode::Update(current.version)).await {
                        Ok(version) => return Ok(self.start(path, holder, version, sent)),
                        Err(object_store::Error::Precondition { .. }) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                Some(current) => {
                    let Some(deadline) = deadline.filter(|d| Instant::now() < *d) else {
                        return Err(Refused::Held);
                    };
                    if asked > current.value.release {
                        let mut doc = current.value;
                        doc.release = asked;
                        match put_json(store, &path, &doc, PutMode::Update(current.version)).await {
                            Ok(_) | Err(object_store::Error::Precondition { .. }) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                    let wait = (timing.poll / 4).max(Duration::from_millis(10));
                    tokio::time::sleep(wait.min(deadline.saturating_duration_since(Instant::now()))).await;
                }
            }
        }
    }

    /// Whether the lease at `path` is held by a live holder, asking it to let go (`Takeover`) if so; waits up to
    /// `settle` for it to do so. Returns whether it let go (or was not held).
    pub(crate) async fn settle(&self, path: &Path, settle: Duration) -> Result<bool, object_store::Error> {
        let store = self.store.as_ref();
        let deadline = Instant::now() + settle;
        let mut asked = false;
        loop {
            self.local(path, Some(Asked::Takeover), Some(deadline)).await;
            let Some(current) = get_json::<LeaseDoc>(store, path).await? else { return Ok(true) };
            if !current.value.is_live() {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            if !asked && current.value.release.is_none() {
                let mut doc = current.value;
                doc.release = Some(Asked::Takeover);
                match put_json(store, path, &doc, PutMode::Update(current.version)).await {
                    Ok(_) => asked = true,
                    Err(object_store::Error::Precondition { .. }) => continue,
                    Err(e) => return Err(e),
                }
            }
            let wait = (self.timing.poll / 4).max(Duration::from_millis(10));
            tokio::time::sleep(wait.min(deadline.saturating_duration_since(Instant::now()))).await;
        }
    }

    /// Whether a live holder has the lease at `path`.
    pub(crate) async fn is_held(&self, path: &Path) -> Result<bool, object_store::Error> {
        self.local(path, None, None).await;
        Ok(get_json::<LeaseDoc>(self.store.as_ref(), path).await?.is_some_and(|current| current.value.is_live()))
    }

    /// Starts the holder's task: it renews the lease, notes release requests and frees the lease when dropped.
    fn start(&self, path: Path, holder: String, version: object_store::UpdateVersion, sent: Instant) -> Lease {
        let shared = Arc::new(Shared {
            asked: AtomicU8::new(0),
            lost: AtomicBool::new(false),
            stop: Notify::new(),
            removed: AtomicBool::new(false),
            valid_until: Mutex::new(valid_until(sent, self.timing)),
            dropped: AtomicBool::new(false),
            abandoned: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            ended_notify: Notify::new(),
        });
        lock(&self.held).insert(path.clone(), shared.clone());
        let (store, timing) = (self.store.clone(), self.timing);
        let registry = self.held.clone();
        let task_shared = shared.clone();
        tokio::spawn(async move {
            hold(store, path.clone(), timing, holder, version, task_shared.clone()).await;
            let mut held = lock(&registry);
            if held.get(&path).is_some_and(|current| Arc::ptr_eq(current, &task_shared)) {
                held.remove(&path);
            }
            task_shared.ended.store(true, Ordering::Release);
            task_shared.ended_notify.notify_waiters();
        });
        Lease { shared }
    }
}

async fn hold(
    store: Arc<dyn ObjectStore>,
    path: Path,
    timing: Timing,
    holder: String,
    mut version: object_store::UpdateVersion,
    shared: Arc<Shared>,
) {
    let mut renewed = Instant::now();
    loop {
        tokio::select! {
            () = shared.stop.notified() => break,
            () = tokio::time::sleep(timing.poll) => {}
        }
        let current = match get_json::<LeaseDoc>(store.as_ref(), &path).await {
            Ok(Some(current)) if current.value.holder.as_deref() == Some(holder.as_str()) => current,
            Ok(_) => {
                // Freed, replaced or deleted under us: another holder has it now — unless this holder removed the
                // upload itself (the lease object goes with its folder), which is no loss.
                shared.lost.store(true, Ordering::Release);
                if !shared.removed.load(Ordering::Acquire) {
                    tracing::warn!(lease = %path, "lease lost to another holder");
                }
                shared.stop.notified().await;
                return;
            }
            Err(error) => {
                tracing::warn!(lease = %path, %error, "cannot read the lease");
                if renewed.elapsed() >= timing.lease {
                    shared.lost.store(true, Ordering::Release);
                }
                continue;
            }
        };
        let asked = match current.value.release {
            None => 0,
            Some(Asked::Takeover) => 1,
            Some(Asked::Terminate) => 2,
        };
        shared.asked.fetch_max(asked, Ordering::AcqRel);
        version = current.version;
        // Renew once a third of the lease is used, so that two failed renewals in a row still leave time.
        if renewed.elapsed() >= timing.lease / 3 {
            let mut doc = current.value;
            let sent = Instant::now();
            doc.expires_ms = now_ms() + timing.lease.as_millis() as u64;
            match put_json(store.as_ref(), &path, &doc, PutMode::Update(version.clone())).await {
                Ok(new) => {
                    version = new;
                    renewed = sent;
                    *lock(&shared.valid_until) = valid_until(sent, timing);
                }
                // A release request was written meanwhile: read it next round.
                Err(object_store::Error::Precondition { .. }) => {}
                Err(error) => tracing::warn!(lease = %path, %error, "cannot renew the lease"),
            }
        }
    }
    if shared.abandoned.load(Ordering::Acquire) {
        return;
    }
    if shared.removed.load(Ordering::Acquire) {
        if let Err(error) = delete_if_there(store.as_ref(), &path).await {
            tracing::warn!(lease = %path, %error, "cannot delete the lease");
        }
        return;
    }
    // Free it: a conditional write of the version last seen, re-read if a request came in between.
    for _ in 0..5 {
        let free = LeaseDoc::default();
        match put_json(store.as_ref(), &path, &free, PutMode::Update(version.clone())).await {
            Ok(_) => return,
            Err(object_store::Error::Precondition { .. }) => match get_json::<LeaseDoc>(store.as_ref(), &path).await {
                Ok(Some(current)) if current.value.holder.as_deref() == Some(holder.as_str()) => {
                    version = current.version;
                }
                _ => return,
            },
            Err(error) => {
                tracing::warn!(lease = %path, %error, "cannot free the lease; it runs out by itself");
                return;
            }
        }
    }
}
