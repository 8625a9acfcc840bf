//! The gateway end to end, all on 127.0.0.1 (port 0): real axum upstreams registered in a
//! memory discovery, the gateway served by axum, requests sent with a hyper client.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::any;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use resilience::{Instance, ServiceDiscovery};
use resilience_gateway::{ApiKeys, Gateway, GatewayError};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, oneshot};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Behaviour {
    /// 200, with the headers it received as a JSON body.
    Healthy,
    /// 500 at once.
    Failing,
    /// Answers after 30 s (the gateway's attempt timeout is far shorter).
    Slow,
}

#[derive(Clone)]
struct UpstreamState {
    behaviour: Behaviour,
    name: &'static str,
    hits: Arc<AtomicUsize>,
}

async fn answer(
    State(state): State<UpstreamState>,
    headers: HeaderMap,
    uri: http::Uri,
) -> (StatusCode, String) {
    state.hits.fetch_add(1, Ordering::SeqCst);
    match state.behaviour {
        Behaviour::Healthy => {
            let mut seen: BTreeMap<String, String> = headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or("?").to_owned()))
                .collect();
            seen.insert("@instance".to_owned(), state.name.to_owned());
            seen.insert("@path".to_owned(), uri.to_string());
            (StatusCode::OK, serde_json::to_string(&seen).unwrap())
        }
        Behaviour::Failing => (StatusCode::INTERNAL_SERVER_ERROR, "down".to_owned()),
        Behaviour::Slow => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            (StatusCode::OK, "late".to_owned())
        }
    }
}

async fn start_upstream(
    behaviour: Behaviour,
    name: &'static str,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .fallback(any(answer))
        .with_state(UpstreamState {
            behaviour,
            name,
            hits: Arc::clone(&hits),
        });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, hits)
}

fn register(
    discovery: &ServiceDiscovery,
    service: &str,
    id: &str,
    address: SocketAddr,
    version: &str,
) {
    discovery
        .register(
            Instance::new(service, id, "127.0.0.1", address.port())
                .with_metadata("version", version),
        )
        .unwrap();
}

async fn start_gateway(
    gateway: &Gateway,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let gateway = gateway.clone();
    let server = tokio::spawn(async move {
        gateway
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await
    });
    (address, stop, server)
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn seen(&self) -> BTreeMap<String, String> {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not the echo: {}", self.body))
    }
}

async fn send(
    client: &HttpClient,
    gateway: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = Request::get(format!("http://{gateway}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

const KEYS: &str = "web=web-secret-1234, ops=ops-secret-5678";

fn routes(service: &str) -> String {
    format!(
        r#"
        [upstream]
        timeout = "300ms"
        max_retries = 2

        [[route]]
        prefix = "/api"
        service = "{service}"
        version = "^1"

        [[route]]
        prefix = "/admin"
        service = "{service}"
        keys = ["ops"]
        strip_prefix = true
        "#
    )
}

#[tokio::test]
async fn three_instances_one_failing_one_slow_every_request_is_answered_by_the_healthy_one() {
    let discovery = ServiceDiscovery::new();
    let (healthy, healthy_hits) = start_upstream(Behaviour::Healthy, "healthy").await;
    let (failing, failing_hits) = start_upstream(Behaviour::Failing, "failing").await;
    let (slow, slow_hits) = start_upstream(Behaviour::Slow, "slow").await;
    register(&discovery, "three", "healthy", healthy, "1.2.0");
    register(&discovery, "three", "failing", failing, "1.2.0");
    register(&discovery, "three", "slow", slow, "1.4.1");
    let gateway = Gateway::new(discovery, ApiKeys::parse(KEYS).unwrap(), &routes("three")).unwrap();
    let (address, _stop, _server) = start_gateway(&gateway).await;
    let client = client();
    for round in 0..30 {
        let answer = send(&client, address, &format!("/api/items/{round}?q=1"), &[]).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "round {round}: {}",
            answer.body
        );
        let seen = answer.seen();
        assert_eq!(seen["@instance"], "healthy");
        assert_eq!(seen["@path"], format!("/api/items/{round}?q=1"));
    }
    assert_eq!(healthy_hits.load(Ordering::SeqCst), 30);
    // The failing and the slow instance were tried (P2C picks them at first), then left alone
    // as passive health learnt: far fewer than the healthy one's 30.
    let (failed, slowed) = (
        failing_hits.load(Ordering::SeqCst),
        slow_hits.load(Ordering::SeqCst),
    );
    assert!(failed + slowed < 30, "failing {failed}, slow {slowed}");

    let health = send(&client, address, "/health", &[]).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.headers["content-type"], "application/json");
    let snapshot: serde_json::Value = serde_json::from_str(&health.body).unwrap();
    let names: Vec<&str> = snapshot["policies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|policy| policy["name"].as_str())
        .collect();
    assert!(names.contains(&"gateway.three"), "{names:?}");
}

#[tokio::test]
async fn forwarded_headers_are_set_hop_by_hop_ones_stripped_and_request_ids_propagated() {
    let discovery = ServiceDiscovery::new();
    let (healthy, _) = start_upstream(Behaviour::Healthy, "healthy").await;
    register(&discovery, "echo", "one", healthy, "1.0.0");
    let gateway = Gateway::new(discovery, ApiKeys::parse(KEYS).unwrap(), &routes("echo")).unwrap();
    let (address, _stop, _server) = start_gateway(&gateway).await;
    let client = client();

    let answer = send(
        &client,
        address,
        "/api/x",
        &[
            ("x-request-id", "req-42"),
            ("x-forwarded-for", "203.0.113.7"),
            ("connection", "x-private-hop"),
            ("x-private-hop", "1"),
            ("proxy-authorization", "Basic abc"),
            ("x-request-timeout", "5000"),
            ("accept", "text/plain"),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["x-request-id"], "req-42");
    let seen = answer.seen();
    assert_eq!(seen["x-request-id"], "req-42");
    assert_eq!(seen["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert_eq!(seen["x-forwarded-proto"], "http");
    assert_eq!(seen["x-forwarded-host"], address.to_string());
    assert_eq!(seen["accept"], "text/plain");
    for stripped in ["x-private-hop", "proxy-authorization"] {
        assert!(
            !seen.contains_key(stripped),
            "{stripped} forwarded: {seen:?}"
        );
    }
    // The deadline is passed on, shortened by the time spent in the gateway.
    let left: u64 = seen["x-request-timeout"].parse().unwrap();
    assert!((1..=5000).contains(&left), "{left}");

    // Without an id, the gateway makes one, sends it upstream and returns it.
    let answer = send(&client, address, "/api/y", &[]).await;
    let made = answer.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made.len(), 32);
    assert_eq!(answer.seen()["x-request-id"], made);
}

#[tokio::test]
async fn api_keys_401_without_a_valid_key_403_without_access_and_never_forwarded() {
    let discovery = ServiceDiscovery::new();
    let (healthy, hits) = start_upstream(Behaviour::Healthy, "healthy").await;
    register(&discovery, "keyed", "one", healthy, "1.0.0");
    let gateway = Gateway::new(discovery, ApiKeys::parse(KEYS).unwrap(), &routes("keyed")).unwrap();
    let (address, _stop, _server) = start_gateway(&gateway).await;
    let client = client();

    let cases: [(&[(&str, &str)], StatusCode); 6] = [
        (&[], StatusCode::UNAUTHORIZED),
        (&[("x-api-key", "nope")], StatusCode::UNAUTHORIZED),
        (&[("x-api-key", "ops-secret-567")], StatusCode::UNAUTHORIZED),
        (&[("x-api-key", "web-secret-1234")], StatusCode::FORBIDDEN),
        (&[("x-api-key", "ops-secret-5678")], StatusCode::OK),
        (
            &[("authorization", "Bearer ops-secret-5678")],
            StatusCode::OK,
        ),
    ];
    for (headers, expected) in cases {
        let answer = send(&client, address, "/admin/users/3", headers).await;
        assert_eq!(answer.status, expected, "{headers:?}: {}", answer.body);
        if expected == StatusCode::OK {
            let seen = answer.seen();
            assert_eq!(seen["@path"], "/users/3", "prefix stripped");
            assert!(!seen.contains_key("x-api-key") && !seen.contains_key("authorization"));
        } else {
            assert!(!answer.body.contains("secret"), "{}", answer.body);
        }
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "rejected requests never reach the upstream"
    );
    // A route without `keys` is open.
    assert_eq!(
        send(&client, address, "/api/open", &[]).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&client, address, "/elsewhere", &[]).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_route_added_to_the_file_is_served_once_the_file_is_replaced() {
    let discovery = ServiceDiscovery::new();
    let (healthy, _) = start_upstream(Behaviour::Healthy, "healthy").await;
    register(&discovery, "files", "one", healthy, "1.0.0");
    let directory = std::env::temp_dir().join(format!(
        "resilience-gateway-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("routes.toml");
    let write = |text: &str| {
        let staged = directory.join("routes.toml.new");
        std::fs::write(&staged, text).unwrap();
        std::fs::rename(&staged, &path).unwrap();
    };
    write("[[route]]\nprefix = \"/one\"\nservice = \"files\"\n");

    let gateway = Gateway::new(discovery, ApiKeys::default(), "").unwrap();
    assert!(gateway.routes().is_empty());
    let _watcher = gateway.watch_routes(&path).unwrap();
    assert_eq!(gateway.routes(), [("/one".to_owned(), "files".to_owned())]);
    let (address, _stop, _server) = start_gateway(&gateway).await;
    let client = client();
    assert_eq!(
        send(&client, address, "/two/x", &[]).await.status,
        StatusCode::NOT_FOUND
    );

    // A bad file is ignored; the next good one is applied.
    write("[[route]\nthis is not toml");
    write(
        "[[route]]\nprefix = \"/one\"\nservice = \"files\"\n[[route]]\nprefix = \"/two\"\nservice = \"files\"\n",
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while gateway.routes().len() != 2 {
        assert!(
            Instant::now() < deadline,
            "the file's change was never applied"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let answer = send(&client, address, "/two/x", &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.seen()["@path"], "/two/x");
    std::fs::remove_dir_all(&directory).unwrap();
}

#[tokio::test]
async fn bad_routes_are_clear_errors_and_leave_the_routes_in_use() {
    let discovery = ServiceDiscovery::new();
    let (healthy, _) = start_upstream(Behaviour::Healthy, "healthy").await;
    register(&discovery, "known", "one", healthy, "1.0.0");
    let gateway = Gateway::new(discovery, ApiKeys::parse(KEYS).unwrap(), &routes("known")).unwrap();
    let before = gateway.routes();
    for (text, says) in [
        (
            "[[route]]\nprefix = \"/x\"\nservice = \"unknown\"",
            "service `unknown` has no registered instance",
        ),
        ("[[route]]\nprefix = \"/x\"", "missing field `service`"),
        (
            "[[route]]\nprefix = \"/x\"\nservice = \"known\"\nkeys = [\"root\"]",
            "key `root`",
        ),
        (
            "[[route]]\nprefix = \"/x\"\nservice = \"known\"\nversion = \"^^1\"",
            "route `/x`",
        ),
        ("[upstream]\ntimeout = \"soon\"", "timeout"),
        ("[upstream]\nmax_concurrent = 0", "[upstream]"),
    ] {
        let error: GatewayError = gateway.reload(text).unwrap_err();
        assert!(error.to_string().contains(says), "{text:?}: {error}");
        assert_eq!(gateway.routes(), before);
    }
}

#[tokio::test]
async fn a_dead_upstream_is_a_502_and_a_version_with_no_instance_a_503() {
    let discovery = ServiceDiscovery::new();
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    register(&discovery, "dead", "one", dead, "1.0.0");
    let (healthy, _) = start_upstream(Behaviour::Healthy, "healthy").await;
    register(&discovery, "old", "one", healthy, "0.9.0");
    let text = "[upstream]\nmax_retries = 1\n[[route]]\nprefix = \"/dead\"\nservice = \"dead\"\n[[route]]\nprefix = \"/old\"\nservice = \"old\"\nversion = \"^1\"\n";
    let gateway = Gateway::new(discovery, ApiKeys::default(), text).unwrap();
    let (address, _stop, _server) = start_gateway(&gateway).await;
    let client = client();
    let answer = send(&client, address, "/dead/x", &[]).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{}", answer.body);
    assert!(
        answer.body.contains("upstream unreachable"),
        "{}",
        answer.body
    );
    let answer = send(&client, address, "/old/x", &[]).await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert!(
        answer.body.contains("no eligible instance"),
        "{}",
        answer.body
    );
}

#[derive(Clone)]
struct Gate {
    arrived: mpsc::UnboundedSender<()>,
    open: Arc<Semaphore>,
}

async fn gated(State(gate): State<Gate>) -> &'static str {
    gate.arrived.send(()).unwrap();
    // Held until the test adds permits.
    let _ = gate.open.acquire().await;
    "drained"
}

#[tokio::test]
async fn graceful_shutdown_drains_the_requests_in_flight_then_stops() {
    let (arrived, mut arrivals) = mpsc::unbounded_channel();
    let open = Arc::new(Semaphore::new(0));
    let app = Router::new().fallback(any(gated)).with_state(Gate {
        arrived,
        open: Arc::clone(&open),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let discovery = ServiceDiscovery::new();
    register(&discovery, "gated", "one", upstream, "1.0.0");
    let text = "[upstream]\ntimeout = \"60s\"\n[[route]]\nprefix = \"/\"\nservice = \"gated\"\n";
    let gateway = Gateway::new(discovery, ApiKeys::default(), text).unwrap();
    let (address, stop, server) = start_gateway(&gateway).await;

    let in_flight: Vec<_> = (0..3)
        .map(|index| {
            let client = client();
            tokio::spawn(
                async move { send(&client, address, &format!("/work/{index}"), &[]).await },
            )
        })
        .collect();
    for _ in 0..3 {
        arrivals.recv().await.unwrap();
    }
    stop.send(()).unwrap();
    // Three requests are held upstream: the server cannot have finished.
    tokio::task::yield_now().await;
    assert!(!server.is_finished());
    open.add_permits(3);
    for request in in_flight {
        let answer = request.await.unwrap();
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body, "drained");
    }
    server.await.unwrap().unwrap();
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "still accepting"
    );
}

/// The value of the sample `series` (name and labels, as the exporter writes them) in a
/// Prometheus text scrape.
#[cfg(feature = "metrics")]
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        Some(value.trim().parse().unwrap())
    })
}

#[cfg(feature = "metrics")]
#[tokio::test]
async fn proxied_requests_show_up_in_the_metrics_scrape() {
    let discovery = ServiceDiscovery::new();
    let (healthy, _) = start_upstream(Behaviour::Healthy, "healthy").await;
    let (failing, failing_hits) = start_upstream(Behaviour::Failing, "failing").await;
    register(&discovery, "scraped", "one", healthy, "1.0.0");
    register(&discovery, "scraped-down", "one", failing, "1.0.0");
    let routes = r#"
        [upstream]
        max_retries = 2

        [[route]]
        prefix = "/up"
        service = "scraped"

        [[route]]
        prefix = "/down"
        service = "scraped-down"
        "#;
    let gateway = Gateway::new(discovery, ApiKeys::default(), routes).unwrap();
    // A second gateway in the process renders the same recorder (one per process).
    let second = Gateway::new(ServiceDiscovery::new(), ApiKeys::default(), "").unwrap();
    let (address, _stop, _server) = start_gateway(&gateway).await;
    let (second_address, _second_stop, _second_server) = start_gateway(&second).await;
    let client = client();

    let before = send(&client, address, "/metrics", &[]).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);
    let success =
        r#"resilience_circuit_breaker_calls_total{name="gateway.scraped",result="success"}"#;
    assert_eq!(sample(&before.body, success).unwrap_or(0.0), 0.0);

    for _ in 0..2 {
        assert_eq!(
            send(&client, address, "/up/x", &[]).await.status,
            StatusCode::OK
        );
    }
    let down = send(&client, address, "/down/x", &[]).await;
    assert_eq!(down.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(failing_hits.load(Ordering::SeqCst), 3, "retried twice");

    for scraped_at in [address, second_address] {
        let scrape = send(&client, scraped_at, "/metrics", &[]).await;
        assert_eq!(scrape.status, StatusCode::OK);
        assert_eq!(scrape.headers["content-type"], "text/plain; version=0.0.4");
        let body = &scrape.body;
        assert_eq!(sample(body, success), Some(2.0), "{body}");
        assert_eq!(
            sample(
                body,
                r#"resilience_bulkhead_calls_total{name="gateway.scraped",result="accepted"}"#
            ),
            Some(2.0),
            "{body}"
        );
        assert_eq!(
            sample(
                body,
                r#"resilience_bulkhead_running{name="gateway.scraped"}"#
            ),
            Some(0.0),
            "{body}"
        );
        assert_eq!(
            sample(
                body,
                r#"resilience_circuit_breaker_state{name="gateway.scraped",state="closed"}"#
            ),
            Some(1.0),
            "{body}"
        );
        assert_eq!(
            sample(
                body,
                r#"resilience_circuit_breaker_calls_total{name="gateway.scraped-down",result="failure"}"#
            ),
            Some(3.0),
            "{body}"
        );
    }
}
