//! Spec paths replayed on the real objects: for every state the explorer reaches under the
//! `.cfg` constants and every action of `Next`, a real `CircuitBreaker` (on tokio's paused
//! clock) or a real `Bulkhead` is driven from scratch along a shortest spec path to that state,
//! then tries the action; after every step its observable state, mapped back to the spec's
//! variables, must be the spec's state, and the action must succeed on the real object exactly
//! when the spec enables it. Which transition `step` makes, which waiter a released slot goes
//! to, and whether a caller is admitted, queued or rejected are the real objects' answers here,
//! not `implementation_next`'s.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use resilience_runtime::ResilienceError;
use resilience_runtime::bulkhead::{Bulkhead, BulkheadConfig, BulkheadPermit};
use resilience_runtime::circuit_breaker::{
    BreakerPermit, CircuitBreaker, CircuitBreakerConfig, CircuitBreakerMetrics, CircuitState,
};
use resilience_verification::bulkhead as bh;
use resilience_verification::circuit_breaker as cb;
use stateright::{Checker, Model};
use tokio::time::Instant;

/// A reachable state, the initial state its path starts from, and the path's actions.
type Path<M> = (
    <M as Model>::State,
    <M as Model>::State,
    Vec<<M as Model>::Action>,
);

/// Where the search first reached a state from: its predecessor and the action taken.
type Parents<M> = HashMap<<M as Model>::State, Option<(<M as Model>::State, <M as Model>::Action)>>;

/// Every state `model` reaches within its boundary, with the shortest path of actions from an
/// initial state to it (breadth first), in the order found.
fn shortest_paths<M>(model: &M) -> Vec<Path<M>>
where
    M: Model,
    M::State: Clone + Eq + Hash,
    M::Action: Clone,
{
    let mut parent: Parents<M> = HashMap::new();
    let mut order = Vec::new();
    let mut frontier = VecDeque::new();
    for init in model.init_states() {
        if model.within_boundary(&init) && !parent.contains_key(&init) {
            parent.insert(init.clone(), None);
            order.push(init.clone());
            frontier.push_back(init);
        }
    }
    let mut actions = Vec::new();
    while let Some(state) = frontier.pop_front() {
        actions.clear();
        model.actions(&state, &mut actions);
        for action in actions.drain(..) {
            if let Some(next) = model.next_state(&state, action.clone())
                && model.within_boundary(&next)
                && !parent.contains_key(&next)
            {
                parent.insert(next.clone(), Some((state.clone(), action)));
                order.push(next.clone());
                frontier.push_back(next);
            }
        }
    }
    order
        .into_iter()
        .map(|state| {
            let mut path = Vec::new();
            let mut at = state.clone();
            while let Some(Some((before, action))) = parent.get(&at) {
                path.push(action.clone());
                at = before.clone();
            }
            path.reverse();
            (state, at, path)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The circuit breaker.

/// Any positive reset timeout: `Tick` advances the paused clock by exactly this.
const RESET_TIMEOUT: Duration = Duration::from_secs(1);

/// The breaker of `mode` under the `.cfg`'s constants. Rate mode: a window of two outcomes that
/// trips at a failure rate of 1 once both are recorded, so the harness can steer it (see
/// [`RealBreaker::pad`]).
fn breaker_config(k: &cb::Constants, mode: cb::Mode) -> CircuitBreakerConfig {
    CircuitBreakerConfig {
        max_failures: k.max_failures,
        reset_timeout: RESET_TIMEOUT,
        half_open_allowed_calls: k.half_open_allowed,
        failure_rate: (mode == cb::Mode::Rate).then_some(1.0),
        window: 2,
        min_calls: Some(2),
    }
}

/// A real breaker and the permits the spec's callers hold on it.
struct RealBreaker<'b> {
    breaker: &'b CircuitBreaker,
    mode: cb::Mode,
    origin: Instant,
    /// Per caller: the permit and the epoch the breaker was in right after admitting it.
    permits: Vec<Option<(BreakerPermit<'b>, u32)>>,
    /// The counts `metrics()` must show.
    expected: CircuitBreakerMetrics,
}

impl<'b> RealBreaker<'b> {
    fn new(
        breaker: &'b CircuitBreaker,
        origin: Instant,
        k: &cb::Constants,
        mode: cb::Mode,
    ) -> Self {
        RealBreaker {
            breaker,
            mode,
            origin,
            permits: (0..k.callers).map(|_| None).collect(),
            expected: CircuitBreakerMetrics::default(),
        }
    }

    fn now_micros(&self) -> u64 {
        u64::try_from((Instant::now() - self.origin).as_micros()).expect("a short test")
    }

    /// The spec's variables of the real breaker: its snapshot read at the paused clock's `now`,
    /// the permits the callers hold (their `is_trial`), and `mode` from the configuration.
    /// Checks `state()` and `metrics()` on the way.
    fn abstraction(&self) -> cb::Vars {
        let snapshot = self.breaker.snapshot();
        assert_eq!(self.breaker.state(), snapshot.circuit_state());
        assert_eq!(self.breaker.metrics(), self.expected, "{snapshot:?}");
        let env = cb::Vars {
            mode: self.mode,
            phase: cb::Phase::Closed,
            failures: 0,
            forced: false,
            elapsed: false,
            admitted: 0,
            succeeded: 0,
            epoch: 0,
            permit: self
                .permits
                .iter()
                .map(|held| match held {
                    Some((permit, epoch)) => cb::Permit {
                        held: true,
                        epoch: *epoch,
                        trial: permit.is_trial(),
                    },
                    None => cb::NO_PERMIT,
                })
                .collect(),
        };
        cb::abstraction(snapshot, self.now_micros(), &env)
    }

    /// Rate mode, Closed: records extra outcomes of permits no spec caller holds (admission in
    /// Closed and outcomes that do not trip change no spec variable), so that the next failure
    /// leaves the two-outcome window at one failure of two (`trip == false`: no trip) or at two
    /// of two (`trip`).
    fn pad(&mut self, trip: bool) {
        let extra = self.breaker.admit().expect("Closed admits");
        extra.success();
        self.expected.successful += 1;
        if trip {
            let extra = self.breaker.admit().expect("Closed admits");
            extra.failure();
            self.expected.failed += 1;
        }
    }

    /// Takes `action` on the real breaker: the spec's variables after it, or `None` when the
    /// breaker does not take it.
    async fn take(&mut self, action: cb::Action) -> Option<cb::Vars> {
        let before = self.abstraction();
        let was_open = self.breaker.state() == CircuitState::Open;
        match action {
            cb::Action::Acquire(c) | cb::Action::Reject(c) => {
                if self.permits[c].is_some() {
                    return None;
                }
                match self.breaker.admit() {
                    Some(permit) => {
                        if matches!(action, cb::Action::Reject(_)) {
                            return None;
                        }
                        let epoch = u32::from(self.breaker.snapshot().epoch);
                        self.permits[c] = Some((permit, epoch));
                    }
                    None => {
                        self.expected.rejected += 1;
                        if matches!(action, cb::Action::Acquire(_)) {
                            return None;
                        }
                    }
                }
            }
            cb::Action::Succeed(c) => {
                let (permit, _) = self.permits[c].take()?;
                permit.success();
                self.expected.successful += 1;
            }
            cb::Action::Fail(c) | cb::Action::Trip(c) => {
                let trip = matches!(action, cb::Action::Trip(_));
                let rate_closed =
                    self.mode == cb::Mode::Rate && self.breaker.state() == CircuitState::Closed;
                // Only a rate-mode window in Closed trips; anything else fails with `Fail`.
                if self.permits[c].is_none() || (trip && !rate_closed) {
                    return None;
                }
                if rate_closed {
                    self.pad(trip);
                }
                let (permit, _) = self.permits[c].take()?;
                permit.failure();
                self.expected.failed += 1;
                if trip && self.breaker.state() != CircuitState::Open {
                    return None; // the window did not trip: a stale permit's failure
                }
            }
            cb::Action::Cancel(c) => {
                let (permit, _) = self.permits[c].take()?;
                drop(permit);
            }
            cb::Action::Tick => {
                tokio::time::advance(RESET_TIMEOUT).await;
            }
            cb::Action::Reset => {
                self.breaker.reset();
                self.expected = CircuitBreakerMetrics::default();
            }
            cb::Action::ForceOpen => self.breaker.force_open(),
        }
        if !was_open && self.breaker.state() == CircuitState::Open {
            self.expected.opened += 1;
        }
        let after = self.abstraction();
        // Time passing is a step only when it changes something (an Open deadline reached).
        if action == cb::Action::Tick && after == before {
            return None;
        }
        Some(after)
    }
}

/// What a replay covered: states, (state, action) pairs, enabled pairs, the longest path.
type Coverage = (usize, usize, usize, usize);

/// Replays every shortest path of the spec's reachable graph, then every action, on a fresh
/// real breaker each time, against `spec_next` (the spec, or a mutation of it): the first
/// disagreement, or what was covered.
async fn replay_breaker(
    spec_next: impl Fn(&cb::Constants, &cb::Vars, cb::Action) -> Option<cb::Vars>,
) -> Result<Coverage, String> {
    let model = cb::CircuitBreakerModel::spec();
    let k = model.k.clone();
    let actions = cb::Action::all(&k);
    let paths = shortest_paths(&model);
    let (mut pairs, mut enabled, mut longest) = (0, 0, 0);
    for (target, init, path) in &paths {
        longest = longest.max(path.len());
        for &action in &actions {
            let origin = Instant::now();
            let breaker = CircuitBreaker::new("replay", breaker_config(&k, init.mode))
                .expect("valid configuration");
            let mut real = RealBreaker::new(&breaker, origin, &k, init.mode);
            let mut spec = init.clone();
            assert_eq!(real.abstraction(), spec);
            for &step in path {
                spec = spec_next(&k, &spec, step).expect("a spec path");
                let taken = real.take(step).await;
                if taken.as_ref() != Some(&spec) {
                    return Err(format!(
                        "{step:?} along {path:?}: spec {spec:?}, real {taken:?}"
                    ));
                }
            }
            assert_eq!(&spec, target);
            let by_spec = spec_next(&k, &spec, action);
            let by_real = real.take(action).await;
            if by_real != by_spec {
                return Err(format!(
                    "{action:?} after {path:?}:\n  from {spec:?}\n  spec -> {by_spec:?}\n  real -> {by_real:?}"
                ));
            }
            pairs += 1;
            enabled += usize::from(by_spec.is_some());
        }
    }
    Ok((paths.len(), pairs, enabled, longest))
}

#[tokio::test(start_paused = true)]
async fn the_real_breaker_takes_every_spec_step_from_every_reachable_state() {
    let (states, pairs, enabled, longest) = replay_breaker(cb::spec_next)
        .await
        .unwrap_or_else(|mismatch| panic!("{mismatch}"));
    eprintln!(
        "CircuitBreaker replay: {states} states, {pairs} (state, action) pairs ({enabled} \
         enabled), paths up to {longest} steps"
    );
    let spec = cb::CircuitBreakerModel::spec()
        .checker()
        .spawn_bfs()
        .join()
        .unique_state_count();
    assert_eq!(
        states, spec,
        "the replay visits every state the checker does"
    );
    assert!(enabled > states);
}

/// The replay is not vacuous: a spec admitting one half-open trial too many, or opening on the
/// first failure, is refused by the real breaker.
#[tokio::test(start_paused = true)]
async fn the_real_breaker_refuses_mutated_specs() {
    let extra_trial = |k: &cb::Constants, s: &cb::Vars, action: cb::Action| {
        let k = match action {
            cb::Action::Acquire(_) => cb::Constants {
                half_open_allowed: k.half_open_allowed + 1,
                ..k.clone()
            },
            _ => k.clone(),
        };
        cb::spec_next(&k, s, action)
    };
    let error = replay_breaker(extra_trial)
        .await
        .expect_err("an extra trial");
    assert!(error.starts_with("Acquire"), "{error}");
    let opens_early = |k: &cb::Constants, s: &cb::Vars, action: cb::Action| {
        let k = match action {
            cb::Action::Fail(_) => cb::Constants {
                max_failures: 1,
                ..k.clone()
            },
            _ => k.clone(),
        };
        cb::spec_next(&k, s, action)
    };
    let error = replay_breaker(opens_early).await.expect_err("opens early");
    assert!(error.contains("Fail"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// The bulkhead.

/// A waker that records that it was woken: a waiter's wake is the real bulkhead handing it a
/// slot (the spec's `granted`).
#[derive(Default)]
struct Woken(AtomicBool);

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

type Acquiring<'a> =
    Pin<Box<dyn Future<Output = Result<BulkheadPermit<'a>, ResilienceError>> + 'a>>;

/// What a spec caller holds on the real bulkhead.
enum Caller<'a> {
    Idle,
    /// Holding its slot (released when dropped: `Finish`).
    Running {
        _permit: BulkheadPermit<'a>,
    },
    /// Its `acquire` future, pending, and the waker it was polled with.
    Queued(Acquiring<'a>, Arc<Woken>),
}

struct RealBulkhead<'a> {
    bulkhead: &'a Bulkhead,
    callers: Vec<Caller<'a>>,
    /// The queued callers in the order they queued (the spec's `waiting` is their not yet
    /// woken part).
    queue_order: Vec<usize>,
    accepted: u64,
    rejected: u64,
}

impl<'a> RealBulkhead<'a> {
    /// The spec's variables of the real bulkhead: `inFlight` and `queued` as `in_flight()` and
    /// `queued()` report them, `granted` the queued callers whose waker was woken.
    fn abstraction(&self) -> bh::Vars {
        assert_eq!(self.bulkhead.accepted(), self.accepted);
        assert_eq!(self.bulkhead.rejected(), self.rejected);
        let mut s = bh::Vars {
            in_flight: self.bulkhead.in_flight(),
            queued: self.bulkhead.queued(),
            running: 0,
            waiting: Vec::new(),
            granted: 0,
        };
        for (c, caller) in self.callers.iter().enumerate() {
            match caller {
                Caller::Idle => {}
                Caller::Running { .. } => s.running |= 1 << c,
                Caller::Queued(_, woken) if woken.0.load(Ordering::SeqCst) => {
                    s.granted |= 1 << c;
                }
                Caller::Queued(..) => {}
            }
        }
        s.waiting = self
            .queue_order
            .iter()
            .copied()
            .filter(|&c| s.granted & (1 << c) == 0)
            .collect();
        s
    }

    fn take(&mut self, action: bh::Action) -> Option<bh::Vars> {
        let c = action.caller();
        match action {
            bh::Action::Arrive(_) | bh::Action::Reject(_) => {
                if !matches!(self.callers[c], Caller::Idle) {
                    return None;
                }
                let mut acquiring: Acquiring<'a> = Box::pin(self.bulkhead.acquire());
                let woken = Arc::new(Woken::default());
                let waker = Waker::from(woken.clone());
                let arrive = matches!(action, bh::Action::Arrive(_));
                match acquiring.as_mut().poll(&mut Context::from_waker(&waker)) {
                    Poll::Ready(Ok(permit)) if arrive => {
                        self.accepted += 1;
                        self.callers[c] = Caller::Running { _permit: permit };
                    }
                    Poll::Pending if arrive => {
                        self.callers[c] = Caller::Queued(acquiring, woken);
                        self.queue_order.push(c);
                    }
                    Poll::Ready(Err(ResilienceError::BulkheadFull { .. })) if !arrive => {
                        self.rejected += 1;
                    }
                    _ => return None,
                }
            }
            bh::Action::Start(_) => {
                let Caller::Queued(acquiring, woken) = &mut self.callers[c] else {
                    return None;
                };
                let waker = Waker::from(woken.clone());
                match acquiring.as_mut().poll(&mut Context::from_waker(&waker)) {
                    Poll::Ready(Ok(permit)) => {
                        self.accepted += 1;
                        self.callers[c] = Caller::Running { _permit: permit };
                        self.queue_order.retain(|&x| x != c);
                    }
                    Poll::Pending => return None,
                    Poll::Ready(Err(error)) => panic!("a queued caller failed: {error}"),
                }
            }
            bh::Action::Finish(_) => {
                if !matches!(self.callers[c], Caller::Running { .. }) {
                    return None;
                }
                self.callers[c] = Caller::Idle;
            }
            bh::Action::Leave(_) => {
                if !matches!(self.callers[c], Caller::Queued(..)) {
                    return None;
                }
                self.callers[c] = Caller::Idle;
                self.queue_order.retain(|&x| x != c);
            }
        }
        Some(self.abstraction())
    }
}

#[test]
fn the_real_bulkhead_takes_every_spec_step_from_every_reachable_state() {
    let model = bh::BulkheadModel::spec();
    let k = model.k.clone();
    let config = BulkheadConfig {
        max_concurrent_calls: k.max_concurrent,
        max_queue_size: k.max_queue,
        // No `max_wait`: `Leave` is the caller dropping its `acquire` (a timeout is one way).
        max_wait: None,
    };
    let actions = bh::Action::all(&k);
    let paths = shortest_paths(&model);
    let (mut pairs, mut enabled, mut handed_over) = (0, 0, 0);
    for (target, init, path) in &paths {
        for &action in &actions {
            let bulkhead = Bulkhead::new("replay", config.clone()).expect("valid configuration");
            let mut real = RealBulkhead {
                bulkhead: &bulkhead,
                callers: (0..k.callers).map(|_| Caller::Idle).collect(),
                queue_order: Vec::new(),
                accepted: 0,
                rejected: 0,
            };
            let mut spec = init.clone();
            assert_eq!(real.abstraction(), spec);
            for &step in path {
                spec = bh::spec_next(&k, &spec, step).expect("a spec path");
                let taken = real.take(step);
                assert_eq!(taken.as_ref(), Some(&spec), "{step:?} along {path:?}");
            }
            assert_eq!(&spec, target);
            let by_spec = bh::spec_next(&k, &spec, action);
            let by_real = real.take(action);
            assert_eq!(
                by_real, by_spec,
                "{action:?} after {path:?}:\n  from {spec:?}"
            );
            pairs += 1;
            enabled += usize::from(by_spec.is_some());
            handed_over += usize::from(
                by_spec
                    .as_ref()
                    .is_some_and(|next| next.granted.count_ones() > spec.granted.count_ones()),
            );
        }
    }
    eprintln!(
        "Bulkhead replay: {} states, {pairs} pairs ({enabled} enabled, {handed_over} hand-overs)",
        paths.len()
    );
    let spec = model
        .clone()
        .checker()
        .spawn_bfs()
        .join()
        .unique_state_count();
    assert_eq!(
        paths.len(),
        spec,
        "the replay visits every state the checker does"
    );
    assert!(handed_over > 0);
}

/// The same replay is not vacuous: a spec whose released slot goes to the newest waiter (the
/// LIFO mutation of `verification/src/bulkhead.rs`) is refused by the real bulkhead.
#[test]
fn the_real_bulkhead_refuses_a_lifo_hand_over() {
    let k = bh::Constants::from_cfg();
    let bulkhead = Bulkhead::new(
        "replay",
        BulkheadConfig {
            max_concurrent_calls: k.max_concurrent,
            max_queue_size: k.max_queue,
            max_wait: None,
        },
    )
    .expect("valid configuration");
    let mut real = RealBulkhead {
        bulkhead: &bulkhead,
        callers: (0..k.callers).map(|_| Caller::Idle).collect(),
        queue_order: Vec::new(),
        accepted: 0,
        rejected: 0,
    };
    let mut spec = bh::init(&k).remove(0);
    // Fill the slots and the queue, then finish one runner.
    let fill = k.max_concurrent + k.max_queue;
    for c in 0..fill {
        spec = bh::arrive(&k, &spec, c).expect("room");
        assert_eq!(real.take(bh::Action::Arrive(c)).as_ref(), Some(&spec));
    }
    let lifo = bh::finish_serving(&spec, 0, bh::Serve::Newest).expect("running");
    let real_next = real.take(bh::Action::Finish(0)).expect("running");
    assert_ne!(
        real_next, lifo,
        "the real bulkhead served the newest waiter"
    );
    assert_eq!(Some(real_next), bh::finish(&k, &spec, 0));
}

/// A breaker whose deadline is not where the spec's `Tick` puts it is caught: the clock moved
/// one microsecond short of the reset timeout leaves the breaker rejecting.
#[tokio::test(start_paused = true)]
async fn the_real_breaker_rejects_until_its_reset_timeout_and_admits_at_it() {
    let k = cb::Constants::from_cfg();
    let origin = Instant::now();
    let breaker = CircuitBreaker::new("replay", breaker_config(&k, cb::Mode::Consecutive))
        .expect("valid configuration");
    let mut real = RealBreaker::new(&breaker, origin, &k, cb::Mode::Consecutive);
    for _ in 0..k.max_failures {
        assert!(real.take(cb::Action::Acquire(0)).await.is_some());
        assert!(real.take(cb::Action::Fail(0)).await.is_some());
    }
    let open = real.abstraction();
    assert_eq!(open.phase, cb::Phase::Open);
    tokio::time::advance(RESET_TIMEOUT - Duration::from_micros(1)).await;
    assert_eq!(real.abstraction(), open);
    assert!(real.take(cb::Action::Acquire(0)).await.is_none());
    assert!(real.take(cb::Action::Reject(0)).await.is_some());
    tokio::time::advance(Duration::from_micros(1)).await;
    assert!(real.abstraction().elapsed);
    let admitted = real.take(cb::Action::Acquire(0)).await.expect("a trial");
    assert_eq!(admitted.phase, cb::Phase::HalfOpen);
}

/// What the replay's shortest paths cannot see (the spec abstracts the rate window away, so a
/// path through earlier outcomes of the same phase reaches the same spec state as a shorter
/// one): the real window counts the successes between failures. With a window of two at a
/// rate of 1, failure, success, failure does not trip; a second failure in a row does.
#[tokio::test(start_paused = true)]
async fn the_real_rate_window_counts_the_successes_between_failures() {
    let k = cb::Constants::from_cfg();
    let breaker = CircuitBreaker::new("replay", breaker_config(&k, cb::Mode::Rate))
        .expect("valid configuration");
    for failed in [true, false, true] {
        let permit = breaker.admit().expect("Closed admits");
        if failed {
            permit.failure();
        } else {
            permit.success();
        }
        assert_eq!(breaker.state(), CircuitState::Closed);
    }
    breaker.admit().expect("Closed admits").failure();
    assert_eq!(breaker.state(), CircuitState::Open);
}

/// What the `.cfg`'s `MaxEpoch` keeps out of the replay: a trial held while the word's 14-bit
/// epoch wraps (16,384 transitions) back to its own, in a newer half-open phase, does not free
/// that phase's trial slot when dropped.
#[tokio::test(start_paused = true)]
async fn a_trial_held_across_an_epoch_wrap_does_not_free_a_newer_trial_slot() {
    const PERIOD: u32 = 1 << resilience_runtime::circuit_breaker::state::EPOCH_BITS;
    let breaker = CircuitBreaker::new(
        "replay",
        CircuitBreakerConfig {
            max_failures: 1,
            reset_timeout: RESET_TIMEOUT,
            half_open_allowed_calls: 1,
            ..CircuitBreakerConfig::DEFAULT
        },
    )
    .expect("valid configuration");
    let half_open = |breaker: &CircuitBreaker| {
        breaker.admit().expect("Closed admits").failure();
        assert_eq!(breaker.state(), CircuitState::Open);
    };
    half_open(&breaker);
    tokio::time::advance(RESET_TIMEOUT).await;
    let old = breaker.admit().expect("a trial");
    assert!(old.is_trial());
    let epoch = breaker.snapshot().epoch;
    // Reset (one transition each) until three transitions short of a full period, then open,
    // half-open and admit: the new trial's phase has the old one's epoch.
    for _ in 0..PERIOD - 2 {
        breaker.reset();
    }
    half_open(&breaker);
    tokio::time::advance(RESET_TIMEOUT).await;
    let new = breaker.admit().expect("a trial");
    assert_eq!(breaker.snapshot().epoch, epoch);
    let full = breaker.snapshot();
    drop(old);
    assert_eq!(
        breaker.snapshot(),
        full,
        "the old trial freed the new one's slot"
    );
    assert!(breaker.admit().is_none(), "the only trial slot is taken");
    drop(new);
    assert!(
        breaker.admit().is_some(),
        "the new trial's own cancellation frees it"
    );
}
