//! Retry's configuration (contract §2.2) and its pure decision.
//!
//! - this module: [`RetryConfig`], [`Backoff`] and their validation;
//! - `policy.rs`: the pure decision ([`RetryConfig::decide`]) and the backoff arithmetic, which
//!   read nothing but the configuration (the runtime's pipeline drives it; `specs/Retry.tla`
//!   describes it).

mod policy;

use std::time::Duration;

use crate::ConfigError;

pub use policy::RetryDecision;

/// How the delay grows between attempts (contract §2.2). For retry n (n = 1, 2, …):
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Backoff {
    /// base · 2^(n−1)
    #[default]
    Exponential,
    /// base · n
    Linear,
    /// base
    Fixed,
}

impl Backoff {
    /// Every backoff, in the contract's order.
    pub const ALL: [Backoff; 3] = [Backoff::Exponential, Backoff::Linear, Backoff::Fixed];

    /// The names the `backoff` key takes, in the contract's order.
    pub const NAMES: [&'static str; 3] = [
        Backoff::ALL[0].name(),
        Backoff::ALL[1].name(),
        Backoff::ALL[2].name(),
    ];

    /// The name the `backoff` key takes for this backoff: `"exponential"`, `"linear"` or
    /// `"fixed"`.
    pub const fn name(self) -> &'static str {
        match self {
            Backoff::Exponential => "exponential",
            Backoff::Linear => "linear",
            Backoff::Fixed => "fixed",
        }
    }

    /// The backoff named `name` (one of [`NAMES`](Self::NAMES), exactly), if any.
    pub fn from_name(name: &str) -> Option<Backoff> {
        Backoff::ALL
            .into_iter()
            .find(|backoff| backoff.name() == name)
    }
}

/// Configuration of retries (contract §2.2).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
// `remote = "Self"`: the derives write inherent functions, and `validated_serde!` implements
// the traits through them, checking the ranges after deserializing.
#[cfg_attr(
    feature = "serde",
    serde(default, deny_unknown_fields, remote = "Self")
)]
pub struct RetryConfig {
    /// Attempts after the first (so up to `max_retries + 1` executions). Default 3, at most
    /// [`MAX_RETRIES`].
    pub max_retries: u32,
    /// The delay unit of the backoff. Default 100 ms.
    #[cfg_attr(feature = "serde", serde(with = "crate::duration::text"))]
    pub base_delay: Duration,
    /// Cap on each delay, jitter included. Default 2 s, at least `base_delay`.
    #[cfg_attr(feature = "serde", serde(with = "crate::duration::text"))]
    pub max_delay: Duration,
    /// Each delay is multiplied by a uniform factor in [1 − j, 1 + j]. Default 0.1, in [0, 1].
    pub jitter_factor: f64,
    /// How the delay grows. Default exponential.
    pub backoff: Backoff,
    /// No new attempt starts once this much time has passed since the first. Default none;
    /// when set, more than `base_delay`.
    #[cfg_attr(
        feature = "serde",
        serde(
            with = "crate::duration::text::option",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub max_duration: Option<Duration>,
}

/// The largest `max_retries` accepted.
pub const MAX_RETRIES: u32 = 1000;

const POLICY: &str = "retry";

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

    /// Every value outside the contract's valid ranges, in the order of the contract's keys;
    /// empty when the configuration is valid. A rule between two keys is reported on the one
    /// that must give way to the other (`max_delay` against `base_delay`, `max_duration`
    /// against `base_delay`).
    pub fn violations(&self) -> Vec<ConfigError> {
        let mut found = Vec::new();
        let mut fail = |key, problem: String| found.push(ConfigError::new(POLICY, key, problem));
        let base = self.base_delay;
        if self.max_retries > MAX_RETRIES {
            fail("max_retries", format!("must be in 0 ..= {MAX_RETRIES}"));
        }
        if self.max_delay < base {
            fail(
                "max_delay",
                format!(
                    "({:?}) must be at least `base_delay` ({base:?})",
                    self.max_delay
                ),
            );
        }
        if !(0.0..=1.0).contains(&self.jitter_factor) {
            fail("jitter_factor", "must be in [0, 1]".into());
        }
        if let Some(max_duration) = self.max_duration
            && max_duration <= base
        {
            fail(
                "max_duration",
                format!("must be more than `base_delay` ({base:?})"),
            );
        }
        found
    }

    /// Checks every value against the contract's valid ranges: the first of
    /// [`violations`](Self::violations).
    pub fn validate(&self) -> Result<(), ConfigError> {
        crate::first(self.violations())
    }
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_names_round_trip() {
        assert_eq!(Backoff::NAMES, ["exponential", "linear", "fixed"]);
        for backoff in Backoff::ALL {
            assert_eq!(Backoff::from_name(backoff.name()), Some(backoff));
        }
        for unknown in ["", "Exponential", "quadratic", " fixed"] {
            assert_eq!(Backoff::from_name(unknown), None, "{unknown:?}");
        }
        assert_eq!(Backoff::default(), RetryConfig::DEFAULT.backoff);
    }

    #[test]
    fn accepts_the_default_and_every_bound() {
        let base = RetryConfig::DEFAULT.base_delay;
        for config in [
            RetryConfig::default(),
            RetryConfig {
                max_retries: 0,
                jitter_factor: 0.0,
                base_delay: Duration::ZERO,
                max_delay: Duration::ZERO,
                max_duration: Some(Duration::from_nanos(1)),
                ..RetryConfig::DEFAULT
            },
            RetryConfig {
                max_retries: MAX_RETRIES,
                jitter_factor: 1.0,
                max_delay: base,
                max_duration: Some(base + Duration::from_nanos(1)),
                ..RetryConfig::DEFAULT
            },
        ] {
            assert_eq!(config.validate(), Ok(()), "{config:?}");
        }
    }

    #[test]
    fn reports_every_violation_in_key_order() {
        let config = RetryConfig {
            max_retries: MAX_RETRIES + 1,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_millis(500),
            jitter_factor: f64::NAN,
            backoff: Backoff::Fixed,
            max_duration: Some(Duration::from_secs(1)),
        };
        let violations = config.violations();
        let keys: Vec<_> = violations.iter().map(|e| e.key).collect();
        assert_eq!(
            keys,
            ["max_retries", "max_delay", "jitter_factor", "max_duration"]
        );
        assert_eq!(
            violations[1].problem,
            "(500ms) must be at least `base_delay` (1s)"
        );
        assert_eq!(config.validate(), Err(violations[0].clone()));
    }
}

#[cfg(feature = "serde")]
crate::validated_serde!(RetryConfig);
