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

#[test]
fn a_retrying_call_eventually_ends_under_fairness() {
    use resilience_verification::retry::{Semantics, check_liveness, fairness};
    let started = std::time::Instant::now();
    for semantics in [Semantics::Spec, Semantics::Implementation] {
        let report = check_liveness(&RetryModel::new(semantics), &fairness())
            .unwrap_or_else(|violation| panic!("{violation}"));
        eprintln!("Retry liveness: {report:?} in {:?}", started.elapsed());
        assert!(report.pending > 0, "{report:?}");
    }
}

#[test]
fn liveness_catches_a_call_left_hanging_after_a_non_retryable_error() {
    use resilience_verification::retry::{Semantics, check_liveness, fairness};
    let hanging = RetryModel::new(Semantics::GiveUpOnlyWhenExhausted);
    // Every invariant still holds: nothing wrong is retried ...
    let checker = hanging.clone().checker().spawn_bfs().join();
    for invariant in [
        "TypeOK",
        "AttemptBound",
        "NoAttemptAfterMaxDuration",
        "DelayWithinBounds",
        "OnlyRetryableRetried",
        "GaveUpOnLastError",
    ] {
        assert!(checker.discovery(invariant).is_none(), "{invariant}");
    }
    // ... but the call never ends.
    let violation =
        check_liveness(&hanging, &fairness()).expect_err("a Deciding state with no way out");
    assert!(violation.starts_with("CallEnds"), "{violation}");
}
