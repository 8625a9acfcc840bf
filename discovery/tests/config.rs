//! Every field of `DiscoveryConfig` and `OutlierConfig` validated (contract §5):
//! `try_with_config` returns the error naming the field, and `with_config` given any value
//! never panics later (it uses the nearest valid value), whatever a call then does.

use std::time::Duration;

use resilience_discovery::{
    Balancer, CallOutcome, DiscoveryConfig, DiscoveryError, Instance, OutlierConfig, Route,
    ServiceDiscovery,
};

/// Configurations each with one field out of range, and the key the error must name.
fn invalid() -> Vec<(&'static str, DiscoveryConfig)> {
    let outlier = |outlier: OutlierConfig| DiscoveryConfig {
        outlier,
        ..Default::default()
    };
    vec![
        (
            "max_instances",
            DiscoveryConfig {
                max_instances: 0,
                ..Default::default()
            },
        ),
        (
            "health_check_interval",
            DiscoveryConfig {
                health_check_interval: Duration::ZERO,
                ..Default::default()
            },
        ),
        (
            "health_check_timeout",
            DiscoveryConfig {
                health_check_timeout: Duration::ZERO,
                ..Default::default()
            },
        ),
        (
            "panic_threshold_percent",
            DiscoveryConfig {
                panic_threshold_percent: 101,
                ..Default::default()
            },
        ),
        (
            "env",
            DiscoveryConfig {
                env: Some(String::new()),
                ..Default::default()
            },
        ),
        (
            "outlier.consecutive_failures",
            outlier(OutlierConfig {
                consecutive_failures: 0,
                ..Default::default()
            }),
        ),
        (
            "outlier.base_ejection",
            outlier(OutlierConfig {
                base_ejection: Duration::MAX,
                ..Default::default()
            }),
        ),
        (
            "outlier.max_ejected_percent",
            outlier(OutlierConfig {
                max_ejected_percent: 101,
                ..Default::default()
            }),
        ),
        (
            "outlier.jitter_factor",
            outlier(OutlierConfig {
                jitter_factor: f64::NAN,
                ..Default::default()
            }),
        ),
        (
            "outlier.jitter_factor",
            outlier(OutlierConfig {
                jitter_factor: -0.5,
                ..Default::default()
            }),
        ),
        (
            "outlier.jitter_factor",
            outlier(OutlierConfig {
                jitter_factor: f64::INFINITY,
                ..Default::default()
            }),
        ),
    ]
}

#[test]
fn try_with_config_refuses_each_field_out_of_range_naming_it() {
    for (key, config) in invalid() {
        match ServiceDiscovery::try_with_config(config) {
            Err(DiscoveryError::InvalidConfig {
                key: named,
                problem,
            }) => {
                assert_eq!(named, key, "{problem}");
                let message = DiscoveryError::InvalidConfig { key, problem }.to_string();
                assert!(message.contains(key), "{message}");
            }
            other => panic!("{key}: {other:?}"),
        }
    }
    assert!(ServiceDiscovery::try_with_config(DiscoveryConfig::default()).is_ok());
}

#[test]
fn the_seed_writes_max_imbalance_as_an_integer_percentage() {
    let config = DiscoveryConfig {
        max_instances: 100,
        health_check_interval: Duration::from_secs(30),
        health_check_timeout: Duration::from_secs(5),
        max_imbalance: 100,
        ..Default::default()
    };
    assert!(ServiceDiscovery::try_with_config(config).is_ok());
}

/// Everything a discovery does with its configuration: picks with every balancer, failures
/// to ejection and readmission, a `check_all_health` pass.
async fn exercise(discovery: &ServiceDiscovery) {
    for n in 0..4u16 {
        let _ = discovery.register(Instance::new("svc", format!("{n}"), "127.0.0.1", 1000 + n));
    }
    for name in Balancer::NAMES {
        let route = Route::new("svc").balancer(Balancer::from_name(name).unwrap());
        for _ in 0..20 {
            if let Ok(call) = discovery.pick(&route, |_| false) {
                discovery.report(call, CallOutcome::Failure);
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(3600)).await;
    discovery
        .check_all_health(|instance| async move { instance.port % 2 == 0 })
        .await
        .unwrap();
    let _ = discovery.discover_one("svc");
}

#[tokio::test(start_paused = true)]
async fn with_config_never_panics_later_on_any_value() {
    let mut configs: Vec<DiscoveryConfig> = invalid().into_iter().map(|(_, c)| c).collect();
    configs.push(DiscoveryConfig {
        max_imbalance: u32::MAX,
        health_check_timeout: Duration::MAX,
        health_check_interval: Duration::MAX,
        panic_threshold_percent: 100,
        outlier: OutlierConfig {
            consecutive_failures: 1,
            base_ejection: Duration::MAX,
            max_ejection: Duration::MAX,
            max_ejected_percent: 100,
            jitter_factor: 1.0,
            decay_interval: Duration::MAX,
            ..Default::default()
        },
        ..Default::default()
    });
    configs.push(DiscoveryConfig {
        max_instances: usize::MAX,
        max_imbalance: 0,
        panic_threshold_percent: 0,
        outlier: OutlierConfig {
            consecutive_failures: u32::MAX,
            base_ejection: Duration::ZERO,
            max_ejection: Duration::ZERO,
            max_ejected_percent: 0,
            decay_interval: Duration::ZERO,
            ..Default::default()
        },
        ..Default::default()
    });
    for config in configs {
        let discovery = ServiceDiscovery::with_config(config.clone());
        assert_eq!(
            discovery.config().validate(),
            Ok(()),
            "sanitized: {config:?}"
        );
        exercise(&discovery).await;
    }
}

#[test]
fn a_zero_lease_ttl_is_refused() {
    let discovery = ServiceDiscovery::new();
    let error = discovery
        .register_with_lease(Instance::new("svc", "a", "127.0.0.1", 80), Duration::ZERO)
        .unwrap_err();
    assert!(
        matches!(error, DiscoveryError::InvalidInstance { .. }),
        "{error}"
    );
    assert!(discovery.discover("svc").unwrap().is_empty());
}
