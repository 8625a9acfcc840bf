//! Configuration of a [`ServiceDiscovery`](crate::ServiceDiscovery), and its validation: every
//! field has a range ([`DiscoveryConfig::validate`]); a value outside it is refused by
//! [`ServiceDiscovery::try_with_config`](crate::ServiceDiscovery::try_with_config), and
//! [`ServiceDiscovery::with_config`](crate::ServiceDiscovery::with_config) logs it and uses the
//! nearest value in range instead ([`DiscoveryConfig::sanitized`]), so nothing computes with it
//! later.

use std::time::Duration;

use crate::error::DiscoveryError;

/// The shortest health-check interval and timeout accepted.
const MIN_HEALTH_DURATION: Duration = Duration::from_millis(1);

/// Configuration of a [`ServiceDiscovery`](crate::ServiceDiscovery) (seed-compatible fields
/// first).
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryConfig {
    /// Instances one service may have; a registration beyond it is refused. At least 1.
    /// Default 1,000.
    pub max_instances: usize,
    /// Default interval of active health checks. At least 1 ms. Default 10 s.
    pub health_check_interval: Duration,
    /// Default timeout of one health check (also each check of
    /// [`check_all_health`](crate::ServiceDiscovery::check_all_health)). At least 1 ms.
    /// Default 2 s.
    pub health_check_timeout: Duration,
    /// Bounded load for the least-loaded balancers (`"p2c"`, `"least_connections"`), an integer
    /// percentage (contract §5): an instance carrying more than `(100 + max_imbalance) %` of
    /// the service's mean load (plus one call) is passed over when another candidate is under
    /// that bound. Any value. Default 50.
    pub max_imbalance: u32,
    /// Passive health: outlier detection of `#[discover]` calls.
    pub outlier: OutlierConfig,
    /// This process's environment: when set, only instances whose `env` metadata equals it
    /// are ever picked or listed (environments never mix). Not empty when set. Default `None`:
    /// no filtering, for deployments with one environment.
    pub env: Option<String>,
    /// Envoy's panic threshold, in percent: when fewer than this share of a service's
    /// instances (of this environment) are eligible (healthy and not ejected), picks balance
    /// over all of them, healthy or not, rather than pile every call onto the few left.
    /// [`discover`](crate::ServiceDiscovery::discover) still lists the eligible ones only, and
    /// with none eligible a pick is still refused (`NoInstance`). `0 ..= 100`; 0 turns it off.
    /// Default 50.
    pub panic_threshold_percent: u32,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            max_instances: 1_000,
            health_check_interval: Duration::from_secs(10),
            health_check_timeout: Duration::from_secs(2),
            max_imbalance: 50,
            outlier: OutlierConfig::default(),
            env: None,
            panic_threshold_percent: 50,
        }
    }
}

impl DiscoveryConfig {
    /// The first field out of its range ([`DiscoveryError::InvalidConfig`] names it), if any.
    pub fn validate(&self) -> Result<(), DiscoveryError> {
        let invalid = |key: &'static str, problem: &str| {
            Err(DiscoveryError::InvalidConfig {
                key,
                problem: problem.to_owned(),
            })
        };
        if self.max_instances == 0 {
            return invalid("max_instances", "must be at least 1");
        }
        if self.health_check_interval < MIN_HEALTH_DURATION {
            return invalid("health_check_interval", "must be at least 1 ms");
        }
        if self.health_check_timeout < MIN_HEALTH_DURATION {
            return invalid("health_check_timeout", "must be at least 1 ms");
        }
        if self.panic_threshold_percent > 100 {
            return invalid("panic_threshold_percent", "must be in 0 ..= 100");
        }
        if let Some(env) = &self.env
            && env.trim().is_empty()
        {
            return invalid(
                "env",
                "must not be empty when set (use `None` for no filtering)",
            );
        }
        self.outlier.validate()
    }

    /// The configuration with every field out of range replaced by the nearest value in range
    /// (an empty `env` by `None`, a NaN jitter by 0).
    pub fn sanitized(mut self) -> DiscoveryConfig {
        self.max_instances = self.max_instances.max(1);
        self.health_check_interval = self.health_check_interval.max(MIN_HEALTH_DURATION);
        self.health_check_timeout = self.health_check_timeout.max(MIN_HEALTH_DURATION);
        self.panic_threshold_percent = self.panic_threshold_percent.min(100);
        if self.env.as_ref().is_some_and(|env| env.trim().is_empty()) {
            self.env = None;
        }
        self.outlier = self.outlier.sanitized();
        self
    }
}

/// Outlier detection (contract §5; Envoy's consecutive-errors detector): consecutive failures
/// eject an instance for `base_ejection × times ejected` (at most `max_ejection`, with jitter;
/// the count decays while the instance stays in, see `decay_interval`); a readmitted instance
/// is on probation (one failure ejects it again).
///
/// An ejection never causes an outage: at most `max_ejected_percent` of a service's *healthy*
/// instances are ejected at once, and never the last one that is healthy and not ejected.
#[derive(Debug, Clone, PartialEq)]
pub struct OutlierConfig {
    /// Off switch. Default on.
    pub enabled: bool,
    /// Consecutive failures that eject. At least 1. Default 5.
    pub consecutive_failures: u32,
    /// First ejection's length. At most `max_ejection`. Default 30 s.
    pub base_ejection: Duration,
    /// Longest ejection. Default 300 s.
    pub max_ejection: Duration,
    /// At most this share of a service's healthy instances ejected at once, in percent
    /// (`0 ..= 100`; rounded down, and never all of them). Default 50.
    pub max_ejected_percent: u32,
    /// Each ejection is lengthened by a random share up to this fraction (`0.0 ..= 1.0`).
    /// Default 0.1.
    pub jitter_factor: f64,
    /// While an instance stays readmitted, its count of ejections (the multiplier of
    /// `base_ejection`) drops by one every `decay_interval`, as Envoy decrements it at every
    /// healthy `interval`: an instance that failed long ago starts again from `base_ejection`.
    /// Zero forgets past ejections at once. Default 10 s (Envoy's `interval`).
    pub decay_interval: Duration,
}

impl Default for OutlierConfig {
    fn default() -> Self {
        OutlierConfig {
            enabled: true,
            consecutive_failures: 5,
            base_ejection: Duration::from_secs(30),
            max_ejection: Duration::from_secs(300),
            max_ejected_percent: 50,
            jitter_factor: 0.1,
            decay_interval: Duration::from_secs(10),
        }
    }
}

impl OutlierConfig {
    /// The first field out of its range, if any (its key is prefixed `outlier.`).
    pub fn validate(&self) -> Result<(), DiscoveryError> {
        let invalid = |key: &'static str, problem: &str| {
            Err(DiscoveryError::InvalidConfig {
                key,
                problem: problem.to_owned(),
            })
        };
        if self.consecutive_failures == 0 {
            return invalid("outlier.consecutive_failures", "must be at least 1");
        }
        if self.base_ejection > self.max_ejection {
            return invalid(
                "outlier.base_ejection",
                "must be at most `outlier.max_ejection`",
            );
        }
        if self.max_ejected_percent > 100 {
            return invalid("outlier.max_ejected_percent", "must be in 0 ..= 100");
        }
        if !(0.0..=1.0).contains(&self.jitter_factor) {
            return invalid(
                "outlier.jitter_factor",
                "must be a number in 0.0 ..= 1.0 (not NaN)",
            );
        }
        Ok(())
    }

    /// The configuration with every field out of range replaced by the nearest value in range.
    pub fn sanitized(mut self) -> OutlierConfig {
        self.consecutive_failures = self.consecutive_failures.max(1);
        self.base_ejection = self.base_ejection.min(self.max_ejection);
        self.max_ejected_percent = self.max_ejected_percent.min(100);
        self.jitter_factor = if self.jitter_factor.is_nan() {
            0.0
        } else {
            self.jitter_factor.clamp(0.0, 1.0)
        };
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(DiscoveryConfig::default().validate(), Ok(()));
        assert_eq!(
            DiscoveryConfig::default().sanitized(),
            DiscoveryConfig::default()
        );
    }

    #[test]
    fn a_sanitized_configuration_is_valid() {
        let config = DiscoveryConfig {
            max_instances: 0,
            health_check_interval: Duration::ZERO,
            health_check_timeout: Duration::ZERO,
            panic_threshold_percent: 101,
            env: Some(" ".into()),
            outlier: OutlierConfig {
                consecutive_failures: 0,
                base_ejection: Duration::MAX,
                max_ejection: Duration::from_secs(1),
                max_ejected_percent: 1000,
                jitter_factor: f64::NAN,
                ..OutlierConfig::default()
            },
            ..DiscoveryConfig::default()
        };
        assert!(config.validate().is_err());
        let sanitized = config.sanitized();
        assert_eq!(sanitized.validate(), Ok(()));
        assert_eq!(sanitized.outlier.base_ejection, Duration::from_secs(1));
        assert_eq!(sanitized.env, None);
    }
}
