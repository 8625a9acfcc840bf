//! `specs/ServiceDiscovery.tla` transcribed: one function per action (same names, in snake
//! case), one per invariant, and a stateright [`Model`] that explores the spec (or a mutant of
//! it). [`check_refinement`] drives a real [`ServiceDiscovery`] along paths of the spec and
//! compares what it lets callers see (registered endpoints, their health and ejection, what
//! `discover` lists, what a pick returns) after every step.

use resilience_discovery::{
    CallOutcome, DiscoveryConfig, DiscoveryError, InFlight, Instance, InstanceId, LeaseId,
    OutlierConfig, Route, ServiceDiscovery,
};
use stateright::{Model, Property, Representative};
use std::time::Duration;

use crate::cfg::Cfg;

/// `lease[i]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lease {
    /// `"none"`: registered without a lease, or not registered.
    None,
    /// `"live"`: registered under a lease.
    Live,
    /// `"expired"`: the lease ended and took the instance with it.
    Expired,
}

/// The spec's variables. Sets of instances are bit sets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vars {
    /// `env`, an index into `Constants::envs`.
    pub env: usize,
    /// `registered`.
    pub registered: u64,
    /// `envOf` (`None` is `NoEnv`).
    pub env_of: Vec<Option<usize>>,
    /// `lease`.
    pub lease: Vec<Lease>,
    /// `healthy`.
    pub healthy: Vec<bool>,
    /// `ejected`.
    pub ejected: u64,
    /// `probation`.
    pub probation: u64,
    /// `failures`.
    pub failures: Vec<u32>,
    /// `picked` (`None` is `NoPick`).
    pub picked: Option<usize>,
    /// `ejecting`.
    pub ejecting: bool,
}

/// `Symmetry == Permutations(Instances)`: instances are interchangeable, so the checker keeps
/// one state per class, the one with the instances sorted by what they hold.
impl Representative for Vars {
    fn representative(&self) -> Self {
        let n = self.env_of.len();
        let key = |i: usize| {
            (
                has(self.registered, i),
                self.env_of[i],
                self.lease[i] as u8,
                self.healthy[i],
                has(self.ejected, i),
                has(self.probation, i),
                self.failures[i],
                self.picked == Some(i),
            )
        };
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| key(i));
        let bits = |set: u64| {
            order
                .iter()
                .enumerate()
                .filter(|&(_, &old)| has(set, old))
                .fold(0, |acc, (new, _)| acc | 1 << new)
        };
        Vars {
            env: self.env,
            registered: bits(self.registered),
            env_of: order.iter().map(|&i| self.env_of[i]).collect(),
            lease: order.iter().map(|&i| self.lease[i]).collect(),
            healthy: order.iter().map(|&i| self.healthy[i]).collect(),
            ejected: bits(self.ejected),
            probation: bits(self.probation),
            failures: order.iter().map(|&i| self.failures[i]).collect(),
            picked: self
                .picked
                .map(|p| order.iter().position(|&i| i == p).expect("a permutation")),
            ejecting: self.ejecting,
        }
    }
}

/// The spec's constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constants {
    /// `Instances` (instances are `0..instances`, named as in the `.cfg`).
    pub instances: Vec<String>,
    /// `Envs`.
    pub envs: Vec<String>,
    /// `ProcessEnvs`, as indices into `envs`.
    pub process_envs: Vec<usize>,
    /// `ConsecutiveFailures`.
    pub consecutive_failures: u32,
    /// `MaxEjectedPct`.
    pub max_ejected_pct: u32,
    /// `PanicThresholdPct`.
    pub panic_threshold_pct: u32,
}

impl Constants {
    /// The constants of `specs/ServiceDiscovery.cfg`.
    pub fn from_cfg() -> Constants {
        let cfg = Cfg::load("ServiceDiscovery");
        let instances = cfg.set("Instances");
        assert!(instances.len() <= 64, "sets of instances are 64-bit sets");
        let envs = cfg.set("Envs");
        let process_envs = cfg
            .set("ProcessEnvs")
            .iter()
            .map(|env| {
                envs.iter()
                    .position(|e| e == env)
                    .unwrap_or_else(|| panic!("ProcessEnvs: {env} is not in Envs"))
            })
            .collect();
        Constants {
            instances,
            envs,
            process_envs,
            consecutive_failures: cfg.int("ConsecutiveFailures") as u32,
            max_ejected_pct: cfg.int("MaxEjectedPct") as u32,
            panic_threshold_pct: cfg.int("PanicThresholdPct") as u32,
        }
    }

    fn n(&self) -> usize {
        self.instances.len()
    }
}

/// The spec's actions (`Next`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `Register(i, e)`.
    Register(usize, usize),
    /// `RegisterWithLease(i, e)`.
    RegisterWithLease(usize, usize),
    /// `KeepAlive(i)`.
    KeepAlive(usize),
    /// `Expire(i)`.
    Expire(usize),
    /// `Deregister(i)`.
    Deregister(usize),
    /// `SetHealthy(i, b)`.
    SetHealthy(usize, bool),
    /// `Pick(i)`.
    Pick(usize),
    /// `Succeed(i)`.
    Succeed(usize),
    /// `Fail(i)`.
    Fail(usize),
    /// `Readmit(i)`.
    Readmit(usize),
}

impl Action {
    /// Every action of `Next` for these constants.
    pub fn all(k: &Constants) -> Vec<Action> {
        let mut all = Vec::new();
        for i in 0..k.n() {
            for e in 0..k.envs.len() {
                all.extend([Action::Register(i, e), Action::RegisterWithLease(i, e)]);
            }
            all.extend([
                Action::KeepAlive(i),
                Action::Expire(i),
                Action::Deregister(i),
                Action::SetHealthy(i, false),
                Action::SetHealthy(i, true),
                Action::Pick(i),
                Action::Succeed(i),
                Action::Fail(i),
                Action::Readmit(i),
            ]);
        }
        all
    }
}

fn has(set: u64, i: usize) -> bool {
    set & (1 << i) != 0
}

fn cardinality(set: u64) -> u32 {
    set.count_ones()
}

/// `Eligible(i)`.
pub fn eligible(s: &Vars, i: usize) -> bool {
    has(s.registered, i) && s.healthy[i] && !has(s.ejected, i) && s.env_of[i] == Some(s.env)
}

/// `{i \in Instances : Eligible(i)}`: what `discover` must list.
pub fn eligible_set(k: &Constants, s: &Vars) -> u64 {
    (0..k.n())
        .filter(|&i| eligible(s, i))
        .fold(0, |set, i| set | 1 << i)
}

/// `InEnv(i)`.
pub fn in_env(s: &Vars, i: usize) -> bool {
    has(s.registered, i) && s.env_of[i] == Some(s.env)
}

/// `InEnvSet`.
fn in_env_set(k: &Constants, s: &Vars) -> u64 {
    (0..k.n())
        .filter(|&i| in_env(s, i))
        .fold(0, |set, i| set | 1 << i)
}

/// `HealthySet`.
fn healthy_set(k: &Constants, s: &Vars) -> u64 {
    (0..k.n())
        .filter(|&i| in_env(s, i) && s.healthy[i])
        .fold(0, |set, i| set | 1 << i)
}

/// `EjectionLimit`.
fn ejection_limit(k: &Constants, s: &Vars) -> u32 {
    let h = cardinality(healthy_set(k, s));
    (h * k.max_ejected_pct / 100).min(h.saturating_sub(1))
}

/// `EjectionAllowed`.
fn ejection_allowed(k: &Constants, s: &Vars) -> bool {
    cardinality(s.ejected) < ejection_limit(k, s)
}

/// The rule before issue 10 (the mutation [`Mutation::OldEjectionCap`] restores it):
/// `MaxEjectedPct` of every registered instance, healthy or not, all of them allowed.
fn old_ejection_allowed(k: &Constants, s: &Vars) -> bool {
    cardinality(s.ejected) < cardinality(s.registered) * k.max_ejected_pct / 100
}

/// `Panic`.
pub fn panic(k: &Constants, s: &Vars) -> bool {
    let eligible = cardinality(eligible_set(k, s));
    eligible > 0 && eligible * 100 < k.panic_threshold_pct * cardinality(in_env_set(k, s))
}

/// `Pickable(i)`.
pub fn pickable(k: &Constants, s: &Vars, i: usize) -> bool {
    if panic(k, s) {
        in_env(s, i)
    } else {
        eligible(s, i)
    }
}

/// `Init`.
pub fn init(k: &Constants) -> Vec<Vars> {
    k.process_envs
        .iter()
        .map(|&env| Vars {
            env,
            registered: 0,
            env_of: vec![None; k.n()],
            lease: vec![Lease::None; k.n()],
            healthy: vec![true; k.n()],
            ejected: 0,
            probation: 0,
            failures: vec![0; k.n()],
            picked: None,
            ejecting: false,
        })
        .collect()
}

/// `Add(i, e, l)`.
fn add(s: &Vars, i: usize, e: usize, l: Lease) -> Option<Vars> {
    if has(s.registered, i) {
        return None;
    }
    let mut n = s.clone();
    n.registered |= 1 << i;
    n.env_of[i] = Some(e);
    n.lease[i] = l;
    n.healthy[i] = true;
    n.failures[i] = 0;
    n.picked = None;
    n.ejecting = false;
    Some(n)
}

/// `Remove(i, l)`.
fn remove(s: &Vars, i: usize, l: Lease) -> Option<Vars> {
    if !has(s.registered, i) {
        return None;
    }
    let mut n = s.clone();
    n.registered &= !(1 << i);
    n.env_of[i] = None;
    n.lease[i] = l;
    n.healthy[i] = true;
    n.ejected &= !(1 << i);
    n.probation &= !(1 << i);
    n.failures[i] = 0;
    n.picked = None;
    n.ejecting = false;
    Some(n)
}

/// `Register(i, e)`.
pub fn register(_k: &Constants, s: &Vars, i: usize, e: usize) -> Option<Vars> {
    add(s, i, e, Lease::None)
}

/// `RegisterWithLease(i, e)`.
pub fn register_with_lease(_k: &Constants, s: &Vars, i: usize, e: usize) -> Option<Vars> {
    add(s, i, e, Lease::Live)
}

/// `KeepAlive(i)`.
pub fn keep_alive(_k: &Constants, s: &Vars, i: usize) -> Option<Vars> {
    (s.lease[i] == Lease::Live).then(|| Vars {
        picked: None,
        ejecting: false,
        ..s.clone()
    })
}

/// `Expire(i)`.
pub fn expire(_k: &Constants, s: &Vars, i: usize) -> Option<Vars> {
    if s.lease[i] != Lease::Live {
        return None;
    }
    remove(s, i, Lease::Expired)
}

/// `Deregister(i)`.
pub fn deregister(_k: &Constants, s: &Vars, i: usize) -> Option<Vars> {
    remove(s, i, Lease::None)
}

/// `SetHealthy(i, b)`.
pub fn set_healthy(_k: &Constants, s: &Vars, i: usize, b: bool) -> Option<Vars> {
    if !has(s.registered, i) {
        return None;
    }
    let mut n = s.clone();
    n.healthy[i] = b;
    n.picked = None;
    n.ejecting = false;
    Some(n)
}

/// `Pick(i)`.
pub fn pick(k: &Constants, s: &Vars, i: usize) -> Option<Vars> {
    pickable(k, s, i).then(|| Vars {
        picked: Some(i),
        ejecting: false,
        ..s.clone()
    })
}

/// `Succeed(i)`.
pub fn succeed(_k: &Constants, s: &Vars, i: usize) -> Option<Vars> {
    if s.picked != Some(i) {
        return None;
    }
    let mut n = s.clone();
    n.failures[i] = 0;
    n.probation &= !(1 << i);
    n.picked = None;
    n.ejecting = false;
    Some(n)
}

/// `Fail(i)`.
pub fn fail(k: &Constants, s: &Vars, i: usize) -> Option<Vars> {
    fail_with(k, s, i, ejection_allowed(k, s))
}

/// `Fail(i)` with `EjectionAllowed` given (the mutation replaces it).
fn fail_with(k: &Constants, s: &Vars, i: usize, allowed: bool) -> Option<Vars> {
    if s.picked != Some(i) {
        return None;
    }
    let mut n = s.clone();
    let f = (s.failures[i] + 1).min(k.consecutive_failures);
    if (f >= k.consecutive_failures || has(s.probation, i)) && !has(s.ejected, i) && allowed {
        n.ejected |= 1 << i;
        n.probation &= !(1 << i);
        n.failures[i] = 0;
        n.ejecting = true;
    } else {
        n.failures[i] = f;
        n.ejecting = false;
    }
    n.picked = None;
    Some(n)
}

/// `Readmit(i)`.
pub fn readmit(_k: &Constants, s: &Vars, i: usize) -> Option<Vars> {
    if !has(s.ejected, i) {
        return None;
    }
    let mut n = s.clone();
    n.ejected &= !(1 << i);
    n.probation |= 1 << i;
    n.picked = None;
    n.ejecting = false;
    Some(n)
}

/// The spec's successor of `s` under `action`, `None` when it is not enabled.
pub fn spec_next(k: &Constants, s: &Vars, action: Action) -> Option<Vars> {
    match action {
        Action::Register(i, e) => register(k, s, i, e),
        Action::RegisterWithLease(i, e) => register_with_lease(k, s, i, e),
        Action::KeepAlive(i) => keep_alive(k, s, i),
        Action::Expire(i) => expire(k, s, i),
        Action::Deregister(i) => deregister(k, s, i),
        Action::SetHealthy(i, b) => set_healthy(k, s, i, b),
        Action::Pick(i) => pick(k, s, i),
        Action::Succeed(i) => succeed(k, s, i),
        Action::Fail(i) => fail(k, s, i),
        Action::Readmit(i) => readmit(k, s, i),
    }
}

/// `TypeOK`.
pub fn type_ok(k: &Constants, s: &Vars) -> bool {
    let all: u64 = (1 << k.n()) - 1;
    k.process_envs.contains(&s.env)
        && s.registered & !all == 0
        && s.env_of.len() == k.n()
        && s.env_of.iter().flatten().all(|&e| e < k.envs.len())
        && s.lease.len() == k.n()
        && s.healthy.len() == k.n()
        && s.ejected & !all == 0
        && s.probation & !all == 0
        && s.failures.len() == k.n()
        && s.failures.iter().all(|&f| f <= k.consecutive_failures)
        && s.picked.is_none_or(|i| i < k.n())
}

/// `EnvOnlyWhenRegistered`.
pub fn env_only_when_registered(k: &Constants, s: &Vars) -> bool {
    (0..k.n()).all(|i| s.env_of[i].is_some() == has(s.registered, i))
}

/// `LeasesAccounted`.
pub fn leases_accounted(k: &Constants, s: &Vars) -> bool {
    (0..k.n()).all(|i| match s.lease[i] {
        Lease::Live => has(s.registered, i),
        Lease::Expired => !has(s.registered, i),
        Lease::None => true,
    })
}

/// `EjectedRegistered`.
pub fn ejected_registered(_k: &Constants, s: &Vars) -> bool {
    s.ejected & !s.registered == 0
        && s.probation & !s.registered == 0
        && s.ejected & s.probation == 0
}

/// `PickedEligible`.
pub fn picked_eligible(k: &Constants, s: &Vars) -> bool {
    s.picked.is_none_or(|i| panic(k, s) || eligible(s, i))
}

/// `PickedRegistered`.
pub fn picked_registered(_k: &Constants, s: &Vars) -> bool {
    s.picked.is_none_or(|i| in_env(s, i))
}

/// `EnvironmentsNeverMix`.
pub fn environments_never_mix(_k: &Constants, s: &Vars) -> bool {
    s.picked.is_none_or(|i| s.env_of[i] == Some(s.env))
}

/// `EjectionBound`.
pub fn ejection_bound(k: &Constants, s: &Vars) -> bool {
    !s.ejecting
        || cardinality(s.ejected) * 100 <= cardinality(healthy_set(k, s)) * k.max_ejected_pct
}

/// `NeverEjectsTheLastHealthy`.
pub fn never_ejects_the_last_healthy(k: &Constants, s: &Vars) -> bool {
    !s.ejecting || healthy_set(k, s) & !s.ejected != 0
}

/// `FailuresOfRegistered`.
pub fn failures_of_registered(k: &Constants, s: &Vars) -> bool {
    (0..k.n()).all(|i| s.failures[i] == 0 || has(s.registered, i))
}

/// A deliberately broken transcription, to show the checks catch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutation {
    /// `Fail` ejects without asking `EjectionAllowed` (the max-percent check dropped).
    EjectionWithoutLimit,
    /// `Fail` asks the rule before issue 10: `MaxEjectedPct` of all registered instances,
    /// unhealthy ones included, with no place kept for the last healthy one.
    OldEjectionCap,
    /// `Pick` ignores ejection: registered, healthy and of the environment suffice.
    PickIgnoringEjection,
    /// `Pick` ignores the environment.
    PickIgnoringEnv,
    /// `Readmit` only while no call is in flight (`picked = NoPick`): a readmission timer
    /// that gives up when it finds the service busy instead of trying again. It breaks no
    /// invariant; only `EjectionEnds` catches it (calls to other instances can keep it
    /// disabled every other step, which `WF_vars(Readmit(i))` allows).
    ReadmitOnlyWhenIdle,
}

fn mutant_next(k: &Constants, mutation: Mutation, s: &Vars, action: Action) -> Option<Vars> {
    match (mutation, action) {
        (Mutation::EjectionWithoutLimit, Action::Fail(i)) => fail_with(k, s, i, true),
        (Mutation::OldEjectionCap, Action::Fail(i)) => {
            fail_with(k, s, i, old_ejection_allowed(k, s))
        }
        (Mutation::PickIgnoringEjection, Action::Pick(i)) => {
            (has(s.registered, i) && s.healthy[i] && s.env_of[i] == Some(s.env)).then(|| Vars {
                picked: Some(i),
                ejecting: false,
                ..s.clone()
            })
        }
        (Mutation::PickIgnoringEnv, Action::Pick(i)) => {
            (has(s.registered, i) && s.healthy[i] && !has(s.ejected, i)).then(|| Vars {
                picked: Some(i),
                ejecting: false,
                ..s.clone()
            })
        }
        (Mutation::ReadmitOnlyWhenIdle, Action::Readmit(i)) => {
            s.picked.is_none().then(|| readmit(k, s, i)).flatten()
        }
        _ => spec_next(k, s, action),
    }
}

/// `ServiceDiscovery.tla` under its `.cfg` constants, as a stateright model.
#[derive(Clone)]
pub struct ServiceDiscoveryModel {
    /// The constants.
    pub k: Constants,
    /// `None` for the spec, or a broken transcription.
    pub mutation: Option<Mutation>,
}

impl ServiceDiscoveryModel {
    /// The spec under `specs/ServiceDiscovery.cfg`.
    pub fn spec() -> Self {
        ServiceDiscoveryModel {
            k: Constants::from_cfg(),
            mutation: None,
        }
    }

    /// A mutant of the spec under `specs/ServiceDiscovery.cfg`.
    pub fn mutant(mutation: Mutation) -> Self {
        ServiceDiscoveryModel {
            k: Constants::from_cfg(),
            mutation: Some(mutation),
        }
    }
}

/// The names of the spec's invariants checked by [`ServiceDiscoveryModel`].
pub const INVARIANTS: [&str; 10] = [
    "TypeOK",
    "EnvOnlyWhenRegistered",
    "LeasesAccounted",
    "EjectedRegistered",
    "PickedEligible",
    "PickedRegistered",
    "EnvironmentsNeverMix",
    "EjectionBound",
    "NeverEjectsTheLastHealthy",
    "FailuresOfRegistered",
];

/// The names of the spec's liveness properties (its `.cfg`'s `PROPERTIES`) checked by
/// [`check_liveness`].
pub const LIVENESS: [&str; 1] = ["EjectionEnds"];

/// `Fairness` of the spec: `WF_vars(Readmit(i))` for every instance.
pub fn fairness(k: &Constants) -> Vec<crate::liveness::Fairness<Action>> {
    use crate::liveness::Fairness;
    (0..k.n())
        .map(|i| {
            Fairness::weak(
                format!("WF_vars(Readmit({}))", k.instances[i]),
                move |a: &Action| *a == Action::Readmit(i),
            )
        })
        .collect()
}

/// `EjectionEnds` on every state `model` reaches (without symmetry reduction), under
/// `fairness`: for every instance, `(i \in ejected) ~> (i \notin ejected)`. The report sums
/// `pending` and `components` over the instances.
pub fn check_liveness(
    model: &ServiceDiscoveryModel,
    fairness: &[crate::liveness::Fairness<Action>],
) -> Result<crate::liveness::LivenessReport, String> {
    let graph = crate::liveness::Graph::explore(model, fairness);
    let mut total = None;
    for i in 0..model.k.n() {
        let report = graph
            .leads_to(|s| has(s.ejected, i), |s| !has(s.ejected, i))
            .map_err(|e| format!("EjectionEnds for {}: {e}", model.k.instances[i]))?;
        let t = total.get_or_insert(crate::liveness::LivenessReport {
            pending: 0,
            components: 0,
            ..report
        });
        t.pending += report.pending;
        t.components += report.components;
    }
    total.ok_or_else(|| "no instances".to_owned())
}

impl Model for ServiceDiscoveryModel {
    type State = Vars;
    type Action = Action;

    fn init_states(&self) -> Vec<Vars> {
        init(&self.k)
    }

    fn actions(&self, _state: &Vars, actions: &mut Vec<Action>) {
        actions.extend(Action::all(&self.k));
    }

    fn next_state(&self, state: &Vars, action: Action) -> Option<Vars> {
        match self.mutation {
            None => spec_next(&self.k, state, action),
            Some(mutation) => mutant_next(&self.k, mutation, state, action),
        }
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("TypeOK", |m: &Self, s: &Vars| type_ok(&m.k, s)),
            Property::always("EnvOnlyWhenRegistered", |m: &Self, s: &Vars| {
                env_only_when_registered(&m.k, s)
            }),
            Property::always("LeasesAccounted", |m: &Self, s: &Vars| {
                leases_accounted(&m.k, s)
            }),
            Property::always("EjectedRegistered", |m: &Self, s: &Vars| {
                ejected_registered(&m.k, s)
            }),
            Property::always("PickedEligible", |m: &Self, s: &Vars| {
                picked_eligible(&m.k, s)
            }),
            Property::always("PickedRegistered", |m: &Self, s: &Vars| {
                picked_registered(&m.k, s)
            }),
            Property::always("EnvironmentsNeverMix", |m: &Self, s: &Vars| {
                environments_never_mix(&m.k, s)
            }),
            Property::always("EjectionBound", |m: &Self, s: &Vars| {
                ejection_bound(&m.k, s)
            }),
            Property::always("NeverEjectsTheLastHealthy", |m: &Self, s: &Vars| {
                never_ejects_the_last_healthy(&m.k, s)
            }),
            Property::always("FailuresOfRegistered", |m: &Self, s: &Vars| {
                failures_of_registered(&m.k, s)
            }),
            // Reachability: none of the invariants above holds vacuously.
            Property::sometimes("an instance ejected", |_, s: &Vars| s.ejected != 0),
            Property::sometimes("an ejection at the limit", |m: &Self, s: &Vars| {
                s.ejecting && cardinality(s.ejected) == ejection_limit(&m.k, s)
            }),
            Property::sometimes(
                "an ejection the old rule allowed refused for the last healthy instance",
                |m: &Self, s: &Vars| {
                    s.picked.is_some_and(|i| {
                        s.failures[i] + 1 >= m.k.consecutive_failures
                            && !has(s.ejected, i)
                            && old_ejection_allowed(&m.k, s)
                            && !ejection_allowed(&m.k, s)
                    })
                },
            ),
            Property::sometimes("a pick in panic mode", |m: &Self, s: &Vars| {
                s.picked.is_some_and(|i| panic(&m.k, s) && !eligible(s, i))
            }),
            Property::sometimes("an ejection refused by the limit", |m: &Self, s: &Vars| {
                s.picked.is_some_and(|i| {
                    s.failures[i] + 1 >= m.k.consecutive_failures && !ejection_allowed(&m.k, s)
                })
            }),
            Property::sometimes("a readmitted instance on probation", |_, s: &Vars| {
                s.probation != 0
            }),
            Property::sometimes("a lease expired", |_, s: &Vars| {
                s.lease.contains(&Lease::Expired)
            }),
            Property::sometimes("an instance unhealthy", |_, s: &Vars| {
                s.healthy.iter().any(|healthy| !healthy)
            }),
            Property::sometimes("a pick made", |_, s: &Vars| s.picked.is_some()),
            Property::sometimes(
                "an instance of another environment registered",
                |_, s: &Vars| s.env_of.iter().flatten().any(|&e| e != s.env),
            ),
            Property::sometimes("failures counting", |_, s: &Vars| {
                s.failures.iter().any(|&f| f > 0)
            }),
        ]
    }
}

// ---------------------------------------------------------------------------------------------
// Refinement against the real `ServiceDiscovery`.

/// The service every instance of the model belongs to.
pub const SERVICE: &str = "spec-service";

/// What a real [`ServiceDiscovery`] shows, in the spec's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The registered instances (`endpoints`).
    pub registered: u64,
    /// Their `env` metadata.
    pub env_of: Vec<Option<usize>>,
    /// `Endpoint::is_healthy` of each registered one (`true` otherwise).
    pub healthy: Vec<bool>,
    /// `Endpoint::is_ejected`.
    pub ejected: u64,
    /// What `discover` lists.
    pub eligible: u64,
}

impl Observed {
    /// The spec state's view.
    pub fn of_spec(k: &Constants, s: &Vars) -> Observed {
        Observed {
            registered: s.registered,
            env_of: s.env_of.clone(),
            healthy: s.healthy.clone(),
            ejected: s.ejected,
            eligible: eligible_set(k, s),
        }
    }
}

/// A real [`ServiceDiscovery`] driven by the spec's actions.
///
/// This crate has no tokio runtime (it may not depend on tokio), so it is driven outside any
/// runtime: no lease reaper runs, so `Expire(i)` is `revoke` of the instance's lease (the same
/// `drop_lease` the reaper calls), and an ejection is readmitted at once (`readmit_at`
/// without a runtime), so a `Fail(i)` that ejects is matched by `Fail(i)` then `Readmit(i)`.
/// The timed paths are driven on tokio's paused clock by `discovery/tests/registry_model.rs`.
pub struct Driver {
    k: Constants,
    discovery: ServiceDiscovery,
    leases: Vec<Option<LeaseId>>,
    call: Option<InFlight>,
}

impl Driver {
    /// A discovery in the process environment of `s`, with the outlier detector of `k`.
    pub fn new(k: &Constants, s: &Vars) -> Driver {
        let config = DiscoveryConfig {
            env: Some(k.envs[s.env].clone()),
            panic_threshold_percent: k.panic_threshold_pct,
            outlier: OutlierConfig {
                enabled: true,
                consecutive_failures: k.consecutive_failures,
                max_ejected_percent: k.max_ejected_pct,
                jitter_factor: 0.0,
                ..OutlierConfig::default()
            },
            ..DiscoveryConfig::default()
        };
        Driver {
            k: k.clone(),
            discovery: ServiceDiscovery::with_config(config),
            leases: vec![None; k.n()],
            call: None,
        }
    }

    fn id(&self, i: usize) -> InstanceId {
        InstanceId::new(SERVICE, self.k.instances[i].clone())
    }

    fn instance(&self, i: usize, e: usize) -> Instance {
        Instance::new(
            SERVICE,
            self.k.instances[i].clone(),
            "127.0.0.1",
            8000 + i as u16,
        )
        .with_metadata("env", self.k.envs[e].clone())
    }

    /// Takes `action` (which the spec allows) on the real discovery.
    pub fn step(&mut self, action: Action) -> Result<(), DiscoveryError> {
        let pending = self.call.take();
        match action {
            Action::Register(i, e) => self.discovery.register(self.instance(i, e))?,
            Action::RegisterWithLease(i, e) => {
                let ttl = Duration::from_secs(10);
                self.leases[i] = Some(
                    self.discovery
                        .register_with_lease(self.instance(i, e), ttl)?,
                );
            }
            Action::KeepAlive(i) => self.discovery.heartbeat(self.lease(i)?)?,
            Action::Expire(i) => {
                let lease = self.lease(i)?;
                self.leases[i] = None;
                self.discovery.registry().revoke(lease)?;
            }
            Action::Deregister(i) => {
                self.leases[i] = None;
                self.discovery.deregister(&self.id(i))?;
            }
            Action::SetHealthy(i, b) => self.discovery.set_healthy(&self.id(i), b)?,
            Action::Pick(i) => {
                let name = self.k.instances[i].clone();
                let call = self.discovery.pick(&Route::new(SERVICE), |endpoint| {
                    endpoint.instance().id.id != name
                })?;
                if call.endpoint().instance().id.id != name {
                    return Err(DiscoveryError::UnknownInstance { id: self.id(i) });
                }
                self.call = Some(call);
            }
            Action::Succeed(_) | Action::Fail(_) => {
                let call = pending.ok_or(DiscoveryError::NoInstance {
                    service: "no call picked".into(),
                })?;
                let outcome = match action {
                    Action::Succeed(_) => CallOutcome::Success,
                    _ => CallOutcome::Failure,
                };
                self.discovery.report(call, outcome);
            }
            // Readmission is immediate outside a runtime: nothing to drive.
            Action::Readmit(_) => {}
        }
        Ok(())
    }

    fn lease(&self, i: usize) -> Result<LeaseId, DiscoveryError> {
        self.leases[i].ok_or(DiscoveryError::UnknownLease { lease: 0 })
    }

    /// What the discovery shows now.
    pub fn observe(&self) -> Observed {
        let n = self.k.n();
        let index = |name: &str| {
            self.k
                .instances
                .iter()
                .position(|i| i == name)
                .expect("only the model's instances are registered")
        };
        let mut observed = Observed {
            registered: 0,
            env_of: vec![None; n],
            healthy: vec![true; n],
            ejected: 0,
            eligible: 0,
        };
        for endpoint in self.discovery.endpoints(SERVICE) {
            let i = index(&endpoint.instance().id.id);
            observed.registered |= 1 << i;
            observed.env_of[i] = endpoint
                .instance()
                .metadata
                .get("env")
                .and_then(|env| self.k.envs.iter().position(|e| e == env));
            observed.healthy[i] = endpoint.is_healthy();
            if endpoint.is_ejected() {
                observed.ejected |= 1 << i;
            }
        }
        for instance in self.discovery.discover(SERVICE).unwrap_or_default() {
            observed.eligible |= 1 << index(&instance.id.id);
        }
        observed
    }
}

/// What a refinement run covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefinementReport {
    /// Paths driven.
    pub paths: usize,
    /// Steps taken (each compared).
    pub steps: usize,
    /// Distinct spec states visited.
    pub states: usize,
    /// Ejections driven (each matched by `Fail` then `Readmit`).
    pub ejections: usize,
}

/// A small deterministic generator (xorshift64*), so the paths are the same on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

/// Drives a real [`ServiceDiscovery`] along `paths` random paths of the spec of `length` steps
/// each (seeded, so the same on every run), comparing what it shows with the spec's state after
/// every step. `mutation` drives a mutant of the spec instead (to show mismatches are caught).
pub fn check_refinement(
    paths: usize,
    length: usize,
    mutation: Option<Mutation>,
) -> Result<RefinementReport, String> {
    let model = match mutation {
        None => ServiceDiscoveryModel::spec(),
        Some(mutation) => ServiceDiscoveryModel::mutant(mutation),
    };
    let k = &model.k;
    let actions = Action::all(k);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut seen = std::collections::HashSet::new();
    let mut report = RefinementReport {
        paths,
        steps: 0,
        states: 0,
        ejections: 0,
    };
    for path in 0..paths {
        let inits = init(k);
        let mut s = inits[path % inits.len()].clone();
        let mut driver = Driver::new(k, &s);
        let mut trace = Vec::new();
        for _ in 0..length {
            let enabled: Vec<(Action, Vars)> = actions
                .iter()
                .filter_map(|&a| model.next_state(&s, a).map(|n| (a, n)))
                .collect();
            // Calls are half the steps, so failures pile up to ejections.
            let calls: Vec<&(Action, Vars)> = enabled
                .iter()
                .filter(|(a, _)| matches!(a, Action::Pick(_) | Action::Fail(_)))
                .collect();
            let (action, mut next) = if !calls.is_empty() && rng.below(2) == 0 {
                calls[rng.below(calls.len())].clone()
            } else {
                enabled[rng.below(enabled.len())].clone()
            };
            trace.push(action);
            driver
                .step(action)
                .map_err(|error| format!("{trace:?}: the implementation refused: {error}"))?;
            if next.ejecting {
                // Outside a runtime the ejection ends at once.
                let i = action_instance(action);
                next = readmit(k, &next, i).expect("just ejected");
                report.ejections += 1;
            }
            s = next;
            report.steps += 1;
            seen.insert(s.clone());
            let (spec, implementation) = (Observed::of_spec(k, &s), driver.observe());
            if spec != implementation {
                return Err(format!(
                    "{trace:?}:\n  spec           -> {spec:?}\n  implementation -> {implementation:?}"
                ));
            }
        }
    }
    report.states = seen.len();
    Ok(report)
}

fn action_instance(action: Action) -> usize {
    match action {
        Action::Register(i, _)
        | Action::RegisterWithLease(i, _)
        | Action::KeepAlive(i)
        | Action::Expire(i)
        | Action::Deregister(i)
        | Action::SetHealthy(i, _)
        | Action::Pick(i)
        | Action::Succeed(i)
        | Action::Fail(i)
        | Action::Readmit(i) => i,
    }
}
