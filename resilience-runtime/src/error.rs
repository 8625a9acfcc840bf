//! The errors of contract §3: rejections raised by the policies themselves, kept apart from the
//! operation's own error type until the outermost layer converts them.

use std::time::Duration;

/// A boxed error, as returned by the closures of the programmatic API.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a resilient call did not produce the operation's value.
///
/// The first four variants are *rejections*: a policy refused or abandoned the call. Functions
/// annotated with the attributes receive them through `From<ResilienceError>` on their own error
/// type; [`Operation`](ResilienceError::Operation) only comes from the programmatic API, whose
/// closures return a [`BoxError`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResilienceError {
    /// The circuit breaker `name` is open (or half-open with every trial slot taken): the
    /// operation was not run.
    #[error("circuit breaker `{name}` is open")]
    CircuitOpen {
        /// The breaker's registry name.
        name: String,
    },
    /// The attempt did not finish within `after`; its future was dropped.
    #[error("timed out after {after:?}")]
    Timeout {
        /// The configured timeout.
        after: Duration,
    },
    /// The bulkhead `name` had no free slot and its queue was full, or the caller waited longer
    /// than `max_wait`.
    #[error("bulkhead `{name}` is full")]
    BulkheadFull {
        /// The bulkhead's registry name.
        name: String,
    },
    /// Service discovery found no eligible instance of `service`.
    #[error("no eligible instance of service `{service}`")]
    NoInstance {
        /// The service that was looked up.
        service: String,
    },
    /// The operation itself failed (programmatic API only).
    #[error("operation failed: {0}")]
    Operation(#[source] BoxError),
    /// The policy configuration is out of the contract's ranges, so no call is made (programmatic
    /// API only: the attributes reject such values at compile time).
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl ResilienceError {
    /// Whether the framework retries this rejection (contract §2.2): a `CircuitOpen` fails fast,
    /// everything else may succeed on another attempt.
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            ResilienceError::CircuitOpen { .. } | ResilienceError::Config(_)
        )
    }

    /// Whether this outcome of an attempt counts as a circuit-breaker failure: a timeout does,
    /// a full bulkhead does not (it says nothing about the dependency's health).
    pub fn is_breaker_failure(&self) -> bool {
        !matches!(
            self,
            ResilienceError::BulkheadFull { .. }
                | ResilienceError::CircuitOpen { .. }
                | ResilienceError::Config(_)
        )
    }
}

/// A configuration value outside the contract's valid range (defined in `resilience-config`,
/// which the attribute macros share).
pub use resilience_config::ConfigError;
