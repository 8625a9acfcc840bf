//! One policy's overrides over its attribute configuration: each value read as its key's type,
//! then the result checked with `resilience-config`'s `violations` (the one source of ranges).

use std::time::Duration;

use super::overrides::{Origin, OverrideError, PolicyOverride, Setting, Value};
use crate::bulkhead::BulkheadConfig;
use crate::circuit_breaker::CircuitBreakerConfig;
use crate::error::ConfigError;
use crate::registry::{PolicyConfig, PolicyKind};
use crate::retry::{Backoff, RetryConfig};
use crate::timeout::TimeoutConfig;

/// A policy's effective configuration and whether it is enabled.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Effective<C> {
    pub(crate) config: C,
    pub(crate) enabled: bool,
}

struct Reader<'a> {
    kind: PolicyKind,
    policy: &'a PolicyOverride,
    errors: Vec<OverrideError>,
}

impl<'a> Reader<'a> {
    fn invalid(&mut self, key: &str, setting: &Setting, problem: String) {
        self.errors.push(OverrideError::invalid(
            setting.origin.clone(),
            self.kind.as_str(),
            self.policy.written.clone(),
            key,
            problem,
        ));
    }

    fn read<T>(&mut self, key: &str, target: &mut T, parse: impl Fn(&Value) -> Result<T, String>) {
        let Some(setting) = self.policy.get(key) else {
            return;
        };
        match parse(&setting.value) {
            Ok(value) => *target = value,
            Err(problem) => {
                let problem = format!("{problem} (got {})", setting.value);
                self.invalid(key, setting, problem);
            }
        }
    }

    /// The violations of the merged configuration, on the key's origin (or, for a key left to
    /// the attribute, on the first override of this policy).
    fn violations(&mut self, violations: Vec<ConfigError>) {
        for violation in violations {
            let key = file_key(self.kind, violation.key);
            let setting = self
                .policy
                .get(key)
                .or_else(|| self.policy.settings.values().next())
                .cloned();
            let origin = setting.map_or(
                Origin::Env {
                    name: String::new(),
                },
                |setting| setting.origin,
            );
            self.errors.push(OverrideError::invalid(
                origin,
                self.kind.as_str(),
                self.policy.written.clone(),
                key,
                violation.problem,
            ));
        }
    }

    fn finish<C>(self, effective: Effective<C>) -> Result<Effective<C>, Vec<OverrideError>> {
        if self.errors.is_empty() {
            Ok(effective)
        } else {
            Err(self.errors)
        }
    }
}

/// The file's key for a config's key (the timeout's `timeout` is written `duration`).
fn file_key(kind: PolicyKind, key: &'static str) -> &'static str {
    match (kind, key) {
        (PolicyKind::Timeout, "timeout") => "duration",
        _ => key,
    }
}

fn integer<T: TryFrom<i64>>(value: &Value) -> Result<T, String> {
    let number = match value {
        Value::Integer(v) => *v,
        Value::Text(text) => text
            .trim()
            .parse::<i64>()
            .map_err(|_| "must be a whole number".to_owned())?,
        _ => return Err("must be a whole number".to_owned()),
    };
    T::try_from(number).map_err(|_| format!("is out of range ({number})"))
}

fn float(value: &Value) -> Result<f64, String> {
    match value {
        Value::Float(v) => Ok(*v),
        Value::Integer(v) => Ok(*v as f64),
        Value::Text(text) => text
            .trim()
            .parse::<f64>()
            .map_err(|_| "must be a number".to_owned()),
        Value::Bool(_) => Err("must be a number".to_owned()),
    }
}

fn duration(value: &Value) -> Result<Duration, String> {
    match value {
        Value::Text(text) => resilience_config::duration::parse(text),
        _ => Err("must be a duration in quotes, such as \"30s\" or \"250ms\"".to_owned()),
    }
}

fn boolean(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(v) => Ok(*v),
        Value::Text(text) if text.eq_ignore_ascii_case("true") => Ok(true),
        Value::Text(text) if text.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err("must be `true` or `false`".to_owned()),
    }
}

fn backoff(value: &Value) -> Result<Backoff, String> {
    let expected = || {
        let names: Vec<String> = Backoff::NAMES.iter().map(|n| format!("\"{n}\"")).collect();
        format!("must be one of {}", names.join(", "))
    };
    match value {
        Value::Text(text) => Backoff::from_name(&text.to_ascii_lowercase()).ok_or_else(expected),
        _ => Err(expected()),
    }
}

pub(crate) fn circuit_breaker(
    base: &CircuitBreakerConfig,
    policy: &PolicyOverride,
) -> Result<Effective<CircuitBreakerConfig>, Vec<OverrideError>> {
    let mut reader = Reader {
        kind: PolicyKind::CircuitBreaker,
        policy,
        errors: Vec::new(),
    };
    let mut config = base.clone();
    let mut enabled = true;
    reader.read("enabled", &mut enabled, boolean);
    reader.read("max_failures", &mut config.max_failures, integer);
    let mut rate = config.failure_rate.unwrap_or(0.0);
    if policy.get("failure_rate").is_some() {
        reader.read("failure_rate", &mut rate, float);
        config.failure_rate = Some(rate);
    }
    reader.read("window", &mut config.window, integer);
    let mut min_calls = config.min_calls.unwrap_or(0);
    if policy.get("min_calls").is_some() {
        reader.read("min_calls", &mut min_calls, integer);
        config.min_calls = Some(min_calls);
    }
    reader.read("reset_timeout", &mut config.reset_timeout, duration);
    reader.read(
        "half_open_allowed_calls",
        &mut config.half_open_allowed_calls,
        integer,
    );
    // `max_failures` alone selects the consecutive mode, as in the attribute.
    if policy.get("max_failures").is_some() && policy.get("failure_rate").is_none() {
        config.failure_rate = None;
    }
    if reader.errors.is_empty() {
        reader.violations(config.violations());
    }
    reader.finish(Effective { config, enabled })
}

pub(crate) fn retry(
    base: &RetryConfig,
    policy: &PolicyOverride,
) -> Result<Effective<RetryConfig>, Vec<OverrideError>> {
    let mut reader = Reader {
        kind: PolicyKind::Retry,
        policy,
        errors: Vec::new(),
    };
    let mut config = base.clone();
    let mut enabled = true;
    reader.read("enabled", &mut enabled, boolean);
    reader.read("max_retries", &mut config.max_retries, integer);
    reader.read("backoff", &mut config.backoff, backoff);
    reader.read("base_delay", &mut config.base_delay, duration);
    reader.read("max_delay", &mut config.max_delay, duration);
    reader.read("jitter_factor", &mut config.jitter_factor, float);
    if policy.get("max_duration").is_some() {
        let mut max = Duration::ZERO;
        reader.read("max_duration", &mut max, duration);
        config.max_duration = Some(max);
    }
    if reader.errors.is_empty() {
        reader.violations(config.violations());
    }
    reader.finish(Effective { config, enabled })
}

pub(crate) fn timeout(
    base: &TimeoutConfig,
    policy: &PolicyOverride,
) -> Result<Effective<TimeoutConfig>, Vec<OverrideError>> {
    let mut reader = Reader {
        kind: PolicyKind::Timeout,
        policy,
        errors: Vec::new(),
    };
    let mut config = base.clone();
    let mut enabled = true;
    reader.read("enabled", &mut enabled, boolean);
    reader.read("duration", &mut config.timeout, duration);
    if reader.errors.is_empty() {
        reader.violations(config.violations());
    }
    reader.finish(Effective { config, enabled })
}

pub(crate) fn bulkhead(
    base: &BulkheadConfig,
    policy: &PolicyOverride,
) -> Result<Effective<BulkheadConfig>, Vec<OverrideError>> {
    let mut reader = Reader {
        kind: PolicyKind::Bulkhead,
        policy,
        errors: Vec::new(),
    };
    let mut config = base.clone();
    let mut enabled = true;
    reader.read("enabled", &mut enabled, boolean);
    reader.read(
        "max_concurrent_calls",
        &mut config.max_concurrent_calls,
        integer,
    );
    reader.read("max_queue_size", &mut config.max_queue_size, integer);
    if policy.get("max_wait").is_some() {
        let mut wait = Duration::ZERO;
        reader.read("max_wait", &mut wait, duration);
        config.max_wait = Some(wait);
    }
    if reader.errors.is_empty() {
        reader.violations(config.violations());
    }
    reader.finish(Effective { config, enabled })
}

/// Checks `policy` against `base`, for an override whose policy is not known yet.
pub(crate) fn check(
    base: &PolicyConfig,
    policy: &PolicyOverride,
) -> Result<(), Vec<OverrideError>> {
    match base {
        PolicyConfig::CircuitBreaker(base) => circuit_breaker(base, policy).map(drop),
        PolicyConfig::Retry(base) => retry(base, policy).map(drop),
        PolicyConfig::Timeout(base) => timeout(base, policy).map(drop),
        PolicyConfig::Bulkhead(base) => bulkhead(base, policy).map(drop),
    }
}
