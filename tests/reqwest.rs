//! `ResilienceMiddleware` for `reqwest-middleware` (feature `reqwest`; contract §9) against real
//! axum upstreams on 127.0.0.1 (port 0), and deadline propagation across two HTTP hops.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use resilience::reqwest::ResilienceMiddleware;
use resilience::tower::{DeadlineLayer, ResilienceLayer};
use resilience::{
    CircuitBreakerConfig, CircuitState, ResilienceConfig, ResilienceError, RetryConfig, deadline,
    registry,
};
use tokio::net::TcpListener;
use tokio::time::Instant;

#[path = "common/upstream.rs"]
mod upstream;

use upstream::start_upstream;

fn quick_retries(max_retries: u32) -> RetryConfig {
    RetryConfig {
        max_retries,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
        jitter_factor: 0.0,
        ..RetryConfig::default()
    }
}

fn config(max_retries: u32) -> ResilienceConfig {
    ResilienceConfig {
        retry: quick_retries(max_retries),
        ..ResilienceConfig::default()
    }
}

/// A plain reqwest client (the workspace's reqwest has rustls without a provider: install
/// ring's, as discovery does).
fn plain() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn client(middleware: ResilienceMiddleware) -> ClientWithMiddleware {
    ClientBuilder::new(plain()).with(middleware).build()
}

fn rejection(error: &reqwest_middleware::Error) -> &ResilienceError {
    match error {
        reqwest_middleware::Error::Middleware(error) => error
            .downcast_ref::<ResilienceError>()
            .unwrap_or_else(|| panic!("not a ResilienceError: {error}")),
        other => panic!("not a middleware error: {other}"),
    }
}

#[tokio::test]
async fn retries_503s_until_the_upstream_recovers_and_records_them_on_the_named_breaker() {
    let (base, upstream) = start_upstream().await;
    let client = client(ResilienceMiddleware::new("reqwest::recovers", config(3)));
    let response = client.get(format!("{base}/flaky/2")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 3);
    let metrics = registry()
        .circuit_breaker("reqwest::recovers")
        .unwrap()
        .metrics();
    assert_eq!((metrics.failed, metrics.successful), (2, 1));
}

#[tokio::test]
async fn each_status_is_classified_like_the_tower_layers() {
    let (base, upstream) = start_upstream().await;
    for (code, failure) in [
        (200, false),
        (204, false),
        (400, false),
        (404, false),
        (429, true),
        (500, true),
        (502, true),
        (503, true),
        (504, true),
    ] {
        let client = client(ResilienceMiddleware::new(
            &format!("reqwest::status-{code}"),
            config(1),
        ));
        let before = upstream.hits.load(Ordering::SeqCst);
        let response = client
            .get(format!("{base}/status/{code}"))
            .send()
            .await
            .unwrap();
        // Once the retries run out, the last failed response comes back as a response.
        assert_eq!(response.status(), code);
        let sent = upstream.hits.load(Ordering::SeqCst) - before;
        assert_eq!(sent, if failure { 2 } else { 1 }, "{code}");
    }
}

#[tokio::test]
async fn retry_after_is_capped_by_max_delay() {
    let (base, upstream) = start_upstream().await;
    // The upstream asks for an hour; `max_delay` is 1 ms: the test ends only if it is capped.
    let client = client(ResilienceMiddleware::new("reqwest::later", config(2)));
    let response = client.get(format!("{base}/later/2")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_open_breaker_fails_fast_with_circuit_open_and_sends_nothing() {
    let (base, upstream) = start_upstream().await;
    let config = ResilienceConfig {
        retry: quick_retries(0),
        circuit_breaker: CircuitBreakerConfig {
            max_failures: 2,
            ..CircuitBreakerConfig::default()
        },
        ..ResilienceConfig::default()
    };
    let client = client(ResilienceMiddleware::new("reqwest::opens", config));
    for _ in 0..2 {
        let response = client
            .get(format!("{base}/status/500"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 500);
    }
    let breaker = registry().circuit_breaker("reqwest::opens").unwrap();
    assert_eq!(breaker.state(), CircuitState::Open);
    let error = client
        .get(format!("{base}/status/200"))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(rejection(&error), ResilienceError::CircuitOpen { name } if name == "reqwest::opens")
    );
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_middleware_and_the_tower_layer_of_one_name_share_one_breaker() {
    let _layer = ResilienceLayer::new("reqwest::shared", config(0));
    let (base, _) = start_upstream().await;
    let client = client(ResilienceMiddleware::new("reqwest::shared", config(0)));
    client
        .get(format!("{base}/status/500"))
        .send()
        .await
        .unwrap();
    let metrics = registry()
        .circuit_breaker("reqwest::shared")
        .unwrap()
        .metrics();
    assert_eq!(metrics.failed, 1);
}

#[tokio::test]
async fn a_connection_error_is_reqwests_error_after_the_retries() {
    // A port nobody listens on: bind, note it, close it.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let client = client(ResilienceMiddleware::new("reqwest::refused", config(2)));
    let error = client
        .get(format!("http://{address}/"))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(error, reqwest_middleware::Error::Reqwest(_)),
        "{error}"
    );
    let metrics = registry()
        .circuit_breaker("reqwest::refused")
        .unwrap()
        .metrics();
    assert_eq!(metrics.failed, 3);
}

#[tokio::test]
async fn an_invalid_configuration_fails_every_request_unsent() {
    let (base, upstream) = start_upstream().await;
    let mut config = config(1);
    config.retry.max_delay = Duration::ZERO;
    config.retry.base_delay = Duration::from_secs(1);
    assert!(ResilienceMiddleware::try_new("reqwest::invalid", config.clone()).is_err());
    let client = client(ResilienceMiddleware::new("reqwest::invalid", config));
    let error = client
        .get(format!("{base}/status/200"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(rejection(&error), ResilienceError::Config(_)));
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn within_a_deadline_each_request_carries_the_time_left() {
    let (base, upstream) = start_upstream().await;
    let client = client(ResilienceMiddleware::new("reqwest::deadline", config(0)));
    let left: u64 = deadline::scope(Instant::now() + Duration::from_secs(5), async {
        let response = client.get(format!("{base}/deadline")).send().await.unwrap();
        response.text().await.unwrap()
    })
    .await
    .parse()
    .unwrap();
    assert!((1..=5000).contains(&left), "{left}");
    let outside = client
        .get(format!("{base}/deadline"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(outside, "none");
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_request_whose_deadline_has_passed_is_not_sent() {
    let (base, upstream) = start_upstream().await;
    let client = client(ResilienceMiddleware::new("reqwest::expired", config(3)));
    let error = deadline::scope(Instant::now(), async {
        client.get(format!("{base}/status/200")).send().await
    })
    .await
    .unwrap_err();
    assert!(matches!(rejection(&error), ResilienceError::Timeout { .. }));
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 0);
    // Not the upstream's fault: the breaker counts nothing.
    let metrics = registry()
        .circuit_breaker("reqwest::expired")
        .unwrap()
        .metrics();
    assert_eq!((metrics.failed, metrics.successful), (0, 0));
}

/// Hop 1 (axum behind `DeadlineLayer`) receives `x-request-timeout: 3000`, calls hop 2 through
/// the middleware; hop 2 sees what is left of the 3 s, not more.
#[tokio::test]
async fn the_deadline_crosses_two_hops() {
    let (base, _) = start_upstream().await;
    let client = client(ResilienceMiddleware::new("reqwest::hops", config(0)));
    let app = Router::new()
        .route(
            "/",
            get(move || {
                let client = client.clone();
                let base = base.clone();
                async move {
                    let seen_here = deadline::remaining().map_or(0, |left| left.as_millis());
                    let downstream = client
                        .get(format!("{base}/deadline"))
                        .send()
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap();
                    format!("{seen_here} {downstream}")
                }
            }),
        )
        .layer(DeadlineLayer::new());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let body = plain()
        .get(format!("http://{address}/"))
        .header("x-request-timeout", "3000")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (here, downstream) = body.split_once(' ').unwrap();
    let (here, downstream): (u64, u64) = (here.parse().unwrap(), downstream.parse().unwrap());
    assert!(here <= 3000 && here > 0, "{body}");
    assert!(downstream <= here + 1 && downstream > 0, "{body}");
}
