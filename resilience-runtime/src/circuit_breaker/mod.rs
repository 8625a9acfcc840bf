//! Circuit breaker (contract §2.1): stops calling a dependency that keeps failing, and probes it
//! again after a while.
//!
//! - `state.rs`: the pure state machine (`step`), what `specs/CircuitBreaker.tla` describes;
//! - `window.rs`: the rate mode's lock-free count-based window;
//! - `driver.rs`: the driver, the state as one atomic word; `monitor.rs` (debug and loom
//!   builds): checks each of its transitions against the spec's actions;
//! - [`CircuitBreakerConfig`] and its validation: in `resilience-config`, which the attribute
//!   macros call at compile time too; re-exported here.

mod driver;
#[cfg(any(debug_assertions, loom))]
mod monitor;
/// The pure state machine (what the TLA+ spec describes and the model checkers explore): public
/// only with the feature `internals`, for the `verification` crate and the spec checks; not part
/// of the API.
#[cfg(any(feature = "internals", loom))]
pub mod state;
#[cfg(not(any(feature = "internals", loom)))]
#[allow(unreachable_pub, dead_code)]
mod state;
mod window;

pub use driver::{BreakerPermit, CircuitBreaker, CircuitBreakerMetrics};
pub use resilience_config::circuit_breaker::{
    CircuitBreakerConfig, MAX_HALF_OPEN_ALLOWED_CALLS, MAX_WINDOW,
};
pub use state::CircuitState;
