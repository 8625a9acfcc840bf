//! [`Snapshot`]: every policy's name, kind, configuration, state and counters, as a
//! `serde::Serialize` value for health endpoints (contract §8).

use serde::Serialize;

use crate::circuit_breaker::CircuitState;
use crate::registry::{PolicyConfig, PolicyKind};
use crate::site::{RetryCounts, TimeoutCounts};

/// What [`Registry::snapshot`](crate::Registry::snapshot) returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Snapshot {
    /// Every policy, ordered by kind then name.
    pub policies: Vec<PolicySnapshot>,
    /// Overridden policies whose names match no policy known yet (a typo shows here).
    pub unmatched_overrides: Vec<UnmatchedOverride>,
}

/// One policy of a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PolicySnapshot {
    /// Its registry name.
    pub name: String,
    /// `circuit_breaker`, `retry`, `timeout` or `bulkhead`.
    pub kind: PolicyKind,
    /// `false` when an override disabled it.
    pub enabled: bool,
    /// Its effective configuration.
    pub config: PolicyConfig,
    /// A breaker's state: `closed`, `open` or `half_open`; `None` for the other kinds, and for
    /// a breaker not used yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'static str>,
    /// Its counters: a breaker's and a bulkhead's once used, a retry's and a timeout's summed
    /// over the annotated functions that declare it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counters: Option<Counters>,
}

/// A policy's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Counters {
    /// A breaker's, since it was created or last reset.
    CircuitBreaker {
        /// Outcomes recorded as successes.
        successful: u64,
        /// Outcomes recorded as failures.
        failed: u64,
        /// Calls rejected with `CircuitOpen`.
        rejected: u64,
        /// Transitions into Open.
        opened: u64,
    },
    /// A bulkhead's.
    Bulkhead {
        /// Bodies running now.
        running: u64,
        /// Callers waiting now.
        waiting: u64,
        /// Callers admitted so far.
        accepted: u64,
        /// Callers turned away so far.
        rejected: u64,
    },
    /// A retry's: calls by outcome, with and without retries, and the retries started.
    Retry(RetryCounts),
    /// A timeout's: attempts that ended, and those that ran out of time.
    Timeout(TimeoutCounts),
}

/// An overridden policy that matches no known policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct UnmatchedOverride {
    /// The kind it names.
    pub kind: PolicyKind,
    /// The name as written.
    pub name: String,
}

/// `closed`, `open` or `half_open`: the contract's label values.
pub(crate) fn state_label(state: CircuitState) -> &'static str {
    match state {
        CircuitState::Closed => "closed",
        CircuitState::Open => "open",
        CircuitState::HalfOpen => "half_open",
    }
}
