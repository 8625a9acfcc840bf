use std::time::Duration;

use crate::error::ConfigError;

/// Configuration of a bulkhead (CONTRACT §2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkheadConfig {
    /// Bodies running at once. Default 20, at least 1.
    pub max_concurrent_calls: usize,
    /// Callers waiting for a slot, first in first out; beyond it `BulkheadFull` at once.
    /// Default 50; 0 means no queue.
    pub max_queue_size: usize,
    /// A queued caller gives up with `BulkheadFull` after this long. Default `None`: wait until
    /// admitted or cancelled; when set, more than 0.
    pub max_wait: Option<Duration>,
}

/// The largest `max_concurrent_calls` accepted (what the slot counter holds; the same limit as
/// tokio's semaphore).
pub const MAX_CONCURRENT_CALLS: usize = usize::MAX >> 3;

impl BulkheadConfig {
    /// The contract's defaults, usable in `const` context.
    pub const DEFAULT: BulkheadConfig = BulkheadConfig {
        max_concurrent_calls: 20,
        max_queue_size: 50,
        max_wait: None,
    };

    /// Checks every value against the contract's valid ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |key, problem: &str| Err(ConfigError::new("bulkhead", key, problem));
        if self.max_concurrent_calls == 0 {
            return err("max_concurrent_calls", "must be at least 1");
        }
        if self.max_concurrent_calls > MAX_CONCURRENT_CALLS {
            return err("max_concurrent_calls", "is above the slot counter's limit");
        }
        if self.max_wait.is_some_and(|wait| wait.is_zero()) {
            return err("max_wait", "must be more than 0");
        }
        Ok(())
    }
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}
