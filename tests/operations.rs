//! Operating it (contract §7 and §8): every annotated function listed from start-up with its
//! name, kind and effective configuration, names for retries and timeouts.

use std::time::Duration;

use resilience::{
    BulkheadConfig, CircuitBreakerConfig, PolicyConfig, PolicyInfo, PolicyKind, ResilienceError,
    RetryConfig, TimeoutConfig, bulkhead, circuit_breaker, registry, retry, timeout,
};

// Never called: the registry lists them anyway.

#[circuit_breaker(name = "ops-listed-breaker", max_failures = 7)]
#[retry(name = "ops-listed-retry", max_retries = 4, base_delay = "20ms")]
#[timeout("250ms", name = "ops-listed-timeout")]
#[bulkhead(name = "ops-listed-bulkhead", max_concurrent_calls = 3)]
async fn never_called() -> Result<(), ResilienceError> {
    Ok(())
}

mod service {
    use resilience::{ResilienceError, retry, timeout};

    #[retry(max_retries = 2)]
    #[timeout(duration = "2s")]
    pub async fn default_names() -> Result<(), ResilienceError> {
        Ok(())
    }
}

fn listed(kind: PolicyKind, name: &str) -> PolicyInfo {
    registry()
        .policies()
        .into_iter()
        .find(|policy| policy.kind == kind && policy.name == name)
        .unwrap_or_else(|| panic!("{kind} `{name}` is not listed"))
}

#[test]
fn every_annotated_function_is_listed_before_its_first_call() {
    let breaker = listed(PolicyKind::CircuitBreaker, "ops-listed-breaker");
    assert_eq!(
        breaker.config,
        PolicyConfig::CircuitBreaker(CircuitBreakerConfig {
            max_failures: 7,
            ..CircuitBreakerConfig::DEFAULT
        })
    );
    assert!(!breaker.registered, "listed as registered before any call");
    assert_eq!(
        listed(PolicyKind::Retry, "ops-listed-retry").config,
        PolicyConfig::Retry(RetryConfig {
            max_retries: 4,
            base_delay: Duration::from_millis(20),
            ..RetryConfig::DEFAULT
        })
    );
    assert_eq!(
        listed(PolicyKind::Timeout, "ops-listed-timeout").config,
        PolicyConfig::Timeout(TimeoutConfig {
            timeout: Duration::from_millis(250)
        })
    );
    assert_eq!(
        listed(PolicyKind::Bulkhead, "ops-listed-bulkhead").config,
        PolicyConfig::Bulkhead(BulkheadConfig {
            max_concurrent_calls: 3,
            ..BulkheadConfig::DEFAULT
        })
    );
    // No call happened, so nothing was registered.
    assert!(registry().circuit_breaker("ops-listed-breaker").is_none());
}

#[test]
fn retries_and_timeouts_default_to_the_functions_path() {
    let name = "operations::service::default_names";
    assert_eq!(
        listed(PolicyKind::Retry, name).config,
        PolicyConfig::Retry(RetryConfig {
            max_retries: 2,
            ..RetryConfig::DEFAULT
        })
    );
    assert_eq!(
        listed(PolicyKind::Timeout, name).config,
        PolicyConfig::Timeout(TimeoutConfig {
            timeout: Duration::from_secs(2)
        })
    );
}

#[tokio::test]
async fn a_used_breaker_is_listed_once_as_registered() {
    #[circuit_breaker(name = "ops-used-breaker", max_failures = 2)]
    async fn used() -> Result<(), ResilienceError> {
        Ok(())
    }
    assert!(!listed(PolicyKind::CircuitBreaker, "ops-used-breaker").registered);
    used().await.unwrap();
    let policies = registry().policies();
    let entries: Vec<_> = policies
        .iter()
        .filter(|policy| policy.name == "ops-used-breaker")
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].registered);
    // The programmatic breakers are listed too, and the list is ordered by kind then name.
    let keys: Vec<_> = policies.iter().map(|p| (p.kind, p.name.clone())).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[tokio::test]
async fn named_retries_and_timeouts_still_work() {
    never_called().await.unwrap();
    service::default_names().await.unwrap();
}

#[tokio::test]
async fn the_snapshot_serialises_every_policy_with_its_state_and_counters() {
    #[circuit_breaker(name = "ops-snapshot-breaker", max_failures = 1)]
    #[bulkhead(name = "ops-snapshot-bulkhead", max_concurrent_calls = 4)]
    async fn failing() -> Result<(), ResilienceError> {
        Err(ResilienceError::Operation("down".into()))
    }
    let _ = failing().await;
    let _ = failing().await;
    let json = serde_json::to_value(registry().snapshot()).unwrap();
    let policy = |kind: &str, name: &str| {
        json["policies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["kind"] == kind && p["name"] == name)
            .unwrap_or_else(|| panic!("{kind} {name} not in {json}"))
            .clone()
    };
    assert_eq!(
        policy("circuit_breaker", "ops-snapshot-breaker"),
        serde_json::json!({
            "name": "ops-snapshot-breaker",
            "kind": "circuit_breaker",
            "enabled": true,
            "config": {
                "max_failures": 1,
                "reset_timeout": "10s",
                "half_open_allowed_calls": 1,
                "window": 20
            },
            "state": "open",
            "counters": { "successful": 0, "failed": 1, "rejected": 1, "opened": 1 }
        })
    );
    let bulkhead = policy("bulkhead", "ops-snapshot-bulkhead");
    assert_eq!(
        bulkhead["counters"],
        serde_json::json!({ "running": 0, "waiting": 0, "accepted": 1, "rejected": 0 })
    );
    assert_eq!(bulkhead["config"]["max_concurrent_calls"], 4);
    // Never called: listed with its configuration, no state, no counters.
    let retry = policy("retry", "ops-listed-retry");
    assert_eq!(retry["config"]["base_delay"], "20ms");
    assert!(retry.get("counters").is_none());
    assert!(json["unmatched_overrides"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn subscribers_get_breaker_transitions_rejections_and_reloads() {
    use resilience::events::Event;
    use resilience::{CircuitState, config::Overrides};
    #[circuit_breaker(name = "ops-events-breaker", max_failures = 1)]
    async fn failing() -> Result<(), ResilienceError> {
        Err(ResilienceError::Operation("down".into()))
    }
    let mut events = registry().subscribe();
    let _ = failing().await;
    let reg = resilience::Registry::new();
    let bulkhead = reg
        .bulkhead_or_register(
            "ops-events-bulkhead",
            &BulkheadConfig {
                max_concurrent_calls: 1,
                max_queue_size: 0,
                max_wait: None,
            },
        )
        .unwrap();
    let _held = bulkhead.try_acquire().unwrap();
    assert!(bulkhead.acquire().await.is_err());
    reg.apply(&Overrides::new()).unwrap();
    let bad = Overrides::from_toml("[bulkhead.x]\nmax_concurrent_calls = 0\n", "bad.toml").unwrap();
    assert!(reg.apply(&bad).is_err());

    let mut seen = Vec::new();
    while seen.len() < 4 {
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("an event within the deadline")
            .unwrap();
        // Other tests of this binary emit events too: keep ours.
        match &event {
            Event::CircuitBreakerTransition { name, .. } if name == "ops-events-breaker" => {}
            Event::BulkheadRejected { name } if name == "ops-events-bulkhead" => {}
            Event::ConfigReloaded { .. } | Event::ConfigReloadFailed { .. } => {}
            _ => continue,
        }
        seen.push(event);
    }
    assert_eq!(
        seen[0],
        Event::CircuitBreakerTransition {
            name: "ops-events-breaker".into(),
            from: CircuitState::Closed,
            to: CircuitState::Open
        }
    );
    assert_eq!(
        seen[1],
        Event::BulkheadRejected {
            name: "ops-events-bulkhead".into()
        }
    );
    assert_eq!(
        seen[2],
        Event::ConfigReloaded {
            source: "apply".into()
        }
    );
    let Event::ConfigReloadFailed { source, error } = &seen[3] else {
        panic!("{:?}", seen[3])
    };
    assert_eq!(source, "apply");
    assert!(error.contains("bad.toml:2"), "{error}");
}
