//! [`InlineWrites`] and the gate behind its default, [`InlineWrites::WhileFast`]: small writes without fsync run on
//! the calling async thread while the disk answers them quickly, a bounded number at a time (one by default).
//!
//! Such a write is a few file-system calls into the page cache, tens of microseconds; handing it to another thread
//! and back costs more than the call itself when there is no other work to overlap (one client). What running it
//! inline risks is a disk that stalls (a cold directory block on a busy disk, the kernel throttling writers while
//! much data waits for writeback): the async thread would stall with it, and every connection it serves. The gate
//! bounds that: at most one inline write per store at any moment, so at most one async thread can be caught; and
//! after one that took longer than 1 ms, none for 100 times as long, so that
//! slow inline writes hold up an async thread for at most about 1 % of the time, and a slow disk is met on the
//! offload's threads until it is fast again. A lone hiccup (a page fault on a busy host, a preempted thread) pauses
//! inline writes for a moment, a disk that stalls for a second for minutes. A server whose threads each serve their
//! own connections (one single-threaded runtime per thread) lets one inline write per thread through
//! ([`AsyncFileStore::inline_writes_at_once`](crate::AsyncFileStore::inline_writes_at_once)): otherwise a thread
//! would hand its write to the pool only because another thread is writing.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Where [`AsyncFileStore`](crate::AsyncFileStore) runs a small creation or PATCH when fsync is off (see
/// [`AsyncFileStore::inline_writes`](crate::AsyncFileStore::inline_writes)). With fsync on, every write goes to the
/// offload's pool whatever this says: a sync can take milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InlineWrites {
    /// Never inline: always a short call of the offload ([`Offload::offload_short`](crate::Offload::offload_short)),
    /// so a stalling disk never holds up an async thread.
    Never,
    /// Inline while the disk answers quickly, one write at a time per store (or as many as
    /// [`AsyncFileStore::inline_writes_at_once`](crate::AsyncFileStore::inline_writes_at_once) says); a short call
    /// of the offload while that many inline writes are running, and for 100 times as long as an inline write took
    /// when that was longer than 1 ms.
    #[default]
    WhileFast,
    /// Always inline, as many at once as there are async threads: no offload costs at all, but a stalling disk
    /// stalls every async thread that meets it.
    Always,
}

impl InlineWrites {
    /// The mode's name on a command line: `never`, `while-fast` or `always`.
    pub fn name(self) -> &'static str {
        match self {
            InlineWrites::Never => "never",
            InlineWrites::WhileFast => "while-fast",
            InlineWrites::Always => "always",
        }
    }
}

impl std::fmt::Display for InlineWrites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses [`InlineWrites::name`].
impl std::str::FromStr for InlineWrites {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        [InlineWrites::Never, InlineWrites::WhileFast, InlineWrites::Always]
            .into_iter()
            .find(|mode| mode.name() == name)
            .ok_or_else(|| format!("unknown inline-writes mode {name:?} (never, while-fast, always)"))
    }
}

/// An inline write that took longer than this was slowed down by the disk (or by the kernel throttling writers),
/// not by its own work: some fifty times what a small write into the page cache takes.
pub(crate) const INLINE_SLOW_WRITE: Duration = Duration::from_millis(1);

/// After a slow inline write, small writes go to the offload for this many times as long as it took.
pub(crate) const INLINE_PAUSE_FACTOR: u32 = 100;

/// Lets up to `limit` inline writes through at a time, none during a pause after a slow one. Shared by the clones
/// of one store.
#[derive(Debug)]
pub(crate) struct InlineGate {
    running: AtomicUsize,
    limit: usize,
    /// End of the pause after a slow write, in microseconds since `origin` (0: none yet).
    paused_until: AtomicU64,
    origin: Instant,
}

impl InlineGate {
    /// A gate for up to `limit` inline writes at once (at least 1).
    pub(crate) fn new(limit: usize) -> Self {
        let limit = limit.max(1);
        InlineGate { running: AtomicUsize::new(0), limit, paused_until: AtomicU64::new(0), origin: Instant::now() }
    }

    /// A pass for one inline write starting now, or `None` when `limit` are running or inline writes pause.
    pub(crate) fn try_enter(&self) -> Option<Pass<'_>> {
        self.try_enter_at(Instant::now())
    }

    fn try_enter_at(&self, now: Instant) -> Option<Pass<'_>> {
        if self.micros(now) < self.paused_until.load(Ordering::Relaxed) {
            return None;
        }
        let entered = self.running.fetch_update(Ordering::Acquire, Ordering::Relaxed, |running| {
            (running < self.limit).then_some(running + 1)
        });
        entered.ok().map(|_| Pass { gate: self, started: now })
    }

    fn leave_at(&self, started: Instant, now: Instant) {
        let took = now.saturating_duration_since(started);
        if took > INLINE_SLOW_WRITE {
            let pause = took.saturating_mul(INLINE_PAUSE_FACTOR);
            self.paused_until.store(
                self.micros(now).saturating_add(u64::try_from(pause.as_micros()).unwrap_or(u64::MAX)),
                Ordering::Relaxed,
            );
        }
        self.running.fetch_sub(1, Ordering::Release);
    }

    fn micros(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_micros()).unwrap_or(u64::MAX)
    }
}

/// The right to run one write inline; dropping it (after the write, or when the write panics) reopens the gate,
/// after a pause if the write was slow.
#[must_use = "the gate stays shut to other inline writes until the pass is dropped after the write"]
#[derive(Debug)]
pub(crate) struct Pass<'a> {
    gate: &'a InlineGate,
    started: Instant,
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.gate.leave_at(self.started, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_from_their_names() {
        for mode in [InlineWrites::Never, InlineWrites::WhileFast, InlineWrites::Always] {
            assert_eq!(mode.to_string().parse::<InlineWrites>(), Ok(mode));
        }
        assert!("sometimes".parse::<InlineWrites>().unwrap_err().contains("while-fast"));
    }

    #[test]
    fn one_inline_write_at_a_time() {
        let gate = InlineGate::new(1);
        let first = gate.try_enter().expect("an idle gate lets a write through");
        assert!(gate.try_enter().is_none(), "a second write waits its turn on the offload");
        drop(first);
        assert!(gate.try_enter().is_some(), "the gate reopens when the first write is done");
    }

    #[test]
    fn up_to_the_limit_at_once() {
        let gate = InlineGate::new(2);
        let (first, second) = (gate.try_enter().expect("first"), gate.try_enter().expect("second"));
        assert!(gate.try_enter().is_none(), "a third write goes to the offload");
        drop(first);
        let third = gate.try_enter().expect("a place is free again");
        drop((second, third));
        assert_eq!(gate.running.load(Ordering::Relaxed), 0, "every pass given back");
    }

    #[test]
    fn a_slow_write_pauses_inline_writes_in_proportion() {
        let gate = InlineGate::new(1);
        let mut start = Instant::now();
        for took in [INLINE_SLOW_WRITE + Duration::from_micros(10), Duration::from_millis(50)] {
            std::mem::forget(gate.try_enter_at(start).expect("the gate is open")); // finished by hand below
            let done = start + took;
            gate.leave_at(start, done);
            let pause = took * INLINE_PAUSE_FACTOR;
            assert!(gate.try_enter_at(done).is_none(), "right after a write of {took:?}");
            let near_end = done + pause - Duration::from_micros(100);
            assert!(gate.try_enter_at(near_end).is_none(), "near the end of the pause after {took:?}");
            let after = done + pause + Duration::from_micros(1);
            std::mem::forget(gate.try_enter_at(after).expect("open again after the pause"));
            gate.leave_at(after, after); // a fast write: no new pause
            start = after;
        }
    }

    #[test]
    fn a_fast_write_leaves_the_gate_open() {
        let gate = InlineGate::new(1);
        let start = Instant::now();
        std::mem::forget(gate.try_enter_at(start).unwrap());
        gate.leave_at(start, start + INLINE_SLOW_WRITE);
        assert!(gate.try_enter_at(start + INLINE_SLOW_WRITE).is_some());
    }

    #[test]
    fn a_panicking_write_reopens_the_gate() {
        let gate = InlineGate::new(1);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _pass = gate.try_enter().unwrap();
            panic!("the write failed");
        }));
        assert!(outcome.is_err());
        // Unwinding (and printing the panic) may itself take longer than a slow write: look past any pause.
        let later = Instant::now() + Duration::from_secs(60);
        assert!(gate.try_enter_at(later).is_some(), "the pass was given back");
    }
}
