//! # resilience
//!
//! Fault tolerance for async Rust services: circuit breakers, retries, timeouts, bulkheads and
//! fallbacks, composed in one fixed order (fallback → retry → circuit breaker → timeout →
//! bulkhead → discover → operation), plus service discovery with load balancing
//! (`#[discover]` injects a [`ServiceClient`] bound to the instance picked for each attempt).
//!
//! ```
//! use resilience::{ResilienceFacade, BoxError};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let resilience = ResilienceFacade::new();
//! let data = resilience
//!     .execute(
//!         "my_service",
//!         "get_data",
//!         || async { Ok::<_, BoxError>("Data retrieved successfully") },
//!         Some(|| async { Ok("Fallback data") }),
//!     )
//!     .await?;
//! assert_eq!(data, "Data retrieved successfully");
//! # Ok(())
//! # }
//! ```
//!
//! Semantics (names, defaults, ranges, errors, composition order) are those of the project's
//! contract; each item's rustdoc states them.

#[cfg(feature = "discovery")]
pub use resilience_discovery as discovery;
#[cfg(feature = "discovery")]
pub use resilience_discovery::{
    Balancer, CallOutcome, DiscoveryConfig, DiscoveryError, Instance, InstanceId, OutlierConfig,
    Route, ServiceClient, ServiceDiscovery,
};
#[doc = include_str!("../docs/attributes/bulkhead.md")]
pub use resilience_macros::bulkhead;
#[doc = include_str!("../docs/attributes/circuit_breaker.md")]
pub use resilience_macros::circuit_breaker;
#[cfg(feature = "discovery")]
#[doc = include_str!("../docs/attributes/discover.md")]
#[doc = ""]
#[doc = "Requires the cargo feature `discovery` (on by default)."]
pub use resilience_macros::discover;
#[doc = include_str!("../docs/attributes/fallback.md")]
pub use resilience_macros::fallback;
#[doc = include_str!("../docs/attributes/retry.md")]
pub use resilience_macros::retry;
#[doc = include_str!("../docs/attributes/timeout.md")]
pub use resilience_macros::timeout;
pub use resilience_runtime::{
    Backoff, BoxError, BreakerPermit, Bulkhead, BulkheadConfig, BulkheadHandle, BulkheadPermit,
    CircuitBreaker, CircuitBreakerConfig, CircuitBreakerHandle, CircuitBreakerMetrics,
    CircuitState, ConfigError, Failure, NoFallback, Pipeline, Registry, ResilienceConfig,
    ResilienceError, ResilienceFacade, Retries, RetryConfig, TimeoutConfig, registry,
};

/// Items for generated code only: not part of the public API, may change in any release.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "discovery")]
    pub use resilience_discovery as discovery;
    pub use resilience_runtime::*;
}
