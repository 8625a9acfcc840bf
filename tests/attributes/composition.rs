//! docs/CONTRACT.md §2.7: one pipeline, fallback → retry → circuit breaker → timeout → bulkhead → body.
//! Each retry attempt passes the breaker, the timeout and the bulkhead again.

use std::sync::atomic::{AtomicU32, Ordering};

use resilience::{CircuitState, bulkhead, circuit_breaker, fallback, registry, retry, timeout};
use tokio::sync::Notify;
use tokio::time::{Instant, sleep};

use super::{TestError, counts, ms};

static RETRIES_OPEN_BREAKER_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(
    max_retries = 5,
    backoff = "fixed",
    base_delay = "10ms",
    jitter_factor = 0.0
)]
#[circuit_breaker(
    name = "composition.retries_open",
    max_failures = 2,
    reset_timeout = "1m"
)]
async fn retries_open_breaker() -> Result<u32, TestError> {
    RETRIES_OPEN_BREAKER_CALLS.fetch_add(1, Ordering::SeqCst);
    Err(TestError::Op(1))
}

#[tokio::test(start_paused = true)]
async fn retries_open_the_breaker_and_the_next_attempt_fails_fast_with_circuit_open() {
    let start = Instant::now();
    let result = retries_open_breaker().await;
    assert_eq!(
        result,
        Err(TestError::CircuitOpen {
            name: "composition.retries_open".into()
        })
    );
    // Two attempts reached the body; the third was refused by the breaker and not retried.
    assert_eq!(RETRIES_OPEN_BREAKER_CALLS.load(Ordering::SeqCst), 2);
    assert_eq!(start.elapsed(), ms(20));
    let breaker = registry()
        .circuit_breaker("composition.retries_open")
        .unwrap();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(breaker.metrics(), counts(0, 2, 1, 1));
}

static FALLBACK_AFTER_OPEN_CALLS: AtomicU32 = AtomicU32::new(0);

async fn cached(key: u32) -> Result<u32, TestError> {
    Ok(key + 1000)
}

#[fallback(cached)]
#[retry(
    max_retries = 5,
    backoff = "fixed",
    base_delay = "10ms",
    jitter_factor = 0.0
)]
#[circuit_breaker(name = "composition.fallback_after_open", max_failures = 3)]
async fn fallback_after_open(key: u32) -> Result<u32, TestError> {
    FALLBACK_AFTER_OPEN_CALLS.fetch_add(1, Ordering::SeqCst);
    Err(TestError::Op(key))
}

#[tokio::test(start_paused = true)]
async fn when_retries_open_the_breaker_the_fallback_result_is_returned() {
    assert_eq!(fallback_after_open(7).await, Ok(1007));
    assert_eq!(FALLBACK_AFTER_OPEN_CALLS.load(Ordering::SeqCst), 3);
    let breaker = registry()
        .circuit_breaker("composition.fallback_after_open")
        .unwrap();
    assert_eq!(breaker.metrics(), counts(0, 3, 1, 1));
    // Open now: the next call never reaches the body.
    assert_eq!(fallback_after_open(8).await, Ok(1008));
    assert_eq!(FALLBACK_AFTER_OPEN_CALLS.load(Ordering::SeqCst), 3);
}

static TIMEOUT_PER_ATTEMPT_CALLS: AtomicU32 = AtomicU32::new(0);

#[timeout("100ms")]
#[retry(
    max_retries = 3,
    backoff = "fixed",
    base_delay = "10ms",
    jitter_factor = 0.0
)]
async fn slow_then_fast() -> Result<u32, TestError> {
    let attempt = TIMEOUT_PER_ATTEMPT_CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    // Each attempt alone stays under the timeout; all of them together do not.
    sleep(ms(80)).await;
    if attempt < 3 {
        Err(TestError::Op(attempt))
    } else {
        Ok(attempt)
    }
}

#[tokio::test(start_paused = true)]
async fn the_timeout_bounds_each_attempt_not_the_whole_call() {
    let start = Instant::now();
    assert_eq!(slow_then_fast().await, Ok(3));
    assert_eq!(start.elapsed(), ms(80 + 10 + 80 + 10 + 80));
}

static TIMEOUT_EVERY_ATTEMPT_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(
    max_retries = 2,
    backoff = "fixed",
    base_delay = "10ms",
    jitter_factor = 0.0
)]
#[timeout("50ms")]
async fn hangs_every_attempt() -> Result<u32, TestError> {
    TIMEOUT_EVERY_ATTEMPT_CALLS.fetch_add(1, Ordering::SeqCst);
    sleep(ms(10_000)).await;
    Ok(0)
}

#[tokio::test(start_paused = true)]
async fn each_attempt_gets_its_own_timeout_and_timeouts_are_retried() {
    let start = Instant::now();
    assert_eq!(
        hangs_every_attempt().await,
        Err(TestError::Timeout { after: ms(50) })
    );
    assert_eq!(TIMEOUT_EVERY_ATTEMPT_CALLS.load(Ordering::SeqCst), 3);
    assert_eq!(start.elapsed(), ms(50 + 10 + 50 + 10 + 50));
}

#[circuit_breaker(name = "composition.timeout_is_failure", max_failures = 2)]
#[timeout("50ms")]
async fn hangs() -> Result<u32, TestError> {
    sleep(ms(10_000)).await;
    Ok(0)
}

#[tokio::test(start_paused = true)]
async fn a_timeout_counts_as_a_breaker_failure() {
    let timed_out = Err(TestError::Timeout { after: ms(50) });
    assert_eq!(hangs().await, timed_out);
    assert_eq!(hangs().await, timed_out);
    let breaker = registry()
        .circuit_breaker("composition.timeout_is_failure")
        .unwrap();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(breaker.metrics(), counts(0, 2, 0, 1));
    assert_eq!(
        hangs().await,
        Err(TestError::CircuitOpen {
            name: "composition.timeout_is_failure".into()
        })
    );
}

#[circuit_breaker(name = "composition.bulkhead_full_not_failure", max_failures = 1)]
#[bulkhead(
    name = "composition.bulkhead_full_not_failure",
    max_concurrent_calls = 1,
    max_queue_size = 0
)]
async fn holds_the_slot(release: &Notify) -> Result<u32, TestError> {
    release.notified().await;
    Ok(1)
}

#[tokio::test(start_paused = true)]
async fn bulkhead_full_does_not_count_as_a_breaker_failure() {
    let release = Notify::new();
    let holder = holds_the_slot(&release);
    tokio::pin!(holder);
    // Poll the first call until it holds the slot.
    assert!(futures_poll_once(holder.as_mut()).await.is_none());
    for _ in 0..3 {
        assert_eq!(
            holds_the_slot(&release).await,
            Err(TestError::BulkheadFull {
                name: "composition.bulkhead_full_not_failure".into()
            })
        );
    }
    let breaker = registry()
        .circuit_breaker("composition.bulkhead_full_not_failure")
        .unwrap();
    // With `max_failures = 1` a single counted failure would have opened it.
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.metrics(), counts(0, 0, 0, 0));
    release.notify_one();
    assert_eq!(holder.await, Ok(1));
    assert_eq!(breaker.metrics(), counts(1, 0, 0, 0));
}

#[timeout("50ms")]
#[bulkhead(
    name = "composition.timeout_covers_queue",
    max_concurrent_calls = 1,
    max_queue_size = 1
)]
async fn queued_behind(millis: u64) -> Result<u64, TestError> {
    sleep(ms(millis)).await;
    Ok(millis)
}

#[tokio::test(start_paused = true)]
async fn the_timeout_covers_waiting_in_the_bulkhead_queue() {
    let start = Instant::now();
    let (first, second) = tokio::join!(biased; queued_behind(40), queued_behind(40));
    // The second waited 40 ms in the queue, so only 10 ms were left for its body.
    assert_eq!(first, Ok(40));
    assert_eq!(second, Err(TestError::Timeout { after: ms(50) }));
    assert_eq!(start.elapsed(), ms(50));
    let bulkhead = registry()
        .bulkhead("composition.timeout_covers_queue")
        .unwrap();
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (0, 0));
}

static LEAVES_DURING_BACKOFF_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(
    max_retries = 1,
    backoff = "fixed",
    base_delay = "100ms",
    jitter_factor = 0.0
)]
#[bulkhead(
    name = "composition.leaves_during_backoff",
    max_concurrent_calls = 1,
    max_queue_size = 0
)]
async fn fails_first(label: u32) -> Result<u32, TestError> {
    let call = LEAVES_DURING_BACKOFF_CALLS.fetch_add(1, Ordering::SeqCst);
    if call == 0 {
        Err(TestError::Op(label))
    } else {
        Ok(label)
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_attempt_leaves_the_bulkhead_during_its_backoff() {
    let retried = fails_first(1);
    tokio::pin!(retried);
    // The first attempt fails at once and the call starts its 100 ms backoff.
    assert!(futures_poll_once(retried.as_mut()).await.is_none());
    let bulkhead = registry()
        .bulkhead("composition.leaves_during_backoff")
        .unwrap();
    assert_eq!(bulkhead.in_flight(), 0);
    // Another call gets the only slot meanwhile.
    assert_eq!(fails_first(2).await, Ok(2));
    assert_eq!(retried.await, Ok(1));
    assert_eq!(LEAVES_DURING_BACKOFF_CALLS.load(Ordering::SeqCst), 3);
}

static OPEN_NOT_RETRIED_CALLS: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(name = "composition.open_not_retried")]
#[retry(max_retries = 10, base_delay = "1s", retry_if = always)]
async fn refused() -> Result<u32, TestError> {
    OPEN_NOT_RETRIED_CALLS.fetch_add(1, Ordering::SeqCst);
    Ok(1)
}

fn always(_: &TestError) -> bool {
    true
}

#[tokio::test(start_paused = true)]
async fn circuit_open_is_never_retried_whatever_retry_if_says() {
    assert_eq!(refused().await, Ok(1));
    registry()
        .circuit_breaker("composition.open_not_retried")
        .unwrap()
        .force_open();
    let start = Instant::now();
    assert_eq!(
        refused().await,
        Err(TestError::CircuitOpen {
            name: "composition.open_not_retried".into()
        })
    );
    assert_eq!(start.elapsed(), ms(0));
    assert_eq!(OPEN_NOT_RETRIED_CALLS.load(Ordering::SeqCst), 1);
}

/// Polls `future` once: its output if it finished, `None` if it is pending.
async fn futures_poll_once<F: std::future::Future + Unpin>(mut future: F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut future).poll(cx) {
            std::task::Poll::Ready(output) => Some(output),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

static EVERY_RETRY_KEY_CALLS: AtomicU32 = AtomicU32::new(0);

fn is_odd(error: &TestError) -> bool {
    matches!(error, TestError::Op(code) if code % 2 == 1)
}

#[retry(
    max_retries = 5,
    backoff = "linear",
    base_delay = "10ms",
    max_delay = "25ms",
    jitter_factor = 0.0,
    max_duration = "60ms",
    retry_if = is_odd
)]
async fn every_retry_key() -> Result<u32, TestError> {
    EVERY_RETRY_KEY_CALLS.fetch_add(1, Ordering::SeqCst);
    Err(TestError::Op(1))
}

#[tokio::test(start_paused = true)]
async fn every_retry_key_is_honoured_together() {
    let start = Instant::now();
    assert_eq!(every_retry_key().await, Err(TestError::Op(1)));
    // Attempts at 0, 10, 30 (linear 10, 20) and 55 ms (capped at 25); the next would start at
    // 80 ms, past `max_duration`, so the call gives up at 55 ms.
    assert_eq!(EVERY_RETRY_KEY_CALLS.load(Ordering::SeqCst), 4);
    assert_eq!(start.elapsed(), ms(55));
}

fn is_failure(error: &TestError) -> bool {
    matches!(error, TestError::Op(code) if *code != 0)
}

#[circuit_breaker(
    name = "composition.rate_mode",
    failure_rate = 0.5,
    window = 4,
    min_calls = 4,
    reset_timeout = "100ms",
    half_open_allowed_calls = 2,
    failure_if = is_failure
)]
async fn rated(code: u32) -> Result<u32, TestError> {
    match code {
        0..=9 => Err(TestError::Op(code)),
        _ => Ok(code),
    }
}

#[tokio::test(start_paused = true)]
async fn rate_mode_breaker_keys_are_honoured_together() {
    let breaker = || registry().circuit_breaker("composition.rate_mode").unwrap();
    // Error 0 is not a failure (`failure_if`); 1 and 2 are.
    assert_eq!(rated(10).await, Ok(10));
    assert_eq!(rated(0).await, Err(TestError::Op(0)));
    assert_eq!(rated(1).await, Err(TestError::Op(1)));
    assert_eq!(breaker().state(), CircuitState::Closed, "under min_calls");
    assert_eq!(rated(2).await, Err(TestError::Op(2)));
    // 2 failures out of 4 recorded outcomes reach the 0.5 rate.
    assert_eq!(breaker().state(), CircuitState::Open);
    assert_eq!(
        rated(10).await,
        Err(TestError::CircuitOpen {
            name: "composition.rate_mode".into()
        })
    );
    sleep(ms(100)).await;
    assert_eq!(rated(10).await, Ok(10));
    assert_eq!(
        breaker().state(),
        CircuitState::HalfOpen,
        "one of two trials"
    );
    assert_eq!(rated(11).await, Ok(11));
    assert_eq!(breaker().state(), CircuitState::Closed);
    assert_eq!(breaker().metrics(), counts(4, 2, 1, 1));
}

/// An argument that counts its clones: each attempt clones it, so the count is the number of
/// attempts that ran caller code.
struct Counted(&'static AtomicU32);

impl Clone for Counted {
    fn clone(&self) -> Self {
        self.0.fetch_add(1, Ordering::SeqCst);
        Counted(self.0)
    }
}

static CLONES_OPEN: AtomicU32 = AtomicU32::new(0);

#[retry(max_retries = 2, base_delay = "10ms")]
#[circuit_breaker(name = "composition.clones_open")]
async fn clones_when_open(_argument: Counted) -> Result<u32, TestError> {
    Ok(1)
}

#[tokio::test(start_paused = true)]
async fn a_call_the_open_breaker_rejects_clones_no_argument() {
    // Registered on the first call: open it, then call again.
    let _ = clones_when_open(Counted(&CLONES_OPEN)).await;
    let breaker = registry()
        .circuit_breaker("composition.clones_open")
        .unwrap();
    breaker.force_open();
    CLONES_OPEN.store(0, Ordering::SeqCst);
    let result = clones_when_open(Counted(&CLONES_OPEN)).await;
    assert_eq!(
        result,
        Err(TestError::CircuitOpen {
            name: "composition.clones_open".into()
        })
    );
    assert_eq!(CLONES_OPEN.load(Ordering::SeqCst), 0);
}

static CLONES_FULL: AtomicU32 = AtomicU32::new(0);

#[retry(max_retries = 0)]
#[bulkhead(
    name = "composition.clones_full",
    max_concurrent_calls = 1,
    max_queue_size = 0
)]
async fn clones_when_full(_argument: Counted, release: &Notify) -> Result<u32, TestError> {
    release.notified().await;
    Ok(1)
}

#[tokio::test(start_paused = true)]
async fn a_call_the_full_bulkhead_rejects_clones_no_argument() {
    let release = Notify::new();
    let holder = clones_when_full(Counted(&CLONES_FULL), &release);
    tokio::pin!(holder);
    // Polled once: the holder clones its argument and takes the only slot.
    assert!(futures_poll_once(holder.as_mut()).await.is_none());
    assert_eq!(CLONES_FULL.load(Ordering::SeqCst), 1);
    let rejected = clones_when_full(Counted(&CLONES_FULL), &release).await;
    assert_eq!(
        rejected,
        Err(TestError::BulkheadFull {
            name: "composition.clones_full".into()
        })
    );
    assert_eq!(CLONES_FULL.load(Ordering::SeqCst), 1);
    release.notify_one();
    assert_eq!(holder.await, Ok(1));
}

#[circuit_breaker(name = "composition.panics", max_failures = 2)]
async fn panics(really: bool) -> Result<u32, TestError> {
    if really {
        panic!("the dependency's client panicked");
    }
    Ok(1)
}

#[tokio::test(start_paused = true)]
async fn a_body_that_panics_counts_as_a_breaker_failure_and_the_panic_continues() {
    for _ in 0..2 {
        let panicked = tokio::spawn(panics(true)).await;
        assert!(panicked.expect_err("the panic reaches the task").is_panic());
    }
    let breaker = registry().circuit_breaker("composition.panics").unwrap();
    assert_eq!(breaker.metrics(), counts(0, 2, 0, 1));
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(
        panics(false).await,
        Err(TestError::CircuitOpen {
            name: "composition.panics".into()
        })
    );
}
