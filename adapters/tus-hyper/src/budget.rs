//! The memory budget of body batches, shared by all requests of an app: one upload gets large batches (fewer
//! storage calls), many uploads share the budget, and none ever goes below the minimum batch.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

// No batch is smaller than a small write, whatever the budget says.
use tus_store::SMALL_WRITE;

/// Makes the C library's `malloc` keep freed batch memory for the next batches, instead of handing it back to the
/// kernel and faulting it in again page by page.
///
/// Batches hold body frames as received, so the connection's read buffers are allocated afresh while a batch is
/// written and freed together after it. glibc gives the free memory at the top of a heap back to the kernel once
/// it passes the trim threshold (128 KiB at first), so every batch was faulted in again, page by page, which
/// cost more CPU than the batch itself. glibc raises the threshold to twice the size of the
/// largest block it mapped for an allocation and unmapped again (up to 32 MiB; mallopt(3), `M_MMAP_THRESHOLD`), so
/// one block of the batch memory's size, allocated and freed, keeps twice the budget in the heap. Other allocators
/// just allocate and free one block, untouched.
pub(crate) fn keep_freed_batches(batch_memory: usize) {
    const GLIBC_LARGEST_DYNAMIC: usize = 32 * 1024 * 1024;
    drop(std::hint::black_box(Vec::<u8>::with_capacity(batch_memory.min(GLIBC_LARGEST_DYNAMIC))));
}

/// Bytes of batch buffers still free.
#[derive(Debug)]
pub(crate) struct BatchBudget {
    free: AtomicUsize,
}

impl BatchBudget {
    pub(crate) fn new(total: usize) -> Arc<BatchBudget> {
        Arc::new(BatchBudget { free: AtomicUsize::new(total) })
    }

    /// Reserves up to `want` bytes, at least `min(want, SMALL_WRITE)`; the minimum is granted even when the budget is
    /// spent (it is the floor every request needs to make progress).
    pub(crate) fn reserve(self: &Arc<Self>, want: usize) -> Reservation {
        self.reserve_with_floor(want, want.min(SMALL_WRITE))
    }

    /// Reserves up to `want` bytes of what is free, without the floor: `None` when nothing is free.
    pub(crate) fn try_reserve(self: &Arc<Self>, want: usize) -> Option<Reservation> {
        Some(self.reserve_with_floor(want, 0)).filter(|reservation| reservation.size > 0)
    }

    /// Reserves up to `want` bytes, at least `floor` even past what is free.
    fn reserve_with_floor(self: &Arc<Self>, want: usize, floor: usize) -> Reservation {
        let mut free = self.free.load(Ordering::Relaxed);
        loop {
            let take = want.min(free.max(floor));
            let left = free.saturating_sub(take);
            match self.free.compare_exchange_weak(free, left, Ordering::AcqRel, Ordering::Relaxed) {
                // What was taken beyond the free bytes is not owed back.
                Ok(_) => return Reservation { budget: self.clone(), size: take, owed: free - left },
                Err(now) => free = now,
            }
        }
    }
}

/// A reservation of batch memory, given back when dropped.
#[derive(Debug)]
pub(crate) struct Reservation {
    budget: Arc<BatchBudget>,
    size: usize,
    owed: usize,
}

impl Reservation {
    /// The batch size this reservation allows.
    pub(crate) fn size(&self) -> usize {
        self.size
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.free.fetch_add(self.owed, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_batches_while_the_budget_lasts_then_the_floor() {
        let budget = BatchBudget::new(3 * 1024 * 1024);
        let a = budget.reserve(1 << 20);
        let b = budget.reserve(1 << 20);
        let c = budget.reserve(2 << 20);
        assert_eq!((a.size(), b.size(), c.size()), (1 << 20, 1 << 20, 1 << 20), "the last one gets what is left");
        let d = budget.reserve(1 << 20);
        assert_eq!(d.size(), SMALL_WRITE, "a spent budget still grants the floor");
        assert_eq!(budget.reserve(100).size(), 100, "small requests get what they ask");
        drop((a, d));
        assert_eq!(budget.reserve(4 << 20).size(), 1 << 20, "a dropped reservation is free again, the floor is not");
        drop((b, c));
        assert_eq!(budget.free.load(Ordering::Relaxed), 3 << 20, "everything owed came back");
    }

    #[test]
    fn read_ahead_takes_only_free_bytes() {
        let budget = BatchBudget::new(3 * 1024 * 1024);
        let batch = budget.reserve(2 << 20);
        let ahead = budget.try_reserve(2 << 20).expect("1 MiB is free");
        assert_eq!(ahead.size(), 1 << 20, "no more than what is free");
        assert!(budget.try_reserve(1).is_none(), "no floor when the budget is spent");
        assert_eq!(budget.reserve(1 << 20).size(), SMALL_WRITE, "batches still get their floor");
        drop((batch, ahead));
        assert_eq!(budget.try_reserve(100).map(|r| r.size()), Some(100), "small requests get what they ask");
        assert_eq!(budget.free.load(Ordering::Relaxed), 3 << 20, "everything came back");
    }
}
