//! A counter striped over cache lines, for counts that every call adds to (a breaker's
//! successes): each thread adds to its own stripe, so threads counting at once do not pass one
//! cache line between their cores on every call. Reading sums the stripes.

use std::cell::Cell;

use crate::sync::{AtomicU64, Ordering};

/// Stripes per counter. Threads take them in turn; more threads than stripes share them (still
/// exact, only less spread).
const STRIPES: usize = 8;

/// One stripe, alone on its cache lines (128 bytes: x86 prefetches lines in pairs).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

/// The counter.
#[derive(Debug, Default)]
pub(crate) struct StripedCounter {
    stripes: [Stripe; STRIPES],
}

impl StripedCounter {
    /// Adds one, on this thread's stripe.
    #[inline]
    pub(crate) fn increment(&self) {
        self.stripes[stripe()].0.fetch_add(1, Ordering::Relaxed);
    }

    /// The count: the sum of the stripes (not a snapshot of one instant while others count).
    pub(crate) fn sum(&self) -> u64 {
        self.stripes
            .iter()
            .map(|stripe| stripe.0.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }

    /// Back to zero.
    pub(crate) fn clear(&self) {
        for stripe in &self.stripes {
            stripe.0.store(0, Ordering::Relaxed);
        }
    }
}

/// This thread's stripe, taken in turn the first time it counts.
#[inline]
fn stripe() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|stripe| {
        let mut index = stripe.get();
        if index == usize::MAX {
            index = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % STRIPES;
            stripe.set(index);
        }
        index
    })
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::StripedCounter;

    #[test]
    fn counts_from_many_threads_add_up_and_clear() {
        let counter = StripedCounter::default();
        std::thread::scope(|scope| {
            for _ in 0..12 {
                scope.spawn(|| {
                    for _ in 0..1_000 {
                        counter.increment();
                    }
                });
            }
        });
        assert_eq!(counter.sum(), 12_000);
        counter.clear();
        assert_eq!(counter.sum(), 0);
    }
}
