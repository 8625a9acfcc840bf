//! Bulkhead (contract §2.4): bounds how many calls run at once and how many wait, so one slow
//! dependency cannot take every task of the service.
//!
//! - `state.rs`: the pure state machine (`step`);
//! - `driver.rs`: the driver; `slots.rs`: its FIFO semaphore, one compare-and-swap to take or
//!   give back a slot when nobody waits; `monitor.rs` (debug and loom builds): checks every
//!   transition of `slots.rs` against `step`;
//! - [`BulkheadConfig`] and its validation: in `resilience-config`, which the attribute macros
//!   call at compile time too; re-exported here.

mod driver;
#[cfg(any(debug_assertions, loom))]
mod monitor;
mod slots;
/// The pure state machine (what the TLA+ spec describes and the model checkers explore): public
/// only with the feature `internals`, for the `verification` crate and the spec checks; not part
/// of the API.
#[cfg(any(feature = "internals", loom))]
pub mod state;
#[cfg(not(any(feature = "internals", loom)))]
#[allow(unreachable_pub, dead_code)]
mod state;

pub use driver::{Bulkhead, BulkheadPermit};
pub use resilience_config::bulkhead::{BulkheadConfig, MAX_CONCURRENT_CALLS};
