//! Timeout (contract §2.3): bounds each attempt. On expiry the attempt's future is dropped, which
//! cancels it for real, and the attempt fails with `ResilienceError::Timeout`.
//!
//! A timeout has no state to model: the driver is `tokio::time::timeout` and nothing else, so it
//! costs what tokio's costs. [`TimeoutConfig`] and its validation are in `resilience-config`,
//! which the attribute macros call at compile time too.

use std::future::Future;
use std::time::Duration;

use crate::error::ResilienceError;

pub use resilience_config::timeout::TimeoutConfig;

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
