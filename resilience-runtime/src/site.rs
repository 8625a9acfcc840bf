//! Call sites: the policies of one annotated function, resolved once and kept in `static`s.
//!
//! The first call registers (or finds) the named breaker and bulkhead in the process-wide
//! registry; every later call reads one `OnceLock` per policy and borrows it. This is what makes
//! the registry lookup once per call site, never per call.
//!
//! Generated code keeps one [`BreakerSite`] / [`BulkheadSite`] per policy it uses and builds
//! `Layers` of concrete types from them.

// std's atomics, not loom's: the sites are `static`s, built in `const` context.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwapOption;

use crate::bulkhead::{Bulkhead, BulkheadConfig};
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig};
use crate::config::merge::Effective;
use crate::error::ConfigError;
use crate::pipeline::RetryRef;
use crate::registry::{PolicyKind, registry};
use crate::retry::RetryConfig;
use crate::timeout::TimeoutConfig;

/// A named breaker of one call site, registered on first use.
#[derive(Debug)]
pub struct BreakerSite {
    name: &'static str,
    config: CircuitBreakerConfig,
    disabled: AtomicBool,
    resolved: OnceLock<Result<Arc<CircuitBreaker>, ConfigError>>,
}

impl BreakerSite {
    /// A breaker site that has not been called yet.
    pub const fn new(name: &'static str, config: CircuitBreakerConfig) -> Self {
        BreakerSite {
            name,
            config,
            disabled: AtomicBool::new(false),
            resolved: OnceLock::new(),
        }
    }

    /// The breaker's registry name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The configuration the attribute wrote.
    pub fn config(&self) -> &CircuitBreakerConfig {
        &self.config
    }

    /// The breaker, registering it on the first call.
    ///
    /// When an override disabled it (`enabled = false`), the process-wide pass-through breaker
    /// instead: always Closed, it admits every call and records no failure. The layer keeps its
    /// type either way, so the switch costs the call path one load of a flag it reads anyway.
    #[inline]
    pub fn get(&self) -> Result<&CircuitBreaker, ConfigError> {
        if self.disabled.load(Ordering::Acquire) {
            return Ok(CircuitBreaker::passthrough());
        }
        match self
            .resolved
            .get_or_init(|| registry().circuit_breaker_or_register(self.name, &self.config))
        {
            Ok(breaker) => Ok(breaker),
            Err(error) => Err(error.clone()),
        }
    }

    /// Disables (or enables again) the policy of this call site.
    pub(crate) fn set_enabled(&self, enabled: bool) {
        self.disabled.store(!enabled, Ordering::Release);
    }

    /// Whether an override disabled it.
    pub(crate) fn enabled(&self) -> bool {
        !self.disabled.load(Ordering::Acquire)
    }
}

/// A named bulkhead of one call site, registered on first use.
#[derive(Debug)]
pub struct BulkheadSite {
    name: &'static str,
    config: BulkheadConfig,
    disabled: AtomicBool,
    resolved: OnceLock<Result<Arc<Bulkhead>, ConfigError>>,
}

impl BulkheadSite {
    /// A bulkhead site that has not been called yet.
    pub const fn new(name: &'static str, config: BulkheadConfig) -> Self {
        BulkheadSite {
            name,
            config,
            disabled: AtomicBool::new(false),
            resolved: OnceLock::new(),
        }
    }

    /// The bulkhead's registry name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The configuration the attribute wrote.
    pub fn config(&self) -> &BulkheadConfig {
        &self.config
    }

    /// The bulkhead, registering it on the first call.
    ///
    /// When an override disabled it (`enabled = false`), the process-wide pass-through bulkhead
    /// instead, whose limit no program reaches ([`MAX_CONCURRENT_CALLS`]): every call runs at
    /// once. As for [`BreakerSite::get`], the layer keeps its type either way.
    ///
    /// [`MAX_CONCURRENT_CALLS`]: resilience_config::bulkhead::MAX_CONCURRENT_CALLS
    #[inline]
    pub fn get(&self) -> Result<&Bulkhead, ConfigError> {
        if self.disabled.load(Ordering::Acquire) {
            return Ok(Bulkhead::passthrough());
        }
        match self
            .resolved
            .get_or_init(|| registry().bulkhead_or_register(self.name, &self.config))
        {
            Ok(bulkhead) => Ok(bulkhead),
            Err(error) => Err(error.clone()),
        }
    }

    /// Disables (or enables again) the policy of this call site.
    pub(crate) fn set_enabled(&self, enabled: bool) {
        self.disabled.store(!enabled, Ordering::Release);
    }

    /// Whether an override disabled it.
    pub(crate) fn enabled(&self) -> bool {
        !self.disabled.load(Ordering::Acquire)
    }
}

/// The retry of one call site: its registry name, the attribute's configuration and the
/// override applied to it, if any.
///
/// The call path reads one atomic flag; only a site with an override applied loads it.
#[derive(Debug)]
pub struct RetrySite {
    name: &'static str,
    config: RetryConfig,
    overridden: AtomicBool,
    current: ArcSwapOption<Effective<RetryConfig>>,
    /// The override's configuration alone, shared with the calls that run with it.
    shared: ArcSwapOption<RetryConfig>,
}

impl RetrySite {
    /// The retry of a call site.
    pub const fn new(name: &'static str, config: RetryConfig) -> Self {
        RetrySite {
            name,
            config,
            overridden: AtomicBool::new(false),
            current: ArcSwapOption::const_empty(),
            shared: ArcSwapOption::const_empty(),
        }
    }

    /// The retry's registry name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The configuration the attribute wrote.
    pub fn attribute_config(&self) -> &RetryConfig {
        &self.config
    }

    /// The configuration of the next call: `None` when an override disabled it (one attempt).
    #[inline]
    pub fn config(&self) -> Option<RetryRef<'_>> {
        if !self.overridden.load(Ordering::Acquire) {
            return Some(RetryRef::Borrowed(&self.config));
        }
        self.overridden_config()
    }

    fn overridden_config(&self) -> Option<RetryRef<'_>> {
        match &*self.current.load() {
            Some(effective) if effective.enabled => match self.shared.load_full() {
                Some(shared) => Some(RetryRef::Shared(shared)),
                None => Some(RetryRef::Borrowed(&self.config)),
            },
            Some(_) => None,
            None => Some(RetryRef::Borrowed(&self.config)),
        }
    }

    /// The effective configuration and whether it is enabled.
    pub(crate) fn effective(&self) -> Effective<RetryConfig> {
        match &*self.current.load() {
            Some(effective) => (**effective).clone(),
            None => Effective {
                config: self.config.clone(),
                enabled: true,
            },
        }
    }

    /// Applies an override (`None`: back to the attribute's).
    pub(crate) fn set(&self, effective: Option<Effective<RetryConfig>>) {
        let overridden = effective.is_some();
        self.shared
            .store(effective.as_ref().map(|e| Arc::new(e.config.clone())));
        self.current.store(effective.map(Arc::new));
        self.overridden.store(overridden, Ordering::Release);
    }
}

/// The timeout of one call site: its registry name, the attribute's configuration and the
/// override applied to it, if any (read as [`RetrySite`]'s).
#[derive(Debug)]
pub struct TimeoutSite {
    name: &'static str,
    config: TimeoutConfig,
    overridden: AtomicBool,
    current: ArcSwapOption<Effective<TimeoutConfig>>,
}

impl TimeoutSite {
    /// The timeout of a call site.
    pub const fn new(name: &'static str, timeout: Duration) -> Self {
        TimeoutSite {
            name,
            config: TimeoutConfig { timeout },
            overridden: AtomicBool::new(false),
            current: ArcSwapOption::const_empty(),
        }
    }

    /// The timeout's registry name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The configuration the attribute wrote.
    pub fn attribute_config(&self) -> &TimeoutConfig {
        &self.config
    }

    /// How long each attempt of the next call may take.
    ///
    /// `Duration::MAX` when an override disabled it (`enabled = false`): tokio bounds that by
    /// its farthest deadline (years away), so the attempt runs unbounded while the layer keeps
    /// its type.
    #[inline]
    pub fn duration(&self) -> Duration {
        if !self.overridden.load(Ordering::Acquire) {
            return self.config.timeout;
        }
        self.overridden_duration()
    }

    #[cold]
    fn overridden_duration(&self) -> Duration {
        match &*self.current.load() {
            Some(effective) if effective.enabled => effective.config.timeout,
            Some(_) => Duration::MAX,
            None => self.config.timeout,
        }
    }

    /// The effective configuration and whether it is enabled.
    pub(crate) fn effective(&self) -> Effective<TimeoutConfig> {
        match &*self.current.load() {
            Some(effective) => (**effective).clone(),
            None => Effective {
                config: self.config.clone(),
                enabled: true,
            },
        }
    }

    /// Applies an override (`None`: back to the attribute's).
    pub(crate) fn set(&self, effective: Option<Effective<TimeoutConfig>>) {
        let overridden = effective.is_some();
        self.current.store(effective.map(Arc::new));
        self.overridden.store(overridden, Ordering::Release);
    }
}

/// One policy of an annotated function, submitted by generated code as a `static` so that the
/// registry lists it from start-up, before its first call (contract §8).
#[derive(Debug, Clone, Copy)]
pub enum Declaration {
    /// A `#[circuit_breaker]`.
    CircuitBreaker(&'static BreakerSite),
    /// A `#[retry]`.
    Retry(&'static RetrySite),
    /// A `#[timeout]`.
    Timeout(&'static TimeoutSite),
    /// A `#[bulkhead]`.
    Bulkhead(&'static BulkheadSite),
}

impl Declaration {
    pub(crate) fn kind_and_name(&self) -> (PolicyKind, &'static str) {
        match self {
            Declaration::CircuitBreaker(site) => (PolicyKind::CircuitBreaker, site.name()),
            Declaration::Retry(site) => (PolicyKind::Retry, site.name()),
            Declaration::Timeout(site) => (PolicyKind::Timeout, site.name()),
            Declaration::Bulkhead(site) => (PolicyKind::Bulkhead, site.name()),
        }
    }
}

inventory::collect!(Declaration);

/// Every declaration of the program, in no particular order.
pub(crate) fn declarations() -> impl Iterator<Item = &'static Declaration> {
    inventory::iter::<Declaration>.into_iter()
}
