//! `specs/CircuitBreaker.tla` transcribed: one function per action (same names, in snake case),
//! one per invariant, and a stateright [`Model`] that explores either the spec itself or the
//! runtime's `step` driven the way `breaker.rs` drives it, abstracted back to the spec's
//! variables (the refinement mapping).

use resilience_runtime::circuit_breaker::state::{
    Decision, Event, FOREVER, Limits, Micros, Phase as RustPhase, State as RustState,
};
use stateright::{Model, Property};

use crate::cfg::Cfg;

/// `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `"consecutive"`: `max_failures`.
    Consecutive,
    /// `"rate"`: `failure_rate` over a window.
    Rate,
}

/// `phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// `"Closed"`.
    Closed,
    /// `"Open"`.
    Open,
    /// `"HalfOpen"`.
    HalfOpen,
}

/// A caller's permit (`NoPermit` is `held: false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Permit {
    /// Whether the caller holds a permit.
    pub held: bool,
    /// Its admission epoch.
    pub epoch: u32,
    /// Whether it holds a half-open trial slot.
    pub trial: bool,
}

/// `NoPermit`.
pub const NO_PERMIT: Permit = Permit {
    held: false,
    epoch: 0,
    trial: false,
};

/// The spec's variables.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vars {
    /// `mode`.
    pub mode: Mode,
    /// `phase`.
    pub phase: Phase,
    /// `failures`.
    pub failures: u32,
    /// `forced`.
    pub forced: bool,
    /// `elapsed`.
    pub elapsed: bool,
    /// `admitted`.
    pub admitted: u32,
    /// `succeeded`.
    pub succeeded: u32,
    /// `epoch`.
    pub epoch: u32,
    /// `permit`, indexed by caller.
    pub permit: Vec<Permit>,
}

/// The spec's constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constants {
    /// `Callers` (callers are `0..callers`).
    pub callers: usize,
    /// `Modes`.
    pub modes: Vec<Mode>,
    /// `MaxFailures`.
    pub max_failures: u32,
    /// `HalfOpenAllowed`.
    pub half_open_allowed: u32,
    /// `MaxEpoch`.
    pub max_epoch: u32,
}

impl Constants {
    /// The constants of `specs/CircuitBreaker.cfg`.
    pub fn from_cfg() -> Constants {
        let cfg = Cfg::load("CircuitBreaker");
        Constants {
            callers: cfg.set("Callers").len(),
            modes: cfg
                .set("Modes")
                .iter()
                .map(|mode| match mode.as_str() {
                    "consecutive" => Mode::Consecutive,
                    "rate" => Mode::Rate,
                    other => panic!("unknown mode {other}"),
                })
                .collect(),
            max_failures: cfg.int("MaxFailures") as u32,
            half_open_allowed: cfg.int("HalfOpenAllowed") as u32,
            max_epoch: cfg.int("MaxEpoch") as u32,
        }
    }
}

/// The spec's actions (`Next`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `Acquire(c)`.
    Acquire(usize),
    /// `Reject(c)`.
    Reject(usize),
    /// `Succeed(c)`.
    Succeed(usize),
    /// `Fail(c)`.
    Fail(usize),
    /// `Trip(c)`.
    Trip(usize),
    /// `Cancel(c)`.
    Cancel(usize),
    /// `Tick`.
    Tick,
    /// `Reset`.
    Reset,
    /// `ForceOpen`.
    ForceOpen,
}

impl Action {
    /// Every action of `Next` for these constants.
    pub fn all(k: &Constants) -> Vec<Action> {
        let mut all = Vec::new();
        for c in 0..k.callers {
            all.extend([
                Action::Acquire(c),
                Action::Reject(c),
                Action::Succeed(c),
                Action::Fail(c),
                Action::Trip(c),
                Action::Cancel(c),
            ]);
        }
        all.extend([Action::Tick, Action::Reset, Action::ForceOpen]);
        all
    }
}

// ---------------------------------------------------------------------------------------------
// The spec, action by action.

/// `Init`.
pub fn init(k: &Constants) -> Vec<Vars> {
    k.modes
        .iter()
        .map(|&mode| Vars {
            mode,
            phase: Phase::Closed,
            failures: 0,
            forced: false,
            elapsed: false,
            admitted: 0,
            succeeded: 0,
            epoch: 0,
            permit: vec![NO_PERMIT; k.callers],
        })
        .collect()
}

/// `Current(c)`.
fn current(s: &Vars, c: usize) -> bool {
    s.permit[c].held && s.permit[c].epoch == s.epoch
}

/// `Trials`, counted.
fn trials(s: &Vars) -> u32 {
    (0..s.permit.len())
        .filter(|&c| current(s, c) && s.permit[c].trial)
        .count() as u32
}

/// `GoOpen(isForced)` (the breaker variables only).
fn go_open(s: &mut Vars, is_forced: bool) {
    s.phase = Phase::Open;
    s.forced = is_forced;
    s.elapsed = false;
    s.failures = 0;
    s.admitted = 0;
    s.succeeded = 0;
    s.epoch += 1;
}

/// `GoClosed`.
fn go_closed(s: &mut Vars) {
    s.phase = Phase::Closed;
    s.forced = false;
    s.elapsed = false;
    s.failures = 0;
    s.admitted = 0;
    s.succeeded = 0;
    s.epoch += 1;
}

/// `Release(c)`.
fn release(s: &mut Vars, c: usize) {
    s.permit[c] = NO_PERMIT;
}

/// `Acquire(c)`.
pub fn acquire(k: &Constants, s: &Vars, c: usize) -> Option<Vars> {
    if s.permit[c].held {
        return None;
    }
    let mut n = s.clone();
    match s.phase {
        Phase::Closed => {
            n.permit[c] = Permit {
                held: true,
                epoch: s.epoch,
                trial: false,
            };
        }
        Phase::Open if s.elapsed => {
            n.phase = Phase::HalfOpen;
            n.forced = false;
            n.elapsed = false;
            n.failures = 0;
            n.admitted = 1;
            n.succeeded = 0;
            n.epoch = s.epoch + 1;
            n.permit[c] = Permit {
                held: true,
                epoch: s.epoch + 1,
                trial: true,
            };
        }
        Phase::HalfOpen if s.admitted < k.half_open_allowed => {
            n.admitted = s.admitted + 1;
            n.permit[c] = Permit {
                held: true,
                epoch: s.epoch,
                trial: true,
            };
        }
        _ => return None,
    }
    Some(n)
}

/// `Reject(c)`.
pub fn reject(k: &Constants, s: &Vars, c: usize) -> Option<Vars> {
    let rejects = match s.phase {
        Phase::Open => !s.elapsed,
        Phase::HalfOpen => s.admitted == k.half_open_allowed,
        Phase::Closed => false,
    };
    (!s.permit[c].held && rejects).then(|| s.clone())
}

/// `Succeed(c)`.
pub fn succeed(k: &Constants, s: &Vars, c: usize) -> Option<Vars> {
    if !s.permit[c].held {
        return None;
    }
    let mut n = s.clone();
    release(&mut n, c);
    if current(s, c) {
        if s.phase == Phase::HalfOpen {
            if s.succeeded + 1 >= k.half_open_allowed {
                go_closed(&mut n);
            } else {
                n.succeeded = s.succeeded + 1;
            }
        } else {
            n.failures = 0;
        }
    }
    Some(n)
}

/// `Fail(c)`.
pub fn fail(k: &Constants, s: &Vars, c: usize) -> Option<Vars> {
    if !s.permit[c].held {
        return None;
    }
    let mut n = s.clone();
    release(&mut n, c);
    if !current(s, c) {
    } else if s.phase == Phase::HalfOpen {
        go_open(&mut n, false);
    } else if s.mode == Mode::Rate {
    } else if s.failures + 1 >= k.max_failures {
        go_open(&mut n, false);
    } else {
        n.failures = s.failures + 1;
    }
    Some(n)
}

/// `Trip(c)`.
pub fn trip(_k: &Constants, s: &Vars, c: usize) -> Option<Vars> {
    if !(s.mode == Mode::Rate && current(s, c) && s.phase == Phase::Closed) {
        return None;
    }
    let mut n = s.clone();
    release(&mut n, c);
    go_open(&mut n, false);
    Some(n)
}

/// `Cancel(c)`.
pub fn cancel(_k: &Constants, s: &Vars, c: usize) -> Option<Vars> {
    if !s.permit[c].held {
        return None;
    }
    let mut n = s.clone();
    release(&mut n, c);
    if current(s, c) && s.permit[c].trial {
        n.admitted = s.admitted - 1;
    }
    Some(n)
}

/// `Tick`.
pub fn tick(_k: &Constants, s: &Vars) -> Option<Vars> {
    if !(s.phase == Phase::Open && !s.forced && !s.elapsed) {
        return None;
    }
    let mut n = s.clone();
    n.elapsed = true;
    Some(n)
}

/// `Reset`.
pub fn reset(_k: &Constants, s: &Vars) -> Option<Vars> {
    let mut n = s.clone();
    go_closed(&mut n);
    Some(n)
}

/// `ForceOpen`.
pub fn force_open(_k: &Constants, s: &Vars) -> Option<Vars> {
    let mut n = s.clone();
    go_open(&mut n, true);
    Some(n)
}

/// The spec's successor of `s` by `action`, `None` when the action is not enabled.
pub fn spec_next(k: &Constants, s: &Vars, action: Action) -> Option<Vars> {
    match action {
        Action::Acquire(c) => acquire(k, s, c),
        Action::Reject(c) => reject(k, s, c),
        Action::Succeed(c) => succeed(k, s, c),
        Action::Fail(c) => fail(k, s, c),
        Action::Trip(c) => trip(k, s, c),
        Action::Cancel(c) => cancel(k, s, c),
        Action::Tick => tick(k, s),
        Action::Reset => reset(k, s),
        Action::ForceOpen => force_open(k, s),
    }
}

// ---------------------------------------------------------------------------------------------
// Invariants.

/// `TypeOK`.
pub fn type_ok(k: &Constants, s: &Vars) -> bool {
    k.modes.contains(&s.mode)
        && s.failures <= k.max_failures
        && s.admitted <= k.half_open_allowed
        && s.succeeded <= k.half_open_allowed
        && s.permit.len() == k.callers
        && s.permit.iter().all(|p| p.held || *p == NO_PERMIT)
        && (s.phase == Phase::Closed || s.failures == 0)
        && (s.phase == Phase::Open || (!s.forced && !s.elapsed))
        && (s.phase == Phase::HalfOpen || (s.admitted == 0 && s.succeeded == 0))
}

/// `ClosedBelowThreshold`.
pub fn closed_below_threshold(k: &Constants, s: &Vars) -> bool {
    s.phase != Phase::Closed
        || match s.mode {
            Mode::Consecutive => s.failures < k.max_failures,
            Mode::Rate => s.failures == 0,
        }
}

/// `HalfOpenBound`.
pub fn half_open_bound(k: &Constants, s: &Vars) -> bool {
    s.phase != Phase::HalfOpen || (s.succeeded <= s.admitted && s.admitted <= k.half_open_allowed)
}

/// `TrialsAccounted`.
pub fn trials_accounted(_k: &Constants, s: &Vars) -> bool {
    s.phase != Phase::HalfOpen || s.admitted == trials(s) + s.succeeded
}

/// `TrialsOnlyInHalfOpen`.
pub fn trials_only_in_half_open(_k: &Constants, s: &Vars) -> bool {
    (0..s.permit.len()).all(|c| !current(s, c) || s.permit[c].trial == (s.phase == Phase::HalfOpen))
}

/// `OpenAdmitsNobody`.
pub fn open_admits_nobody(_k: &Constants, s: &Vars) -> bool {
    s.phase != Phase::Open || (0..s.permit.len()).all(|c| !current(s, c))
}

/// `ForcedOpenWaitsForReset`.
pub fn forced_open_waits_for_reset(_k: &Constants, s: &Vars) -> bool {
    !s.forced || !s.elapsed
}

/// `EpochsMonotonic`.
pub fn epochs_monotonic(_k: &Constants, s: &Vars) -> bool {
    s.permit.iter().all(|p| !p.held || p.epoch <= s.epoch)
}

/// `EpochBound` (the `CONSTRAINT`).
pub fn epoch_bound(k: &Constants, s: &Vars) -> bool {
    s.epoch <= k.max_epoch
}

// ---------------------------------------------------------------------------------------------
// The implementation, abstracted.

/// The signature of `circuit_breaker::state::step`.
pub type StepFn = fn(RustState, Event, &Limits, Micros) -> (RustState, Decision);

/// The reset timeout given to `step` (any positive value: only `now >= until` matters).
const RESET_TIMEOUT: Micros = 1_000;
/// The `until` of an Open phase that is not forced, in the concrete state.
const UNTIL: Micros = 10_000;

/// The `Limits` the driver builds for `mode`.
pub fn limits(k: &Constants, mode: Mode) -> Limits {
    Limits {
        max_failures: (mode == Mode::Consecutive).then_some(k.max_failures),
        reset_timeout: RESET_TIMEOUT,
        half_open_allowed_calls: k.half_open_allowed,
    }
}

/// The refinement mapping's inverse: a Rust state and clock reading with the abstraction `s`.
pub fn concretize(s: &Vars) -> (RustState, Micros) {
    let phase = match s.phase {
        Phase::Closed => RustPhase::Closed {
            failures: s.failures,
        },
        Phase::Open if s.forced => RustPhase::Open { until: FOREVER },
        Phase::Open => RustPhase::Open { until: UNTIL },
        Phase::HalfOpen => RustPhase::HalfOpen {
            admitted: s.admitted,
            succeeded: s.succeeded,
        },
    };
    let now = if s.phase == Phase::Open && !s.elapsed {
        UNTIL - 1
    } else {
        UNTIL
    };
    let epoch = u16::try_from(s.epoch).expect("epochs explored fit the word");
    (RustState { epoch, phase }, now)
}

/// The refinement mapping: the spec's breaker variables of a Rust state read at `now`
/// (`permit` and `mode` are copied from `env`).
pub fn abstraction(state: RustState, now: Micros, env: &Vars) -> Vars {
    let mut s = env.clone();
    s.epoch = u32::from(state.epoch);
    (s.failures, s.forced, s.elapsed, s.admitted, s.succeeded) = (0, false, false, 0, 0);
    match state.phase {
        RustPhase::Closed { failures } => {
            s.phase = Phase::Closed;
            s.failures = failures;
        }
        RustPhase::Open { until } => {
            s.phase = Phase::Open;
            s.forced = until == FOREVER;
            s.elapsed = !s.forced && now >= until;
        }
        RustPhase::HalfOpen {
            admitted,
            succeeded,
        } => {
            s.phase = Phase::HalfOpen;
            s.admitted = admitted;
            s.succeeded = succeeded;
        }
    }
    s
}

/// The implementation's successor of `s` by `action`: what `breaker.rs` does for that caller
/// event, with `step` computing the new word. `None` when the implementation cannot take it.
pub fn implementation_next(k: &Constants, step: StepFn, s: &Vars, action: Action) -> Option<Vars> {
    let limits = limits(k, s.mode);
    let (state, now) = concretize(s);
    let apply = |event: Event, env: &Vars| {
        let (next, decision) = step(state, event, &limits, now);
        (abstraction(next, now, env), decision)
    };
    let held = |c: usize| s.permit[c].held;
    let rust_epoch = |c: usize| s.permit[c].epoch as u16;
    let released = |c: usize| {
        let mut env = s.clone();
        release(&mut env, c);
        env
    };
    match action {
        Action::Acquire(c) | Action::Reject(c) if held(c) => None,
        Action::Acquire(c) => match apply(Event::Acquire, s) {
            (mut n, Decision::Admitted { epoch, trial }) => {
                n.permit[c] = Permit {
                    held: true,
                    epoch: u32::from(epoch),
                    trial,
                };
                Some(n)
            }
            _ => None,
        },
        Action::Reject(_) => match apply(Event::Acquire, s) {
            (n, Decision::Rejected) => Some(n),
            _ => None,
        },
        Action::Succeed(c) | Action::Fail(c) if !held(c) => None,
        Action::Succeed(c) | Action::Fail(c) => {
            let env = released(c);
            if s.mode == Mode::Rate && s.phase == Phase::Closed {
                // `record`: the outcome goes to the window, which did not trip (Trip is the
                // other case); a stale one is dropped. `step` is not called.
                return Some(env);
            }
            let epoch = rust_epoch(c);
            let event = if matches!(action, Action::Fail(_)) {
                Event::Failure { epoch }
            } else {
                Event::Success { epoch }
            };
            Some(apply(event, &env).0)
        }
        Action::Trip(c) => {
            let window_trips = s.mode == Mode::Rate && s.phase == Phase::Closed && current(s, c);
            window_trips.then(|| {
                apply(
                    Event::Trip {
                        epoch: rust_epoch(c),
                    },
                    &released(c),
                )
                .0
            })
        }
        Action::Cancel(c) if !held(c) => None,
        Action::Cancel(c) => {
            let env = released(c);
            if s.permit[c].trial {
                Some(
                    apply(
                        Event::Cancel {
                            epoch: rust_epoch(c),
                        },
                        &env,
                    )
                    .0,
                )
            } else {
                Some(env)
            }
        }
        Action::Tick => match state.phase {
            // Time passes: the same word read at its `until`.
            RustPhase::Open { until } if until != FOREVER && now < until => {
                Some(abstraction(state, until, s))
            }
            _ => None,
        },
        Action::Reset => Some(apply(Event::Reset, s).0),
        Action::ForceOpen => Some(apply(Event::ForceOpen, s).0),
    }
}

// ---------------------------------------------------------------------------------------------
// The stateright model.

/// Which transition relation the model explores.
#[derive(Clone, Copy)]
pub enum Semantics {
    /// The spec's actions.
    Spec,
    /// The implementation's `step`, driven as `breaker.rs` drives it.
    Implementation(StepFn),
}

/// `CircuitBreaker.tla` under its `.cfg` constants, as a stateright model.
#[derive(Clone)]
pub struct CircuitBreakerModel {
    /// The constants.
    pub k: Constants,
    /// Spec or implementation.
    pub semantics: Semantics,
}

impl CircuitBreakerModel {
    /// The spec under `specs/CircuitBreaker.cfg`.
    pub fn spec() -> Self {
        CircuitBreakerModel {
            k: Constants::from_cfg(),
            semantics: Semantics::Spec,
        }
    }

    /// `step` under `specs/CircuitBreaker.cfg`.
    pub fn implementation(step: StepFn) -> Self {
        CircuitBreakerModel {
            k: Constants::from_cfg(),
            semantics: Semantics::Implementation(step),
        }
    }
}

/// The names of the spec's invariants checked by [`CircuitBreakerModel`].
pub const INVARIANTS: [&str; 8] = [
    "TypeOK",
    "ClosedBelowThreshold",
    "HalfOpenBound",
    "TrialsAccounted",
    "TrialsOnlyInHalfOpen",
    "OpenAdmitsNobody",
    "ForcedOpenWaitsForReset",
    "EpochsMonotonic",
];

impl Model for CircuitBreakerModel {
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
            Semantics::Implementation(step) => implementation_next(&self.k, step, state, action),
        }
    }

    fn within_boundary(&self, state: &Vars) -> bool {
        epoch_bound(&self.k, state)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("TypeOK", |m: &Self, s: &Vars| type_ok(&m.k, s)),
            Property::always("ClosedBelowThreshold", |m: &Self, s: &Vars| {
                closed_below_threshold(&m.k, s)
            }),
            Property::always("HalfOpenBound", |m: &Self, s: &Vars| {
                half_open_bound(&m.k, s)
            }),
            Property::always("TrialsAccounted", |m: &Self, s: &Vars| {
                trials_accounted(&m.k, s)
            }),
            Property::always("TrialsOnlyInHalfOpen", |m: &Self, s: &Vars| {
                trials_only_in_half_open(&m.k, s)
            }),
            Property::always("OpenAdmitsNobody", |m: &Self, s: &Vars| {
                open_admits_nobody(&m.k, s)
            }),
            Property::always("ForcedOpenWaitsForReset", |m: &Self, s: &Vars| {
                forced_open_waits_for_reset(&m.k, s)
            }),
            Property::always("EpochsMonotonic", |m: &Self, s: &Vars| {
                epochs_monotonic(&m.k, s)
            }),
            // Reachability: none of the invariants above holds vacuously.
            Property::sometimes("consecutive failures opened", |_, s: &Vars| {
                s.mode == Mode::Consecutive && s.phase == Phase::Open && !s.forced
            }),
            Property::sometimes("rate window tripped", |_, s: &Vars| {
                s.mode == Mode::Rate && s.phase == Phase::Open && !s.forced
            }),
            Property::sometimes("failures counting in Closed", |_, s: &Vars| {
                s.phase == Phase::Closed && s.failures > 0
            }),
            Property::sometimes("reset timeout elapsed", |_, s: &Vars| s.elapsed),
            Property::sometimes("forced open", |_, s: &Vars| s.forced),
            Property::sometimes("HalfOpen", |_, s: &Vars| s.phase == Phase::HalfOpen),
            Property::sometimes(
                "HalfOpen with every trial slot taken",
                |m: &Self, s: &Vars| {
                    s.phase == Phase::HalfOpen && s.admitted == m.k.half_open_allowed
                },
            ),
            Property::sometimes("concurrent trials running", |_, s: &Vars| {
                s.phase == Phase::HalfOpen && trials(s) >= 2
            }),
            Property::sometimes("HalfOpen with a success counted", |_, s: &Vars| {
                s.phase == Phase::HalfOpen && s.succeeded > 0
            }),
            Property::sometimes("Closed again in a later epoch", |_, s: &Vars| {
                s.phase == Phase::Closed && s.epoch >= 3
            }),
            Property::sometimes("stale permit outstanding", |_, s: &Vars| {
                s.permit.iter().any(|p| p.held && p.epoch < s.epoch)
            }),
            Property::sometimes(
                "stale trial outstanding in a new HalfOpen",
                |_, s: &Vars| {
                    s.phase == Phase::HalfOpen
                        && s.permit.iter().any(|p| p.trial && p.epoch < s.epoch)
                },
            ),
        ]
    }
}

// ---------------------------------------------------------------------------------------------
// Refinement.

pub use crate::explore::RefinementReport;

/// For every reachable state of the spec and every action: the implementation takes the action
/// exactly when the spec does, and reaches the same state. So every implementation step is a
/// spec step (refinement), and every spec action is matched by an implementation step.
pub fn check_refinement(step: StepFn) -> Result<RefinementReport, String> {
    let model = CircuitBreakerModel::spec();
    crate::explore::refine_action_by_action(
        &crate::explore::reachable(&model),
        &Action::all(&model.k),
        |_| Ok(()),
        |s, action| spec_next(&model.k, s, action),
        |s, action| implementation_next(&model.k, step, s, action),
    )
}

// ---------------------------------------------------------------------------------------------
// Liveness.

/// The names of the spec's liveness properties (its `.cfg`'s `PROPERTIES`) checked by
/// [`check_liveness`].
pub const LIVENESS: [&str; 1] = ["OpenEventuallyProbes"];

/// `Fairness` of the spec: time passes (`WF_vars(Tick)`), every caller keeps calling
/// (`WF_vars(Acquire(c))`) and every admitted call eventually ends, with an outcome or dropped
/// (`WF_vars(Succeed(c) \/ Fail(c) \/ Trip(c) \/ Cancel(c))`).
pub fn fairness(k: &Constants) -> Vec<crate::liveness::Fairness<Action>> {
    use crate::liveness::Fairness;
    let mut fair = vec![Fairness::weak("WF_vars(Tick)", |a: &Action| {
        *a == Action::Tick
    })];
    for c in 0..k.callers {
        fair.push(Fairness::weak(
            format!("WF_vars(Acquire(c{}))", c + 1),
            move |a: &Action| *a == Action::Acquire(c),
        ));
        fair.push(Fairness::weak(
            format!("WF_vars(CallEnds(c{}))", c + 1),
            move |a: &Action| {
                matches!(a, Action::Succeed(x) | Action::Fail(x) | Action::Trip(x) | Action::Cancel(x) if *x == c)
            },
        ));
    }
    fair
}

/// `OpenEventuallyProbes`: `(phase = "Open" /\ ~forced) ~> (phase # "Open" \/ forced)` on every
/// state `model` reaches, under `fairness`. An Open phase at `MaxEpoch` is left through a step
/// outside the `EpochBound` constraint, which the check counts as leaving (not explored).
pub fn check_liveness(
    model: &CircuitBreakerModel,
    fairness: &[crate::liveness::Fairness<Action>],
) -> Result<crate::liveness::LivenessReport, String> {
    crate::liveness::Graph::explore(model, fairness)
        .leads_to(
            |s| s.phase == Phase::Open && !s.forced,
            |s| s.phase != Phase::Open || s.forced,
        )
        .map_err(|e| format!("OpenEventuallyProbes: {e}"))
}
