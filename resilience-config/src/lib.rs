//! The configuration of each policy of [`resilience`](https://docs.rs/resilience): the keys of
//! contract §2 with their defaults and valid ranges, and the duration syntax of the attributes.
//!
//! *Contract §N* refers to the public contract: the page
//! [`resilience::contract`](https://docs.rs/resilience/latest/resilience/contract/) of the facade's
//! documentation, `docs/CONTRACT.md` in the repository.
//!
//! This is the one definition of each rule. The runtime validates a configuration with it
//! before building a policy; the attribute macros build the same structs from the literals
//! they are given and call the same validation at compile time, so a value the runtime would
//! refuse never compiles and a value it accepts always does. Nothing here may depend on tokio,
//! a clock or another crate: the proc-macro crate builds it for the host.
//!
//! Users depend on `resilience`, which re-exports every type here at the paths its
//! documentation names.
//!
//! - [`circuit_breaker`], [`retry`], [`bulkhead`], [`timeout`]: one module per policy, each with
//!   its config struct (`DEFAULT`, [`Default`], `violations()`, `validate()`) and its bounds;
//! - [`duration`]: the duration literals (`"250ms"`, `"1s 500ms"`);
//! - [`ConfigError`]: a value outside its range, naming the policy and the key.

/// `Serialize` and a `Deserialize` that checks the contract's ranges (`validate()`), over the
/// inherent functions serde's derives write with `remote = "Self"`: a configuration read from
/// TOML or JSON is as valid as one built by the attributes, or an error naming the key.
#[cfg(feature = "serde")]
#[macro_export]
#[doc(hidden)]
macro_rules! validated_serde {
    ($config:ty) => {
        impl serde::Serialize for $config {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                <$config>::serialize(self, serializer)
            }
        }
        impl<'de> serde::Deserialize<'de> for $config {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let config = <$config>::deserialize(deserializer)?;
                config.validate().map_err(serde::de::Error::custom)?;
                Ok(config)
            }
        }
    };
}

pub mod bulkhead;
pub mod circuit_breaker;
pub mod duration;
mod error;
pub mod retry;
pub mod timeout;

pub use bulkhead::{BulkheadConfig, MAX_CONCURRENT_CALLS};
pub use circuit_breaker::{CircuitBreakerConfig, MAX_HALF_OPEN_ALLOWED_CALLS, MAX_WINDOW};
pub use error::ConfigError;
pub use retry::{Backoff, MAX_RETRIES, RetryConfig, RetryDecision};
pub use timeout::TimeoutConfig;

/// The first of `violations`, as `validate()` returns it.
fn first(violations: Vec<ConfigError>) -> Result<(), ConfigError> {
    match violations.into_iter().next() {
        Some(error) => Err(error),
        None => Ok(()),
    }
}
