//! The runtime of `resilience`: each policy as a pure state machine with a thin driver, the
//! pipeline that composes them, the process-wide registry, the errors and the programmatic API.
//!
//! *Contract §N* refers to the public contract: the page
//! [`resilience::contract`](https://docs.rs/resilience/latest/resilience/contract/) of the facade's
//! documentation, `docs/CONTRACT.md` in the repository.
//!
//! Users depend on the facade crate `resilience`, which re-exports everything here; generated
//! code reaches it through `::resilience::__private`.
//!
//! One module per policy, each split the same way: `state.rs` (the pure `step`: no tokio, no
//! clock, time is an input) and the driver. Each policy's configuration (the contract's keys,
//! defaults and ranges) is defined once, in `resilience-config`, which the attribute macros
//! call at compile time too; each module re-exports its own.

pub mod budget;
pub mod bulkhead;
pub mod circuit_breaker;
pub mod config;
mod error;
pub mod events;
mod facade;
mod failure;
mod layers;
mod macro_support;
mod metrics;
mod pipeline;
mod registry;
pub mod retry;
mod site;
pub mod snapshot;
mod striped;
mod sync;
pub mod timeout;
#[cfg(feature = "tower")]
pub mod tower;

pub use budget::{RetryBudget, RetryBudgetConfig};
pub use bulkhead::{Bulkhead, BulkheadConfig, BulkheadPermit};
pub use circuit_breaker::{
    BreakerPermit, CircuitBreaker, CircuitBreakerConfig, CircuitBreakerMetrics, CircuitState,
};
pub use error::{BoxError, ConfigError, ResilienceError};
pub use facade::{NoFallback, ResilienceConfig, ResilienceFacade};
pub use failure::Failure;
pub use pipeline::{Pipeline, Retries, RetryRef};
pub use registry::{
    BulkheadHandle, CircuitBreakerHandle, PolicyConfig, PolicyInfo, PolicyKind, Registry, registry,
};
pub use retry::{Backoff, RetryConfig};
pub use site::{RetryCounts, RetryOutcome, RetryOutcomes, TimeoutCounts};
pub use timeout::TimeoutConfig;

/// What generated code and the runtime's own macros ([`__pipeline!`]) name, and nothing else:
/// not part of the public API, changed in any release (the facade pins this crate's exact
/// version, so generated code never meets another runtime).
#[doc(hidden)]
pub mod __generated {
    pub use crate::failure::Failure;
    pub use crate::layers::{
        Bounded, BreakerLayer, BulkheadLayer, Layers, MaybeBounded, NoLayer, OptionQueued,
        PanicGuard, QueuedSlot, TimeoutLayer, Unbounded, breaker_outcome, panic_guard,
        record_outcome,
    };
    pub use crate::macro_support::{
        CloneArgument, FallbackFor, FromRejection, ResultReturn, assert_resilient_return,
        attempt_output, into_error, rejection_converter,
    };
    pub use crate::pipeline::Retries;
    pub use crate::site::{
        BreakerSite, BulkheadSite, Declaration, RetrySite, SiteTimeout, TimeoutSite,
    };
    pub use inventory;
    pub use tokio::time::sleep;
}
