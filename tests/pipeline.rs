//! The fallback of the facade (docs/CONTRACT.md §2.5) and the composition order of the pipeline (§2.7):
//! fallback → retry → circuit breaker → timeout → bulkhead → body, on tokio's paused clock.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::task::Poll;
use std::time::Duration;

use resilience::{
    Backoff, Bulkhead, BulkheadConfig, CircuitBreaker, CircuitBreakerConfig, Failure, Pipeline,
    RetryConfig,
};
use resilience::{
    BoxError, CircuitState, NoFallback, ResilienceConfig, ResilienceError, ResilienceFacade,
    TimeoutConfig, registry,
};
use tokio::time::{Instant, sleep};

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

fn yes<E>(_: &E) -> bool {
    true
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

/// Polls `future` once, whatever its waker says.
async fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
    let mut future = future;
    poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await
}

const SERVICE: &str = "pipeline-tests";

fn facade(max_retries: u32) -> ResilienceFacade {
    ResilienceFacade::try_with_config(ResilienceConfig {
        retry: fixed_retry(max_retries, ms(10)),
        timeout: TimeoutConfig { timeout: ms(100) },
        bulkhead: BulkheadConfig {
            max_concurrent_calls: 1,
            max_queue_size: 0,
            max_wait: None,
        },
        ..ResilienceConfig::default()
    })
    .unwrap()
}

// ---- §2.5 fallback, through the facade ----

#[tokio::test(start_paused = true)]
async fn fallback_runs_after_retries_run_out_and_its_value_is_returned_as_is() {
    let calls = AtomicU32::new(0);
    let calls_ref = &calls;
    let calls_at_fallback = AtomicU32::new(u32::MAX);
    let at_fallback = &calls_at_fallback;
    let result = facade(2)
        .execute(
            SERVICE,
            "fallback_runs_after_retries_run_out",
            move || async move {
                calls_ref.fetch_add(1, Ordering::SeqCst);
                Err::<String, BoxError>("down".into())
            },
            Some(move || async move {
                at_fallback.store(calls_ref.load(Ordering::SeqCst), Ordering::SeqCst);
                Ok("fallback value".to_owned())
            }),
        )
        .await;
    assert_eq!(result.unwrap(), "fallback value");
    assert_eq!(
        calls_at_fallback.load(Ordering::SeqCst),
        3,
        "the fallback must run once, after every attempt"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn fallback_runs_when_the_circuit_is_open() {
    let operation = "fallback_runs_when_the_circuit_is_open";
    let facade = facade(2);
    // The first call registers the breaker under "<service>/<operation>".
    let first = facade
        .execute(
            SERVICE,
            operation,
            || async { Ok(1) },
            None::<NoFallback<u32>>,
        )
        .await;
    assert_eq!(first.unwrap(), 1);
    let breaker = registry()
        .circuit_breaker(&format!("{SERVICE}/{operation}"))
        .expect("the facade registers its breaker");
    breaker.force_open();

    let ran = AtomicBool::new(false);
    let ran_ref = &ran;
    let result = facade
        .execute(
            SERVICE,
            operation,
            move || async move {
                ran_ref.store(true, Ordering::SeqCst);
                Ok(2)
            },
            Some(|| async { Ok(99) }),
        )
        .await;
    assert_eq!(result.unwrap(), 99);
    assert!(
        !ran.load(Ordering::SeqCst),
        "the body ran through an open breaker"
    );

    let without_fallback = facade
        .execute(
            SERVICE,
            operation,
            || async { Ok(2) },
            None::<NoFallback<u32>>,
        )
        .await;
    assert!(
        matches!(without_fallback, Err(ResilienceError::CircuitOpen { .. })),
        "{without_fallback:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn fallback_runs_after_a_timeout() {
    let calls = AtomicU32::new(0);
    let calls_ref = &calls;
    let origin = Instant::now();
    let result = facade(1)
        .execute(
            SERVICE,
            "fallback_runs_after_a_timeout",
            move || async move {
                calls_ref.fetch_add(1, Ordering::SeqCst);
                sleep(Duration::from_secs(10)).await;
                Ok("slow")
            },
            Some(|| async { Ok("fallback") }),
        )
        .await;
    assert_eq!(result.unwrap(), "fallback");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Two timeouts of 100 ms and one delay of 10 ms.
    assert_eq!(origin.elapsed(), ms(210));
}

#[tokio::test(start_paused = true)]
async fn fallback_runs_when_the_bulkhead_is_full() {
    let operation = "fallback_runs_when_the_bulkhead_is_full";
    let facade = facade(1);
    let first = facade
        .execute(
            SERVICE,
            operation,
            || async { Ok("registered") },
            None::<NoFallback<&str>>,
        )
        .await;
    assert_eq!(first.unwrap(), "registered");
    let bulkhead = registry()
        .bulkhead(&format!("{SERVICE}/{operation}"))
        .expect("the facade registers its bulkhead");
    let occupant = bulkhead.try_acquire().expect("the bulkhead is empty");

    let ran = AtomicBool::new(false);
    let ran_ref = &ran;
    let result = facade
        .execute(
            SERVICE,
            operation,
            move || async move {
                ran_ref.store(true, Ordering::SeqCst);
                Ok("body")
            },
            Some(|| async { Ok("fallback") }),
        )
        .await;
    assert_eq!(result.unwrap(), "fallback");
    assert!(
        !ran.load(Ordering::SeqCst),
        "the body ran in a full bulkhead"
    );
    drop(occupant);
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn fallback_is_not_called_on_success() {
    let called = AtomicBool::new(false);
    let called_ref = &called;
    let result = facade(2)
        .execute(
            SERVICE,
            "fallback_is_not_called_on_success",
            || async { Ok(7) },
            Some(move || async move {
                called_ref.store(true, Ordering::SeqCst);
                Ok(0)
            }),
        )
        .await;
    assert_eq!(result.unwrap(), 7);
    assert!(!called.load(Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn fallback_is_not_called_when_a_retry_succeeds() {
    let calls = AtomicU32::new(0);
    let calls_ref = &calls;
    let called = AtomicBool::new(false);
    let called_ref = &called;
    let result = facade(2)
        .execute(
            SERVICE,
            "fallback_is_not_called_when_a_retry_succeeds",
            move || async move {
                match calls_ref.fetch_add(1, Ordering::SeqCst) {
                    0 => Err::<u32, BoxError>("transient".into()),
                    _ => Ok(8),
                }
            },
            Some(move || async move {
                called_ref.store(true, Ordering::SeqCst);
                Ok(0)
            }),
        )
        .await;
    assert_eq!(result.unwrap(), 8);
    assert!(!called.load(Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn an_error_of_the_fallback_comes_back_as_an_operation_error() {
    let result = facade(0)
        .execute(
            SERVICE,
            "an_error_of_the_fallback_comes_back_as_an_operation_error",
            || async { Err::<u32, BoxError>("primary failed".into()) },
            Some(|| async { Err::<u32, BoxError>("fallback failed".into()) }),
        )
        .await;
    match result {
        Err(ResilienceError::Operation(error)) => assert_eq!(error.to_string(), "fallback failed"),
        other => panic!("expected the fallback's error, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn without_a_fallback_the_last_operation_error_comes_back() {
    let calls = AtomicU32::new(0);
    let calls_ref = &calls;
    let result = facade(2)
        .execute(
            SERVICE,
            "without_a_fallback_the_last_operation_error_comes_back",
            move || async move {
                let attempt = calls_ref.fetch_add(1, Ordering::SeqCst) + 1;
                Err::<u32, BoxError>(format!("attempt {attempt}").into())
            },
            None::<NoFallback<u32>>,
        )
        .await;
    match result {
        Err(ResilienceError::Operation(error)) => assert_eq!(error.to_string(), "attempt 3"),
        other => panic!("expected the last operation error, got {other:?}"),
    }
}

// ---- §2.7 composition ----

#[tokio::test(start_paused = true)]
async fn each_retry_attempt_passes_the_breaker_and_an_opened_breaker_fails_the_next_attempt_fast() {
    let name = "pipeline::each_retry_attempt_passes_the_breaker";
    let breaker = CircuitBreaker::new(
        name,
        CircuitBreakerConfig {
            max_failures: 2,
            ..CircuitBreakerConfig::default()
        },
    )
    .unwrap();
    let retry = fixed_retry(5, ms(10));
    let calls = AtomicU32::new(0);
    let calls_ref = &calls;
    let origin = Instant::now();
    let result = Pipeline {
        retry: Some(&retry),
        circuit_breaker: Some(&breaker),
        ..Pipeline::default()
    }
    .run(yes, yes, move || async move {
        Err::<(), u32>(calls_ref.fetch_add(1, Ordering::SeqCst) + 1)
    })
    .await;
    // Attempts 1 and 2 fail and open the breaker; attempt 3 is rejected and not retried.
    match result {
        Err(Failure::Rejected(ResilienceError::CircuitOpen { name: open })) => {
            assert_eq!(open, name);
        }
        other => panic!("expected CircuitOpen as the last error, got {other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(breaker.state(), CircuitState::Open);
    let metrics = breaker.metrics();
    assert_eq!(
        (metrics.failed, metrics.rejected, metrics.opened),
        (2, 1, 1)
    );
    assert_eq!(origin.elapsed(), ms(20), "two delays, then no more");
}

#[tokio::test(start_paused = true)]
async fn the_breaker_records_the_outcome_of_each_retry_attempt() {
    let breaker = CircuitBreaker::new(
        "pipeline::the_breaker_records_the_outcome_of_each_retry_attempt",
        CircuitBreakerConfig {
            max_failures: 3,
            ..CircuitBreakerConfig::default()
        },
    )
    .unwrap();
    let retry = fixed_retry(5, ms(10));
    let calls = AtomicU32::new(0);
    let calls_ref = &calls;
    let result = Pipeline {
        retry: Some(&retry),
        circuit_breaker: Some(&breaker),
        ..Pipeline::default()
    }
    .run(yes, yes, move || async move {
        match calls_ref.fetch_add(1, Ordering::SeqCst) {
            0 | 1 => Err(0),
            n => Ok(n),
        }
    })
    .await;
    assert!(matches!(result, Ok(2)), "{result:?}");
    let metrics = breaker.metrics();
    assert_eq!((metrics.failed, metrics.successful), (2, 1));
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_failed_attempt_leaves_the_bulkhead_during_its_backoff() {
    let bulkhead = Bulkhead::new(
        "pipeline::a_failed_attempt_leaves_the_bulkhead_during_its_backoff",
        BulkheadConfig {
            max_concurrent_calls: 1,
            max_queue_size: 0,
            max_wait: None,
        },
    )
    .unwrap();
    let retry = fixed_retry(1, ms(100));
    let retrying = Pipeline {
        retry: Some(&retry),
        bulkhead: Some(&bulkhead),
        ..Pipeline::default()
    };
    let single = Pipeline {
        bulkhead: Some(&bulkhead),
        ..Pipeline::default()
    };
    let origin = Instant::now();
    let calls = AtomicU32::new(0);
    let calls_ref = &calls;
    // A: fails at 10 ms, sleeps 100 ms, succeeds at 110 ms. B: arrives at 50 ms, during A's
    // backoff, and with no queue must find the slot free.
    let (a, b) = tokio::join!(
        retrying.run(yes, yes, move || async move {
            let attempt = calls_ref.fetch_add(1, Ordering::SeqCst) + 1;
            if attempt == 1 {
                sleep(ms(10)).await;
                Err(attempt)
            } else {
                Ok(origin.elapsed())
            }
        }),
        async {
            sleep(ms(50)).await;
            assert_eq!(
                bulkhead.in_flight(),
                0,
                "the backing-off caller kept its slot"
            );
            single
                .run(yes, yes, || async {
                    let started = origin.elapsed();
                    sleep(ms(30)).await;
                    Ok::<_, u32>(started)
                })
                .await
        }
    );
    assert!(matches!(b, Ok(started) if started == ms(50)), "{b:?}");
    assert!(matches!(a, Ok(started) if started == ms(110)), "{a:?}");
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn the_breaker_is_checked_before_the_bulkhead() {
    let breaker = CircuitBreaker::new(
        "pipeline::the_breaker_is_checked_before_the_bulkhead",
        CircuitBreakerConfig::default(),
    )
    .unwrap();
    breaker.force_open();
    let bulkhead = Bulkhead::new(
        "pipeline::the_breaker_is_checked_before_the_bulkhead",
        BulkheadConfig {
            max_concurrent_calls: 1,
            max_queue_size: 1,
            max_wait: None,
        },
    )
    .unwrap();
    let pipeline = Pipeline {
        circuit_breaker: Some(&breaker),
        bulkhead: Some(&bulkhead),
        ..Pipeline::default()
    };
    let ran = AtomicBool::new(false);
    let ran_ref = &ran;
    let body = move || async move {
        ran_ref.store(true, Ordering::SeqCst);
        Ok::<_, u32>(())
    };

    // Free slot: rejected by the breaker, the bulkhead never entered.
    let mut call = Box::pin(pipeline.run(yes, yes, body));
    match poll_once(call.as_mut()).await {
        Poll::Ready(Err(Failure::Rejected(ResilienceError::CircuitOpen { .. }))) => {}
        other => panic!("expected CircuitOpen at once, got {other:?}"),
    }
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (0, 0));
    drop(call);

    // Busy slot: a bulkhead-first pipeline would queue the caller; the breaker rejects it first.
    let occupant = bulkhead.try_acquire().unwrap();
    let mut call = Box::pin(pipeline.run(yes, yes, body));
    match poll_once(call.as_mut()).await {
        Poll::Ready(Err(Failure::Rejected(ResilienceError::CircuitOpen { .. }))) => {}
        other => panic!("expected CircuitOpen at once, got {other:?}"),
    }
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (1, 0));
    drop(call);
    drop(occupant);
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(bulkhead.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn bulkhead_full_does_not_count_as_a_breaker_failure() {
    let breaker = CircuitBreaker::new(
        "pipeline::bulkhead_full_does_not_count_as_a_breaker_failure",
        CircuitBreakerConfig {
            max_failures: 1,
            reset_timeout: Duration::from_secs(1),
            ..CircuitBreakerConfig::default()
        },
    )
    .unwrap();
    let bulkhead = Bulkhead::new(
        "pipeline::bulkhead_full_does_not_count_as_a_breaker_failure",
        BulkheadConfig {
            max_concurrent_calls: 1,
            max_queue_size: 0,
            max_wait: None,
        },
    )
    .unwrap();
    let retry = fixed_retry(2, ms(10));
    let pipeline = Pipeline {
        retry: Some(&retry),
        circuit_breaker: Some(&breaker),
        bulkhead: Some(&bulkhead),
        ..Pipeline::default()
    };
    let body = || async { Ok::<_, u32>("ran") };

    // Closed: three BulkheadFull attempts leave a one-failure breaker closed.
    let occupant = bulkhead.try_acquire().unwrap();
    let result = pipeline.run(yes, yes, body).await;
    assert!(
        matches!(
            result,
            Err(Failure::Rejected(ResilienceError::BulkheadFull { .. }))
        ),
        "{result:?}"
    );
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.metrics().failed, 0);
    drop(occupant);
    assert!(matches!(pipeline.run(yes, yes, body).await, Ok("ran")));

    // HalfOpen: a trial rejected by the bulkhead neither reopens nor closes the breaker.
    let failing = Pipeline {
        retry: None,
        ..pipeline
    };
    let result = failing
        .run(yes, yes, || async { Err::<&str, u32>(1) })
        .await;
    assert!(matches!(result, Err(Failure::Operation(1))));
    assert_eq!(breaker.state(), CircuitState::Open);
    sleep(Duration::from_secs(1)).await;
    let occupant = bulkhead.try_acquire().unwrap();
    let result = failing.run(yes, yes, body).await;
    assert!(
        matches!(
            result,
            Err(Failure::Rejected(ResilienceError::BulkheadFull { .. }))
        ),
        "{result:?}"
    );
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    drop(occupant);
    // The trial slot was given back: the next call is admitted and closes the breaker.
    assert!(matches!(failing.run(yes, yes, body).await, Ok("ran")));
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_inside_the_breaker_counts_as_a_failure_and_is_retried() {
    let breaker = CircuitBreaker::new(
        "pipeline::a_timeout_inside_the_breaker_counts_as_a_failure",
        CircuitBreakerConfig {
            max_failures: 5,
            ..CircuitBreakerConfig::default()
        },
    )
    .unwrap();
    let retry = fixed_retry(2, ms(10));
    let calls = AtomicU32::new(0);
    let calls_ref = &calls;
    let result = Pipeline {
        retry: Some(&retry),
        circuit_breaker: Some(&breaker),
        timeout: Some(ms(50)),
        ..Pipeline::default()
    }
    .run(yes, yes, move || async move {
        if calls_ref.fetch_add(1, Ordering::SeqCst) < 2 {
            sleep(Duration::from_secs(1)).await;
        }
        Ok::<_, u32>("third time")
    })
    .await;
    assert!(matches!(result, Ok("third time")), "{result:?}");
    let metrics = breaker.metrics();
    assert_eq!((metrics.failed, metrics.successful), (2, 1));
}

/// Within a request's deadline (`resilience::deadline::scope`), `Pipeline::run` and the facade
/// bound each attempt by the time left, like the attributes and the layers do, and start no
/// attempt once it has passed.
#[tokio::test(start_paused = true)]
async fn the_pipeline_and_the_facade_bound_attempts_by_the_request_deadline() {
    let started = Instant::now();
    let deadline = started + ms(100);
    let runs = AtomicU32::new(0);
    let pipeline = Pipeline {
        timeout: Some(Duration::from_secs(10)),
        ..Pipeline::default()
    };
    let slow = || {
        runs.fetch_add(1, Ordering::Relaxed);
        async {
            sleep(Duration::from_secs(1)).await;
            Ok::<_, BoxError>(())
        }
    };
    let outcome = resilience::deadline::scope(deadline, pipeline.run(yes, yes, slow)).await;
    assert!(
        matches!(outcome, Err(Failure::Rejected(ResilienceError::Timeout { after })) if after == ms(100)),
        "{outcome:?}"
    );
    assert_eq!(started.elapsed(), ms(100));

    let facade = ResilienceFacade::with_config(ResilienceConfig {
        retry: RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        },
        timeout: TimeoutConfig {
            timeout: Duration::from_secs(10),
        },
        ..ResilienceConfig::default()
    });
    let started = Instant::now();
    let outcome = resilience::deadline::scope(
        started + ms(50),
        facade.execute_without_fallback("deadline-pipeline", "slow", slow),
    )
    .await;
    assert!(
        matches!(outcome, Err(ResilienceError::Timeout { after }) if after == ms(50)),
        "{outcome:?}"
    );
    assert_eq!(started.elapsed(), ms(50));
    assert_eq!(runs.load(Ordering::Relaxed), 2);

    // Past the deadline: no attempt starts.
    let outcome = resilience::deadline::scope(Instant::now(), pipeline.run(yes, yes, slow)).await;
    assert!(
        matches!(
            outcome,
            Err(Failure::Rejected(ResilienceError::Timeout { .. }))
        ),
        "{outcome:?}"
    );
    assert_eq!(
        runs.load(Ordering::Relaxed),
        2,
        "no attempt after the deadline"
    );
}

/// A `Pipeline` with no policy at all (`dispatch!`'s arm where every layer is absent) runs the
/// operation once and hands back its result as is.
#[tokio::test(start_paused = true)]
async fn a_pipeline_without_policies_runs_the_operation_once_as_is() {
    let runs = AtomicU32::new(0);
    let failing = || {
        runs.fetch_add(1, Ordering::Relaxed);
        async { Err::<(), _>("down") }
    };
    let outcome = Pipeline::default().run(yes, yes, failing).await;
    assert!(
        matches!(outcome, Err(Failure::Operation("down"))),
        "{outcome:?}"
    );
    assert_eq!(
        runs.load(Ordering::Relaxed),
        1,
        "no retry without a retry policy"
    );
    let outcome = Pipeline::default()
        .run(yes, yes, || async { Ok::<_, &str>(7) })
        .await;
    assert!(matches!(outcome, Ok(7)), "{outcome:?}");
}
