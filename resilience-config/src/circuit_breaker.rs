//! The circuit breaker's configuration (contract §2.1).

use std::time::Duration;

use crate::ConfigError;

/// Configuration of a circuit breaker (contract §2.1).
///
/// The default mode counts consecutive failures ([`max_failures`](Self::max_failures)); setting
/// [`failure_rate`](Self::failure_rate) switches to the count-based failure-rate mode over the
/// last [`window`](Self::window) outcomes, and `max_failures` is then ignored.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
// `remote = "Self"`: the derives write inherent functions, and `validated_serde!` implements
// the traits through them, checking the ranges after deserializing.
#[cfg_attr(
    feature = "serde",
    serde(default, deny_unknown_fields, remote = "Self")
)]
pub struct CircuitBreakerConfig {
    /// Consecutive-failure mode: opens after this many failures in a row. Default 5, at least 1.
    pub max_failures: u32,
    /// Open → HalfOpen after this long (checked on the next call). Default 10 s, more than 0.
    #[cfg_attr(feature = "serde", serde(with = "crate::duration::text"))]
    pub reset_timeout: Duration,
    /// Trial calls admitted in HalfOpen; all must succeed to close. Default 1, in
    /// 1 ..= [`MAX_HALF_OPEN_ALLOWED_CALLS`].
    pub half_open_allowed_calls: u32,
    /// Rate mode: opens when failed/recorded ≥ this over the window. In (0, 1]. Default `None`
    /// (consecutive-failure mode).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub failure_rate: Option<f64>,
    /// Rate mode: the last N outcomes are the window. Default 20, in 1 ..= [`MAX_WINDOW`].
    pub window: u32,
    /// Rate mode: no decision before this many outcomes are recorded. In 1 ..= `window`;
    /// `None` means equal to `window`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub min_calls: Option<u32>,
}

/// The largest `half_open_allowed_calls` the breaker's state word can count (2^24 − 1).
pub const MAX_HALF_OPEN_ALLOWED_CALLS: u32 = (1 << 24) - 1;
/// The largest `window` accepted (its ring takes `window / 8` bytes).
pub const MAX_WINDOW: u32 = 1 << 20;

const POLICY: &str = "circuit_breaker";

impl CircuitBreakerConfig {
    /// The contract's defaults, usable in `const` context (generated code builds its
    /// configuration in a `static`).
    pub const DEFAULT: CircuitBreakerConfig = CircuitBreakerConfig {
        max_failures: 5,
        reset_timeout: Duration::from_secs(10),
        half_open_allowed_calls: 1,
        failure_rate: None,
        window: 20,
        min_calls: None,
    };

    /// Every value outside the contract's valid ranges, in the order of the contract's keys;
    /// empty when the configuration is valid.
    pub fn violations(&self) -> Vec<ConfigError> {
        let mut found = Vec::new();
        let mut fail = |key, problem: String| found.push(ConfigError::new(POLICY, key, problem));
        if self.max_failures == 0 {
            fail("max_failures", "must be at least 1".into());
        }
        if let Some(rate) = self.failure_rate
            && !(rate > 0.0 && rate <= 1.0)
        {
            fail("failure_rate", "must be in (0, 1]".into());
        }
        if !(1..=MAX_WINDOW).contains(&self.window) {
            fail("window", format!("must be in 1 ..= {MAX_WINDOW}"));
        }
        if let Some(min_calls) = self.min_calls
            && !(1..=self.window).contains(&min_calls)
        {
            fail(
                "min_calls",
                format!("must be in 1 ..= window ({})", self.window),
            );
        }
        if self.reset_timeout.is_zero() {
            fail("reset_timeout", "must be more than 0".into());
        }
        if !(1..=MAX_HALF_OPEN_ALLOWED_CALLS).contains(&self.half_open_allowed_calls) {
            fail(
                "half_open_allowed_calls",
                format!("must be in 1 ..= {MAX_HALF_OPEN_ALLOWED_CALLS}"),
            );
        }
        found
    }

    /// Checks every value against the contract's valid ranges: the first of
    /// [`violations`](Self::violations).
    pub fn validate(&self) -> Result<(), ConfigError> {
        crate::first(self.violations())
    }

    /// `min_calls` with its default (`window`) applied.
    pub fn effective_min_calls(&self) -> u32 {
        self.min_calls.unwrap_or(self.window)
    }
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(config: &CircuitBreakerConfig) -> Vec<&'static str> {
        config.violations().iter().map(|error| error.key).collect()
    }

    #[test]
    fn the_default_is_valid() {
        assert_eq!(CircuitBreakerConfig::default().validate(), Ok(()));
    }

    #[test]
    fn accepts_every_bound() {
        for config in [
            CircuitBreakerConfig {
                max_failures: 1,
                half_open_allowed_calls: MAX_HALF_OPEN_ALLOWED_CALLS,
                failure_rate: Some(1.0),
                window: MAX_WINDOW,
                min_calls: Some(MAX_WINDOW),
                reset_timeout: Duration::from_nanos(1),
            },
            CircuitBreakerConfig {
                half_open_allowed_calls: 1,
                failure_rate: Some(f64::MIN_POSITIVE),
                window: 1,
                min_calls: Some(1),
                ..CircuitBreakerConfig::DEFAULT
            },
        ] {
            assert_eq!(config.validate(), Ok(()), "{config:?}");
        }
    }

    #[test]
    fn reports_every_violation_in_key_order() {
        let config = CircuitBreakerConfig {
            max_failures: 0,
            reset_timeout: Duration::ZERO,
            half_open_allowed_calls: MAX_HALF_OPEN_ALLOWED_CALLS + 1,
            failure_rate: Some(f64::NAN),
            window: MAX_WINDOW + 1,
            min_calls: Some(0),
        };
        assert_eq!(
            keys(&config),
            [
                "max_failures",
                "failure_rate",
                "window",
                "min_calls",
                "reset_timeout",
                "half_open_allowed_calls"
            ]
        );
        let first = config.validate().expect_err("invalid config validated");
        assert_eq!(
            (first.policy, first.key),
            ("circuit_breaker", "max_failures")
        );
    }

    #[test]
    fn min_calls_is_bounded_by_the_window_it_goes_with() {
        let config = CircuitBreakerConfig {
            window: 10,
            min_calls: Some(11),
            ..CircuitBreakerConfig::DEFAULT
        };
        let error = config
            .validate()
            .expect_err("min_calls above window validated");
        assert_eq!(error.key, "min_calls");
        assert_eq!(error.problem, "must be in 1 ..= window (10)");
        assert_eq!(config.effective_min_calls(), 11);
        assert_eq!(CircuitBreakerConfig::DEFAULT.effective_min_calls(), 20);
    }

    #[test]
    fn failure_rate_outside_zero_to_one_is_refused() {
        for rate in [0.0, -0.5, 1.0 + f64::EPSILON, f64::INFINITY, f64::NAN] {
            let config = CircuitBreakerConfig {
                failure_rate: Some(rate),
                ..CircuitBreakerConfig::DEFAULT
            };
            assert_eq!(keys(&config), ["failure_rate"], "{rate}");
        }
    }
}

#[cfg(feature = "serde")]
crate::validated_serde!(CircuitBreakerConfig);
