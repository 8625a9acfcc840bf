//! `specs/Pipeline.tla` transcribed: one function per action (same names, in snake case), one
//! per invariant, a stateright [`Model`], and its liveness property for the fair-cycle search.
//!
//! The composition has no pure `step` of its own (it is the `__pipeline!` macro, async code):
//! the real composition is checked by `tests/differential.rs` at the workspace root, which
//! drives the attributes, `Pipeline::run` and the facade with the same scripted outcomes.

use stateright::{Model, Property};

use crate::cfg::Cfg;
use crate::liveness::{Fairness, Graph, LivenessReport};

/// `pc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pc {
    /// `"Attempt"`: an attempt is about to start.
    Attempt,
    /// `"Breaker"`: asking the breaker.
    Breaker,
    /// `"Timeout"`: arming the timer.
    Timeout,
    /// `"Bulkhead"`: taking (or waiting for) a slot.
    Bulkhead,
    /// `"Discover"`: picking an instance.
    Discover,
    /// `"Body"`: the body runs.
    Body,
    /// `"Settle"`: the attempt unwinds.
    Settle,
    /// `"Decide"`: the retry loop decides.
    Decide,
    /// `"Backoff"`: sleeping before the next attempt.
    Backoff,
    /// `"Done"`.
    Done,
    /// `"Cancelled"`.
    Cancelled,
}

/// `Outcomes`, and `"None"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// `"None"`.
    None,
    /// `"Ok"`.
    Ok,
    /// `"Error"`.
    Error,
    /// `"Panic"`.
    Panic,
    /// `"Timeout"`.
    Timeout,
    /// `"CircuitOpen"`.
    CircuitOpen,
    /// `"BulkheadFull"`.
    BulkheadFull,
    /// `"NoInstance"`.
    NoInstance,
}

impl Outcome {
    /// `Retryable`.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Outcome::Error | Outcome::Timeout | Outcome::BulkheadFull | Outcome::NoInstance
        )
    }

    /// `Rejections`.
    pub fn rejection(self) -> bool {
        matches!(
            self,
            Outcome::CircuitOpen | Outcome::BulkheadFull | Outcome::NoInstance
        )
    }
}

/// The spec's variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Vars {
    /// `pc`.
    pub pc: Pc,
    /// `permit`.
    pub permit: bool,
    /// `timer`.
    pub timer: bool,
    /// `slot`.
    pub slot: bool,
    /// `instance`.
    pub instance: bool,
    /// `attempts`.
    pub attempts: u32,
    /// `ran`.
    pub ran: bool,
    /// `bodies`.
    pub bodies: u32,
    /// `outcome`.
    pub outcome: Outcome,
}

/// The spec's constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constants {
    /// `MaxRetries`.
    pub max_retries: u32,
}

impl Constants {
    /// The constants of `specs/Pipeline.cfg`.
    pub fn from_cfg() -> Constants {
        Constants {
            max_retries: Cfg::load("Pipeline").int("MaxRetries") as u32,
        }
    }
}

/// The spec's actions (`Next`); a choice of the environment is part of the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `Begin`.
    Begin,
    /// `Admit`: admitted (`true`) or `CircuitOpen`.
    Admit(bool),
    /// `Arm`.
    Arm,
    /// `Acquire`: a slot (`true`) or `BulkheadFull`.
    Acquire(bool),
    /// `Pick`: an instance (`true`) or `NoInstance`.
    Pick(bool),
    /// `BodyReturns(o)`.
    Return(Outcome),
    /// `Expire`.
    Expire,
    /// `Settle`.
    Settle,
    /// `Decide`.
    Decide,
    /// `Wake`.
    Wake,
    /// `Cancel`.
    Cancel,
}

/// Every action of `Next`.
pub const ACTIONS: [Action; 16] = [
    Action::Begin,
    Action::Admit(true),
    Action::Admit(false),
    Action::Arm,
    Action::Acquire(true),
    Action::Acquire(false),
    Action::Pick(true),
    Action::Pick(false),
    Action::Return(Outcome::Ok),
    Action::Return(Outcome::Error),
    Action::Return(Outcome::Panic),
    Action::Expire,
    Action::Settle,
    Action::Decide,
    Action::Wake,
    Action::Cancel,
];

/// `Init`.
pub fn init(_k: &Constants) -> Vec<Vars> {
    vec![Vars {
        pc: Pc::Attempt,
        permit: false,
        timer: false,
        slot: false,
        instance: false,
        attempts: 0,
        ran: false,
        bodies: 0,
        outcome: Outcome::None,
    }]
}

fn at(s: &Vars, pc: Pc) -> Option<Vars> {
    (s.pc == pc).then_some(*s)
}

/// `Begin`.
pub fn begin(_k: &Constants, s: &Vars) -> Option<Vars> {
    let mut n = at(s, Pc::Attempt)?;
    n.pc = Pc::Breaker;
    n.attempts += 1;
    n.ran = false;
    Some(n)
}

/// `Admit`.
pub fn admit(_k: &Constants, s: &Vars, admitted: bool) -> Option<Vars> {
    let mut n = at(s, Pc::Breaker)?;
    if admitted {
        n.permit = true;
        n.pc = Pc::Timeout;
    } else {
        n.pc = Pc::Settle;
        n.outcome = Outcome::CircuitOpen;
    }
    Some(n)
}

/// `Arm`.
pub fn arm(_k: &Constants, s: &Vars) -> Option<Vars> {
    let mut n = at(s, Pc::Timeout)?;
    n.timer = true;
    n.pc = Pc::Bulkhead;
    Some(n)
}

/// `Acquire`.
pub fn acquire(_k: &Constants, s: &Vars, got: bool) -> Option<Vars> {
    let mut n = at(s, Pc::Bulkhead)?;
    if got {
        n.slot = true;
        n.pc = Pc::Discover;
    } else {
        n.pc = Pc::Settle;
        n.outcome = Outcome::BulkheadFull;
    }
    Some(n)
}

/// `Pick`.
pub fn pick(_k: &Constants, s: &Vars, found: bool) -> Option<Vars> {
    let mut n = at(s, Pc::Discover)?;
    if found {
        n.instance = true;
        n.pc = Pc::Body;
        n.ran = true;
        n.bodies += 1;
    } else {
        n.pc = Pc::Settle;
        n.outcome = Outcome::NoInstance;
    }
    Some(n)
}

/// `BodyReturns(o)`.
pub fn body_returns(_k: &Constants, s: &Vars, o: Outcome) -> Option<Vars> {
    let mut n = at(s, Pc::Body)?;
    n.pc = Pc::Settle;
    n.outcome = o;
    Some(n)
}

/// `Expire`.
pub fn expire(_k: &Constants, s: &Vars) -> Option<Vars> {
    if !s.timer || !matches!(s.pc, Pc::Bulkhead | Pc::Discover | Pc::Body) {
        return None;
    }
    let mut n = *s;
    n.pc = Pc::Settle;
    n.outcome = Outcome::Timeout;
    Some(n)
}

fn release_all(n: &mut Vars) {
    n.permit = false;
    n.timer = false;
    n.slot = false;
    n.instance = false;
}

/// `Settle`.
pub fn settle(_k: &Constants, s: &Vars) -> Option<Vars> {
    let mut n = at(s, Pc::Settle)?;
    release_all(&mut n);
    n.pc = if n.outcome == Outcome::Panic {
        Pc::Done
    } else {
        Pc::Decide
    };
    Some(n)
}

/// `Decide`.
pub fn decide(k: &Constants, s: &Vars) -> Option<Vars> {
    let mut n = at(s, Pc::Decide)?;
    n.pc = if s.outcome.retryable() && s.attempts <= k.max_retries {
        Pc::Backoff
    } else {
        Pc::Done
    };
    Some(n)
}

/// `Wake`.
pub fn wake(_k: &Constants, s: &Vars) -> Option<Vars> {
    let mut n = at(s, Pc::Backoff)?;
    n.pc = Pc::Attempt;
    Some(n)
}

/// `Cancel`.
pub fn cancel(_k: &Constants, s: &Vars) -> Option<Vars> {
    if matches!(s.pc, Pc::Done | Pc::Cancelled) {
        return None;
    }
    let mut n = *s;
    release_all(&mut n);
    n.pc = Pc::Cancelled;
    Some(n)
}

/// The spec's successor of `s` by `action`.
pub fn spec_next(k: &Constants, s: &Vars, action: Action) -> Option<Vars> {
    match action {
        Action::Begin => begin(k, s),
        Action::Admit(admitted) => admit(k, s, admitted),
        Action::Arm => arm(k, s),
        Action::Acquire(got) => acquire(k, s, got),
        Action::Pick(found) => pick(k, s, found),
        Action::Return(o) => body_returns(k, s, o),
        Action::Expire => expire(k, s),
        Action::Settle => settle(k, s),
        Action::Decide => decide(k, s),
        Action::Wake => wake(k, s),
        Action::Cancel => cancel(k, s),
    }
}

/// `TypeOK`.
pub fn type_ok(k: &Constants, s: &Vars) -> bool {
    s.attempts <= k.max_retries + 1 && s.bodies <= s.attempts
}

/// `RejectedRunsNoBody`.
pub fn rejected_runs_no_body(_k: &Constants, s: &Vars) -> bool {
    !(s.outcome.rejection() && matches!(s.pc, Pc::Settle | Pc::Decide) && s.ran)
}

/// `BodyInsideEveryLayer`.
pub fn body_inside_every_layer(_k: &Constants, s: &Vars) -> bool {
    s.pc != Pc::Body || (s.permit && s.timer && s.slot && s.instance)
}

/// `LayersNest`.
pub fn layers_nest(_k: &Constants, s: &Vars) -> bool {
    (!s.timer || s.permit) && (!s.slot || s.timer) && (!s.instance || s.slot)
}

/// `NothingHeldBetweenAttempts`.
pub fn nothing_held_between_attempts(_k: &Constants, s: &Vars) -> bool {
    !matches!(
        s.pc,
        Pc::Attempt | Pc::Decide | Pc::Backoff | Pc::Done | Pc::Cancelled
    ) || !(s.permit || s.timer || s.slot || s.instance)
}

/// `AttemptBound`.
pub fn attempt_bound(k: &Constants, s: &Vars) -> bool {
    s.attempts <= k.max_retries + 1 && s.bodies <= s.attempts
}

/// A mutation of the composition, to show the checks are not vacuous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutation {
    /// The body (the attempt expression) evaluated before the breaker admits.
    BodyBeforeAdmission,
    /// The slot kept across the backoff (released when the next attempt takes one).
    SlotKeptDuringBackoff,
    /// A backoff whose sleep never ends (a timer on a clock that is never driven): every
    /// invariant holds, the call never ends.
    BackoffNeverEnds,
}

/// `Pipeline.tla` under its `.cfg` constants, as a stateright model (optionally mutated).
#[derive(Clone)]
pub struct PipelineModel {
    /// The constants.
    pub k: Constants,
    /// `None`: the spec.
    pub mutation: Option<Mutation>,
}

impl PipelineModel {
    /// The spec under `specs/Pipeline.cfg`.
    pub fn spec() -> Self {
        PipelineModel {
            k: Constants::from_cfg(),
            mutation: None,
        }
    }

    /// The spec with `mutation`.
    pub fn mutated(mutation: Mutation) -> Self {
        PipelineModel {
            k: Constants::from_cfg(),
            mutation: Some(mutation),
        }
    }
}

/// The names of the spec's invariants checked by [`PipelineModel`].
pub const INVARIANTS: [&str; 6] = [
    "TypeOK",
    "RejectedRunsNoBody",
    "BodyInsideEveryLayer",
    "LayersNest",
    "NothingHeldBetweenAttempts",
    "AttemptBound",
];

/// The names of the spec's liveness properties checked by [`check_liveness`].
pub const LIVENESS: [&str; 1] = ["PipelineEnds"];

impl Model for PipelineModel {
    type State = Vars;
    type Action = Action;

    fn init_states(&self) -> Vec<Vars> {
        init(&self.k)
    }

    fn actions(&self, _state: &Vars, actions: &mut Vec<Action>) {
        actions.extend(ACTIONS);
    }

    fn next_state(&self, s: &Vars, action: Action) -> Option<Vars> {
        match (self.mutation, action) {
            (Some(Mutation::BodyBeforeAdmission), Action::Begin) => {
                let mut n = begin(&self.k, s)?;
                n.ran = true;
                n.bodies += 1;
                Some(n)
            }
            (Some(Mutation::BodyBeforeAdmission), Action::Pick(true)) => {
                let mut n = pick(&self.k, s, true)?;
                n.ran = s.ran;
                n.bodies = s.bodies;
                Some(n)
            }
            (Some(Mutation::SlotKeptDuringBackoff), Action::Settle) => {
                let mut n = settle(&self.k, s)?;
                n.slot = s.slot;
                Some(n)
            }
            (Some(Mutation::SlotKeptDuringBackoff), Action::Acquire(got)) => {
                let mut n = acquire(&self.k, s, got)?;
                n.slot = got;
                Some(n)
            }
            (Some(Mutation::BackoffNeverEnds), Action::Wake) => None,
            _ => spec_next(&self.k, s, action),
        }
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("TypeOK", |m: &Self, s: &Vars| type_ok(&m.k, s)),
            Property::always("RejectedRunsNoBody", |m: &Self, s: &Vars| {
                rejected_runs_no_body(&m.k, s)
            }),
            Property::always("BodyInsideEveryLayer", |m: &Self, s: &Vars| {
                body_inside_every_layer(&m.k, s)
            }),
            Property::always("LayersNest", |m: &Self, s: &Vars| layers_nest(&m.k, s)),
            Property::always("NothingHeldBetweenAttempts", |m: &Self, s: &Vars| {
                nothing_held_between_attempts(&m.k, s)
            }),
            Property::always("AttemptBound", |m: &Self, s: &Vars| attempt_bound(&m.k, s)),
            // Reachability: none of the invariants above holds vacuously.
            Property::sometimes("every attempt used", |m: &Self, s: &Vars| {
                s.attempts == m.k.max_retries + 1 && s.pc == Pc::Body
            }),
            Property::sometimes("a backoff after a rejection", |_, s: &Vars| {
                s.pc == Pc::Backoff && s.outcome.rejection()
            }),
            Property::sometimes("a timeout while waiting for a slot", |_, s: &Vars| {
                s.pc == Pc::Settle && s.outcome == Outcome::Timeout && !s.slot
            }),
            Property::sometimes("given up after an error", |_, s: &Vars| {
                s.pc == Pc::Done && s.outcome == Outcome::Error
            }),
            Property::sometimes("succeeded after a retry", |_, s: &Vars| {
                s.pc == Pc::Done && s.outcome == Outcome::Ok && s.attempts > 1
            }),
            Property::sometimes("cancelled in the body", |_, s: &Vars| {
                s.pc == Pc::Cancelled && s.outcome != Outcome::None && s.ran
            }),
        ]
    }
}

/// `Fairness` of the spec: weak fairness on every step of the composition, and on the body
/// returning or the timer firing; none on `Cancel`.
pub fn fairness() -> Vec<Fairness<Action>> {
    vec![
        Fairness::weak("WF_vars(Begin)", |a: &Action| *a == Action::Begin),
        Fairness::weak("WF_vars(Admit)", |a: &Action| matches!(a, Action::Admit(_))),
        Fairness::weak("WF_vars(Arm)", |a: &Action| *a == Action::Arm),
        Fairness::weak("WF_vars(Acquire)", |a: &Action| {
            matches!(a, Action::Acquire(_))
        }),
        Fairness::weak("WF_vars(Pick)", |a: &Action| matches!(a, Action::Pick(_))),
        Fairness::weak("WF_vars(Settle)", |a: &Action| *a == Action::Settle),
        Fairness::weak("WF_vars(Decide)", |a: &Action| *a == Action::Decide),
        Fairness::weak("WF_vars(Wake)", |a: &Action| *a == Action::Wake),
        Fairness::weak("WF_vars(BodyReturns \\/ Expire)", |a: &Action| {
            matches!(a, Action::Return(_) | Action::Expire)
        }),
    ]
}

/// `PipelineEnds` on every state `model` reaches, under `fairness`.
pub fn check_liveness(
    model: &PipelineModel,
    fairness: &[Fairness<Action>],
) -> Result<LivenessReport, String> {
    Graph::explore(model, fairness)
        .leads_to(
            |s| !matches!(s.pc, Pc::Done | Pc::Cancelled),
            |s| matches!(s.pc, Pc::Done | Pc::Cancelled),
        )
        .map_err(|e| format!("PipelineEnds: {e}"))
}
