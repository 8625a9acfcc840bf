//! `specs/ServiceDiscovery.tla` model-checked, mutants of it caught, and a real
//! `ServiceDiscovery` driven along paths of the spec.

use std::collections::BTreeSet;
use std::time::Instant;

use resilience_verification::discovery::{
    INVARIANTS, Mutation, ServiceDiscoveryModel, check_liveness, check_refinement, fairness,
};
use stateright::{Checker, HasDiscoveries, Model};

#[test]
fn spec_invariants_hold_and_every_interesting_state_is_reachable() {
    let started = Instant::now();
    // Symmetry reduction over `Instances` (the .cfg's SYMMETRY) needs stateright's DFS.
    let checker = ServiceDiscoveryModel::spec()
        .checker()
        .symmetry()
        .spawn_dfs()
        .join();
    checker.assert_properties();
    eprintln!(
        "ServiceDiscovery spec: {} states ({} generated) in {:?}",
        checker.unique_state_count(),
        checker.state_count(),
        started.elapsed()
    );
    assert!(checker.unique_state_count() > 10_000);
}

#[test]
fn every_invariant_of_the_spec_is_a_checked_property() {
    let names: Vec<&str> = ServiceDiscoveryModel::spec()
        .properties()
        .iter()
        .map(|p| p.name)
        .collect();
    for invariant in INVARIANTS {
        assert!(names.contains(&invariant), "{invariant} is not checked");
    }
}

#[test]
fn checker_catches_an_ejection_without_the_max_percent_check() {
    let checker = ServiceDiscoveryModel::mutant(Mutation::EjectionWithoutLimit)
        .checker()
        .symmetry()
        .finish_when(HasDiscoveries::AnyOf(BTreeSet::from(["EjectionBound"])))
        .spawn_dfs()
        .join();
    assert!(checker.discovery("EjectionBound").is_some());
}

#[test]
fn checker_catches_the_old_ejection_cap_ejecting_the_last_healthy_instance() {
    let checker = ServiceDiscoveryModel::mutant(Mutation::OldEjectionCap)
        .checker()
        .symmetry()
        .finish_when(HasDiscoveries::AnyOf(BTreeSet::from([
            "NeverEjectsTheLastHealthy",
        ])))
        .spawn_dfs()
        .join();
    assert!(checker.discovery("NeverEjectsTheLastHealthy").is_some());
}

#[test]
fn checker_catches_a_pick_that_ignores_ejection() {
    let checker = ServiceDiscoveryModel::mutant(Mutation::PickIgnoringEjection)
        .checker()
        .symmetry()
        .finish_when(HasDiscoveries::AnyOf(BTreeSet::from(["PickedEligible"])))
        .spawn_dfs()
        .join();
    assert!(checker.discovery("PickedEligible").is_some());
}

#[test]
fn checker_catches_a_pick_that_ignores_the_environment() {
    let checker = ServiceDiscoveryModel::mutant(Mutation::PickIgnoringEnv)
        .checker()
        .symmetry()
        .finish_when(HasDiscoveries::AnyOf(BTreeSet::from([
            "EnvironmentsNeverMix",
        ])))
        .spawn_dfs()
        .join();
    assert!(checker.discovery("EnvironmentsNeverMix").is_some());
}

#[test]
fn a_real_service_discovery_shows_what_the_spec_allows_along_spec_paths() {
    let started = Instant::now();
    let report = check_refinement(400, 40, None).unwrap_or_else(|mismatch| panic!("{mismatch}"));
    eprintln!(
        "ServiceDiscovery refinement: {report:?} in {:?}",
        started.elapsed()
    );
    assert!(report.ejections > 0, "{report:?}");
    assert!(report.states > 1_000, "{report:?}");
}

#[test]
fn refinement_catches_a_pick_of_another_environment() {
    let mismatch = check_refinement(400, 40, Some(Mutation::PickIgnoringEnv))
        .expect_err("the real discovery never picks another environment");
    assert!(mismatch.contains("Pick"), "{mismatch}");
}

#[test]
fn an_ejected_instance_is_eventually_readmitted_or_removed_under_fairness() {
    let started = Instant::now();
    let model = ServiceDiscoveryModel::spec();
    let report = check_liveness(&model, &fairness(&model.k))
        .unwrap_or_else(|violation| panic!("{violation}"));
    eprintln!(
        "ServiceDiscovery liveness (spec): {report:?} in {:?}",
        started.elapsed()
    );
    assert!(report.pending > 0, "{report:?}");
}

#[test]
fn without_fairness_an_ejection_may_last_forever() {
    // Nothing but the timer ends an ejection: without `WF(Readmit)` it may never fire.
    let violation = check_liveness(&ServiceDiscoveryModel::spec(), &[])
        .expect_err("an ejected instance can stay ejected while nothing happens");
    assert!(violation.starts_with("EjectionEnds"), "{violation}");
}

#[test]
fn liveness_catches_a_readmission_that_gives_up_while_calls_are_in_flight() {
    let mutant = ServiceDiscoveryModel::mutant(Mutation::ReadmitOnlyWhenIdle);
    // Readmitting only while no call is in flight breaks no safety property ...
    mutant
        .clone()
        .checker()
        .symmetry()
        .spawn_dfs()
        .join()
        .assert_properties();
    // ... but calls to the other instances can keep an ejected one out for ever.
    let violation = check_liveness(&mutant, &fairness(&mutant.k))
        .expect_err("busy calls starve the readmission");
    assert!(violation.starts_with("EjectionEnds"), "{violation}");
}
