//! What the caller gets: the last operation error after retries, the classifiers `failure_if`
//! and `retry_if`, the rejections through `From<ResilienceError>` with the configured name or
//! duration, and breakers shared by name.

use std::sync::atomic::{AtomicU32, Ordering};

use resilience::{CircuitState, bulkhead, circuit_breaker, registry, retry, timeout};
use tokio::sync::Notify;
use tokio::time::sleep;

use super::{TestError, counts, ms};

static LAST_ERROR_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(
    max_retries = 3,
    backoff = "fixed",
    base_delay = "1ms",
    jitter_factor = 0.0
)]
async fn fails_with_attempt_number() -> Result<u32, TestError> {
    Err(TestError::Op(
        LAST_ERROR_CALLS.fetch_add(1, Ordering::SeqCst) + 1,
    ))
}

#[tokio::test(start_paused = true)]
async fn the_caller_gets_the_last_error_after_retries() {
    assert_eq!(fails_with_attempt_number().await, Err(TestError::Op(4)));
    assert_eq!(LAST_ERROR_CALLS.load(Ordering::SeqCst), 4);
}

/// Only server errors (codes ≥ 500) say the dependency is unhealthy.
fn is_server_error(error: &TestError) -> bool {
    matches!(error, TestError::Op(code) if *code >= 500)
}

#[circuit_breaker(
    name = "errors.failure_if",
    max_failures = 2,
    failure_if = is_server_error
)]
async fn responds_with(code: u32) -> Result<u32, TestError> {
    Err(TestError::Op(code))
}

#[tokio::test(start_paused = true)]
async fn failure_if_decides_which_errors_count_as_breaker_failures() {
    for _ in 0..5 {
        assert_eq!(responds_with(404).await, Err(TestError::Op(404)));
    }
    let breaker = registry().circuit_breaker("errors.failure_if").unwrap();
    assert_eq!(breaker.state(), CircuitState::Closed);
    // Errors `failure_if` does not count are recorded as successes.
    assert_eq!(breaker.metrics(), counts(5, 0, 0, 0));
    assert_eq!(responds_with(503).await, Err(TestError::Op(503)));
    assert_eq!(responds_with(503).await, Err(TestError::Op(503)));
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(breaker.metrics(), counts(5, 2, 0, 1));
}

/// Only transient errors (odd codes) are worth another attempt.
fn is_transient(error: &TestError) -> bool {
    matches!(error, TestError::Op(code) if code % 2 == 1)
}

static RETRY_IF_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(
    max_retries = 4,
    backoff = "fixed",
    base_delay = "1ms",
    jitter_factor = 0.0,
    retry_if = is_transient
)]
async fn fails_with(code: u32) -> Result<u32, TestError> {
    RETRY_IF_CALLS.fetch_add(1, Ordering::SeqCst);
    Err(TestError::Op(code))
}

#[tokio::test(start_paused = true)]
async fn retry_if_decides_which_errors_are_retried() {
    assert_eq!(fails_with(2).await, Err(TestError::Op(2)));
    assert_eq!(RETRY_IF_CALLS.load(Ordering::SeqCst), 1);
    assert_eq!(fails_with(3).await, Err(TestError::Op(3)));
    assert_eq!(RETRY_IF_CALLS.load(Ordering::SeqCst), 1 + 5);
}

static RETRY_IF_TIMEOUT_CALLS: AtomicU32 = AtomicU32::new(0);

fn never(_: &TestError) -> bool {
    false
}

#[retry(max_retries = 2, base_delay = "1ms", retry_if = never)]
#[timeout("10ms")]
async fn times_out() -> Result<u32, TestError> {
    RETRY_IF_TIMEOUT_CALLS.fetch_add(1, Ordering::SeqCst);
    sleep(ms(100)).await;
    Ok(1)
}

#[tokio::test(start_paused = true)]
async fn timeouts_are_retried_whatever_retry_if_says() {
    assert_eq!(times_out().await, Err(TestError::Timeout { after: ms(10) }));
    assert_eq!(RETRY_IF_TIMEOUT_CALLS.load(Ordering::SeqCst), 3);
}

#[circuit_breaker(name = "errors.circuit_open_name")]
async fn guarded() -> Result<u32, TestError> {
    Ok(1)
}

#[tokio::test(start_paused = true)]
async fn circuit_open_reaches_the_caller_with_the_configured_name() {
    assert_eq!(guarded().await, Ok(1));
    registry()
        .circuit_breaker("errors.circuit_open_name")
        .unwrap()
        .force_open();
    assert_eq!(
        guarded().await,
        Err(TestError::CircuitOpen {
            name: "errors.circuit_open_name".into()
        })
    );
}

#[timeout("1s 500ms")]
async fn slow_positional() -> Result<u32, TestError> {
    sleep(ms(2000)).await;
    Ok(1)
}

#[timeout(duration = "250ms")]
async fn slow_named() -> Result<u32, TestError> {
    sleep(ms(2000)).await;
    Ok(1)
}

#[tokio::test(start_paused = true)]
async fn timeout_reaches_the_caller_with_the_configured_duration() {
    let start = tokio::time::Instant::now();
    assert_eq!(
        slow_positional().await,
        Err(TestError::Timeout { after: ms(1500) })
    );
    assert_eq!(start.elapsed(), ms(1500));
    assert_eq!(
        slow_named().await,
        Err(TestError::Timeout { after: ms(250) })
    );
    assert_eq!(start.elapsed(), ms(1750));
}

#[bulkhead(
    name = "errors.bulkhead_full_name",
    max_concurrent_calls = 1,
    max_queue_size = 0
)]
async fn exclusive(release: &Notify) -> Result<u32, TestError> {
    release.notified().await;
    Ok(1)
}

#[tokio::test(start_paused = true)]
async fn bulkhead_full_reaches_the_caller_with_the_configured_name() {
    let release = Notify::new();
    let (first, second) = tokio::join!(biased; exclusive(&release), async {
        let refused = exclusive(&release).await;
        release.notify_one();
        refused
    });
    assert_eq!(first, Ok(1));
    assert_eq!(
        second,
        Err(TestError::BulkheadFull {
            name: "errors.bulkhead_full_name".into()
        })
    );
}

#[bulkhead(
    name = "errors.max_wait",
    max_concurrent_calls = 1,
    max_queue_size = 1,
    max_wait = "30ms"
)]
async fn exclusive_for(millis: u64) -> Result<u64, TestError> {
    sleep(ms(millis)).await;
    Ok(millis)
}

#[tokio::test(start_paused = true)]
async fn a_caller_queued_longer_than_max_wait_gets_bulkhead_full() {
    let start = tokio::time::Instant::now();
    let (first, second) = tokio::join!(biased; exclusive_for(100), async {
        let refused = exclusive_for(1).await;
        (refused, start.elapsed())
    });
    assert_eq!(first, Ok(100));
    assert_eq!(
        second,
        (
            Err(TestError::BulkheadFull {
                name: "errors.max_wait".into()
            }),
            ms(30)
        )
    );
}

static SHARED_FIRST_CALLS: AtomicU32 = AtomicU32::new(0);
static SHARED_SECOND_CALLS: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(name = "errors.shared", max_failures = 2, reset_timeout = "1m")]
async fn shared_first() -> Result<u32, TestError> {
    SHARED_FIRST_CALLS.fetch_add(1, Ordering::SeqCst);
    Err(TestError::Op(1))
}

#[circuit_breaker(name = "errors.shared", max_failures = 2, reset_timeout = "1m")]
async fn shared_second() -> Result<u32, TestError> {
    SHARED_SECOND_CALLS.fetch_add(1, Ordering::SeqCst);
    Ok(2)
}

#[tokio::test(start_paused = true)]
async fn functions_with_equal_breaker_names_share_one_breaker() {
    assert_eq!(shared_second().await, Ok(2));
    assert_eq!(shared_first().await, Err(TestError::Op(1)));
    assert_eq!(shared_first().await, Err(TestError::Op(1)));
    // The first function's failures opened the breaker the second one uses too.
    let open = Err(TestError::CircuitOpen {
        name: "errors.shared".into(),
    });
    assert_eq!(shared_second().await, open);
    assert_eq!(SHARED_SECOND_CALLS.load(Ordering::SeqCst), 1);
    let breaker = registry().circuit_breaker("errors.shared").unwrap();
    assert_eq!(breaker.metrics(), counts(1, 2, 1, 1));
    assert_eq!(
        registry()
            .circuit_breakers()
            .iter()
            .filter(|b| b.name() == "errors.shared")
            .count(),
        1
    );
}

#[bulkhead(
    name = "errors.shared_bulkhead",
    max_concurrent_calls = 1,
    max_queue_size = 0
)]
async fn shared_slot_holder(release: &Notify) -> Result<u32, TestError> {
    release.notified().await;
    Ok(1)
}

#[bulkhead(
    name = "errors.shared_bulkhead",
    max_concurrent_calls = 1,
    max_queue_size = 0
)]
async fn shared_slot_other() -> Result<u32, TestError> {
    Ok(2)
}

#[tokio::test(start_paused = true)]
async fn functions_with_equal_bulkhead_names_share_one_bulkhead() {
    let release = Notify::new();
    let (first, second) = tokio::join!(biased; shared_slot_holder(&release), async {
        let refused = shared_slot_other().await;
        release.notify_one();
        refused
    });
    assert_eq!(first, Ok(1));
    assert_eq!(
        second,
        Err(TestError::BulkheadFull {
            name: "errors.shared_bulkhead".into()
        })
    );
    assert_eq!(shared_slot_other().await, Ok(2));
}
