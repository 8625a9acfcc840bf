//! `specs/Bulkhead.tla` model-checked, and the runtime's `step` checked against it.

use std::time::Instant;

use resilience_runtime::bulkhead::state::{Decision, Event, Limits, State, step};
use resilience_verification::bulkhead::{BulkheadModel, check_refinement};
use stateright::{Checker, Model};

#[test]
fn spec_invariants_hold_and_every_interesting_state_is_reachable() {
    let started = Instant::now();
    let checker = BulkheadModel::spec().checker().spawn_bfs().join();
    checker.assert_properties();
    eprintln!(
        "Bulkhead spec: {} states ({} generated) in {:?}",
        checker.unique_state_count(),
        checker.state_count(),
        started.elapsed()
    );
    assert!(checker.unique_state_count() > 100);
}

#[test]
fn runtime_step_satisfies_every_spec_invariant() {
    let checker = BulkheadModel::implementation(step)
        .checker()
        .spawn_bfs()
        .join();
    checker.assert_properties();
    let spec = BulkheadModel::spec().checker().spawn_bfs().join();
    assert_eq!(checker.unique_state_count(), spec.unique_state_count());
}

#[test]
fn runtime_step_refines_the_spec_action_by_action() {
    let started = Instant::now();
    let report = check_refinement(step).unwrap_or_else(|mismatch| panic!("{mismatch}"));
    eprintln!("Bulkhead refinement: {report:?} in {:?}", started.elapsed());
    assert!(report.enabled > report.states, "{report:?}");
}

/// `step` that keeps the permit of a body that finished or was cancelled.
fn step_keeping_released_permits(state: State, event: Event, limits: &Limits) -> (State, Decision) {
    match event {
        Event::Finish => (state, Decision::Done),
        _ => step(state, event, limits),
    }
}

/// `step` that keeps the queue place of a caller that was dropped or timed out.
fn step_keeping_queue_places(state: State, event: Event, limits: &Limits) -> (State, Decision) {
    match event {
        Event::Leave => (state, Decision::Done),
        _ => step(state, event, limits),
    }
}

/// `step` that lets a newcomer take a free slot ahead of the queue.
fn step_letting_newcomers_overtake(
    state: State,
    event: Event,
    limits: &Limits,
) -> (State, Decision) {
    match event {
        Event::Arrive if state.in_flight < limits.max_concurrent_calls => (
            State {
                in_flight: state.in_flight + 1,
                ..state
            },
            Decision::Run,
        ),
        _ => step(state, event, limits),
    }
}

#[test]
fn checker_catches_a_permit_not_released_on_cancel() {
    let checker = BulkheadModel::implementation(step_keeping_released_permits)
        .checker()
        .spawn_bfs()
        .join();
    assert!(checker.discovery("PermitsAccounted").is_some());
    assert!(check_refinement(step_keeping_released_permits).is_err());
}

#[test]
fn checker_catches_a_queue_place_not_released_on_cancel() {
    let checker = BulkheadModel::implementation(step_keeping_queue_places)
        .checker()
        .spawn_bfs()
        .join();
    assert!(checker.discovery("QueueAccounted").is_some());
    assert!(check_refinement(step_keeping_queue_places).is_err());
}

#[test]
fn refinement_catches_a_newcomer_overtaking_the_queue() {
    let mismatch = check_refinement(step_letting_newcomers_overtake)
        .expect_err("overtaking is not a spec step");
    assert!(mismatch.starts_with("Arrive"), "{mismatch}");
}
