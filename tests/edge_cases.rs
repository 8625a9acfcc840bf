//! Edge cases of the runtime at the limits of its arithmetic and its names: a breaker's epoch
//! wrapping, deadlines decades away, sub-microsecond timeouts, retry delays at `Duration::MAX`,
//! empty registry names, colliding facade names, and the cost of registering many facade
//! operations.
//!
//! Time-based tests run on tokio's paused clock; the registration-cost test counts allocations
//! (per thread, only while counting is on) rather than timing anything.

// A `GlobalAlloc` impl is unsafe by definition; the one below only counts, then forwards each
// call unchanged to `std::alloc::System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use resilience::{
    Backoff, BoxError, Bulkhead, BulkheadConfig, CircuitBreaker, CircuitBreakerConfig,
    CircuitState, Registry, ResilienceConfig, ResilienceError, ResilienceFacade, RetryConfig,
    TimeoutConfig,
};
use resilience_runtime::retry::RetryDecision;

struct CountingAllocator;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
    }
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: as above; `ptr` was allocated by `System` through this allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations made on this thread while `f` runs.
async fn allocations_during<F: Future>(f: F) -> (F::Output, u64) {
    ALLOCATIONS.with(|count| count.set(0));
    COUNTING.with(|on| on.set(true));
    let output = f.await;
    COUNTING.with(|on| on.set(false));
    (output, ALLOCATIONS.with(Cell::get))
}

const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

fn breaker(config: CircuitBreakerConfig) -> CircuitBreaker {
    CircuitBreaker::new("edge", config).expect("valid configuration")
}

fn consecutive(max_failures: u32, reset_timeout: Duration, half_open: u32) -> CircuitBreakerConfig {
    CircuitBreakerConfig {
        max_failures,
        reset_timeout,
        half_open_allowed_calls: half_open,
        ..CircuitBreakerConfig::DEFAULT
    }
}

// ---- 1. the epoch wraps ----

/// Moves `breaker` (Closed, no permit in flight) through `transitions` transitions that end in
/// HalfOpen with one trial admitted, which it returns.
async fn reach_half_open_after(
    breaker: &CircuitBreaker,
    transitions: u32,
    reset_timeout: Duration,
) {
    assert!(transitions >= 2);
    // Each reset of a closed breaker is a transition (a new epoch); the last two are
    // Closed → Open (a failure) and Open → HalfOpen (the trial admitted below).
    for _ in 0..transitions - 2 {
        breaker.reset();
    }
    breaker.try_acquire().expect("closed").failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    tokio::time::advance(reset_timeout).await;
}

#[tokio::test(start_paused = true)]
async fn a_trial_permit_from_16384_transitions_ago_cannot_free_the_current_trial_slot() {
    let reset_timeout = Duration::from_millis(10);
    let breaker = breaker(consecutive(1, reset_timeout, 1));
    breaker.try_acquire().expect("closed").failure();
    tokio::time::advance(reset_timeout).await;
    let old_trial = breaker.try_acquire().expect("the reset timeout elapsed");
    assert!(old_trial.is_trial());
    let old_epoch = breaker.snapshot().epoch;

    // HalfOpen → Closed (reset), then 16,382 more transitions: the epoch is back where it was.
    breaker.reset();
    reach_half_open_after(&breaker, 16_383, reset_timeout).await;
    let trial = breaker.try_acquire().expect("the reset timeout elapsed");
    assert!(trial.is_trial());
    assert_eq!(
        breaker.snapshot().epoch,
        old_epoch,
        "the 14-bit epoch wrapped"
    );

    drop(old_trial); // cancelled: it must not free the slot of `trial`
    assert!(
        breaker.try_acquire().is_err(),
        "half_open_allowed_calls = 1: a second trial must be rejected while the first runs"
    );
    drop(trial);
    assert!(
        breaker.try_acquire().is_ok(),
        "the current trial's own cancel frees its slot"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stale_trial_success_from_16384_transitions_ago_does_not_close_the_breaker() {
    let reset_timeout = Duration::from_millis(10);
    let breaker = breaker(consecutive(1, reset_timeout, 2));
    breaker.try_acquire().expect("closed").failure();
    tokio::time::advance(reset_timeout).await;
    let old_trial = breaker.try_acquire().expect("the reset timeout elapsed");
    breaker.reset();
    reach_half_open_after(&breaker, 16_383, reset_timeout).await;
    let trial = breaker.try_acquire().expect("the reset timeout elapsed");
    old_trial.success();
    trial.success();
    assert_eq!(
        breaker.state(),
        CircuitState::HalfOpen,
        "one real trial of two succeeded: the stale success does not count"
    );
}

#[tokio::test(start_paused = true)]
async fn a_permit_admitted_in_closed_16384_transitions_ago_does_not_count_as_a_trial() {
    let reset_timeout = Duration::from_millis(10);
    let breaker = breaker(consecutive(1, reset_timeout, 1));
    let old = breaker.try_acquire().expect("closed");
    reach_half_open_after(&breaker, 16_384, reset_timeout).await;
    let trial = breaker.try_acquire().expect("the reset timeout elapsed");
    old.success();
    assert_eq!(
        breaker.state(),
        CircuitState::HalfOpen,
        "only a trial's success closes a half-open breaker"
    );
    trial.success();
    assert_eq!(breaker.state(), CircuitState::Closed);
}

// ---- 2. deadlines decades away ----

#[tokio::test(start_paused = true)]
async fn force_open_stays_open_for_decades() {
    let breaker = breaker(consecutive(1, Duration::from_secs(1), 1));
    breaker.force_open();
    for _ in 0..4 {
        tokio::time::advance(10 * YEAR).await;
        assert!(breaker.try_acquire().is_err(), "forced open until reset()");
        assert_eq!(breaker.state(), CircuitState::Open);
    }
    breaker.reset();
    assert!(breaker.try_acquire().is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_reset_timeout_of_duration_max_stays_open_for_decades() {
    let breaker = breaker(consecutive(1, Duration::MAX, 1));
    breaker.try_acquire().expect("closed").failure();
    for _ in 0..4 {
        tokio::time::advance(10 * YEAR).await;
        assert!(breaker.try_acquire().is_err());
        assert_eq!(breaker.state(), CircuitState::Open);
    }
}

#[tokio::test(start_paused = true)]
async fn a_breaker_older_than_nine_years_still_stays_open_for_its_reset_timeout() {
    let reset_timeout = Duration::from_secs(10);
    let breaker = breaker(consecutive(1, reset_timeout, 1));
    for age in 1..=3 {
        tokio::time::advance(10 * YEAR).await;
        breaker.try_acquire().expect("closed").failure();
        tokio::time::advance(reset_timeout - Duration::from_millis(1)).await;
        assert!(
            breaker.try_acquire().is_err(),
            "at {}0 years, still open just before the reset timeout",
            age
        );
        // Past 2^47 µs (4.4 years) of age a deadline keeps 43 significant bits, rounded up:
        // late by well under a millisecond at these ages, never early.
        tokio::time::advance(Duration::from_millis(2)).await;
        let trial = breaker.try_acquire().expect("the reset timeout elapsed");
        assert!(trial.is_trial());
        trial.success();
        assert_eq!(breaker.state(), CircuitState::Closed);
    }
}

// ---- 3. sub-microsecond reset timeouts ----

#[tokio::test(start_paused = true)]
async fn a_sub_microsecond_reset_timeout_rounds_up_to_one_microsecond() {
    let breaker = breaker(consecutive(1, Duration::from_nanos(1), 1));
    breaker.try_acquire().expect("closed").failure();
    assert!(
        breaker.try_acquire().is_err(),
        "no time has passed: the reset timeout has not elapsed"
    );
    tokio::time::advance(Duration::from_micros(1)).await;
    assert!(breaker.try_acquire().expect("elapsed").is_trial());
}

// ---- 4. retry delays at the extremes ----

fn extreme_durations() -> Vec<Duration> {
    vec![
        Duration::ZERO,
        Duration::from_nanos(1),
        Duration::from_nanos(999),
        Duration::from_millis(100),
        Duration::from_secs(1),
        Duration::from_secs(u64::MAX / 2),
        Duration::from_secs(u64::MAX),
        Duration::MAX - Duration::from_nanos(1),
        Duration::MAX,
    ]
}

#[test]
fn retry_delays_saturate_and_never_panic_for_any_valid_config() {
    let durations = extreme_durations();
    let jitters = [0.0, f64::MIN_POSITIVE, 0.1, 0.5, 1.0 - f64::EPSILON, 1.0];
    let units = [0.0, 0.5, 1.0 - f64::EPSILON, 1.0, -1.0, 2.0, f64::NAN];
    let retries_done = [
        0,
        1,
        31,
        32,
        33,
        63,
        64,
        65,
        127,
        128,
        129,
        999,
        1000,
        u32::MAX,
    ];
    let mut checked = 0u64;
    for backoff in [Backoff::Exponential, Backoff::Linear, Backoff::Fixed] {
        for &base_delay in &durations {
            for &max_delay in durations.iter().filter(|&&d| d >= base_delay) {
                for max_duration in [
                    None,
                    base_delay.checked_add(Duration::from_nanos(1)),
                    Some(Duration::MAX),
                ] {
                    for max_retries in [0, 1, 1000] {
                        for jitter_factor in jitters {
                            let config = RetryConfig {
                                max_retries,
                                base_delay,
                                max_delay,
                                jitter_factor,
                                backoff,
                                max_duration,
                            };
                            if config.validate().is_err() {
                                continue;
                            }
                            for unit in units {
                                for n in retries_done {
                                    let delay = config.delay(n.saturating_add(1), unit);
                                    assert!(delay <= max_delay, "{config:?} n={n}: {delay:?}");
                                    for elapsed in [Duration::ZERO, Duration::MAX] {
                                        let _ = config.decide(n, elapsed, true, unit);
                                    }
                                    checked += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 10_000, "the grid was explored ({checked} cases)");
}

#[test]
fn exponential_backoff_saturates_at_max_delay_instead_of_stalling_at_2_pow_32_times_base() {
    let config = RetryConfig {
        base_delay: Duration::from_nanos(1),
        max_delay: Duration::MAX,
        jitter_factor: 0.0,
        backoff: Backoff::Exponential,
        max_retries: 1000,
        max_duration: None,
    };
    assert_eq!(config.nominal_delay(1), Duration::from_nanos(1));
    assert_eq!(config.nominal_delay(41), Duration::from_nanos(1 << 40));
    assert_eq!(config.nominal_delay(1000), Duration::MAX);
    assert_eq!(config.delay(1000, 0.5), Duration::MAX);
    assert_eq!(
        config.decide(999, Duration::ZERO, true, 0.5),
        RetryDecision::RetryAfter(Duration::MAX)
    );
}

#[tokio::test(start_paused = true)]
async fn a_facade_retrying_with_duration_max_delays_gives_up_with_the_last_error() {
    let facade = ResilienceFacade::try_with_config(ResilienceConfig {
        retry: RetryConfig {
            max_retries: 1,
            base_delay: Duration::MAX,
            max_delay: Duration::MAX,
            jitter_factor: 1.0,
            ..RetryConfig::DEFAULT
        },
        circuit_breaker: consecutive(10, Duration::from_secs(1), 1),
        ..ResilienceConfig::default()
    })
    .expect("valid configuration");
    let runs = Cell::new(0);
    let result: Result<(), _> = facade
        .execute_without_fallback("edge-retry-max", "op", || {
            runs.set(runs.get() + 1);
            async { Err::<(), BoxError>("down".into()) }
        })
        .await;
    assert!(matches!(result, Err(ResilienceError::Operation(_))));
    assert_eq!(runs.get(), 2, "the first attempt and one retry");
}

// ---- 5. registry names ----

#[test]
fn the_registry_and_breakers_refuse_empty_or_blank_names() {
    let registry = Registry::new();
    for name in ["", " ", "\t\n", "\u{2003}"] {
        let error = registry
            .circuit_breaker_or_register(name, &CircuitBreakerConfig::default())
            .expect_err("a blank breaker name");
        assert_eq!(error.key, "name", "{name:?}: {error}");
        let error = registry
            .bulkhead_or_register(name, &BulkheadConfig::default())
            .expect_err("a blank bulkhead name");
        assert_eq!(error.key, "name", "{name:?}: {error}");
        let error = CircuitBreaker::new(name, CircuitBreakerConfig::default())
            .expect_err("a blank breaker name");
        assert_eq!(error.key, "name", "{name:?}: {error}");
        let error =
            Bulkhead::new(name, BulkheadConfig::default()).expect_err("a blank bulkhead name");
        assert_eq!(error.key, "name", "{name:?}: {error}");
    }
    assert!(registry.circuit_breakers().is_empty());
    assert!(registry.bulkheads().is_empty());
    assert!(
        registry
            .circuit_breaker_or_register(" padded ", &CircuitBreakerConfig::default())
            .is_ok(),
        "a name with visible characters is kept as written"
    );
}

// ---- 6. facade names and registration cost ----

fn quick_facade() -> ResilienceFacade {
    ResilienceFacade::try_with_config(ResilienceConfig {
        retry: RetryConfig {
            max_retries: 0,
            ..RetryConfig::DEFAULT
        },
        timeout: TimeoutConfig {
            timeout: Duration::from_secs(1),
        },
        ..ResilienceConfig::default()
    })
    .expect("valid configuration")
}

#[tokio::test]
async fn facade_names_cannot_collide_a_service_with_a_slash_is_refused() {
    let facade = quick_facade();
    let runs = Cell::new(0);
    let op = || {
        runs.set(runs.get() + 1);
        async { Ok::<_, BoxError>(()) }
    };
    facade
        .execute_without_fallback("edge-collide", "b/c", op)
        .await
        .expect("an operation may contain `/`");
    assert!(
        resilience::registry()
            .circuit_breaker("edge-collide/b/c")
            .is_some(),
        "the contract's name `<service>/<operation>`"
    );
    match facade
        .execute_without_fallback("edge-collide/b", "c", op)
        .await
    {
        Err(ResilienceError::Config(error)) => assert_eq!(error.key, "service", "{error}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
    assert_eq!(runs.get(), 1, "the refused call did not run");
    for (service, operation, key) in [
        ("", "op", "service"),
        (" ", "op", "service"),
        ("svc", "", "operation"),
    ] {
        match facade
            .execute_without_fallback(service, operation, op)
            .await
        {
            Err(ResilienceError::Config(error)) => assert_eq!(error.key, key, "{error}"),
            other => {
                panic!("{service:?}/{operation:?}: expected a configuration error, got {other:?}")
            }
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn registering_a_new_facade_operation_costs_a_bounded_number_of_allocations() {
    let facade = quick_facade();
    let call = |operation: String| {
        let facade = &facade;
        async move {
            facade
                .execute_without_fallback("edge-many", &operation, || async {
                    Ok::<_, BoxError>(())
                })
                .await
                .expect("succeeds");
        }
    };
    let names: Vec<String> = (0..3_000).map(|i| format!("op-{i}")).collect();
    for name in &names[..1_000] {
        call(name.clone()).await;
    }
    // 2,000 more registrations with 1,000 to 3,000 already there: an O(n) copy of the map per
    // registration would make well over a million allocations.
    let ((), allocations) = allocations_during(async {
        for name in &names[1_000..] {
            call(name.clone()).await;
        }
    })
    .await;
    let per_registration = allocations / 2_000;
    assert!(
        per_registration <= 64,
        "{allocations} allocations for 2,000 registrations ({per_registration} each)"
    );

    // An operation already seen: the lookup (and the whole successful call) allocates nothing.
    let seen = names[1_234].clone();
    let ((), allocations) = allocations_during(async {
        for _ in 0..100 {
            facade
                .execute_without_fallback("edge-many", &seen, || async { Ok::<_, BoxError>(()) })
                .await
                .expect("succeeds");
        }
    })
    .await;
    assert_eq!(allocations, 0, "a seen operation's call allocates nothing");
}
