//! A counter striped over cache lines, for counts that every call adds to (a breaker's
//! successes): each thread adds to its own stripe, so threads counting at once do not pass one
//! cache line between their cores on every call. Reading sums the stripes.

use std::cell::Cell;

use crate::sync::Ordering;

/// Stripes per counter. Threads take them in turn; more threads than stripes share them (still
/// exact, only less spread).
const STRIPES: usize = 8;

/// One stripe, alone on its cache lines (128 bytes: x86 prefetches lines in pairs).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe<A>(A);

/// The counter, over an atomic `A`: the policies' (`crate::sync`'s, loom's under `cfg(loom)`)
/// or `std`'s for the call sites' `static`s ([`SiteCounter`], built in `const` context).
#[derive(Debug, Default)]
pub(crate) struct Striped<A> {
    stripes: [Stripe<A>; STRIPES],
}

/// The policies' striped counter.
pub(crate) type StripedCounter = Striped<crate::sync::AtomicU64>;

/// A striped counter in a call site's `static`.
pub(crate) type SiteCounter = Striped<std::sync::atomic::AtomicU64>;

/// What a stripe holds: a `u64` atomic.
pub(crate) trait Count {
    fn add_one(&self);
    fn value(&self) -> u64;
    fn zero(&self);
}

macro_rules! count_for {
    ($atomic:ty) => {
        impl Count for $atomic {
            #[inline(always)]
            fn add_one(&self) {
                self.fetch_add(1, Ordering::Relaxed);
            }
            fn value(&self) -> u64 {
                self.load(Ordering::Relaxed)
            }
            fn zero(&self) {
                self.store(0, Ordering::Relaxed);
            }
        }
    };
}

count_for!(std::sync::atomic::AtomicU64);
#[cfg(loom)]
count_for!(crate::sync::AtomicU64);

impl SiteCounter {
    /// Zero, in `const` context.
    pub(crate) const fn new() -> Self {
        Striped {
            stripes: [const { Stripe(std::sync::atomic::AtomicU64::new(0)) }; STRIPES],
        }
    }
}

impl<A: Count> Striped<A> {
    /// Adds one, on this thread's stripe.
    #[inline]
    pub(crate) fn increment(&self) {
        self.stripes[stripe()].0.add_one();
    }

    /// The count: the sum of the stripes (not a snapshot of one instant while others count).
    pub(crate) fn sum(&self) -> u64 {
        self.stripes
            .iter()
            .map(|stripe| stripe.0.value())
            .fold(0, u64::wrapping_add)
    }

    /// Back to zero.
    pub(crate) fn clear(&self) {
        for stripe in &self.stripes {
            stripe.0.zero();
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
