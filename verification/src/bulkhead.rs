//! `specs/Bulkhead.tla` transcribed: one function per action (same names, in snake case), one
//! per invariant, and a stateright [`Model`] that explores either the spec or the runtime's
//! `bulkhead::state::step` driven the way `bulkhead.rs` drives it.

use resilience_runtime::bulkhead::state::{Decision, Event, Limits, State as RustState};
use stateright::{Model, Property};

use crate::cfg::Cfg;

/// The spec's variables.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vars {
    /// `inFlight`.
    pub in_flight: usize,
    /// `queued`.
    pub queued: usize,
    /// `running`, as a bit set of callers.
    pub running: u64,
    /// `waiting`, oldest first.
    pub waiting: Vec<usize>,
}

/// The spec's constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constants {
    /// `Callers` (callers are `0..callers`).
    pub callers: usize,
    /// `MaxConcurrent`.
    pub max_concurrent: usize,
    /// `MaxQueue`.
    pub max_queue: usize,
}

impl Constants {
    /// The constants of `specs/Bulkhead.cfg`.
    pub fn from_cfg() -> Constants {
        let cfg = Cfg::load("Bulkhead");
        let callers = cfg.set("Callers").len();
        assert!(callers <= 64, "`running` is a 64-bit set");
        Constants {
            callers,
            max_concurrent: cfg.int("MaxConcurrent") as usize,
            max_queue: cfg.int("MaxQueue") as usize,
        }
    }

    /// The runtime's `Limits` for these constants.
    pub fn limits(&self) -> Limits {
        Limits {
            max_concurrent_calls: self.max_concurrent,
            max_queue_size: self.max_queue,
        }
    }
}

/// The spec's actions (`Next`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `Arrive(c)`.
    Arrive(usize),
    /// `Reject(c)`.
    Reject(usize),
    /// `Admit`.
    Admit,
    /// `Finish(c)`.
    Finish(usize),
    /// `Leave(c)`.
    Leave(usize),
}

impl Action {
    /// Every action of `Next` for these constants.
    pub fn all(k: &Constants) -> Vec<Action> {
        let mut all = vec![Action::Admit];
        for c in 0..k.callers {
            all.extend([
                Action::Arrive(c),
                Action::Reject(c),
                Action::Finish(c),
                Action::Leave(c),
            ]);
        }
        all
    }
}

fn is_running(s: &Vars, c: usize) -> bool {
    s.running & (1 << c) != 0
}

/// `InQueue(c)`.
fn in_queue(s: &Vars, c: usize) -> bool {
    s.waiting.contains(&c)
}

/// `Idle(c)`.
fn idle(s: &Vars, c: usize) -> bool {
    !is_running(s, c) && !in_queue(s, c)
}

/// `Init`.
pub fn init(_k: &Constants) -> Vec<Vars> {
    vec![Vars {
        in_flight: 0,
        queued: 0,
        running: 0,
        waiting: Vec::new(),
    }]
}

/// `Arrive(c)`.
pub fn arrive(k: &Constants, s: &Vars, c: usize) -> Option<Vars> {
    if !idle(s, c) {
        return None;
    }
    let mut n = s.clone();
    if s.in_flight < k.max_concurrent && s.queued == 0 {
        n.in_flight += 1;
        n.running |= 1 << c;
    } else if s.queued < k.max_queue {
        n.queued += 1;
        n.waiting.push(c);
    } else {
        return None;
    }
    Some(n)
}

/// `Reject(c)`.
pub fn reject(k: &Constants, s: &Vars, c: usize) -> Option<Vars> {
    let full = !(s.in_flight < k.max_concurrent && s.queued == 0) && s.queued == k.max_queue;
    (idle(s, c) && full).then(|| s.clone())
}

/// `Admit`.
pub fn admit(k: &Constants, s: &Vars) -> Option<Vars> {
    let &head = s.waiting.first()?;
    if s.in_flight >= k.max_concurrent {
        return None;
    }
    let mut n = s.clone();
    n.in_flight += 1;
    n.queued -= 1;
    n.running |= 1 << head;
    n.waiting.remove(0);
    Some(n)
}

/// `Finish(c)`.
pub fn finish(_k: &Constants, s: &Vars, c: usize) -> Option<Vars> {
    if !is_running(s, c) {
        return None;
    }
    let mut n = s.clone();
    n.in_flight -= 1;
    n.running &= !(1 << c);
    Some(n)
}

/// `Leave(c)`.
pub fn leave(_k: &Constants, s: &Vars, c: usize) -> Option<Vars> {
    if !in_queue(s, c) {
        return None;
    }
    let mut n = s.clone();
    n.queued -= 1;
    n.waiting.retain(|&x| x != c);
    Some(n)
}

/// The spec's successor of `s` by `action`, `None` when the action is not enabled.
pub fn spec_next(k: &Constants, s: &Vars, action: Action) -> Option<Vars> {
    match action {
        Action::Arrive(c) => arrive(k, s, c),
        Action::Reject(c) => reject(k, s, c),
        Action::Admit => admit(k, s),
        Action::Finish(c) => finish(k, s, c),
        Action::Leave(c) => leave(k, s, c),
    }
}

/// `TypeOK`.
pub fn type_ok(k: &Constants, s: &Vars) -> bool {
    s.in_flight <= k.max_concurrent
        && s.queued <= k.max_queue
        && s.running < (1 << k.callers)
        && s.waiting.iter().all(|&c| c < k.callers)
}

/// `ConcurrencyBound`.
pub fn concurrency_bound(k: &Constants, s: &Vars) -> bool {
    s.in_flight <= k.max_concurrent
}

/// `QueueBound`.
pub fn queue_bound(k: &Constants, s: &Vars) -> bool {
    s.queued <= k.max_queue
}

/// `PermitsAccounted`.
pub fn permits_accounted(_k: &Constants, s: &Vars) -> bool {
    s.in_flight == s.running.count_ones() as usize
}

/// `QueueAccounted`.
pub fn queue_accounted(_k: &Constants, s: &Vars) -> bool {
    s.queued == s.waiting.len()
}

/// `OnePlaceEach`.
pub fn one_place_each(_k: &Constants, s: &Vars) -> bool {
    s.waiting.iter().all(|&c| !is_running(s, c))
        && s.waiting
            .iter()
            .enumerate()
            .all(|(i, c)| !s.waiting[i + 1..].contains(c))
}

/// The signature of `bulkhead::state::step`.
pub type StepFn = fn(RustState, Event, &Limits) -> (RustState, Decision);

/// The implementation's successor of `s` by `action`: what `bulkhead.rs` does for that caller
/// event, with `step` computing the new counts. The caller moves as the driver moves it (a
/// finished body leaves whatever `step` answers); the counts are `step`'s.
pub fn implementation_next(k: &Constants, step: StepFn, s: &Vars, action: Action) -> Option<Vars> {
    let state = RustState {
        in_flight: s.in_flight,
        queued: s.queued,
    };
    let apply = |event: Event, mut env: Vars| {
        let (next, decision) = step(state, event, &k.limits());
        env.in_flight = next.in_flight;
        env.queued = next.queued;
        (env, decision)
    };
    match action {
        Action::Arrive(c) | Action::Reject(c) if !idle(s, c) => None,
        Action::Arrive(c) => match apply(Event::Arrive, s.clone()) {
            (mut n, Decision::Run) => {
                n.running |= 1 << c;
                Some(n)
            }
            (mut n, Decision::Wait) => {
                n.waiting.push(c);
                Some(n)
            }
            _ => None,
        },
        Action::Reject(_) => match apply(Event::Arrive, s.clone()) {
            (n, Decision::Reject) => Some(n),
            _ => None,
        },
        Action::Admit => match apply(Event::Admit, s.clone()) {
            // The semaphore hands the slot to its oldest waiter (if it has one).
            (mut n, Decision::Run) if !n.waiting.is_empty() => {
                let head = n.waiting.remove(0);
                n.running |= 1 << head;
                Some(n)
            }
            _ => None,
        },
        Action::Finish(c) if !is_running(s, c) => None,
        Action::Finish(c) => {
            let mut env = s.clone();
            env.running &= !(1 << c);
            Some(apply(Event::Finish, env).0)
        }
        Action::Leave(c) if !in_queue(s, c) => None,
        Action::Leave(c) => {
            let mut env = s.clone();
            env.waiting.retain(|&x| x != c);
            Some(apply(Event::Leave, env).0)
        }
    }
}

/// Which transition relation the model explores.
#[derive(Clone, Copy)]
pub enum Semantics {
    /// The spec's actions.
    Spec,
    /// The implementation's `step`, driven as `bulkhead.rs` drives it.
    Implementation(StepFn),
}

/// `Bulkhead.tla` under its `.cfg` constants, as a stateright model.
#[derive(Clone)]
pub struct BulkheadModel {
    /// The constants.
    pub k: Constants,
    /// Spec or implementation.
    pub semantics: Semantics,
}

impl BulkheadModel {
    /// The spec under `specs/Bulkhead.cfg`.
    pub fn spec() -> Self {
        BulkheadModel {
            k: Constants::from_cfg(),
            semantics: Semantics::Spec,
        }
    }

    /// `step` under `specs/Bulkhead.cfg`.
    pub fn implementation(step: StepFn) -> Self {
        BulkheadModel {
            k: Constants::from_cfg(),
            semantics: Semantics::Implementation(step),
        }
    }
}

/// The names of the spec's invariants checked by [`BulkheadModel`].
pub const INVARIANTS: [&str; 6] = [
    "TypeOK",
    "ConcurrencyBound",
    "QueueBound",
    "PermitsAccounted",
    "QueueAccounted",
    "OnePlaceEach",
];

impl Model for BulkheadModel {
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

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("TypeOK", |m: &Self, s: &Vars| type_ok(&m.k, s)),
            Property::always("ConcurrencyBound", |m: &Self, s: &Vars| {
                concurrency_bound(&m.k, s)
            }),
            Property::always("QueueBound", |m: &Self, s: &Vars| queue_bound(&m.k, s)),
            Property::always("PermitsAccounted", |m: &Self, s: &Vars| {
                permits_accounted(&m.k, s)
            }),
            Property::always("QueueAccounted", |m: &Self, s: &Vars| {
                queue_accounted(&m.k, s)
            }),
            Property::always("OnePlaceEach", |m: &Self, s: &Vars| one_place_each(&m.k, s)),
            // Reachability: none of the invariants above holds vacuously.
            Property::sometimes("every slot taken", |m: &Self, s: &Vars| {
                s.in_flight == m.k.max_concurrent
            }),
            Property::sometimes("queue full", |m: &Self, s: &Vars| {
                s.queued == m.k.max_queue && s.queued > 0
            }),
            Property::sometimes("a caller would be rejected", |m: &Self, s: &Vars| {
                (0..m.k.callers).any(|c| reject(&m.k, s, c).is_some())
            }),
            Property::sometimes("a slot free while callers wait", |m: &Self, s: &Vars| {
                s.in_flight < m.k.max_concurrent && s.queued > 0
            }),
        ]
    }
}

pub use crate::explore::RefinementReport;

/// For every reachable state of the spec and every action: the implementation takes the action
/// exactly when the spec does, and reaches the same state.
pub fn check_refinement(step: StepFn) -> Result<RefinementReport, String> {
    let model = BulkheadModel::spec();
    crate::explore::refine_action_by_action(
        &crate::explore::reachable(&model),
        &Action::all(&model.k),
        |_| Ok(()),
        |s, action| spec_next(&model.k, s, action),
        |s, action| implementation_next(&model.k, step, s, action),
    )
}
