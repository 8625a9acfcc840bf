//! `specs/Retry.tla` model-checked, and `RetryConfig::decide` checked against it.

use std::time::Instant;

use resilience_verification::retry::{RetryModel, Semantics, check_refinement};
use stateright::{Checker, Model};

#[test]
fn spec_invariants_hold_and_every_interesting_state_is_reachable() {
    let started = Instant::now();
    let checker = RetryModel::new(Semantics::Spec)
        .checker()
        .spawn_bfs()
        .join();
    checker.assert_properties();
    eprintln!(
        "Retry spec: {} states ({} generated) in {:?}",
        checker.unique_state_count(),
        checker.state_count(),
        started.elapsed()
    );
    assert!(checker.unique_state_count() > 100);
}

#[test]
fn runtime_decide_satisfies_every_spec_invariant() {
    let checker = RetryModel::new(Semantics::Implementation)
        .checker()
        .spawn_bfs()
        .join();
    checker.assert_properties();
    let spec = RetryModel::new(Semantics::Spec)
        .checker()
        .spawn_bfs()
        .join();
    assert_eq!(checker.unique_state_count(), spec.unique_state_count());
}

#[test]
fn runtime_decide_refines_the_spec_action_by_action() {
    let started = Instant::now();
    let report = check_refinement().unwrap_or_else(|mismatch| panic!("{mismatch}"));
    eprintln!("Retry refinement: {report:?} in {:?}", started.elapsed());
    assert!(report.enabled > report.states, "{report:?}");
}
