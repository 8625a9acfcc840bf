//! loom: concurrent admissions, outcomes and cancellations on one breaker keep the state word
//! within `specs/CircuitBreaker.tla`'s invariants, in every interleaving. Run with
//! `RUSTFLAGS="--cfg loom -C debug-assertions" cargo test -p resilience-runtime --release --test
//! loom`. Every transition also goes through the breaker's monitor (`circuit_breaker/monitor.rs`).
#![cfg(loom)]

use std::time::Duration;

use loom::sync::Arc;
use loom::thread;
use resilience_runtime::circuit_breaker::state::Phase;
use resilience_runtime::{CircuitBreaker, CircuitBreakerConfig, CircuitState};

fn breaker(max_failures: u32, half_open_allowed_calls: u32) -> CircuitBreaker {
    CircuitBreaker::new(
        "loom",
        CircuitBreakerConfig {
            max_failures,
            reset_timeout: Duration::from_nanos(1),
            half_open_allowed_calls,
            ..CircuitBreakerConfig::DEFAULT
        },
    )
    .expect("valid configuration")
}

/// Opens `breaker` and lets its reset timeout pass (outside the model's threads).
fn open_and_elapse(breaker: &CircuitBreaker) {
    breaker.try_acquire().expect("closed").failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    std::thread::sleep(Duration::from_micros(2));
}

#[test]
fn concurrent_failures_open_the_breaker_exactly_once() {
    loom::model(|| {
        let breaker = Arc::new(breaker(2, 1));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let breaker = breaker.clone();
                thread::spawn(move || {
                    if let Ok(permit) = breaker.try_acquire() {
                        permit.failure();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(breaker.state(), CircuitState::Open);
        assert_eq!(breaker.metrics().opened, 1);
    });
}

#[test]
fn concurrent_half_open_admissions_never_exceed_the_trial_slots() {
    loom::model(|| {
        let breaker = Arc::new(breaker(1, 1));
        open_and_elapse(&breaker);
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let breaker = breaker.clone();
                thread::spawn(move || {
                    // An admitted permit is dropped (cancelled) at once.
                    breaker.try_acquire().map(|permit| permit.is_trial()).ok()
                })
            })
            .collect();
        let trials = threads
            .into_iter()
            .filter_map(|thread| thread.join().unwrap())
            .filter(|&trial| trial)
            .count();
        assert!(trials >= 1, "the first caller becomes the trial");
        match breaker.snapshot().phase {
            Phase::HalfOpen {
                admitted,
                succeeded,
            } => assert_eq!(
                (admitted, succeeded),
                (0, 0),
                "cancelled trials free their slots"
            ),
            phase => panic!("expected HalfOpen, got {phase:?}"),
        }
    });
}

#[test]
fn a_cancelled_trial_and_a_successful_one_keep_the_slots_accounted() {
    loom::model(|| {
        let breaker = Arc::new(breaker(1, 2));
        open_and_elapse(&breaker);
        let cancelling = {
            let breaker = breaker.clone();
            thread::spawn(move || drop(breaker.try_acquire()))
        };
        let succeeding = {
            let breaker = breaker.clone();
            thread::spawn(move || breaker.try_acquire().expect("a free trial slot").success())
        };
        cancelling.join().unwrap();
        succeeding.join().unwrap();
        match breaker.snapshot().phase {
            Phase::HalfOpen {
                admitted,
                succeeded,
            } => assert_eq!((admitted, succeeded), (1, 1)),
            phase => panic!("expected HalfOpen, got {phase:?}"),
        }
    });
}

/// Rate mode: two failures recorded at once into a window of two trip it exactly once; the
/// transition swaps in a fresh window for the Open epoch, and an outcome racing it is dropped
/// (the monitor checks that a dropped outcome of another epoch is one `step` ignores).
#[test]
fn concurrent_rate_mode_failures_trip_the_window_once() {
    loom::model(|| {
        let breaker = Arc::new(
            CircuitBreaker::new(
                "loom-rate",
                CircuitBreakerConfig {
                    failure_rate: Some(0.5),
                    window: 2,
                    min_calls: Some(2),
                    reset_timeout: Duration::from_secs(60),
                    ..CircuitBreakerConfig::DEFAULT
                },
            )
            .expect("valid configuration"),
        );
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let breaker = breaker.clone();
                thread::spawn(move || {
                    if let Ok(permit) = breaker.try_acquire() {
                        permit.failure();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(breaker.state(), CircuitState::Open);
        assert_eq!(breaker.metrics().opened, 1);
    });
}
