//! Overhead of each policy over a bare async fn (criterion), then a summary table.
//!
//! Every variant runs the same operation, `bare()`: an `async fn` returning `Ok(u64)` through
//! `black_box`. The policies are applied the way users apply them, with the attributes (whose
//! expansion is one `static` per policy, each attempt composed inline in the function's own
//! future, in the retry loop, and a `match` calling the fallback on `Err`); two more variants
//! drive the same policies through `Pipeline::run` and through the runtime's `pipeline!` by hand; one
//! more, `discover`, is a `#[discover]` function over the in-memory discovery with one instance
//! (pick, in-flight guard, `ServiceClient`, outcome report; no request). All run on a
//! current-thread runtime, on the success path.
//!
//! # How it measures
//!
//! Each criterion benchmark is `b.to_async(&rt).iter(|| variant())`. In criterion 0.8 that runs a
//! whole sample (`iters` calls, chosen by criterion: millions for a call of a few ns) inside ONE
//! `block_on`, so the executor's cost is paid once per sample, not per call, and the reported time
//! is directly ns per call. A hand-made batch (`b.iter(|| rt.block_on(1000 calls))`) measures the
//! same loop but pays a `block_on` per 1000 calls and reports per batch: no more stable, and one
//! more division for the reader.
//!
//! The clock is on-CPU time: wall time minus the time the thread waited in the run queue, read
//! from `/proc/thread-self/schedstat` before and after each sample (Linux; elsewhere plain wall
//! time). On a machine shared with compilers and test runs, wall time per call comes out
//! 1.5-3x too high, and by a different factor for each benchmark; on-CPU time does not. It
//! still includes what sharing a core costs (caches, a busy SMT sibling).
//!
//! The summary table after the criterion groups is measured again in the same process with the
//! same clock: the variants are interleaved round by round, and each figure is the median over the
//! rounds, the best round in brackets.
//!
//! Last, a contention figure: one breaker's success path on one thread, then on every CPU at
//! once (std threads started together), each thread on its own on-CPU clock.
//!
//! Run: `cargo bench --bench overhead` (about a minute and a half). `cargo test --benches` runs
//! each benchmark once and the summary with a handful of calls, printing no figures.

use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use resilience::__private::{
    BreakerSite, BulkheadSite, Failure, Layers, Retries, RetrySite, TimeoutSite,
};
use resilience::discovery::{Instance, ServiceClient};
use resilience::{BulkheadConfig, CircuitBreaker, CircuitBreakerConfig, Pipeline, RetryConfig};
use resilience::{ResilienceError, bulkhead, circuit_breaker, discover, fallback, retry, timeout};
use tokio::runtime::Runtime;

/// The operation's own error type, as a user's would be.
#[derive(Debug)]
struct OperationError;

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

/// The fallback of the variants that have one (never called on the success path).
async fn fallback() -> Outcome {
    Ok(black_box(0))
}

#[circuit_breaker(name = "bench::circuit_breaker")]
async fn with_circuit_breaker() -> Outcome {
    bare().await
}

#[retry]
async fn with_retry() -> Outcome {
    bare().await
}

#[bulkhead(name = "bench::bulkhead")]
async fn with_bulkhead() -> Outcome {
    bare().await
}

#[timeout("1s")]
async fn with_timeout() -> Outcome {
    bare().await
}

/// The service `with_discover` calls: one instance, registered in `main` (no request is sent;
/// the figure is what picking an instance and handing over its client costs).
const SERVICE: &str = "bench-service";

#[discover("bench-service")]
async fn with_discover(client: ServiceClient) -> Outcome {
    black_box(client.base_url());
    bare().await
}

const TIMEOUT: Duration = Duration::from_secs(1);

/// The timeout's baseline: `bare()` inside a bare `tokio::time::timeout`, the error converted as
/// the attribute converts it.
async fn with_tokio_timeout() -> Outcome {
    match tokio::time::timeout(TIMEOUT, bare()).await {
        Ok(outcome) => outcome,
        Err(_) => Err(ResilienceError::Timeout { after: TIMEOUT }.into()),
    }
}

#[fallback(fallback)]
#[retry]
#[circuit_breaker(name = "bench::breaker_retry_bulkhead_fallback")]
#[bulkhead(name = "bench::breaker_retry_bulkhead_fallback")]
async fn with_breaker_retry_bulkhead_fallback() -> Outcome {
    bare().await
}

#[fallback(fallback)]
#[retry]
#[circuit_breaker(name = "bench::whole_pipeline")]
#[timeout("1s")]
#[bulkhead(name = "bench::whole_pipeline")]
async fn with_whole_pipeline() -> Outcome {
    bare().await
}

static PIPELINE_BREAKER: BreakerSite =
    BreakerSite::new("bench::pipeline_run", CircuitBreakerConfig::DEFAULT);
static PIPELINE_BULKHEAD: BulkheadSite =
    BulkheadSite::new("bench::pipeline_run", BulkheadConfig::DEFAULT);
static PIPELINE_RETRY: RetryConfig = RetryConfig::DEFAULT;

/// The whole pipeline driven by hand through `Pipeline::run` (what `ResilienceFacade` and
/// hand-written code use) rather than the attributes' expansion, the fallback called on `Err`.
async fn with_pipeline_run() -> Outcome {
    let (Ok(circuit_breaker), Ok(bulkhead)) = (PIPELINE_BREAKER.get(), PIPELINE_BULKHEAD.get())
    else {
        return fallback().await;
    };
    let pipeline = Pipeline {
        retry: Some(&PIPELINE_RETRY),
        circuit_breaker: Some(circuit_breaker),
        timeout: Some(TIMEOUT),
        bulkhead: Some(bulkhead),
    };
    match pipeline
        .run(|_: &OperationError| true, |_: &OperationError| true, bare)
        .await
    {
        Ok(value) => Ok(value),
        Err(_) => fallback().await,
    }
}

static HAND_BREAKER: BreakerSite =
    BreakerSite::new("bench::by_hand", CircuitBreakerConfig::DEFAULT);
static HAND_BULKHEAD: BulkheadSite = BulkheadSite::new("bench::by_hand", BulkheadConfig::DEFAULT);
static HAND_RETRY: RetrySite = RetrySite::new("bench::by_hand", RetryConfig::DEFAULT);
static HAND_TIMEOUT: TimeoutSite = TimeoutSite::new("bench::by_hand", TIMEOUT);

/// The whole pipeline written by hand with the runtime's own composition (`pipeline!`, the one
/// macro the attributes and `Pipeline::run` expand), over layers of concrete types, as the
/// attributes build them, from the same call sites (so counted and bounded by the request's
/// deadline as the attributes are): the baseline of "no cost over the runtime".
async fn with_pipeline_by_hand() -> Outcome {
    let layers = match (HAND_BREAKER.get(), HAND_BULKHEAD.get()) {
        // As the attributes build them: concrete layers (a disabled site hands out the
        // pass-through breaker and bulkhead, a disabled timeout `Duration::MAX`).
        (Ok(circuit_breaker), Ok(bulkhead)) => Layers {
            circuit_breaker,
            timeout: HAND_TIMEOUT.layer(),
            bulkhead,
        },
        _ => return fallback().await,
    };
    let result = resilience::__private::pipeline!(
        retry = Retries::of_site(&HAND_RETRY),
        retry_if = &|_: &OperationError| true,
        breaker = some,
        timeout = some,
        bulkhead = some,
        layers = &layers,
        failure_if = &|_: &OperationError| true,
        attempt = match bare().await {
            Ok(value) => Ok(value),
            Err(error) => Err(Failure::Operation(error)),
        },
    );
    match result {
        Ok(value) => Ok(value),
        Err(_) => fallback().await,
    }
}

#[path = "support/on_cpu_time.rs"]
mod on_cpu_time;

use on_cpu_time::{OnCpuTime, run_queue_wait};

/// Something that measures each variant.
trait Visitor {
    fn visit<F, Fut>(&mut self, group: &str, name: &'static str, variant: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Outcome>;
}

const BARE: &str = "bare";
const CIRCUIT_BREAKER: &str = "circuit_breaker";
const RETRY: &str = "retry";
const BULKHEAD: &str = "bulkhead";
const TOKIO_TIMEOUT: &str = "tokio_time_timeout";
const TIMEOUT_ATTRIBUTE: &str = "timeout";
const DISCOVER: &str = "discover";
const BREAKER_RETRY_BULKHEAD_FALLBACK: &str = "breaker+retry+bulkhead+fallback";
const WHOLE_PIPELINE: &str = "whole_pipeline+fallback";
const PIPELINE_RUN: &str = "whole_pipeline+fallback(Pipeline::run)";
const PIPELINE_BY_HAND: &str = "whole_pipeline+fallback(by hand)";

/// Every variant, in the order of the table.
fn visit_variants(visitor: &mut impl Visitor) {
    visitor.visit("policy_alone", BARE, bare);
    visitor.visit("policy_alone", CIRCUIT_BREAKER, with_circuit_breaker);
    visitor.visit("policy_alone", RETRY, with_retry);
    visitor.visit("policy_alone", BULKHEAD, with_bulkhead);
    visitor.visit("policy_alone", DISCOVER, with_discover);
    visitor.visit("timeout", TOKIO_TIMEOUT, with_tokio_timeout);
    visitor.visit("timeout", TIMEOUT_ATTRIBUTE, with_timeout);
    visitor.visit(
        "stacked",
        BREAKER_RETRY_BULKHEAD_FALLBACK,
        with_breaker_retry_bulkhead_fallback,
    );
    visitor.visit("stacked", WHOLE_PIPELINE, with_whole_pipeline);
    visitor.visit("stacked", PIPELINE_RUN, with_pipeline_run);
    visitor.visit("stacked", PIPELINE_BY_HAND, with_pipeline_by_hand);
}

/// Runs the criterion benchmarks.
struct CriterionVisitor<'a> {
    criterion: &'a mut Criterion<OnCpuTime>,
    runtime: &'a Runtime,
}

impl Visitor for CriterionVisitor<'_> {
    fn visit<F, Fut>(&mut self, group: &str, name: &'static str, mut variant: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Outcome>,
    {
        let mut group = self.criterion.benchmark_group(group);
        group.bench_function(name, |b| b.to_async(self.runtime).iter(&mut variant));
        group.finish();
    }
}

/// Measures one round of the summary: `calls` calls of each variant, in ns per call.
struct RoundVisitor<'a> {
    runtime: &'a Runtime,
    calls: u32,
    rows: &'a mut Vec<(&'static str, Vec<f64>)>,
}

impl Visitor for RoundVisitor<'_> {
    fn visit<F, Fut>(&mut self, _group: &str, name: &'static str, mut variant: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Outcome>,
    {
        let calls = self.calls;
        let elapsed = self.runtime.block_on(async {
            let started = OnCpuTime::begin();
            for _ in 0..calls {
                let outcome = black_box(variant().await);
                assert!(outcome.is_ok(), "{name} failed on the success path");
            }
            OnCpuTime::finish(started)
        });
        let per_call = elapsed.as_secs_f64() * 1e9 / f64::from(calls);
        match self.rows.iter_mut().find(|(row, _)| *row == name) {
            Some((_, samples)) => samples.push(per_call),
            None => self.rows.push((name, vec![per_call])),
        }
    }
}

/// One variant's figures in the summary, in ns per call.
#[derive(Debug, Clone, Copy)]
struct Figures {
    median: f64,
    best: f64,
}

impl Figures {
    fn of(samples: &[f64]) -> Figures {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        Figures {
            median: sorted[sorted.len() / 2],
            best: sorted[0],
        }
    }
}

/// A target from the project's performance goals.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// At most this many ns over the baseline.
    OverBy(f64),
    /// At most this many times the baseline.
    Times(f64),
}

impl Target {
    fn met(self, over: f64, times: f64) -> bool {
        match self {
            Target::OverBy(limit) => over <= limit,
            Target::Times(limit) => times <= limit,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::OverBy(limit) => write!(f, "<= +{limit} ns"),
            Target::Times(limit) => write!(f, "<= {limit}x"),
        }
    }
}

/// The table: each variant against its baseline, with the target where there is one.
const TABLE: [(&str, &str, Option<Target>); 13] = [
    (CIRCUIT_BREAKER, BARE, Some(Target::OverBy(5.0))),
    (RETRY, BARE, None),
    (BULKHEAD, BARE, None),
    (DISCOVER, BARE, None),
    (TOKIO_TIMEOUT, BARE, None),
    (TIMEOUT_ATTRIBUTE, TOKIO_TIMEOUT, Some(Target::Times(1.2))),
    (TIMEOUT_ATTRIBUTE, BARE, None),
    (
        BREAKER_RETRY_BULKHEAD_FALLBACK,
        BARE,
        Some(Target::OverBy(50.0)),
    ),
    (WHOLE_PIPELINE, BARE, None),
    (WHOLE_PIPELINE, TOKIO_TIMEOUT, None),
    (PIPELINE_RUN, BARE, None),
    (PIPELINE_BY_HAND, BARE, None),
    (WHOLE_PIPELINE, PIPELINE_BY_HAND, Some(Target::Times(1.05))),
];

/// Measures every variant again, interleaved, and prints ns/call against each baseline.
fn summary(runtime: &Runtime, rounds: u32, calls: u32, print: bool) {
    let mut rows = Vec::new();
    // One round first to warm up (caches, branch predictors, the sites' registration); dropped.
    visit_variants(&mut RoundVisitor {
        runtime,
        calls,
        rows: &mut rows,
    });
    rows.clear();
    let waited_before = run_queue_wait();
    let started = Instant::now();
    for _ in 0..rounds {
        visit_variants(&mut RoundVisitor {
            runtime,
            calls,
            rows: &mut rows,
        });
    }
    let wall = started.elapsed();
    let waited = run_queue_wait()
        .zip(waited_before)
        .map(|(after, before)| Duration::from_nanos(after.saturating_sub(before)));
    if !print {
        return;
    }
    let of = |name: &str| {
        let (_, samples) = rows
            .iter()
            .find(|(row, _)| *row == name)
            .expect("every variant was measured");
        Figures::of(samples)
    };

    println!();
    println!(
        "Summary: ns per call on the success path, current-thread runtime; median of {rounds} \
         interleaved rounds of {calls} calls, best round in brackets."
    );
    println!("Clock: {}.", OnCpuTime::name());
    if let Some(waited) = waited {
        println!(
            "During the summary this thread waited {:.0} ms of {:.0} ms for a CPU (other \
             processes); that time is not counted.",
            waited.as_secs_f64() * 1e3,
            wall.as_secs_f64() * 1e3
        );
    }
    println!();
    let bare = of(BARE);
    println!(
        "{:<40} {:>17} {:>10} {:>8}  {:<19} target",
        "variant", "ns/call [best]", "over", "times", "baseline"
    );
    println!(
        "{BARE:<40} {:>17}",
        format!("{:.2} [{:.2}]", bare.median, bare.best)
    );
    for (name, baseline_name, target) in TABLE {
        let this = of(name);
        let baseline = of(baseline_name);
        let over = this.median - baseline.median;
        let times = this.median / baseline.median;
        let verdict = match target {
            None => String::new(),
            Some(target) if target.met(over, times) => format!("{target}: met"),
            Some(target) => format!("{target}: MISSED"),
        };
        println!(
            "{name:<40} {:>17} {over:>+10.2} {times:>8.2}  {baseline_name:<19} {verdict}",
            format!("{:.2} [{:.2}]", this.median, this.best)
        );
    }
}

fn main() {
    // With the `metrics` feature, `RESILIENCE_BENCH_RECORDER=1` measures the cost with a
    // recorder installed (metrics-util's debugging one: an atomic per counter), before any
    // policy resolves its handles.
    #[cfg(feature = "metrics")]
    if std::env::var_os("RESILIENCE_BENCH_RECORDER").is_some() {
        metrics_util::debugging::DebuggingRecorder::new()
            .install()
            .expect("the first recorder");
        println!("Recorder: metrics-util's DebuggingRecorder.");
    }
    resilience::discovery::global()
        .register(Instance::new(SERVICE, "only", "127.0.0.1", 9000))
        .expect("a well-formed instance");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and criterion then runs
    // each benchmark once to check that it works.
    let benchmarking = std::env::args().any(|arg| arg == "--bench");

    let mut criterion = Criterion::default()
        .with_measurement(OnCpuTime)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .configure_from_args();
    if benchmarking {
        println!("Clock: {}.", OnCpuTime::name());
    }
    visit_variants(&mut CriterionVisitor {
        criterion: &mut criterion,
        runtime: &runtime,
    });
    criterion.final_summary();

    if benchmarking {
        summary(&runtime, 25, 100_000, true);
        contention(20_000_000, true);
    } else {
        summary(&runtime, 1, 10, false);
        contention(10, false);
    }
}

/// A breaker shared by every thread: its success path (admit, then report a success) on one
/// thread and then on as many threads as there are CPUs, each thread timing its own calls on
/// its own on-CPU clock. What grows with threads is what they contend for: the state word is
/// only read on this path, the success count is striped per thread.
fn contention(calls: u32, print: bool) {
    let breaker = CircuitBreaker::new("bench::contention", CircuitBreakerConfig::default())
        .expect("the default configuration is valid");
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
    let per_call = |threads: usize| -> f64 {
        let start = std::sync::Barrier::new(threads);
        let times: Vec<Duration> = std::thread::scope(|scope| {
            let runs: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait(); // All at once, or they would not contend.
                        let started = OnCpuTime::begin();
                        for _ in 0..calls {
                            black_box(&breaker)
                                .admit()
                                .expect("the breaker stays closed")
                                .success();
                        }
                        OnCpuTime::finish(started)
                    })
                })
                .collect();
            runs.into_iter()
                .map(|run| run.join().expect("a counting thread"))
                .collect()
        });
        let total: Duration = times.iter().sum();
        total.as_nanos() as f64 / (f64::from(calls) * threads as f64)
    };
    per_call(threads); // Warm-up: the threads' first use of the breaker and its stripes.
    let (alone, shared) = (per_call(1), per_call(threads));
    let expected = u64::from(calls) * (1 + 2 * threads as u64);
    assert_eq!(
        breaker.metrics().successful,
        expected,
        "every success counted"
    );
    if print {
        println!();
        println!(
            "Contention: one breaker's success path (admit + success), {calls} calls per thread."
        );
        println!(
            "1 thread: {alone:.2} ns/call; {threads} threads: {shared:.2} ns/call per thread ({:.2}x).",
            shared / alone
        );
    }
}
