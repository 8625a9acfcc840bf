//! `specs/Retry.tla` transcribed: one function per action (same names, in snake case), one per
//! invariant, and a stateright [`Model`] that explores either the spec or the runtime's
//! `RetryConfig::decide` (with `ResilienceError::is_retryable` classifying the rejections).

use std::time::Duration;

use resilience_runtime::retry::RetryDecision;
use resilience_runtime::{Backoff, ResilienceError, RetryConfig};
use stateright::{Model, Property};

use crate::cfg::Cfg;

/// One unit of the spec's time, in the runtime.
pub const UNIT: Duration = Duration::from_millis(1);

/// `Errors`: how an attempt can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// `"None"`: no attempt failed yet.
    None,
    /// An operation error `retry_if` accepts.
    RetryableError,
    /// An operation error `retry_if` refuses.
    OtherError,
    /// `ResilienceError::Timeout`.
    Timeout,
    /// `ResilienceError::BulkheadFull`.
    BulkheadFull,
    /// `ResilienceError::NoInstance`.
    NoInstance,
    /// `ResilienceError::CircuitOpen`.
    CircuitOpen,
}

/// `Errors`.
pub const ERRORS: [Error; 6] = [
    Error::RetryableError,
    Error::OtherError,
    Error::Timeout,
    Error::BulkheadFull,
    Error::NoInstance,
    Error::CircuitOpen,
];

/// `Retryable`: the spec's classification.
pub fn retryable(e: Error) -> bool {
    matches!(
        e,
        Error::RetryableError | Error::Timeout | Error::BulkheadFull | Error::NoInstance
    )
}

/// The runtime's classification: `retry_if` for operation errors, `is_retryable` for rejections.
pub fn runtime_retryable(e: Error) -> bool {
    let rejection = match e {
        Error::None | Error::OtherError => return false,
        Error::RetryableError => return true,
        Error::Timeout => ResilienceError::Timeout { after: UNIT },
        Error::BulkheadFull => ResilienceError::BulkheadFull { name: "b".into() },
        Error::NoInstance => ResilienceError::NoInstance {
            service: "s".into(),
        },
        Error::CircuitOpen => ResilienceError::CircuitOpen { name: "c".into() },
    };
    rejection.is_retryable()
}

/// `phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// `"Running"`: an attempt runs.
    Running,
    /// `"Deciding"`: an attempt failed.
    Deciding,
    /// `"Succeeded"`.
    Succeeded,
    /// `"GaveUp"`.
    GaveUp,
}

/// The spec's variables.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vars {
    /// `backoff`.
    pub backoff: Backoff,
    /// `maxDuration` (0 = none).
    pub max_duration: u64,
    /// `phase`.
    pub phase: Phase,
    /// `retries`.
    pub retries: u32,
    /// `elapsed`.
    pub elapsed: u64,
    /// `lastError`.
    pub last_error: Error,
    /// `lastDelay`.
    pub last_delay: u64,
}

/// The spec's constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constants {
    /// `MaxRetries`.
    pub max_retries: u32,
    /// `BaseDelay`.
    pub base_delay: u64,
    /// `MaxDelay`.
    pub max_delay: u64,
    /// `JitterPct`.
    pub jitter_pct: u64,
    /// `Backoffs`.
    pub backoffs: Vec<Backoff>,
    /// `MaxDurations`.
    pub max_durations: Vec<u64>,
    /// `AttemptTimes`.
    pub attempt_times: Vec<u64>,
}

impl Constants {
    /// The constants of `specs/Retry.cfg`.
    pub fn from_cfg() -> Constants {
        let cfg = Cfg::load("Retry");
        let numbers = |name: &str| -> Vec<u64> {
            cfg.set(name)
                .iter()
                .map(|n| n.parse().expect("a natural number"))
                .collect()
        };
        Constants {
            max_retries: cfg.int("MaxRetries") as u32,
            base_delay: cfg.int("BaseDelay"),
            max_delay: cfg.int("MaxDelay"),
            jitter_pct: cfg.int("JitterPct"),
            backoffs: cfg
                .set("Backoffs")
                .iter()
                .map(|b| match b.as_str() {
                    "exponential" => Backoff::Exponential,
                    "linear" => Backoff::Linear,
                    "fixed" => Backoff::Fixed,
                    other => panic!("unknown backoff {other}"),
                })
                .collect(),
            max_durations: numbers("MaxDurations"),
            attempt_times: numbers("AttemptTimes"),
        }
    }

    /// The runtime's configuration for one behaviour.
    pub fn config(&self, backoff: Backoff, max_duration: u64) -> RetryConfig {
        RetryConfig {
            max_retries: self.max_retries,
            base_delay: UNIT * self.base_delay as u32,
            max_delay: UNIT * self.max_delay as u32,
            jitter_factor: self.jitter_pct as f64 / 100.0,
            backoff,
            max_duration: (max_duration != 0).then(|| UNIT * max_duration as u32),
        }
    }
}

/// The spec's actions (`Next`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `Succeed`.
    Succeed,
    /// `Fail(e, t)`.
    Fail(Error, u64),
    /// `RetryAfter(d)`.
    RetryAfter(u64),
    /// `GiveUp`.
    GiveUp,
    /// `Done`.
    Done,
}

impl Action {
    /// Every action of `Next` for these constants.
    pub fn all(k: &Constants) -> Vec<Action> {
        let mut all = vec![Action::Succeed, Action::GiveUp, Action::Done];
        for e in ERRORS {
            for &t in &k.attempt_times {
                all.push(Action::Fail(e, t));
            }
        }
        all.extend((0..=k.max_delay).map(Action::RetryAfter));
        all
    }
}

/// `Nominal(b, n)`.
pub fn nominal(k: &Constants, b: Backoff, n: u32) -> u64 {
    match b {
        Backoff::Fixed => k.base_delay,
        Backoff::Linear => k.base_delay * u64::from(n),
        Backoff::Exponential => k.base_delay << (n - 1),
    }
}

/// `DelayRange(b, n)`, as (lo, hi).
pub fn delay_range(k: &Constants, b: Backoff, n: u32) -> (u64, u64) {
    let nominal = nominal(k, b, n).min(k.max_delay);
    let lo = (nominal * (100 - k.jitter_pct)).div_ceil(100);
    let hi = (nominal * (100 + k.jitter_pct) / 100).min(k.max_delay);
    (lo, hi)
}

/// `Init`.
pub fn init(k: &Constants) -> Vec<Vars> {
    let mut states = Vec::new();
    for &backoff in &k.backoffs {
        for &max_duration in &k.max_durations {
            states.push(Vars {
                backoff,
                max_duration,
                phase: Phase::Running,
                retries: 0,
                elapsed: 0,
                last_error: Error::None,
                last_delay: 0,
            });
        }
    }
    states
}

/// `Succeed`.
pub fn succeed(_k: &Constants, s: &Vars) -> Option<Vars> {
    (s.phase == Phase::Running).then(|| Vars {
        phase: Phase::Succeeded,
        ..s.clone()
    })
}

/// `Fail(e, t)`.
pub fn fail(_k: &Constants, s: &Vars, e: Error, t: u64) -> Option<Vars> {
    (s.phase == Phase::Running).then(|| Vars {
        phase: Phase::Deciding,
        last_error: e,
        elapsed: s.elapsed + t,
        ..s.clone()
    })
}

/// `RetryAfter(d)`.
pub fn retry_after(k: &Constants, s: &Vars, d: u64) -> Option<Vars> {
    let (lo, hi) = delay_range(k, s.backoff, s.retries + 1);
    let enabled = s.phase == Phase::Deciding
        && retryable(s.last_error)
        && s.retries < k.max_retries
        && (lo..=hi).contains(&d)
        && (s.max_duration == 0 || s.elapsed + d < s.max_duration);
    enabled.then(|| Vars {
        phase: Phase::Running,
        retries: s.retries + 1,
        elapsed: s.elapsed + d,
        last_delay: d,
        ..s.clone()
    })
}

/// `GiveUp`.
pub fn give_up(k: &Constants, s: &Vars) -> Option<Vars> {
    let (_, hi) = delay_range(k, s.backoff, s.retries + 1);
    let enabled = s.phase == Phase::Deciding
        && (!retryable(s.last_error)
            || s.retries >= k.max_retries
            || (s.max_duration != 0 && s.elapsed + hi >= s.max_duration));
    enabled.then(|| Vars {
        phase: Phase::GaveUp,
        ..s.clone()
    })
}

/// `Done`.
pub fn done(_k: &Constants, s: &Vars) -> Option<Vars> {
    matches!(s.phase, Phase::Succeeded | Phase::GaveUp).then(|| s.clone())
}

/// The spec's successor of `s` by `action`, `None` when the action is not enabled.
pub fn spec_next(k: &Constants, s: &Vars, action: Action) -> Option<Vars> {
    match action {
        Action::Succeed => succeed(k, s),
        Action::Fail(e, t) => fail(k, s, e, t),
        Action::RetryAfter(d) => retry_after(k, s, d),
        Action::GiveUp => give_up(k, s),
        Action::Done => done(k, s),
    }
}

/// `TypeOK`.
pub fn type_ok(k: &Constants, s: &Vars) -> bool {
    k.backoffs.contains(&s.backoff)
        && k.max_durations.contains(&s.max_duration)
        && s.retries <= k.max_retries
        && s.last_delay <= k.max_delay
}

/// `AttemptBound`.
pub fn attempt_bound(k: &Constants, s: &Vars) -> bool {
    s.retries <= k.max_retries
}

/// `NoAttemptAfterMaxDuration`.
pub fn no_attempt_after_max_duration(_k: &Constants, s: &Vars) -> bool {
    !(s.phase == Phase::Running && s.max_duration != 0) || s.elapsed < s.max_duration
}

/// `DelayWithinBounds`.
pub fn delay_within_bounds(k: &Constants, s: &Vars) -> bool {
    if s.retries == 0 {
        return true;
    }
    let (lo, hi) = delay_range(k, s.backoff, s.retries);
    (lo..=hi).contains(&s.last_delay) && s.last_delay <= k.max_delay
}

/// `OnlyRetryableRetried`.
pub fn only_retryable_retried(_k: &Constants, s: &Vars) -> bool {
    !(s.phase == Phase::Running && s.retries > 0) || retryable(s.last_error)
}

/// `GaveUpOnLastError`.
pub fn gave_up_on_last_error(_k: &Constants, s: &Vars) -> bool {
    s.phase != Phase::GaveUp || s.last_error != Error::None
}

/// The jitter draw (`unit` of `RetryConfig::delay`) giving exactly `d` units of delay before
/// retry `n`, if any draw does.
fn unit_for(config: &RetryConfig, n: u32, d: u64) -> Option<f64> {
    let nominal = config.nominal_delay(n).min(config.max_delay).as_secs_f64();
    let d = (UNIT * d as u32).as_secs_f64();
    let j = config.jitter_factor;
    if nominal == 0.0 || j == 0.0 {
        return ((d - nominal).abs() < 1e-9).then_some(0.5);
    }
    let unit = (d / nominal - 1.0 + j) / (2.0 * j);
    (-1e-9..=1.0 + 1e-9)
        .contains(&unit)
        .then(|| unit.clamp(0.0, 1.0))
}

/// The jitter draws the implementation check tries in every deciding state, besides the exact
/// ones of `unit_for`.
pub const UNITS: [f64; 6] = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];

/// The implementation's successor of `s` by `action`: `decide` on the runtime's configuration
/// and classification. `RetryAfter(d)` is taken when some jitter draw makes `decide` retry
/// after exactly `d`; `GiveUp` when some draw (among [`UNITS`]) makes it give up.
pub fn implementation_next(k: &Constants, s: &Vars, action: Action) -> Option<Vars> {
    let config = k.config(s.backoff, s.max_duration);
    let decide = |unit: f64| {
        config.decide(
            s.retries,
            UNIT * s.elapsed as u32,
            runtime_retryable(s.last_error),
            unit,
        )
    };
    match action {
        Action::RetryAfter(d) if s.phase == Phase::Deciding => {
            let unit = unit_for(&config, s.retries + 1, d)?;
            match decide(unit) {
                RetryDecision::RetryAfter(delay)
                    if delay.abs_diff(UNIT * d as u32) < UNIT / 1000 =>
                {
                    Some(Vars {
                        phase: Phase::Running,
                        retries: s.retries + 1,
                        elapsed: s.elapsed + d,
                        last_delay: d,
                        ..s.clone()
                    })
                }
                _ => None,
            }
        }
        Action::GiveUp if s.phase == Phase::Deciding => UNITS
            .iter()
            .any(|&unit| decide(unit) == RetryDecision::GiveUp)
            .then(|| Vars {
                phase: Phase::GaveUp,
                ..s.clone()
            }),
        Action::RetryAfter(_) | Action::GiveUp => None,
        // Attempts and their outcomes are the environment, not the policy.
        _ => spec_next(k, s, action),
    }
}

/// Every draw of [`UNITS`] in every reachable deciding state: `decide` gives up only where the
/// spec may, and retries only where the spec may, after a delay (real-valued, any jitter) within
/// the spec's bounds.
pub fn check_decisions_within_spec(k: &Constants, s: &Vars) -> Result<(), String> {
    if s.phase != Phase::Deciding {
        return Ok(());
    }
    let config = k.config(s.backoff, s.max_duration);
    for unit in UNITS {
        let decision = config.decide(
            s.retries,
            UNIT * s.elapsed as u32,
            runtime_retryable(s.last_error),
            unit,
        );
        let ok = match decision {
            RetryDecision::GiveUp => give_up(k, s).is_some(),
            RetryDecision::RetryAfter(delay) => {
                let (lo, hi) = delay_range(k, s.backoff, s.retries + 1);
                let slack = UNIT / 1000;
                retryable(s.last_error)
                    && s.retries < k.max_retries
                    && delay + slack >= UNIT * lo as u32
                    && delay <= UNIT * hi as u32 + slack
                    && (s.max_duration == 0
                        || UNIT * s.elapsed as u32 + delay < UNIT * s.max_duration as u32)
            }
        };
        if !ok {
            return Err(format!(
                "decide at unit {unit} gave {decision:?} from {s:?}"
            ));
        }
    }
    Ok(())
}

/// Which transition relation the model explores.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Semantics {
    /// The spec's actions.
    Spec,
    /// `RetryConfig::decide`.
    Implementation,
    /// The spec where a non-retryable error gives up only once the retries are exhausted: a
    /// mutation that keeps every invariant (nothing wrong is ever retried) and leaves the call
    /// hanging, caught by the liveness check only.
    GiveUpOnlyWhenExhausted,
}

/// `Retry.tla` under its `.cfg` constants, as a stateright model.
#[derive(Clone)]
pub struct RetryModel {
    /// The constants.
    pub k: Constants,
    /// Spec or implementation.
    pub semantics: Semantics,
}

impl RetryModel {
    /// The spec (or the implementation) under `specs/Retry.cfg`.
    pub fn new(semantics: Semantics) -> Self {
        RetryModel {
            k: Constants::from_cfg(),
            semantics,
        }
    }
}

/// The names of the spec's invariants checked by [`RetryModel`].
pub const INVARIANTS: [&str; 6] = [
    "TypeOK",
    "AttemptBound",
    "NoAttemptAfterMaxDuration",
    "DelayWithinBounds",
    "OnlyRetryableRetried",
    "GaveUpOnLastError",
];

impl Model for RetryModel {
    type State = Vars;
    type Action = Action;

    fn init_states(&self) -> Vec<Vars> {
        init(&self.k)
    }

    fn actions(&self, _state: &Vars, actions: &mut Vec<Action>) {
        actions.extend(Action::all(&self.k));
    }

    fn next_state(&self, state: &Vars, action: Action) -> Option<Vars> {
        match self.semantics {
            Semantics::Spec => spec_next(&self.k, state, action),
            Semantics::Implementation => implementation_next(&self.k, state, action),
            Semantics::GiveUpOnlyWhenExhausted => match action {
                Action::GiveUp
                    if state.last_error != Error::None
                        && !retryable(state.last_error)
                        && state.retries < self.k.max_retries =>
                {
                    None
                }
                _ => spec_next(&self.k, state, action),
            },
        }
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("TypeOK", |m: &Self, s: &Vars| type_ok(&m.k, s)),
            Property::always("AttemptBound", |m: &Self, s: &Vars| attempt_bound(&m.k, s)),
            Property::always("NoAttemptAfterMaxDuration", |m: &Self, s: &Vars| {
                no_attempt_after_max_duration(&m.k, s)
            }),
            Property::always("DelayWithinBounds", |m: &Self, s: &Vars| {
                delay_within_bounds(&m.k, s)
            }),
            Property::always("OnlyRetryableRetried", |m: &Self, s: &Vars| {
                only_retryable_retried(&m.k, s)
            }),
            Property::always("GaveUpOnLastError", |m: &Self, s: &Vars| {
                gave_up_on_last_error(&m.k, s)
            }),
            // Reachability: none of the invariants above holds vacuously.
            Property::sometimes("every retry used", |m: &Self, s: &Vars| {
                s.phase == Phase::Running && s.retries == m.k.max_retries
            }),
            Property::sometimes("gave up on retries exhausted", |m: &Self, s: &Vars| {
                s.phase == Phase::GaveUp && s.retries == m.k.max_retries
            }),
            Property::sometimes(
                "gave up at max_duration with retries left",
                |m: &Self, s: &Vars| {
                    s.phase == Phase::GaveUp
                        && s.max_duration != 0
                        && s.retries < m.k.max_retries
                        && retryable(s.last_error)
                },
            ),
            Property::sometimes("gave up on CircuitOpen", |_, s: &Vars| {
                s.phase == Phase::GaveUp && s.last_error == Error::CircuitOpen
            }),
            Property::sometimes("delay capped at max_delay", |m: &Self, s: &Vars| {
                s.retries > 0 && s.last_delay == m.k.max_delay
            }),
            Property::sometimes("succeeded after a retry", |_, s: &Vars| {
                s.phase == Phase::Succeeded && s.retries > 0
            }),
        ]
    }
}

pub use crate::explore::RefinementReport;

/// For every reachable state of the spec and every action: `decide` allows the action exactly
/// when the spec does, with the same successor; and every sampled draw of `decide` is a spec
/// step ([`check_decisions_within_spec`]).
pub fn check_refinement() -> Result<RefinementReport, String> {
    let model = RetryModel::new(Semantics::Spec);
    crate::explore::refine_action_by_action(
        &crate::explore::reachable(&model),
        &Action::all(&model.k),
        |s| check_decisions_within_spec(&model.k, s),
        |s, action| spec_next(&model.k, s, action),
        |s, action| implementation_next(&model.k, s, action),
    )
}

// ---------------------------------------------------------------------------------------------
// Liveness.

/// The names of the spec's liveness properties (its `.cfg`'s `PROPERTIES`) checked by
/// [`check_liveness`].
pub const LIVENESS: [&str; 1] = ["CallEnds"];

/// `Fairness` of the spec: every attempt ends (`WF_vars(Succeed \/ \E e, t : Fail(e, t))`:
/// with a timeout layer, or by the body returning) and a failed attempt is decided
/// (`WF_vars(\E d : RetryAfter(d) \/ GiveUp)`).
pub fn fairness() -> Vec<crate::liveness::Fairness<Action>> {
    use crate::liveness::Fairness;
    vec![
        Fairness::weak("WF_vars(AttemptEnds)", |a: &Action| {
            matches!(a, Action::Succeed | Action::Fail(..))
        }),
        Fairness::weak("WF_vars(Decide)", |a: &Action| {
            matches!(a, Action::RetryAfter(_) | Action::GiveUp)
        }),
    ]
}

/// `CallEnds`: `phase \in {"Running", "Deciding"} ~> phase \in {"Succeeded", "GaveUp"}`.
pub fn check_liveness(
    model: &RetryModel,
    fairness: &[crate::liveness::Fairness<Action>],
) -> Result<crate::liveness::LivenessReport, String> {
    crate::liveness::Graph::explore(model, fairness)
        .leads_to(
            |s| matches!(s.phase, Phase::Running | Phase::Deciding),
            |s| matches!(s.phase, Phase::Succeeded | Phase::GaveUp),
        )
        .map_err(|e| format!("CallEnds: {e}"))
}
