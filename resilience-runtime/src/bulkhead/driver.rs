//! The driver: [`Slots`] holds the slots (FIFO; its `acquire` future leaves the queue when
//! dropped), an atomic counter bounds the queue. Taking a free slot and giving it back are one
//! compare-and-swap each, and allocate nothing.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::striped::StripedCounter;
use crate::sync::{AtomicU64, AtomicUsize, Mutex, Ordering};

use super::BulkheadConfig;
use super::slots::Slots;
use crate::error::{ConfigError, ResilienceError};

/// A named bulkhead (contract §2.4).
#[derive(Debug)]
pub struct Bulkhead {
    name: String,
    config: BulkheadConfig,
    /// The configuration in force: [`config`](Self::config) until an override changes it
    /// (read on the waiting path only).
    current: ArcSwap<BulkheadConfig>,
    /// The slot count in force.
    limit: AtomicUsize,
    /// Serialises [`reconfigure`](Self::reconfigure)s.
    resizing: Mutex<()>,
    slots: Slots,
    queued: AtomicUsize,
    /// Callers admitted: striped, as the breaker's successes, so concurrent admissions do not
    /// contend on it.
    accepted: StripedCounter,
    /// Callers turned away (the cold path).
    rejected: AtomicU64,
    /// The `metrics` handles (zero-sized without the feature).
    metrics: crate::metrics::BulkheadMetrics,
}

/// A running body's slot; released when dropped (to the oldest waiter, if any).
#[derive(Debug)]
#[must_use = "the slot is released when the permit is dropped"]
pub struct BulkheadPermit<'a> {
    bulkhead: &'a Bulkhead,
}

impl Drop for BulkheadPermit<'_> {
    fn drop(&mut self) {
        self.bulkhead.slots.release();
        self.bulkhead.metrics.released();
    }
}

impl Bulkhead {
    /// An empty bulkhead; fails when `config` is out of the contract's ranges.
    pub fn new(name: impl Into<String>, config: BulkheadConfig) -> Result<Self, ConfigError> {
        let name = name.into();
        crate::registry::validate_name("bulkhead", &name)?;
        config.validate()?;
        Ok(Bulkhead {
            slots: Slots::new(config.max_concurrent_calls),
            queued: AtomicUsize::new(0),
            current: ArcSwap::from_pointee(config.clone()),
            limit: AtomicUsize::new(config.max_concurrent_calls),
            resizing: Mutex::new(()),
            accepted: StripedCounter::default(),
            rejected: AtomicU64::new(0),
            metrics: crate::metrics::BulkheadMetrics::new(&name),
            name,
            config,
        })
    }

    /// The one bulkhead that every disabled call site (`enabled = false`, contract §7) uses in
    /// place of its own: its limit is the largest the slot counter holds, so every call runs at
    /// once, and generated code keeps its concrete layer.
    pub(crate) fn passthrough() -> &'static Bulkhead {
        static PASSTHROUGH: std::sync::LazyLock<Bulkhead> = std::sync::LazyLock::new(|| {
            Bulkhead::new(
                "resilience::disabled",
                BulkheadConfig {
                    max_concurrent_calls: resilience_config::bulkhead::MAX_CONCURRENT_CALLS,
                    ..BulkheadConfig::default()
                },
            )
            .expect("the largest limit is valid")
        });
        &PASSTHROUGH
    }

    /// The configuration in force (the creation's, or an override's).
    pub fn current_config(&self) -> BulkheadConfig {
        (**self.current.load()).clone()
    }

    /// Applies `config` in place (contract §7): a higher `max_concurrent_calls` admits queued
    /// callers at once; a lower one takes free slots now and the others as they are released,
    /// without dropping anyone admitted or queued. The queue's size and `max_wait` apply to
    /// callers that queue from now on.
    pub fn reconfigure(&self, config: BulkheadConfig) -> Result<(), ConfigError> {
        config.validate()?;
        let _serial = self
            .resizing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (old, new) = (
            self.limit.load(Ordering::Acquire),
            config.max_concurrent_calls,
        );
        self.current.store(Arc::new(config));
        self.limit.store(new, Ordering::Release);
        if new > old {
            self.slots.add(new - old);
        } else {
            self.slots.remove(old - new);
        }
        Ok(())
    }

    /// The registry name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configuration it was created with.
    pub fn config(&self) -> &BulkheadConfig {
        &self.config
    }

    /// Bodies running now (slots handed out, including one just handed to a waiter that has not
    /// been polled yet).
    pub fn in_flight(&self) -> usize {
        (self.limit.load(Ordering::Acquire) + self.slots.debt()).saturating_sub(self.slots.free())
    }

    /// Callers waiting now. A waiter that has just been handed a slot counts here (and in
    /// [`in_flight`](Self::in_flight)) until its task runs again.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// The slot count in force.
    pub fn max_concurrent_calls(&self) -> usize {
        self.limit.load(Ordering::Acquire)
    }

    /// A slot if one is free (released slots go to waiters first, so a free slot never jumps
    /// the queue).
    #[inline]
    pub fn try_acquire(&self) -> Option<BulkheadPermit<'_>> {
        // `then`, not `then_some`: a permit built and dropped on failure would release a slot.
        self.slots.try_acquire().then(|| {
            self.accepted.increment();
            self.metrics.admitted();
            BulkheadPermit { bulkhead: self }
        })
    }

    /// Callers admitted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.sum()
    }

    /// Callers turned away with `BulkheadFull` so far.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// A slot now, or after waiting in the queue; `BulkheadFull` if the queue is full or
    /// `max_wait` elapses first. Dropping the future leaves the queue.
    pub async fn acquire(&self) -> Result<BulkheadPermit<'_>, ResilienceError> {
        match self.try_acquire() {
            Some(permit) => Ok(permit),
            None => self.acquire_queued().await,
        }
    }

    /// The slow path of [`acquire`](Self::acquire): join the queue if it has room.
    pub async fn acquire_queued(&self) -> Result<BulkheadPermit<'_>, ResilienceError> {
        let (max_queue_size, max_wait) = {
            let current = self.current.load();
            (current.max_queue_size, current.max_wait)
        };
        let Some(_place) = QueuePlace::join(&self.queued, max_queue_size) else {
            return Err(self.full());
        };
        let waiting = Waiting::new(self);
        match max_wait {
            None => self.slots.acquire().await,
            Some(wait) => {
                if tokio::time::timeout(wait, self.slots.acquire())
                    .await
                    .is_err()
                {
                    drop(waiting);
                    tracing::debug!(target: "resilience", bulkhead = %self.name, ?wait, "gave up waiting for a bulkhead slot");
                    return Err(self.full());
                }
            }
        }
        drop(waiting);
        self.accepted.increment();
        self.metrics.admitted();
        Ok(BulkheadPermit { bulkhead: self })
    }

    fn full(&self) -> ResilienceError {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        self.metrics.rejected();
        crate::events::emit(|| crate::events::Event::BulkheadRejected {
            name: self.name.clone(),
        });
        ResilienceError::BulkheadFull {
            name: self.name.clone(),
        }
    }
}

/// A caller's wait in the queue, as the `metrics` see it (the `waiting` gauge and the
/// `wait_seconds` histogram), however the wait ends.
struct Waiting<'a> {
    bulkhead: &'a Bulkhead,
    #[cfg(feature = "metrics")]
    since: std::time::Instant,
}

impl<'a> Waiting<'a> {
    fn new(bulkhead: &'a Bulkhead) -> Self {
        bulkhead.metrics.queued();
        Waiting {
            bulkhead,
            #[cfg(feature = "metrics")]
            since: std::time::Instant::now(),
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        #[cfg(feature = "metrics")]
        self.bulkhead.metrics.left_queue(self.since.elapsed());
        #[cfg(not(feature = "metrics"))]
        self.bulkhead.metrics.left_queue(std::time::Duration::ZERO);
    }
}

/// A caller's place in the queue, given back however the wait ends.
pub(crate) struct QueuePlace<'a>(&'a AtomicUsize);

impl<'a> QueuePlace<'a> {
    /// A place in the queue counted by `queued`, if it holds fewer than `max` callers: one
    /// `fetch_update`, so concurrent joins never together pass `max`.
    pub(crate) fn join(queued: &'a AtomicUsize, max: usize) -> Option<QueuePlace<'a>> {
        queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                (q < max).then_some(q + 1)
            })
            .ok()
            .map(|_| QueuePlace(queued))
    }
}

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// loom (`cargo test --lib loom` under `--cfg loom`, see `specs/README.md`): the queue counter
/// in isolation (the slots have their own loom tests, in `slots.rs`).
#[cfg(all(test, loom))]
mod loom {
    use ::loom::sync::Arc;
    use ::loom::thread;

    use super::QueuePlace;
    use crate::sync::{AtomicUsize, Ordering};

    /// `callers` threads each try to join a queue of `max` places, hold the place while checking
    /// the bound, and leave; returns how many joined.
    fn join_and_leave(callers: usize, max: usize) -> usize {
        let queued = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..callers)
            .map(|_| {
                let queued = queued.clone();
                thread::spawn(move || {
                    let place = QueuePlace::join(&queued, max);
                    let seen = queued.load(Ordering::Acquire);
                    assert!(seen <= max, "{seen} callers queued, at most {max} allowed");
                    if place.is_some() {
                        assert!(seen >= 1, "a joined caller is counted until it leaves");
                    }
                    place.is_some()
                })
            })
            .collect();
        let joined = threads
            .into_iter()
            .map(|thread| thread.join().unwrap())
            .filter(|&joined| joined)
            .count();
        assert_eq!(
            queued.load(Ordering::Acquire),
            0,
            "every place is given back"
        );
        joined
    }

    #[test]
    fn concurrent_joins_never_exceed_a_queue_of_one_and_all_leave() {
        ::loom::model(|| {
            let joined = join_and_leave(2, 1);
            assert!(joined >= 1, "the first caller always finds the queue empty");
        });
    }

    #[test]
    fn concurrent_joins_within_a_queue_of_two_all_get_in_and_all_leave() {
        ::loom::model(|| {
            assert_eq!(join_and_leave(2, 2), 2, "two places for two callers");
        });
    }

    #[test]
    fn a_queue_of_zero_refuses_every_caller() {
        ::loom::model(|| assert_eq!(join_and_leave(2, 0), 0));
    }
}
