//! `specs/CircuitBreaker.tla` model-checked, and the runtime's `step` checked against it.

use std::time::Instant;

use resilience_runtime::circuit_breaker::state::{
    Decision, Event, Limits, Micros, Phase, State, step,
};
use resilience_verification::circuit_breaker::{CircuitBreakerModel, INVARIANTS, check_refinement};
use stateright::{Checker, Model};

#[test]
fn spec_invariants_hold_and_every_interesting_state_is_reachable() {
    let started = Instant::now();
    let checker = CircuitBreakerModel::spec().checker().spawn_bfs().join();
    checker.assert_properties();
    eprintln!(
        "CircuitBreaker spec: {} states ({} generated) in {:?}",
        checker.unique_state_count(),
        checker.state_count(),
        started.elapsed()
    );
    assert!(checker.unique_state_count() > 1_000);
}

#[test]
fn runtime_step_satisfies_every_spec_invariant() {
    let started = Instant::now();
    let checker = CircuitBreakerModel::implementation(step)
        .checker()
        .spawn_bfs()
        .join();
    checker.assert_properties();
    let spec = CircuitBreakerModel::spec().checker().spawn_bfs().join();
    assert_eq!(checker.unique_state_count(), spec.unique_state_count());
    eprintln!(
        "CircuitBreaker implementation: {} states in {:?}",
        checker.unique_state_count(),
        started.elapsed()
    );
}

#[test]
fn runtime_step_refines_the_spec_action_by_action() {
    let started = Instant::now();
    let report = check_refinement(step).unwrap_or_else(|mismatch| panic!("{mismatch}"));
    eprintln!(
        "CircuitBreaker refinement: {report:?} in {:?}",
        started.elapsed()
    );
    assert!(report.enabled > report.states, "{report:?}");
}

/// `step` with one trial too many in HalfOpen.
fn step_with_an_extra_trial(
    state: State,
    event: Event,
    limits: &Limits,
    now: Micros,
) -> (State, Decision) {
    if let (
        Phase::HalfOpen {
            admitted,
            succeeded,
        },
        Event::Acquire,
    ) = (state.phase, event)
        && admitted == limits.half_open_allowed_calls
    {
        let next = State {
            epoch: state.epoch,
            phase: Phase::HalfOpen {
                admitted: admitted + 1,
                succeeded,
            },
        };
        return (
            next,
            Decision::Admitted {
                epoch: state.epoch,
                trial: true,
            },
        );
    }
    step(state, event, limits, now)
}

/// `step` that forgets to free the slot of a cancelled trial.
fn step_leaking_cancelled_trials(
    state: State,
    event: Event,
    limits: &Limits,
    now: Micros,
) -> (State, Decision) {
    match event {
        Event::Cancel { .. } => (state, Decision::Recorded),
        _ => step(state, event, limits, now),
    }
}

#[test]
fn checker_catches_one_extra_half_open_trial() {
    let checker = CircuitBreakerModel::implementation(step_with_an_extra_trial)
        .checker()
        .spawn_bfs()
        .join();
    let path = checker
        .discovery("HalfOpenBound")
        .expect("the checker must report the extra trial");
    eprintln!("counterexample: {:?}", path.into_actions());
    assert!(check_refinement(step_with_an_extra_trial).is_err());
}

#[test]
fn checker_catches_a_trial_slot_not_released_on_cancel() {
    let checker = CircuitBreakerModel::implementation(step_leaking_cancelled_trials)
        .checker()
        .spawn_bfs()
        .join();
    let path = checker
        .discovery("TrialsAccounted")
        .expect("the checker must report the leaked slot");
    eprintln!("counterexample: {:?}", path.into_actions());
    assert!(check_refinement(step_leaking_cancelled_trials).is_err());
}

#[test]
fn every_spec_invariant_is_a_checked_property() {
    let names: Vec<_> = CircuitBreakerModel::spec()
        .properties()
        .iter()
        .map(|p| p.name)
        .collect();
    for invariant in INVARIANTS {
        assert!(names.contains(&invariant), "{invariant} is not checked");
    }
}

#[test]
fn an_open_breaker_eventually_probes_unless_forced() {
    use resilience_verification::circuit_breaker::{Constants, check_liveness, fairness};
    let started = Instant::now();
    let k = Constants::from_cfg();
    let report = check_liveness(&CircuitBreakerModel::spec(), &fairness(&k))
        .unwrap_or_else(|violation| panic!("{violation}"));
    eprintln!(
        "CircuitBreaker liveness (spec): {report:?} in {:?}",
        started.elapsed()
    );
    assert!(report.pending > 0, "{report:?}");
    check_liveness(&CircuitBreakerModel::implementation(step), &fairness(&k))
        .unwrap_or_else(|violation| panic!("{violation}"));
    // Without time passing (no WF(Tick)) an Open breaker may wait forever.
    let no_tick: Vec<_> = fairness(&k).into_iter().skip(1).collect();
    assert!(check_liveness(&CircuitBreakerModel::spec(), &no_tick).is_err());
}

/// `step` whose Open phase never half-opens, whatever the time: every invariant holds.
fn step_never_half_opening(
    state: State,
    event: Event,
    limits: &Limits,
    now: Micros,
) -> (State, Decision) {
    match (state.phase, event) {
        (Phase::Open { .. }, Event::Acquire) => (state, Decision::Rejected),
        _ => step(state, event, limits, now),
    }
}

#[test]
fn liveness_catches_a_breaker_that_never_half_opens() {
    use resilience_verification::circuit_breaker::{Constants, check_liveness, fairness};
    let stuck = CircuitBreakerModel::implementation(step_never_half_opening);
    let checker = stuck.clone().checker().spawn_bfs().join();
    for invariant in INVARIANTS {
        assert!(checker.discovery(invariant).is_none(), "{invariant}");
    }
    let violation =
        check_liveness(&stuck, &fairness(&Constants::from_cfg())).expect_err("Open forever");
    assert!(violation.starts_with("OpenEventuallyProbes"), "{violation}");
}

/// The rules of `CircuitBreaker.tla` that the model check cannot reach with its small
/// constants, on a grid of concrete states near the edges: epochs at and around the 14-bit
/// wrap, deadlines and `now` near the end of the clock, counts at their bounds, every event with
/// a current, a previous and a next epoch. After each `step`: the invariant still holds, the
/// epoch moves by exactly one (modulo 2^14) on a phase change or `Reset`/`ForceOpen` and not
/// otherwise, a stale outcome changes nothing, an Open deadline is never earlier than
/// `now + reset_timeout` (nor after the word's rounding), and the word round-trips.
#[test]
fn step_keeps_the_spec_rules_near_the_epoch_wrap_and_the_clock_horizon() {
    const WRAP: u32 = 1 << resilience_runtime::circuit_breaker::state::EPOCH_BITS;
    use resilience_runtime::circuit_breaker::state::FOREVER;
    let horizon = [
        0,
        1,
        9_999,
        10_000,
        1 << 47,
        (1 << 48) + 5,
        FOREVER - 1,
        FOREVER,
    ];
    let mut checked = 0;
    for max_failures in [Some(1), Some(3), None] {
        for reset_timeout in [0, 10_000, FOREVER] {
            let limits = Limits {
                max_failures,
                reset_timeout,
                half_open_allowed_calls: 2,
            };
            for epoch in [0u16, 1, (WRAP - 2) as u16, (WRAP - 1) as u16] {
                let mut phases = vec![
                    Phase::HalfOpen {
                        admitted: 0,
                        succeeded: 0,
                    },
                    Phase::HalfOpen {
                        admitted: 2,
                        succeeded: 1,
                    },
                    Phase::HalfOpen {
                        admitted: 1,
                        succeeded: 1,
                    },
                ];
                phases.extend(horizon.map(|until| Phase::Open { until }));
                phases.extend((0..3).map(|failures| Phase::Closed { failures }));
                let next_epoch = ((u32::from(epoch) + 1) % WRAP) as u16;
                let previous_epoch = ((u32::from(epoch) + WRAP - 1) % WRAP) as u16;
                for phase in phases {
                    let state = State { epoch, phase };
                    if !state.invariant_holds(&limits) {
                        continue;
                    }
                    for e in [epoch, previous_epoch, next_epoch] {
                        let events = [
                            Event::Acquire,
                            Event::Success { epoch: e },
                            Event::Failure { epoch: e },
                            Event::Trip { epoch: e },
                            Event::Cancel { epoch: e },
                            Event::Reset,
                            Event::ForceOpen,
                        ];
                        for event in events {
                            // A current outcome in HalfOpen is a trial's: one must be
                            // outstanding (`TrialsAccounted`), or the input is no spec state.
                            let outcome =
                                !matches!(event, Event::Acquire | Event::Reset | Event::ForceOpen);
                            if let Phase::HalfOpen {
                                admitted,
                                succeeded,
                            } = phase
                                && outcome
                                && e == epoch
                                && admitted <= succeeded
                            {
                                continue;
                            }
                            for now in horizon {
                                let (next, _) = step(state, event, &limits, now);
                                checked += 1;
                                let context = format!("{state:?} --{event:?}--> {next:?} at {now}");
                                assert!(next.invariant_holds(&limits), "{context}");
                                let changed_phase = std::mem::discriminant(&next.phase)
                                    != std::mem::discriminant(&state.phase);
                                let transition = changed_phase
                                    || matches!(event, Event::Reset | Event::ForceOpen);
                                let expected = if transition { next_epoch } else { epoch };
                                assert_eq!(next.epoch, expected, "{context}");
                                let stale = match event {
                                    Event::Success { epoch: e }
                                    | Event::Failure { epoch: e }
                                    | Event::Trip { epoch: e }
                                    | Event::Cancel { epoch: e } => e != epoch,
                                    _ => false,
                                };
                                if stale {
                                    assert_eq!(next, state, "a stale outcome: {context}");
                                }
                                if let Phase::Open { until } = next.phase
                                    && state.phase != next.phase
                                    && event != Event::ForceOpen
                                {
                                    assert!(
                                        until >= now.saturating_add(reset_timeout),
                                        "opened early: {context}"
                                    );
                                }
                                if let (Phase::Open { until }, Phase::HalfOpen { .. }) =
                                    (state.phase, next.phase)
                                {
                                    assert!(
                                        event == Event::Acquire && until != FOREVER && now >= until,
                                        "{context}"
                                    );
                                }
                                let decoded = State::decode(next.encode());
                                assert_eq!(decoded.epoch, next.epoch, "{context}");
                                match (decoded.phase, next.phase) {
                                    (Phase::Open { until: stored }, Phase::Open { until }) => {
                                        assert!(stored >= until, "the word opens early: {context}")
                                    }
                                    (stored, phase) => assert_eq!(stored, phase, "{context}"),
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 10_000, "{checked}");
}
