//! The in-memory registry behind `ServiceDiscovery` against a reference model
//! (`proptest-state-machine`): registrations (malformed ones included), leases with heartbeats
//! and expiry on tokio's paused clock, deregistration, health, and ejection by the outlier
//! detector with its limit and probation. After every step `discover` lists exactly the model's
//! eligible instances, and the endpoints show the model's registrations, health and ejections.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use resilience_discovery::{
    CallOutcome, DiscoveryConfig, DiscoveryError, Instance, InstanceId, LeaseId, OutlierConfig,
    Route, ServiceDiscovery,
};

const SERVICE: &str = "model-svc";
/// Instances `i0 .. i3`: four, so the 50 % limit lets two be ejected at once.
const INSTANCES: usize = 4;
const PROCESS_ENV: &str = "prod";
const CONSECUTIVE_FAILURES: u32 = 2;
const MAX_EJECTED_PERCENT: u32 = 50;
/// Ejection lasts `BASE_EJECTION_MS × times ejected`, at most `MAX_EJECTION_MS` (no jitter).
const BASE_EJECTION_MS: u64 = 2_000;
const MAX_EJECTION_MS: u64 = 5_000;
/// The count of ejections drops by one per `DECAY_MS` readmitted.
const DECAY_MS: u64 = 3_000;

/// The `env` metadata an instance registers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Env {
    Prod,
    Dev,
    Unset,
}

/// How a registration is malformed (refused with `InvalidInstance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Malformed {
    EmptyHost,
    PortZero,
    BadWeight,
    BadVersion,
}

#[derive(Debug, Clone)]
enum Step {
    Register {
        id: usize,
        env: Env,
        malformed: Option<Malformed>,
    },
    RegisterWithLease {
        id: usize,
        env: Env,
        ttl_ms: u64,
        malformed: Option<Malformed>,
    },
    Heartbeat(LeaseId),
    Deregister(usize),
    SetHealthy(usize, bool),
    /// A call picked to this (eligible) instance, reported with `outcome`.
    Call(usize, CallOutcome),
    Advance(u64),
}

/// One registered endpoint of the model.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    env: Env,
    lease: Option<LeaseId>,
    healthy: bool,
    /// When the ejection ends (ms), if ejected.
    ejected_until: Option<u64>,
    probation: bool,
    failures: u32,
    times_ejected: u64,
    /// When the last ejection ended (ms).
    readmitted_at: u64,
}

impl Entry {
    fn new(env: Env, lease: Option<LeaseId>) -> Entry {
        Entry {
            env,
            lease,
            healthy: true,
            ejected_until: None,
            probation: false,
            failures: 0,
            times_ejected: 0,
            readmitted_at: 0,
        }
    }
}

/// The reference model: time in ms, leases (ttl, deadline) by id, entries by instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Registry {
    now: u64,
    next_lease: LeaseId,
    leases: BTreeMap<LeaseId, (u64, u64)>,
    entries: BTreeMap<usize, Entry>,
}

impl Registry {
    fn eligible(&self, id: usize) -> bool {
        self.entries.get(&id).is_some_and(|entry| {
            entry.healthy && entry.ejected_until.is_none() && entry.env == Env::Prod
        })
    }

    fn eligible_ids(&self) -> Vec<usize> {
        (0..INSTANCES).filter(|&id| self.eligible(id)).collect()
    }

    /// A put: the same instance again keeps its live state and takes the new lease (or none);
    /// a different one is a new endpoint.
    fn put(&mut self, id: usize, env: Env, lease: Option<LeaseId>) {
        match self.entries.get_mut(&id) {
            Some(entry) if entry.env == env => entry.lease = lease,
            _ => {
                self.entries.insert(id, Entry::new(env, lease));
            }
        }
    }

    fn call(&mut self, id: usize, outcome: CallOutcome) {
        // The limit is a share of the healthy instances (of this environment, ejected or
        // not), and never all of them: one healthy instance always stays in.
        let healthy = self
            .entries
            .values()
            .filter(|entry| entry.healthy && entry.env == Env::Prod)
            .count() as u64;
        let ejected = self
            .entries
            .values()
            .filter(|entry| entry.ejected_until.is_some())
            .count() as u64;
        let now = self.now;
        let entry = self
            .entries
            .get_mut(&id)
            .expect("calls go to eligible instances");
        if outcome == CallOutcome::Success {
            entry.failures = 0;
            entry.probation = false;
            return;
        }
        entry.failures += 1;
        let wants = entry.failures >= CONSECUTIVE_FAILURES || entry.probation;
        let limit = (healthy * u64::from(MAX_EJECTED_PERCENT) / 100).min(healthy.saturating_sub(1));
        if wants && entry.ejected_until.is_none() && ejected < limit {
            let decayed = (now - entry.readmitted_at) / DECAY_MS;
            entry.times_ejected = entry.times_ejected.saturating_sub(decayed) + 1;
            let duration = (BASE_EJECTION_MS * entry.times_ejected).min(MAX_EJECTION_MS);
            entry.ejected_until = Some(now + duration);
            entry.failures = 0;
            entry.probation = false;
        }
    }

    fn advance(&mut self, ms: u64) {
        self.now += ms;
        let now = self.now;
        let expired: Vec<LeaseId> = self
            .leases
            .iter()
            .filter(|(_, (_, deadline))| *deadline <= now)
            .map(|(lease, _)| *lease)
            .collect();
        for lease in expired {
            self.leases.remove(&lease);
            self.entries.retain(|_, entry| entry.lease != Some(lease));
        }
        for entry in self.entries.values_mut() {
            if let Some(until) = entry.ejected_until.filter(|&until| until <= now) {
                // The readmission timer fires at its deadline (the paused clock stops there).
                entry.ejected_until = None;
                entry.probation = true;
                entry.readmitted_at = until;
            }
        }
    }
}

fn env_strategy() -> impl Strategy<Value = Env> {
    prop_oneof![4 => Just(Env::Prod), 1 => Just(Env::Dev), 1 => Just(Env::Unset)]
}

fn malformed_strategy() -> impl Strategy<Value = Option<Malformed>> {
    prop_oneof![
        8 => Just(None),
        1 => Just(Some(Malformed::EmptyHost)),
        1 => Just(Some(Malformed::PortZero)),
        1 => Just(Some(Malformed::BadWeight)),
        1 => Just(Some(Malformed::BadVersion)),
    ]
}

struct RegistryMachine;

impl ReferenceStateMachine for RegistryMachine {
    type State = Registry;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Registry> {
        Just(Registry::default()).boxed()
    }

    fn transitions(state: &Registry) -> BoxedStrategy<Step> {
        let id = 0..INSTANCES;
        let register = (id.clone(), env_strategy(), malformed_strategy())
            .prop_map(|(id, env, malformed)| Step::Register { id, env, malformed });
        let register_with_lease = (
            id.clone(),
            env_strategy(),
            prop_oneof![Just(1_000u64), Just(3_000)],
            malformed_strategy(),
        )
            .prop_map(|(id, env, ttl_ms, malformed)| Step::RegisterWithLease {
                id,
                env,
                ttl_ms,
                malformed,
            });
        let heartbeat = (1..=state.next_lease + 1).prop_map(Step::Heartbeat);
        let deregister = id.clone().prop_map(Step::Deregister);
        let set_healthy = (id, any::<bool>()).prop_map(|(id, b)| Step::SetHealthy(id, b));
        let advance = prop_oneof![Just(500u64), Just(1_000), Just(2_500), Just(6_000)]
            .prop_map(Step::Advance);
        let eligible = state.eligible_ids();
        if eligible.is_empty() {
            prop_oneof![
                3 => register,
                3 => register_with_lease,
                2 => heartbeat,
                1 => deregister,
                2 => set_healthy,
                2 => advance,
            ]
            .boxed()
        } else {
            let call = (
                proptest::sample::select(eligible),
                prop_oneof![
                    1 => Just(CallOutcome::Success),
                    3 => Just(CallOutcome::Failure),
                    1 => Just(CallOutcome::Timeout),
                ],
            )
                .prop_map(|(id, outcome)| Step::Call(id, outcome));
            prop_oneof![
                3 => register,
                3 => register_with_lease,
                2 => heartbeat,
                1 => deregister,
                2 => set_healthy,
                2 => advance,
                6 => call,
            ]
            .boxed()
        }
    }

    fn preconditions(state: &Registry, step: &Step) -> bool {
        match step {
            Step::Call(id, _) => state.eligible(*id),
            _ => true,
        }
    }

    fn apply(mut state: Registry, step: &Step) -> Registry {
        match *step {
            Step::Register { id, env, malformed } => {
                if malformed.is_none() {
                    state.put(id, env, None);
                }
            }
            Step::RegisterWithLease {
                id,
                env,
                ttl_ms,
                malformed,
            } => {
                if malformed.is_none() {
                    state.next_lease += 1;
                    let lease = state.next_lease;
                    state.leases.insert(lease, (ttl_ms, state.now + ttl_ms));
                    state.put(id, env, Some(lease));
                }
            }
            Step::Heartbeat(lease) => {
                let now = state.now;
                if let Some((ttl, deadline)) = state.leases.get_mut(&lease) {
                    *deadline = now + *ttl;
                }
            }
            Step::Deregister(id) => {
                state.entries.remove(&id);
            }
            Step::SetHealthy(id, healthy) => {
                if let Some(entry) = state.entries.get_mut(&id) {
                    entry.healthy = healthy;
                }
            }
            Step::Call(id, outcome) => state.call(id, outcome),
            Step::Advance(ms) => state.advance(ms),
        }
        state
    }
}

/// The system under test: a discovery on a paused current-thread runtime, and the model's
/// state before the step being applied (to know which calls must fail).
struct Sut {
    runtime: tokio::runtime::Runtime,
    discovery: ServiceDiscovery,
    before: Registry,
}

fn name(id: usize) -> String {
    format!("i{id}")
}

fn instance(id: usize, env: Env, malformed: Option<Malformed>) -> Instance {
    let mut instance = Instance::new(SERVICE, name(id), "10.0.0.1", 9000 + id as u16);
    match env {
        Env::Prod => instance = instance.with_metadata("env", PROCESS_ENV),
        Env::Dev => instance = instance.with_metadata("env", "dev"),
        Env::Unset => {}
    }
    match malformed {
        None => {}
        Some(Malformed::EmptyHost) => instance.host = String::new(),
        Some(Malformed::PortZero) => instance.port = 0,
        Some(Malformed::BadWeight) => instance = instance.with_metadata("weight", "0"),
        Some(Malformed::BadVersion) => instance = instance.with_metadata("version", "two"),
    }
    instance
}

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, DiscoveryError>) {
    assert!(
        matches!(result, Err(DiscoveryError::InvalidInstance { .. })),
        "a malformed registration is refused: {result:?}"
    );
}

struct RegistryTest;

impl StateMachineTest for RegistryTest {
    type SystemUnderTest = Sut;
    type Reference = RegistryMachine;

    fn init_test(state: &Registry) -> Sut {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime");
        let config = DiscoveryConfig {
            env: Some(PROCESS_ENV.to_owned()),
            outlier: OutlierConfig {
                enabled: true,
                consecutive_failures: CONSECUTIVE_FAILURES,
                base_ejection: Duration::from_millis(BASE_EJECTION_MS),
                max_ejection: Duration::from_millis(MAX_EJECTION_MS),
                max_ejected_percent: MAX_EJECTED_PERCENT,
                jitter_factor: 0.0,
                decay_interval: Duration::from_millis(DECAY_MS),
            },
            ..DiscoveryConfig::default()
        };
        let discovery = runtime.block_on(async { ServiceDiscovery::with_config(config) });
        Sut {
            runtime,
            discovery,
            before: state.clone(),
        }
    }

    fn apply(mut sut: Sut, after: &Registry, step: Step) -> Sut {
        let before = &sut.before;
        let discovery = &sut.discovery;
        sut.runtime.block_on(async {
            match step {
                Step::Register { id, env, malformed } => {
                    let result = discovery.register(instance(id, env, malformed));
                    if malformed.is_some() {
                        assert_invalid(result);
                    } else {
                        result.expect("a well-formed registration succeeds");
                    }
                }
                Step::RegisterWithLease {
                    id,
                    env,
                    ttl_ms,
                    malformed,
                } => {
                    let result = discovery.register_with_lease(
                        instance(id, env, malformed),
                        Duration::from_millis(ttl_ms),
                    );
                    if malformed.is_some() {
                        assert_invalid(result);
                    } else {
                        assert_eq!(result.expect("granted"), after.next_lease);
                    }
                }
                Step::Heartbeat(lease) => {
                    let result = discovery.heartbeat(lease);
                    assert_eq!(
                        result.is_ok(),
                        before.leases.contains_key(&lease),
                        "heartbeat of lease {lease}: {result:?}"
                    );
                }
                Step::Deregister(id) => {
                    let result = discovery.deregister(&InstanceId::new(SERVICE, name(id)));
                    assert_eq!(
                        result.is_ok(),
                        before.entries.contains_key(&id),
                        "{result:?}"
                    );
                }
                Step::SetHealthy(id, healthy) => {
                    let result =
                        discovery.set_healthy(&InstanceId::new(SERVICE, name(id)), healthy);
                    assert_eq!(
                        result.is_ok(),
                        before.entries.contains_key(&id),
                        "{result:?}"
                    );
                }
                Step::Call(id, outcome) => {
                    let target = name(id);
                    let call = discovery
                        .pick(&Route::new(SERVICE), |endpoint| {
                            endpoint.instance().id.id != target
                        })
                        .expect("an eligible instance is there");
                    assert_eq!(
                        call.endpoint().instance().id.id,
                        target,
                        "{target} is eligible, so avoiding the others lands on it"
                    );
                    discovery.report(call, outcome);
                }
                Step::Advance(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    // Let the reaper and the readmission timers due now run.
                    for _ in 0..16 {
                        tokio::task::yield_now().await;
                    }
                }
            }
        });
        sut.before = after.clone();
        sut
    }

    fn check_invariants(sut: &Sut, model: &Registry) {
        let discovery = &sut.discovery;
        let mut listed: Vec<String> = discovery
            .discover(SERVICE)
            .expect("discover never fails")
            .into_iter()
            .map(|instance| instance.id.id)
            .collect();
        listed.sort();
        let expected: Vec<String> = model.eligible_ids().into_iter().map(name).collect();
        assert_eq!(
            listed, expected,
            "discover lists the model's eligible instances"
        );

        let endpoints: BTreeMap<String, (bool, bool, Option<String>)> = discovery
            .endpoints(SERVICE)
            .iter()
            .map(|endpoint| {
                (
                    endpoint.instance().id.id.clone(),
                    (
                        endpoint.is_healthy(),
                        endpoint.is_ejected(),
                        endpoint.instance().metadata.get("env").cloned(),
                    ),
                )
            })
            .collect();
        let modelled: BTreeMap<String, (bool, bool, Option<String>)> = model
            .entries
            .iter()
            .map(|(&id, entry)| {
                let env = match entry.env {
                    Env::Prod => Some(PROCESS_ENV.to_owned()),
                    Env::Dev => Some("dev".to_owned()),
                    Env::Unset => None,
                };
                (
                    name(id),
                    (entry.healthy, entry.ejected_until.is_some(), env),
                )
            })
            .collect();
        assert_eq!(
            endpoints, modelled,
            "registered endpoints (healthy, ejected, env) at {} ms",
            model.now
        );
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        max_shrink_iters: 4096,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn discover_matches_the_reference_model_after_every_step(sequential 1..60 => RegistryTest);
}
