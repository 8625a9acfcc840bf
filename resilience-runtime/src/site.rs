//! Call sites: the policies of one annotated function, resolved once and kept in `static`s.
//!
//! The first call registers (or finds) the named breaker and bulkhead in the process-wide
//! registry; every later call reads one `OnceLock` per policy and borrows it. This is what makes
//! the registry lookup once per call site, never per call.
//!
//! Generated code keeps one [`BreakerSite`] / [`BulkheadSite`] per policy it uses and builds
//! `Layers` of concrete types from them.

// std's atomics, not loom's: the sites are `static`s, built in `const` context.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwapOption;

use crate::budget::{RetryBudget, RetryBudgetConfig};
use crate::bulkhead::{Bulkhead, BulkheadConfig};
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig};
use crate::config::merge::Effective;
use crate::error::ConfigError;
use crate::pipeline::RetryRef;
use crate::registry::{PolicyKind, registry};
use crate::retry::RetryConfig;
use crate::striped::SiteCounter;
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
    stats: RetryStats,
    /// The retry budget's name (`#[retry(budget = "..")]`), and the budget once resolved.
    budget_name: Option<&'static str>,
    budget: OnceLock<Option<Arc<RetryBudget>>>,
}

/// How a call through a retry ended, as counted in the snapshot and the metrics (contract §8:
/// `resilience_retry_calls_total{result}`). The discriminants index the site's counters and
/// the field order of [`RetryOutcomes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOutcome {
    /// It succeeded (at the first attempt, or after retries).
    Success = 0,
    /// It failed with no retry decided by the policy's rules: the policy was disabled
    /// (`enabled = false`), or its retry budget refused the retry.
    Failure = 1,
    /// It failed with every retry spent.
    MaxRetries = 2,
    /// It failed with the next delay reaching past `max_duration`.
    MaxDuration = 3,
    /// It failed with an error the retry does not retry (`retry_if` said no, or `CircuitOpen`).
    NotRetryable = 4,
}

impl RetryOutcome {
    /// The label value of contract §8.
    pub fn label(self) -> &'static str {
        match self {
            RetryOutcome::Success => "success",
            RetryOutcome::Failure => "failure",
            RetryOutcome::MaxRetries => "max_retries",
            RetryOutcome::MaxDuration => "max_duration",
            RetryOutcome::NotRetryable => "not_retryable",
        }
    }
}

/// The counts of one retry call site.
#[derive(Debug)]
struct RetryStats {
    /// Calls that succeeded at their first attempt: every call of the happy path adds here,
    /// so it is striped.
    first_try: SiteCounter,
    /// The other outcomes, `[retried][outcome]` (the cold paths).
    outcomes: [[AtomicU64; 5]; 2],
    /// Retries started.
    retries: AtomicU64,
    /// `first_try`'s `metrics` counter.
    first_try_metric: crate::metrics::SiteHandle,
}

impl RetryStats {
    const fn new() -> Self {
        RetryStats {
            first_try: SiteCounter::new(),
            outcomes: [const { [const { AtomicU64::new(0) }; 5] }; 2],
            retries: AtomicU64::new(0),
            first_try_metric: crate::metrics::SiteHandle::new(),
        }
    }
}

/// Calls by how they ended (contract §8), one field per [`RetryOutcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[non_exhaustive]
pub struct RetryOutcomes {
    /// [`RetryOutcome::Success`].
    pub success: u64,
    /// [`RetryOutcome::Failure`].
    pub failure: u64,
    /// [`RetryOutcome::MaxRetries`].
    pub max_retries: u64,
    /// [`RetryOutcome::MaxDuration`].
    pub max_duration: u64,
    /// [`RetryOutcome::NotRetryable`].
    pub not_retryable: u64,
}

impl RetryOutcomes {
    fn from_row(row: [u64; 5]) -> Self {
        let [success, failure, max_retries, max_duration, not_retryable] = row;
        RetryOutcomes {
            success,
            failure,
            max_retries,
            max_duration,
            not_retryable,
        }
    }

    fn add(&mut self, other: RetryOutcomes) {
        self.success += other.success;
        self.failure += other.failure;
        self.max_retries += other.max_retries;
        self.max_duration += other.max_duration;
        self.not_retryable += other.not_retryable;
    }

    /// The calls that ended with `outcome`.
    pub fn get(&self, outcome: RetryOutcome) -> u64 {
        match outcome {
            RetryOutcome::Success => self.success,
            RetryOutcome::Failure => self.failure,
            RetryOutcome::MaxRetries => self.max_retries,
            RetryOutcome::MaxDuration => self.max_duration,
            RetryOutcome::NotRetryable => self.not_retryable,
        }
    }
}

/// A retry's counts (contract §8), summed over the call sites that share its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[non_exhaustive]
pub struct RetryCounts {
    /// Calls that ended without a retry, by outcome.
    pub without_retry: RetryOutcomes,
    /// Calls that ended after at least one retry, by outcome.
    pub with_retry: RetryOutcomes,
    /// Retries started.
    pub retries: u64,
}

impl RetryCounts {
    pub(crate) fn add(&mut self, other: RetryCounts) {
        self.without_retry.add(other.without_retry);
        self.with_retry.add(other.with_retry);
        self.retries += other.retries;
    }
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
            stats: RetryStats::new(),
            budget_name: None,
            budget: OnceLock::new(),
        }
    }

    /// The same site drawing its retries from the process-wide retry budget `name` (created
    /// with [`RetryBudgetConfig::default`] on first use, shared with the tower layers of that
    /// name): every call deposits, every retry withdraws, and a retry the budget refuses is not
    /// made (the call fails with its last error at once, counted as
    /// [`RetryOutcome::Failure`]).
    pub const fn with_budget(mut self, name: &'static str) -> Self {
        self.budget_name = Some(name);
        self
    }

    /// The budget, resolved on first use; `None` without one. A budget that cannot be created
    /// (not reached: the name is checked at compile time) is logged once and left out.
    #[inline]
    pub(crate) fn budget(&self) -> Option<&RetryBudget> {
        let name = self.budget_name?;
        self.budget
            .get_or_init(|| match RetryBudget::named(name, &RetryBudgetConfig::default()) {
                Ok(budget) => Some(budget),
                Err(error) => {
                    tracing::warn!(target: "resilience", retry = self.name, %error, "the retry budget could not be created; retrying without it");
                    None
                }
            })
            .as_deref()
    }

    /// Counts a call that ended with `outcome` after `retries` retries.
    #[inline]
    pub(crate) fn count(&self, retries: u32, outcome: RetryOutcome) {
        if retries == 0 && outcome == RetryOutcome::Success {
            self.stats.first_try.increment();
            let name = self.name;
            self.stats
                .first_try_metric
                .increment(|| crate::metrics::retry_success_first_try(name));
        } else {
            self.count_cold(retries, outcome);
        }
    }

    #[cold]
    fn count_cold(&self, retries: u32, outcome: RetryOutcome) {
        self.stats.outcomes[usize::from(retries > 0)][outcome as usize]
            .fetch_add(1, Ordering::Relaxed);
        crate::metrics::retry_call(self.name, retries > 0, outcome);
    }

    /// Counts a retry about to start.
    #[cold]
    pub(crate) fn count_retry(&self) {
        self.stats.retries.fetch_add(1, Ordering::Relaxed);
        crate::metrics::retry_retried(self.name);
    }

    /// This site's counts.
    pub(crate) fn counts(&self) -> RetryCounts {
        let load = |row: &[AtomicU64; 5]| row.each_ref().map(|c| c.load(Ordering::Relaxed));
        let mut without_retry = load(&self.stats.outcomes[0]);
        without_retry[RetryOutcome::Success as usize] += self.stats.first_try.sum();
        RetryCounts {
            without_retry: RetryOutcomes::from_row(without_retry),
            with_retry: RetryOutcomes::from_row(load(&self.stats.outcomes[1])),
            retries: self.stats.retries.load(Ordering::Relaxed),
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
    /// Attempts that ended in time (every call adds here: striped).
    calls: SiteCounter,
    /// Attempts that ran out of time.
    timed_out: AtomicU64,
    /// `calls`' `metrics` counter (`timed_out = "false"`).
    calls_metric: crate::metrics::SiteHandle,
}

/// A timeout's counts (contract §8), summed over the call sites that share its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[non_exhaustive]
pub struct TimeoutCounts {
    /// Attempts that ended (in time or not; an attempt cancelled by its caller is not counted).
    pub calls: u64,
    /// Attempts that ran out of time.
    pub timed_out: u64,
}

impl TimeoutCounts {
    pub(crate) fn add(&mut self, other: TimeoutCounts) {
        self.calls += other.calls;
        self.timed_out += other.timed_out;
    }
}

/// The timeout layer of a call site (what generated code builds): bounds the attempt by the
/// site's duration and counts it.
#[derive(Debug, Clone, Copy)]
pub struct SiteTimeout<'a> {
    site: &'a TimeoutSite,
    after: Duration,
}

impl crate::layers::TimeoutLayer for SiteTimeout<'_> {
    type Bounded<F: std::future::Future> = crate::layers::Bounded<F>;
    #[inline(always)]
    fn bound<F: std::future::Future>(&self, future: F) -> Self::Bounded<F> {
        // `Duration`'s bound: the request's deadline shortens it.
        self.after.bound(future)
    }
    #[inline(always)]
    fn finished(&self) {
        self.site.calls.increment();
        let name = self.site.name;
        self.site
            .calls_metric
            .increment(|| crate::metrics::timeout_call(name));
    }
    #[cold]
    fn timed_out(&self) {
        self.site.timed_out.fetch_add(1, Ordering::Relaxed);
        crate::metrics::timed_out(self.site.name);
        let (name, after) = (self.site.name, self.after);
        tracing::debug!(target: "resilience", timeout = name, ?after, "an attempt timed out");
        crate::events::emit(|| crate::events::Event::Timeout {
            name: name.to_owned(),
            after,
        });
    }
}

impl TimeoutSite {
    /// The timeout of a call site.
    pub const fn new(name: &'static str, timeout: Duration) -> Self {
        TimeoutSite {
            name,
            config: TimeoutConfig { timeout },
            overridden: AtomicBool::new(false),
            current: ArcSwapOption::const_empty(),
            calls: SiteCounter::new(),
            timed_out: AtomicU64::new(0),
            calls_metric: crate::metrics::SiteHandle::new(),
        }
    }

    /// The layer of the next call: [`duration`](Self::duration), counted on this site.
    #[inline]
    pub fn layer(&self) -> SiteTimeout<'_> {
        SiteTimeout {
            site: self,
            after: self.duration(),
        }
    }

    /// This site's counts.
    pub(crate) fn counts(&self) -> TimeoutCounts {
        let timed_out = self.timed_out.load(Ordering::Relaxed);
        TimeoutCounts {
            calls: self.calls.sum() + timed_out,
            timed_out,
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
