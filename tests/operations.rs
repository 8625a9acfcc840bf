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
    // Listed with its configuration and its counts (another test calls it once, or not yet),
    // no state.
    let retry = policy("retry", "ops-listed-retry");
    assert_eq!(retry["config"]["base_delay"], "20ms");
    assert!(retry.get("state").is_none());
    let calls = retry["counters"]["without_retry"]["success"]
        .as_u64()
        .unwrap();
    assert!(calls <= 1, "{retry}");
    let outcomes = |success: u64| {
        serde_json::json!({
            "success": success, "failure": 0, "max_retries": 0, "max_duration": 0,
            "not_retryable": 0
        })
    };
    assert_eq!(
        retry["counters"],
        serde_json::json!({
            "without_retry": outcomes(calls), "with_retry": outcomes(0), "retries": 0
        })
    );
    let timeout = policy("timeout", "ops-listed-timeout");
    assert_eq!(timeout["counters"]["timed_out"], 0);
    assert!(
        timeout["counters"]["calls"].as_u64().unwrap() <= 1,
        "{timeout}"
    );
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

#[tokio::test(start_paused = true)]
async fn retries_and_timeouts_are_counted_by_outcome_and_sent_as_events() {
    use resilience::events::Event;
    use resilience::snapshot::Counters;
    use resilience::{RetryCounts, RetryOutcome, TimeoutCounts};
    use std::sync::atomic::{AtomicU32, Ordering};

    static CALLS: AtomicU32 = AtomicU32::new(0);
    /// With `fail_first`, an even-numbered call sleeps past its timeout.
    #[retry(
        name = "ops-counted-retry",
        max_retries = 2,
        base_delay = "10ms",
        jitter_factor = 0.0
    )]
    #[timeout("100ms", name = "ops-counted-timeout")]
    async fn flaky(fail_first: bool) -> Result<u32, ResilienceError> {
        let call = CALLS.fetch_add(1, Ordering::SeqCst);
        if fail_first && call.is_multiple_of(2) {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Ok(call)
    }
    #[retry(name = "ops-counted-retry", max_retries = 1, retry_if = never)]
    async fn refused() -> Result<(), ResilienceError> {
        Err(ResilienceError::Operation("no".into()))
    }
    fn never(_: &ResilienceError) -> bool {
        false
    }
    #[retry(name = "ops-counted-exhausted", max_retries = 2, base_delay = "1ms")]
    async fn always_failing() -> Result<(), ResilienceError> {
        Err(ResilienceError::Operation("down".into()))
    }

    let mut events = registry().subscribe();
    CALLS.store(1, Ordering::SeqCst);
    assert!(flaky(false).await.is_ok()); // first try
    CALLS.store(0, Ordering::SeqCst);
    assert!(flaky(true).await.is_ok()); // times out once, then succeeds
    assert!(refused().await.is_err()); // not retryable, same name: summed
    assert!(always_failing().await.is_err());

    let counters = |kind: PolicyKind, name: &str| {
        registry()
            .snapshot()
            .policies
            .into_iter()
            .find(|p| p.kind == kind && p.name == name)
            .and_then(|p| p.counters)
            .unwrap_or_else(|| panic!("no counters for {name}"))
    };
    let Counters::Retry(retry) = counters(PolicyKind::Retry, "ops-counted-retry") else {
        panic!("not a retry's counters")
    };
    let expect = |counts: &RetryCounts, retried, outcome, n| {
        let got = if retried {
            counts.with_retry.get(outcome)
        } else {
            counts.without_retry.get(outcome)
        };
        assert_eq!(got, n, "{outcome:?} retried={retried}: {counts:?}");
    };
    expect(&retry, false, RetryOutcome::Success, 1);
    expect(&retry, true, RetryOutcome::Success, 1);
    expect(&retry, false, RetryOutcome::NotRetryable, 1);
    assert_eq!(retry.retries, 1);
    let Counters::Retry(exhausted) = counters(PolicyKind::Retry, "ops-counted-exhausted") else {
        panic!("not a retry's counters")
    };
    expect(&exhausted, true, RetryOutcome::MaxRetries, 1);
    assert_eq!(exhausted.retries, 2);
    let Counters::Timeout(TimeoutCounts {
        calls, timed_out, ..
    }) = counters(PolicyKind::Timeout, "ops-counted-timeout")
    else {
        panic!("not a timeout's counters")
    };
    assert_eq!((calls, timed_out), (3, 1));

    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        match &event {
            Event::Retry { name, .. } | Event::Timeout { name, .. }
                if name.starts_with("ops-counted-") =>
            {
                seen.push(event)
            }
            _ => {}
        }
    }
    assert_eq!(
        seen[..2],
        [
            Event::Timeout {
                name: "ops-counted-timeout".into(),
                after: Duration::from_millis(100)
            },
            Event::Retry {
                name: "ops-counted-retry".into(),
                attempt: 2,
                delay: Duration::from_millis(10),
                error: "timed out after 100ms".into()
            }
        ]
    );
    let Event::Retry { name, error, .. } = &seen[2] else {
        panic!("{:?}", seen[2])
    };
    assert_eq!(name, "ops-counted-exhausted");
    assert!(error.contains("ResilienceError"), "{error}");
    assert_eq!(seen.len(), 4, "{seen:?}");
}
