//! `specs/Bulkhead.tla` model-checked, and the runtime's `step` checked against it.

use std::time::Instant;

use resilience_runtime::bulkhead::state::{Decision, Event, Limits, State, step};
use resilience_verification::bulkhead::{
    BulkheadModel, Constants, check_liveness, check_refinement, fairness,
};
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
        Event::Leave { granted: false } => (state, Decision::Done),
        _ => step(state, event, limits),
    }
}

/// `step` whose release frees the slot even while callers wait (no hand-over): the next
/// newcomer would take it ahead of the queue.
fn step_freeing_a_slot_while_callers_wait(
    state: State,
    event: Event,
    limits: &Limits,
) -> (State, Decision) {
    match event {
        Event::Finish if state.in_flight > state.granted() => (
            State {
                in_flight: state.in_flight - 1,
                ..state
            },
            Decision::Done,
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
fn checker_and_refinement_catch_a_slot_freed_while_callers_wait() {
    let checker = BulkheadModel::implementation(step_freeing_a_slot_while_callers_wait)
        .checker()
        .spawn_bfs()
        .join();
    assert!(checker.discovery("NoFreeSlotWhileWaiting").is_some());
    let mismatch = check_refinement(step_freeing_a_slot_while_callers_wait)
        .expect_err("freeing a slot while callers wait is not a spec step");
    assert!(mismatch.starts_with("Finish"), "{mismatch}");
}

#[test]
fn a_queued_caller_eventually_runs_or_leaves_under_fairness() {
    let started = Instant::now();
    let k = Constants::from_cfg();
    let report = check_liveness(&BulkheadModel::spec(), &fairness(&k))
        .unwrap_or_else(|violation| panic!("{violation}"));
    eprintln!(
        "Bulkhead liveness (spec): {report:?} in {:?}",
        started.elapsed()
    );
    assert!(report.pending > 0, "{report:?}");
    let report = check_liveness(&BulkheadModel::implementation(step), &fairness(&k))
        .unwrap_or_else(|violation| panic!("{violation}"));
    eprintln!("Bulkhead liveness (step): {report:?}");
}

#[test]
fn without_fairness_a_queued_caller_may_wait_forever() {
    // A body that never finishes keeps its slot: the bulkhead cannot help that.
    assert!(check_liveness(&BulkheadModel::spec(), &[]).is_err());
}

#[test]
fn liveness_catches_a_lifo_hand_over_that_every_invariant_allows() {
    let lifo = BulkheadModel::newest_served_first();
    // Serving the newest waiter first breaks no safety property ...
    lifo.clone()
        .checker()
        .spawn_bfs()
        .join()
        .assert_properties();
    // ... but the oldest can be overtaken forever.
    let violation =
        check_liveness(&lifo, &fairness(&lifo.k)).expect_err("LIFO starves the oldest waiter");
    assert!(
        violation.starts_with("QueuedEventuallyServed"),
        "{violation}"
    );
}
