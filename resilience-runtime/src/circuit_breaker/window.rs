//! The count-based sliding window of the rate mode: the last `size` outcomes as a ring of bits
//! (1 = failure), a cursor and a failure count, all atomics, so recording takes no lock.
//!
//! Under concurrent recording the window is exact (loom-checked). A `clear` racing a `record`
//! could leave a bit without its count or a count without its bit, so the breaker never clears
//! a window in use: each epoch records into a fresh window of its own (`breaker.rs`), and an
//! outcome that races a transition is dropped, never misplaced. `clear` remains for tests.

use crate::sync::{AtomicI64, AtomicU64, Ordering};

pub(crate) struct Window {
    size: u64,
    min_calls: u64,
    rate: f64,
    /// The fewest failures that reach `rate` once the window is full (`rate` is in (0, 1], so
    /// at least 1): the steady state compares integers, not a quotient of floats.
    full_threshold: i64,
    bits: Box<[AtomicU64]>,
    cursor: AtomicU64,
    failures: AtomicI64,
}

impl Window {
    pub(crate) fn new(size: u32, min_calls: u32, rate: f64) -> Window {
        let words = size.div_ceil(64) as usize;
        let size = u64::from(size);
        Window {
            size,
            min_calls: u64::from(min_calls),
            rate,
            full_threshold: full_threshold(size, rate),
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
        if failures <= 0 {
            return false; // The rate is more than 0.
        }
        let recorded = (position + 1).min(self.size);
        if recorded == self.size {
            return recorded >= self.min_calls && failures >= self.full_threshold;
        }
        reaches(failures, recorded, self.rate) && recorded >= self.min_calls
    }

    /// Forgets every outcome. Not safe against concurrent `record`s (see the module doc).
    #[cfg(test)]
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

    /// Failures in the ring (its set bits): what `failures` counts when no `clear` raced.
    #[cfg(all(test, loom))]
    pub(crate) fn failure_bits(&self) -> i64 {
        self.bits
            .iter()
            .map(|word| i64::from(word.load(Ordering::Acquire).count_ones()))
            .sum()
    }
}

/// Whether `failures` of `recorded` outcomes reach `rate`. Divide rather than multiply:
/// `0.55 * 100.0` rounds above 55, `55.0 / 100.0` is 0.55.
#[inline]
fn reaches(failures: i64, recorded: u64, rate: f64) -> bool {
    failures as f64 / recorded as f64 >= rate
}

/// The fewest failures of `size` outcomes that [`reaches`] `rate`, by the same test (a binary
/// search: `reaches` is monotonic in the failures); `size + 1` if none does.
fn full_threshold(size: u64, rate: f64) -> i64 {
    let (mut low, mut high) = (0_u64, size + 1);
    while low < high {
        let middle = low + (high - low) / 2;
        if middle <= size && reaches(middle as i64, size, rate) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    low as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_windows_threshold_is_the_rates_own_test() {
        for size in [1_u64, 2, 3, 7, 20, 100, 1000] {
            for rate in [0.01, 0.1, 0.3, 0.5, 0.55, 2.0 / 3.0, 0.99, 1.0] {
                let threshold = full_threshold(size, rate);
                for failures in 0..=size as i64 {
                    assert_eq!(
                        failures >= threshold,
                        reaches(failures, size, rate),
                        "{failures} of {size} at {rate}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_full_window_trips_at_the_same_count_as_the_quotient_says() {
        // 55 % of 100: the 55th failure trips, not the 56th (`0.55 * 100.0` is above 55).
        let window = Window::new(100, 100, 0.55);
        for _ in 0..45 {
            assert!(!window.record(false));
        }
        for _ in 0..54 {
            assert!(!window.record(true));
        }
        assert!(window.record(true), "55 of 100");
    }

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

/// loom (`cargo test --lib loom` under `--cfg loom`, see `specs/README.md`): every
/// interleaving of concurrent `record`s. A `clear` racing them is not checked here: `clear` is
/// plain stores, and loom 0.7 lets a store land inside a concurrent read-modify-write
/// (tokio-rs/loom#254), so it reports histories no hardware can produce.
#[cfg(all(test, loom))]
mod loom {
    use ::loom::sync::Arc;
    use ::loom::thread;

    use super::Window;

    /// Runs `outcomes[i]` on thread `i` (each a sequence of `record`s), then joins them all.
    fn record_concurrently(window: &Arc<Window>, outcomes: &[&'static [bool]]) {
        let threads: Vec<_> = outcomes
            .iter()
            .map(|&outcomes| {
                let window = window.clone();
                thread::spawn(move || {
                    for &failed in outcomes {
                        window.record(failed);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
    }

    fn assert_exact(window: &Window) {
        let (_, failures) = window.counts();
        assert!(failures >= 0, "negative failure count {failures}");
        assert_eq!(
            failures,
            window.failure_bits(),
            "the count matches the ring's failures"
        );
    }

    #[test]
    fn concurrent_failures_are_all_counted() {
        ::loom::model(|| {
            let window = Arc::new(Window::new(4, 1, 1.0));
            record_concurrently(&window, &[&[true], &[true]]);
            assert_eq!(window.counts(), (2, 2));
            assert_exact(&window);
        });
    }

    #[test]
    fn concurrent_records_on_one_slot_keep_the_count_equal_to_the_ring() {
        // A window of one slot: every record overwrites the other's, in either order, and a
        // success may clear a failure before that failure's count is added.
        ::loom::model(|| {
            let window = Arc::new(Window::new(1, 1, 1.0));
            record_concurrently(&window, &[&[true], &[false]]);
            assert_eq!(window.counts().0, 1);
            assert_exact(&window);
        });
    }

    #[test]
    fn a_success_overwriting_a_failure_concurrently_keeps_the_count_equal_to_the_ring() {
        ::loom::model(|| {
            let window = Arc::new(Window::new(1, 1, 1.0));
            window.record(true);
            record_concurrently(&window, &[&[false], &[true]]);
            assert_exact(&window);
        });
    }

    #[test]
    fn records_wrapping_the_ring_concurrently_keep_the_count_equal_to_the_ring() {
        ::loom::model(|| {
            let window = Arc::new(Window::new(2, 1, 1.0));
            record_concurrently(&window, &[&[true, false], &[true]]);
            assert_eq!(window.counts().0, 2);
            assert_exact(&window);
        });
    }
}
