//! The registry of docs/CONTRACT.md §4: registration on first use, lookup and listing by name, handles
//! that act on the shared policy, the first configuration kept on reuse (with a warning), and a
//! tracing event for every breaker transition.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use resilience::{
    BulkheadConfig, CircuitBreakerConfig, CircuitBreakerMetrics, CircuitState, NoFallback,
    Registry, ResilienceConfig, ResilienceError, ResilienceFacade, RetryConfig, TimeoutConfig,
    registry,
};
use tokio::sync::{Barrier, mpsc, watch};
use tracing::field::{Field, Visit};
use tracing::span;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata, Subscriber};

// ---------------------------------------------------------------------------------------------
// Capturing tracing events
//
// One process-wide subscriber, installed once: scoped dispatchers (`set_default`) share the
// callsite interest cache with every other test thread of this binary, so a capture that must
// not miss an event is simplest as the global default. Tests find their own events by the unique
// policy name they carry.

#[derive(Debug, Clone)]
struct CapturedEvent {
    level: Level,
    target: String,
    fields: BTreeMap<String, String>,
}

impl CapturedEvent {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    fn mentions(&self, value: &str) -> bool {
        self.fields.values().any(|field| field == value)
    }
}

struct Capture;

struct FieldsVisitor<'a>(&'a mut BTreeMap<String, String>);

impl Visit for FieldsVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl Subscriber for Capture {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::always()
    }

    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut FieldsVisitor(&mut fields));
        lock(&EVENTS).push(CapturedEvent {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            fields,
        });
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

static EVENTS: Mutex<Vec<CapturedEvent>> = Mutex::new(Vec::new());

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Installs the capturing subscriber (once per test binary).
fn capture_events() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        tracing::subscriber::set_global_default(Capture)
            .expect("no other global subscriber in this test binary");
    });
}

/// The captured events matching `predicate`, in emission order.
fn events_where(predicate: impl Fn(&CapturedEvent) -> bool) -> Vec<CapturedEvent> {
    lock(&EVENTS)
        .iter()
        .filter(|event| predicate(event))
        .cloned()
        .collect()
}

/// Warnings of target `resilience` that mention the policy `name`.
fn reuse_warnings(name: &str) -> Vec<CapturedEvent> {
    events_where(|event| {
        event.level == Level::WARN && event.target == "resilience" && event.mentions(name)
    })
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn facade(circuit_breaker: CircuitBreakerConfig, bulkhead: BulkheadConfig) -> ResilienceFacade {
    ResilienceFacade::try_with_config(ResilienceConfig {
        circuit_breaker,
        retry: RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        },
        timeout: TimeoutConfig {
            timeout: Duration::from_secs(60),
        },
        bulkhead,
    })
    .expect("a valid configuration")
}

fn max_failures(max_failures: u32) -> CircuitBreakerConfig {
    CircuitBreakerConfig {
        max_failures,
        ..CircuitBreakerConfig::default()
    }
}

async fn succeed(
    facade: &ResilienceFacade,
    service: &str,
    operation: &str,
) -> Result<u32, ResilienceError> {
    facade
        .execute(
            service,
            operation,
            || async { Ok(1) },
            None::<NoFallback<u32>>,
        )
        .await
}

async fn fail(
    facade: &ResilienceFacade,
    service: &str,
    operation: &str,
) -> Result<u32, ResilienceError> {
    facade
        .execute(
            service,
            operation,
            || async { Err("down".into()) },
            None::<NoFallback<u32>>,
        )
        .await
}

fn assert_circuit_open(result: Result<u32, ResilienceError>, breaker: &str) {
    match result {
        Err(ResilienceError::CircuitOpen { name }) => assert_eq!(name, breaker),
        other => panic!("expected CircuitOpen from `{breaker}`, got {other:?}"),
    }
}

fn metrics(successful: u64, failed: u64, rejected: u64, opened: u64) -> CircuitBreakerMetrics {
    CircuitBreakerMetrics {
        successful,
        failed,
        rejected,
        opened,
    }
}

// ---------------------------------------------------------------------------------------------
// Registration and lookup

#[tokio::test(start_paused = true)]
async fn facade_execute_registers_breaker_and_bulkhead_on_first_use() {
    let name = "reg-first-use/get";
    assert!(registry().circuit_breaker(name).is_none());
    assert!(registry().bulkhead(name).is_none());

    let breaker_config = max_failures(7);
    let bulkhead_config = BulkheadConfig {
        max_concurrent_calls: 4,
        max_queue_size: 9,
        max_wait: None,
    };
    let facade = facade(breaker_config.clone(), bulkhead_config.clone());
    assert_eq!(
        registry()
            .circuit_breaker(name)
            .map(|handle| handle.name().to_owned()),
        None,
        "building a facade registers nothing"
    );
    assert_eq!(succeed(&facade, "reg-first-use", "get").await.unwrap(), 1);

    let breaker = registry()
        .circuit_breaker(name)
        .expect("execute registers the breaker as <service>/<operation>");
    assert_eq!(breaker.name(), name);
    assert_eq!(breaker.config(), &breaker_config);
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.metrics(), metrics(1, 0, 0, 0));

    let bulkhead = registry()
        .bulkhead(name)
        .expect("execute registers the bulkhead as <service>/<operation>");
    assert_eq!(bulkhead.name(), name);
    assert_eq!(bulkhead.config(), &bulkhead_config);
    assert_eq!(bulkhead.max_concurrent_calls(), 4);
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (0, 0));
}

#[test]
fn unknown_names_have_no_handle() {
    assert!(registry().circuit_breaker("reg-never-registered").is_none());
    assert!(registry().bulkhead("reg-never-registered").is_none());
    let empty = Registry::new();
    assert!(empty.circuit_breaker("anything").is_none());
    assert!(empty.circuit_breakers().is_empty());
    assert!(empty.bulkhead("anything").is_none());
}

#[test]
fn lookup_returns_the_registered_breaker_and_bulkhead() {
    let config = max_failures(3);
    let breaker = registry()
        .circuit_breaker_or_register("reg-lookup", &config)
        .expect("valid");
    let handle = registry()
        .circuit_breaker("reg-lookup")
        .expect("registered");
    breaker.force_open();
    assert_eq!(handle.state(), CircuitState::Open, "the same breaker");
    let again = registry()
        .circuit_breaker_or_register("reg-lookup", &config)
        .expect("valid");
    assert!(Arc::ptr_eq(&breaker, &again));

    let bulkhead = registry()
        .bulkhead_or_register("reg-lookup", &BulkheadConfig::default())
        .expect("valid");
    let slot = bulkhead.try_acquire().expect("a free slot");
    let handle = registry().bulkhead("reg-lookup").expect("registered");
    assert_eq!(handle.in_flight(), 1, "the same bulkhead");
    drop(slot);
    assert_eq!(handle.in_flight(), 0);
}

#[test]
fn circuit_breakers_lists_every_registered_breaker_by_name() {
    let config = CircuitBreakerConfig::default();
    for name in ["reg-list/b", "reg-list/c", "reg-list/a"] {
        registry()
            .circuit_breaker_or_register(name, &config)
            .expect("valid");
    }
    let names: Vec<String> = registry()
        .circuit_breakers()
        .iter()
        .map(|handle| handle.name().to_owned())
        .collect();
    let ours: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|name| name.starts_with("reg-list/"))
        .collect();
    assert_eq!(ours, ["reg-list/a", "reg-list/b", "reg-list/c"]);
    assert!(
        names.windows(2).all(|pair| pair[0] < pair[1]),
        "listed by name, each once: {names:?}"
    );

    let own = Registry::new();
    for name in ["z", "x", "y"] {
        own.circuit_breaker_or_register(name, &config)
            .expect("valid");
    }
    let names: Vec<String> = own
        .circuit_breakers()
        .iter()
        .map(|handle| handle.name().to_owned())
        .collect();
    assert_eq!(names, ["x", "y", "z"]);
}

#[test]
fn bulkheads_lists_every_registered_bulkhead_by_name() {
    let own = Registry::new();
    for name in ["q", "p"] {
        own.bulkhead_or_register(name, &BulkheadConfig::default())
            .expect("valid");
    }
    let names: Vec<String> = own
        .bulkheads()
        .iter()
        .map(|handle| handle.name().to_owned())
        .collect();
    assert_eq!(names, ["p", "q"]);
}

#[test]
fn a_new_registry_is_independent_of_the_process_wide_one() {
    let own = Registry::new();
    own.circuit_breaker_or_register("reg-own-only", &CircuitBreakerConfig::default())
        .expect("valid");
    own.bulkhead_or_register("reg-own-only", &BulkheadConfig::default())
        .expect("valid");
    assert!(own.circuit_breaker("reg-own-only").is_some());
    assert!(registry().circuit_breaker("reg-own-only").is_none());
    assert!(registry().bulkhead("reg-own-only").is_none());
}

#[test]
fn registering_an_invalid_config_fails_and_registers_nothing() {
    let error = registry()
        .circuit_breaker_or_register("reg-invalid", &max_failures(0))
        .expect_err("max_failures 0 is out of range");
    assert_eq!(error.key, "max_failures");
    assert!(registry().circuit_breaker("reg-invalid").is_none());
    let error = registry()
        .bulkhead_or_register(
            "reg-invalid",
            &BulkheadConfig {
                max_concurrent_calls: 0,
                ..BulkheadConfig::default()
            },
        )
        .expect_err("max_concurrent_calls 0 is out of range");
    assert_eq!(error.key, "max_concurrent_calls");
    assert!(registry().bulkhead("reg-invalid").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_uses_of_a_name_share_one_breaker() {
    const CALLERS: usize = 32;
    let barrier = Arc::new(Barrier::new(CALLERS));
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                registry()
                    .circuit_breaker_or_register("reg-concurrent-first-use", &max_failures(2))
                    .expect("valid")
            })
        })
        .collect();
    let mut breakers = Vec::new();
    for task in tasks {
        breakers.push(task.await.expect("no panic"));
    }
    assert!(
        breakers
            .iter()
            .all(|breaker| Arc::ptr_eq(breaker, &breakers[0]))
    );
    assert_eq!(
        registry()
            .circuit_breakers()
            .iter()
            .filter(|handle| handle.name() == "reg-concurrent-first-use")
            .count(),
        1
    );
}

// ---------------------------------------------------------------------------------------------
// Handles act on the shared breaker

#[tokio::test(start_paused = true)]
async fn handle_reports_state_and_metrics_of_facade_calls() {
    let name = "reg-handle-metrics/op";
    let facade = facade(max_failures(2), BulkheadConfig::default());
    succeed(&facade, "reg-handle-metrics", "op").await.unwrap();
    let handle = registry().circuit_breaker(name).expect("registered");
    assert_eq!(handle.metrics(), metrics(1, 0, 0, 0));
    fail(&facade, "reg-handle-metrics", "op").await.unwrap_err();
    fail(&facade, "reg-handle-metrics", "op").await.unwrap_err();
    assert_eq!(handle.state(), CircuitState::Open);
    assert_circuit_open(fail(&facade, "reg-handle-metrics", "op").await, name);
    assert_eq!(handle.metrics(), metrics(1, 2, 1, 1));

    tokio::time::advance(CircuitBreakerConfig::default().reset_timeout).await;
    assert_eq!(
        handle.state(),
        CircuitState::Open,
        "checked on the next call"
    );
    succeed(&facade, "reg-handle-metrics", "op").await.unwrap();
    assert_eq!(handle.state(), CircuitState::Closed);
    assert_eq!(handle.metrics(), metrics(2, 2, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn handles_to_one_name_act_on_the_shared_breaker() {
    let name = "reg-shared-handles/op";
    let facade = facade(max_failures(2), BulkheadConfig::default());
    succeed(&facade, "reg-shared-handles", "op").await.unwrap();
    let operator = registry().circuit_breaker(name).expect("registered");
    let observer = registry().circuit_breaker(name).expect("registered");

    operator.force_open();
    assert_eq!(observer.state(), CircuitState::Open);
    let ran = std::cell::Cell::new(false);
    let result = facade
        .execute(
            "reg-shared-handles",
            "op",
            || async {
                ran.set(true);
                Ok(1)
            },
            None::<NoFallback<u32>>,
        )
        .await;
    assert!(
        !ran.get(),
        "a forced-open breaker does not run the operation"
    );
    assert_circuit_open(result, name);
    assert_eq!(observer.metrics(), metrics(1, 0, 1, 1));

    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_circuit_open(succeed(&facade, "reg-shared-handles", "op").await, name);

    observer.reset();
    assert_eq!(operator.state(), CircuitState::Closed);
    assert_eq!(operator.metrics(), CircuitBreakerMetrics::default());
    assert_eq!(
        succeed(&facade, "reg-shared-handles", "op").await.unwrap(),
        1
    );
    assert_eq!(operator.metrics(), metrics(1, 0, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn handle_reset_clears_the_consecutive_failure_count() {
    let name = "reg-handle-reset-count/op";
    let facade = facade(max_failures(2), BulkheadConfig::default());
    fail(&facade, "reg-handle-reset-count", "op")
        .await
        .unwrap_err();
    let handle = registry().circuit_breaker(name).expect("registered");
    handle.reset();
    fail(&facade, "reg-handle-reset-count", "op")
        .await
        .unwrap_err();
    assert_eq!(handle.state(), CircuitState::Closed);
    fail(&facade, "reg-handle-reset-count", "op")
        .await
        .unwrap_err();
    assert_eq!(handle.state(), CircuitState::Open);
}

#[tokio::test]
async fn bulkhead_handle_reports_in_flight_queued_and_max_concurrent_calls() {
    let name = "reg-bulkhead-handle/call";
    let facade = facade(
        CircuitBreakerConfig::default(),
        BulkheadConfig {
            max_concurrent_calls: 1,
            max_queue_size: 5,
            max_wait: None,
        },
    );
    let (release, released) = watch::channel(false);
    let (entered_tx, mut entered) = mpsc::unbounded_channel::<u32>();
    let calls: Vec<_> = (0..3u32)
        .map(|i| {
            let (facade, released, entered_tx) =
                (facade.clone(), released.clone(), entered_tx.clone());
            tokio::spawn(async move {
                facade
                    .execute(
                        "reg-bulkhead-handle",
                        "call",
                        move || {
                            let (mut released, entered_tx) = (released.clone(), entered_tx.clone());
                            async move {
                                entered_tx.send(i).expect("the test listens");
                                released
                                    .wait_for(|released| *released)
                                    .await
                                    .expect("the test releases");
                                Ok(i)
                            }
                        },
                        None::<NoFallback<u32>>,
                    )
                    .await
            })
        })
        .collect();

    entered.recv().await.expect("one body runs");
    let handle = registry().bulkhead(name).expect("registered by execute");
    assert_eq!(handle.max_concurrent_calls(), 1);
    for _ in 0..1_000 {
        if handle.queued() == 2 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!((handle.in_flight(), handle.queued()), (1, 2));
    assert!(entered.try_recv().is_err(), "only one body runs at a time");

    release.send(true).expect("the bodies listen");
    let mut results = Vec::new();
    for call in calls {
        results.push(call.await.expect("no panic").expect("every call succeeds"));
    }
    results.sort_unstable();
    assert_eq!(results, [0, 1, 2]);
    assert_eq!((handle.in_flight(), handle.queued()), (0, 0));
}

// ---------------------------------------------------------------------------------------------
// Reusing a name with another configuration

#[test]
fn reusing_a_breaker_name_with_another_config_keeps_the_first_and_warns() {
    capture_events();
    let name = "reg-reuse-breaker";
    let first = max_failures(1);
    let second = max_failures(9);
    registry()
        .circuit_breaker_or_register(name, &first)
        .expect("valid");
    assert!(reuse_warnings(name).is_empty(), "first use does not warn");

    let kept = registry()
        .circuit_breaker_or_register(name, &second)
        .expect("valid");
    assert_eq!(kept.config(), &first);
    assert_eq!(
        registry()
            .circuit_breaker(name)
            .expect("registered")
            .config(),
        &first
    );
    assert_eq!(reuse_warnings(name).len(), 1, "one warning for the reuse");

    registry()
        .circuit_breaker_or_register(name, &first)
        .expect("valid");
    assert_eq!(
        reuse_warnings(name).len(),
        1,
        "reusing a name with the same configuration does not warn"
    );
}

#[test]
fn reusing_a_bulkhead_name_with_another_config_keeps_the_first_and_warns() {
    capture_events();
    let name = "reg-reuse-bulkhead";
    let first = BulkheadConfig {
        max_concurrent_calls: 2,
        ..BulkheadConfig::default()
    };
    let second = BulkheadConfig {
        max_concurrent_calls: 8,
        ..BulkheadConfig::default()
    };
    registry()
        .bulkhead_or_register(name, &first)
        .expect("valid");
    let kept = registry()
        .bulkhead_or_register(name, &second)
        .expect("valid");
    assert_eq!(kept.config(), &first);
    assert_eq!(
        registry()
            .bulkhead(name)
            .expect("registered")
            .max_concurrent_calls(),
        2
    );
    assert_eq!(reuse_warnings(name).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn facades_reusing_an_operation_with_another_config_keep_the_first_and_warn() {
    capture_events();
    let name = "reg-reuse-facade/op";
    let first = facade(max_failures(1), BulkheadConfig::default());
    let second = facade(
        max_failures(4),
        BulkheadConfig {
            max_concurrent_calls: 3,
            ..BulkheadConfig::default()
        },
    );
    succeed(&first, "reg-reuse-facade", "op").await.unwrap();
    assert!(reuse_warnings(name).is_empty());
    succeed(&second, "reg-reuse-facade", "op").await.unwrap();

    let breaker = registry().circuit_breaker(name).expect("registered");
    assert_eq!(breaker.config(), &max_failures(1));
    assert_eq!(
        registry()
            .bulkhead(name)
            .expect("registered")
            .max_concurrent_calls(),
        BulkheadConfig::default().max_concurrent_calls
    );
    assert_eq!(
        reuse_warnings(name).len(),
        2,
        "one warning for the breaker, one for the bulkhead: {:?}",
        reuse_warnings(name)
    );

    // The second facade's calls go through the first configuration: one failure opens.
    fail(&second, "reg-reuse-facade", "op").await.unwrap_err();
    assert_circuit_open(succeed(&second, "reg-reuse-facade", "op").await, name);
}

// ---------------------------------------------------------------------------------------------
// Transitions are traced

#[tokio::test(start_paused = true)]
async fn every_breaker_transition_emits_a_tracing_event_naming_the_breaker() {
    capture_events();
    let name = "reg-traced-transitions";
    let own = Registry::new();
    let config = CircuitBreakerConfig {
        max_failures: 1,
        reset_timeout: Duration::from_secs(10),
        half_open_allowed_calls: 1,
        ..CircuitBreakerConfig::default()
    };
    let breaker = own
        .circuit_breaker_or_register(name, &config)
        .expect("valid");

    breaker.try_acquire().expect("closed").failure(); // Closed → Open
    tokio::time::advance(config.reset_timeout).await;
    let trial = breaker.try_acquire().expect("half-open"); // Open → HalfOpen
    trial.success(); // HalfOpen → Closed
    breaker.force_open(); // Closed → Open
    breaker.reset(); // Open → Closed
    breaker.try_acquire().expect("closed").failure(); // Closed → Open
    tokio::time::advance(config.reset_timeout).await;
    breaker.try_acquire().expect("half-open").failure(); // Open → HalfOpen → Open

    let transitions: Vec<(String, String)> = events_where(|event| {
        event.target == "resilience" && event.field("circuit_breaker") == Some(name)
    })
    .into_iter()
    .map(|event| {
        (
            event.field("from").unwrap_or("?").to_owned(),
            event.field("to").unwrap_or("?").to_owned(),
        )
    })
    .collect();
    let expected = [
        ("Closed", "Open"),
        ("Open", "HalfOpen"),
        ("HalfOpen", "Closed"),
        ("Closed", "Open"),
        ("Open", "Closed"),
        ("Closed", "Open"),
        ("Open", "HalfOpen"),
        ("HalfOpen", "Open"),
    ]
    .map(|(from, to)| (from.to_owned(), to.to_owned()));
    assert_eq!(transitions, expected);
}

#[tokio::test(start_paused = true)]
async fn calls_that_change_no_state_emit_no_transition_event() {
    capture_events();
    let name = "reg-untraced-calls";
    let own = Registry::new();
    let breaker = own
        .circuit_breaker_or_register(name, &max_failures(3))
        .expect("valid");
    breaker.try_acquire().expect("closed").success();
    breaker.try_acquire().expect("closed").failure();
    breaker.try_acquire().expect("closed").success();
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert!(
        events_where(|event| event.field("circuit_breaker") == Some(name)).is_empty(),
        "no transition, no event"
    );
}
