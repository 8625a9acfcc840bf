//! Timeout (docs/CONTRACT.md §2.3) driven through the pipeline and the facade, on tokio's paused clock.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use resilience::{
    Backoff, Bulkhead, BulkheadConfig, CircuitBreaker, CircuitBreakerConfig, Failure, Pipeline,
    RetryConfig,
};
use resilience::{
    CircuitState, NoFallback, ResilienceConfig, ResilienceError, ResilienceFacade, TimeoutConfig,
};
use tokio::time::{Instant, sleep};

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

fn yes<E>(_: &E) -> bool {
    true
}

/// Sets its flag when dropped: observes the body's future being dropped.
struct DropGuard<'a>(&'a AtomicBool);

impl Drop for DropGuard<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn fixed_retry(max_retries: u32, delay: Duration) -> RetryConfig {
    RetryConfig {
        max_retries,
        base_delay: delay,
        max_delay: delay,
        jitter_factor: 0.0,
        backoff: Backoff::Fixed,
        max_duration: None,
    }
}

fn assert_timeout<T: std::fmt::Debug, E: std::fmt::Debug>(
    result: Result<T, Failure<E>>,
    expected: Duration,
) {
    match result {
        Err(Failure::Rejected(ResilienceError::Timeout { after })) => assert_eq!(after, expected),
        other => panic!("expected Timeout after {expected:?}, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn on_expiry_the_attempt_is_dropped_and_fails_with_timeout_after_the_configured_duration() {
    let dropped = AtomicBool::new(false);
    let finished = AtomicBool::new(false);
    let (dropped_ref, finished_ref) = (&dropped, &finished);
    let origin = Instant::now();
    let result = Pipeline {
        timeout: Some(ms(100)),
        ..Pipeline::default()
    }
    .run(yes, yes, move || async move {
        let _guard = DropGuard(dropped_ref);
        sleep(Duration::from_secs(1)).await;
        finished_ref.store(true, Ordering::SeqCst);
        Ok::<_, u32>(7)
    })
    .await;
    assert_timeout(result, ms(100));
    assert_eq!(origin.elapsed(), ms(100));
    assert!(
        dropped.load(Ordering::SeqCst),
        "the body's future was not dropped on expiry"
    );
    assert!(!finished.load(Ordering::SeqCst));
    // Cancelled for real: it never resumes, however long we wait.
    sleep(Duration::from_secs(5)).await;
    assert!(!finished.load(Ordering::SeqCst), "the body kept running");
}

#[tokio::test(start_paused = true)]
async fn a_body_finishing_in_time_returns_its_value() {
    let origin = Instant::now();
    let result = Pipeline {
        timeout: Some(ms(100)),
        ..Pipeline::default()
    }
    .run(yes, yes, || async {
        sleep(ms(99)).await;
        Ok::<_, u32>(42)
    })
    .await;
    assert!(matches!(result, Ok(42)), "{result:?}");
    assert_eq!(origin.elapsed(), ms(99));
}

#[tokio::test(start_paused = true)]
async fn a_body_error_within_the_timeout_is_returned_as_is() {
    let result = Pipeline {
        timeout: Some(ms(100)),
        ..Pipeline::default()
    }
    .run(yes, yes, || async {
        sleep(ms(10)).await;
        Err::<(), u32>(5)
    })
    .await;
    assert!(matches!(result, Err(Failure::Operation(5))), "{result:?}");
}

#[tokio::test(start_paused = true)]
async fn facade_fails_with_timeout_carrying_the_configured_duration() {
    let facade = ResilienceFacade::try_with_config(ResilienceConfig {
        retry: fixed_retry(0, ms(10)),
        timeout: TimeoutConfig { timeout: ms(250) },
        ..ResilienceConfig::default()
    })
    .unwrap();
    let dropped = AtomicBool::new(false);
    let dropped_ref = &dropped;
    let origin = Instant::now();
    let result = facade
        .execute(
            "timeout-tests",
            "facade_fails_with_timeout",
            move || async move {
                let _guard = DropGuard(dropped_ref);
                sleep(Duration::from_secs(1)).await;
                Ok(1)
            },
            None::<NoFallback<u32>>,
        )
        .await;
    match result {
        Err(ResilienceError::Timeout { after }) => assert_eq!(after, ms(250)),
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert_eq!(origin.elapsed(), ms(250));
    assert!(dropped.load(Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn each_retry_attempt_gets_the_full_timeout() {
    // 90 ms per attempt with a 100 ms timeout: every attempt fits, although the call as a whole
    // takes far longer than the timeout.
    let retry = fixed_retry(2, ms(10));
    let pipeline = Pipeline {
        retry: Some(&retry),
        timeout: Some(ms(100)),
        ..Pipeline::default()
    };
    let starts = Mutex::new(Vec::new());
    let record = &starts;
    let origin = Instant::now();
    let result = pipeline
        .run(yes, yes, move || async move {
            let attempt = {
                let mut starts = record.lock().unwrap();
                starts.push(origin.elapsed());
                starts.len() as u32
            };
            sleep(ms(90)).await;
            if attempt < 3 {
                Err(attempt)
            } else {
                Ok(attempt)
            }
        })
        .await;
    assert!(matches!(result, Ok(3)), "{result:?}");
    assert_eq!(*starts.lock().unwrap(), [ms(0), ms(100), ms(200)]);
    assert_eq!(origin.elapsed(), ms(290));

    // Attempts that never finish are each cut at exactly 100 ms.
    let starts = Mutex::new(Vec::new());
    let record = &starts;
    let origin = Instant::now();
    let result = pipeline
        .run(yes, yes, move || async move {
            record.lock().unwrap().push(origin.elapsed());
            sleep(Duration::from_secs(10)).await;
            Ok::<_, u32>(())
        })
        .await;
    assert_timeout(result, ms(100));
    assert_eq!(*starts.lock().unwrap(), [ms(0), ms(110), ms(220)]);
    assert_eq!(origin.elapsed(), ms(320));
}

#[tokio::test(start_paused = true)]
async fn the_timeout_includes_the_time_queued_in_the_bulkhead() {
    let bulkhead = Bulkhead::new(
        "timeout::the_timeout_includes_the_time_queued_in_the_bulkhead",
        BulkheadConfig {
            max_concurrent_calls: 1,
            max_queue_size: 1,
            max_wait: None,
        },
    )
    .unwrap();
    let pipeline = Pipeline {
        timeout: Some(ms(100)),
        bulkhead: Some(&bulkhead),
        ..Pipeline::default()
    };
    let origin = Instant::now();
    let body_started = Mutex::new(None);
    let dropped = AtomicBool::new(false);
    let (started_ref, dropped_ref) = (&body_started, &dropped);

    // Queued 60 ms, then a 50 ms body: 110 ms in all, over the 100 ms timeout.
    let occupant = bulkhead.try_acquire().unwrap();
    let (result, ()) = tokio::join!(
        pipeline.run(yes, yes, move || async move {
            *started_ref.lock().unwrap() = Some(origin.elapsed());
            let _guard = DropGuard(dropped_ref);
            sleep(ms(50)).await;
            Ok::<_, u32>(())
        }),
        async {
            sleep(ms(60)).await;
            assert_eq!(bulkhead.queued(), 1);
            drop(occupant);
        }
    );
    assert_timeout(result, ms(100));
    assert_eq!(origin.elapsed(), ms(100));
    assert_eq!(*body_started.lock().unwrap(), Some(ms(60)));
    assert!(dropped.load(Ordering::SeqCst));
    assert_eq!(
        (bulkhead.in_flight(), bulkhead.queued()),
        (0, 0),
        "the timed-out attempt kept its slot"
    );

    // Queued for the whole timeout: Timeout (not BulkheadFull), and the queue place is given back.
    let _occupant = bulkhead.try_acquire().unwrap();
    let calls = AtomicU32::new(0);
    let calls_ref = &calls;
    let origin = Instant::now();
    let result = pipeline
        .run(yes, yes, move || async move {
            calls_ref.fetch_add(1, Ordering::SeqCst);
            Ok::<_, u32>(())
        })
        .await;
    assert_timeout(result, ms(100));
    assert_eq!(origin.elapsed(), ms(100));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_timeout_counts_as_a_circuit_breaker_failure() {
    let breaker = CircuitBreaker::new(
        "timeout::a_timeout_counts_as_a_circuit_breaker_failure",
        CircuitBreakerConfig {
            max_failures: 2,
            ..CircuitBreakerConfig::default()
        },
    )
    .unwrap();
    let pipeline = Pipeline {
        circuit_breaker: Some(&breaker),
        timeout: Some(ms(10)),
        ..Pipeline::default()
    };
    let calls = AtomicU32::new(0);
    let calls_ref = &calls;
    let slow = move || async move {
        calls_ref.fetch_add(1, Ordering::SeqCst);
        sleep(Duration::from_secs(1)).await;
        Ok::<_, u32>(())
    };

    assert_timeout(pipeline.run(yes, yes, slow).await, ms(10));
    assert_eq!(breaker.metrics().failed, 1);
    assert_eq!(breaker.state(), CircuitState::Closed);

    assert_timeout(pipeline.run(yes, yes, slow).await, ms(10));
    assert_eq!(breaker.metrics().failed, 2);
    assert_eq!(breaker.state(), CircuitState::Open);

    let result = pipeline.run(yes, yes, slow).await;
    assert!(
        matches!(
            result,
            Err(Failure::Rejected(ResilienceError::CircuitOpen { .. }))
        ),
        "{result:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

mod deadline_propagation {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use resilience::{ResilienceError, deadline, retry, timeout};
    use tokio::time::{Instant, sleep};

    static STARTED: AtomicU32 = AtomicU32::new(0);

    #[timeout("1s")]
    async fn slow() -> Result<(), ResilienceError> {
        STARTED.fetch_add(1, Ordering::SeqCst);
        sleep(Duration::from_millis(300)).await;
        Ok(())
    }

    /// Within a request's deadline, `#[timeout]` bounds each attempt by the time left, and an
    /// attempt with no time left is not started.
    #[tokio::test(start_paused = true)]
    async fn a_timeout_is_cut_to_the_requests_deadline_and_a_late_call_is_not_started() {
        let started = Instant::now();
        let result = deadline::scope(started + Duration::from_millis(50), slow()).await;
        assert!(
            matches!(result, Err(ResilienceError::Timeout { after }) if after == Duration::from_millis(50)),
            "{result:?}"
        );
        assert_eq!(started.elapsed(), Duration::from_millis(50));
        assert_eq!(STARTED.load(Ordering::SeqCst), 1);

        let result = deadline::scope(Instant::now(), slow()).await;
        assert!(
            matches!(result, Err(ResilienceError::Timeout { .. })),
            "{result:?}"
        );
        assert_eq!(
            STARTED.load(Ordering::SeqCst),
            1,
            "a call past its deadline started"
        );

        // Outside any deadline: the attribute's own second.
        assert!(slow().await.is_ok());
    }

    static ATTEMPTS: AtomicU32 = AtomicU32::new(0);

    #[retry(max_retries = 5, base_delay = "100ms", jitter_factor = 0.0)]
    async fn failing() -> Result<(), ResilienceError> {
        ATTEMPTS.fetch_add(1, Ordering::SeqCst);
        Err(ResilienceError::Operation("down".into()))
    }

    /// A retry whose delay reaches past the request's deadline is not made: the last error
    /// comes back at once.
    #[tokio::test(start_paused = true)]
    async fn a_retry_that_would_end_past_the_deadline_is_not_made() {
        let started = Instant::now();
        // 100 ms, then 200 ms: the second retry would start at 300 ms, past 250 ms.
        let result = deadline::scope(started + Duration::from_millis(250), failing()).await;
        assert!(
            matches!(result, Err(ResilienceError::Operation(_))),
            "{result:?}"
        );
        assert_eq!(ATTEMPTS.load(Ordering::SeqCst), 2);
        assert_eq!(started.elapsed(), Duration::from_millis(100));
    }
}
