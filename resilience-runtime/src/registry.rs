//! The process-wide registry of named breakers and bulkheads (contract §4): introspection and
//! control for health endpoints and operators.
//!
//! It is consulted once per call site (the site keeps the `Arc` it got), never per call, so a
//! plain `RwLock` is enough here and the call path takes no lock.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::{Arc, OnceLock, RwLock};

use crate::bulkhead::{Bulkhead, BulkheadConfig};
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig};
use crate::error::ConfigError;

/// Named circuit breakers and bulkheads. Get the process-wide one with [`registry()`].
#[derive(Debug, Default)]
pub struct Registry {
    breakers: RwLock<BTreeMap<String, Arc<CircuitBreaker>>>,
    bulkheads: RwLock<BTreeMap<String, Arc<Bulkhead>>>,
}

/// The process-wide registry that the attributes and [`ResilienceFacade`](crate::ResilienceFacade)
/// register their policies in.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

/// A registered circuit breaker: `name()`, `state()`, `metrics()`, `reset()`, `force_open()`
/// (through `Deref` to [`CircuitBreaker`]).
#[derive(Debug, Clone)]
pub struct CircuitBreakerHandle(Arc<CircuitBreaker>);

/// A registered bulkhead: `in_flight()`, `queued()`, `max_concurrent_calls()` (through `Deref`
/// to [`Bulkhead`]).
#[derive(Debug, Clone)]
pub struct BulkheadHandle(Arc<Bulkhead>);

impl Deref for CircuitBreakerHandle {
    type Target = CircuitBreaker;
    fn deref(&self) -> &CircuitBreaker {
        &self.0
    }
}

impl Deref for BulkheadHandle {
    type Target = Bulkhead;
    fn deref(&self) -> &Bulkhead {
        &self.0
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // A panic while holding the lock cannot leave a map half-updated (inserts are single
    // operations), so a poisoned lock is still good to read.
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The rule for every policy name, as the attributes apply it: not empty, and not only
/// whitespace (Unicode's). Anything else is kept exactly as written.
pub(crate) fn validate_name(policy: &'static str, name: &str) -> Result<(), ConfigError> {
    validate_name_part(policy, "name", name)
}

/// [`validate_name`] of a part of a name (the facade's `service` and `operation`), reported
/// under `key`.
pub(crate) fn validate_name_part(
    policy: &'static str,
    key: &'static str,
    name: &str,
) -> Result<(), ConfigError> {
    if name.is_empty() {
        return Err(ConfigError::new(policy, key, "must not be empty"));
    }
    if name.trim().is_empty() {
        return Err(ConfigError::new(
            policy,
            key,
            "must contain a character other than whitespace",
        ));
    }
    Ok(())
}

/// The registration rule shared by breakers and bulkheads: first use creates; a later use with
/// another configuration keeps the first one and warns.
fn get_or_register<P, C: PartialEq + std::fmt::Debug>(
    map: &RwLock<BTreeMap<String, Arc<P>>>,
    kind: &str,
    name: &str,
    config: &C,
    config_of: impl Fn(&P) -> &C,
    create: impl FnOnce() -> Result<P, ConfigError>,
) -> Result<Arc<P>, ConfigError> {
    let existing = read(map).get(name).cloned();
    let policy = match existing {
        Some(policy) => policy,
        None => {
            let created = create()?;
            write(map)
                .entry(name.to_owned())
                .or_insert_with(|| Arc::new(created))
                .clone()
        }
    };
    if config_of(&policy) != config {
        tracing::warn!(
            target: "resilience",
            policy = kind,
            name,
            kept = ?config_of(&policy),
            ignored = ?config,
            "a policy name was reused with another configuration; keeping the first"
        );
    }
    Ok(policy)
}

impl Registry {
    /// An empty registry (tests; the process-wide one is [`registry()`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// The breaker registered under `name`.
    pub fn circuit_breaker(&self, name: &str) -> Option<CircuitBreakerHandle> {
        read(&self.breakers)
            .get(name)
            .cloned()
            .map(CircuitBreakerHandle)
    }

    /// Every registered breaker, by name.
    pub fn circuit_breakers(&self) -> Vec<CircuitBreakerHandle> {
        read(&self.breakers)
            .values()
            .cloned()
            .map(CircuitBreakerHandle)
            .collect()
    }

    /// The bulkhead registered under `name`.
    pub fn bulkhead(&self, name: &str) -> Option<BulkheadHandle> {
        read(&self.bulkheads).get(name).cloned().map(BulkheadHandle)
    }

    /// Every registered bulkhead, by name.
    pub fn bulkheads(&self) -> Vec<BulkheadHandle> {
        read(&self.bulkheads)
            .values()
            .cloned()
            .map(BulkheadHandle)
            .collect()
    }

    /// The breaker named `name`, registered with `config` on first use. A name already
    /// registered with another configuration keeps the first and logs a warning.
    ///
    /// An empty or all-whitespace `name` is a [`ConfigError`] with key `name` (the attributes
    /// refuse it at compile time); nothing is registered.
    pub fn circuit_breaker_or_register(
        &self,
        name: &str,
        config: &CircuitBreakerConfig,
    ) -> Result<Arc<CircuitBreaker>, ConfigError> {
        validate_name("circuit_breaker", name)?;
        config.validate()?;
        get_or_register(
            &self.breakers,
            "circuit_breaker",
            name,
            config,
            CircuitBreaker::config,
            || CircuitBreaker::new(name, config.clone()),
        )
    }

    /// The bulkhead named `name`, registered with `config` on first use (same rules, names
    /// included, as [`circuit_breaker_or_register`](Self::circuit_breaker_or_register)).
    pub fn bulkhead_or_register(
        &self,
        name: &str,
        config: &BulkheadConfig,
    ) -> Result<Arc<Bulkhead>, ConfigError> {
        validate_name("bulkhead", name)?;
        config.validate()?;
        get_or_register(
            &self.bulkheads,
            "bulkhead",
            name,
            config,
            Bulkhead::config,
            || Bulkhead::new(name, config.clone()),
        )
    }
}
