//! `ResilienceLayer` per request against the attributes on the same policies (retry → circuit
//! breaker → timeout → bulkhead, default configurations), and against the inner service called
//! bare, on the success path. Same process, variants interleaved round by round on the on-CPU
//! clock (`support/on_cpu_time.rs`), on a current-thread runtime; each figure is the median
//! over the rounds, the best round in brackets.
//!
//! The inner service is a `service_fn` whose future is ready at once, so the figures are the
//! layers' own cost: the boxed response future, the clones of the policies' `Arc`, the
//! request and the inner service per attempt, and the composition.
//!
//! Also in the same rounds: tower-resilience 0.13's layers stacked the same way (retry →
//! circuit breaker → time limiter → bulkhead, 5 consecutive failures, 1 s, 4 attempts), and
//! [`resilience::deadline::remaining`] outside and inside a deadline's scope (what every
//! deadline-bounded timeout reads).
//!
//! Run: `cargo bench --bench tower --features tower`. Without `--bench`
//! (`cargo test --benches`) each variant runs a handful of calls and nothing is printed.

use std::convert::Infallible;
use std::hint::black_box;

use resilience::tower::{ErrorsOnly, ResilienceLayer};
use resilience::{
    BulkheadConfig, CircuitBreakerConfig, Pipeline, ResilienceConfig, ResilienceError, RetryConfig,
    bulkhead, circuit_breaker, registry, retry, timeout,
};
use tower::{Layer, Service, ServiceExt, service_fn};

#[path = "support/on_cpu_time.rs"]
mod on_cpu_time;

use on_cpu_time::OnCpuTime;

#[derive(Debug)]
struct OperationError;

impl From<ResilienceError> for OperationError {
    fn from(_: ResilienceError) -> Self {
        OperationError
    }
}

async fn bare() -> Result<u64, OperationError> {
    Ok(black_box(42))
}

#[retry]
#[circuit_breaker(name = "bench::tower_attributes")]
#[timeout("1s")]
#[bulkhead(name = "bench::tower_attributes")]
async fn with_attributes() -> Result<u64, OperationError> {
    bare().await
}

fn main() {
    let benchmarking = std::env::args().any(|argument| argument == "--bench");
    let (rounds, calls) = if benchmarking {
        (15, 200_000u32)
    } else {
        (1, 10)
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let inner = service_fn(|_: ()| async { Ok::<u64, Infallible>(black_box(42)) });
    let layered = ResilienceLayer::new("bench::tower_layer", ResilienceConfig::default())
        .classify(ErrorsOnly)
        .layer(inner);

    let without_budget = ResilienceLayer::new("bench::tower_layer", ResilienceConfig::default())
        .classify(ErrorsOnly)
        .budget(None)
        .layer(inner);
    let breaker = registry()
        .circuit_breaker_or_register("bench::tower_pipeline", &CircuitBreakerConfig::DEFAULT)
        .unwrap();
    let bulkhead = registry()
        .bulkhead_or_register("bench::tower_pipeline", &BulkheadConfig::DEFAULT)
        .unwrap();
    let retry = RetryConfig::DEFAULT;
    let pipeline = Pipeline {
        retry: Some(&retry),
        circuit_breaker: Some(&breaker),
        timeout: Some(std::time::Duration::from_secs(1)),
        bulkhead: Some(&bulkhead),
    };

    let peer = tower_resilience_stack();

    let names = [
        "inner service_fn, bare (baseline)",
        "attributes: retry, breaker, timeout, bulkhead",
        "Pipeline::run (same policies, run-time layers)",
        "ResilienceLayer (same policies, budget on)",
        "ResilienceLayer, no budget",
        "tower-resilience 0.13, the same four layers",
        "ResilienceLayer within a deadline scope",
        "deadline::remaining(), no deadline",
        "deadline::remaining(), within a scope",
    ];
    let mut figures = vec![Vec::new(); names.len()];
    runtime.block_on(async {
        for _ in 0..rounds {
            for (index, figure) in figures.iter_mut().enumerate() {
                let started = OnCpuTime::begin();
                match index {
                    0 => {
                        let mut service = inner;
                        for _ in 0..calls {
                            let ready = service.ready().await.unwrap();
                            black_box(ready.call(()).await.unwrap());
                        }
                    }
                    1 => {
                        for _ in 0..calls {
                            black_box(with_attributes().await.unwrap());
                        }
                    }
                    2 => {
                        for _ in 0..calls {
                            let outcome = pipeline
                                .run(|_: &OperationError| true, |_: &OperationError| true, bare)
                                .await;
                            black_box(outcome.ok());
                        }
                    }
                    3 => {
                        let mut service = layered.clone();
                        for _ in 0..calls {
                            let ready = service.ready().await.unwrap();
                            black_box(ready.call(()).await.unwrap());
                        }
                    }
                    4 => {
                        let mut service = without_budget.clone();
                        for _ in 0..calls {
                            let ready = service.ready().await.unwrap();
                            black_box(ready.call(()).await.unwrap());
                        }
                    }
                    5 => {
                        let mut service = peer.clone();
                        for _ in 0..calls {
                            let ready = service.ready().await.ok().unwrap();
                            black_box(ready.call(()).await.ok());
                        }
                    }
                    6 => {
                        let at = tokio::time::Instant::now() + std::time::Duration::from_secs(3600);
                        resilience::deadline::scope(at, async {
                            let mut service = layered.clone();
                            for _ in 0..calls {
                                let ready = service.ready().await.unwrap();
                                black_box(ready.call(()).await.unwrap());
                            }
                        })
                        .await;
                    }
                    7 => {
                        for _ in 0..calls {
                            black_box(resilience::deadline::remaining());
                        }
                    }
                    _ => {
                        let at = tokio::time::Instant::now() + std::time::Duration::from_secs(3600);
                        resilience::deadline::scope(at, async {
                            for _ in 0..calls {
                                black_box(resilience::deadline::remaining());
                            }
                        })
                        .await;
                    }
                }
                let elapsed = OnCpuTime::finish(started);
                figure.push(elapsed.as_nanos() as f64 / f64::from(calls));
            }
        }
    });
    if !benchmarking {
        return;
    }
    println!(
        "tower layers, ns per request ({}), {rounds} rounds of {calls} requests",
        OnCpuTime::name()
    );
    let medians: Vec<f64> = figures.iter_mut().map(|f| median(f)).collect();
    for ((name, figures), median) in names.iter().zip(&figures).zip(&medians) {
        let best = figures.iter().cloned().fold(f64::INFINITY, f64::min);
        println!(
            "{name:<48} {median:>8.1} ns  [{best:>7.1}]  ({:.2}x the attributes)",
            median / medians[1]
        );
    }
    println!(
        "tower-resilience / ResilienceLayer: {:.1}x",
        medians[5] / medians[3]
    );
}

/// tower-resilience's layers in `ResilienceLayer`'s order, as `peers/benches/peers.rs` stacks
/// them (without its fallback: `ResilienceLayer` has none).
fn tower_resilience_stack() -> impl Service<(), Response = u64> + Clone {
    use tower_resilience::{bulkhead, circuitbreaker, retry, timelimiter};
    let inner = service_fn(|_: ()| async { Ok::<u64, OperationError>(black_box(42)) });
    let service = bulkhead::BulkheadLayer::builder()
        .max_concurrent_calls(25)
        .build()
        .expect("a valid bulkhead")
        .layer(inner);
    let service = timelimiter::TimeLimiterLayer::builder()
        .timeout_duration(std::time::Duration::from_secs(1))
        .build()
        .layer(service);
    let service = circuitbreaker::CircuitBreakerLayer::builder()
        .consecutive_failures(5)
        .build()
        .expect("a valid breaker")
        .layer(service);
    retry::RetryLayer::builder()
        .max_attempts(4)
        .exponential_backoff(std::time::Duration::from_millis(100))
        .build()
        .layer(service)
}

fn median(figures: &mut [f64]) -> f64 {
    figures.sort_by(f64::total_cmp);
    figures[figures.len() / 2]
}
