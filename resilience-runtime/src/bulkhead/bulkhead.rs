//! The driver: tokio's semaphore holds the slots (it is FIFO, and its `acquire` future leaves the
//! wait list when dropped), an atomic counter bounds the queue. Admission with a free slot is one
//! compare-and-swap and allocates nothing.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Semaphore, SemaphorePermit};

use super::config::BulkheadConfig;
use crate::error::{ConfigError, ResilienceError};

/// A named bulkhead (CONTRACT §2.4).
#[derive(Debug)]
pub struct Bulkhead {
    name: String,
    config: BulkheadConfig,
    slots: Semaphore,
    queued: AtomicUsize,
}

/// A running body's slot; released when dropped.
#[derive(Debug)]
#[must_use = "the slot is released when the permit is dropped"]
pub struct BulkheadPermit<'a> {
    _slot: SemaphorePermit<'a>,
}

impl Bulkhead {
    /// An empty bulkhead; fails when `config` is out of the contract's ranges.
    pub fn new(name: impl Into<String>, config: BulkheadConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Bulkhead {
            name: name.into(),
            slots: Semaphore::new(config.max_concurrent_calls),
            queued: AtomicUsize::new(0),
            config,
        })
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
        self.config.max_concurrent_calls - self.slots.available_permits()
    }

    /// Callers waiting now. A waiter that has just been handed a slot counts here (and in
    /// [`in_flight`](Self::in_flight)) until its task runs again.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// The slot count.
    pub fn max_concurrent_calls(&self) -> usize {
        self.config.max_concurrent_calls
    }

    /// A slot if one is free and nobody is queued for it (the semaphore hands released slots to
    /// waiters first, so a free slot never jumps the queue).
    #[inline]
    pub fn try_acquire(&self) -> Option<BulkheadPermit<'_>> {
        self.slots
            .try_acquire()
            .ok()
            .map(|slot| BulkheadPermit { _slot: slot })
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
        let max = self.config.max_queue_size;
        if self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                (q < max).then_some(q + 1)
            })
            .is_err()
        {
            return Err(self.full());
        }
        let _place = QueuePlace(&self.queued);
        let slot = match self.config.max_wait {
            None => self.slots.acquire().await,
            Some(wait) => match tokio::time::timeout(wait, self.slots.acquire()).await {
                Ok(slot) => slot,
                Err(_) => {
                    tracing::debug!(target: "resilience", bulkhead = %self.name, ?wait, "gave up waiting for a bulkhead slot");
                    return Err(self.full());
                }
            },
        };
        // The semaphore is never closed, so `acquire` cannot fail.
        slot.map(|slot| BulkheadPermit { _slot: slot })
            .map_err(|_| self.full())
    }

    fn full(&self) -> ResilienceError {
        ResilienceError::BulkheadFull {
            name: self.name.clone(),
        }
    }
}

/// A caller's place in the queue, given back however the wait ends.
struct QueuePlace<'a>(&'a AtomicUsize);

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
