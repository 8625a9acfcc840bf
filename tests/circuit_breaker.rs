//! The circuit breaker of docs/CONTRACT.md §2.1, driven through the pipeline, its permits and the facade.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use resilience::{Bulkhead, CircuitBreaker, Failure, Pipeline};
use resilience::{
    BulkheadConfig, CircuitBreakerConfig, CircuitBreakerMetrics, CircuitState, ResilienceConfig,
    ResilienceError, ResilienceFacade, RetryConfig, TimeoutConfig,
};
use resilience_runtime::circuit_breaker::state::{Phase, State};
use tokio::sync::{Barrier, mpsc, oneshot, watch};
use tokio::time::advance;

/// The operation's own error in these tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpError {
    /// The dependency is down: a failure by default.
    Down,
    /// The caller asked for something that does not exist: not the dependency's fault.
    NotFound,
}

type Outcome = Result<(), Failure<OpError>>;

const RESET_TIMEOUT: Duration = Duration::from_secs(10);

fn consecutive(max_failures: u32, half_open_allowed_calls: u32) -> CircuitBreakerConfig {
    CircuitBreakerConfig {
        max_failures,
        reset_timeout: RESET_TIMEOUT,
        half_open_allowed_calls,
        ..CircuitBreakerConfig::default()
    }
}

fn rate_mode(failure_rate: f64, window: u32, min_calls: Option<u32>) -> CircuitBreakerConfig {
    CircuitBreakerConfig {
        failure_rate: Some(failure_rate),
        window,
        min_calls,
        reset_timeout: RESET_TIMEOUT,
        half_open_allowed_calls: 1,
        ..CircuitBreakerConfig::default()
    }
}

fn breaker(name: &str, config: CircuitBreakerConfig) -> CircuitBreaker {
    CircuitBreaker::new(name, config).expect("a valid configuration")
}

/// One call through a pipeline holding only `breaker`, with a `failure_if` that counts only
/// `OpError::Down`. Returns the outcome and whether the body ran.
async fn call(breaker: &CircuitBreaker, result: Result<(), OpError>) -> (Outcome, bool) {
    let ran = Cell::new(false);
    let pipeline = Pipeline {
        circuit_breaker: Some(breaker),
        ..Default::default()
    };
    let outcome = pipeline
        .run(
            |error: &OpError| *error == OpError::Down,
            |_: &OpError| false,
            || async {
                ran.set(true);
                result
            },
        )
        .await;
    (outcome, ran.get())
}

async fn succeeds(breaker: &CircuitBreaker) {
    let (outcome, ran) = call(breaker, Ok(())).await;
    assert!(ran, "the body of `{}` should have run", breaker.name());
    assert!(outcome.is_ok(), "expected Ok, got {outcome:?}");
}

async fn fails(breaker: &CircuitBreaker) {
    let (outcome, ran) = call(breaker, Err(OpError::Down)).await;
    assert!(ran, "the body of `{}` should have run", breaker.name());
    assert!(
        matches!(outcome, Err(Failure::Operation(OpError::Down))),
        "expected the operation's error, got {outcome:?}"
    );
}

fn assert_circuit_open(outcome: &Outcome, name: &str) {
    match outcome {
        Err(Failure::Rejected(ResilienceError::CircuitOpen { name: rejected_by })) => {
            assert_eq!(rejected_by, name);
        }
        other => panic!("expected CircuitOpen from `{name}`, got {other:?}"),
    }
}

async fn is_rejected(breaker: &CircuitBreaker) {
    let (outcome, ran) = call(breaker, Ok(())).await;
    assert!(
        !ran,
        "the body of `{}` ran while open: {outcome:?} {:?}",
        breaker.name(),
        breaker.snapshot()
    );
    assert_circuit_open(&outcome, breaker.name());
}

/// Trips a consecutive-mode breaker from Closed with `max_failures` failures.
async fn trip(breaker: &CircuitBreaker) {
    for _ in 0..breaker.config().max_failures {
        fails(breaker).await;
    }
    assert_eq!(breaker.state(), CircuitState::Open);
}

fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

fn half_open(admitted: u32, succeeded: u32) -> Phase {
    Phase::HalfOpen {
        admitted,
        succeeded,
    }
}

fn metrics(successful: u64, failed: u64, rejected: u64, opened: u64) -> CircuitBreakerMetrics {
    CircuitBreakerMetrics {
        successful,
        failed,
        rejected,
        opened,
    }
}

// ---------------------------------------------------------------------------------------------
// Consecutive-failure mode

#[tokio::test(start_paused = true)]
async fn opens_after_max_failures_consecutive_failures() {
    let breaker = breaker("cb-opens-after-max-failures", consecutive(3, 1));
    fails(&breaker).await;
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.snapshot().phase, Phase::Closed { failures: 2 });
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(breaker.metrics().opened, 1);
}

#[tokio::test(start_paused = true)]
async fn max_failures_of_one_opens_on_the_first_failure() {
    let breaker = breaker("cb-max-failures-one", consecutive(1, 1));
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn success_in_closed_resets_the_consecutive_failure_count() {
    let breaker = breaker("cb-success-resets-count", consecutive(3, 1));
    fails(&breaker).await;
    fails(&breaker).await;
    succeeds(&breaker).await;
    assert_eq!(breaker.snapshot().phase, Phase::Closed { failures: 0 });
    fails(&breaker).await;
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Closed);
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn open_rejects_with_circuit_open_without_running_the_body() {
    let breaker = breaker("cb-open-rejects", consecutive(2, 1));
    trip(&breaker).await;
    for _ in 0..5 {
        is_rejected(&breaker).await;
    }
    match breaker.try_acquire() {
        Err(ResilienceError::CircuitOpen { name }) => assert_eq!(name, "cb-open-rejects"),
        other => panic!("expected CircuitOpen, got {other:?}"),
    }
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn open_moves_to_half_open_only_after_reset_timeout_on_the_next_call() {
    let breaker = breaker("cb-open-to-half-open", consecutive(1, 1));
    trip(&breaker).await;
    advance(RESET_TIMEOUT - Duration::from_millis(1)).await;
    is_rejected(&breaker).await;
    advance(Duration::from_millis(1)).await;
    assert_eq!(
        breaker.state(),
        CircuitState::Open,
        "the timeout is checked on the next call, not by a timer"
    );
    let trial = breaker
        .try_acquire()
        .expect("the reset timeout has elapsed");
    assert!(trial.is_trial());
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    trial.success();
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn half_open_closes_after_half_open_allowed_calls_successes() {
    let breaker = breaker("cb-half-open-closes", consecutive(1, 3));
    trip(&breaker).await;
    advance(RESET_TIMEOUT).await;
    succeeds(&breaker).await;
    assert_eq!(breaker.snapshot().phase, half_open(1, 1));
    succeeds(&breaker).await;
    assert_eq!(breaker.snapshot().phase, half_open(2, 2));
    succeeds(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn half_open_closes_only_when_every_concurrent_trial_succeeded() {
    let breaker = breaker("cb-half-open-concurrent-trials", consecutive(1, 3));
    trip(&breaker).await;
    advance(RESET_TIMEOUT).await;
    let trials: Vec<_> = (0..3)
        .map(|_| breaker.try_acquire().expect("a trial slot"))
        .collect();
    assert!(trials.iter().all(|trial| trial.is_trial()));
    let mut trials = trials.into_iter();
    trials.next().unwrap().success();
    trials.next().unwrap().success();
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    trials.next().unwrap().success();
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn any_failure_in_half_open_reopens_and_restarts_the_timer() {
    let breaker = breaker("cb-half-open-failure-reopens", consecutive(1, 3));
    trip(&breaker).await;
    advance(RESET_TIMEOUT).await;
    succeeds(&breaker).await;
    succeeds(&breaker).await;
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(breaker.metrics().opened, 2);
    // Had the timer not restarted, the old deadline (already past) would let this call in.
    advance(RESET_TIMEOUT - Duration::from_millis(1)).await;
    is_rejected(&breaker).await;
    advance(Duration::from_millis(1)).await;
    succeeds(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
}

#[tokio::test(start_paused = true)]
async fn half_open_rejects_calls_beyond_the_admitted_trials() {
    let breaker = breaker("cb-half-open-rejects-beyond", consecutive(1, 2));
    trip(&breaker).await;
    advance(RESET_TIMEOUT).await;
    let first = breaker.try_acquire().expect("first trial");
    let second = breaker.try_acquire().expect("second trial");
    is_rejected(&breaker).await;
    assert!(matches!(
        breaker.try_acquire(),
        Err(ResilienceError::CircuitOpen { .. })
    ));
    first.success();
    // A finished trial does not make room for another: the half-open phase admits
    // `half_open_allowed_calls` trials in all.
    is_rejected(&breaker).await;
    second.success();
    assert_eq!(breaker.state(), CircuitState::Closed);
    succeeds(&breaker).await;
}

#[tokio::test(start_paused = true)]
async fn every_transition_clears_the_consecutive_failure_count() {
    let breaker = breaker("cb-transition-clears-count", consecutive(3, 1));
    trip(&breaker).await;
    advance(RESET_TIMEOUT).await;
    succeeds(&breaker).await;
    assert_eq!(breaker.snapshot().phase, Phase::Closed { failures: 0 });
    fails(&breaker).await;
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Closed);
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn outcome_of_a_call_admitted_before_a_transition_is_not_recorded_after_it() {
    let breaker = breaker("cb-stale-outcome-ignored", consecutive(2, 1));
    let admitted_while_closed = breaker.try_acquire().expect("closed");
    let also_admitted_while_closed = breaker.try_acquire().expect("closed");
    trip(&breaker).await;
    advance(RESET_TIMEOUT).await;
    succeeds(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Closed);
    let closed_again: State = breaker.snapshot();
    admitted_while_closed.failure();
    also_admitted_while_closed.failure();
    assert_eq!(
        breaker.snapshot(),
        closed_again,
        "outcomes of an earlier phase must not count in the new one"
    );
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Closed);
}

// ---------------------------------------------------------------------------------------------
// Rate mode

#[tokio::test(start_paused = true)]
async fn rate_mode_makes_no_decision_before_min_calls() {
    let breaker = breaker("cb-rate-min-calls", rate_mode(0.5, 10, Some(5)));
    for _ in 0..4 {
        fails(&breaker).await;
        assert_eq!(breaker.state(), CircuitState::Closed);
    }
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn rate_mode_stays_closed_below_the_failure_rate() {
    let breaker = breaker("cb-rate-below", rate_mode(0.5, 4, None));
    succeeds(&breaker).await;
    fails(&breaker).await;
    succeeds(&breaker).await;
    succeeds(&breaker).await;
    assert_eq!(
        breaker.state(),
        CircuitState::Closed,
        "1 of 4 is below 50 %"
    );
    // Failures do not need to be consecutive, and successes do not reset them.
    assert_eq!(breaker.snapshot().phase, Phase::Closed { failures: 0 });
}

#[tokio::test(start_paused = true)]
async fn rate_mode_opens_when_the_failure_ratio_equals_the_rate() {
    let breaker = breaker("cb-rate-boundary", rate_mode(0.5, 4, None));
    succeeds(&breaker).await;
    fails(&breaker).await;
    succeeds(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Closed);
    fails(&breaker).await;
    assert_eq!(
        breaker.state(),
        CircuitState::Open,
        "2 of 4 is exactly 50 %"
    );
}

#[tokio::test(start_paused = true)]
async fn rate_mode_opens_at_an_exact_ratio_even_where_rate_times_count_rounds_up() {
    // 55 / 100 == 0.55 exactly, but 0.55 * 100.0 == 55.000000000000007 in f64: comparing
    // failures >= rate * recorded would stay closed on the boundary.
    let breaker = breaker("cb-rate-boundary-rounding", rate_mode(0.55, 100, None));
    for _ in 0..45 {
        succeeds(&breaker).await;
    }
    for _ in 0..54 {
        fails(&breaker).await;
    }
    assert_eq!(breaker.state(), CircuitState::Closed);
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Open, "55 of 100 is 55 %");
}

#[tokio::test(start_paused = true)]
async fn rate_mode_counts_only_the_last_window_outcomes() {
    let breaker = breaker("cb-rate-sliding", rate_mode(0.75, 4, None));
    // F F S S: 2 of 4.
    fails(&breaker).await;
    fails(&breaker).await;
    succeeds(&breaker).await;
    succeeds(&breaker).await;
    // The window slides: F S S S, S S S F, S S F F.
    succeeds(&breaker).await;
    fails(&breaker).await;
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Closed);
    // S F F F: 3 of the last 4 (while 5 of all 8 would be below 75 %).
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn rate_mode_forgets_failures_that_slid_out_of_the_window() {
    let breaker = breaker("cb-rate-slid-out", rate_mode(1.0, 2, None));
    fails(&breaker).await;
    succeeds(&breaker).await;
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Closed, "S F is 50 %");
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Open, "F F is 100 %");
}

#[tokio::test(start_paused = true)]
async fn rate_mode_min_calls_defaults_to_window() {
    let config = rate_mode(0.5, 6, None);
    assert_eq!(config.effective_min_calls(), 6);
    let breaker = breaker("cb-rate-min-calls-default", config);
    for _ in 0..5 {
        fails(&breaker).await;
    }
    assert_eq!(breaker.state(), CircuitState::Closed, "5 outcomes < window");
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn rate_mode_every_transition_clears_the_window() {
    let breaker = breaker("cb-rate-transition-clears", rate_mode(0.5, 4, None));
    for _ in 0..4 {
        fails(&breaker).await;
    }
    assert_eq!(breaker.state(), CircuitState::Open);
    advance(RESET_TIMEOUT).await;
    succeeds(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Closed);
    // With the old failures still in the ring, S S F would read S S F F (50 %).
    succeeds(&breaker).await;
    succeeds(&breaker).await;
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Closed);
    succeeds(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Closed, "1 of 4");
    // reset() is a transition too.
    fails(&breaker).await;
    breaker.reset();
    fails(&breaker).await;
    fails(&breaker).await;
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Closed, "3 outcomes < window");
}

#[tokio::test(start_paused = true)]
async fn rate_mode_half_open_failure_reopens_and_successes_close() {
    let breaker = breaker("cb-rate-half-open", rate_mode(0.5, 2, None));
    fails(&breaker).await;
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Open);
    advance(RESET_TIMEOUT).await;
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Open);
    advance(RESET_TIMEOUT - Duration::from_millis(1)).await;
    is_rejected(&breaker).await;
    advance(Duration::from_millis(1)).await;
    succeeds(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Closed);
}

// ---------------------------------------------------------------------------------------------
// failure_if

#[tokio::test(start_paused = true)]
async fn errors_failure_if_rejects_count_as_successes_and_reset_the_count() {
    let breaker = breaker("cb-failure-if-success", consecutive(2, 1));
    fails(&breaker).await;
    let (outcome, ran) = call(&breaker, Err(OpError::NotFound)).await;
    assert!(ran);
    assert!(
        matches!(outcome, Err(Failure::Operation(OpError::NotFound))),
        "the caller still gets the error: {outcome:?}"
    );
    assert_eq!(breaker.snapshot().phase, Phase::Closed { failures: 0 });
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Closed);
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(breaker.metrics(), metrics(1, 3, 0, 1));
}

#[tokio::test(start_paused = true)]
async fn errors_failure_if_rejects_close_a_half_open_breaker() {
    let breaker = breaker("cb-failure-if-half-open", consecutive(1, 1));
    trip(&breaker).await;
    advance(RESET_TIMEOUT).await;
    let (outcome, ran) = call(&breaker, Err(OpError::NotFound)).await;
    assert!(ran);
    assert!(matches!(
        outcome,
        Err(Failure::Operation(OpError::NotFound))
    ));
    assert_eq!(breaker.state(), CircuitState::Closed);
}

// ---------------------------------------------------------------------------------------------
// Timeout and bulkhead

async fn slow_call(breaker: &CircuitBreaker, timeout: Duration) -> Outcome {
    let pipeline = Pipeline {
        circuit_breaker: Some(breaker),
        timeout: Some(timeout),
        ..Default::default()
    };
    pipeline
        .run(
            |_: &OpError| true,
            |_: &OpError| false,
            || async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Ok::<(), OpError>(())
            },
        )
        .await
}

#[tokio::test(start_paused = true)]
async fn timeout_counts_as_a_breaker_failure() {
    let breaker = breaker("cb-timeout-is-failure", consecutive(2, 1));
    let after = Duration::from_millis(100);
    for _ in 0..2 {
        let outcome = slow_call(&breaker, after).await;
        assert!(
            matches!(outcome, Err(Failure::Rejected(ResilienceError::Timeout { after: a })) if a == after),
            "expected Timeout, got {outcome:?}"
        );
    }
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(breaker.metrics(), metrics(0, 2, 0, 1));
}

#[tokio::test(start_paused = true)]
async fn timeout_of_a_half_open_trial_reopens_the_breaker() {
    let breaker = breaker("cb-timeout-half-open", consecutive(1, 1));
    trip(&breaker).await;
    advance(RESET_TIMEOUT).await;
    let outcome = slow_call(&breaker, Duration::from_millis(100)).await;
    assert!(matches!(
        outcome,
        Err(Failure::Rejected(ResilienceError::Timeout { .. }))
    ));
    assert_eq!(breaker.state(), CircuitState::Open);
}

fn one_slot_bulkhead(name: &str) -> Bulkhead {
    Bulkhead::new(
        name,
        BulkheadConfig {
            max_concurrent_calls: 1,
            max_queue_size: 0,
            max_wait: None,
        },
    )
    .expect("a valid bulkhead configuration")
}

async fn call_through_bulkhead(breaker: &CircuitBreaker, bulkhead: &Bulkhead) -> (Outcome, bool) {
    let ran = Cell::new(false);
    let pipeline = Pipeline {
        circuit_breaker: Some(breaker),
        bulkhead: Some(bulkhead),
        ..Default::default()
    };
    let outcome = pipeline
        .run(
            |_: &OpError| true,
            |_: &OpError| false,
            || async {
                ran.set(true);
                Ok::<(), OpError>(())
            },
        )
        .await;
    (outcome, ran.get())
}

#[tokio::test(start_paused = true)]
async fn bulkhead_full_counts_as_neither_failure_nor_success() {
    let breaker = breaker("cb-bulkhead-full-neither", consecutive(2, 1));
    let bulkhead = one_slot_bulkhead("cb-bulkhead-full-neither");
    fails(&breaker).await;
    let slot = bulkhead.try_acquire().expect("the only slot");
    let (outcome, ran) = call_through_bulkhead(&breaker, &bulkhead).await;
    assert!(!ran);
    assert!(
        matches!(
            outcome,
            Err(Failure::Rejected(ResilienceError::BulkheadFull { .. }))
        ),
        "expected BulkheadFull, got {outcome:?}"
    );
    assert_eq!(breaker.metrics(), metrics(0, 1, 0, 0));
    assert_eq!(
        breaker.snapshot().phase,
        Phase::Closed { failures: 1 },
        "BulkheadFull neither adds a failure nor resets the count"
    );
    drop(slot);
    fails(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn bulkhead_full_frees_a_half_open_trial_slot() {
    let breaker = breaker("cb-bulkhead-full-trial", consecutive(1, 1));
    let bulkhead = one_slot_bulkhead("cb-bulkhead-full-trial");
    trip(&breaker).await;
    advance(RESET_TIMEOUT).await;
    let slot = bulkhead.try_acquire().expect("the only slot");
    let (outcome, ran) = call_through_bulkhead(&breaker, &bulkhead).await;
    assert!(!ran);
    assert!(matches!(
        outcome,
        Err(Failure::Rejected(ResilienceError::BulkheadFull { .. }))
    ));
    assert_eq!(breaker.snapshot().phase, half_open(0, 0));
    drop(slot);
    let (outcome, ran) = call_through_bulkhead(&breaker, &bulkhead).await;
    assert!(ran && outcome.is_ok());
    assert_eq!(breaker.state(), CircuitState::Closed);
}

// ---------------------------------------------------------------------------------------------
// Metrics, reset, force_open

#[tokio::test(start_paused = true)]
async fn metrics_count_successes_failures_rejections_and_openings_exactly() {
    let breaker = breaker("cb-metrics-exact", consecutive(2, 1));
    assert_eq!(breaker.metrics(), CircuitBreakerMetrics::default());
    succeeds(&breaker).await;
    succeeds(&breaker).await;
    fails(&breaker).await;
    succeeds(&breaker).await;
    assert_eq!(breaker.metrics(), metrics(3, 1, 0, 0));
    fails(&breaker).await;
    fails(&breaker).await;
    assert_eq!(breaker.metrics(), metrics(3, 3, 0, 1));
    for _ in 0..3 {
        is_rejected(&breaker).await;
    }
    assert_eq!(breaker.metrics(), metrics(3, 3, 3, 1));
    advance(RESET_TIMEOUT).await;
    fails(&breaker).await;
    is_rejected(&breaker).await;
    assert_eq!(breaker.metrics(), metrics(3, 4, 4, 2));
    advance(RESET_TIMEOUT).await;
    succeeds(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.metrics(), metrics(4, 4, 4, 2));
}

#[tokio::test(start_paused = true)]
async fn reset_closes_the_breaker_and_clears_every_count() {
    let breaker = breaker("cb-reset-clears", consecutive(2, 1));
    succeeds(&breaker).await;
    trip(&breaker).await;
    is_rejected(&breaker).await;
    breaker.reset();
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.metrics(), CircuitBreakerMetrics::default());
    fails(&breaker).await;
    breaker.reset();
    assert_eq!(breaker.snapshot().phase, Phase::Closed { failures: 0 });
    fails(&breaker).await;
    assert_eq!(
        breaker.state(),
        CircuitState::Closed,
        "the failure before reset() no longer counts"
    );
    assert_eq!(breaker.metrics(), metrics(0, 1, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn reset_from_half_open_closes_the_breaker() {
    let breaker = breaker("cb-reset-half-open", consecutive(1, 2));
    trip(&breaker).await;
    advance(RESET_TIMEOUT).await;
    let trial = breaker.try_acquire().expect("a trial");
    breaker.reset();
    assert_eq!(breaker.state(), CircuitState::Closed);
    trial.failure();
    assert_eq!(
        breaker.state(),
        CircuitState::Closed,
        "the trial belongs to the phase reset() ended"
    );
}

#[tokio::test(start_paused = true)]
async fn force_open_rejects_calls_and_stays_open_past_reset_timeout_until_reset() {
    let breaker = breaker("cb-force-open", consecutive(5, 1));
    succeeds(&breaker).await;
    breaker.force_open();
    assert_eq!(breaker.state(), CircuitState::Open);
    is_rejected(&breaker).await;
    advance(RESET_TIMEOUT * 100).await;
    is_rejected(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Open);
    breaker.reset();
    assert_eq!(breaker.state(), CircuitState::Closed);
    succeeds(&breaker).await;
}

#[tokio::test(start_paused = true)]
async fn force_open_overrides_a_half_open_breaker() {
    let breaker = breaker("cb-force-open-half-open", consecutive(1, 2));
    trip(&breaker).await;
    advance(RESET_TIMEOUT).await;
    let trial = breaker.try_acquire().expect("a trial");
    breaker.force_open();
    trial.success();
    assert_eq!(breaker.state(), CircuitState::Open);
    advance(RESET_TIMEOUT * 100).await;
    is_rejected(&breaker).await;
}

// ---------------------------------------------------------------------------------------------
// Cancellation

#[tokio::test(start_paused = true)]
async fn dropped_trial_frees_its_slot_and_counts_as_neither_outcome() {
    let breaker = breaker("cb-dropped-trial", consecutive(1, 1));
    trip(&breaker).await;
    advance(RESET_TIMEOUT).await;
    let before = breaker.metrics();

    let ran = Cell::new(false);
    let (_never_sent, parked) = oneshot::channel::<()>();
    let mut parked = Some(parked);
    let pipeline = Pipeline {
        circuit_breaker: Some(&breaker),
        ..Default::default()
    };
    let trial = pipeline.run(
        |_: &OpError| true,
        |_: &OpError| false,
        || {
            let parked = parked.take().expect("one attempt");
            let ran = &ran;
            async move {
                ran.set(true);
                let _ = parked.await;
                Ok::<(), OpError>(())
            }
        },
    );
    let mut trial = Box::pin(trial);
    assert!(poll_once(trial.as_mut()).is_pending());
    assert!(ran.get(), "the trial's body is running");
    assert_eq!(breaker.snapshot().phase, half_open(1, 0));
    is_rejected(&breaker).await;

    drop(trial);
    assert_eq!(breaker.snapshot().phase, half_open(0, 0));
    let after = breaker.metrics();
    assert_eq!(
        (after.successful, after.failed),
        (before.successful, before.failed),
        "a dropped trial is neither a success nor a failure"
    );
    succeeds(&breaker).await;
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn dropped_permit_frees_its_trial_slot() {
    let breaker = breaker("cb-dropped-permit", consecutive(1, 2));
    trip(&breaker).await;
    advance(RESET_TIMEOUT).await;
    let first = breaker.try_acquire().expect("first trial");
    let second = breaker.try_acquire().expect("second trial");
    assert!(breaker.try_acquire().is_err());
    drop(first);
    assert_eq!(breaker.snapshot().phase, half_open(1, 0));
    let third = breaker.try_acquire().expect("the freed slot");
    second.success();
    third.success();
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn dropped_permit_in_closed_counts_as_neither_outcome() {
    let breaker = breaker("cb-dropped-closed-permit", consecutive(2, 1));
    fails(&breaker).await;
    drop(breaker.try_acquire().expect("closed"));
    assert_eq!(breaker.snapshot().phase, Phase::Closed { failures: 1 });
    assert_eq!(breaker.metrics(), metrics(0, 1, 0, 0));
}

/// A call whose body never finishes: yields `before` times, enters the pipeline, yields `inside`
/// times in the body, then parks for good.
async fn parked_call(breaker: &CircuitBreaker, before: usize, inside: usize) -> Outcome {
    for _ in 0..before {
        tokio::task::yield_now().await;
    }
    let pipeline = Pipeline {
        circuit_breaker: Some(breaker),
        ..Default::default()
    };
    pipeline
        .run(
            |_: &OpError| true,
            |_: &OpError| false,
            || async move {
                for _ in 0..inside {
                    tokio::task::yield_now().await;
                }
                std::future::pending::<Result<(), OpError>>().await
            },
        )
        .await
}

#[tokio::test(start_paused = true)]
async fn callers_dropped_at_random_points_in_half_open_leave_no_trial_admitted() {
    const TRIALS: u32 = 3;
    let breaker = breaker("cb-random-drops", consecutive(1, TRIALS));
    let mut rng = fastrand::Rng::with_seed(0x5EED_CB01);
    let mut saw_every_slot_taken = false;
    for _ in 0..200 {
        breaker.reset();
        trip(&breaker).await;
        advance(RESET_TIMEOUT).await;
        drop(breaker.try_acquire().expect("enters half-open"));
        assert_eq!(breaker.snapshot().phase, half_open(0, 0));

        type Caller<'a> = Pin<Box<dyn Future<Output = Outcome> + 'a>>;
        let mut callers: Vec<(Caller<'_>, usize)> = (0..rng.usize(1..=8))
            .map(|_| {
                let caller: Caller<'_> =
                    Box::pin(parked_call(&breaker, rng.usize(0..3), rng.usize(0..3)));
                (caller, rng.usize(0..=6))
            })
            .collect();
        while !callers.is_empty() {
            let i = rng.usize(..callers.len());
            if callers[i].1 == 0 {
                drop(callers.swap_remove(i));
            } else {
                callers[i].1 -= 1;
                if let Poll::Ready(outcome) = poll_once(callers[i].0.as_mut()) {
                    assert_circuit_open(&outcome, breaker.name());
                    drop(callers.swap_remove(i));
                }
            }
            match breaker.snapshot().phase {
                Phase::HalfOpen {
                    admitted,
                    succeeded: 0,
                } => {
                    assert!(admitted <= TRIALS);
                    saw_every_slot_taken |= admitted == TRIALS;
                }
                other => panic!("left half-open without an outcome: {other:?}"),
            }
        }
        assert_eq!(breaker.snapshot().phase, half_open(0, 0));
        assert_eq!(
            (breaker.metrics().successful, breaker.metrics().failed),
            (0, 1)
        );
    }
    assert!(
        saw_every_slot_taken,
        "the seed never filled the trial slots"
    );
    for _ in 0..TRIALS {
        succeeds(&breaker).await;
    }
    assert_eq!(breaker.state(), CircuitState::Closed);
}

// ---------------------------------------------------------------------------------------------
// Concurrency (multi-thread runtime, real clock)

/// Waits out a short real reset timeout: this waits on the clock, not on another task.
async fn let_reset_timeout_elapse(breaker: &CircuitBreaker) {
    tokio::time::sleep(breaker.config().reset_timeout * 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn half_open_admits_exactly_half_open_allowed_calls_among_100_concurrent_callers() {
    const CALLERS: usize = 100;
    const TRIALS: u32 = 3;
    const ROUNDS: u64 = 10;
    let breaker = Arc::new(breaker(
        "cb-concurrent-trials",
        CircuitBreakerConfig {
            max_failures: 1,
            reset_timeout: Duration::from_millis(1),
            half_open_allowed_calls: TRIALS,
            ..CircuitBreakerConfig::default()
        },
    ));
    for _ in 0..ROUNDS {
        breaker.try_acquire().expect("closed").failure();
        assert_eq!(breaker.state(), CircuitState::Open);
        let_reset_timeout_elapse(&breaker).await;
        assert_eq!(breaker.state(), CircuitState::Open);

        let barrier = Arc::new(Barrier::new(CALLERS));
        let (release, released) = watch::channel(false);
        let (arrived_tx, mut arrived) = mpsc::unbounded_channel::<bool>();
        let bodies_run = Arc::new(AtomicU32::new(0));
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let (breaker, barrier, released, arrived_tx, bodies_run) = (
                    breaker.clone(),
                    barrier.clone(),
                    released.clone(),
                    arrived_tx.clone(),
                    bodies_run.clone(),
                );
                tokio::spawn(async move {
                    barrier.wait().await;
                    let pipeline = Pipeline {
                        circuit_breaker: Some(&*breaker),
                        ..Default::default()
                    };
                    let outcome = pipeline
                        .run(
                            |_: &OpError| true,
                            |_: &OpError| false,
                            || {
                                let bodies_run = bodies_run.clone();
                                let mut released = released.clone();
                                let arrived_tx = arrived_tx.clone();
                                async move {
                                    bodies_run.fetch_add(1, Ordering::SeqCst);
                                    arrived_tx.send(true).expect("the test listens");
                                    released
                                        .wait_for(|released| *released)
                                        .await
                                        .expect("the test releases");
                                    Ok::<(), OpError>(())
                                }
                            },
                        )
                        .await;
                    if outcome.is_err() {
                        arrived_tx.send(false).expect("the test listens");
                    }
                    outcome
                })
            })
            .collect();

        let (mut admitted, mut rejected) = (0, 0);
        for _ in 0..CALLERS {
            if arrived.recv().await.expect("every caller reports") {
                admitted += 1;
            } else {
                rejected += 1;
            }
        }
        assert_eq!((admitted, rejected), (TRIALS as usize, CALLERS - 3));
        assert_eq!(bodies_run.load(Ordering::SeqCst), TRIALS);
        assert_eq!(breaker.snapshot().phase, half_open(TRIALS, 0));

        release.send(true).expect("the bodies listen");
        let mut ok = 0;
        for caller in callers {
            match caller.await.expect("no caller panics") {
                Ok(()) => ok += 1,
                Err(failure) => assert_circuit_open(&Err(failure), breaker.name()),
            }
        }
        assert_eq!(ok, TRIALS);
        assert_eq!(breaker.state(), CircuitState::Closed);
    }
    let rejected = ROUNDS * (CALLERS as u64 - u64::from(TRIALS));
    assert_eq!(
        breaker.metrics(),
        metrics(ROUNDS * u64::from(TRIALS), ROUNDS, rejected, ROUNDS)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callers_aborted_at_random_points_in_half_open_leave_no_trial_admitted() {
    const TRIALS: u32 = 3;
    let breaker = Arc::new(breaker(
        "cb-random-aborts",
        CircuitBreakerConfig {
            max_failures: 1,
            reset_timeout: Duration::from_millis(1),
            half_open_allowed_calls: TRIALS,
            ..CircuitBreakerConfig::default()
        },
    ));
    breaker.try_acquire().expect("closed").failure();
    let_reset_timeout_elapse(&breaker).await;
    drop(breaker.try_acquire().expect("enters half-open"));
    assert_eq!(breaker.snapshot().phase, half_open(0, 0));

    let mut rng = fastrand::Rng::with_seed(0x5EED_CB02);
    for _ in 0..100 {
        let mut callers: Vec<_> = (0..rng.usize(1..=16))
            .map(|_| {
                let breaker = breaker.clone();
                let (before, inside) = (rng.usize(0..3), rng.usize(0..3));
                tokio::spawn(async move { parked_call(&breaker, before, inside).await })
            })
            .collect();
        rng.shuffle(&mut callers);
        for caller in callers {
            for _ in 0..rng.usize(0..4) {
                tokio::task::yield_now().await;
            }
            caller.abort();
            match caller.await {
                Err(error) => assert!(error.is_cancelled(), "{error}"),
                Ok(outcome) => assert_circuit_open(&outcome, breaker.name()),
            }
            match breaker.snapshot().phase {
                Phase::HalfOpen {
                    admitted,
                    succeeded: 0,
                } => assert!(admitted <= TRIALS),
                other => panic!("left half-open without an outcome: {other:?}"),
            }
        }
        assert_eq!(breaker.snapshot().phase, half_open(0, 0));
    }
    assert_eq!(
        (breaker.metrics().successful, breaker.metrics().failed),
        (0, 1)
    );
    for _ in 0..TRIALS {
        succeeds(&breaker).await;
    }
    assert_eq!(breaker.state(), CircuitState::Closed);
}

// ---------------------------------------------------------------------------------------------
// Configuration

fn invalid_configs() -> Vec<(&'static str, CircuitBreakerConfig)> {
    let base = CircuitBreakerConfig::default();
    vec![
        (
            "max_failures",
            CircuitBreakerConfig {
                max_failures: 0,
                ..base.clone()
            },
        ),
        (
            "failure_rate",
            CircuitBreakerConfig {
                failure_rate: Some(1.5),
                ..base.clone()
            },
        ),
        (
            "failure_rate",
            CircuitBreakerConfig {
                failure_rate: Some(0.0),
                ..base.clone()
            },
        ),
        (
            "failure_rate",
            CircuitBreakerConfig {
                failure_rate: Some(f64::NAN),
                ..base.clone()
            },
        ),
        (
            "min_calls",
            CircuitBreakerConfig {
                failure_rate: Some(0.5),
                window: 10,
                min_calls: Some(11),
                ..base.clone()
            },
        ),
        (
            "min_calls",
            CircuitBreakerConfig {
                failure_rate: Some(0.5),
                min_calls: Some(0),
                ..base.clone()
            },
        ),
        (
            "window",
            CircuitBreakerConfig {
                failure_rate: Some(0.5),
                window: 0,
                min_calls: None,
                ..base.clone()
            },
        ),
        (
            "reset_timeout",
            CircuitBreakerConfig {
                reset_timeout: Duration::ZERO,
                ..base.clone()
            },
        ),
        (
            "half_open_allowed_calls",
            CircuitBreakerConfig {
                half_open_allowed_calls: 0,
                ..base
            },
        ),
    ]
}

#[test]
fn circuit_breaker_new_rejects_out_of_range_configs() {
    for (key, config) in invalid_configs() {
        let error = CircuitBreaker::new("cb-invalid-config", config.clone())
            .expect_err(&format!("{config:?} should be rejected"));
        assert_eq!(error.policy, "circuit_breaker");
        assert_eq!(error.key, key, "{config:?}");
    }
}

#[test]
fn circuit_breaker_new_accepts_the_edges_of_every_range() {
    let edges = [
        consecutive(1, 1),
        rate_mode(1.0, 1, Some(1)),
        rate_mode(f64::MIN_POSITIVE, 20, Some(20)),
        CircuitBreakerConfig {
            reset_timeout: Duration::from_micros(1),
            ..CircuitBreakerConfig::default()
        },
    ];
    for config in edges {
        CircuitBreaker::new("cb-edge-config", config.clone())
            .unwrap_or_else(|error| panic!("{config:?} rejected: {error}"));
    }
}

fn facade_config(circuit_breaker: CircuitBreakerConfig) -> ResilienceConfig {
    ResilienceConfig {
        circuit_breaker,
        retry: RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        },
        timeout: TimeoutConfig {
            timeout: Duration::from_secs(60),
        },
        ..ResilienceConfig::default()
    }
}

#[test]
fn facade_try_with_config_rejects_out_of_range_breaker_configs() {
    for (key, config) in invalid_configs() {
        let error = ResilienceFacade::try_with_config(facade_config(config.clone()))
            .expect_err(&format!("{config:?} should be rejected"));
        assert_eq!(error.policy, "circuit_breaker");
        assert_eq!(error.key, key, "{config:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn facade_with_invalid_config_returns_config_error_without_running_the_operation() {
    for (i, (key, config)) in invalid_configs().into_iter().enumerate() {
        let facade = ResilienceFacade::with_config(facade_config(config));
        let ran = Cell::new(false);
        let operation = format!("invalid-{i}");
        let result = facade
            .execute(
                "cb-facade-invalid",
                &operation,
                || async {
                    ran.set(true);
                    Ok(())
                },
                None::<resilience::NoFallback<()>>,
            )
            .await;
        match result {
            Err(ResilienceError::Config(error)) => assert_eq!(error.key, key),
            other => panic!("expected a Config error for `{key}`, got {other:?}"),
        }
        assert!(!ran.get(), "the operation ran with an invalid `{key}`");
        assert!(
            resilience::registry()
                .circuit_breaker(&format!("cb-facade-invalid/{operation}"))
                .is_none(),
            "nothing is registered for an invalid configuration"
        );
    }
}

async fn failing_execute(
    facade: &ResilienceFacade,
    runs: &Cell<u32>,
) -> Result<(), ResilienceError> {
    facade
        .execute(
            "cb-facade",
            "opens",
            || async {
                runs.set(runs.get() + 1);
                Err("down".into())
            },
            None::<resilience::NoFallback<()>>,
        )
        .await
}

#[tokio::test(start_paused = true)]
async fn facade_breaker_opens_after_max_failures_and_fails_fast() {
    let facade = ResilienceFacade::try_with_config(facade_config(consecutive(2, 1)))
        .expect("a valid configuration");
    let runs = Cell::new(0);
    for _ in 0..2 {
        assert!(matches!(
            failing_execute(&facade, &runs).await,
            Err(ResilienceError::Operation(_))
        ));
    }
    match failing_execute(&facade, &runs).await {
        Err(ResilienceError::CircuitOpen { name }) => assert_eq!(name, "cb-facade/opens"),
        other => panic!("expected CircuitOpen, got {other:?}"),
    }
    assert_eq!(runs.get(), 2, "an open breaker does not run the operation");
    let handle = resilience::registry()
        .circuit_breaker("cb-facade/opens")
        .expect("registered by execute");
    assert_eq!(handle.state(), CircuitState::Open);
    assert_eq!(handle.metrics(), metrics(0, 2, 1, 1));

    advance(RESET_TIMEOUT).await;
    let value = facade
        .execute(
            "cb-facade",
            "opens",
            || async { Ok(7) },
            None::<resilience::NoFallback<i32>>,
        )
        .await
        .expect("the trial succeeds");
    assert_eq!(value, 7);
    assert_eq!(handle.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn open_breaker_does_not_call_the_operation_closure() {
    let breaker = breaker("cb-closure-not-called", consecutive(1, 1));
    trip(&breaker).await;
    let calls = Cell::new(0);
    let pipeline = Pipeline {
        circuit_breaker: Some(&breaker),
        ..Default::default()
    };
    let outcome = pipeline
        .run(
            |_: &OpError| true,
            |_: &OpError| false,
            || {
                calls.set(calls.get() + 1);
                async { Ok::<(), OpError>(()) }
            },
        )
        .await;
    assert_circuit_open(&outcome, breaker.name());
    assert_eq!(
        calls.get(),
        0,
        "a rejected call does not start the operation"
    );
}

#[tokio::test(start_paused = true)]
async fn facade_open_breaker_does_not_call_the_operation_closure() {
    let facade = ResilienceFacade::try_with_config(facade_config(consecutive(1, 1)))
        .expect("a valid configuration");
    let calls = Cell::new(0);
    let result = facade
        .execute(
            "cb-facade",
            "closure-not-called",
            || {
                calls.set(calls.get() + 1);
                async { Err::<(), _>("down".into()) }
            },
            None::<resilience::NoFallback<()>>,
        )
        .await;
    assert!(matches!(result, Err(ResilienceError::Operation(_))));
    let result = facade
        .execute(
            "cb-facade",
            "closure-not-called",
            || {
                calls.set(calls.get() + 1);
                async { Ok(()) }
            },
            None::<resilience::NoFallback<()>>,
        )
        .await;
    match result {
        Err(ResilienceError::CircuitOpen { name }) => {
            assert_eq!(name, "cb-facade/closure-not-called")
        }
        other => panic!("expected CircuitOpen, got {other:?}"),
    }
    assert_eq!(
        calls.get(),
        1,
        "the operation closure of a rejected call is not called"
    );
}
