//! The runtime of `resilience`: each policy as a pure state machine with a thin driver, the
//! pipeline that composes them, the process-wide registry, the errors and the programmatic API.
//!
//! Users depend on the facade crate `resilience`, which re-exports everything here; generated
//! code reaches it through `::resilience::__private`.
//!
//! One module per policy, each split the same way: `state.rs` (the pure `step`: no tokio, no
//! clock, time is an input) and the driver. Each policy's configuration (the contract's keys,
//! defaults and ranges) is defined once, in `resilience-config`, which the attribute macros
//! call at compile time too; each module re-exports its own.

pub mod bulkhead;
pub mod circuit_breaker;
mod error;
mod facade;
pub mod layers;
#[doc(hidden)]
pub mod macro_support;
pub mod pipeline;
mod registry;
pub mod retry;
pub mod site;
mod striped;
mod sync;
pub mod timeout;

pub use bulkhead::{Bulkhead, BulkheadConfig, BulkheadPermit};
pub use circuit_breaker::{
    BreakerPermit, CircuitBreaker, CircuitBreakerConfig, CircuitBreakerMetrics, CircuitState,
};
pub use error::{BoxError, ConfigError, ResilienceError};
pub use facade::{NoFallback, ResilienceConfig, ResilienceFacade};
pub use layers::{Layers, NoLayer};
pub use pipeline::{Failure, Pipeline, Retries};
pub use registry::{BulkheadHandle, CircuitBreakerHandle, Registry, registry};
pub use retry::{Backoff, RetryConfig};
pub use site::{BreakerSite, BulkheadSite, CallSite, SiteSpec};
pub use timeout::TimeoutConfig;
