use std::time::Duration;

use crate::error::ConfigError;

/// Configuration of a circuit breaker (CONTRACT §2.1).
///
/// The default mode counts consecutive failures ([`max_failures`](Self::max_failures)); setting
/// [`failure_rate`](Self::failure_rate) switches to the count-based failure-rate mode over the
/// last [`window`](Self::window) outcomes, and `max_failures` is then ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitBreakerConfig {
    /// Consecutive-failure mode: opens after this many failures in a row. Default 5, at least 1.
    pub max_failures: u32,
    /// Open → HalfOpen after this long (checked on the next call). Default 10 s, more than 0.
    pub reset_timeout: Duration,
    /// Trial calls admitted in HalfOpen; all must succeed to close. Default 1, at least 1.
    pub half_open_allowed_calls: u32,
    /// Rate mode: opens when failed/recorded ≥ this over the window. In (0, 1]. Default `None`
    /// (consecutive-failure mode).
    pub failure_rate: Option<f64>,
    /// Rate mode: the last N outcomes are the window. Default 20, at least 1.
    pub window: u32,
    /// Rate mode: no decision before this many outcomes are recorded. In 1 ..= `window`;
    /// `None` means equal to `window`.
    pub min_calls: Option<u32>,
}

/// The largest `half_open_allowed_calls` the breaker's state word can count (2^24 − 1).
pub const MAX_HALF_OPEN_ALLOWED_CALLS: u32 = (1 << 24) - 1;
/// The largest `window` accepted (its ring takes `window / 8` bytes).
pub const MAX_WINDOW: u32 = 1 << 20;

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

    /// Checks every value against the contract's valid ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |key, problem: &str| Err(ConfigError::new("circuit_breaker", key, problem));
        if self.max_failures == 0 {
            return err("max_failures", "must be at least 1");
        }
        if self.reset_timeout.is_zero() {
            return err("reset_timeout", "must be more than 0");
        }
        if self.half_open_allowed_calls == 0 {
            return err("half_open_allowed_calls", "must be at least 1");
        }
        if self.half_open_allowed_calls > MAX_HALF_OPEN_ALLOWED_CALLS {
            return err("half_open_allowed_calls", "must be at most 16777215");
        }
        if let Some(rate) = self.failure_rate
            && !(rate > 0.0 && rate <= 1.0)
        {
            return err("failure_rate", "must be in (0, 1]");
        }
        if self.window == 0 {
            return err("window", "must be at least 1");
        }
        if self.window > MAX_WINDOW {
            return err("window", "must be at most 1048576");
        }
        if let Some(min_calls) = self.min_calls
            && (min_calls == 0 || min_calls > self.window)
        {
            return err("min_calls", "must be in 1 ..= window");
        }
        Ok(())
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
