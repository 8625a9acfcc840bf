//! The service being operated: a local upstream that can be made flaky or down, the one outgoing
//! call that goes through the attributes, and the public routes (`/quote`, `/health`,
//! `/metrics`).
//!
//! Nothing here changes a policy: that is the overrides file's and the admin listener's job.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use resilience::{ResilienceError, bulkhead, circuit_breaker, registry, retry, timeout};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The registry name of every policy of the outgoing call (one name per kind, so one section
/// of each kind in `resilience.toml`).
pub(crate) const POLICY: &str = "quotes-upstream";

/// How the local upstream answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum UpstreamMode {
    /// Every request gets a quote.
    Healthy = 0,
    /// Every third request gets a 503: the retry hides it.
    Flaky = 1,
    /// Every request gets a 503: the breaker opens.
    Down = 2,
}

impl UpstreamMode {
    fn from_u8(value: u8) -> UpstreamMode {
        match value {
            0 => UpstreamMode::Healthy,
            1 => UpstreamMode::Flaky,
            _ => UpstreamMode::Down,
        }
    }
}

struct UpstreamState {
    mode: AtomicU8,
    requests: AtomicU64,
}

/// A second HTTP server on 127.0.0.1 that the service calls: the dependency that fails.
pub(crate) struct Upstream {
    addr: SocketAddr,
    state: Arc<UpstreamState>,
}

impl Upstream {
    /// Starts it on 127.0.0.1, on a port the system picks, until `shutdown` turns true.
    pub(crate) async fn start(
        mode: UpstreamMode,
        shutdown: watch::Receiver<bool>,
    ) -> std::io::Result<Upstream> {
        let state = Arc::new(UpstreamState {
            mode: AtomicU8::new(mode as u8),
            requests: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/quote", get(upstream_quote))
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        spawn_server(listener, app, shutdown);
        Ok(Upstream { addr, state })
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How it answers from the next request on.
    pub(crate) fn set_mode(&self, mode: UpstreamMode) {
        self.state.mode.store(mode as u8, Ordering::Relaxed);
    }

    /// The requests it received so far (attempts, retries included).
    pub(crate) fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }
}

async fn upstream_quote(State(state): State<Arc<UpstreamState>>) -> Response {
    let request = state.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let failing = match UpstreamMode::from_u8(state.mode.load(Ordering::Relaxed)) {
        UpstreamMode::Healthy => false,
        UpstreamMode::Flaky => request % 3 == 0,
        UpstreamMode::Down => true,
    };
    if failing {
        (StatusCode::SERVICE_UNAVAILABLE, "upstream unavailable").into_response()
    } else {
        format!("quote #{request}: 42.00").into_response()
    }
}

/// Why the outgoing call failed.
#[derive(Debug)]
pub(crate) enum UpstreamError {
    /// The upstream answered with this status.
    Status(u16),
    /// No answer (connection refused, reset, …).
    Transport(String),
    /// A policy refused the call or cut it short.
    Rejected(ResilienceError),
}

impl From<ResilienceError> for UpstreamError {
    fn from(rejection: ResilienceError) -> Self {
        UpstreamError::Rejected(rejection)
    }
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamError::Status(status) => write!(f, "the upstream answered {status}"),
            UpstreamError::Transport(error) => write!(f, "the upstream did not answer: {error}"),
            UpstreamError::Rejected(rejection) => write!(f, "{rejection}"),
        }
    }
}

/// The outgoing call. Its arguments are literals, so these are the defaults; `resilience.toml`
/// and `RESILIENCE__<KIND>__QUOTES_UPSTREAM__<KEY>` override them at run time.
#[retry(name = "quotes-upstream", max_retries = 2, base_delay = "20ms")]
#[circuit_breaker(name = "quotes-upstream", max_failures = 5, reset_timeout = "5s")]
#[timeout("500ms", name = "quotes-upstream")]
#[bulkhead(name = "quotes-upstream", max_concurrent_calls = 4, max_queue_size = 8)]
pub(crate) async fn fetch_quote(
    client: &reqwest::Client,
    url: &str,
) -> Result<String, UpstreamError> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|error| UpstreamError::Transport(error.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(UpstreamError::Status(status.as_u16()));
    }
    response
        .text()
        .await
        .map_err(|error| UpstreamError::Transport(error.to_string()))
}

/// An HTTP client. The workspace builds reqwest without a TLS crypto provider of its own (the
/// discovery crate picks one), and reqwest wants one even for plain `http://`: install ring's
/// unless one is installed already.
pub(crate) fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build()
}

/// What the public routes share.
#[derive(Clone)]
pub(crate) struct AppState {
    client: reqwest::Client,
    upstream_url: Arc<str>,
    metrics: PrometheusHandle,
}

impl AppState {
    /// `metrics`: the handle of the installed Prometheus recorder, rendered by `/metrics`.
    pub(crate) fn new(
        upstream: SocketAddr,
        metrics: PrometheusHandle,
    ) -> Result<AppState, reqwest::Error> {
        Ok(AppState {
            client: http_client()?,
            upstream_url: format!("http://{upstream}/quote").into(),
            metrics,
        })
    }
}

/// `/quote` (a call through the policies), `/health` (the registry's snapshot as JSON) and
/// `/metrics` (Prometheus text).
pub(crate) fn public_router(state: AppState) -> Router {
    Router::new()
        .route("/quote", get(quote))
        .route("/health", get(health))
        .route("/metrics", get(render_metrics))
        .with_state(state)
}

async fn quote(State(state): State<AppState>) -> Response {
    let outcome = fetch_quote(&state.client, &state.upstream_url).await;
    let label = match &outcome {
        Ok(_) => "ok",
        Err(UpstreamError::Rejected(_)) => "rejected",
        Err(_) => "failed",
    };
    metrics::counter!("example_quote_requests_total", "outcome" => label).increment(1);
    match outcome {
        Ok(quote) => quote.into_response(),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    }
}

/// Always 200 while the process serves: an open breaker means an upstream is down, not this
/// service, and a load balancer that took every replica out for it would turn a partial outage
/// into a full one. Monitoring reads the states in the body.
async fn health() -> Response {
    match serde_json::to_string(&registry().snapshot()) {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the snapshot did not serialise: {error}"),
        )
            .into_response(),
    }
}

async fn render_metrics(State(state): State<AppState>) -> Response {
    // Without the exporter's own listener nobody runs its upkeep (draining histograms): each
    // scrape does.
    state.metrics.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// Serves `app` on `listener` until `shutdown` turns true (or its sender is dropped).
pub(crate) fn spawn_server(
    listener: TcpListener,
    app: Router,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|stop| *stop).await;
            })
            .await
    })
}
