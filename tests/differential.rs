//! The one composition, three ways in (issue 12, `specs/Pipeline.tla`): an annotated function,
//! `Pipeline::run` and `ResilienceFacade::execute`, each with its own breaker and bulkhead of the
//! same configuration, driven through the same script of outcomes (successes, errors, timeouts,
//! the breaker's rejections, a cancelled call) on tokio's paused clock. Their traces — per call,
//! how many bodies ran, what came back, how long it took, and the breaker transitions the
//! registry's event stream reported — must be identical.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use resilience::{
    Backoff, BoxError, Bulkhead, BulkheadConfig, CircuitBreaker, CircuitBreakerConfig,
    CircuitState, Failure, Pipeline, ResilienceConfig, ResilienceError, ResilienceFacade,
    RetryConfig, TimeoutConfig, bulkhead, circuit_breaker, registry, retry, timeout,
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
    }
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
#[bulkhead(name = "differential::attribute")]
async fn annotated() -> Result<u32, Returned> {
    body().await.map_err(Returned::Operation)
}

/// The calls of the scenario: each is the script of its bodies, and whether the caller gives
/// up on it after 50 ms; time moves on by `then` after it.
fn scenario() -> Vec<(Vec<Step>, bool, Duration)> {
    use Step::*;
    vec![
        (vec![Ok(1)], false, Duration::ZERO),
        // Retried once.
        (vec![Err(1), Ok(2)], false, Duration::ZERO),
        // Dropped by its caller while the body runs: no outcome.
        (vec![Slow], true, Duration::ZERO),
        // A timeout and two errors: three failures in a row open the breaker.
        (vec![Slow, Err(2), Err(3)], false, Duration::ZERO),
        // Rejected at once, not retried, no body.
        (vec![], false, RESET),
        // The reset timeout has passed: a trial, which succeeds and closes.
        (vec![Ok(5)], false, Duration::ZERO),
        // Timeouts only: opens again, gives up with the timeout.
        (vec![Slow, Slow, Slow], false, Duration::ZERO),
        (vec![Ok(9)], false, Duration::ZERO),
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
    Fut: std::future::Future<Output = Returned>,
{
    let mut trace = Vec::new();
    for (script, cancel, then) in scenario() {
        *SCRIPT.lock().unwrap() = script.into();
        *BODIES.lock().unwrap() = 0;
        let started = Instant::now();
        let returned = if cancel {
            tokio::time::timeout(Duration::from_millis(50), call())
                .await
                .unwrap_or(Returned::Cancelled)
        } else {
            call().await
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
    let bulkhead = Bulkhead::new("differential::pipeline", BulkheadConfig::default()).unwrap();
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
        bulkhead: BulkheadConfig::default(),
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
        Returned::Value(2),
        Returned::Cancelled,
        Returned::Operation(3),
        Returned::CircuitOpen,
        Returned::Value(5),
        Returned::Timeout,
        Returned::CircuitOpen,
    ];
    let returned: Vec<_> = by_attributes.iter().map(|c| c.returned.clone()).collect();
    assert_eq!(returned, expected_returns, "{by_attributes:#?}");
    assert_eq!(by_attributes[4].bodies, 0, "a rejected call runs no body");
    assert_eq!(
        by_attributes[3].transitions,
        [(CircuitState::Closed, CircuitState::Open)]
    );
    assert_eq!(by_attributes[3].took, TIMEOUT + DELAY * 2);

    assert_eq!(
        by_pipeline, by_attributes,
        "Pipeline::run differs from the attributes"
    );
    assert_eq!(
        by_facade, by_attributes,
        "the facade differs from the attributes"
    );
}
