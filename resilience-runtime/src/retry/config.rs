use std::time::Duration;

use crate::error::ConfigError;

/// How the delay grows between attempts (CONTRACT §2.2). For retry n (n = 1, 2, …):
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Backoff {
    /// base · 2^(n−1)
    #[default]
    Exponential,
    /// base · n
    Linear,
    /// base
    Fixed,
}

/// Configuration of retries (CONTRACT §2.2).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Attempts after the first (so up to `max_retries + 1` executions). Default 3, at most 1000.
    pub max_retries: u32,
    /// The delay unit of the backoff. Default 100 ms.
    pub base_delay: Duration,
    /// Cap on each delay, jitter included. Default 2 s, at least `base_delay`.
    pub max_delay: Duration,
    /// Each delay is multiplied by a uniform factor in [1 − j, 1 + j]. Default 0.1, in [0, 1].
    pub jitter_factor: f64,
    /// How the delay grows. Default exponential.
    pub backoff: Backoff,
    /// No new attempt starts once this much time has passed since the first. Default none;
    /// when set, more than `base_delay`.
    pub max_duration: Option<Duration>,
}

/// The largest `max_retries` accepted.
pub const MAX_RETRIES: u32 = 1000;

impl RetryConfig {
    /// The contract's defaults, usable in `const` context.
    pub const DEFAULT: RetryConfig = RetryConfig {
        max_retries: 3,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(2),
        jitter_factor: 0.1,
        backoff: Backoff::Exponential,
        max_duration: None,
    };

    /// Checks every value against the contract's valid ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |key, problem: &str| Err(ConfigError::new("retry", key, problem));
        if self.max_retries > MAX_RETRIES {
            return err("max_retries", "must be at most 1000");
        }
        if self.max_delay < self.base_delay {
            return err("max_delay", "must be at least base_delay");
        }
        if !(0.0..=1.0).contains(&self.jitter_factor) {
            return err("jitter_factor", "must be in [0, 1]");
        }
        if let Some(max_duration) = self.max_duration
            && max_duration <= self.base_delay
        {
            return err("max_duration", "must be more than base_delay");
        }
        Ok(())
    }
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}
