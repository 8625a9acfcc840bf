//! `specs/Pipeline.tla` model-checked (safety and liveness), and mutations of the composition
//! caught.

use std::time::Instant;

use resilience_verification::pipeline::{
    INVARIANTS, Mutation, PipelineModel, check_liveness, fairness,
};
use stateright::{Checker, Model};

#[test]
fn spec_invariants_hold_and_every_interesting_state_is_reachable() {
    let started = Instant::now();
    let checker = PipelineModel::spec().checker().spawn_bfs().join();
    checker.assert_properties();
    eprintln!(
        "Pipeline spec: {} states ({} generated) in {:?}",
        checker.unique_state_count(),
        checker.state_count(),
        started.elapsed()
    );
    assert!(checker.unique_state_count() > 50);
}

#[test]
fn every_call_ends_under_fairness() {
    let report = check_liveness(&PipelineModel::spec(), &fairness())
        .unwrap_or_else(|violation| panic!("{violation}"));
    eprintln!("Pipeline liveness: {report:?}");
    assert!(report.pending > 0, "{report:?}");
}

#[test]
fn checker_catches_a_body_run_before_the_breaker_admits() {
    let checker = PipelineModel::mutated(Mutation::BodyBeforeAdmission)
        .checker()
        .spawn_bfs()
        .join();
    assert!(checker.discovery("RejectedRunsNoBody").is_some());
}

#[test]
fn checker_catches_a_slot_kept_during_the_backoff() {
    let checker = PipelineModel::mutated(Mutation::SlotKeptDuringBackoff)
        .checker()
        .spawn_bfs()
        .join();
    assert!(checker.discovery("NothingHeldBetweenAttempts").is_some());
}

#[test]
fn liveness_catches_a_backoff_that_never_ends() {
    let uncounted = PipelineModel::mutated(Mutation::BackoffNeverEnds);
    let checker = uncounted.clone().checker().spawn_bfs().join();
    for invariant in INVARIANTS {
        assert!(checker.discovery(invariant).is_none(), "{invariant}");
    }
    let violation = check_liveness(&uncounted, &fairness()).expect_err("stuck in the backoff");
    assert!(violation.starts_with("PipelineEnds"), "{violation}");
}
