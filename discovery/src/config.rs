//! Configuration of a [`ServiceDiscovery`](crate::ServiceDiscovery).

use std::time::Duration;

/// Configuration of a [`ServiceDiscovery`](crate::ServiceDiscovery) (seed-compatible fields
/// first).
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryConfig {
    /// Instances one service may have; a registration beyond it is refused. Default 1,000.
    pub max_instances: usize,
    /// Default interval of active health checks. Default 10 s.
    pub health_check_interval: Duration,
    /// Default timeout of one health check. Default 2 s.
    pub health_check_timeout: Duration,
    /// Bounded load for the least-loaded balancers (`"p2c"`, `"least_connections"`): an
    /// instance whose in-flight count exceeds `(1 + max_imbalance) ×` the service's mean (plus
    /// one) is passed over when another candidate is under the bound. Default 0.5.
    pub max_imbalance: f64,
    /// Passive health: outlier detection of `#[discover]` calls.
    pub outlier: OutlierConfig,
    /// This process's environment: when set, only instances whose `env` metadata equals it
    /// are ever picked or listed (environments never mix). Default `None`: no filtering, for
    /// deployments with one environment.
    pub env: Option<String>,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            max_instances: 1_000,
            health_check_interval: Duration::from_secs(10),
            health_check_timeout: Duration::from_secs(2),
            max_imbalance: 0.5,
            outlier: OutlierConfig::default(),
            env: None,
        }
    }
}

/// Outlier detection (contract §5; Envoy's consecutive-errors detector): consecutive failures
/// eject an instance for `base_ejection × times ejected` (at most `max_ejection`, with jitter;
/// the count decays while the instance stays in, see `decay_interval`), never more than
/// `max_ejected_percent` of a service's instances; a readmitted instance is on probation (one
/// failure ejects it again).
#[derive(Debug, Clone, PartialEq)]
pub struct OutlierConfig {
    /// Off switch. Default on.
    pub enabled: bool,
    /// Consecutive failures that eject. Default 5.
    pub consecutive_failures: u32,
    /// First ejection's length. Default 30 s.
    pub base_ejection: Duration,
    /// Longest ejection. Default 300 s.
    pub max_ejection: Duration,
    /// At most this share of a service's instances ejected at once, in percent. Default 50.
    pub max_ejected_percent: u32,
    /// Each ejection is lengthened by a random share up to this fraction. Default 0.1.
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
