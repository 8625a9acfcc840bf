//! Every configuration round-trips through TOML and JSON, durations in the attribute syntax.
#![cfg(feature = "serde")]

use std::time::Duration;

use resilience_config::{
    Backoff, BulkheadConfig, CircuitBreakerConfig, RetryConfig, TimeoutConfig,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trips<C: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(config: C) {
    let json = serde_json::to_string(&config).unwrap();
    assert_eq!(serde_json::from_str::<C>(&json).unwrap(), config, "{json}");
    let toml = toml::to_string(&config).unwrap();
    assert_eq!(toml::from_str::<C>(&toml).unwrap(), config, "{toml}");
}

#[test]
fn every_config_round_trips_through_toml_and_json() {
    round_trips(CircuitBreakerConfig::DEFAULT);
    round_trips(CircuitBreakerConfig {
        failure_rate: Some(0.5),
        window: 50,
        min_calls: Some(10),
        reset_timeout: Duration::from_millis(1500),
        ..CircuitBreakerConfig::DEFAULT
    });
    round_trips(RetryConfig::DEFAULT);
    round_trips(RetryConfig {
        backoff: Backoff::Linear,
        max_duration: Some(Duration::from_secs(90)),
        jitter_factor: 0.25,
        ..RetryConfig::DEFAULT
    });
    round_trips(TimeoutConfig::DEFAULT);
    round_trips(BulkheadConfig::DEFAULT);
    round_trips(BulkheadConfig {
        max_wait: Some(Duration::from_millis(250)),
        ..BulkheadConfig::DEFAULT
    });
}

#[test]
fn durations_are_written_as_the_attributes_write_them() {
    let json = serde_json::to_value(CircuitBreakerConfig {
        reset_timeout: Duration::from_secs(30),
        ..CircuitBreakerConfig::DEFAULT
    })
    .unwrap();
    assert_eq!(json["reset_timeout"], "30s");
    let json = serde_json::to_value(TimeoutConfig {
        timeout: Duration::from_millis(2500),
    })
    .unwrap();
    assert_eq!(json, serde_json::json!({ "duration": "2s 500ms" }));
    let json = serde_json::to_value(RetryConfig::DEFAULT).unwrap();
    assert_eq!(json["backoff"], "exponential");
}

#[test]
fn missing_keys_take_the_defaults_and_bad_ones_are_errors() {
    let config: RetryConfig = toml::from_str("max_retries = 5\nbase_delay = \"20ms\"\n").unwrap();
    assert_eq!(
        config,
        RetryConfig {
            max_retries: 5,
            base_delay: Duration::from_millis(20),
            ..RetryConfig::DEFAULT
        }
    );
    let error = toml::from_str::<RetryConfig>("max_retrys = 5\n").unwrap_err();
    assert!(error.to_string().contains("max_retrys"), "{error}");
    let error = toml::from_str::<BulkheadConfig>("max_wait = \"10 s\"\n").unwrap_err();
    assert!(error.to_string().contains("without a space"), "{error}");
}

#[test]
fn deserializing_checks_the_contracts_ranges_and_names_the_key() {
    let error = |result: Result<(), String>| result.expect_err("out of range, yet accepted");
    let bulkhead = error(
        serde_json::from_str::<BulkheadConfig>(r#"{"max_concurrent_calls": 0}"#)
            .map(drop)
            .map_err(|e| e.to_string()),
    );
    assert!(bulkhead.contains("max_concurrent_calls"), "{bulkhead}");
    let breaker = error(
        toml::from_str::<CircuitBreakerConfig>("failure_rate = 1.5\n")
            .map(drop)
            .map_err(|e| e.to_string()),
    );
    assert!(breaker.contains("failure_rate"), "{breaker}");
    let retry = error(
        toml::from_str::<RetryConfig>("base_delay = \"5s\"\nmax_delay = \"1s\"\n")
            .map(drop)
            .map_err(|e| e.to_string()),
    );
    assert!(retry.contains("max_delay"), "{retry}");
    let timeout = error(
        serde_json::from_str::<TimeoutConfig>(r#"{"duration": "0s"}"#)
            .map(drop)
            .map_err(|e| e.to_string()),
    );
    assert!(
        timeout.contains("timeout") || timeout.contains("duration"),
        "{timeout}"
    );
    // In range: accepted.
    assert!(serde_json::from_str::<BulkheadConfig>(r#"{"max_concurrent_calls": 3}"#).is_ok());
}
