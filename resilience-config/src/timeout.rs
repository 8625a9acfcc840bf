//! The timeout's configuration (contract §2.3 and §6).

use std::time::Duration;

use crate::ConfigError;

/// Configuration of the timeout (contract §2.3 and §6).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
// `remote = "Self"`: the derives write inherent functions, and `validated_serde!` implements
// the traits through them, checking the ranges after deserializing.
#[cfg_attr(
    feature = "serde",
    serde(default, deny_unknown_fields, remote = "Self")
)]
pub struct TimeoutConfig {
    /// How long one attempt may take. Default 1 s (MicroProfile's default); more than 0.
    #[cfg_attr(
        feature = "serde",
        serde(rename = "duration", alias = "timeout", with = "crate::duration::text")
    )]
    pub timeout: Duration,
}

impl TimeoutConfig {
    /// The default, usable in `const` context.
    pub const DEFAULT: TimeoutConfig = TimeoutConfig {
        timeout: Duration::from_secs(1),
    };

    /// Every value outside the contract's valid range; empty when the configuration is valid.
    pub fn violations(&self) -> Vec<ConfigError> {
        let mut found = Vec::new();
        if self.timeout.is_zero() {
            found.push(ConfigError::new(
                "timeout",
                "timeout",
                "must be more than 0",
            ));
        }
        found
    }

    /// Checks the value against the contract's valid range: the first of
    /// [`violations`](Self::violations).
    pub fn validate(&self) -> Result<(), ConfigError> {
        crate::first(self.violations())
    }
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_positive_timeout_is_valid_and_zero_is_not() {
        assert_eq!(TimeoutConfig::default().validate(), Ok(()));
        for timeout in [Duration::from_nanos(1), Duration::MAX] {
            assert_eq!(TimeoutConfig { timeout }.validate(), Ok(()));
        }
        let error = TimeoutConfig {
            timeout: Duration::ZERO,
        }
        .validate()
        .expect_err("a zero timeout validated");
        assert_eq!((error.policy, error.key), ("timeout", "timeout"));
    }
}

#[cfg(feature = "serde")]
crate::validated_serde!(TimeoutConfig);
