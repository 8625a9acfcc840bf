//! Timeout (contract §2.3): bounds each attempt. On expiry the attempt's future is dropped, which
//! cancels it for real, and the attempt fails with `ResilienceError::Timeout`.
//!
//! A timeout has no state to model: the driver is a tokio `Sleep`, armed when the attempt first
//! waits (`layers::Bounded`, the one bounded future every entry point uses).
//! [`TimeoutConfig`] and its validation are in `resilience-config`, which the attribute macros
//! call at compile time too.

use std::future::Future;
use std::time::Duration;

use crate::error::ResilienceError;

pub use resilience_config::timeout::TimeoutConfig;

/// Runs `future` for at most `after` (shortened to the request's deadline, if any); on expiry
/// drops it and fails with `Timeout`. The attempts of every entry point are bounded the same
/// way.
#[inline]
pub async fn with_timeout<F: Future>(
    after: Duration,
    future: F,
) -> Result<F::Output, ResilienceError> {
    crate::layers::TimeoutLayer::bound(&after, future).await
}
