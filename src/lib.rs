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
//!
//! # Requires tokio
//!
//! The attributes, the programmatic API and [`discovery`] run on tokio: call them inside a
//! tokio runtime whose timer is enabled. All their timing (backoff, timeouts, `max_wait`,
//! `reset_timeout`) goes through `tokio::time`: outside a runtime, or on one without its timer,
//! the first timer (a timeout, a retry's backoff) panics. This crate turns on the tokio features
//! it uses itself (`time` and `sync`; `rt` and `net` for discovery's health checks and
//! [`ServiceClient`]); your own tokio dependency needs what starts the runtime: `macros` and
//! `rt-multi-thread` for `#[tokio::main]` (or `rt` for `flavor = "current_thread"`), and
//! `test-util` in dev-dependencies for the paused clock. A runtime built by hand needs
//! `enable_time()` (`enable_all()` with discovery, whose HTTP and TCP checks use tokio's I/O
//! driver too).
//!
//! Tests run exactly and instantly on tokio's paused clock: under
//! `#[tokio::test(start_paused = true)]` backoffs, timeouts, `max_wait` and `reset_timeout`
//! elapse as soon as every task waits, with no real sleeping.
//!
//! ```
//! use std::time::Duration;
//! use resilience::{ResilienceError, timeout};
//!
//! #[timeout("500ms")]
//! async fn slow() -> Result<(), ResilienceError> {
//!     tokio::time::sleep(Duration::from_secs(60)).await;
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! // In a test: #[tokio::test(start_paused = true)]. The minute never passes in real time.
//! let started = tokio::time::Instant::now();
//! assert!(matches!(slow().await, Err(ResilienceError::Timeout { .. })));
//! assert_eq!(started.elapsed(), Duration::from_millis(500));
//! # }
//! ```

// The crate docs link discovery's items, which exist only with the `discovery` feature.
#![cfg_attr(not(feature = "discovery"), allow(rustdoc::broken_intra_doc_links))]

#[cfg(feature = "discovery")]
pub use resilience_discovery as discovery;
/// Options of the etcd backend ([`ServiceDiscovery::connect_etcd`]). Requires the cargo
/// feature `etcd`.
#[cfg(feature = "etcd")]
pub use resilience_discovery::EtcdOptions;
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
/// The public contract: every name, default, range, error and the composition order that users
/// (and every test) may rely on. Other pages cite it as *contract §N*.
// Rendered, not tested: its snippets are the contract's shorthand (`..`, `?` outside a function).
#[cfg(all(doc, not(doctest)))]
#[doc = include_str!("../docs/CONTRACT.md")]
pub mod contract {}

/// Configuration overrides (contract §7).
pub use resilience_runtime::config;
/// The event stream (contract §8): [`Registry::subscribe`].
pub use resilience_runtime::events;
/// The registry's snapshot (contract §8): [`Registry::snapshot`].
pub use resilience_runtime::snapshot;
pub use resilience_runtime::{
    Backoff, BoxError, BreakerPermit, Bulkhead, BulkheadConfig, BulkheadHandle, BulkheadPermit,
    CircuitBreaker, CircuitBreakerConfig, CircuitBreakerHandle, CircuitBreakerMetrics,
    CircuitState, ConfigError, Failure, NoFallback, Pipeline, PolicyConfig, PolicyInfo, PolicyKind,
    Registry, ResilienceConfig, ResilienceError, ResilienceFacade, Retries, RetryConfig,
    RetryCounts, RetryOutcome, RetryOutcomes, TimeoutConfig, TimeoutCounts, registry,
};

/// The policies as tower layers, with HTTP and gRPC response classification (contract §9).
/// Requires the cargo feature `tower`.
#[cfg(feature = "tower")]
pub use resilience_runtime::tower;
pub use resilience_runtime::{RetryBudget, RetryBudgetConfig, budget};

/// What generated code names, by name, and nothing else: not part of the public API, changed in
/// any release. The facade pins the macros and the runtime to its own exact version, so code
/// generated by one version never meets the runtime of another.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "discovery")]
    pub use resilience_discovery as discovery;
    pub use resilience_runtime::__generated::{
        BreakerSite, BulkheadSite, CloneArgument, Declaration, Failure, FallbackFor, FromRejection,
        Layers, NoLayer, ResultReturn, Retries, RetrySite, TimeoutSite, assert_resilient_return,
        attempt_output, into_error, inventory, rejection_converter,
    };
    pub use resilience_runtime::__pipeline as pipeline;
    pub use resilience_runtime::{
        Backoff, BulkheadConfig, CircuitBreakerConfig, ConfigError, ResilienceError, RetryConfig,
    };
}
