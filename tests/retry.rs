//! Retry (docs/CONTRACT.md §2.2) driven through the pipeline and the facade, on tokio's paused clock.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use resilience::{
    Backoff, Bulkhead, BulkheadConfig, CircuitBreaker, CircuitBreakerConfig, Failure, Pipeline,
    RetryConfig,
};
use resilience::{ResilienceConfig, ResilienceError, ResilienceFacade};
use tokio::time::{Instant, sleep};

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// Retries without jitter, a 100 ms base and a cap far away.
fn retry(backoff: Backoff, max_retries: u32) -> RetryConfig {
    RetryConfig {
        max_retries,
        base_delay: ms(100),
        max_delay: Duration::from_secs(600),
        jitter_factor: 0.0,
        backoff,
        max_duration: None,
    }
}

fn yes<E>(_: &E) -> bool {
    true
}

/// What a run of an always-failing body saw.
struct Run {
    result: Result<(), Failure<u32>>,
    /// When each attempt's body started, relative to the call's start.
    starts: Vec<Duration>,
    /// When the call returned, relative to its start.
    returned: Duration,
}

/// Runs a body that fails with its attempt number (1-based) after `body_time`.
async fn run_failing(pipeline: Pipeline<'_>, body_time: Duration) -> Run {
    let origin = Instant::now();
    let starts = Mutex::new(Vec::new());
    let record = &starts;
    let result = pipeline
        .run(yes, yes, move || async move {
            let attempt = {
                let mut starts = record.lock().unwrap();
                starts.push(origin.elapsed());
                starts.len() as u32
            };
            sleep(body_time).await;
            Err::<(), u32>(attempt)
        })
        .await;
    Run {
        result,
        starts: starts.into_inner().unwrap(),
        returned: origin.elapsed(),
    }
}

fn gaps(starts: &[Duration]) -> Vec<Duration> {
    starts.windows(2).map(|pair| pair[1] - pair[0]).collect()
}

fn with_retry(config: &RetryConfig) -> Pipeline<'_> {
    Pipeline {
        retry: Some(config),
        ..Pipeline::default()
    }
}

#[tokio::test(start_paused = true)]
async fn runs_at_most_max_retries_plus_one_times_and_returns_the_last_error() {
    let config = retry(Backoff::Fixed, 3);
    let run = run_failing(with_retry(&config), Duration::ZERO).await;
    assert_eq!(run.starts.len(), 4);
    assert!(
        matches!(run.result, Err(Failure::Operation(4))),
        "{:?}",
        run.result
    );
    // No pointless sleep after the last attempt.
    assert_eq!(run.returned, *run.starts.last().unwrap());
}

#[tokio::test(start_paused = true)]
async fn stops_retrying_at_the_first_success_and_returns_its_value() {
    let config = retry(Backoff::Fixed, 5);
    let calls = AtomicU32::new(0);
    let calls_ref = &calls;
    let result = with_retry(&config)
        .run(yes, yes, move || async move {
            let attempt = calls_ref.fetch_add(1, Ordering::SeqCst) + 1;
            if attempt < 3 {
                Err(attempt)
            } else {
                Ok(attempt * 10)
            }
        })
        .await;
    assert!(matches!(result, Ok(30)), "{result:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn zero_max_retries_runs_the_body_once() {
    let config = retry(Backoff::Exponential, 0);
    let run = run_failing(with_retry(&config), Duration::ZERO).await;
    assert_eq!(run.starts, [Duration::ZERO]);
    assert!(
        matches!(run.result, Err(Failure::Operation(1))),
        "{:?}",
        run.result
    );
    assert_eq!(run.returned, Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_delays_are_base_times_two_to_the_n_minus_one() {
    let config = retry(Backoff::Exponential, 4);
    let run = run_failing(with_retry(&config), Duration::ZERO).await;
    assert_eq!(gaps(&run.starts), [ms(100), ms(200), ms(400), ms(800)]);
    assert_eq!(run.starts[0], Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn linear_backoff_delays_are_base_times_n() {
    let config = retry(Backoff::Linear, 4);
    let run = run_failing(with_retry(&config), Duration::ZERO).await;
    assert_eq!(gaps(&run.starts), [ms(100), ms(200), ms(300), ms(400)]);
}

#[tokio::test(start_paused = true)]
async fn fixed_backoff_delays_are_always_base() {
    let config = retry(Backoff::Fixed, 4);
    let run = run_failing(with_retry(&config), Duration::ZERO).await;
    assert_eq!(gaps(&run.starts), [ms(100); 4]);
}

#[tokio::test(start_paused = true)]
async fn backoff_delay_starts_when_the_failed_attempt_ends() {
    let config = retry(Backoff::Exponential, 2);
    let run = run_failing(with_retry(&config), ms(30)).await;
    // 30 ms body, 100 ms delay, 30 ms body, 200 ms delay, 30 ms body.
    assert_eq!(run.starts, [ms(0), ms(130), ms(360)]);
    assert_eq!(run.returned, ms(390));
}

#[tokio::test(start_paused = true)]
async fn max_delay_caps_each_delay() {
    let config = RetryConfig {
        max_delay: ms(250),
        ..retry(Backoff::Exponential, 5)
    };
    let run = run_failing(with_retry(&config), Duration::ZERO).await;
    assert_eq!(
        gaps(&run.starts),
        [ms(100), ms(200), ms(250), ms(250), ms(250)]
    );

    let linear = RetryConfig {
        max_delay: ms(150),
        ..retry(Backoff::Linear, 3)
    };
    let run = run_failing(with_retry(&linear), Duration::ZERO).await;
    assert_eq!(gaps(&run.starts), [ms(100), ms(150), ms(150)]);
}

#[tokio::test(start_paused = true)]
async fn jitter_keeps_each_delay_within_the_factor_of_nominal_and_under_max_delay() {
    // Nominal delays 100, 200, 400 ms; ×1.5 would put the last one above max_delay.
    let config = RetryConfig {
        jitter_factor: 0.5,
        max_delay: ms(500),
        ..retry(Backoff::Exponential, 3)
    };
    let nominal = [ms(100), ms(200), ms(400)];
    let mut seen: Vec<Vec<Duration>> = vec![Vec::new(); nominal.len()];
    for _ in 0..100 {
        let run = run_failing(with_retry(&config), Duration::ZERO).await;
        let delays = gaps(&run.starts);
        assert_eq!(delays.len(), nominal.len());
        for (n, (delay, nominal)) in delays.into_iter().zip(nominal).enumerate() {
            assert!(
                delay >= nominal.mul_f64(0.5),
                "retry {}: {delay:?} < 0.5 × {nominal:?}",
                n + 1
            );
            assert!(
                delay <= nominal.mul_f64(1.5),
                "retry {}: {delay:?} > 1.5 × {nominal:?}",
                n + 1
            );
            assert!(
                delay <= ms(500),
                "retry {}: {delay:?} above max_delay",
                n + 1
            );
            seen[n].push(delay);
        }
    }
    for (n, delays) in seen.iter_mut().enumerate() {
        delays.sort();
        delays.dedup();
        assert!(
            delays.len() > 5,
            "retry {}: jitter barely varies the delay: {delays:?}",
            n + 1
        );
    }
}

#[tokio::test(start_paused = true)]
async fn full_jitter_never_exceeds_max_delay() {
    let config = RetryConfig {
        jitter_factor: 1.0,
        base_delay: ms(100),
        max_delay: ms(120),
        ..retry(Backoff::Fixed, 4)
    };
    for _ in 0..50 {
        let run = run_failing(with_retry(&config), Duration::ZERO).await;
        for delay in gaps(&run.starts) {
            assert!(delay <= ms(120), "{delay:?} above max_delay");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn no_new_attempt_starts_once_max_duration_has_passed() {
    // Attempts at 0, 100, 200, 300; the next would start at 400 > 350.
    let config = RetryConfig {
        max_duration: Some(ms(350)),
        ..retry(Backoff::Fixed, 10)
    };
    let run = run_failing(with_retry(&config), Duration::ZERO).await;
    assert_eq!(run.starts, [ms(0), ms(100), ms(200), ms(300)]);
    assert!(
        matches!(run.result, Err(Failure::Operation(4))),
        "{:?}",
        run.result
    );
    assert!(run.returned <= ms(400));
}

#[tokio::test(start_paused = true)]
async fn max_duration_counts_the_time_spent_in_attempts() {
    // 150 ms bodies and 100 ms delays: attempts at 0 and 250; the next would start at 500 > 450.
    let config = RetryConfig {
        max_duration: Some(ms(450)),
        ..retry(Backoff::Fixed, 10)
    };
    let run = run_failing(with_retry(&config), ms(150)).await;
    assert_eq!(run.starts, [ms(0), ms(250)]);
    assert!(
        matches!(run.result, Err(Failure::Operation(2))),
        "{:?}",
        run.result
    );
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Transient,
    Fatal,
}

#[tokio::test(start_paused = true)]
async fn an_error_retry_if_rejects_is_not_retried() {
    let config = retry(Backoff::Fixed, 5);
    let calls = AtomicU32::new(0);
    let calls_ref = &calls;
    let result = with_retry(&config)
        .run(
            yes,
            |_: &Kind| false,
            move || async move {
                calls_ref.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(Kind::Transient)
            },
        )
        .await;
    assert!(matches!(result, Err(Failure::Operation(Kind::Transient))));
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Retried while retry_if says so; the first error it rejects is returned at once.
    let script = [
        Kind::Transient,
        Kind::Transient,
        Kind::Fatal,
        Kind::Transient,
    ];
    let calls = AtomicU32::new(0);
    let calls_ref = &calls;
    let origin = Instant::now();
    let result = with_retry(&config)
        .run(
            yes,
            |kind: &Kind| *kind == Kind::Transient,
            move || async move {
                let attempt = calls_ref.fetch_add(1, Ordering::SeqCst) as usize;
                Err::<(), _>(script[attempt])
            },
        )
        .await;
    assert!(matches!(result, Err(Failure::Operation(Kind::Fatal))));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(origin.elapsed(), ms(200));
}

#[tokio::test(start_paused = true)]
async fn circuit_open_is_never_retried() {
    let breaker = CircuitBreaker::new(
        "retry::circuit_open_is_never_retried",
        CircuitBreakerConfig::default(),
    )
    .unwrap();
    breaker.force_open();
    let config = retry(Backoff::Fixed, 3);
    let calls = AtomicU32::new(0);
    let calls_ref = &calls;
    let origin = Instant::now();
    let result = Pipeline {
        retry: Some(&config),
        circuit_breaker: Some(&breaker),
        ..Pipeline::default()
    }
    .run(yes, yes, move || async move {
        calls_ref.fetch_add(1, Ordering::SeqCst);
        Ok::<_, u32>(())
    })
    .await;
    match result {
        Err(Failure::Rejected(ResilienceError::CircuitOpen { name })) => {
            assert_eq!(name, "retry::circuit_open_is_never_retried");
        }
        other => panic!("expected CircuitOpen, got {other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the body ran");
    assert_eq!(breaker.metrics().rejected, 1, "asked the breaker again");
    assert_eq!(origin.elapsed(), Duration::ZERO, "slept before failing");
}

#[tokio::test(start_paused = true)]
async fn timeouts_are_retried() {
    let config = retry(Backoff::Fixed, 3);
    let pipeline = Pipeline {
        retry: Some(&config),
        timeout: Some(ms(50)),
        ..Pipeline::default()
    };
    let calls = AtomicU32::new(0);
    let calls_ref = &calls;
    let origin = Instant::now();
    let result = pipeline
        .run(yes, yes, move || async move {
            let attempt = calls_ref.fetch_add(1, Ordering::SeqCst) + 1;
            if attempt < 3 {
                sleep(Duration::from_secs(10)).await;
            }
            Ok::<_, u32>(attempt)
        })
        .await;
    assert!(matches!(result, Ok(3)), "{result:?}");
    // Two timeouts of 50 ms, each followed by a 100 ms delay.
    assert_eq!(origin.elapsed(), ms(300));

    let run = run_failing(pipeline, Duration::from_secs(10)).await;
    assert_eq!(run.starts, [ms(0), ms(150), ms(300), ms(450)]);
    match run.result {
        Err(Failure::Rejected(ResilienceError::Timeout { after })) => assert_eq!(after, ms(50)),
        other => panic!("expected the last timeout, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn bulkhead_full_is_retried() {
    let bulkhead = Bulkhead::new(
        "retry::bulkhead_full_is_retried",
        BulkheadConfig {
            max_concurrent_calls: 1,
            max_queue_size: 0,
            max_wait: None,
        },
    )
    .unwrap();
    let config = retry(Backoff::Fixed, 3);
    let pipeline = Pipeline {
        retry: Some(&config),
        bulkhead: Some(&bulkhead),
        ..Pipeline::default()
    };
    let origin = Instant::now();

    // Full at 0 and 100 ms, free from 150 ms: the third attempt runs.
    let occupant = bulkhead.try_acquire().unwrap();
    let (run, ()) = tokio::join!(run_ok_recording(pipeline, origin), async {
        sleep(ms(150)).await;
        drop(occupant);
    });
    assert!(matches!(run.0, Ok(())), "{:?}", run.0);
    assert_eq!(run.1, [ms(200)]);

    // Full throughout: every attempt is rejected and the last rejection is returned.
    let _occupant = bulkhead.try_acquire().unwrap();
    let origin = Instant::now();
    let run = run_ok_recording(pipeline, origin).await;
    match run.0 {
        Err(Failure::Rejected(ResilienceError::BulkheadFull { name })) => {
            assert_eq!(name, "retry::bulkhead_full_is_retried");
        }
        other => panic!("expected BulkheadFull, got {other:?}"),
    }
    assert!(run.1.is_empty(), "the body ran in a full bulkhead");
    assert_eq!(origin.elapsed(), ms(300), "three delays of 100 ms");
}

/// Runs a succeeding body, recording when it started relative to `origin`.
async fn run_ok_recording(
    pipeline: Pipeline<'_>,
    origin: Instant,
) -> (Result<(), Failure<u32>>, Vec<Duration>) {
    let starts = Mutex::new(Vec::new());
    let record = &starts;
    let result = pipeline
        .run(yes, yes, move || async move {
            record.lock().unwrap().push(origin.elapsed());
            Ok::<(), u32>(())
        })
        .await;
    (result, starts.into_inner().unwrap())
}

#[tokio::test(start_paused = true)]
async fn the_last_error_is_returned_whatever_its_kind() {
    let config = retry(Backoff::Fixed, 1);
    let pipeline = Pipeline {
        retry: Some(&config),
        timeout: Some(ms(50)),
        ..Pipeline::default()
    };

    // An operation error, then a timeout: the timeout comes back.
    let calls = AtomicU32::new(0);
    let calls_ref = &calls;
    let result = pipeline
        .run(yes, yes, move || async move {
            if calls_ref.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err::<(), u32>(1);
            }
            sleep(Duration::from_secs(10)).await;
            Err(2)
        })
        .await;
    assert!(
        matches!(
            result,
            Err(Failure::Rejected(ResilienceError::Timeout { .. }))
        ),
        "{result:?}"
    );

    // A timeout, then an operation error: the operation error comes back.
    let calls = AtomicU32::new(0);
    let calls_ref = &calls;
    let result = pipeline
        .run(yes, yes, move || async move {
            if calls_ref.fetch_add(1, Ordering::SeqCst) == 0 {
                sleep(Duration::from_secs(10)).await;
            }
            Err::<(), u32>(2)
        })
        .await;
    assert!(matches!(result, Err(Failure::Operation(2))), "{result:?}");
}

#[tokio::test(start_paused = true)]
async fn facade_returns_the_last_operation_error_after_max_retries_plus_one_executions() {
    let facade = ResilienceFacade::try_with_config(ResilienceConfig {
        retry: retry(Backoff::Linear, 2),
        ..ResilienceConfig::default()
    })
    .unwrap();
    let calls = AtomicU32::new(0);
    let calls_ref = &calls;
    let origin = Instant::now();
    let result = facade
        .execute(
            "retry-tests",
            "facade_returns_the_last_operation_error",
            move || async move {
                let attempt = calls_ref.fetch_add(1, Ordering::SeqCst) + 1;
                Err::<(), _>(format!("attempt {attempt}").into())
            },
            None::<resilience::NoFallback<()>>,
        )
        .await;
    match result {
        Err(ResilienceError::Operation(error)) => assert_eq!(error.to_string(), "attempt 3"),
        other => panic!("expected the last operation error, got {other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(origin.elapsed(), ms(300), "linear delays of 100 and 200 ms");
}

#[test]
fn out_of_range_retry_configs_are_rejected_by_validate_and_try_with_config() {
    let valid = RetryConfig {
        max_retries: 3,
        base_delay: ms(100),
        max_delay: Duration::from_secs(2),
        jitter_factor: 0.1,
        backoff: Backoff::Exponential,
        max_duration: None,
    };
    let cases = [
        (
            "max_delay",
            RetryConfig {
                max_delay: ms(99),
                ..valid.clone()
            },
        ),
        (
            "jitter_factor",
            RetryConfig {
                jitter_factor: 1.5,
                ..valid.clone()
            },
        ),
        (
            "jitter_factor",
            RetryConfig {
                jitter_factor: -0.1,
                ..valid.clone()
            },
        ),
        (
            "jitter_factor",
            RetryConfig {
                jitter_factor: f64::NAN,
                ..valid.clone()
            },
        ),
        (
            "max_retries",
            RetryConfig {
                max_retries: 1001,
                ..valid.clone()
            },
        ),
        (
            "max_duration",
            RetryConfig {
                max_duration: Some(ms(100)),
                ..valid.clone()
            },
        ),
        (
            "max_duration",
            RetryConfig {
                max_duration: Some(ms(50)),
                ..valid.clone()
            },
        ),
    ];
    for (key, config) in cases {
        let error = config
            .validate()
            .expect_err(&format!("{config:?} validated"));
        assert_eq!((error.policy, error.key), ("retry", key), "{config:?}");
        let error = ResilienceFacade::try_with_config(ResilienceConfig {
            retry: config.clone(),
            ..ResilienceConfig::default()
        })
        .expect_err(&format!("facade accepted {config:?}"));
        assert_eq!((error.policy, error.key), ("retry", key), "{config:?}");
    }
}

#[test]
fn boundary_retry_configs_are_accepted() {
    let valid = RetryConfig::default();
    let cases = [
        RetryConfig {
            max_retries: 1000,
            ..valid.clone()
        },
        RetryConfig {
            max_retries: 0,
            ..valid.clone()
        },
        RetryConfig {
            jitter_factor: 0.0,
            ..valid.clone()
        },
        RetryConfig {
            jitter_factor: 1.0,
            ..valid.clone()
        },
        RetryConfig {
            max_delay: valid.base_delay,
            ..valid.clone()
        },
        RetryConfig {
            base_delay: Duration::ZERO,
            ..valid.clone()
        },
        RetryConfig {
            max_duration: Some(valid.base_delay + Duration::from_nanos(1)),
            ..valid.clone()
        },
    ];
    for config in cases {
        assert_eq!(config.validate(), Ok(()), "{config:?}");
        ResilienceFacade::try_with_config(ResilienceConfig {
            retry: config.clone(),
            ..ResilienceConfig::default()
        })
        .unwrap_or_else(|error| panic!("facade rejected {config:?}: {error}"));
    }
}

mod budget {
    use std::sync::atomic::{AtomicU32, Ordering};

    use resilience::{ResilienceError, RetryOutcome, registry, retry};

    static ATTEMPTS: AtomicU32 = AtomicU32::new(0);

    #[retry(
        name = "retry-budgeted",
        max_retries = 3,
        base_delay = "1ms",
        jitter_factor = 0.0,
        budget = "retry-budget-test"
    )]
    async fn always_failing() -> Result<(), ResilienceError> {
        ATTEMPTS.fetch_add(1, Ordering::SeqCst);
        Err(ResilienceError::Operation("down".into()))
    }

    /// Finagle's and Linkerd's rule (the default budget): retries add at most 20 % of the
    /// calls, plus a reserve of 10 per second over the 10 s window. 1,000 failing calls with
    /// up to 3 retries each would make 3,000 retries; the budget allows 200 + 100.
    #[tokio::test(start_paused = true)]
    async fn a_budget_caps_retries_at_a_fifth_of_the_calls_plus_the_reserve() {
        for _ in 0..1_000 {
            assert!(always_failing().await.is_err());
        }
        let attempts = ATTEMPTS.load(Ordering::SeqCst);
        assert_eq!(attempts - 1_000, 300, "retries made");
        let counts = registry()
            .snapshot()
            .policies
            .into_iter()
            .find(|p| p.name == "retry-budgeted")
            .and_then(|p| p.counters);
        let Some(resilience::snapshot::Counters::Retry(counts)) = counts else {
            panic!("no retry counters: {counts:?}")
        };
        assert_eq!(counts.retries, 300);
        // Every call ended either with its retries spent or refused by the budget.
        assert_eq!(
            counts.with_retry.get(RetryOutcome::MaxRetries)
                + counts.with_retry.get(RetryOutcome::Failure)
                + counts.without_retry.get(RetryOutcome::Failure),
            1_000
        );
        assert!(
            counts.without_retry.get(RetryOutcome::Failure) > 0,
            "{counts:?}"
        );
    }
}

mod zero_delay {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use resilience::{ResilienceError, retry};

    static ATTEMPTS: AtomicU32 = AtomicU32::new(0);

    #[retry(max_retries = 3, base_delay = "0ms", jitter_factor = 0.0)]
    async fn fails_three_times() -> Result<u32, ResilienceError> {
        let attempt = ATTEMPTS.fetch_add(1, Ordering::SeqCst);
        if attempt < 3 {
            return Err(ResilienceError::Operation("not yet".into()));
        }
        Ok(attempt)
    }

    /// A zero delay retries at once: no timer (tokio's `sleep(0)` would wait for the next
    /// millisecond tick, 1 ms per retry on the paused clock).
    #[tokio::test(start_paused = true)]
    async fn a_zero_delay_retries_without_waiting_for_a_timer_tick() {
        let started = tokio::time::Instant::now();
        assert_eq!(fails_three_times().await.unwrap(), 3);
        assert_eq!(started.elapsed(), Duration::ZERO);
    }
}
