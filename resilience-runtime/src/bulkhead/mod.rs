//! Bulkhead (CONTRACT §2.4): bounds how many calls run at once and how many wait, so one slow
//! dependency cannot take every task of the service.
//!
//! - `state.rs`: the pure state machine ([`step`]);
//! - `bulkhead.rs`: the driver; `slots.rs`: its FIFO semaphore, one compare-and-swap to take or
//!   give back a slot when nobody waits;
//! - [`BulkheadConfig`] and its validation: in `resilience-config`, which the attribute macros
//!   call at compile time too; re-exported here.

#[allow(clippy::module_inception)]
mod bulkhead;
mod slots;
pub mod state;

pub use bulkhead::{Bulkhead, BulkheadPermit};
pub use resilience_config::bulkhead::{BulkheadConfig, MAX_CONCURRENT_CALLS};
pub use state::step;
