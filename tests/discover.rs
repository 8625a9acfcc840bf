//! `#[discover]` against real HTTP servers on loopback: calls reach registered instances through
//! the global discovery, balancers spread them, retries go to another instance, `NoInstance`
//! is a rejection, outcomes feed passive health, and version and metadata filters route.
//!
//! The global discovery is process-wide: every test uses its own service names.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::StatusCode;
use resilience::discovery::{global, reqwest};
use resilience::{
    DiscoveryError, Instance, InstanceId, ResilienceError, ServiceClient, ServiceDiscovery,
    bulkhead, circuit_breaker, discover, fallback, registry, retry, timeout,
};

#[derive(Debug)]
enum CallError {
    Http(#[allow(dead_code)] reqwest::Error),
    Status(u16),
    Rejected(ResilienceError),
}

impl From<ResilienceError> for CallError {
    fn from(rejection: ResilienceError) -> Self {
        CallError::Rejected(rejection)
    }
}

impl From<reqwest::Error> for CallError {
    fn from(error: reqwest::Error) -> Self {
        CallError::Http(error)
    }
}

/// One HTTP instance on 127.0.0.1: `GET /name` answers `name` with `status`, counting hits.
struct Server {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl Server {
    async fn start(name: &'static str, status: StatusCode) -> Server {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let app = axum::Router::new().route(
            "/name",
            axum::routing::get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async move { (status, name) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Server { port, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Registers this server in the global discovery as `service`/`id`.
    fn register(&self, service: &str, id: &str, metadata: &[(&str, &str)]) {
        let mut instance = Instance::new(service, id, "127.0.0.1", self.port);
        for (key, value) in metadata {
            instance = instance.with_metadata(*key, *value);
        }
        global().register(instance).unwrap();
    }
}

/// `GET /name` on the client's instance: its name, or `Status` for a non-2xx answer.
async fn name_of(client: &ServiceClient) -> Result<String, CallError> {
    let response = client.get("/name").send().await?;
    if !response.status().is_success() {
        return Err(CallError::Status(response.status().as_u16()));
    }
    Ok(response.text().await?)
}

fn tally(names: &[String]) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for name in names {
        *counts.entry(name.as_str()).or_insert(0) += 1;
    }
    counts
}

#[discover("discover-tests/reach")]
async fn reach(client: ServiceClient) -> Result<(String, String, String), CallError> {
    let name = name_of(&client).await?;
    Ok((
        name,
        client.base_url().to_owned(),
        client.instance().id.id.clone(),
    ))
}

#[tokio::test]
async fn calls_reach_a_registered_instance_through_the_injected_client() {
    let server = Server::start("alpha", StatusCode::OK).await;
    server.register("discover-tests/reach", "alpha-1", &[]);

    let (name, base_url, id) = reach().await.unwrap();

    assert_eq!(name, "alpha");
    assert_eq!(base_url, format!("http://127.0.0.1:{}", server.port));
    assert_eq!(id, "alpha-1");
    assert_eq!(server.hits(), 1);
    let endpoints = global().endpoints("discover-tests/reach");
    assert_eq!(endpoints[0].in_flight(), 0);
}

#[discover("discover-tests/round-robin", balancer = "round_robin")]
async fn round_robin(client: ServiceClient) -> Result<String, CallError> {
    name_of(&client).await
}

#[tokio::test]
async fn round_robin_gives_each_instance_the_same_share() {
    let service = "discover-tests/round-robin";
    let servers = [
        Server::start("a", StatusCode::OK).await,
        Server::start("b", StatusCode::OK).await,
        Server::start("c", StatusCode::OK).await,
    ];
    for (server, id) in servers.iter().zip(["a", "b", "c"]) {
        server.register(service, id, &[]);
    }

    let mut names = Vec::new();
    for _ in 0..30 {
        names.push(round_robin().await.unwrap());
    }

    assert_eq!(
        tally(&names),
        HashMap::from([("a", 10), ("b", 10), ("c", 10)])
    );
    // In turn: no instance twice in a row.
    assert!(names.windows(2).all(|pair| pair[0] != pair[1]));
}

#[retry(max_retries = 1, base_delay = "0ms", jitter_factor = 0.0)]
#[discover("discover-tests/retry-elsewhere", balancer = "random")]
async fn retried_elsewhere(client: ServiceClient) -> Result<String, CallError> {
    name_of(&client).await
}

#[tokio::test]
async fn a_retry_avoids_the_instance_that_failed_this_call() {
    let service = "discover-tests/retry-elsewhere";
    let failing = Server::start("failing", StatusCode::INTERNAL_SERVER_ERROR).await;
    let healthy = Server::start("healthy", StatusCode::OK).await;
    failing.register(service, "failing", &[]);
    healthy.register(service, "healthy", &[]);

    // Random picks: without avoidance a call would fail on both attempts one time in four.
    // With it, every failed first attempt is retried on the healthy instance.
    for _ in 0..40 {
        assert_eq!(retried_elsewhere().await.unwrap(), "healthy");
    }
    assert!(failing.hits() >= 1, "the failing instance was never picked");
    assert_eq!(healthy.hits(), 40);
}

#[retry(
    name = "discover-tests/requeue",
    max_retries = 1,
    base_delay = "1h",
    max_delay = "1h"
)]
#[discover("discover-tests/requeue", balancer = "round_robin")]
async fn requeued(client: ServiceClient) -> Result<String, CallError> {
    name_of(&client).await
}

/// Finagle's requeue: a request refused at connect never reached an instance, so the call moves
/// to another instance at once: no retry spent, no backoff waited (an hour here: a call that
/// waited would hit the 30 s wall-clock bound).
#[tokio::test]
async fn a_connection_refused_moves_the_call_to_another_instance_without_a_retry() {
    let service = "discover-tests/requeue";
    let healthy = Server::start("healthy", StatusCode::OK).await;
    // A port that refuses: bound, read back, closed.
    let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused_port = refused.local_addr().unwrap().port();
    drop(refused);
    global()
        .register(Instance::new(
            service,
            "refusing",
            "127.0.0.1",
            refused_port,
        ))
        .unwrap();
    healthy.register(service, "healthy", &[]);

    // Round robin: every second call starts on the refusing instance.
    for _ in 0..6 {
        let name = tokio::time::timeout(std::time::Duration::from_secs(30), requeued())
            .await
            .expect("the call waited for a backoff");
        assert_eq!(name.unwrap(), "healthy");
    }
    assert_eq!(healthy.hits(), 6);
    let retry = registry()
        .snapshot()
        .policies
        .into_iter()
        .find(|p| p.name == "discover-tests/requeue")
        .and_then(|p| p.counters);
    let Some(resilience::snapshot::Counters::Retry(retry)) = retry else {
        panic!("no retry counters: {retry:?}")
    };
    assert_eq!(retry.retries, 0, "a requeue spends no retry: {retry:?}");
}

#[retry(max_retries = 1, base_delay = "0ms", jitter_factor = 0.0)]
#[discover("discover-tests/retry-same", balancer = "round_robin")]
async fn retried_on_the_only_instance(client: ServiceClient) -> Result<String, CallError> {
    name_of(&client).await
}

#[tokio::test]
async fn a_retry_returns_to_a_failed_instance_when_no_other_is_eligible() {
    let server = Server::start("only", StatusCode::INTERNAL_SERVER_ERROR).await;
    server.register("discover-tests/retry-same", "only", &[]);

    let result = retried_on_the_only_instance().await;

    assert!(matches!(result, Err(CallError::Status(500))), "{result:?}");
    assert_eq!(server.hits(), 2);
}

#[retry(max_retries = 2, base_delay = "0ms", jitter_factor = 0.0)]
#[circuit_breaker(name = "discover-tests/no-instance", max_failures = 10)]
#[discover("discover-tests/nothing-registered")]
async fn nothing_registered(_client: ServiceClient) -> Result<String, CallError> {
    unreachable!("the body runs only with an instance")
}

#[tokio::test(start_paused = true)]
async fn no_instance_is_a_rejection_that_is_retried_and_counts_as_a_breaker_failure() {
    let result = nothing_registered().await;

    match result {
        Err(CallError::Rejected(ResilienceError::NoInstance { service })) => {
            assert_eq!(service, "discover-tests/nothing-registered")
        }
        other => panic!("expected NoInstance, got {other:?}"),
    }
    let breaker = registry()
        .circuit_breaker("discover-tests/no-instance")
        .unwrap();
    // Three attempts (the first and two retries), each a breaker failure.
    assert_eq!(breaker.metrics().failed, 3);
}

async fn cached_name() -> Result<String, CallError> {
    Ok("cached".to_owned())
}

#[fallback(cached_name)]
#[discover("discover-tests/fallback")]
async fn with_fallback(client: ServiceClient) -> Result<String, CallError> {
    name_of(&client).await
}

#[tokio::test]
async fn the_fallback_answers_when_no_instance_is_registered() {
    assert_eq!(with_fallback().await.unwrap(), "cached");

    let server = Server::start("live", StatusCode::OK).await;
    server.register("discover-tests/fallback", "live", &[]);
    assert_eq!(with_fallback().await.unwrap(), "live");
}

#[discover("discover-tests/outlier", balancer = "round_robin")]
async fn outlier(client: ServiceClient) -> Result<String, CallError> {
    name_of(&client).await
}

#[tokio::test]
async fn five_failures_in_a_row_eject_the_failing_instance() {
    let service = "discover-tests/outlier";
    let failing = Server::start("failing", StatusCode::INTERNAL_SERVER_ERROR).await;
    let healthy = Server::start("healthy", StatusCode::OK).await;
    failing.register(service, "failing", &[]);
    healthy.register(service, "healthy", &[]);

    // Round robin: the failing instance gets every other call, its fifth failure ejects it.
    for _ in 0..10 {
        let _ = outlier().await;
    }
    assert_eq!(failing.hits(), 5);
    let ejected: Vec<(String, bool)> = global()
        .endpoints(service)
        .iter()
        .map(|endpoint| (endpoint.instance().id.id.clone(), endpoint.is_ejected()))
        .collect();
    assert_eq!(
        ejected,
        [("failing".to_owned(), true), ("healthy".to_owned(), false)]
    );

    // From then on, only the healthy instance gets traffic.
    for _ in 0..6 {
        assert_eq!(outlier().await.unwrap(), "healthy");
    }
    assert_eq!(failing.hits(), 5);
}

#[discover("discover-tests/latency")]
async fn slow_call(client: ServiceClient) -> Result<String, CallError> {
    Ok(client.get("/slow").send().await?.text().await?)
}

#[tokio::test(start_paused = true)]
async fn the_latency_of_a_call_feeds_the_instance_estimate() {
    let app = axum::Router::new().route(
        "/slow",
        axum::routing::get(|| async {
            tokio::time::sleep(std::time::Duration::from_millis(400)).await;
            "slow"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    global()
        .register(Instance::new(
            "discover-tests/latency",
            "slow",
            "127.0.0.1",
            port,
        ))
        .unwrap();
    let endpoint = Arc::clone(&global().endpoints("discover-tests/latency")[0]);
    let before = endpoint.latency_estimate();

    assert_eq!(slow_call().await.unwrap(), "slow");

    // Peak-EWMA: a sample slower than the estimate replaces it at once.
    assert!(before < std::time::Duration::from_millis(400), "{before:?}");
    assert!(
        endpoint.latency_estimate() >= std::time::Duration::from_millis(400),
        "{:?}",
        endpoint.latency_estimate()
    );
}

#[timeout("1s")]
#[discover("discover-tests/timeouts", balancer = "round_robin")]
async fn never_answers(_client: ServiceClient) -> Result<(), CallError> {
    std::future::pending().await
}

#[tokio::test(start_paused = true)]
async fn timed_out_attempts_release_the_instance_and_count_as_failures() {
    let service = "discover-tests/timeouts";
    // Nobody listens: the body never sends anything.
    for (port, id) in [(1, "a"), (2, "b")] {
        global()
            .register(Instance::new(service, id, "127.0.0.1", port))
            .unwrap();
    }

    for _ in 0..10 {
        let result = never_answers().await;
        assert!(
            matches!(
                result,
                Err(CallError::Rejected(ResilienceError::Timeout { .. }))
            ),
            "{result:?}"
        );
        assert!(
            global()
                .endpoints(service)
                .iter()
                .all(|endpoint| endpoint.in_flight() == 0)
        );
    }
    // Five timeouts each: the first to reach five is ejected, the other is kept (never more
    // than half of the instances out).
    let ejected = global()
        .endpoints(service)
        .iter()
        .filter(|endpoint| endpoint.is_ejected())
        .count();
    assert_eq!(ejected, 1);
}

#[discover("discover-tests/cancelled")]
async fn parked(_client: ServiceClient) -> Result<(), CallError> {
    std::future::pending().await
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_leaves_no_call_in_flight() {
    let service = "discover-tests/cancelled";
    global()
        .register(Instance::new(service, "a", "127.0.0.1", 1))
        .unwrap();
    let endpoint = Arc::clone(&global().endpoints(service)[0]);

    let call = tokio::spawn(parked());
    tokio::task::yield_now().await;
    assert_eq!(endpoint.in_flight(), 1);
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled());
    assert_eq!(endpoint.in_flight(), 0);
}

#[discover("discover-tests/version", balancer = "round_robin", version = "^2")]
async fn version_two(client: ServiceClient) -> Result<String, CallError> {
    name_of(&client).await
}

#[discover("discover-tests/version", version = ">=3")]
async fn version_three(client: ServiceClient) -> Result<String, CallError> {
    name_of(&client).await
}

#[tokio::test]
async fn a_version_requirement_routes_to_matching_instances_only() {
    let service = "discover-tests/version";
    let old = Server::start("v1", StatusCode::OK).await;
    let new = Server::start("v2", StatusCode::OK).await;
    let newer = Server::start("v2.5", StatusCode::OK).await;
    old.register(service, "old", &[("version", "1.4.0")]);
    new.register(service, "new", &[("version", "2.0.1")]);
    newer.register(service, "newer", &[("version", "2.5.0")]);

    let mut names = Vec::new();
    for _ in 0..10 {
        names.push(version_two().await.unwrap());
    }

    assert_eq!(tally(&names), HashMap::from([("v2", 5), ("v2.5", 5)]));
    assert_eq!(old.hits(), 0);
    match version_three().await {
        Err(CallError::Rejected(ResilienceError::NoInstance { service: name })) => {
            assert_eq!(name, service)
        }
        other => panic!("expected NoInstance, got {other:?}"),
    }
}

#[discover("discover-tests/metadata", metadata(zone = "eu-west", tier = "gold"))]
async fn gold_in_europe(client: ServiceClient) -> Result<String, CallError> {
    name_of(&client).await
}

#[tokio::test]
async fn metadata_filters_route_to_instances_matching_all_of_them() {
    let service = "discover-tests/metadata";
    let gold_eu = Server::start("gold-eu", StatusCode::OK).await;
    let gold_us = Server::start("gold-us", StatusCode::OK).await;
    let silver_eu = Server::start("silver-eu", StatusCode::OK).await;
    gold_eu.register(service, "gold-eu", &[("zone", "eu-west"), ("tier", "gold")]);
    gold_us.register(service, "gold-us", &[("zone", "us-east"), ("tier", "gold")]);
    silver_eu.register(
        service,
        "silver-eu",
        &[("zone", "eu-west"), ("tier", "silver")],
    );

    for _ in 0..10 {
        assert_eq!(gold_in_europe().await.unwrap(), "gold-eu");
    }
    assert_eq!(gold_us.hits() + silver_eu.hits(), 0);
}

async fn stacked_fallback(id: u64) -> Result<String, CallError> {
    Ok(format!("fallback {id}"))
}

#[bulkhead(name = "discover-tests/stacked", max_concurrent_calls = 2)]
#[discover("discover-tests/stacked", balancer = "round_robin")]
#[fallback(stacked_fallback)]
#[timeout("5s")]
#[circuit_breaker(name = "discover-tests/stacked", max_failures = 5)]
#[retry(max_retries = 1, base_delay = "0ms", jitter_factor = 0.0)]
async fn stacked(id: u64, client: ServiceClient) -> Result<String, CallError> {
    Ok(format!("{} {id}", name_of(&client).await?))
}

#[tokio::test]
async fn discover_stacks_with_the_five_other_attributes_in_any_order() {
    let service = "discover-tests/stacked";
    assert_eq!(stacked(1).await.unwrap(), "fallback 1"); // NoInstance, then the fallback

    let failing = Server::start("failing", StatusCode::INTERNAL_SERVER_ERROR).await;
    let healthy = Server::start("healthy", StatusCode::OK).await;
    failing.register(service, "failing", &[]);
    healthy.register(service, "healthy", &[]);
    for id in 2..6 {
        assert_eq!(stacked(id).await.unwrap(), format!("healthy {id}"));
    }
    assert_eq!(
        registry()
            .bulkhead("discover-tests/stacked")
            .unwrap()
            .in_flight(),
        0
    );
}

struct UserApi {
    prefix: String,
}

impl UserApi {
    #[discover("discover-tests/method")]
    async fn name(&self, suffix: &str, client: ServiceClient) -> Result<String, CallError> {
        Ok(format!(
            "{}{}{suffix}",
            self.prefix,
            name_of(&client).await?
        ))
    }
}

#[tokio::test]
async fn methods_get_the_client_injected_too() {
    let server = Server::start("method", StatusCode::OK).await;
    server.register("discover-tests/method", "m", &[]);
    let api = UserApi {
        prefix: "<".to_owned(),
    };

    assert_eq!(api.name(">").await.unwrap(), "<method>");
}

/// The seed's discovery example (docs/CONTRACT.md §5), as written with `..Default::default()` where the
/// structs have more fields.
#[tokio::test]
async fn the_seed_discovery_example_runs() -> Result<(), Box<dyn std::error::Error>> {
    let discovery = ServiceDiscovery::new();
    let instance_id = InstanceId {
        service: "user-service".to_owned(),
        id: "user-1".to_owned(),
    };
    discovery.register(Instance {
        id: instance_id.clone(),
        host: "127.0.0.1".to_owned(),
        port: 8080,
        metadata: HashMap::from([("version".to_owned(), "1.0.0".to_owned())]),
    })?;
    discovery.register(Instance {
        id: InstanceId {
            service: "user-service".to_owned(),
            id: "user-2".to_owned(),
        },
        host: "127.0.0.1".to_owned(),
        port: 8081,
        ..Default::default()
    })?;

    let all: Vec<Instance> = discovery.discover("user-service")?;
    assert_eq!(all.len(), 2);
    let one: Instance = discovery.discover_one("user-service")?;
    assert!(one.port == 8080 || one.port == 8081);

    discovery
        .check_all_health(|instance| async move { instance.port == 8080 })
        .await?;
    let healthy = discovery.discover("user-service")?;
    assert_eq!(healthy.len(), 1);
    assert_eq!(healthy[0].id, instance_id);

    discovery.deregister(&instance_id)?;
    assert!(discovery.discover("user-service")?.is_empty());
    let error: DiscoveryError = discovery.discover_one("user-service").unwrap_err();
    assert!(matches!(error, DiscoveryError::NoInstance { .. }));
    Ok(())
}

/// Issue 10: reqwest through the re-export works out of the box once discovery is in use (it
/// is built without a crypto provider of its own; before, `Client::new()` panicked with "No
/// rustls crypto provider is configured").
#[test]
fn reqwest_clients_build_through_the_re_export() {
    let _ = global();
    let built = std::panic::catch_unwind(reqwest::Client::new);
    assert!(built.is_ok(), "reqwest::Client::new() panicked");
    resilience::discovery::install_crypto_provider();
    assert!(reqwest::Client::builder().build().is_ok());
}
