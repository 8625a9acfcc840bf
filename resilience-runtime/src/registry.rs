//! The process-wide registry of named breakers and bulkheads (contract §4): introspection and
//! control for health endpoints and operators. It also lists every annotated function's
//! policies, retries and timeouts included, from start-up (contract §8).
//!
//! It is consulted once per call site (the site keeps the `Arc` it got), never per call, so a
//! plain `RwLock` is enough here and the call path takes no lock.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::{Arc, OnceLock, RwLock};

use crate::bulkhead::{Bulkhead, BulkheadConfig};
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig};
use crate::config::merge::{self, Effective};
use crate::config::{OverrideError, Overrides, normalize};
use crate::error::ConfigError;
use crate::retry::RetryConfig;
use crate::site::{Declaration, RetryCounts, TimeoutCounts, declarations};
use crate::timeout::TimeoutConfig;

/// Named circuit breakers and bulkheads. Get the process-wide one with [`registry()`].
#[derive(Debug, Default)]
pub struct Registry {
    /// Whether this is the process-wide registry, which lists the attributes' declarations.
    process_wide: bool,
    breakers: RwLock<BTreeMap<String, Arc<CircuitBreaker>>>,
    bulkheads: RwLock<BTreeMap<String, Arc<Bulkhead>>>,
    /// The configuration each registered breaker and bulkhead was asked for (the attribute's),
    /// which overrides apply over.
    bases: RwLock<BTreeMap<(PolicyKind, String), PolicyConfig>>,
    /// The overrides applied last (contract §7), also applied at each first use.
    overrides: RwLock<Arc<Overrides>>,
    /// Overridden policies that match no policy known yet.
    unmatched: RwLock<Vec<(PolicyKind, String)>>,
}

/// The process-wide registry that the attributes and [`ResilienceFacade`](crate::ResilienceFacade)
/// register their policies in.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry {
        process_wide: true,
        ..Registry::default()
    })
}

/// The kind of a policy, as its attribute is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PolicyKind {
    /// `#[circuit_breaker]`, or a breaker registered by the programmatic API.
    CircuitBreaker,
    /// `#[retry]`.
    Retry,
    /// `#[timeout]`.
    Timeout,
    /// `#[bulkhead]`, or a bulkhead registered by the programmatic API.
    Bulkhead,
}

impl PolicyKind {
    /// `circuit_breaker`, `retry`, `timeout` or `bulkhead`: the attribute's name, and the
    /// section of an overrides file (contract §7).
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::CircuitBreaker => "circuit_breaker",
            PolicyKind::Retry => "retry",
            PolicyKind::Timeout => "timeout",
            PolicyKind::Bulkhead => "bulkhead",
        }
    }
}

impl std::fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy's effective configuration (serialised as the configuration alone).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum PolicyConfig {
    /// A breaker's.
    CircuitBreaker(CircuitBreakerConfig),
    /// A retry's.
    Retry(RetryConfig),
    /// A timeout's.
    Timeout(TimeoutConfig),
    /// A bulkhead's.
    Bulkhead(BulkheadConfig),
}

impl PolicyConfig {
    /// The kind of policy this configures.
    pub fn kind(&self) -> PolicyKind {
        match self {
            PolicyConfig::CircuitBreaker(_) => PolicyKind::CircuitBreaker,
            PolicyConfig::Retry(_) => PolicyKind::Retry,
            PolicyConfig::Timeout(_) => PolicyKind::Timeout,
            PolicyConfig::Bulkhead(_) => PolicyKind::Bulkhead,
        }
    }
}

/// One policy the registry lists: its name, kind and effective configuration.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PolicyInfo {
    /// The registry name (contract §2, §7).
    pub name: String,
    /// Which policy.
    pub kind: PolicyKind,
    /// Its effective configuration: the registered policy's once it was first used, else the
    /// attribute's.
    pub config: PolicyConfig,
    /// Whether it has been used (a breaker or bulkhead registered); retries and timeouts hold
    /// no shared state and are always `false`.
    pub registered: bool,
    /// `false` when an override disabled it (`enabled = false`): calls pass through.
    pub enabled: bool,
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

/// The counts of the declared call sites of `kind` named `name`, summed by `add`; `None` when
/// no call site is.
fn site_counts<C: Default>(
    kind: PolicyKind,
    name: &str,
    mut add: impl FnMut(&Declaration, &mut C),
) -> Option<C> {
    let mut sum = None;
    for declaration in declarations() {
        if declaration.kind_and_name() == (kind, name) {
            add(declaration, sum.get_or_insert_with(C::default));
        }
    }
    sum
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
    config_of: impl Fn(&P) -> C,
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
    if &config_of(&policy) != config {
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

    /// Every policy: each annotated function's (the process-wide registry lists them from
    /// start-up, before their first call) and each breaker and bulkhead registered by the
    /// programmatic API, ordered by kind then name. A name used by several functions is listed
    /// once per kind.
    pub fn policies(&self) -> Vec<PolicyInfo> {
        let mut listed: BTreeMap<(PolicyKind, String), PolicyInfo> = BTreeMap::new();
        let mut add = |name: &str, config: PolicyConfig, registered: bool, enabled: bool| {
            let kind = config.kind();
            let entry = listed
                .entry((kind, name.to_owned()))
                .or_insert_with(|| PolicyInfo {
                    name: name.to_owned(),
                    kind,
                    config: config.clone(),
                    registered,
                    enabled,
                });
            if registered && !entry.registered {
                entry.config = config;
                entry.registered = true;
            }
            entry.enabled &= enabled;
        };
        for (name, breaker) in read(&self.breakers).iter() {
            add(
                name,
                PolicyConfig::CircuitBreaker(breaker.current_config()),
                true,
                true,
            );
        }
        for (name, bulkhead) in read(&self.bulkheads).iter() {
            add(
                name,
                PolicyConfig::Bulkhead(bulkhead.current_config()),
                true,
                true,
            );
        }
        if self.process_wide {
            for declaration in declarations() {
                let (name, config, enabled) = match *declaration {
                    Declaration::CircuitBreaker(site) => (
                        site.name(),
                        PolicyConfig::CircuitBreaker(
                            self.effective_breaker(site.name(), site.config()).config,
                        ),
                        site.enabled(),
                    ),
                    Declaration::Bulkhead(site) => (
                        site.name(),
                        PolicyConfig::Bulkhead(
                            self.effective_bulkhead(site.name(), site.config()).config,
                        ),
                        site.enabled(),
                    ),
                    Declaration::Retry(site) => {
                        let effective = site.effective();
                        (
                            site.name(),
                            PolicyConfig::Retry(effective.config),
                            effective.enabled,
                        )
                    }
                    Declaration::Timeout(site) => {
                        let effective = site.effective();
                        (
                            site.name(),
                            PolicyConfig::Timeout(effective.config),
                            effective.enabled,
                        )
                    }
                };
                add(name, config, false, enabled);
            }
        }
        listed.into_values().collect()
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
        let config = &self.effective_breaker(name, config).config;
        get_or_register(
            &self.breakers,
            "circuit_breaker",
            name,
            config,
            CircuitBreaker::current_config,
            || {
                self.remember_base(PolicyKind::CircuitBreaker, name, || {
                    PolicyConfig::CircuitBreaker(config.clone())
                });
                CircuitBreaker::new(name, config.clone())
            },
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
        let base = config;
        base.validate()?;
        let config = &self.effective_bulkhead(name, base).config;
        get_or_register(
            &self.bulkheads,
            "bulkhead",
            name,
            config,
            Bulkhead::current_config,
            || {
                self.remember_base(PolicyKind::Bulkhead, name, || {
                    PolicyConfig::Bulkhead(base.clone())
                });
                Bulkhead::new(name, config.clone())
            },
        )
    }

    fn remember_base(&self, kind: PolicyKind, name: &str, base: impl FnOnce() -> PolicyConfig) {
        write(&self.bases)
            .entry((kind, name.to_owned()))
            .or_insert_with(base);
    }

    fn current_overrides(&self) -> Arc<Overrides> {
        read(&self.overrides).clone()
    }

    /// `base` under the applied overrides of the breaker `name` (validated when applied; a
    /// value that does not fit this base is logged and the base kept).
    pub(crate) fn effective_breaker(
        &self,
        name: &str,
        base: &CircuitBreakerConfig,
    ) -> Effective<CircuitBreakerConfig> {
        let overrides = self.current_overrides();
        effective_or_base(
            overrides.get(PolicyKind::CircuitBreaker, &normalize(name)),
            base,
            merge::circuit_breaker,
        )
    }

    /// `base` under the applied overrides of the bulkhead `name`.
    pub(crate) fn effective_bulkhead(
        &self,
        name: &str,
        base: &BulkheadConfig,
    ) -> Effective<BulkheadConfig> {
        let overrides = self.current_overrides();
        effective_or_base(
            overrides.get(PolicyKind::Bulkhead, &normalize(name)),
            base,
            merge::bulkhead,
        )
    }

    /// Every policy with its state and counters, and the overrides that match no policy
    /// (contract §8): serialise it for a health endpoint.
    pub fn snapshot(&self) -> crate::snapshot::Snapshot {
        use crate::snapshot::{Counters, PolicySnapshot, Snapshot, UnmatchedOverride, state_label};
        let policies = self
            .policies()
            .into_iter()
            .map(|policy| {
                let (state, counters) = match policy.kind {
                    PolicyKind::CircuitBreaker => match self.circuit_breaker(&policy.name) {
                        Some(breaker) => {
                            let metrics = breaker.metrics();
                            (
                                Some(state_label(breaker.state())),
                                Some(Counters::CircuitBreaker {
                                    successful: metrics.successful,
                                    failed: metrics.failed,
                                    rejected: metrics.rejected,
                                    opened: metrics.opened,
                                }),
                            )
                        }
                        None => (None, None),
                    },
                    PolicyKind::Bulkhead => match self.bulkhead(&policy.name) {
                        Some(bulkhead) => (
                            None,
                            Some(Counters::Bulkhead {
                                running: bulkhead.in_flight() as u64,
                                waiting: bulkhead.queued() as u64,
                                accepted: bulkhead.accepted(),
                                rejected: bulkhead.rejected(),
                            }),
                        ),
                        None => (None, None),
                    },
                    PolicyKind::Retry => (
                        None,
                        site_counts(
                            PolicyKind::Retry,
                            &policy.name,
                            |declaration, sum: &mut RetryCounts| {
                                if let Declaration::Retry(site) = declaration {
                                    sum.add(site.counts());
                                }
                            },
                        )
                        .map(Counters::Retry),
                    ),
                    PolicyKind::Timeout => (
                        None,
                        site_counts(
                            PolicyKind::Timeout,
                            &policy.name,
                            |declaration, sum: &mut TimeoutCounts| {
                                if let Declaration::Timeout(site) = declaration {
                                    sum.add(site.counts());
                                }
                            },
                        )
                        .map(Counters::Timeout),
                    ),
                };
                PolicySnapshot {
                    name: policy.name,
                    kind: policy.kind,
                    enabled: policy.enabled,
                    config: policy.config,
                    state,
                    counters,
                }
            })
            .collect();
        let unmatched_overrides = self
            .unmatched_overrides()
            .into_iter()
            .map(|(kind, name)| UnmatchedOverride { kind, name })
            .collect();
        Snapshot {
            policies,
            unmatched_overrides,
        }
    }

    /// A receiver of every event from now on (contract §8): breaker transitions, bulkhead
    /// rejections, applied and refused overrides. One channel for the process, whichever
    /// registry subscribes; a receiver more than 1024 events behind misses the oldest.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<crate::events::Event> {
        crate::events::subscribe()
    }

    /// Overridden policies that match no policy known yet: a typo in a name shows here (and
    /// as a warning when applied). Kind and name as written.
    pub fn unmatched_overrides(&self) -> Vec<(PolicyKind, String)> {
        read(&self.unmatched).clone()
    }

    /// Applies `overrides` (contract §7), replacing those applied before: everything is
    /// validated first against each policy's attribute configuration, and on any error nothing
    /// changes. Retries and timeouts change for their next call; breakers and bulkheads not used
    /// yet get theirs at first use; `enabled = false` makes an annotated function's policy pass
    /// calls through. Overrides for names no policy has yet are kept (they apply at first use),
    /// logged and listed by [`unmatched_overrides`](Self::unmatched_overrides).
    ///
    /// Two known policies of one kind whose names [normalise](crate::config::normalize) alike
    /// make it an error naming both.
    pub fn apply(&self, overrides: &Overrides) -> Result<(), OverrideError> {
        self.apply_from(overrides, "apply")
    }

    /// [`apply`](Self::apply), its events naming `source` (a file).
    pub(crate) fn apply_from(
        &self,
        overrides: &Overrides,
        source: &str,
    ) -> Result<(), OverrideError> {
        let result = self.apply_all(overrides);
        match &result {
            Ok(()) => crate::events::emit(|| crate::events::Event::ConfigReloaded {
                source: source.to_owned(),
            }),
            Err(error) => crate::events::emit(|| crate::events::Event::ConfigReloadFailed {
                source: source.to_owned(),
                error: error.to_string(),
            }),
        }
        result
    }

    fn apply_all(&self, overrides: &Overrides) -> Result<(), OverrideError> {
        let mut errors = Vec::new();
        // Every known name, by kind and normalised name.
        let mut known: BTreeMap<(PolicyKind, String), Vec<String>> = BTreeMap::new();
        let mut note = |kind: PolicyKind, name: &str| {
            let names = known.entry((kind, normalize(name))).or_default();
            if !names.iter().any(|known| known == name) {
                names.push(name.to_owned());
            }
        };
        for name in read(&self.breakers).keys() {
            note(PolicyKind::CircuitBreaker, name);
        }
        for name in read(&self.bulkheads).keys() {
            note(PolicyKind::Bulkhead, name);
        }
        let declared: Vec<&'static Declaration> = if self.process_wide {
            declarations().collect()
        } else {
            Vec::new()
        };
        for declaration in &declared {
            let (kind, name) = declaration.kind_and_name();
            note(kind, name);
        }
        for ((kind, normalized), names) in &known {
            if let [first, second, ..] = names.as_slice() {
                errors.push(OverrideError::Ambiguous {
                    kind: *kind,
                    first: first.clone(),
                    second: second.clone(),
                    normalized: normalized.clone(),
                });
            }
        }

        // Validate everything before changing anything.
        let mut retries = Vec::new();
        let mut timeouts = Vec::new();
        let mut enabled_breakers = Vec::new();
        let mut enabled_bulkheads = Vec::new();
        for declaration in &declared {
            let (kind, name) = declaration.kind_and_name();
            let policy = overrides.get(kind, &normalize(name));
            match **declaration {
                Declaration::Retry(site) => match policy {
                    None => retries.push((site, None)),
                    Some(policy) => match merge::retry(site.attribute_config(), policy) {
                        Ok(effective) => retries.push((site, Some(effective))),
                        Err(found) => errors.extend(found),
                    },
                },
                Declaration::Timeout(site) => match policy {
                    None => timeouts.push((site, None)),
                    Some(policy) => match merge::timeout(site.attribute_config(), policy) {
                        Ok(effective) => timeouts.push((site, Some(effective))),
                        Err(found) => errors.extend(found),
                    },
                },
                Declaration::CircuitBreaker(site) => match policy {
                    None => enabled_breakers.push((site, true)),
                    Some(policy) => match merge::circuit_breaker(site.config(), policy) {
                        Ok(effective) => enabled_breakers.push((site, effective.enabled)),
                        Err(found) => errors.extend(found),
                    },
                },
                Declaration::Bulkhead(site) => match policy {
                    None => enabled_bulkheads.push((site, true)),
                    Some(policy) => match merge::bulkhead(site.config(), policy) {
                        Ok(effective) => enabled_bulkheads.push((site, effective.enabled)),
                        Err(found) => errors.extend(found),
                    },
                },
            }
        }
        let bases = read(&self.bases).clone();
        for ((kind, name), base) in &bases {
            if let Some(policy) = overrides.get(*kind, &normalize(name))
                && let Err(found) = merge::check(base, policy)
            {
                errors.extend(found);
            }
        }
        let mut unmatched = Vec::new();
        for ((kind, normalized), policy) in &overrides.policies {
            if known.contains_key(&(*kind, normalized.clone())) {
                continue;
            }
            unmatched.push((*kind, policy.written.clone()));
            let default = match kind {
                PolicyKind::CircuitBreaker => {
                    PolicyConfig::CircuitBreaker(CircuitBreakerConfig::DEFAULT)
                }
                PolicyKind::Retry => PolicyConfig::Retry(RetryConfig::DEFAULT),
                PolicyKind::Timeout => PolicyConfig::Timeout(TimeoutConfig::DEFAULT),
                PolicyKind::Bulkhead => PolicyConfig::Bulkhead(BulkheadConfig::DEFAULT),
            };
            if let Err(found) = merge::check(&default, policy) {
                errors.extend(found);
            }
        }
        // One value can be checked twice (by a declaration and by the breaker or bulkhead
        // registered for it): report it once.
        let mut reported = std::collections::BTreeSet::new();
        errors.retain(|error| reported.insert(error.to_string()));
        if !errors.is_empty() {
            return Err(OverrideError::from_all(errors));
        }

        // Commit.
        *write(&self.overrides) = Arc::new(overrides.clone());
        for (site, effective) in retries {
            site.set(effective);
        }
        for (site, effective) in timeouts {
            site.set(effective);
        }
        for (site, enabled) in enabled_breakers {
            site.set_enabled(enabled);
        }
        for (site, enabled) in enabled_bulkheads {
            site.set_enabled(enabled);
        }
        for ((kind, name), base) in &bases {
            let policy = overrides.get(*kind, &normalize(name));
            match base {
                PolicyConfig::Bulkhead(base) => {
                    let effective = policy.map_or_else(
                        || base.clone(),
                        |policy| {
                            merge::bulkhead(base, policy)
                                .map_or_else(|_| base.clone(), |effective| effective.config)
                        },
                    );
                    let bulkhead = read(&self.bulkheads).get(name).cloned();
                    if let Some(bulkhead) = bulkhead
                        && bulkhead.current_config() != effective
                        && let Err(error) = bulkhead.reconfigure(effective)
                    {
                        // Validated above: not reached.
                        tracing::warn!(target: "resilience", %error, name = name.as_str(), "a bulkhead override was refused");
                    }
                }
                PolicyConfig::CircuitBreaker(base) => {
                    let effective = policy.map_or_else(
                        || base.clone(),
                        |policy| {
                            merge::circuit_breaker(base, policy)
                                .map_or_else(|_| base.clone(), |effective| effective.config)
                        },
                    );
                    let breaker = read(&self.breakers).get(name).cloned();
                    let Some(breaker) = breaker else { continue };
                    if breaker.current_config() == effective {
                        continue;
                    }
                    if let Err(error) = breaker.reconfigure(effective) {
                        // Validated above: not reached.
                        tracing::warn!(
                            target: "resilience",
                            %error,
                            name = name.as_str(),
                            "a circuit breaker override was refused"
                        );
                    }
                }
                _ => {}
            }
        }
        for (kind, name) in &unmatched {
            tracing::warn!(
                target: "resilience",
                policy = kind.as_str(),
                name = name.as_str(),
                "an override names no {kind} known yet: it applies if one is used later (check the name for a typo)"
            );
        }
        *write(&self.unmatched) = unmatched;
        Ok(())
    }
}

fn effective_or_base<C: Clone + std::fmt::Debug>(
    policy: Option<&crate::config::PolicyOverride>,
    base: &C,
    merge: impl Fn(&C, &crate::config::PolicyOverride) -> Result<Effective<C>, Vec<OverrideError>>,
) -> Effective<C> {
    let base_effective = || Effective {
        config: base.clone(),
        enabled: true,
    };
    let Some(policy) = policy else {
        return base_effective();
    };
    match merge(base, policy) {
        Ok(effective) => effective,
        Err(errors) => {
            for error in errors {
                tracing::warn!(target: "resilience", %error, "an override does not fit this policy; keeping its attribute's configuration");
            }
            base_effective()
        }
    }
}
