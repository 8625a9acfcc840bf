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
