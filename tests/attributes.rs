//! Behaviour of the five attribute macros (`#[circuit_breaker]`, `#[retry]`, `#[timeout]`,
//! `#[bulkhead]`, `#[fallback]`, docs/CONTRACT.md §2.1–2.5 and §2.7) on tokio's paused clock: stacking in
//! any order, the composition order, the function shapes they accept, how arguments reach each
//! attempt and the fallback, and how errors reach the caller.
//!
//! Every breaker and bulkhead has its own name (the registry is process-wide), except where a
//! test is about the default name or about sharing one.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use resilience::{
    CircuitBreakerMetrics, CircuitState, ResilienceError, bulkhead, circuit_breaker, registry,
    retry,
};
use tokio::time::{Instant, sleep};

#[path = "attributes/arguments.rs"]
mod arguments;
#[path = "attributes/composition.rs"]
mod composition;
#[path = "attributes/errors.rs"]
mod errors;
#[path = "attributes/instrument.rs"]
mod instrument;
#[path = "attributes/shapes.rs"]
mod shapes;
#[path = "attributes/stacking.rs"]
mod stacking;

/// Milliseconds, for the paused clock.
fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// The error type of every resilient function here: the operation's own errors (`Op`) and the
/// framework's rejections, received through `From<ResilienceError>`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TestError {
    /// The operation failed with this code.
    Op(u32),
    CircuitOpen {
        name: String,
    },
    Timeout {
        after: Duration,
    },
    BulkheadFull {
        name: String,
    },
    /// Any other rejection, by its message.
    Other(String),
}

impl From<ResilienceError> for TestError {
    fn from(error: ResilienceError) -> Self {
        match error {
            ResilienceError::CircuitOpen { name } => TestError::CircuitOpen { name },
            ResilienceError::Timeout { after } => TestError::Timeout { after },
            ResilienceError::BulkheadFull { name } => TestError::BulkheadFull { name },
            other => TestError::Other(other.to_string()),
        }
    }
}

impl TestError {
    /// The same error with policy names blanked, to compare two functions whose policies have
    /// different names.
    fn anonymous(self) -> TestError {
        match self {
            TestError::CircuitOpen { .. } => TestError::CircuitOpen {
                name: String::new(),
            },
            TestError::BulkheadFull { .. } => TestError::BulkheadFull {
                name: String::new(),
            },
            other => other,
        }
    }
}

/// What one run of a scripted body does.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Succeeds at once with this value.
    Ok(u32),
    /// Fails at once with `TestError::Op(code)`.
    Err(u32),
    /// Sleeps this many milliseconds, then succeeds with the value.
    Slow(u64, u32),
    /// Sleeps an hour (longer than any timeout here), then succeeds with `u32::MAX`.
    Hang,
}

/// What a fallback of a scripted function returns.
const FALLBACK: u32 = 100;

/// The behaviour of a scripted function's body, one step per run, and what ran. Cheap to clone
/// (it is an owned argument, cloned for each attempt).
#[derive(Clone)]
struct Script(Arc<ScriptState>);

struct ScriptState {
    steps: Mutex<VecDeque<Step>>,
    body_runs: AtomicU32,
    fallback_runs: AtomicU32,
}

impl Script {
    fn new(steps: &[Step]) -> Self {
        Script(Arc::new(ScriptState {
            steps: Mutex::new(steps.iter().copied().collect()),
            body_runs: AtomicU32::new(0),
            fallback_runs: AtomicU32::new(0),
        }))
    }

    /// The body: runs the next step.
    async fn run(&self) -> Result<u32, TestError> {
        self.0.body_runs.fetch_add(1, Ordering::SeqCst);
        let step = self.0.steps.lock().unwrap().pop_front();
        match step.expect("the body ran more often than the script has steps") {
            Step::Ok(value) => Ok(value),
            Step::Err(code) => Err(TestError::Op(code)),
            Step::Slow(millis, value) => {
                sleep(ms(millis)).await;
                Ok(value)
            }
            Step::Hang => {
                sleep(Duration::from_secs(3600)).await;
                Ok(u32::MAX)
            }
        }
    }

    /// The fallback.
    fn fallback(&self) -> Result<u32, TestError> {
        self.0.fallback_runs.fetch_add(1, Ordering::SeqCst);
        Ok(FALLBACK)
    }

    fn body_runs(&self) -> u32 {
        self.0.body_runs.load(Ordering::SeqCst)
    }

    fn fallback_runs(&self) -> u32 {
        self.0.fallback_runs.load(Ordering::SeqCst)
    }
}

/// The fallback of every scripted function.
async fn scripted_fallback(script: Script) -> Result<u32, TestError> {
    script.fallback()
}

/// One step of a scenario driving a scripted function.
#[derive(Debug, Clone, Copy)]
enum Round {
    /// One call.
    Call,
    /// Two calls polled together on this task, the first polled first.
    Concurrent,
    /// Let this many milliseconds pass.
    Wait(u64),
}

/// Everything observable about a scripted function after a scenario.
#[derive(Debug, PartialEq)]
struct Observed {
    /// Each call's result (policy names blanked) and when it returned, since the scenario began.
    results: Vec<(Result<u32, TestError>, Duration)>,
    body_runs: u32,
    fallback_runs: u32,
    /// The breaker's state and counts, when the function has one.
    breaker: Option<(CircuitState, CircuitBreakerMetrics)>,
    /// Bodies still holding a bulkhead slot, when the function has one.
    bulkhead_in_flight: Option<usize>,
}

/// Runs `rounds` against `function`, whose body follows `steps`.
async fn observe<F, Fut>(
    function: F,
    breaker: Option<&str>,
    bulkhead: Option<&str>,
    steps: &[Step],
    rounds: &[Round],
) -> Observed
where
    F: Fn(Script) -> Fut,
    Fut: Future<Output = Result<u32, TestError>>,
{
    let script = Script::new(steps);
    let start = Instant::now();
    let timed = |call: Fut| async move {
        let result = call.await.map_err(TestError::anonymous);
        (result, start.elapsed())
    };
    let mut results = Vec::new();
    for round in rounds {
        match *round {
            Round::Call => results.push(timed(function(script.clone())).await),
            Round::Concurrent => {
                let (first, second) = tokio::join!(
                    biased;
                    timed(function(script.clone())),
                    timed(function(script.clone())),
                );
                results.extend([first, second]);
            }
            Round::Wait(millis) => sleep(ms(millis)).await,
        }
    }
    Observed {
        results,
        body_runs: script.body_runs(),
        fallback_runs: script.fallback_runs(),
        breaker: breaker.map(|name| {
            let breaker = registry()
                .circuit_breaker(name)
                .unwrap_or_else(|| panic!("breaker `{name}` is not registered"));
            (breaker.state(), breaker.metrics())
        }),
        bulkhead_in_flight: bulkhead.map(|name| {
            registry()
                .bulkhead(name)
                .unwrap_or_else(|| panic!("bulkhead `{name}` is not registered"))
                .in_flight()
        }),
    }
}

/// Breaker counts, for comparisons.
fn counts(successful: u64, failed: u64, rejected: u64, opened: u64) -> CircuitBreakerMetrics {
    CircuitBreakerMetrics {
        successful,
        failed,
        rejected,
        opened,
    }
}

// The default names are `concat!(module_path!(), "::", fn_name)`; the module path of an
// integration test's crate root is the crate's name, `attributes`.

static DEFAULT_NAMED_CALLS: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(max_failures = 3)]
#[bulkhead(max_concurrent_calls = 4)]
async fn default_named() -> Result<u32, TestError> {
    DEFAULT_NAMED_CALLS.fetch_add(1, Ordering::SeqCst);
    Ok(1)
}

#[tokio::test(start_paused = true)]
async fn default_breaker_and_bulkhead_names_are_module_path_and_function_name() {
    assert!(
        registry()
            .circuit_breaker("attributes::default_named")
            .is_none(),
        "a policy is registered on first use, not before"
    );
    assert_eq!(default_named().await, Ok(1));
    assert_eq!(DEFAULT_NAMED_CALLS.load(Ordering::SeqCst), 1);
    let breaker = registry()
        .circuit_breaker("attributes::default_named")
        .expect("the breaker is registered under `attributes::default_named`");
    assert_eq!(breaker.name(), "attributes::default_named");
    assert_eq!(breaker.metrics().successful, 1);
    let bulkhead = registry()
        .bulkhead("attributes::default_named")
        .expect("the bulkhead is registered under `attributes::default_named`");
    assert_eq!(bulkhead.max_concurrent_calls(), 4);
}

mod nested {
    use super::*;

    #[circuit_breaker]
    #[retry(max_retries = 0)]
    pub(super) async fn default_named_in_module() -> Result<u32, TestError> {
        Err(TestError::Op(1))
    }
}

#[tokio::test(start_paused = true)]
async fn default_breaker_name_includes_the_module_path() {
    assert_eq!(
        nested::default_named_in_module().await,
        Err(TestError::Op(1))
    );
    let breaker = registry()
        .circuit_breaker("attributes::nested::default_named_in_module")
        .expect("registered under the full module path");
    assert_eq!(breaker.metrics().failed, 1);
}

/// Public, documented, and checked by `missing_docs`: were the doc comment dropped by the
/// attributes, this module would not compile.
#[deny(missing_docs)]
pub mod documented {
    use std::sync::atomic::{AtomicU32, Ordering};

    use resilience::{retry, timeout};

    /// Calls of [`documented_fn`].
    pub static DOCUMENTED_CALLS: AtomicU32 = AtomicU32::new(0);

    /// The error of [`documented_fn`].
    #[derive(Debug, PartialEq)]
    pub struct DocumentedError;

    impl From<resilience::ResilienceError> for DocumentedError {
        fn from(_: resilience::ResilienceError) -> Self {
            DocumentedError
        }
    }

    /// A resilient function documented above its attributes.
    #[retry(
        max_retries = 2,
        backoff = "fixed",
        base_delay = "1ms",
        jitter_factor = 0.0
    )]
    #[timeout("1s")]
    pub async fn documented_fn() -> Result<u32, DocumentedError> {
        DOCUMENTED_CALLS.fetch_add(1, Ordering::SeqCst);
        Err(DocumentedError)
    }

    #[timeout("1s")]
    /// A resilient function documented between its attributes.
    #[retry(
        max_retries = 2,
        backoff = "fixed",
        base_delay = "1ms",
        jitter_factor = 0.0
    )]
    pub async fn documented_between() -> Result<u32, DocumentedError> {
        DOCUMENTED_CALLS.fetch_add(1, Ordering::SeqCst);
        Err(DocumentedError)
    }
}

#[tokio::test(start_paused = true)]
async fn doc_comments_are_kept_on_the_expanded_function() {
    assert_eq!(
        documented::documented_fn().await,
        Err(documented::DocumentedError)
    );
    assert_eq!(
        documented::documented_between().await,
        Err(documented::DocumentedError)
    );
    assert_eq!(documented::DOCUMENTED_CALLS.load(Ordering::SeqCst), 6);
}
