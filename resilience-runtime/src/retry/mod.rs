//! Retry (contract §2.2): runs a failed call again after a backoff delay.
//!
//! [`RetryConfig`], [`Backoff`], their validation and the pure decision
//! ([`RetryConfig::decide`], with the backoff arithmetic) live in `resilience-config`, which the
//! attribute macros call at compile time too; they are re-exported here.
//!
//! The loop that sleeps between attempts is the pipeline's outer layer (`pipeline.rs`), because
//! every attempt must pass the inner layers again. In debug builds `monitor.rs` checks each of
//! its decisions against `specs/Retry.tla`.

pub use resilience_config::retry::{Backoff, MAX_RETRIES, RetryConfig, RetryDecision};

#[cfg(debug_assertions)]
pub(crate) mod monitor;
