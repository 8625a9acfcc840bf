//! The count-based sliding window of the rate mode: the last `size` outcomes as a ring of bits
//! (1 = failure), a cursor and a failure count, all atomics, so recording takes no lock.
//!
//! Under concurrent recording the window is exact for every interleaving in which outcomes do not
//! straddle a `clear` (a transition); an outcome that does may land in the new window, as if it
//! had arrived a moment later.

use crate::sync::{AtomicI64, AtomicU64, Ordering};

pub(crate) struct Window {
    size: u64,
    min_calls: u64,
    rate: f64,
    bits: Box<[AtomicU64]>,
    cursor: AtomicU64,
    failures: AtomicI64,
}

impl Window {
    pub(crate) fn new(size: u32, min_calls: u32, rate: f64) -> Window {
        let words = size.div_ceil(64) as usize;
        Window {
            size: u64::from(size),
            min_calls: u64::from(min_calls),
            rate,
            bits: (0..words).map(|_| AtomicU64::new(0)).collect(),
            cursor: AtomicU64::new(0),
            failures: AtomicI64::new(0),
        }
    }

    /// Records one outcome; returns whether the window has now reached the failure rate.
    pub(crate) fn record(&self, failed: bool) -> bool {
        let position = self.cursor.fetch_add(1, Ordering::AcqRel);
        let slot = position % self.size;
        let word = &self.bits[(slot / 64) as usize];
        let mask = 1u64 << (slot % 64);
        let was_failure = if failed {
            word.fetch_or(mask, Ordering::AcqRel) & mask != 0
        } else if word.load(Ordering::Acquire) & mask != 0 {
            word.fetch_and(!mask, Ordering::AcqRel) & mask != 0
        } else {
            false
        };
        let failures = match (was_failure, failed) {
            (false, true) => self.failures.fetch_add(1, Ordering::AcqRel) + 1,
            (true, false) => self.failures.fetch_sub(1, Ordering::AcqRel) - 1,
            _ => self.failures.load(Ordering::Acquire),
        };
        let recorded = (position + 1).min(self.size);
        // Divide rather than multiply: `0.55 * 100.0` rounds above 55, `55.0 / 100.0` is 0.55.
        recorded >= self.min_calls && failures.max(0) as f64 / recorded as f64 >= self.rate
    }

    /// Forgets every outcome (on each transition of the breaker).
    pub(crate) fn clear(&self) {
        for word in self.bits.iter() {
            word.store(0, Ordering::Release);
        }
        self.failures.store(0, Ordering::Release);
        self.cursor.store(0, Ordering::Release);
    }

    /// (recorded outcomes, failures among them).
    #[cfg(test)]
    pub(crate) fn counts(&self) -> (u64, i64) {
        (
            self.cursor.load(Ordering::Acquire).min(self.size),
            self.failures.load(Ordering::Acquire),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_at_rate_only_after_min_calls() {
        let window = Window::new(4, 4, 0.5);
        assert!(!window.record(true));
        assert!(!window.record(true));
        assert!(!window.record(false));
        assert!(window.record(false), "2 of 4 is 50 %");
    }

    #[test]
    fn old_outcomes_slide_out() {
        let window = Window::new(3, 1, 0.5);
        window.record(true);
        window.record(false);
        window.record(false);
        assert_eq!(window.counts(), (3, 1));
        assert!(!window.record(false), "the failure slid out");
        assert_eq!(window.counts(), (3, 0));
    }

    #[test]
    fn clear_forgets_everything() {
        let window = Window::new(70, 1, 1.0);
        for _ in 0..100 {
            window.record(true);
        }
        window.clear();
        assert_eq!(window.counts(), (0, 0));
        assert!(!window.record(false));
    }
}
