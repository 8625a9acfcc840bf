//! The operations example's logic (`examples/operations/`), over real HTTP on 127.0.0.1: the
//! `/health` JSON, `/metrics`, the admin listener's token rules, the settings that decide
//! whether it starts, and a reload through a real file on disk.

// The example's own modules; it uses some items these tests do not.
#[allow(dead_code)]
#[path = "../examples/operations/admin.rs"]
mod admin;
#[allow(dead_code)]
#[path = "../examples/operations/overrides_file.rs"]
mod overrides_file;
#[allow(dead_code)]
#[path = "../examples/operations/service.rs"]
mod service;
#[allow(dead_code)]
#[path = "../examples/operations/settings.rs"]
mod settings;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use reqwest::StatusCode;
use resilience::config::Overrides;
use resilience::events::Event;
use resilience::{CircuitState, registry};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

use admin::AdminToken;
use overrides_file::{BROKEN, INITIAL, OverridesFile, RAISED};
use service::{AppState, POLICY, Upstream, UpstreamMode, public_router, spawn_server};
use settings::{ADMIN_ADDR, ADMIN_TOKEN, DEMO, HTTP_ADDR, Settings};

/// Held by every test that calls through, changes or reads the process-wide `quotes-upstream`
/// policies: one test's overrides or forced-open breaker must not show in another's snapshot.
static PROCESS_WIDE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const TOKEN: &str = "test-admin-token-0123456789";

/// The Prometheus recorder, installed once for this test binary (the facade has one global).
fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .expect("no other recorder in this test binary")
        })
        .clone()
}

/// The example's upstream and public service, each on 127.0.0.1 port 0, stopped when dropped.
struct Running {
    service: String,
    upstream: Upstream,
    client: reqwest::Client,
    stop: watch::Sender<bool>,
}

async fn start(mode: UpstreamMode) -> Running {
    let (stop, stopped) = watch::channel(false);
    let upstream = Upstream::start(mode, stopped.clone()).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let service = listener.local_addr().unwrap();
    let state = AppState::new(upstream.addr(), prometheus()).unwrap();
    spawn_server(listener, public_router(state), stopped);
    Running {
        service: format!("http://{service}"),
        upstream,
        client: service::http_client().unwrap(),
        stop,
    }
}

/// The admin router on 127.0.0.1 port 0 with [`TOKEN`].
async fn start_admin(stop: &watch::Sender<bool>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let token = AdminToken::new(TOKEN).unwrap();
    spawn_server(listener, admin::router(token), stop.subscribe());
    addr
}

impl Running {
    async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.service))
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    async fn health(&self) -> Value {
        let (status, body) = self.get("/health").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// The `quotes-upstream` policy of `kind` in `/health`.
    async fn policy(&self, kind: &str) -> Value {
        let health = self.health().await;
        health["policies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["kind"] == kind && p["name"] == POLICY)
            .unwrap_or_else(|| panic!("no {kind} {POLICY} in {health}"))
            .clone()
    }

    /// `(circuit_breaker.max_failures, bulkhead.max_concurrent_calls)` as `/health` shows them.
    async fn limits(&self) -> (u64, u64) {
        let breaker = self.policy("circuit_breaker").await;
        let bulkhead = self.policy("bulkhead").await;
        (
            breaker["config"]["max_failures"].as_u64().unwrap(),
            bulkhead["config"]["max_concurrent_calls"].as_u64().unwrap(),
        )
    }
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn health_serves_the_registry_snapshot_as_json() {
    let _only_us = PROCESS_WIDE.lock().await;
    let running = start(UpstreamMode::Healthy).await;
    let (status, body) = running.get("/quote").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "quote #1: 42.00"));

    let response = running
        .client
        .get(format!("{}/health", running.service))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[reqwest::header::CONTENT_TYPE],
        "application/json"
    );
    let health: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(
        keys(&health),
        BTreeSet::from(["policies", "unmatched_overrides"])
    );
    assert_eq!(health["unmatched_overrides"], serde_json::json!([]));

    // The attributes' arguments, as no override is applied.
    let breaker = running.policy("circuit_breaker").await;
    assert_eq!(
        keys(&breaker),
        BTreeSet::from(["name", "kind", "enabled", "config", "state", "counters"])
    );
    assert_eq!(breaker["enabled"], true);
    assert_eq!(breaker["state"], "closed");
    assert_eq!(breaker["config"]["max_failures"], 5);
    assert_eq!(breaker["config"]["reset_timeout"], "5s");
    assert_eq!(
        keys(&breaker["counters"]),
        BTreeSet::from(["successful", "failed", "rejected", "opened"])
    );
    assert!(breaker["counters"]["successful"].as_u64().unwrap() >= 1);

    let bulkhead = running.policy("bulkhead").await;
    assert_eq!(bulkhead["config"]["max_concurrent_calls"], 4);
    assert_eq!(bulkhead["config"]["max_queue_size"], 8);
    assert_eq!(
        keys(&bulkhead["counters"]),
        BTreeSet::from(["running", "waiting", "accepted", "rejected"])
    );

    // Retries and timeouts have counters and no state.
    let retry = running.policy("retry").await;
    assert_eq!(
        keys(&retry),
        BTreeSet::from(["name", "kind", "enabled", "config", "counters"])
    );
    assert_eq!(retry["config"]["max_retries"], 2);
    assert_eq!(retry["config"]["base_delay"], "20ms");
    assert_eq!(
        keys(&retry["counters"]),
        BTreeSet::from(["without_retry", "with_retry", "retries"])
    );
    assert!(
        retry["counters"]["without_retry"]["success"]
            .as_u64()
            .unwrap()
            >= 1
    );
    let timeout = running.policy("timeout").await;
    assert_eq!(
        timeout["config"],
        serde_json::json!({ "duration": "500ms" })
    );
    assert_eq!(
        keys(&timeout["counters"]),
        BTreeSet::from(["calls", "timed_out"])
    );
}

#[tokio::test]
async fn the_retry_hides_a_flaky_upstream() {
    let _only_us = PROCESS_WIDE.lock().await;
    let running = start(UpstreamMode::Flaky).await;
    for _ in 0..3 {
        let (status, body) = running.get("/quote").await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // The third request got a 503 and was retried.
    assert_eq!(running.upstream.requests(), 4);

    running.upstream.set_mode(UpstreamMode::Down);
    let (status, body) = running.get("/quote").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, "the upstream answered 503");
    assert_eq!(running.upstream.requests(), 7, "one call, three attempts");
    // Leave the breaker as the next test expects it.
    registry().circuit_breaker(POLICY).unwrap().reset();
}

#[tokio::test]
async fn metrics_serves_prometheus_text() {
    let _only_us = PROCESS_WIDE.lock().await;
    let running = start(UpstreamMode::Healthy).await;
    running.get("/quote").await;
    let response = running
        .client
        .get(format!("{}/metrics", running.service))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[reqwest::header::CONTENT_TYPE],
        "text/plain; version=0.0.4"
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains("# TYPE example_quote_requests_total counter"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|line| line.starts_with("example_quote_requests_total{outcome=\"ok\"} ")),
        "{text}"
    );
    // With the `metrics` feature the runtime's series are there too, by contract §8's names
    // and labels (its own test checks every one; these are the ones a call through the four
    // policies records).
    #[cfg(feature = "metrics")]
    for series in [
        "resilience_circuit_breaker_calls_total{name=\"quotes-upstream\",result=\"success\"} ",
        "resilience_circuit_breaker_state{name=\"quotes-upstream\",state=\"closed\"} 1",
        "resilience_retry_calls_total{name=\"quotes-upstream\",retried=\"false\",result=\"success\"} ",
        "resilience_timeout_calls_total{name=\"quotes-upstream\",timed_out=\"false\"} ",
        "resilience_bulkhead_calls_total{name=\"quotes-upstream\",result=\"accepted\"} ",
        "resilience_bulkhead_running{name=\"quotes-upstream\"} 0",
    ] {
        assert!(
            text.lines().any(|line| line.starts_with(series)),
            "no `{series}` in\n{text}"
        );
    }
}

#[tokio::test]
async fn admin_actions_need_the_bearer_token() {
    let _only_us = PROCESS_WIDE.lock().await;
    let running = start(UpstreamMode::Healthy).await;
    // A breaker is registered at its first call.
    assert_eq!(running.get("/quote").await.0, StatusCode::OK);
    let admin = start_admin(&running.stop).await;
    let client = &running.client;
    let action =
        |name: &str, action: &str| format!("http://{admin}/admin/circuit-breakers/{name}/{action}");
    let post = |url: String, authorization: Option<String>| async move {
        let mut request = client.post(url);
        if let Some(value) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let challenge = response
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .map(|value| value.to_str().unwrap().to_owned());
        let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        (status, challenge, body)
    };
    let force_open = action(POLICY, "force-open");

    // No credentials, or not a bearer token: 401 with the challenge.
    for authorization in [None, Some(format!("Basic {TOKEN}")), Some("Bearer".into())] {
        let (status, challenge, body) = post(force_open.clone(), authorization.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(
            challenge.as_deref(),
            Some("Bearer realm=\"resilience-admin\"")
        );
        assert!(body["error"].is_string());
    }
    // A wrong token, a prefix of the right one, the right one and more: 403.
    let wrong = [
        "not-the-admin-token-0123".to_owned(),
        TOKEN[..TOKEN.len() - 1].to_owned(),
        format!("{TOKEN}x"),
    ];
    for token in wrong {
        let (status, _, body) = post(force_open.clone(), Some(format!("Bearer {token}"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{token:?}");
        assert!(!body.to_string().contains(TOKEN), "{body}");
    }
    assert_eq!(
        registry().circuit_breaker(POLICY).unwrap().state(),
        CircuitState::Closed,
        "nothing refused changed the breaker"
    );

    // The token (the scheme is case-insensitive): the action runs.
    let (status, _, body) = post(force_open.clone(), Some(format!("bearer {TOKEN}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        serde_json::json!({ "name": POLICY, "action": "force-open", "state": "open" })
    );
    assert_eq!(
        registry().circuit_breaker(POLICY).unwrap().state(),
        CircuitState::Open
    );
    let (status, body) = running.get("/quote").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, "circuit breaker `quotes-upstream` is open");
    assert_eq!(running.policy("circuit_breaker").await["state"], "open");

    let (status, _, body) = post(action(POLICY, "reset"), Some(format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["state"], "closed");
    assert_eq!(running.get("/quote").await.0, StatusCode::OK);

    // An unknown breaker: 401 before the token is checked (names are not probed without it),
    // then 404.
    let unknown = action("no-such-breaker", "reset");
    assert_eq!(
        post(unknown.clone(), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _, body) = post(unknown, Some(format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"].as_str().unwrap().contains("no-such-breaker"),
        "{body}"
    );
    // An action is a POST.
    let response = client
        .get(action(POLICY, "reset"))
        .header(reqwest::header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

fn settings_from(vars: &[(&str, &str)]) -> Result<Settings, settings::SettingsError> {
    let vars: Vec<(String, OsString)> = vars
        .iter()
        .map(|(name, value)| ((*name).to_owned(), OsString::from(value)))
        .collect();
    Settings::from_vars(|name| {
        vars.iter()
            .find(|(var, _)| var == name)
            .map(|(_, value)| value.clone())
    })
}

#[test]
fn without_a_token_no_admin_listener_is_configured() {
    let settings = settings_from(&[]).unwrap();
    assert!(settings.admin.is_none());
    assert!(settings.demo);
    assert_eq!(settings.http_addr, SocketAddr::from(([127, 0, 0, 1], 0)));

    let settings = settings_from(&[(ADMIN_TOKEN, TOKEN), (DEMO, "0")]).unwrap();
    let admin = settings.admin.as_ref().expect("a token starts it");
    assert_eq!(admin.addr, SocketAddr::from(([127, 0, 0, 1], 0)));
    assert!(!settings.demo);
    assert!(
        !format!("{settings:?}").contains(TOKEN),
        "Debug shows the token"
    );

    let settings = settings_from(&[(ADMIN_TOKEN, TOKEN), (ADMIN_ADDR, "[::1]:9100")]).unwrap();
    assert_eq!(settings.admin.unwrap().addr, "[::1]:9100".parse().unwrap());
}

#[test]
fn bad_settings_are_errors_naming_the_variable_and_never_the_token() {
    let refused = |vars: &[(&str, &str)]| settings_from(vars).unwrap_err();

    let error = refused(&[(ADMIN_TOKEN, TOKEN), (ADMIN_ADDR, "0.0.0.0:9100")]);
    assert_eq!(error.variable, ADMIN_ADDR);
    assert!(error.to_string().contains("loopback"), "{error}");
    let error = refused(&[(ADMIN_ADDR, "127.0.0.1:9100")]);
    assert_eq!(error.variable, ADMIN_ADDR);
    assert!(error.to_string().contains(ADMIN_TOKEN), "{error}");

    for token in [
        "short-token",
        "",
        "a token with spaces in it",
        "tab\tseparated-0123456789",
    ] {
        let error = refused(&[(ADMIN_TOKEN, token)]);
        assert_eq!(error.variable, ADMIN_TOKEN);
        if !token.is_empty() {
            assert!(!error.to_string().contains(token), "{error}");
        }
    }
    assert!(
        refused(&[(ADMIN_TOKEN, "short-token")])
            .to_string()
            .contains("at least 16")
    );

    let error = refused(&[(HTTP_ADDR, "localhost")]);
    assert_eq!(error.variable, HTTP_ADDR);
    assert!(error.to_string().contains("`localhost`"), "{error}");
    let error = refused(&[(DEMO, "yes")]);
    assert_eq!(error.variable, DEMO);
}

#[test]
fn the_token_matches_itself_only() {
    let token = AdminToken::new(TOKEN).unwrap();
    assert!(token.matches(TOKEN.as_bytes()));
    assert!(!token.matches(b""));
    assert!(!token.matches(&TOKEN.as_bytes()[1..]));
    assert!(!token.matches(format!("{TOKEN}{TOKEN}").as_bytes()));
    let mut flipped = TOKEN.as_bytes().to_vec();
    *flipped.last_mut().unwrap() ^= 1;
    assert!(!token.matches(&flipped));
    assert_eq!(format!("{token:?}"), "AdminToken(<redacted>)");
}

/// The next event of `events` about `source` that `wanted` accepts, within a wall-clock
/// deadline.
async fn next_reload(
    events: &mut tokio::sync::broadcast::Receiver<Event>,
    source: &str,
    wanted: impl Fn(&Event) -> bool,
) -> Event {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("the watch reacted within 20 s")
            .expect("the event stream is open");
        let about_source = match &event {
            Event::ConfigReloaded { source: s } | Event::ConfigReloadFailed { source: s, .. } => {
                s == source
            }
            _ => false,
        };
        if about_source && wanted(&event) {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_through_the_file_changes_the_snapshot_and_a_broken_one_keeps_it() {
    let _only_us = PROCESS_WIDE.lock().await;
    let running = start(UpstreamMode::Healthy).await;
    assert_eq!(running.get("/quote").await.0, StatusCode::OK);
    assert_eq!(running.limits().await, (5, 4), "the attributes' arguments");
    let successes = |breaker: &Value| breaker["counters"]["successful"].as_u64().unwrap();
    let before = successes(&running.policy("circuit_breaker").await);

    let file = OverridesFile::create(INITIAL).unwrap();
    let source = file.path().display().to_string();
    // Its own prefix: no variable of the test's environment applies.
    let guard =
        resilience::config::watch(file.path(), "RESILIENCE_OPERATIONS_EXAMPLE_TEST").unwrap();
    assert_eq!(running.limits().await, (3, 2), "applied at once");

    // An edit: the limits change in place, the breaker keeps its counts.
    let mut events = registry().subscribe();
    file.replace(RAISED).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while running.limits().await != (6, 16) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the raised limits never showed in /health"
        );
        next_reload(&mut events, &source, |e| {
            matches!(e, Event::ConfigReloaded { .. })
        })
        .await;
    }
    assert_eq!(successes(&running.policy("circuit_breaker").await), before);
    let bulkhead = registry().bulkhead(POLICY).unwrap();
    assert_eq!(bulkhead.max_concurrent_calls(), 16);

    // A broken edit: refused as a whole (its valid `max_failures = 1` too), the error names
    // the file, the line and the key.
    file.replace(BROKEN).unwrap();
    let refused = next_reload(&mut events, &source, |e| {
        matches!(e, Event::ConfigReloadFailed { .. })
    })
    .await;
    let Event::ConfigReloadFailed { error, .. } = refused else {
        unreachable!()
    };
    assert!(error.contains("resilience.toml:6"), "{error}");
    assert!(error.contains("max_concurrent_calls"), "{error}");
    assert_eq!(
        running.limits().await,
        (6, 16),
        "the last good configuration stays"
    );
    assert_eq!(bulkhead.max_concurrent_calls(), 16);
    assert_eq!(running.get("/quote").await.0, StatusCode::OK);

    drop(guard);
    registry().apply(&Overrides::new()).unwrap();
    assert_eq!(running.limits().await, (5, 4));
}
