//! The bulkhead's configuration (contract §2.4).

use std::time::Duration;

use crate::ConfigError;

/// Configuration of a bulkhead (contract §2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
// `remote = "Self"`: the derives write inherent functions, and `validated_serde!` implements
// the traits through them, checking the ranges after deserializing.
#[cfg_attr(
    feature = "serde",
    serde(default, deny_unknown_fields, remote = "Self")
)]
pub struct BulkheadConfig {
    /// Bodies running at once. Default 20, in 1 ..= [`MAX_CONCURRENT_CALLS`].
    pub max_concurrent_calls: usize,
    /// Callers waiting for a slot, first in first out; beyond it `BulkheadFull` at once.
    /// Default 50; 0 means no queue.
    pub max_queue_size: usize,
    /// A queued caller gives up with `BulkheadFull` after this long. Default `None`: wait until
    /// admitted or cancelled; when set, more than 0.
    #[cfg_attr(
        feature = "serde",
        serde(
            with = "crate::duration::text::option",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub max_wait: Option<Duration>,
}

/// The largest `max_concurrent_calls` accepted (what the slot counter holds; the same limit as
/// tokio's semaphore).
pub const MAX_CONCURRENT_CALLS: usize = usize::MAX >> 3;

const POLICY: &str = "bulkhead";

impl BulkheadConfig {
    /// The contract's defaults, usable in `const` context.
    pub const DEFAULT: BulkheadConfig = BulkheadConfig {
        max_concurrent_calls: 20,
        max_queue_size: 50,
        max_wait: None,
    };

    /// Every value outside the contract's valid ranges, in the order of the contract's keys;
    /// empty when the configuration is valid.
    pub fn violations(&self) -> Vec<ConfigError> {
        let mut found = Vec::new();
        if self.max_concurrent_calls == 0 {
            found.push(ConfigError::new(
                POLICY,
                "max_concurrent_calls",
                "must be at least 1",
            ));
        } else if self.max_concurrent_calls > MAX_CONCURRENT_CALLS {
            found.push(ConfigError::new(
                POLICY,
                "max_concurrent_calls",
                format!("must be at most {MAX_CONCURRENT_CALLS} (what the slot counter holds)"),
            ));
        }
        if self.max_wait.is_some_and(|wait| wait.is_zero()) {
            found.push(ConfigError::new(POLICY, "max_wait", "must be more than 0"));
        }
        found
    }

    /// Checks every value against the contract's valid ranges: the first of
    /// [`violations`](Self::violations).
    pub fn validate(&self) -> Result<(), ConfigError> {
        crate::first(self.violations())
    }
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_default_and_every_bound() {
        for config in [
            BulkheadConfig::default(),
            BulkheadConfig {
                max_concurrent_calls: 1,
                max_queue_size: 0,
                max_wait: Some(Duration::from_nanos(1)),
            },
            BulkheadConfig {
                max_concurrent_calls: MAX_CONCURRENT_CALLS,
                max_queue_size: usize::MAX,
                max_wait: Some(Duration::MAX),
            },
        ] {
            assert_eq!(config.validate(), Ok(()), "{config:?}");
        }
    }

    #[test]
    fn reports_every_violation() {
        for calls in [0, MAX_CONCURRENT_CALLS + 1, usize::MAX] {
            let config = BulkheadConfig {
                max_concurrent_calls: calls,
                max_wait: Some(Duration::ZERO),
                ..BulkheadConfig::DEFAULT
            };
            let keys: Vec<_> = config.violations().iter().map(|e| e.key).collect();
            assert_eq!(keys, ["max_concurrent_calls", "max_wait"], "{calls}");
        }
    }
}

#[cfg(feature = "serde")]
crate::validated_serde!(BulkheadConfig);
