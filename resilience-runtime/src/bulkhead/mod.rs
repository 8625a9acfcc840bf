//! Bulkhead (CONTRACT §2.4): bounds how many calls run at once and how many wait, so one slow
//! dependency cannot take every task of the service.
//!
//! - `state.rs`: the pure state machine ([`step`]);
//! - `bulkhead.rs`: the driver on tokio's FIFO semaphore;
//! - `config.rs`: [`BulkheadConfig`] and its validation.

#[allow(clippy::module_inception)]
mod bulkhead;
mod config;
pub mod state;

pub use bulkhead::{Bulkhead, BulkheadPermit};
pub use config::{BulkheadConfig, MAX_CONCURRENT_CALLS};
pub use state::step;
