//! The one composition, three ways in (issue 12, `specs/Pipeline.tla`): an annotated function,
//! `Pipeline::run` and `ResilienceFacade::execute`, each with its own breaker and bulkhead of the
//! same configuration, driven through the same script of outcomes (successes, errors, timeouts,
//! the breaker's rejections, a cancelled call, a body that panics, a `BulkheadFull` beside a
//! running call) on tokio's paused clock, once without a fallback and once with one. Their
//! traces — per call, how many bodies ran, what came back, how long it took, and the breaker
//! transitions the registry's event stream reported — must be identical.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::task::Poll;
use std::time::Duration;

use resilience::{
    Backoff, BoxError, Bulkhead, BulkheadConfig, CircuitBreaker, CircuitBreakerConfig,
    CircuitState, Failure, Pipeline, ResilienceConfig, ResilienceError, ResilienceFacade,
    RetryConfig, TimeoutConfig, bulkhead, circuit_breaker, fallback, registry, retry, timeout,
};
use tokio::sync::broadcast::Receiver;
use tokio::time::Instant;

/// What one body does when it runs.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Returns this value.
    Ok(u32),
    /// Fails with this code.
    Err(u32),
    /// Takes 1 s, longer than the 100 ms timeout.
    Slow,
    /// Takes 50 ms (within the timeout), holding its bulkhead slot, then returns 50.
    Hold,
    /// Panics.
    Panic,
}

/// The bodies of the function under test take their steps from here, in order.
static SCRIPT: Mutex<VecDeque<Step>> = Mutex::new(VecDeque::new());
static BODIES: Mutex<u32> = Mutex::new(0);

async fn body() -> Result<u32, u32> {
    *BODIES.lock().unwrap() += 1;
    let step = SCRIPT.lock().unwrap().pop_front().unwrap_or(Step::Ok(0));
    match step {
        Step::Ok(value) => Ok(value),
        Step::Err(code) => Err(code),
        Step::Slow => {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(1_000)
        }
        Step::Hold => {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok(50)
        }
        Step::Panic => panic!("the scripted panic"),
    }
}

/// What the fallbacks return, counting their runs.
const FALLBACK: u32 = 777;
static FALLBACKS: Mutex<u32> = Mutex::new(0);

async fn fallback_value() -> u32 {
    *FALLBACKS.lock().unwrap() += 1;
    FALLBACK
}

/// `future`'s output, or `Panicked` if polling it panicked (the panic is caught, as a task's
/// would be by its runtime).
async fn catching(future: impl Future<Output = Returned>) -> Returned {
    let mut future = Box::pin(future);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(_) => Poll::Ready(Returned::Panicked),
        }
    })
    .await
}

/// What a call returned, with the policies' names left out.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Returned {
    Value(u32),
    Operation(u32),
    CircuitOpen,
    Timeout,
    BulkheadFull,
    /// Dropped by the caller before it ended.
    Cancelled,
    /// The body's panic reached the caller.
    Panicked,
    Other(String),
}

impl From<ResilienceError> for Returned {
    fn from(error: ResilienceError) -> Self {
        match error {
            ResilienceError::CircuitOpen { .. } => Returned::CircuitOpen,
            ResilienceError::Timeout { .. } => Returned::Timeout,
            ResilienceError::BulkheadFull { .. } => Returned::BulkheadFull,
            ResilienceError::Operation(error) => error
                .to_string()
                .parse()
                .map_or_else(|_| Returned::Other(error.to_string()), Returned::Operation),
            other => Returned::Other(other.to_string()),
        }
    }
}

/// One call in a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Call {
    bodies: u32,
    returned: Returned,
    took: Duration,
    transitions: Vec<(CircuitState, CircuitState)>,
    /// What a second caller, started beside this one, got.
    beside: Option<Returned>,
    /// Fallbacks run.
    fallbacks: u32,
}

const MAX_RETRIES: u32 = 2;
const DELAY: Duration = Duration::from_millis(10);
const TIMEOUT: Duration = Duration::from_millis(100);
const RESET: Duration = Duration::from_secs(1);

fn retry_config() -> RetryConfig {
    RetryConfig {
        max_retries: MAX_RETRIES,
        base_delay: DELAY,
        max_delay: DELAY,
        jitter_factor: 0.0,
        backoff: Backoff::Fixed,
        max_duration: None,
    }
}

fn breaker_config() -> CircuitBreakerConfig {
    CircuitBreakerConfig {
        max_failures: 3,
        reset_timeout: RESET,
        ..CircuitBreakerConfig::DEFAULT
    }
}

/// One body at a time and no queue: a second caller is refused with `BulkheadFull`.
fn bulkhead_config() -> BulkheadConfig {
    BulkheadConfig {
        max_concurrent_calls: 1,
        max_queue_size: 0,
        max_wait: None,
    }
}

// The same configuration as the two functions above, in the attributes' words.
#[retry(
    max_retries = 2,
    backoff = "fixed",
    base_delay = "10ms",
    max_delay = "10ms",
    jitter_factor = 0.0
)]
#[circuit_breaker(
    name = "differential::attribute",
    max_failures = 3,
    reset_timeout = "1s"
)]
#[timeout("100ms")]
#[bulkhead(
    name = "differential::attribute",
    max_concurrent_calls = 1,
    max_queue_size = 0
)]
async fn annotated() -> Result<u32, Returned> {
    body().await.map_err(Returned::Operation)
}

// The same, with a fallback.
#[fallback(annotated_fallback)]
#[retry(
    max_retries = 2,
    backoff = "fixed",
    base_delay = "10ms",
    max_delay = "10ms",
    jitter_factor = 0.0
)]
#[circuit_breaker(
    name = "differential::attribute_fallback",
    max_failures = 3,
    reset_timeout = "1s"
)]
#[timeout("100ms")]
#[bulkhead(
    name = "differential::attribute_fallback",
    max_concurrent_calls = 1,
    max_queue_size = 0
)]
async fn annotated_with_fallback() -> Result<u32, Returned> {
    body().await.map_err(Returned::Operation)
}

async fn annotated_fallback() -> Result<u32, Returned> {
    Ok(fallback_value().await)
}

/// How a call of the scenario is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    /// Awaited to its end.
    Awaited,
    /// Dropped by its caller after 50 ms.
    Cancelled,
    /// Awaited beside a second call started at the same instant.
    Beside,
}

/// The calls of the scenario: each is the script of its bodies and how it is called; time
/// moves on by `then` after it.
fn scenario() -> Vec<(Vec<Step>, How, Duration)> {
    use How::*;
    use Step::*;
    vec![
        (vec![Ok(1)], Awaited, Duration::ZERO),
        // The panic reaches the caller, not retried (and counts as a breaker failure).
        (vec![Panic], Awaited, Duration::ZERO),
        // Retried once; the success ends the run of failures.
        (vec![Err(1), Ok(2)], Awaited, Duration::ZERO),
        // The first caller holds the only slot for 50 ms; the second is refused with
        // `BulkheadFull` three times (retried after 10 and 20 ms), runs no body, and gives up.
        (vec![Hold], Beside, Duration::ZERO),
        // Dropped by its caller while the body runs: no outcome.
        (vec![Slow], Cancelled, Duration::ZERO),
        // A timeout and two errors: three failures in a row open the breaker.
        (vec![Slow, Err(2), Err(3)], Awaited, Duration::ZERO),
        // Rejected at once, not retried, no body.
        (vec![], Awaited, RESET),
        // The reset timeout has passed: a trial, which succeeds and closes.
        (vec![Ok(5)], Awaited, Duration::ZERO),
        // Timeouts only: opens again, gives up with the timeout.
        (vec![Slow, Slow, Slow], Awaited, Duration::ZERO),
        (vec![Ok(9)], Awaited, Duration::ZERO),
    ]
}

/// Runs the scenario through `call`, the trace of the breaker `name`.
async fn trace<F, Fut>(
    name: &str,
    events: &mut Receiver<resilience::events::Event>,
    call: F,
) -> Vec<Call>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Returned>,
{
    let mut trace = Vec::new();
    for (script, how, then) in scenario() {
        *SCRIPT.lock().unwrap() = script.into();
        *BODIES.lock().unwrap() = 0;
        *FALLBACKS.lock().unwrap() = 0;
        let started = Instant::now();
        let (returned, beside) = match how {
            How::Awaited => (catching(call()).await, None),
            How::Cancelled => (
                tokio::time::timeout(Duration::from_millis(50), catching(call()))
                    .await
                    .unwrap_or(Returned::Cancelled),
                None,
            ),
            How::Beside => {
                let (first, second) = tokio::join!(catching(call()), catching(call()));
                (first, Some(second))
            }
        };
        let took = started.elapsed();
        let mut transitions = Vec::new();
        while let Ok(event) = events.try_recv() {
            if let resilience::events::Event::CircuitBreakerTransition {
                name: of, from, to, ..
            } = event
                && of == name
            {
                transitions.push((from, to));
            }
        }
        trace.push(Call {
            bodies: *BODIES.lock().unwrap(),
            returned,
            took,
            transitions,
            beside,
            fallbacks: *FALLBACKS.lock().unwrap(),
        });
        tokio::time::advance(then).await;
    }
    trace
}

#[tokio::test(start_paused = true)]
async fn the_attributes_the_pipeline_and_the_facade_trace_the_same_calls() {
    let mut events = registry().subscribe();

    let by_attributes = trace("differential::attribute", &mut events, || async {
        match annotated().await {
            Ok(value) => Returned::Value(value),
            Err(returned) => returned,
        }
    })
    .await;

    let breaker = CircuitBreaker::new("differential::pipeline", breaker_config()).unwrap();
    let bulkhead = Bulkhead::new("differential::pipeline", bulkhead_config()).unwrap();
    let retry = retry_config();
    let pipeline = Pipeline {
        retry: Some(&retry),
        circuit_breaker: Some(&breaker),
        timeout: Some(TIMEOUT),
        bulkhead: Some(&bulkhead),
    };
    let by_pipeline = trace("differential::pipeline", &mut events, || async {
        match pipeline.run(|_| true, |_| true, body).await {
            Ok(value) => Returned::Value(value),
            Err(Failure::Operation(code)) => Returned::Operation(code),
            Err(Failure::Rejected(rejection)) => rejection.into(),
        }
    })
    .await;

    let facade = ResilienceFacade::try_with_config(ResilienceConfig {
        circuit_breaker: breaker_config(),
        retry: retry_config(),
        timeout: TimeoutConfig { timeout: TIMEOUT },
        bulkhead: bulkhead_config(),
    })
    .unwrap();
    let by_facade = trace("differential/facade", &mut events, || async {
        let operation = || async {
            body()
                .await
                .map_err(|code| BoxError::from(code.to_string()))
        };
        match facade
            .execute_without_fallback("differential", "facade", operation)
            .await
        {
            Ok(value) => Returned::Value(value),
            Err(error) => error.into(),
        }
    })
    .await;

    // The scenario does what it says (so the comparison is not between three empty traces).
    let expected_returns = [
        Returned::Value(1),
        Returned::Panicked,
        Returned::Value(2),
        Returned::Value(50),
        Returned::Cancelled,
        Returned::Operation(3),
        Returned::CircuitOpen,
        Returned::Value(5),
        Returned::Timeout,
        Returned::CircuitOpen,
    ];
    let returned: Vec<_> = by_attributes.iter().map(|c| c.returned.clone()).collect();
    assert_eq!(returned, expected_returns, "{by_attributes:#?}");
    assert_eq!(by_attributes[1].bodies, 1, "a panic is not retried");
    assert_eq!(by_attributes[3].beside, Some(Returned::BulkheadFull));
    assert_eq!(
        by_attributes[3].bodies, 1,
        "the refused caller runs no body"
    );
    assert_eq!(by_attributes[6].bodies, 0, "a rejected call runs no body");
    assert_eq!(
        by_attributes[5].transitions,
        [(CircuitState::Closed, CircuitState::Open)]
    );
    assert_eq!(by_attributes[5].took, TIMEOUT + DELAY * 2);
    assert!(by_attributes.iter().all(|call| call.fallbacks == 0));

    assert_eq!(
        by_pipeline, by_attributes,
        "Pipeline::run differs from the attributes"
    );
    assert_eq!(
        by_facade, by_attributes,
        "the facade differs from the attributes"
    );

    // Again with a fallback: the attribute's `#[fallback]`, the pipeline's caller falling back
    // on any failure (as the attribute's page writes it without the macro), the facade's
    // `execute` with one. It runs exactly where a call failed (not on a panic or a
    // cancellation), once per failed call, and changes nothing else.
    let with_attributes = trace("differential::attribute_fallback", &mut events, || async {
        match annotated_with_fallback().await {
            Ok(value) => Returned::Value(value),
            Err(returned) => returned,
        }
    })
    .await;

    let breaker = CircuitBreaker::new("differential::pipeline_fallback", breaker_config()).unwrap();
    let bulkhead = Bulkhead::new("differential::pipeline_fallback", bulkhead_config()).unwrap();
    let pipeline = Pipeline {
        retry: Some(&retry),
        circuit_breaker: Some(&breaker),
        timeout: Some(TIMEOUT),
        bulkhead: Some(&bulkhead),
    };
    let with_pipeline = trace("differential::pipeline_fallback", &mut events, || async {
        match pipeline.run(|_| true, |_| true, body).await {
            Ok(value) => Returned::Value(value),
            Err(_) => Returned::Value(fallback_value().await),
        }
    })
    .await;

    let with_facade = trace("differential/fallback", &mut events, || async {
        let operation = || async {
            body()
                .await
                .map_err(|code| BoxError::from(code.to_string()))
        };
        let fallback = || async { Ok::<_, BoxError>(fallback_value().await) };
        match facade
            .execute("differential", "fallback", operation, Some(fallback))
            .await
        {
            Ok(value) => Returned::Value(value),
            Err(error) => error.into(),
        }
    })
    .await;

    let fell_back = |returned: &Returned| match returned {
        Returned::Value(_) | Returned::Cancelled | Returned::Panicked => (returned.clone(), 0),
        _ => (Returned::Value(FALLBACK), 1),
    };
    let expected: Vec<Call> = by_attributes
        .iter()
        .map(|call| {
            let (returned, mut fallbacks) = fell_back(&call.returned);
            let beside = call.beside.as_ref().map(|beside| {
                let (returned, ran) = fell_back(beside);
                fallbacks += ran;
                returned
            });
            Call {
                returned,
                beside,
                fallbacks,
                ..call.clone()
            }
        })
        .collect();
    assert_eq!(with_attributes, expected, "#[fallback]");
    assert!(
        with_attributes
            .iter()
            .map(|call| call.fallbacks)
            .sum::<u32>()
            >= 4
    );
    assert_eq!(
        with_pipeline, with_attributes,
        "Pipeline::run with a fallback differs from the attributes"
    );
    assert_eq!(
        with_facade, with_attributes,
        "the facade with a fallback differs from the attributes"
    );
}
