//! The macro refuses exactly what the runtime refuses.
//!
//! For a grid of values per key (the edges of every range included), each attribute's
//! parse-and-check must accept the arguments exactly when `resilience-config`'s `validate()`
//! accepts the configuration they stand for, and exactly when the runtime's own constructors
//! do; when it refuses, it reports one error per violation, each naming the violated key. The
//! expected configurations are written out here, field by field, not taken from the macro's
//! `to_config`, so a bound re-added in the macro, in the config crate's callers in the runtime,
//! or a key mapped to the wrong field, makes this fail.

use std::time::Duration;

use proc_macro2::TokenStream;
use resilience_config::{
    BulkheadConfig, CircuitBreakerConfig, ConfigError, MAX_CONCURRENT_CALLS,
    MAX_HALF_OPEN_ALLOWED_CALLS, MAX_RETRIES, MAX_WINDOW, RetryConfig, TimeoutConfig,
};
use resilience_runtime::{Bulkhead, CircuitBreaker, ResilienceConfig, ResilienceFacade};

use super::bulkhead::BulkheadArgs;
use super::circuit_breaker::CircuitBreakerArgs;
use super::retry::RetryArgs;
use super::timeout::TimeoutArgs;

/// Whole numbers around every bound a `u32` key has.
const U32S: &[u32] = &[
    0,
    1,
    2,
    3,
    19,
    20,
    21,
    MAX_RETRIES - 1,
    MAX_RETRIES,
    MAX_RETRIES + 1,
    MAX_WINDOW - 1,
    MAX_WINDOW,
    MAX_WINDOW + 1,
    MAX_HALF_OPEN_ALLOWED_CALLS - 1,
    MAX_HALF_OPEN_ALLOWED_CALLS,
    MAX_HALF_OPEN_ALLOWED_CALLS + 1,
    u32::MAX,
];

/// Whole numbers around every bound a `usize` key has.
const USIZES: &[usize] = &[
    0,
    1,
    2,
    20,
    50,
    MAX_CONCURRENT_CALLS - 1,
    MAX_CONCURRENT_CALLS,
    MAX_CONCURRENT_CALLS + 1,
    usize::MAX,
];

/// Numbers around (0, 1] and [0, 1], as written in the attribute and as their `f64`. The
/// literals are what a user may write; `1e400` is infinite once parsed.
const FLOATS: &[(&str, f64)] = &[
    ("0.0", 0.0),
    ("0", 0.0),
    ("0.000001", 0.000001),
    ("0.1", 0.1),
    ("0.5", 0.5),
    ("1.0", 1.0),
    ("1", 1.0),
    ("1.000001", 1.000001),
    ("2.5", 2.5),
    ("1e400", f64::INFINITY),
];

/// Durations around every bound a duration key has (`base_delay` and `max_delay` defaults, one
/// nanosecond either side, zero and the longest one the syntax takes).
const DURATIONS: &[Duration] = &[
    Duration::ZERO,
    Duration::from_nanos(1),
    Duration::from_nanos(99_999_999),
    Duration::from_millis(100),
    Duration::from_nanos(100_000_001),
    Duration::from_secs(1),
    Duration::from_nanos(1_999_999_999),
    Duration::from_secs(2),
    Duration::from_nanos(2_000_000_001),
    Duration::from_secs(10),
    Duration::from_nanos(u64::MAX),
];

/// A duration as the attribute takes it.
fn lit(duration: Duration) -> String {
    format!("\"{}ns\"", duration.as_nanos())
}

fn tokens(args: &str) -> TokenStream {
    args.parse()
        .unwrap_or_else(|error| panic!("`{args}` does not tokenize: {error}"))
}

/// The macro's messages, one per error.
fn messages<T>(parsed: darling::Result<T>) -> Option<Vec<String>> {
    parsed
        .err()
        .map(|error| error.into_iter().map(|error| error.to_string()).collect())
}

/// The macro's verdict on `args` (its messages, if it refused them) agrees with `violations`,
/// `validate()` and the runtime's verdict on the configuration they stand for.
#[track_caller]
fn assert_agree(
    args: &str,
    macro_messages: Option<Vec<String>>,
    violations: Vec<ConfigError>,
    validated: Result<(), ConfigError>,
    runtime_accepts: bool,
) {
    assert_eq!(
        validated.as_ref().err(),
        violations.first(),
        "`{args}`: validate() is not the first violation"
    );
    assert_eq!(
        runtime_accepts,
        validated.is_ok(),
        "`{args}`: the runtime and validate() disagree ({validated:?})"
    );
    let macro_messages = macro_messages.unwrap_or_default();
    assert_eq!(
        macro_messages.len(),
        violations.len(),
        "`{args}`: the macro reported {macro_messages:?}, the config {violations:?}"
    );
    for violation in &violations {
        let named = format!("`{}`", violation.key);
        assert!(
            macro_messages
                .iter()
                .any(|message| message.contains(&named) || violation.key == "timeout"),
            "`{args}`: no macro error names {named}: {macro_messages:?}"
        );
    }
}

fn check_breaker(args: &str, config: CircuitBreakerConfig) {
    assert_agree(
        args,
        messages(CircuitBreakerArgs::parse(tokens(args))),
        config.violations(),
        config.validate(),
        CircuitBreaker::new("agreement", config.clone()).is_ok(),
    );
}

fn check_retry(args: &str, config: RetryConfig) {
    assert_agree(
        args,
        messages(RetryArgs::parse(tokens(args))),
        config.violations(),
        config.validate(),
        ResilienceFacade::try_with_config(ResilienceConfig {
            retry: config.clone(),
            ..ResilienceConfig::default()
        })
        .is_ok(),
    );
}

fn check_bulkhead(args: &str, config: BulkheadConfig) {
    assert_agree(
        args,
        messages(BulkheadArgs::parse(tokens(args))),
        config.violations(),
        config.validate(),
        Bulkhead::new("agreement", config.clone()).is_ok(),
    );
}

fn check_timeout(args: &str, config: TimeoutConfig) {
    assert_agree(
        args,
        messages(TimeoutArgs::parse(tokens(args))),
        config.violations(),
        config.validate(),
        ResilienceFacade::try_with_config(ResilienceConfig {
            timeout: config.clone(),
            ..ResilienceConfig::default()
        })
        .is_ok(),
    );
}

#[test]
fn circuit_breaker_refuses_exactly_what_the_config_refuses() {
    let default = CircuitBreakerConfig::DEFAULT;
    for &n in U32S {
        check_breaker(
            &format!("max_failures = {n}"),
            CircuitBreakerConfig {
                max_failures: n,
                ..default.clone()
            },
        );
        check_breaker(
            &format!("half_open_allowed_calls = {n}"),
            CircuitBreakerConfig {
                half_open_allowed_calls: n,
                ..default.clone()
            },
        );
        // `window` and `min_calls` belong to the rate mode: without `failure_rate` the macro
        // refuses them whatever their value (its own rule, tested by trybuild).
        check_breaker(
            &format!("failure_rate = 0.5, window = {n}"),
            CircuitBreakerConfig {
                failure_rate: Some(0.5),
                window: n,
                ..default.clone()
            },
        );
        check_breaker(
            &format!("failure_rate = 0.5, min_calls = {n}"),
            CircuitBreakerConfig {
                failure_rate: Some(0.5),
                min_calls: Some(n),
                ..default.clone()
            },
        );
        for &window in &[0, 1, 20, MAX_WINDOW, MAX_WINDOW + 1] {
            check_breaker(
                &format!("failure_rate = 0.5, window = {window}, min_calls = {n}"),
                CircuitBreakerConfig {
                    failure_rate: Some(0.5),
                    window,
                    min_calls: Some(n),
                    ..default.clone()
                },
            );
        }
    }
    for &(text, rate) in FLOATS {
        check_breaker(
            &format!("failure_rate = {text}"),
            CircuitBreakerConfig {
                failure_rate: Some(rate),
                ..default.clone()
            },
        );
    }
    for &duration in DURATIONS {
        check_breaker(
            &format!("reset_timeout = {}", lit(duration)),
            CircuitBreakerConfig {
                reset_timeout: duration,
                ..default.clone()
            },
        );
    }
}

#[test]
fn retry_refuses_exactly_what_the_config_refuses() {
    let default = RetryConfig::DEFAULT;
    for &n in U32S {
        check_retry(
            &format!("max_retries = {n}"),
            RetryConfig {
                max_retries: n,
                ..default.clone()
            },
        );
    }
    for &(text, jitter) in FLOATS {
        check_retry(
            &format!("jitter_factor = {text}"),
            RetryConfig {
                jitter_factor: jitter,
                ..default.clone()
            },
        );
    }
    for backoff in resilience_config::Backoff::ALL {
        check_retry(
            &format!("backoff = \"{}\"", backoff.name()),
            RetryConfig {
                backoff,
                ..default.clone()
            },
        );
    }
    // The three durations are tied to each other: every combination, each key also left out.
    let mut choices: Vec<Option<Duration>> = DURATIONS.iter().copied().map(Some).collect();
    choices.push(None);
    for &base in &choices {
        for &max in &choices {
            for &total in &choices {
                let mut args = Vec::new();
                let mut config = default.clone();
                if let Some(base) = base {
                    args.push(format!("base_delay = {}", lit(base)));
                    config.base_delay = base;
                }
                if let Some(max) = max {
                    args.push(format!("max_delay = {}", lit(max)));
                    config.max_delay = max;
                }
                if let Some(total) = total {
                    args.push(format!("max_duration = {}", lit(total)));
                    config.max_duration = Some(total);
                }
                check_retry(&args.join(", "), config);
            }
        }
    }
}

#[test]
fn bulkhead_refuses_exactly_what_the_config_refuses() {
    let default = BulkheadConfig::DEFAULT;
    for &n in USIZES {
        check_bulkhead(
            &format!("max_concurrent_calls = {n}"),
            BulkheadConfig {
                max_concurrent_calls: n,
                ..default.clone()
            },
        );
        check_bulkhead(
            &format!("max_queue_size = {n}"),
            BulkheadConfig {
                max_queue_size: n,
                ..default.clone()
            },
        );
    }
    for &duration in DURATIONS {
        check_bulkhead(
            &format!("max_wait = {}", lit(duration)),
            BulkheadConfig {
                max_wait: Some(duration),
                ..default.clone()
            },
        );
    }
}

#[test]
fn timeout_refuses_exactly_what_the_config_refuses() {
    for &duration in DURATIONS {
        let config = TimeoutConfig { timeout: duration };
        check_timeout(&lit(duration), config.clone());
        check_timeout(&format!("duration = {}", lit(duration)), config);
    }
}

#[test]
fn each_refused_value_gets_its_own_spanned_error() {
    // Two violations, two errors, each spanned (on the value of its key: trybuild shows the
    // columns).
    let parsed = RetryArgs::parse(tokens("max_retries = 1001, jitter_factor = 2.0"));
    let errors: Vec<_> = parsed
        .err()
        .map(|error| error.into_iter().collect())
        .unwrap_or_default();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().all(darling::Error::has_span), "{errors:?}");
}
