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
    /// `granted`, as a bit set of callers.
    pub granted: u64,
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
    /// `Start(c)`.
    Start(usize),
    /// `Finish(c)`.
    Finish(usize),
    /// `Leave(c)`.
    Leave(usize),
}

impl Action {
    /// Every action of `Next` for these constants.
    pub fn all(k: &Constants) -> Vec<Action> {
        let mut all = Vec::new();
        for c in 0..k.callers {
            all.extend([
                Action::Arrive(c),
                Action::Reject(c),
                Action::Start(c),
                Action::Finish(c),
                Action::Leave(c),
            ]);
        }
        all
    }

    /// The caller taking the action.
    pub fn caller(self) -> usize {
        match self {
            Action::Arrive(c)
            | Action::Reject(c)
            | Action::Start(c)
            | Action::Finish(c)
            | Action::Leave(c) => c,
        }
    }
}

fn is_running(s: &Vars, c: usize) -> bool {
    s.running & (1 << c) != 0
}

fn is_granted(s: &Vars, c: usize) -> bool {
    s.granted & (1 << c) != 0
}

/// `InQueue(c)`.
pub fn in_queue(s: &Vars, c: usize) -> bool {
    s.waiting.contains(&c)
}

/// `Idle(c)`.
pub fn idle(s: &Vars, c: usize) -> bool {
    !is_running(s, c) && !in_queue(s, c) && !is_granted(s, c)
}

/// Which waiter a released slot goes to: the spec's oldest ([`Serve::Oldest`]), or, as a
/// mutation that keeps every safety invariant but starves the oldest waiter, the newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Serve {
    /// `Head(waiting)`: FIFO, the spec.
    Oldest,
    /// The last waiter (LIFO): a mutation for the liveness check.
    Newest,
}

/// `Release`, with the released slot going to the waiter `serve` picks.
fn release(n: &mut Vars, serve: Serve) {
    if n.waiting.is_empty() {
        n.in_flight -= 1;
    } else {
        let taken = match serve {
            Serve::Oldest => n.waiting.remove(0),
            Serve::Newest => n.waiting.pop().unwrap_or_default(),
        };
        n.granted |= 1 << taken;
    }
}

/// `Init`.
pub fn init(_k: &Constants) -> Vec<Vars> {
    vec![Vars {
        in_flight: 0,
        queued: 0,
        running: 0,
        waiting: Vec::new(),
        granted: 0,
    }]
}

/// `Arrive(c)`.
pub fn arrive(k: &Constants, s: &Vars, c: usize) -> Option<Vars> {
    if !idle(s, c) {
        return None;
    }
    let mut n = s.clone();
    if s.in_flight < k.max_concurrent {
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
    let full = s.in_flight == k.max_concurrent && s.queued == k.max_queue;
    (idle(s, c) && full).then(|| s.clone())
}

/// `Start(c)`.
pub fn start(_k: &Constants, s: &Vars, c: usize) -> Option<Vars> {
    if !is_granted(s, c) {
        return None;
    }
    let mut n = s.clone();
    n.granted &= !(1 << c);
    n.running |= 1 << c;
    n.queued -= 1;
    Some(n)
}

/// `Finish(c)`, the slot going to the waiter `serve` picks.
pub fn finish_serving(s: &Vars, c: usize, serve: Serve) -> Option<Vars> {
    if !is_running(s, c) {
        return None;
    }
    let mut n = s.clone();
    n.running &= !(1 << c);
    release(&mut n, serve);
    Some(n)
}

/// `Finish(c)`.
pub fn finish(_k: &Constants, s: &Vars, c: usize) -> Option<Vars> {
    finish_serving(s, c, Serve::Oldest)
}

/// `Leave(c)`, a granted caller's slot going to the waiter `serve` picks.
pub fn leave_serving(s: &Vars, c: usize, serve: Serve) -> Option<Vars> {
    let mut n = s.clone();
    if in_queue(s, c) {
        n.waiting.retain(|&x| x != c);
    } else if is_granted(s, c) {
        n.granted &= !(1 << c);
        release(&mut n, serve);
    } else {
        return None;
    }
    n.queued -= 1;
    Some(n)
}

/// `Leave(c)`.
pub fn leave(_k: &Constants, s: &Vars, c: usize) -> Option<Vars> {
    leave_serving(s, c, Serve::Oldest)
}

/// The spec's successor of `s` by `action`, `None` when the action is not enabled.
pub fn spec_next(k: &Constants, s: &Vars, action: Action) -> Option<Vars> {
    match action {
        Action::Arrive(c) => arrive(k, s, c),
        Action::Reject(c) => reject(k, s, c),
        Action::Start(c) => start(k, s, c),
        Action::Finish(c) => finish(k, s, c),
        Action::Leave(c) => leave(k, s, c),
    }
}

/// `TypeOK`.
pub fn type_ok(k: &Constants, s: &Vars) -> bool {
    s.in_flight <= k.max_concurrent
        && s.queued <= k.max_queue
        && s.running < (1 << k.callers)
        && s.granted < (1 << k.callers)
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
    s.in_flight == (s.running.count_ones() + s.granted.count_ones()) as usize
}

/// `QueueAccounted`.
pub fn queue_accounted(_k: &Constants, s: &Vars) -> bool {
    s.queued == s.waiting.len() + s.granted.count_ones() as usize
}

/// `OnePlaceEach`.
pub fn one_place_each(_k: &Constants, s: &Vars) -> bool {
    s.running & s.granted == 0
        && s.waiting
            .iter()
            .all(|&c| !is_running(s, c) && !is_granted(s, c))
        && s.waiting
            .iter()
            .enumerate()
            .all(|(i, c)| !s.waiting[i + 1..].contains(c))
}

/// `NoFreeSlotWhileWaiting`.
pub fn no_free_slot_while_waiting(k: &Constants, s: &Vars) -> bool {
    s.waiting.is_empty() || s.in_flight == k.max_concurrent
}

/// `QueuedEventuallyServed`'s two sides for caller `c`: `InQueue(c)` …
pub fn queued(s: &Vars, c: usize) -> bool {
    in_queue(s, c)
}

/// … leads to `c \in running \/ Idle(c)`.
pub fn served_or_left(s: &Vars, c: usize) -> bool {
    is_running(s, c) || idle(s, c)
}

/// The signature of `bulkhead::state::step`.
pub type StepFn = fn(RustState, Event, &Limits) -> (RustState, Decision);

/// The runtime's `State` of the spec's variables.
pub fn concretize(s: &Vars) -> RustState {
    RustState {
        in_flight: s.in_flight,
        queued: s.queued,
        waiting: s.waiting.len(),
    }
}

/// The implementation's successor of `s` by `action`: the caller's event for `step`, which
/// computes the new counts and decides (`Run`, `Wait`, `Reject`, `HandOver`, `Done`); the caller
/// and the waiter a hand-over serves move as `slots.rs` moves them (the oldest waiter: the front
/// of its `VecDeque`).
pub fn implementation_next(k: &Constants, step: StepFn, s: &Vars, action: Action) -> Option<Vars> {
    let apply = |event: Event, mut env: Vars| {
        let (next, decision) = step(concretize(s), event, &k.limits());
        env.in_flight = next.in_flight;
        env.queued = next.queued;
        if decision == Decision::HandOver && !env.waiting.is_empty() {
            let head = env.waiting.remove(0);
            env.granted |= 1 << head;
        }
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
        Action::Start(c) if !is_granted(s, c) => None,
        Action::Start(c) => {
            let mut env = s.clone();
            env.granted &= !(1 << c);
            env.running |= 1 << c;
            match apply(Event::Start, env) {
                (n, Decision::Done) => Some(n),
                _ => None,
            }
        }
        Action::Finish(c) if !is_running(s, c) => None,
        Action::Finish(c) => {
            let mut env = s.clone();
            env.running &= !(1 << c);
            match apply(Event::Finish, env) {
                (n, Decision::Done | Decision::HandOver) => Some(n),
                _ => None,
            }
        }
        Action::Leave(c) if in_queue(s, c) => {
            let mut env = s.clone();
            env.waiting.retain(|&x| x != c);
            // `step` counts, `slots.rs` removes the ticket (not the head).
            let (next, decision) =
                step(concretize(s), Event::Leave { granted: false }, &k.limits());
            env.in_flight = next.in_flight;
            env.queued = next.queued;
            (decision == Decision::Done).then_some(env)
        }
        Action::Leave(c) if is_granted(s, c) => {
            let mut env = s.clone();
            env.granted &= !(1 << c);
            match apply(Event::Leave { granted: true }, env) {
                (n, Decision::Done | Decision::HandOver) => Some(n),
                _ => None,
            }
        }
        Action::Leave(_) => None,
    }
}

/// Which transition relation the model explores.
#[derive(Clone, Copy)]
pub enum Semantics {
    /// The spec's actions.
    Spec,
    /// The spec with a released slot going to the newest waiter (LIFO): a mutation that keeps
    /// every invariant and breaks `QueuedEventuallyServed`.
    NewestServedFirst,
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

    /// The LIFO mutation ([`Semantics::NewestServedFirst`]) under `specs/Bulkhead.cfg`.
    pub fn newest_served_first() -> Self {
        BulkheadModel {
            k: Constants::from_cfg(),
            semantics: Semantics::NewestServedFirst,
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
pub const INVARIANTS: [&str; 7] = [
    "TypeOK",
    "ConcurrencyBound",
    "QueueBound",
    "PermitsAccounted",
    "QueueAccounted",
    "OnePlaceEach",
    "NoFreeSlotWhileWaiting",
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
            Semantics::NewestServedFirst => match action {
                Action::Finish(c) => finish_serving(state, c, Serve::Newest),
                Action::Leave(c) => leave_serving(state, c, Serve::Newest),
                _ => spec_next(&self.k, state, action),
            },
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
            Property::always("NoFreeSlotWhileWaiting", |m: &Self, s: &Vars| {
                no_free_slot_while_waiting(&m.k, s)
            }),
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
            Property::sometimes("a waiter granted a slot", |_, s: &Vars| s.granted != 0),
            Property::sometimes(
                "a granted waiter beside a free slot",
                |m: &Self, s: &Vars| s.granted != 0 && s.in_flight < m.k.max_concurrent,
            ),
            Property::sometimes("granted while others wait", |_, s: &Vars| {
                s.granted != 0 && !s.waiting.is_empty()
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

/// The names of the spec's liveness properties (its `.cfg`'s `PROPERTIES`) checked by
/// [`check_liveness`].
pub const LIVENESS: [&str; 1] = ["QueuedEventuallyServed"];

/// `Fairness` of the spec: `WF_vars(Finish(c))` and `WF_vars(Start(c))` for every caller.
pub fn fairness(k: &Constants) -> Vec<crate::liveness::Fairness<Action>> {
    use crate::liveness::Fairness;
    (0..k.callers)
        .flat_map(|c| {
            [
                Fairness::weak(format!("WF_vars(Finish(c{}))", c + 1), move |a: &Action| {
                    *a == Action::Finish(c)
                }),
                Fairness::weak(format!("WF_vars(Start(c{}))", c + 1), move |a: &Action| {
                    *a == Action::Start(c)
                }),
            ]
        })
        .collect()
}

/// `QueuedEventuallyServed` on every state `model` reaches, under `fairness`: for every
/// caller, `InQueue(c) ~> (c \in running \/ Idle(c))`. The report sums `pending` and
/// `components` over the callers.
pub fn check_liveness(
    model: &BulkheadModel,
    fairness: &[crate::liveness::Fairness<Action>],
) -> Result<crate::liveness::LivenessReport, String> {
    let graph = crate::liveness::Graph::explore(model, fairness);
    let mut total = None;
    for c in 0..model.k.callers {
        let report = graph
            .leads_to(|s| queued(s, c), |s| served_or_left(s, c))
            .map_err(|e| format!("QueuedEventuallyServed for c{}: {e}", c + 1))?;
        let t = total.get_or_insert(crate::liveness::LivenessReport {
            pending: 0,
            components: 0,
            ..report
        });
        t.pending += report.pending;
        t.components += report.components;
    }
    total.ok_or_else(|| "no callers".to_owned())
}
