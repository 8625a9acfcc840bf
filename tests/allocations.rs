//! The success path allocates nothing: every policy alone, the whole pipeline, a `CallSite` static
//! after its first call, a function carrying all five attributes, and a `#[discover]` function
//! (pick, in-flight guard, its `ServiceClient`, the outcome report), measured per call by a
//! counting global allocator.
//!
//! The allocator counts per thread (a thread-local `Cell`), so the other tests of this binary,
//! which run on other threads, do not disturb the count; and it counts only while a measured loop
//! is running, so warm-up (registration, the runtime's first use of its timer) is not counted.
//!
//! To find out what allocates when a test fails, rerun it with `RESILIENCE_ALLOC_BACKTRACE=1`:
//! each counted allocation then prints its backtrace to stderr.

// A `GlobalAlloc` impl is unsafe by definition (the trait and all its methods are `unsafe`); the
// one below only counts, then forwards each call unchanged to `std::alloc::System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::backtrace::Backtrace;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use resilience::discovery::{Instance, ServiceClient};
use resilience::{
    Bulkhead, BulkheadConfig, CircuitBreaker, CircuitBreakerConfig, Pipeline, RetryConfig,
};
use resilience::{
    CircuitState, ResilienceError, bulkhead, circuit_breaker, discover, fallback, retry, timeout,
};

struct CountingAllocator;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

thread_local! {
    /// Whether this thread is inside a measured loop.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// Allocations counted on this thread since the measured loop started.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Set once from `RESILIENCE_ALLOC_BACKTRACE` before measuring (reading the environment
/// allocates, so the allocator itself must not).
static BACKTRACES: AtomicBool = AtomicBool::new(false);

impl CountingAllocator {
    fn note_allocation() {
        // `try_with`: the allocator also runs while this thread's locals are being destroyed.
        // Turning counting off while noting keeps the backtrace's own allocations out of the count
        // (and out of infinite recursion).
        if !COUNTING.try_with(|on| on.replace(false)).unwrap_or(false) {
            return;
        }
        let n = ALLOCATIONS.with(|count| {
            count.set(count.get() + 1);
            count.get()
        });
        if BACKTRACES.load(Ordering::Relaxed) {
            eprintln!(
                "allocation #{n} in a measured loop:\n{}",
                Backtrace::force_capture()
            );
        }
        COUNTING.with(|on| on.set(true));
    }
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::note_allocation();
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::note_allocation();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::note_allocation();
        // SAFETY: as above; `ptr` was allocated by `System` through this allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn start_counting() {
    BACKTRACES.store(
        std::env::var_os("RESILIENCE_ALLOC_BACKTRACE").is_some_and(|v| !v.is_empty() && v != "0"),
        Ordering::Relaxed,
    );
    ALLOCATIONS.with(|count| count.set(0));
    COUNTING.with(|on| on.set(true));
}

fn stop_counting() -> u64 {
    COUNTING.with(|on| on.set(false));
    ALLOCATIONS.with(Cell::get)
}

/// Calls made before measuring: the first ones may allocate once (e.g. the timer's setup).
const WARM_UP_CALLS: u64 = 16;
/// Calls measured.
const MEASURED_CALLS: u64 = 1_000;

#[derive(Debug)]
struct OperationError;

impl From<ResilienceError> for OperationError {
    fn from(_: ResilienceError) -> Self {
        OperationError
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime")
}

/// One call through `pipeline` whose operation succeeds with `value`, as generated code makes it.
async fn call(pipeline: &Pipeline<'_>, value: u64) -> u64 {
    let result = pipeline
        .run(
            |_: &OperationError| true,
            |_: &OperationError| true,
            || async move { Ok::<u64, OperationError>(value) },
        )
        .await;
    match result {
        Ok(returned) => returned,
        Err(failure) => panic!("the operation succeeds, yet the pipeline failed: {failure:?}"),
    }
}

/// Warms `pipeline` up, then counts the allocations of [`MEASURED_CALLS`] successful calls.
fn allocations_of_successful_calls(pipeline: Pipeline<'_>) -> u64 {
    runtime().block_on(async {
        for i in 0..WARM_UP_CALLS {
            assert_eq!(call(&pipeline, i).await, i);
        }
        start_counting();
        let mut sum = 0;
        for i in 0..MEASURED_CALLS {
            sum += call(&pipeline, i).await;
        }
        let allocations = stop_counting();
        assert_eq!(sum, MEASURED_CALLS * (MEASURED_CALLS - 1) / 2);
        allocations
    })
}

fn assert_no_allocations(what: &str, allocations: u64) {
    assert_eq!(
        allocations, 0,
        "{what}: {MEASURED_CALLS} successful calls allocated {allocations} times; rerun with \
         RESILIENCE_ALLOC_BACKTRACE=1 to print where"
    );
}

fn breaker(name: &str, config: CircuitBreakerConfig) -> CircuitBreaker {
    CircuitBreaker::new(name, config).expect("a valid breaker configuration")
}

fn bulkhead(name: &str) -> Bulkhead {
    Bulkhead::new(name, BulkheadConfig::DEFAULT).expect("a valid bulkhead configuration")
}

#[test]
fn the_counting_allocator_counts_allocations_in_a_measured_loop() {
    start_counting();
    let boxed = std::hint::black_box(Box::new(7_u64));
    let allocations = stop_counting();
    drop(boxed);
    assert_eq!(allocations, 1);
}

#[test]
fn circuit_breaker_alone_allocates_nothing_per_successful_call() {
    let breaker = breaker(
        "allocations::circuit_breaker_alone",
        CircuitBreakerConfig::DEFAULT,
    );
    let allocations = allocations_of_successful_calls(Pipeline {
        circuit_breaker: Some(&breaker),
        ..Pipeline::default()
    });
    assert_no_allocations("circuit breaker", allocations);
    assert_eq!(breaker.metrics().successful, WARM_UP_CALLS + MEASURED_CALLS);
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[test]
fn circuit_breaker_in_failure_rate_mode_allocates_nothing_per_successful_call() {
    let breaker = breaker(
        "allocations::circuit_breaker_rate_mode",
        CircuitBreakerConfig {
            failure_rate: Some(0.5),
            window: 100,
            ..CircuitBreakerConfig::DEFAULT
        },
    );
    let allocations = allocations_of_successful_calls(Pipeline {
        circuit_breaker: Some(&breaker),
        ..Pipeline::default()
    });
    assert_no_allocations("circuit breaker (failure-rate mode)", allocations);
    assert_eq!(breaker.metrics().successful, WARM_UP_CALLS + MEASURED_CALLS);
}

#[test]
fn retry_alone_allocates_nothing_per_successful_call() {
    let retry = RetryConfig {
        max_duration: Some(Duration::from_secs(60)),
        ..RetryConfig::DEFAULT
    };
    let allocations = allocations_of_successful_calls(Pipeline {
        retry: Some(&retry),
        ..Pipeline::default()
    });
    assert_no_allocations("retry", allocations);
}

#[test]
fn timeout_alone_allocates_nothing_per_successful_call() {
    let allocations = allocations_of_successful_calls(Pipeline {
        timeout: Some(Duration::from_secs(1)),
        ..Pipeline::default()
    });
    assert_no_allocations("timeout", allocations);
}

#[test]
fn bulkhead_alone_allocates_nothing_per_successful_call() {
    let bulkhead = bulkhead("allocations::bulkhead_alone");
    let allocations = allocations_of_successful_calls(Pipeline {
        bulkhead: Some(&bulkhead),
        ..Pipeline::default()
    });
    assert_no_allocations("bulkhead", allocations);
    assert_eq!(bulkhead.in_flight(), 0);
}

#[test]
fn whole_pipeline_allocates_nothing_per_successful_call() {
    let retry = RetryConfig::DEFAULT;
    let breaker = breaker("allocations::whole_pipeline", CircuitBreakerConfig::DEFAULT);
    let bulkhead = bulkhead("allocations::whole_pipeline");
    let allocations = allocations_of_successful_calls(Pipeline {
        retry: Some(&retry),
        circuit_breaker: Some(&breaker),
        timeout: Some(Duration::from_secs(1)),
        bulkhead: Some(&bulkhead),
    });
    assert_no_allocations("retry + circuit breaker + timeout + bulkhead", allocations);
    assert_eq!(breaker.metrics().successful, WARM_UP_CALLS + MEASURED_CALLS);
    assert_eq!(bulkhead.in_flight(), 0);
}

/// Never called on the success path; its value would break the sums below if it were.
async fn fallback_value(_value: u64) -> Result<u64, OperationError> {
    Ok(u64::MAX)
}

#[fallback(fallback_value)]
#[retry]
#[circuit_breaker(name = "allocations::every_attribute")]
#[timeout("1s")]
#[bulkhead(name = "allocations::every_attribute")]
async fn with_every_attribute(value: u64) -> Result<u64, OperationError> {
    Ok(value)
}

#[test]
fn function_with_every_attribute_allocates_nothing_per_successful_call_after_the_first() {
    let allocations = runtime().block_on(async {
        // The first call registers the breaker and the bulkhead (that allocates, once).
        for i in 0..WARM_UP_CALLS {
            assert_eq!(with_every_attribute(i).await.expect("succeeds"), i);
        }
        start_counting();
        let mut sum = 0;
        for i in 0..MEASURED_CALLS {
            sum += with_every_attribute(i).await.expect("succeeds");
        }
        let allocations = stop_counting();
        assert_eq!(sum, MEASURED_CALLS * (MEASURED_CALLS - 1) / 2);
        allocations
    });
    assert_no_allocations(
        "#[fallback] #[retry] #[circuit_breaker] #[timeout] #[bulkhead]",
        allocations,
    );
    let registered = resilience::registry()
        .circuit_breaker("allocations::every_attribute")
        .expect("the first call registered the breaker");
    assert_eq!(
        registered.metrics().successful,
        WARM_UP_CALLS + MEASURED_CALLS
    );
}

#[retry(name = "allocations::overridden", max_retries = 1)]
#[timeout("1s", name = "allocations::overridden")]
#[bulkhead(name = "allocations::overridden", max_concurrent_calls = 2)]
async fn with_overrides(value: u64) -> Result<u64, OperationError> {
    Ok(value)
}

#[test]
fn function_with_overrides_applied_allocates_nothing_per_successful_call() {
    let overrides = resilience::config::Overrides::from_toml(
        "[retry.\"allocations::overridden\"]\nmax_retries = 5\n\
         [timeout.\"allocations::overridden\"]\nduration = \"2s\"\n\
         [bulkhead.\"allocations::overridden\"]\nmax_concurrent_calls = 8\n",
        "allocations.toml",
    )
    .expect("parses");
    resilience::registry().apply(&overrides).expect("applies");
    let allocations = runtime().block_on(async {
        for i in 0..WARM_UP_CALLS {
            assert_eq!(with_overrides(i).await.expect("succeeds"), i);
        }
        start_counting();
        let mut sum = 0;
        for i in 0..MEASURED_CALLS {
            sum += with_overrides(i).await.expect("succeeds");
        }
        let allocations = stop_counting();
        assert_eq!(sum, MEASURED_CALLS * (MEASURED_CALLS - 1) / 2);
        allocations
    });
    assert_no_allocations(
        "#[retry] #[timeout] #[bulkhead] with overrides",
        allocations,
    );
    let bulkhead = resilience::registry()
        .bulkhead("allocations::overridden")
        .expect("registered");
    assert_eq!(bulkhead.max_concurrent_calls(), 8);
}

#[cfg(feature = "metrics")]
#[retry(name = "allocations::metrics")]
#[circuit_breaker(name = "allocations::metrics")]
#[timeout("1s", name = "allocations::metrics")]
#[bulkhead(name = "allocations::metrics")]
async fn with_metrics(value: u64) -> Result<u64, OperationError> {
    Ok(value)
}

/// With the `metrics` feature and a recorder installed (`metrics-util`'s debugging one), every
/// handle is resolved at creation or at the first call: the calls after it allocate nothing.
#[cfg(feature = "metrics")]
#[test]
fn with_a_metrics_recorder_the_success_path_allocates_nothing_after_the_first_call() {
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this binary");
    let allocations = runtime().block_on(async {
        for i in 0..WARM_UP_CALLS {
            assert_eq!(with_metrics(i).await.expect("succeeds"), i);
        }
        start_counting();
        let mut sum = 0;
        for i in 0..MEASURED_CALLS {
            sum += with_metrics(i).await.expect("succeeds");
        }
        let allocations = stop_counting();
        assert_eq!(sum, MEASURED_CALLS * (MEASURED_CALLS - 1) / 2);
        allocations
    });
    assert_no_allocations("four attributes, metrics recorded", allocations);
    // The calls were recorded.
    let recorded = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .any(|(key, _, _, value)| {
            key.key().name() == "resilience_circuit_breaker_calls_total"
                && key
                    .key()
                    .labels()
                    .any(|l| l.value() == "allocations::metrics")
                && value
                    == metrics_util::debugging::DebugValue::Counter(WARM_UP_CALLS + MEASURED_CALLS)
        });
    assert!(recorded, "the breaker's successes are in the recorder");
}

/// The port of the instance the call was given (no request: what the framework costs).
#[discover("allocations-svc")]
#[circuit_breaker(name = "allocations::discover")]
async fn with_discover(client: ServiceClient, value: u64) -> Result<u64, OperationError> {
    Ok(value + u64::from(client.instance().port) - 9000)
}

#[test]
fn discover_function_allocates_nothing_per_successful_call_after_the_first() {
    let allocations = runtime().block_on(async {
        // Registration, the route's first table and the shared HTTP client allocate, once.
        resilience::discovery::global()
            .register(Instance::new("allocations-svc", "only", "127.0.0.1", 9000))
            .expect("a well-formed instance");
        for i in 0..WARM_UP_CALLS {
            assert_eq!(with_discover(i).await.expect("succeeds"), i);
        }
        start_counting();
        let mut sum = 0;
        for i in 0..MEASURED_CALLS {
            sum += with_discover(i).await.expect("succeeds");
        }
        let allocations = stop_counting();
        assert_eq!(sum, MEASURED_CALLS * (MEASURED_CALLS - 1) / 2);
        allocations
    });
    assert_no_allocations("#[discover] #[circuit_breaker]", allocations);
}
