//! The tower layers of contract §9 (feature `tower`): under an axum server and around a hyper
//! client calling a real axum upstream on 127.0.0.1 (port 0), and around `service_fn`s on the
//! paused clock where time is what is checked (`Retry-After`, timeouts) or counts are (the
//! retry budget).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::http::StatusCode;
use axum::routing::get;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use resilience::tower::{
    BulkheadLayer, CircuitBreakerLayer, ErrorsOnly, GrpcClassify, ResilienceLayer, RetryLayer,
    TimeoutLayer,
};
use resilience::{
    BoxError, BulkheadConfig, CircuitBreakerConfig, CircuitState, ResilienceConfig,
    ResilienceError, RetryBudget, RetryBudgetConfig, RetryConfig, TimeoutConfig, circuit_breaker,
    registry,
};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tower::{Layer as _, ServiceBuilder, ServiceExt, service_fn};

// ---------------------------------------------------------------------------------------------
// A real upstream: axum on 127.0.0.1, port 0

#[path = "common/upstream.rs"]
mod upstream;

use upstream::start_upstream;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

fn get_request(url: &str) -> Request<Full<Bytes>> {
    Request::get(url).body(Full::new(Bytes::new())).unwrap()
}

/// Retries without waiting long in real time (the HTTP tests run on the real clock).
fn quick_retries(max_retries: u32) -> RetryConfig {
    RetryConfig {
        max_retries,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
        jitter_factor: 0.0,
        ..RetryConfig::default()
    }
}

fn rejection(error: &BoxError) -> &ResilienceError {
    error
        .downcast_ref::<ResilienceError>()
        .unwrap_or_else(|| panic!("not a ResilienceError: {error}"))
}

// ---------------------------------------------------------------------------------------------
// Around a hyper client

#[tokio::test]
async fn resilience_layer_retries_503s_until_the_upstream_recovers() {
    let (base, upstream) = start_upstream().await;
    let service = ServiceBuilder::new()
        .layer(ResilienceLayer::new(
            "tower::recovers",
            ResilienceConfig {
                retry: quick_retries(3),
                ..ResilienceConfig::default()
            },
        ))
        .service(client());
    let response = service
        .oneshot(get_request(&format!("{base}/flaky/2")))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 3);
    let breaker = registry().circuit_breaker("tower::recovers").unwrap();
    let metrics = breaker.metrics();
    assert_eq!((metrics.failed, metrics.successful), (2, 1));
    let bulkhead = registry().bulkhead("tower::recovers").unwrap();
    assert_eq!(bulkhead.in_flight(), 0);
}

#[tokio::test]
async fn the_last_failed_response_comes_back_when_retries_run_out() {
    let (base, upstream) = start_upstream().await;
    let service = ServiceBuilder::new()
        .layer(RetryLayer::new("tower::runs_out", quick_retries(2)))
        .service(client());
    let response = service
        .oneshot(get_request(&format!("{base}/status/503")))
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn each_status_is_classified_over_http() {
    let (base, upstream) = start_upstream().await;
    for (code, failure) in [
        (200, false),
        (204, false),
        (301, false),
        (400, false),
        (404, false),
        (429, true),
        (500, true),
        (502, true),
        (503, true),
        (504, true),
    ] {
        let name = format!("tower::status_{code}");
        let breaker = CircuitBreakerLayer::new(&name, CircuitBreakerConfig::default());
        let retry = RetryLayer::new(&name, quick_retries(1));
        let service = ServiceBuilder::new()
            .layer(retry)
            .layer(breaker)
            .service(client());
        let before = upstream.hits.load(Ordering::SeqCst);
        let response = service
            .oneshot(get_request(&format!("{base}/status/{code}")))
            .await
            .unwrap();
        assert_eq!(response.status(), code);
        let attempts = upstream.hits.load(Ordering::SeqCst) - before;
        let metrics = registry().circuit_breaker(&name).unwrap().metrics();
        if failure {
            assert_eq!(
                (attempts, metrics.failed, metrics.successful),
                (2, 2, 0),
                "{code}"
            );
        } else {
            assert_eq!(
                (attempts, metrics.failed, metrics.successful),
                (1, 0, 1),
                "{code}"
            );
        }
    }
}

#[tokio::test]
async fn the_breaker_opens_and_then_fails_fast_without_calling_the_upstream() {
    let (base, upstream) = start_upstream().await;
    let layer = CircuitBreakerLayer::new(
        "tower::opens",
        CircuitBreakerConfig {
            max_failures: 3,
            reset_timeout: Duration::from_secs(3600),
            ..CircuitBreakerConfig::default()
        },
    );
    let service = ServiceBuilder::new().layer(layer).service(client());
    for _ in 0..3 {
        let response = service
            .clone()
            .oneshot(get_request(&format!("{base}/status/500")))
            .await
            .unwrap();
        assert_eq!(response.status(), 500);
    }
    let breaker = registry().circuit_breaker("tower::opens").unwrap();
    assert_eq!(breaker.state(), CircuitState::Open);
    let error = service
        .oneshot(get_request(&format!("{base}/status/200")))
        .await
        .unwrap_err();
    assert!(
        matches!(rejection(&error), ResilienceError::CircuitOpen { name } if name == "tower::opens")
    );
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 3);
    assert_eq!(breaker.metrics().rejected, 1);
}

#[tokio::test]
async fn an_open_inner_breaker_is_not_retried() {
    let (base, upstream) = start_upstream().await;
    let name = "tower::inner_open";
    let service = ServiceBuilder::new()
        .layer(RetryLayer::new(name, quick_retries(5)))
        .layer(CircuitBreakerLayer::new(
            name,
            CircuitBreakerConfig::default(),
        ))
        .service(client());
    registry().circuit_breaker(name).unwrap().force_open();
    let error = service
        .oneshot(get_request(&format!("{base}/status/200")))
        .await
        .unwrap_err();
    assert!(matches!(
        rejection(&error),
        ResilienceError::CircuitOpen { .. }
    ));
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 0);
    assert_eq!(
        registry().circuit_breaker(name).unwrap().metrics().rejected,
        1
    );
}

/// The attribute and the layer of one name are one breaker: opened by the attribute's calls,
/// it rejects the layer's, and the other way round.
#[tokio::test]
async fn a_layer_shares_its_breaker_with_the_attribute_of_the_same_name() {
    #[derive(Debug)]
    struct Down;
    impl From<ResilienceError> for Down {
        fn from(_: ResilienceError) -> Self {
            Down
        }
    }
    #[circuit_breaker(name = "tower::shared", max_failures = 2, reset_timeout = "1h")]
    async fn through_the_attribute(fail: bool) -> Result<(), Down> {
        if fail { Err(Down) } else { Ok(()) }
    }

    let (base, upstream) = start_upstream().await;
    let layer = CircuitBreakerLayer::new(
        "tower::shared",
        CircuitBreakerConfig {
            max_failures: 2,
            reset_timeout: Duration::from_secs(3600),
            ..CircuitBreakerConfig::default()
        },
    );
    let service = ServiceBuilder::new().layer(layer).service(client());
    assert!(through_the_attribute(true).await.is_err());
    // One failure through HTTP: the second in a row for the one breaker.
    let response = service
        .clone()
        .oneshot(get_request(&format!("{base}/status/502")))
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let breaker = registry().circuit_breaker("tower::shared").unwrap();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert!(through_the_attribute(false).await.is_err());
    let error = service
        .clone()
        .oneshot(get_request(&format!("{base}/status/200")))
        .await
        .unwrap_err();
    assert!(matches!(
        rejection(&error),
        ResilienceError::CircuitOpen { .. }
    ));
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 1);
    breaker.reset();
    assert!(through_the_attribute(false).await.is_ok());
    let response = service
        .oneshot(get_request(&format!("{base}/status/200")))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(breaker.metrics().successful, 2);
}

// ---------------------------------------------------------------------------------------------
// Under an axum server

/// `BulkheadFull` and the other rejections as HTTP statuses, for `HandleErrorLayer`.
async fn rejection_status(error: BoxError) -> StatusCode {
    match error.downcast_ref::<ResilienceError>() {
        Some(ResilienceError::BulkheadFull { .. } | ResilienceError::CircuitOpen { .. }) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        Some(ResilienceError::Timeout { .. }) => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[tokio::test]
async fn a_full_bulkhead_under_axum_sheds_load_with_503() {
    // The handler reports that it runs, then holds its slot until released.
    let (entered_tx, mut entered) = mpsc::unbounded_channel::<()>();
    let release = Arc::new(Semaphore::new(0));
    let handler = {
        let release = Arc::clone(&release);
        move || {
            let entered_tx = entered_tx.clone();
            let release = Arc::clone(&release);
            async move {
                let _ = entered_tx.send(());
                release.acquire().await.unwrap().forget();
                "done"
            }
        }
    };
    let app = Router::new().route("/hold", get(handler)).layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(rejection_status))
            .layer(BulkheadLayer::new(
                "tower::server_bulkhead",
                BulkheadConfig {
                    max_concurrent_calls: 1,
                    max_queue_size: 0,
                    ..BulkheadConfig::default()
                },
            )),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hold", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = client();
    let first = tokio::spawn(client.request(get_request(&url)));
    entered.recv().await.unwrap();
    let bulkhead = registry().bulkhead("tower::server_bulkhead").unwrap();
    assert_eq!(bulkhead.in_flight(), 1);
    let shed = client.request(get_request(&url)).await.unwrap();
    assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
    release.add_permits(1);
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let body = first.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"done");
    assert_eq!(bulkhead.in_flight(), 0);
    // The slot is free again.
    let third = tokio::spawn(client.request(get_request(&url)));
    entered.recv().await.unwrap();
    release.add_permits(1);
    assert_eq!(third.await.unwrap().unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn an_axum_handler_failing_opens_the_servers_breaker() {
    let calls = Arc::new(AtomicUsize::new(0));
    let handler = {
        let calls = Arc::clone(&calls);
        move || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { StatusCode::INTERNAL_SERVER_ERROR }
        }
    };
    let app = Router::new().route("/fail", get(handler)).layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(rejection_status))
            .layer(CircuitBreakerLayer::new(
                "tower::server_breaker",
                CircuitBreakerConfig {
                    max_failures: 2,
                    reset_timeout: Duration::from_secs(3600),
                    ..CircuitBreakerConfig::default()
                },
            )),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/fail", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = client();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            client
                .request(get_request(&url))
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [500, 500, 503, 503]);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

// ---------------------------------------------------------------------------------------------
// On the paused clock

fn response(status: u16, headers: &[(&str, &str)]) -> Response<()> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap()
}

/// A service answering each request with the next of `statuses` (then 200), counting calls.
fn scripted(
    responses: Vec<Response<()>>,
) -> (
    impl tower::Service<Request<()>, Response = Response<()>, Error = Infallible, Future = impl Send>
    + Clone
    + Send
    + 'static,
    Arc<AtomicUsize>,
) {
    let calls = Arc::new(AtomicUsize::new(0));
    let responses = Arc::new(std::sync::Mutex::new(responses.into_iter()));
    let counted = Arc::clone(&calls);
    let service = service_fn(move |_: Request<()>| {
        counted.fetch_add(1, Ordering::SeqCst);
        let next = responses.lock().unwrap().next();
        async move { Ok::<_, Infallible>(next.unwrap_or_else(|| response(200, &[]))) }
    });
    (service, calls)
}

#[tokio::test(start_paused = true)]
async fn retry_after_sets_the_next_delay_capped_by_max_delay() {
    for (header, expected) in [
        ("1", Duration::from_secs(1)),
        ("0", Duration::ZERO),
        ("30", Duration::from_secs(2)),
    ] {
        for status in [429, 503] {
            let (service, calls) = scripted(vec![response(status, &[("retry-after", header)])]);
            let layer = RetryLayer::new(
                "tower::retry_after",
                RetryConfig {
                    base_delay: Duration::from_millis(100),
                    max_delay: Duration::from_secs(2),
                    jitter_factor: 0.0,
                    ..RetryConfig::default()
                },
            )
            .budget(None);
            let started = tokio::time::Instant::now();
            let response = layer
                .layer(service)
                .oneshot(Request::new(()))
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(calls.load(Ordering::SeqCst), 2);
            assert_eq!(
                started.elapsed(),
                expected,
                "{status} with Retry-After {header}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn without_retry_after_the_backoff_applies() {
    // A 500 with Retry-After: the header counts on 429 and 503 only.
    let (service, _) = scripted(vec![
        response(500, &[("retry-after", "9")]),
        response(502, &[]),
    ]);
    let layer = RetryLayer::new(
        "tower::backoff",
        RetryConfig {
            base_delay: Duration::from_millis(100),
            jitter_factor: 0.0,
            ..RetryConfig::default()
        },
    );
    let started = tokio::time::Instant::now();
    let response = layer
        .layer(service)
        .oneshot(Request::new(()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(started.elapsed(), Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn a_timeout_layer_drops_the_slow_call() {
    let slow = service_fn(|_: Request<()>| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok::<_, Infallible>(response(200, &[]))
    });
    let layer = TimeoutLayer::new(
        "tower::timeout",
        TimeoutConfig {
            timeout: Duration::from_millis(500),
        },
    );
    let started = tokio::time::Instant::now();
    let error = layer
        .layer(slow)
        .oneshot(Request::new(()))
        .await
        .unwrap_err();
    assert!(
        matches!(rejection(&error), ResilienceError::Timeout { after } if *after == Duration::from_millis(500))
    );
    assert_eq!(started.elapsed(), Duration::from_millis(500));
}

/// 1,000 requests to an upstream that always fails, each allowed 10 retries: the default budget
/// lets retries add 20 % of the requests plus 10 per second over 10 s (100), so 300 retries in
/// all; once it is exhausted each request gets its one failed response at once.
#[tokio::test(start_paused = true)]
async fn the_budget_caps_retries_at_a_fifth_of_requests_plus_the_reserve() {
    let (service, calls) = scripted(Vec::new());
    let failing = service.map_response(|_| response(503, &[]));
    let budget = Arc::new(RetryBudget::new("tower::budget", RetryBudgetConfig::default()).unwrap());
    let layer = RetryLayer::new(
        "tower::budget",
        RetryConfig {
            max_retries: 10,
            base_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
            jitter_factor: 0.0,
            ..RetryConfig::default()
        },
    )
    .budget(Some(Arc::clone(&budget)));
    let service = layer.layer(failing);
    for _ in 0..1000 {
        let response = service.clone().oneshot(Request::new(())).await.unwrap();
        assert_eq!(response.status(), 503);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1000 + 300);
    assert_eq!(budget.available(), 0);
    // Exhausted: one attempt, the failed response at once.
    let before = calls.load(Ordering::SeqCst);
    let started = tokio::time::Instant::now();
    let response = service.clone().oneshot(Request::new(())).await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(calls.load(Ordering::SeqCst) - before, 1);
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn the_budget_is_on_by_default_and_shared_by_name() {
    let config = RetryConfig {
        max_retries: 1000,
        base_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
        jitter_factor: 0.0,
        ..RetryConfig::default()
    };
    let (first, first_calls) = scripted(Vec::new());
    let (second, second_calls) = scripted(Vec::new());
    let first = first.map_response(|_| response(500, &[]));
    let second = second.map_response(|_| response(500, &[]));
    RetryLayer::new("tower::default_budget", config.clone())
        .layer(first)
        .oneshot(Request::new(()))
        .await
        .unwrap();
    ResilienceLayer::new(
        "tower::default_budget",
        ResilienceConfig {
            retry: config,
            ..ResilienceConfig::default()
        },
    )
    .layer(second)
    .oneshot(Request::new(()))
    .await
    .unwrap();
    // Two requests: 0.4 of a retry, plus the reserve of 100, taken by the first.
    assert_eq!(first_calls.load(Ordering::SeqCst), 1 + 100);
    assert_eq!(second_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn grpc_statuses_are_classified_by_header() {
    for (code, failure) in [
        ("0", false),
        ("5", false),
        ("4", true),
        ("8", true),
        ("14", true),
    ] {
        let (service, calls) = scripted(vec![response(200, &[("grpc-status", code)])]);
        let layer = RetryLayer::new("tower::grpc", quick_retries(1))
            .classify(GrpcClassify)
            .budget(None);
        let response = layer
            .layer(service)
            .oneshot(Request::new(()))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            if failure { 2 } else { 1 },
            "{code}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn services_that_are_not_http_classify_errors_only() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let service = service_fn(move |n: u32| {
        let call = counted.fetch_add(1, Ordering::SeqCst);
        async move {
            if call == 0 {
                Err::<u32, BoxError>("first call fails".into())
            } else {
                Ok(n * 2)
            }
        }
    });
    let layer = RetryLayer::new("tower::errors_only", quick_retries(1)).classify(ErrorsOnly);
    assert_eq!(layer.layer(service).oneshot(21).await.unwrap(), 42);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn an_invalid_configuration_fails_every_call_and_runs_nothing() {
    let invalid = RetryConfig {
        jitter_factor: 2.0,
        ..RetryConfig::default()
    };
    assert_eq!(
        RetryLayer::try_new("tower::invalid", invalid.clone())
            .unwrap_err()
            .key,
        "jitter_factor"
    );
    let (service, calls) = scripted(Vec::new());
    let error = RetryLayer::new("tower::invalid", invalid)
        .layer(service)
        .oneshot(Request::new(()))
        .await
        .unwrap_err();
    assert!(matches!(rejection(&error), ResilienceError::Config(e) if e.key == "jitter_factor"));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let (service, calls) = scripted(Vec::new());
    let error = CircuitBreakerLayer::new("", CircuitBreakerConfig::default())
        .layer(service)
        .oneshot(Request::new(()))
        .await
        .unwrap_err();
    assert!(matches!(rejection(&error), ResilienceError::Config(e) if e.key == "name"));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

/// Each attempt through `ResilienceLayer` is bounded by the timeout, counted as a breaker
/// failure, and retried (contract §2.2: `Timeout` is retried); the caller gets the last
/// `Timeout`.
#[tokio::test(start_paused = true)]
async fn resilience_layer_times_out_each_attempt_and_retries_it() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let slow = service_fn(move |_: Request<()>| {
        counted.fetch_add(1, Ordering::SeqCst);
        async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, Infallible>(response(200, &[]))
        }
    });
    let name = "tower::attempt_timeouts";
    let layer = ResilienceLayer::new(
        name,
        ResilienceConfig {
            retry: RetryConfig {
                max_retries: 2,
                base_delay: Duration::ZERO,
                max_delay: Duration::ZERO,
                jitter_factor: 0.0,
                ..RetryConfig::default()
            },
            timeout: TimeoutConfig {
                timeout: Duration::from_millis(100),
            },
            ..ResilienceConfig::default()
        },
    )
    .budget(None);
    let started = tokio::time::Instant::now();
    let error = layer
        .layer(slow)
        .oneshot(Request::new(()))
        .await
        .unwrap_err();
    assert!(matches!(rejection(&error), ResilienceError::Timeout { .. }));
    assert_eq!(started.elapsed(), Duration::from_millis(300));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let breaker = registry().circuit_breaker(name).unwrap();
    assert_eq!(breaker.metrics().failed, 3);
    assert_eq!(registry().bulkhead(name).unwrap().in_flight(), 0);
}

// ---------------------------------------------------------------------------------------------
// Deadlines

#[tokio::test(start_paused = true)]
async fn within_a_deadline_an_attempt_is_bounded_by_the_time_left_and_a_late_one_never_starts() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let service = ServiceBuilder::new()
        .layer(
            ResilienceLayer::new(
                "tower::deadline",
                ResilienceConfig {
                    retry: RetryConfig {
                        max_retries: 3,
                        base_delay: Duration::from_millis(100),
                        max_delay: Duration::from_millis(100),
                        jitter_factor: 0.0,
                        ..RetryConfig::default()
                    },
                    timeout: TimeoutConfig {
                        timeout: Duration::from_secs(10),
                    },
                    ..ResilienceConfig::default()
                },
            )
            .classify(ErrorsOnly),
        )
        .service(service_fn(move |_: ()| {
            counted.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok::<_, Infallible>(())
            }
        }));
    let start = tokio::time::Instant::now();
    let error = resilience::deadline::scope(
        start + Duration::from_millis(250),
        service.clone().oneshot(()),
    )
    .await
    .unwrap_err();
    assert!(matches!(rejection(&error), ResilienceError::Timeout { .. }));
    // One attempt, cut at the deadline (not at the 10 s timeout); no retry after it.
    assert_eq!(start.elapsed(), Duration::from_millis(250));
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let error = resilience::deadline::scope(tokio::time::Instant::now(), service.oneshot(()))
        .await
        .unwrap_err();
    assert!(matches!(rejection(&error), ResilienceError::Timeout { .. }));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "an expired request is not started"
    );
}

#[tokio::test(start_paused = true)]
async fn the_deadline_layer_reads_grpc_timeout_and_the_propagation_layer_writes_it_on() {
    use resilience::tower::{DeadlineLayer, PropagateDeadlineLayer};
    let downstream = ServiceBuilder::new()
        .layer(PropagateDeadlineLayer)
        .service(service_fn(|request: Request<()>| async move {
            let headers = request.headers();
            Ok::<_, Infallible>((
                headers.get("x-request-timeout").cloned(),
                headers.get("grpc-timeout").cloned(),
            ))
        }));
    let server = ServiceBuilder::new()
        .layer(DeadlineLayer::new().max_timeout(Duration::from_secs(1)))
        .service(service_fn(move |_: Request<()>| {
            let request = Request::builder()
                .header("content-type", "application/grpc")
                .body(())
                .unwrap();
            downstream.clone().oneshot(request)
        }));
    let incoming = Request::builder()
        .header("grpc-timeout", "20S")
        .body(())
        .unwrap();
    let (http, grpc) = server.clone().oneshot(incoming).await.unwrap();
    let millis: u64 = http.unwrap().to_str().unwrap().parse().unwrap();
    assert!(
        (1..=1000).contains(&millis),
        "capped by max_timeout: {millis}"
    );
    assert!(grpc.is_some());
    let (http, grpc) = server.oneshot(Request::new(())).await.unwrap();
    assert_eq!((http, grpc), (None, None), "no deadline, no headers");
}
