//! Retry (CONTRACT §2.2): runs a failed call again after a backoff delay.
//!
//! - `policy.rs`: the pure decision ([`RetryConfig::decide`]) and the backoff arithmetic;
//! - `config.rs`: [`RetryConfig`], [`Backoff`] and validation.
//!
//! The loop that sleeps between attempts is the pipeline's outer layer (`pipeline.rs`), because
//! every attempt must pass the inner layers again.

mod config;
mod policy;

pub use config::{Backoff, MAX_RETRIES, RetryConfig};
pub use policy::RetryDecision;
