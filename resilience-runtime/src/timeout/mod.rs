//! Timeout (CONTRACT §2.3): bounds each attempt. On expiry the attempt's future is dropped, which
//! cancels it for real, and the attempt fails with `ResilienceError::Timeout`.
//!
//! A timeout has no state to model: the driver is `tokio::time::timeout` and nothing else, so it
//! costs what tokio's costs.

use std::future::Future;
use std::time::Duration;

use crate::error::ResilienceError;

/// Configuration of the timeout (CONTRACT §2.3 and §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeoutConfig {
    /// How long one attempt may take. Default 1 s (MicroProfile's default); more than 0.
    pub timeout: Duration,
}

impl TimeoutConfig {
    /// The default, usable in `const` context.
    pub const DEFAULT: TimeoutConfig = TimeoutConfig {
        timeout: Duration::from_secs(1),
    };

    /// Checks the value against the contract's valid range.
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        if self.timeout.is_zero() {
            return Err(crate::ConfigError::new(
                "timeout",
                "timeout",
                "must be more than 0",
            ));
        }
        Ok(())
    }
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Runs `future` for at most `after`; on expiry drops it and fails with `Timeout`.
#[inline]
pub async fn with_timeout<F: Future>(
    after: Duration,
    future: F,
) -> Result<F::Output, ResilienceError> {
    tokio::time::timeout(after, future)
        .await
        .map_err(|_| ResilienceError::Timeout { after })
}
