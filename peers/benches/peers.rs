//! The peer benchmark: each of our policies against the crates a user would pick instead, in one
//! process, each row against a bare baseline measured in the same run.
//!
//! Peers: failsafe 1.3 and recloser 1.4 (breakers), tower-resilience 0.13 (every policy, and the
//! whole stack), backon 1.6 and tokio-retry2 0.9 (retry), tower 0.5 (`retry`, `timeout`,
//! `ConcurrencyLimit`, `balance::p2c` with `PeakEwma`), tokio's `Semaphore` and `timeout`.
//!
//! Every variant runs the same operation, `bare()`: an `async fn` returning `Ok(42)` through
//! `black_box`, on the success path, on a current-thread runtime (one per measuring thread).
//! Ours are applied as users apply them: the attributes, `ResilienceFacade::execute`,
//! `Pipeline::run`, `ServiceDiscovery::pick` + `report`. Peers are applied as their docs show,
//! tower services called with `ready().await` then `call(())`.
//!
//! # How it measures
//!
//! - The clock is on-CPU time (`benches/support/on_cpu_time.rs`, shared with the workspace's
//!   `overhead` bench): wall time minus the time the thread waited for a CPU, so the figures hold
//!   on a shared machine.
//! - A batch is `calls` calls of one variant in one `block_on`, sized once so that a batch takes
//!   about `PEERS_BATCH_MS` (default 10 ms). A round runs one batch of every variant of every
//!   row, in order; `PEERS_ROUNDS` rounds (default 21) are run, so every variant is interleaved
//!   with every other, and each figure is the median over the rounds. Each round starts one row
//!   further on, after an unrecorded pass over that row (what ran first in a round sometimes
//!   ran several times slower).
//!   The balancer rows run in rounds of their own, after the others (`PEERS_MAX_INSTANCES`,
//!   default 10,000, drops the larger sizes).
//! - Allocations are counted by a counting global allocator (a per-thread count, so the two
//!   threads of a two-thread row count their own), over every measured call, while the variant's
//!   own code runs: making its future and each poll of it (not the runtime parking between two
//!   polls). Every variant, the bare one included, pays the same few thread-local writes for it.
//! - Two-thread rows run the batch on two std threads at once, each pinned to its own CPU
//!   (Linux), started by a barrier and then spinning until both are on a CPU, on one shared
//!   policy; the figure is the mean of the two threads' ns per call on the on-CPU clock (which
//!   subtracts run-queue waits, not time spent parked on a peer's lock). A two-thread batch is a
//!   quarter of the one-thread batch. Each thread stamps the time every 1/128 of its batch; a
//!   stretch between two stamps no longer than twice the median stretch counts as progressing.
//!   Reported: the share of the two threads' span in which both were inside their batch, and
//!   the share in which both were progressing. A figure with both low did not measure
//!   contention; one with the first high and the second low measured a policy that serialises
//!   its callers (a `Mutex`: one thread parks while the other runs). Each round tries a
//!   two-thread batch up to eight times, keeping the one where the threads were most together
//!   (stopping once both progressed at once for 80 % of the span).
//!
//! Output: the tables in Markdown on stdout (what `scripts/bench` writes into `BENCHMARKS.md`).
//!
//! Run: `cargo bench -p resilience-peers --bench peers` (about three minutes on a shared 2-core
//! machine, most of it the two-thread tries and the balancers at 10^4 instances). `cargo test
//! --all-targets` runs every variant a few times and prints nothing.

// A `GlobalAlloc` impl is unsafe by definition; the one below only counts, then forwards each
// call unchanged to `std::alloc::System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use backon::Retryable;
use resilience::{
    Balancer, Bulkhead, BulkheadConfig, CallOutcome, CircuitBreaker, CircuitBreakerConfig,
    DiscoveryConfig, Instance, Pipeline, ResilienceConfig, ResilienceError, ResilienceFacade,
    RetryConfig, Route, ServiceDiscovery, bulkhead, circuit_breaker, fallback, retry, timeout,
};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tower::{Layer, Service, ServiceExt};

#[path = "../../benches/support/on_cpu_time.rs"]
mod on_cpu_time;

use on_cpu_time::OnCpuTime;

// ---------------------------------------------------------------------------------------------
// Counting allocator

struct CountingAllocator;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

thread_local! {
    /// Whether this thread is inside a variant's code (see `Counting`).
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// Allocations made by this thread inside a variant's code so far.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn allocations() -> u64 {
    ALLOCATIONS.try_with(Cell::get).unwrap_or(0)
}

fn note_allocation() {
    // `try_with`: the allocator also runs while this thread's locals are destroyed.
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
    }
}

/// Counts this thread's allocations while it lives: around a variant's call and each poll of
/// its future, so that what the runtime allocates when it parks between polls (tokio's driver,
/// a few times per `block_on` that sleeps) is not charged to the variant.
struct Counting(bool);

impl Counting {
    fn on() -> Counting {
        Counting(COUNTING.with(|counting| counting.replace(true)))
    }
}

impl Drop for Counting {
    fn drop(&mut self) {
        COUNTING.with(|counting| counting.set(self.0));
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
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

// ---------------------------------------------------------------------------------------------
// The operation, and ours

/// The operation's own error type, as a user's would be.
#[derive(Debug, Clone)]
struct OperationError;

impl std::fmt::Display for OperationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("operation failed")
    }
}

impl std::error::Error for OperationError {}

impl From<ResilienceError> for OperationError {
    fn from(_: ResilienceError) -> Self {
        OperationError
    }
}

type Outcome = Result<u64, OperationError>;

/// The operation every variant runs.
async fn bare() -> Outcome {
    Ok(black_box(42))
}

/// The fallback of the stacks (never called on the success path).
async fn fallback_value() -> Outcome {
    Ok(black_box(0))
}

thread_local! {
    /// The attempt `flaky` is at, per thread: 0, 1 and 2 fail, 3 succeeds, then again.
    static ATTEMPT: Cell<u8> = const { Cell::new(0) };
}

/// Fails three times, then succeeds (and starts over): each retrying call makes four attempts.
async fn flaky() -> Outcome {
    let attempt = ATTEMPT.with(|a| a.replace((a.get() + 1) % 4));
    if black_box(attempt) < 3 {
        Err(OperationError)
    } else {
        Ok(black_box(42))
    }
}

/// The baseline of the three-failures row: the four attempts in a bare loop.
async fn flaky_by_hand() -> Outcome {
    loop {
        if let Ok(value) = flaky().await {
            return Ok(value);
        }
    }
}

#[circuit_breaker(name = "peers::breaker")]
async fn ours_breaker() -> Outcome {
    bare().await
}

#[circuit_breaker(name = "peers::breaker_shared")]
async fn ours_breaker_shared() -> Outcome {
    bare().await
}

#[circuit_breaker(name = "peers::breaker_rate", failure_rate = 0.5, window = 100)]
async fn ours_breaker_rate() -> Outcome {
    bare().await
}

#[bulkhead(name = "peers::bulkhead")]
async fn ours_bulkhead() -> Outcome {
    bare().await
}

#[bulkhead(name = "peers::bulkhead_shared")]
async fn ours_bulkhead_shared() -> Outcome {
    bare().await
}

#[retry]
async fn ours_retry() -> Outcome {
    bare().await
}

#[retry(max_retries = 3, base_delay = "0ms", jitter_factor = 0.0)]
async fn ours_retry_flaky() -> Outcome {
    flaky().await
}

#[timeout("1s")]
async fn ours_timeout() -> Outcome {
    bare().await
}

/// The bare call after one `Pending` (a future that wakes itself at once, as I/O that is
/// ready on the next poll does): the body of the timeout row in which every timer is armed.
async fn bare_after_one_wait() -> Outcome {
    let mut waited = false;
    std::future::poll_fn(|cx| {
        if waited {
            std::task::Poll::Ready(())
        } else {
            waited = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
    bare().await
}

#[timeout("1s")]
async fn ours_timeout_after_one_wait() -> Outcome {
    bare_after_one_wait().await
}

#[fallback(fallback_value)]
#[retry]
#[circuit_breaker(name = "peers::stack")]
#[timeout("1s")]
#[bulkhead(name = "peers::stack")]
async fn ours_stack() -> Outcome {
    bare().await
}

const TIMEOUT: Duration = Duration::from_secs(1);
/// The bulkheads' size: ours by default, and the peers'.
const PERMITS: usize = BulkheadConfig::DEFAULT.max_concurrent_calls;

static FACADE: LazyLock<ResilienceFacade> =
    LazyLock::new(|| ResilienceFacade::with_config(ResilienceConfig::default()));

/// The same five policies through `ResilienceFacade::execute`.
async fn ours_facade() -> Outcome {
    FACADE
        .execute(
            "peers",
            "stack",
            || async { bare().await.map_err(Into::into) },
            Some(|| async { Ok::<_, resilience::BoxError>(black_box(0)) }),
        )
        .await
        .map_err(|_| OperationError)
}

static PIPELINE_BREAKER: LazyLock<CircuitBreaker> = LazyLock::new(|| {
    CircuitBreaker::new("peers::pipeline", CircuitBreakerConfig::default()).expect("valid")
});
static PIPELINE_BULKHEAD: LazyLock<Bulkhead> =
    LazyLock::new(|| Bulkhead::new("peers::pipeline", BulkheadConfig::default()).expect("valid"));
static PIPELINE_RETRY: RetryConfig = RetryConfig::DEFAULT;

async fn run_pipeline(pipeline: Pipeline<'_>, with_fallback: bool) -> Outcome {
    match pipeline
        .run(|_: &OperationError| true, |_: &OperationError| true, bare)
        .await
    {
        Ok(value) => Ok(value),
        Err(_) if with_fallback => fallback_value().await,
        Err(_) => Err(OperationError),
    }
}

/// The counter of [`bare_and_locked_add`], shared by every thread.
static SHARED_COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The bare call and one `fetch_add` on a shared counter: what counting each success exactly
/// costs at least (our breaker's success path is that add, on a per-thread stripe, and two
/// loads of its state word).
async fn bare_and_locked_add() -> Outcome {
    let outcome = bare().await;
    SHARED_COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    outcome
}

/// The bare call between two `fetch_add`s on a shared counter: what a bulkhead whose slots
/// are one shared word pays at least (a read-modify-write to take a slot, one to give it back).
async fn bare_and_two_locked_adds() -> Outcome {
    SHARED_COUNT.fetch_add(1, std::sync::atomic::Ordering::Acquire);
    let outcome = bare().await;
    SHARED_COUNT.fetch_sub(1, std::sync::atomic::Ordering::Release);
    outcome
}

/// The same five policies through `Pipeline::run`, the fallback called on `Err`.
async fn ours_pipeline_stack() -> Outcome {
    run_pipeline(
        Pipeline {
            retry: Some(&PIPELINE_RETRY),
            circuit_breaker: Some(&PIPELINE_BREAKER),
            timeout: Some(TIMEOUT),
            bulkhead: Some(&PIPELINE_BULKHEAD),
        },
        true,
    )
    .await
}

async fn ours_pipeline_breaker() -> Outcome {
    let pipeline = Pipeline {
        circuit_breaker: Some(&PIPELINE_BREAKER),
        ..Pipeline::default()
    };
    run_pipeline(pipeline, false).await
}

async fn ours_pipeline_retry() -> Outcome {
    let pipeline = Pipeline {
        retry: Some(&PIPELINE_RETRY),
        ..Pipeline::default()
    };
    run_pipeline(pipeline, false).await
}

async fn ours_pipeline_timeout() -> Outcome {
    let pipeline = Pipeline {
        timeout: Some(TIMEOUT),
        ..Pipeline::default()
    };
    run_pipeline(pipeline, false).await
}

async fn ours_pipeline_bulkhead() -> Outcome {
    let pipeline = Pipeline {
        bulkhead: Some(&PIPELINE_BULKHEAD),
        ..Pipeline::default()
    };
    run_pipeline(pipeline, false).await
}

// ---------------------------------------------------------------------------------------------
// The peers

/// `bare()` as a tower service. The future is `bare()`'s own (no box): `service_fn` over a
/// closure returning it.
fn bare_service()
-> impl Service<(), Response = u64, Error = OperationError, Future: Send> + Clone + Send + 'static {
    tower::service_fn(|()| bare())
}

fn flaky_service()
-> impl Service<(), Response = u64, Error = OperationError, Future: Send> + Clone + Send + 'static {
    tower::service_fn(|()| flaky())
}

/// A failsafe breaker that opens after five consecutive failures (ours' default).
fn failsafe_consecutive() -> impl failsafe::futures::CircuitBreaker + Clone + Send + Sync + 'static
{
    let backoff = failsafe::backoff::constant(Duration::from_secs(5));
    failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::consecutive_failures(5, backoff))
        .build()
}

/// A failsafe breaker on a success rate (50 % over 10 s, at least 100 calls).
fn failsafe_rate() -> impl failsafe::futures::CircuitBreaker + Clone + Send + Sync + 'static {
    let backoff = failsafe::backoff::constant(Duration::from_secs(5));
    failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::success_rate_over_time_window(
            0.5,
            100,
            Duration::from_secs(10),
            backoff,
        ))
        .build()
}

/// tokio-retry2: three retries with no delay.
async fn tokio_retry2_call<F, Fut>(operation: F) -> Outcome
where
    F: Fn() -> Fut,
    Fut: Future<Output = Outcome>,
{
    let strategy = tokio_retry2::strategy::FixedInterval::from_millis(0).take(3);
    tokio_retry2::Retry::spawn(strategy, || async {
        operation()
            .await
            .map_err(tokio_retry2::RetryError::transient)
    })
    .await
}

/// backon: three retries with no delay.
fn backon_policy() -> backon::ConstantBuilder {
    backon::ConstantBuilder::new()
        .with_delay(Duration::ZERO)
        .with_max_times(3)
}

/// tower's `retry`: a policy of three retries, no delay.
#[derive(Debug, Clone, Copy)]
struct Attempts(u32);

impl<E> tower::retry::Policy<(), u64, E> for Attempts {
    type Future = std::future::Ready<()>;

    fn retry(&mut self, _: &mut (), result: &mut Result<u64, E>) -> Option<Self::Future> {
        match result {
            Err(_) if self.0 > 0 => {
                self.0 -= 1;
                Some(std::future::ready(()))
            }
            _ => None,
        }
    }

    fn clone_request(&mut self, (): &()) -> Option<()> {
        Some(())
    }
}

static SEMAPHORE: Semaphore = Semaphore::const_new(PERMITS);
static SEMAPHORE_SHARED: Semaphore = Semaphore::const_new(PERMITS);
static SEMAPHORE_STACK: Semaphore = Semaphore::const_new(PERMITS);

// ---------------------------------------------------------------------------------------------
// Measuring

/// One call of a variant.
trait Operation {
    fn call(&mut self) -> impl Future<Output = Outcome>;
}

/// An `async fn` or closure returning a future.
struct Closure<F>(F);

impl<F, Fut> Operation for Closure<F>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Outcome>,
{
    fn call(&mut self) -> impl Future<Output = Outcome> {
        (self.0)()
    }
}

/// A tower service, called as tower's users call it: `ready().await`, then `call(())`.
struct Tower<S>(S);

impl<S> Operation for Tower<S>
where
    S: Service<(), Response = u64>,
{
    async fn call(&mut self) -> Outcome {
        let service = self.0.ready().await.map_err(|_| OperationError)?;
        service.call(()).await.map_err(|_| OperationError)
    }
}

/// What one thread measured in one batch.
#[derive(Debug, Clone)]
struct Batch {
    calls: u64,
    on_cpu: Duration,
    allocations: u64,
    /// When the thread had made each 1/128 of its calls (first: started, last: done).
    stamps: Vec<Instant>,
}

thread_local! {
    static RUNTIME: Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
}

/// Runs `calls` calls of `operation` on this thread's runtime.
fn measure<O: Operation>(operation: &mut O, calls: u64) -> Batch {
    let stride = (calls / 128).max(1);
    let mut stamps = Vec::with_capacity((calls / stride) as usize + 2);
    RUNTIME.with(|runtime| {
        runtime.block_on(async {
            let allocations_before = allocations();
            stamps.push(Instant::now());
            let started = OnCpuTime::begin();
            for call in 1..=calls {
                let future = {
                    let _counting = Counting::on();
                    operation.call()
                };
                let mut future = pin!(future);
                let outcome = black_box(
                    std::future::poll_fn(|cx| {
                        let _counting = Counting::on();
                        future.as_mut().poll(cx)
                    })
                    .await,
                );
                assert!(outcome.is_ok(), "a variant failed on the success path");
                if call % stride == 0 {
                    stamps.push(Instant::now());
                }
            }
            let on_cpu = OnCpuTime::finish(started);
            let allocations = allocations() - allocations_before;
            stamps.push(Instant::now());
            Batch {
                calls,
                on_cpu,
                allocations,
                stamps,
            }
        })
    })
}

/// A variant, ready to measure `calls` calls on the calling thread.
type Runner = Box<dyn Fn(u64) -> Batch + Send + Sync>;

/// A variant from something that makes its operation (once per batch, not timed).
fn runner<O: Operation>(make: impl Fn() -> O + Send + Sync + 'static) -> Runner {
    Box::new(move |calls| measure(&mut make(), calls))
}

/// A variant calling `operation`.
fn call<F, Fut>(operation: F) -> Runner
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Outcome>,
{
    runner(move || Closure(operation.clone()))
}

/// A variant calling a tower service (each batch on a clone, which shares the policy's state).
fn tower<S>(service: S) -> Runner
where
    S: Service<(), Response = u64> + Clone + Send + 'static,
{
    let service = Mutex::new(service);
    runner(move || Tower(service.lock().unwrap_or_else(|e| e.into_inner()).clone()))
}

/// What a variant is to its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// The bare baseline.
    Bare,
    /// Ours: what the row's goal is about.
    Ours,
    /// Ours too, the reference the goal compares with (`Pipeline::run` against the attribute).
    Reference,
    /// A peer crate.
    Peer,
    /// Not a policy: the cost of one operation every exact, shared count pays (shown in the
    /// row's table, to say how close to its floor a row is).
    Floor,
}

struct Variant {
    name: &'static str,
    side: Side,
    runner: Runner,
    calls: u64,
    /// ns per call of each round.
    per_call: Vec<f64>,
    /// Overlap of the two threads in each round (two-thread rows): both progressing, and both
    /// inside their batch.
    overlap: Vec<f64>,
    window_overlap: Vec<f64>,
    allocations: u64,
    measured_calls: u64,
}

/// What a row must show.
#[derive(Debug, Clone, Copy)]
enum Goal {
    /// The best peer's overhead over bare is at least this many times ours.
    LessOverhead(f64),
    /// The best peer's ns per call is at least this many times ours.
    Faster(f64),
    /// Ours costs at most this many times the reference.
    AtMostReference(f64),
    /// Ours' overhead over bare is at most this many times the reference's.
    OverheadAtMostReference(f64),
    /// Only reported.
    None,
}

struct Row {
    title: String,
    threads: usize,
    goal: Goal,
    variants: Vec<Variant>,
}

impl Row {
    fn new(title: impl Into<String>, threads: usize, goal: Goal) -> Row {
        Row {
            title: title.into(),
            threads,
            goal,
            variants: Vec::new(),
        }
    }

    fn with(mut self, name: &'static str, side: Side, runner: Runner) -> Row {
        self.variants.push(Variant {
            name,
            side,
            runner,
            calls: 0,
            per_call: Vec::new(),
            overlap: Vec::new(),
            window_overlap: Vec::new(),
            allocations: 0,
            measured_calls: 0,
        });
        self
    }
}

/// Runs one batch of `runner` on `threads` threads at once: the batches, one per thread.
fn run_batch(runner: &Runner, calls: u64, threads: usize) -> Vec<Batch> {
    if threads == 1 {
        return vec![runner(calls)];
    }
    let start = std::sync::Barrier::new(threads);
    let on_cpu = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let running: Vec<_> = (0..threads)
            .map(|index| {
                let (runner, start, on_cpu) = (&runner, &start, &on_cpu);
                scope.spawn(move || {
                    pin_to_cpu(index);
                    // The runtime and the thread's first allocations before the barrier.
                    runner(1);
                    start.wait();
                    // Then spin until every thread is on a CPU (or 50 ms have passed): a thread
                    // woken by the barrier may still be waiting for a CPU.
                    on_cpu.fetch_add(1, Ordering::AcqRel);
                    let spinning = Instant::now();
                    while on_cpu.load(Ordering::Acquire) < threads
                        && spinning.elapsed() < Duration::from_millis(50)
                    {
                        std::hint::spin_loop();
                    }
                    runner(calls)
                })
            })
            .collect();
        running
            .into_iter()
            .map(|thread| thread.join().expect("a measuring thread"))
            .collect()
    })
}

/// Pins this thread to CPU `index` (modulo the CPUs this process may use), so that the two
/// threads of a two-thread row run on two CPUs: left to itself, the scheduler often queues a
/// new thread behind its parent on the same CPU while the other is busy with other processes,
/// and the two then never run at once.
#[cfg(target_os = "linux")]
fn pin_to_cpu(index: usize) {
    // SAFETY: `cpu_set_t` is plain data (all zeroes is an empty set); `sched_getaffinity` and
    // `sched_setaffinity` read and write exactly `size_of::<cpu_set_t>()` bytes of it, and pid 0
    // is the calling thread.
    unsafe {
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        if libc::sched_getaffinity(0, size, &mut allowed) != 0 {
            return;
        }
        let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &allowed))
            .collect();
        if cpus.len() < 2 {
            return;
        }
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpus[index % cpus.len()], &mut one);
        libc::sched_setaffinity(0, size, &one);
    }
}

#[cfg(not(target_os = "linux"))]
fn pin_to_cpu(_index: usize) {}

/// The stretches in which a thread was running: between two stamps, no longer than twice the
/// median stretch.
fn running_stretches(stamps: &[Instant]) -> Vec<(Instant, Instant)> {
    let stretches: Vec<(Instant, Instant)> = stamps.windows(2).map(|w| (w[0], w[1])).collect();
    let mut lengths: Vec<Duration> = stretches.iter().map(|(a, b)| *b - *a).collect();
    lengths.sort();
    let Some(&median) = lengths.get(lengths.len() / 2) else {
        return Vec::new();
    };
    stretches
        .into_iter()
        .filter(|(a, b)| *b - *a <= median * 2)
        .collect()
}

/// The share of the threads' span in which both of the first two were running.
fn overlap(batches: &[Batch]) -> f64 {
    let (Some(first), Some(second)) = (batches.first(), batches.get(1)) else {
        return 0.0;
    };
    let (a, b) = (
        running_stretches(&first.stamps),
        running_stretches(&second.stamps),
    );
    let (mut i, mut j, mut both) = (0, 0, Duration::ZERO);
    while i < a.len() && j < b.len() {
        let start = a[i].0.max(b[j].0);
        let end = a[i].1.min(b[j].1);
        if end > start {
            both += end - start;
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    let begin = first.stamps[0].min(second.stamps[0]);
    let end = first.stamps[first.stamps.len() - 1].max(second.stamps[second.stamps.len() - 1]);
    let span = end - begin;
    if span.is_zero() {
        0.0
    } else {
        both.as_secs_f64() / span.as_secs_f64()
    }
}

/// The share of the threads' span in which the first two were both inside their batch (between
/// their first and last stamps), running or not.
fn window_overlap(batches: &[Batch]) -> f64 {
    let (Some(first), Some(second)) = (batches.first(), batches.get(1)) else {
        return 0.0;
    };
    let (a_start, a_end) = (first.stamps[0], first.stamps[first.stamps.len() - 1]);
    let (b_start, b_end) = (second.stamps[0], second.stamps[second.stamps.len() - 1]);
    let span = a_end.max(b_end) - a_start.min(b_start);
    let both = a_end
        .min(b_end)
        .saturating_duration_since(a_start.max(b_start));
    if span.is_zero() {
        0.0
    } else {
        both.as_secs_f64() / span.as_secs_f64()
    }
}

/// How well a two-thread batch measured contention: both threads progressing at once, then both
/// inside their batch at once (a lock that serialises them keeps the first at 0 whatever the
/// scheduler does).
fn together(batches: &[Batch]) -> f64 {
    overlap(batches) + window_overlap(batches)
}

fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Tries per round of a two-thread batch (the one where the threads overlapped most is kept).
const TWO_THREAD_TRIES: usize = 8;

/// Sizes each variant's batch, then runs `rounds` rounds of every variant of every row.
fn measure_rows(rows: &mut [Row], rounds: usize, batch_time: Duration, calibrate: bool) {
    if rows.is_empty() {
        return;
    }
    for row in rows.iter_mut() {
        for variant in &mut row.variants {
            // Warm-up (registration, the runtime's timer), then the batch size: from 10 calls
            // first, so that a variant of milliseconds per call is not probed for long.
            // (The first calls register the policies: a probe that included them sized the
            // first breaker's batches at 2,000 calls, whose fixed cost then added 10 ns a call.)
            (variant.runner)(10);
            let probe = (variant.runner)(10);
            variant.calls = if calibrate {
                let mut per_call = probe.on_cpu.as_secs_f64() / 10.0;
                if per_call * 2_000.0 < batch_time.as_secs_f64() {
                    per_call = (variant.runner)(2_000).on_cpu.as_secs_f64() / 2_000.0;
                }
                ((batch_time.as_secs_f64() / per_call.max(1e-9)) as u64).clamp(5, 5_000_000)
            } else {
                20
            };
        }
    }
    let count = rows.len();
    for round in 0..rounds {
        // Each round starts at the next row, after an unrecorded pass over it: in some rounds
        // whatever ran first ran several times slower (a bare call of 4.6 ns came out 16-21 ns,
        // for tens of milliseconds; the cause was not found). Rotating spreads what is left of
        // it over every row, in one round in `count`, below the median.
        for variant in &rows[round % count].variants {
            (variant.runner)(variant.calls);
        }
        for index in 0..count {
            let row = &mut rows[(round + index) % count];
            for variant in &mut row.variants {
                let batches = if row.threads == 1 {
                    run_batch(&variant.runner, variant.calls, 1)
                } else {
                    // A quarter of the batch per thread: short enough to fit in the time both
                    // threads get a CPU at once.
                    let calls = (variant.calls / 4).max(5);
                    // Contention is measured only while both threads run: on a shared machine
                    // they often do not, so of up to eight tries the batch where they overlapped
                    // most is kept.
                    let mut best = run_batch(&variant.runner, calls, row.threads);
                    for _ in 1..TWO_THREAD_TRIES {
                        if overlap(&best) >= 0.8 {
                            break;
                        }
                        let next = run_batch(&variant.runner, calls, row.threads);
                        if together(&next) > together(&best) {
                            best = next;
                        }
                    }
                    best
                };
                let calls: u64 = batches.iter().map(|batch| batch.calls).sum();
                let on_cpu: Duration = batches.iter().map(|batch| batch.on_cpu).sum();
                variant
                    .per_call
                    .push(on_cpu.as_secs_f64() * 1e9 / calls as f64);
                variant.allocations += batches.iter().map(|batch| batch.allocations).sum::<u64>();
                variant.measured_calls += calls;
                if row.threads > 1 {
                    variant.overlap.push(overlap(&batches));
                    variant.window_overlap.push(window_overlap(&batches));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Balancers

const SERVICE: &str = "peers";

/// One instance as a tower service: always ready, answers with the instance.
#[derive(Debug, Clone)]
struct InstanceService(Arc<Instance>);

impl Service<()> for InstanceService {
    type Response = Arc<Instance>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Arc<Instance>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, (): ()) -> Self::Future {
        std::future::ready(Ok(Arc::clone(&self.0)))
    }
}

type TowerPeakEwma = tower::balance::p2c::Balance<
    tower::discover::ServiceList<Vec<tower::load::PeakEwma<InstanceService>>>,
    (),
>;

/// One pick on tower's balancer: ready, call, and the answer polled, which is when `PeakEwma`
/// records the latency (its handle is dropped with the response).
fn tower_pick(balance: &mut TowerPeakEwma) {
    let mut cx = Context::from_waker(Waker::noop());
    match balance.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        _ => panic!("tower's balancer has ready instances"),
    }
    match pin!(balance.call(())).poll(&mut cx) {
        Poll::Ready(Ok(instance)) => drop(black_box(instance)),
        _ => panic!("the instance answers at once"),
    }
}

/// `n` instances in a discovery with a P2C route, and tower's p2c over the same instances.
fn balancer_rows(sizes: &[usize]) -> Vec<Row> {
    sizes
        .iter()
        .map(|&n| {
            let discovery = ServiceDiscovery::with_config(DiscoveryConfig {
                max_instances: n,
                ..Default::default()
            });
            for index in 0..n {
                discovery
                    .register(Instance::new(
                        SERVICE,
                        format!("i{index:05}"),
                        "10.0.0.1",
                        8080,
                    ))
                    .expect("a well-formed instance within max_instances");
            }
            let instances: Vec<Arc<Instance>> = discovery
                .discover(SERVICE)
                .expect("instances")
                .into_iter()
                .map(Arc::new)
                .collect();
            let services = instances
                .iter()
                .map(|instance| {
                    tower::load::PeakEwma::new(
                        InstanceService(Arc::clone(instance)),
                        Duration::from_millis(30),
                        Duration::from_secs(10).as_nanos() as f64,
                        tower::load::CompleteOnResponse::default(),
                    )
                })
                .collect();
            let balance: Arc<Mutex<TowerPeakEwma>> = Arc::new(Mutex::new(
                tower::balance::p2c::Balance::new(tower::discover::ServiceList::new(services)),
            ));
            let route = Arc::new(Route::new(SERVICE).balancer(Balancer::P2cPeakEwma));
            let discovery = Arc::new(discovery);
            let instances = Arc::new(instances);
            let tower_runner: Runner = Box::new(move |calls| {
                let mut balance = balance.lock().unwrap_or_else(|e| e.into_inner());
                measure(
                    &mut Closure(|| {
                        tower_pick(&mut balance);
                        std::future::ready(Ok(1))
                    }),
                    calls,
                )
            });
            Row::new(
                format!("P2C pick + latency report, n = {n}"),
                1,
                Goal::Faster(10.0),
            )
            .with(
                "bare: a random instance of a Vec",
                Side::Bare,
                call(move || {
                    let instance = Arc::clone(&instances[fastrand::usize(..instances.len())]);
                    drop(black_box(instance));
                    std::future::ready(Ok(1))
                }),
            )
            .with(
                "floor: two clock reads (a latency's start at the pick, its end at the report)",
                Side::Floor,
                call(|| {
                    let started = std::time::Instant::now();
                    black_box(started.elapsed());
                    std::future::ready(Ok(1))
                }),
            )
            .with(
                "ours: `pick` + `report` (P2C peak-EWMA)",
                Side::Ours,
                call(move || {
                    let call = discovery
                        .pick(&route, |_| false)
                        .expect("an eligible instance");
                    discovery.report(call, CallOutcome::Success);
                    std::future::ready(Ok(1))
                }),
            )
            .with("tower p2c `PeakEwma`", Side::Peer, tower_runner)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The rows

fn breaker_variants(row: Row, shared: bool) -> Row {
    let failsafe = failsafe_consecutive();
    let recloser = Arc::new(recloser::AsyncRecloser::from(recloser::Recloser::default()));
    let tower_resilience = tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
        .consecutive_failures(5)
        .build()
        .expect("a valid breaker")
        .layer(bare_service());
    let ours = if shared {
        call(ours_breaker_shared)
    } else {
        call(ours_breaker)
    };
    row.with("bare", Side::Bare, call(bare))
        .with("ours: `#[circuit_breaker]`", Side::Ours, ours)
        .with(
            "floor: bare + one locked add on a shared counter",
            Side::Floor,
            call(bare_and_locked_add),
        )
        .with(
            "failsafe (consecutive failures)",
            Side::Peer,
            call(move || {
                let failsafe = failsafe.clone();
                async move {
                    failsafe::futures::CircuitBreaker::call(&failsafe, bare())
                        .await
                        .map_err(|_| OperationError)
                }
            }),
        )
        .with(
            "recloser (`AsyncRecloser`)",
            Side::Peer,
            call(move || {
                let recloser = Arc::clone(&recloser);
                async move { recloser.call(bare()).await.map_err(|_| OperationError) }
            }),
        )
        .with(
            "tower-resilience `CircuitBreaker` (consecutive)",
            Side::Peer,
            tower(tower_resilience),
        )
}

fn rows() -> Vec<Row> {
    let mut rows = vec![
        breaker_variants(
            Row::new("breaker, closed, 1 thread", 1, Goal::LessOverhead(5.0)),
            false,
        ),
        breaker_variants(
            Row::new("breaker, 2 threads on one breaker", 2, Goal::Faster(20.0)),
            true,
        ),
    ];

    let failsafe = failsafe_rate();
    let recloser = Arc::new(recloser::AsyncRecloser::from(recloser::Recloser::default()));
    rows.push(
        Row::new(
            "breaker in rate mode (50 % of 100 calls), 1 thread",
            1,
            Goal::LessOverhead(3.0),
        )
        .with("bare", Side::Bare, call(bare))
        .with(
            "ours: `#[circuit_breaker(failure_rate = 0.5, window = 100)]`",
            Side::Ours,
            call(ours_breaker_rate),
        )
        .with(
            "recloser (ring buffer of 100)",
            Side::Peer,
            call(move || {
                let recloser = Arc::clone(&recloser);
                async move { recloser.call(bare()).await.map_err(|_| OperationError) }
            }),
        )
        .with(
            "failsafe (success rate over 10 s)",
            Side::Peer,
            call(move || {
                let failsafe = failsafe.clone();
                async move {
                    failsafe::futures::CircuitBreaker::call(&failsafe, bare())
                        .await
                        .map_err(|_| OperationError)
                }
            }),
        )
        .with(
            "tower-resilience `CircuitBreaker` (count window of 100)",
            Side::Peer,
            tower(
                tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
                    .failure_rate_threshold(0.5)
                    .sliding_window_size(100)
                    .build()
                    .expect("a valid breaker")
                    .layer(bare_service()),
            ),
        ),
    );

    for (threads, goal) in [(1, Goal::None), (2, Goal::Faster(2.0))] {
        let (ours, semaphore): (Runner, &'static Semaphore) = if threads == 1 {
            (call(ours_bulkhead), &SEMAPHORE)
        } else {
            (call(ours_bulkhead_shared), &SEMAPHORE_SHARED)
        };
        let title = if threads == 1 {
            format!("bulkhead ({PERMITS} permits), uncontended, 1 thread")
        } else {
            format!("bulkhead ({PERMITS} permits), 2 threads on one bulkhead")
        };
        rows.push(
            Row::new(title, threads, goal)
                .with("bare", Side::Bare, call(bare))
                .with("ours: `#[bulkhead]`", Side::Ours, ours)
                .with(
                    "floor: bare + two locked adds on a shared counter (acquire, release)",
                    Side::Floor,
                    call(bare_and_two_locked_adds),
                )
                .with(
                    "tokio `Semaphore::acquire`",
                    Side::Peer,
                    call(move || async move {
                        let _permit = semaphore.acquire().await.expect("never closed");
                        bare().await
                    }),
                )
                .with(
                    "tower `ConcurrencyLimit`",
                    Side::Peer,
                    tower(tower::limit::ConcurrencyLimit::new(bare_service(), PERMITS)),
                )
                .with(
                    "tower-resilience `Bulkhead`",
                    Side::Peer,
                    tower(
                        tower_resilience::bulkhead::BulkheadLayer::builder()
                            .max_concurrent_calls(PERMITS)
                            .build()
                            .expect("a valid bulkhead")
                            .layer(bare_service()),
                    ),
                ),
        );
    }

    rows.push(
        Row::new("retry, first attempt succeeds", 1, Goal::None)
            .with("bare", Side::Bare, call(bare))
            .with("ours: `#[retry]`", Side::Ours, call(ours_retry))
            .with(
                "tower `retry` (3 retries)",
                Side::Peer,
                tower(tower::retry::Retry::new(Attempts(3), bare_service())),
            )
            .with(
                "tokio-retry2 (3 retries)",
                Side::Peer,
                call(|| tokio_retry2_call(bare)),
            )
            .with(
                "backon (3 retries)",
                Side::Peer,
                call(|| bare.retry(backon_policy()).sleep(tokio::time::sleep)),
            )
            .with(
                "tower-resilience `Retry` (4 attempts)",
                Side::Peer,
                tower(
                    tower_resilience::retry::RetryLayer::<(), u64, OperationError>::builder()
                        .max_attempts(4)
                        .fixed_backoff(Duration::ZERO)
                        .build()
                        .layer(bare_service()),
                ),
            ),
    );

    rows.push(
        Row::new(
            "retry, three failures then success, zero delay",
            1,
            Goal::None,
        )
        .with(
            "bare: the four attempts in a loop",
            Side::Bare,
            call(flaky_by_hand),
        )
        .with(
            "ours: `#[retry(max_retries = 3, base_delay = \"0ms\")]`",
            Side::Ours,
            call(ours_retry_flaky),
        )
        .with(
            "tower `retry` (3 retries)",
            Side::Peer,
            tower(tower::retry::Retry::new(Attempts(3), flaky_service())),
        )
        .with(
            "tokio-retry2 (3 retries, 0 ms)",
            Side::Peer,
            call(|| tokio_retry2_call(flaky)),
        )
        .with(
            "backon (3 retries, 0 ms)",
            Side::Peer,
            call(|| flaky.retry(backon_policy()).sleep(tokio::time::sleep)),
        )
        .with(
            "tower-resilience `Retry` (4 attempts, 0 ms)",
            Side::Peer,
            tower(
                tower_resilience::retry::RetryLayer::<(), u64, OperationError>::builder()
                    .max_attempts(4)
                    .fixed_backoff(Duration::ZERO)
                    .build()
                    .layer(flaky_service()),
            ),
        ),
    );

    rows.push(
        Row::new("timeout (1 s)", 1, Goal::None)
            .with("bare", Side::Bare, call(bare))
            .with("ours: `#[timeout(\"1s\")]`", Side::Ours, call(ours_timeout))
            .with(
                "`tokio::time::timeout`",
                Side::Peer,
                call(|| async {
                    tokio::time::timeout(TIMEOUT, bare())
                        .await
                        .map_err(|_| OperationError)?
                }),
            )
            .with(
                "tower `Timeout`",
                Side::Peer,
                tower(tower::timeout::Timeout::new(bare_service(), TIMEOUT)),
            )
            .with(
                "tower-resilience `TimeLimiter`",
                Side::Peer,
                tower(
                    tower_resilience::timelimiter::TimeLimiterLayer::builder()
                        .timeout_duration(TIMEOUT)
                        .build()
                        .layer(bare_service()),
                ),
            ),
    );

    // Ours arms its timer at the body's first `Pending` (`Bounded` in the runtime's
    // `layers.rs`), `tokio::time::timeout` at the call: the row above is the body ready at once,
    // this one a body that waits once, where both arm a timer.
    rows.push(
        Row::new("timeout (1 s), the body waits once", 1, Goal::None)
            .with("bare", Side::Bare, call(bare_after_one_wait))
            .with(
                "ours: `#[timeout(\"1s\")]`",
                Side::Ours,
                call(ours_timeout_after_one_wait),
            )
            .with(
                "`tokio::time::timeout`",
                Side::Peer,
                call(|| async {
                    tokio::time::timeout(TIMEOUT, bare_after_one_wait())
                        .await
                        .map_err(|_| OperationError)?
                }),
            ),
    );

    rows.push(stack_row());

    rows.push(
        Row::new(
            "`ResilienceFacade::execute`, the same stack",
            1,
            Goal::AtMostReference(1.2),
        )
        .with("bare", Side::Bare, call(bare))
        .with(
            "ours: `ResilienceFacade::execute`",
            Side::Ours,
            call(ours_facade),
        )
        .with(
            "ours: the five attributes",
            Side::Reference,
            call(ours_stack),
        ),
    );
    rows.push(
        Row::new(
            "`Pipeline::run`, the same stack",
            1,
            Goal::AtMostReference(1.2),
        )
        .with("bare", Side::Bare, call(bare))
        .with(
            "ours: `Pipeline::run`",
            Side::Ours,
            call(ours_pipeline_stack),
        )
        .with(
            "ours: the five attributes",
            Side::Reference,
            call(ours_stack),
        ),
    );
    let singles: [(&str, Runner, Runner); 4] = [
        (
            "`Pipeline::run`, breaker alone",
            call(ours_pipeline_breaker),
            call(ours_breaker),
        ),
        (
            "`Pipeline::run`, retry alone",
            call(ours_pipeline_retry),
            call(ours_retry),
        ),
        (
            "`Pipeline::run`, timeout alone",
            call(ours_pipeline_timeout),
            call(ours_timeout),
        ),
        (
            "`Pipeline::run`, bulkhead alone",
            call(ours_pipeline_bulkhead),
            call(ours_bulkhead),
        ),
    ];
    for (title, pipeline, attribute) in singles {
        rows.push(
            Row::new(title, 1, Goal::OverheadAtMostReference(1.2))
                .with("bare", Side::Bare, call(bare))
                .with("ours: `Pipeline::run`", Side::Ours, pipeline)
                .with("ours: the attribute", Side::Reference, attribute),
        );
    }
    rows
}

/// The five policies: ours, tower-resilience's layers stacked in the same order, and the
/// lightest hand composition of other crates.
fn stack_row() -> Row {
    use tower_resilience::{bulkhead, circuitbreaker, fallback, retry, timelimiter};
    let service = bulkhead::BulkheadLayer::builder()
        .max_concurrent_calls(PERMITS)
        .build()
        .expect("a valid bulkhead")
        .layer(bare_service());
    let service = timelimiter::TimeLimiterLayer::builder()
        .timeout_duration(TIMEOUT)
        .build()
        .layer(service);
    let service = circuitbreaker::CircuitBreakerLayer::builder()
        .consecutive_failures(5)
        .build()
        .expect("a valid breaker")
        .layer(service);
    let service = retry::RetryLayer::builder()
        .max_attempts(4)
        .exponential_backoff(Duration::from_millis(100))
        .build()
        .layer(service);
    let service = fallback::FallbackLayer::value(0_u64).layer(service);

    let failsafe = failsafe_consecutive();
    Row::new(
        "whole stack: fallback, retry, breaker, timeout, bulkhead",
        1,
        Goal::Faster(15.0),
    )
    .with("bare", Side::Bare, call(bare))
    .with("ours: the five attributes", Side::Ours, call(ours_stack))
    .with(
        "tower-resilience, the same five layers",
        Side::Peer,
        tower(service),
    )
    .with(
        "backon + failsafe + `tokio::time::timeout` + `Semaphore`",
        Side::Peer,
        call(move || {
            let failsafe = failsafe.clone();
            async move {
                let attempt = || {
                    let failsafe = failsafe.clone();
                    async move {
                        let guarded = async {
                            tokio::time::timeout(TIMEOUT, async {
                                let _permit =
                                    SEMAPHORE_STACK.acquire().await.expect("never closed");
                                bare().await
                            })
                            .await
                            .map_err(|_| OperationError)?
                        };
                        failsafe::futures::CircuitBreaker::call(&failsafe, guarded)
                            .await
                            .map_err(|_| OperationError)
                    }
                };
                match attempt
                    .retry(backon::ExponentialBuilder::default())
                    .sleep(tokio::time::sleep)
                    .await
                {
                    Ok(value) => Ok(value),
                    Err(_) => fallback_value().await,
                }
            }
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// Printing

fn ns(value: f64) -> String {
    if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

fn times(value: f64) -> String {
    if !value.is_finite() {
        "∞".into()
    } else if value >= 10.0 {
        format!("{value:.0}×")
    } else {
        format!("{value:.2}×")
    }
}

/// Prints the headline table (with `flatness`, the balancer's line), then each row's table.
fn print(rows: &[Row], rounds: usize, batch_time: Duration, flatness: &str) {
    use std::fmt::Write;
    let mut details = String::new();
    println!(
        "Medians of {rounds} interleaved rounds, each batch about {} ms; clock: {}.",
        batch_time.as_millis(),
        OnCpuTime::name()
    );
    println!();
    let mut headline = Vec::new();
    for row in rows {
        let figure = |side: Side| -> Vec<(&Variant, f64)> {
            row.variants
                .iter()
                .filter(|variant| variant.side == side)
                .map(|variant| (variant, median(&variant.per_call)))
                .collect()
        };
        let bare = figure(Side::Bare).first().map_or(0.0, |(_, ns)| *ns);
        let Some(&(ours, ours_ns)) = figure(Side::Ours).first() else {
            continue;
        };
        let best_peer = figure(Side::Peer)
            .into_iter()
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let reference = figure(Side::Reference).first().copied();

        let _ = writeln!(details, "### {}", row.title);
        let _ = writeln!(details);
        if row.threads > 1 {
            let _ = writeln!(
                details,
                "| variant | ns/call (per thread) | over bare | ratio to bare | allocations/call | both in their batch | both progressing |"
            );
            let _ = writeln!(details, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        } else {
            let _ = writeln!(
                details,
                "| variant | ns/call | over bare | ratio to bare | allocations/call |"
            );
            let _ = writeln!(details, "| --- | ---: | ---: | ---: | ---: |");
        }
        for variant in &row.variants {
            let this = median(&variant.per_call);
            let allocations = variant.allocations as f64 / variant.measured_calls.max(1) as f64;
            let over = if variant.side == Side::Bare {
                "".to_string()
            } else {
                format!("{:+.1}", this - bare)
            };
            let name = if variant.side == Side::Ours {
                format!("**{}**", variant.name)
            } else {
                variant.name.to_string()
            };
            let _ = write!(
                details,
                "| {name} | {} | {over} | {} | {allocations:.2} |",
                ns(this),
                times(this / bare)
            );
            if row.threads > 1 {
                let _ = write!(
                    details,
                    " {:.0} % | {:.0} % |",
                    100.0 * median(&variant.window_overlap),
                    100.0 * median(&variant.overlap)
                );
            }
            let _ = writeln!(details);
        }
        let _ = writeln!(details);

        let ours_over = ours_ns - bare;
        let (compared, ratio, met) = match (row.goal, best_peer, reference) {
            (Goal::LessOverhead(goal), Some((peer, peer_ns)), _) => {
                let ratio = (peer_ns - bare) / ours_over.max(0.05);
                (
                    format!("{} {:+.1} ns", peer.name, peer_ns - bare),
                    format!("{} less overhead", times(ratio)),
                    Some((ratio >= goal, format!("≥ {goal}× less overhead"))),
                )
            }
            (Goal::Faster(goal), Some((peer, peer_ns)), _) => {
                let ratio = peer_ns / ours_ns;
                (
                    format!("{} {} ns", peer.name, ns(peer_ns)),
                    format!("{} faster", times(ratio)),
                    Some((ratio >= goal, format!("≥ {goal}× faster"))),
                )
            }
            (Goal::AtMostReference(goal), _, Some((reference, reference_ns))) => {
                let ratio = ours_ns / reference_ns;
                (
                    format!("{} {} ns", reference.name, ns(reference_ns)),
                    format!("{} the reference", times(ratio)),
                    Some((ratio <= goal, format!("≤ {goal}× the reference"))),
                )
            }
            (Goal::OverheadAtMostReference(goal), _, Some((reference, reference_ns))) => {
                let ratio = ours_over / (reference_ns - bare).max(0.05);
                (
                    format!("{} {:+.1} ns", reference.name, reference_ns - bare),
                    format!("{} the reference's overhead", times(ratio)),
                    Some((ratio <= goal, format!("≤ {goal}× the reference's overhead"))),
                )
            }
            (_, Some((peer, peer_ns)), _) => (
                format!("{} {} ns", peer.name, ns(peer_ns)),
                format!("{} faster", times(peer_ns / ours_ns)),
                None,
            ),
            _ => (String::new(), String::new(), None),
        };
        let allocations = ours.allocations as f64 / ours.measured_calls.max(1) as f64;
        let overlap =
            (row.threads > 1).then(|| (median(&ours.window_overlap), median(&ours.overlap)));
        headline.push((
            row.title.clone(),
            format!("{} ({:+.1})", ns(ours_ns), ours_over),
            compared,
            ratio,
            met,
            allocations,
            overlap,
        ));
    }

    println!(
        "| row | ours ns/call (over bare) | best peer or reference | ratio | goal | met | our allocations/call |"
    );
    println!("| --- | ---: | --- | ---: | --- | --- | ---: |");
    for (title, ours, compared, ratio, met, allocations, overlap) in headline {
        let (goal, verdict) = match met {
            Some((true, goal)) => (goal, "yes"),
            Some((false, goal)) => (goal, "**no**"),
            None => (String::new(), ""),
        };
        let title = match overlap {
            Some((window, progress)) => format!(
                "{title} (ours: both in their batch {:.0} %, both progressing {:.0} %)",
                100.0 * window,
                100.0 * progress
            ),
            None => title,
        };
        println!(
            "| {title} | {ours} | {compared} | {ratio} | {goal} | {verdict} | {allocations:.2} |"
        );
    }
    println!();
    println!("{flatness}");
    println!();
    print!("{details}");
}

/// The flatness goal of the balancer: ours at the largest n over ours at the smallest.
fn flatness(rows: &[Row], sizes: &[usize]) -> String {
    let ours: Vec<f64> = rows
        .iter()
        .filter(|row| row.title.starts_with("P2C"))
        .filter_map(|row| row.variants.iter().find(|v| v.side == Side::Ours))
        .map(|variant| median(&variant.per_call))
        .collect();
    if let (Some(first), Some(last), Some(small), Some(large)) =
        (ours.first(), ours.last(), sizes.first(), sizes.last())
    {
        let ratio = last / first;
        format!(
            "P2C flatness: ours at n = {large} costs {} ours at n = {small} (goal ≤ 1.5×: {}).",
            times(ratio),
            if ratio <= 1.5 { "met" } else { "**not met**" }
        )
    } else {
        String::new()
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` does not: then every variant
    // runs a few calls (it works, and allocates what it allocates) and nothing is printed.
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let largest = env_number("PEERS_MAX_INSTANCES", 10_000);
    let sizes: Vec<usize> = [10, 100, 1_000, 10_000]
        .into_iter()
        .filter(|&n| n == 10 || (benchmarking && n <= largest))
        .collect();
    let sizes = &sizes[..];
    let rounds = if benchmarking {
        env_number("PEERS_ROUNDS", 21).max(1)
    } else {
        1
    };
    let batch_time = Duration::from_millis(env_number("PEERS_BATCH_MS", 10).max(1) as u64);
    let started = Instant::now();
    // `PEERS_ONLY=text` keeps the rows whose title contains `text` (for working on a few rows;
    // `scripts/bench` runs them all).
    let only = std::env::var("PEERS_ONLY").ok();
    let keep = |row: &Row| only.as_deref().is_none_or(|only| row.title.contains(only));
    let mut rows = rows();
    rows.retain(keep);
    measure_rows(&mut rows, rounds, batch_time, benchmarking);
    // The balancers in rounds of their own (their rows compare among themselves), largest
    // first: the picks at 10^4 instances sweep the caches, and within these rounds it is the
    // largest, least sensitive row that follows them.
    let mut balancers = balancer_rows(sizes);
    balancers.retain(keep);
    balancers.reverse();
    measure_rows(&mut balancers, rounds, batch_time, benchmarking);
    balancers.reverse();
    rows.extend(balancers);
    if benchmarking {
        print(&rows, rounds, batch_time, &flatness(&rows, sizes));
        eprintln!(
            "peers: measured in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
}
