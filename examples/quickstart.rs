//! The README's demo: a flaky HTTP service on 127.0.0.1 called through annotated functions.
//!
//! The service answers `GET /users/{id}`; 15 % of its answers are slow (longer than the
//! client's timeout), 10 % are errors, and it is down for one second in the middle of the run.
//! Eight workers call it for a few seconds through
//! `#[fallback] #[retry] #[circuit_breaker] #[timeout] #[bulkhead]`, a progress line shows what
//! happens, and a summary table says how the policies absorbed the failures.
//!
//! Run with `cargo run --example quickstart` (`-- --seconds 10` for a longer run).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use resilience::{
    CircuitState, ResilienceError, bulkhead, circuit_breaker, fallback, registry, retry, timeout,
};
use tokio::time::Instant;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};

/// What can go wrong calling the user service.
#[derive(Debug)]
enum ApiError {
    /// The service answered with an error status.
    Status(u16),
    /// The request did not get an answer.
    Transport(String),
    /// A policy rejected or abandoned the call.
    Rejected(ResilienceError),
}

impl From<ResilienceError> for ApiError {
    fn from(rejection: ResilienceError) -> Self {
        ApiError::Rejected(rejection)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Status(status) => write!(f, "status {status}"),
            ApiError::Transport(error) => write!(f, "transport: {error}"),
            ApiError::Rejected(rejection) => write!(f, "{rejection}"),
        }
    }
}

/// The counters the summary prints.
#[derive(Default)]
struct Stats {
    calls: AtomicU64,
    successes: AtomicU64,
    attempts: AtomicU64,
    retries: AtomicU64,
    timeouts: AtomicU64,
    fallbacks: AtomicU64,
    latencies: Mutex<Vec<Duration>>,
    transitions: Mutex<Vec<(Duration, String, String)>>,
}

static STATS: std::sync::LazyLock<Stats> = std::sync::LazyLock::new(Stats::default);
static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn since_start() -> Duration {
    START.get().map_or(Duration::ZERO, |start| start.elapsed())
}

/// Counts an attempt, and a timeout when the pipeline drops the attempt before it finished.
struct AttemptGuard {
    finished: bool,
}

impl AttemptGuard {
    fn start() -> Self {
        STATS.attempts.fetch_add(1, Ordering::Relaxed);
        AttemptGuard { finished: false }
    }
}

impl Drop for AttemptGuard {
    fn drop(&mut self) {
        if !self.finished {
            STATS.timeouts.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The protected call: one pipeline, outermost first fallback → retry → breaker → timeout →
/// bulkhead → body, whatever order the attributes are written in.
#[circuit_breaker(
    name = "user-service",
    failure_rate = 0.6,
    window = 40,
    min_calls = 20,
    reset_timeout = "500ms"
)]
#[retry(max_retries = 2, base_delay = "20ms", max_delay = "100ms")]
#[timeout("150ms")]
#[bulkhead(name = "user-service", max_concurrent_calls = 6, max_queue_size = 12)]
#[fallback(cached_user)]
async fn get_user(client: &reqwest::Client, base: &str, id: u64) -> Result<String, ApiError> {
    let mut attempt = AttemptGuard::start();
    let response = client
        .get(format!("{base}/users/{id}"))
        .send()
        .await
        .map_err(|error| ApiError::Transport(error.to_string()));
    attempt.finished = true;
    let response = response?;
    if !response.status().is_success() {
        return Err(ApiError::Status(response.status().as_u16()));
    }
    response
        .text()
        .await
        .map_err(|error| ApiError::Transport(error.to_string()))
}

/// Served when everything else failed.
async fn cached_user(_client: &reqwest::Client, _base: &str, id: u64) -> Result<String, ApiError> {
    STATS.fallbacks.fetch_add(1, Ordering::Relaxed);
    Ok(format!("user {id} (cached)"))
}

/// The flaky service's behaviour for one request.
async fn user(
    State(outage): State<(Duration, Duration)>,
    Path(id): Path<u64>,
) -> (StatusCode, String) {
    let now = since_start();
    if now >= outage.0 && now < outage.1 {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "down for maintenance".into(),
        );
    }
    match fastrand::u32(0..100) {
        0..15 => {
            tokio::time::sleep(Duration::from_millis(400)).await;
            (StatusCode::OK, format!("user {id} (slow)"))
        }
        15..25 => (StatusCode::INTERNAL_SERVER_ERROR, "boom".into()),
        _ => {
            tokio::time::sleep(Duration::from_millis(fastrand::u64(2..20))).await;
            (StatusCode::OK, format!("user {id}"))
        }
    }
}

/// Records the breaker transitions and retries that the runtime reports through `tracing`.
struct TransitionRecorder;

#[derive(Default)]
struct TransitionFields {
    from: String,
    to: String,
    breaker: String,
}

impl Visit for TransitionFields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let value = format!("{value:?}");
        match field.name() {
            "from" => self.from = value,
            "to" => self.to = value,
            "circuit_breaker" => self.breaker = value,
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for TransitionRecorder {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "resilience" {
            return;
        }
        if event.metadata().fields().field("retry").is_some() {
            STATS.retries.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut fields = TransitionFields::default();
        event.record(&mut fields);
        if !fields.to.is_empty()
            && fields.breaker == "user-service"
            && let Ok(mut transitions) = STATS.transitions.lock()
        {
            transitions.push((since_start(), fields.from, fields.to));
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = std::env::args()
        .skip_while(|arg| arg != "--seconds")
        .nth(1)
        .map(|value| value.parse())
        .transpose()?
        .unwrap_or(4);
    let run = Duration::from_secs(seconds.max(2));
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(TransitionRecorder),
    )?;

    let outage = (run * 2 / 5, run * 2 / 5 + Duration::from_secs(1));
    let app = axum::Router::new()
        .route("/users/{id}", axum::routing::get(user))
        .with_state(outage);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    START.get_or_init(Instant::now);
    println!(
        "flaky user service on {base}: 15 % slow, 10 % errors, down from {:.1}s to {:.1}s",
        outage.0.as_secs_f64(),
        outage.1.as_secs_f64()
    );

    // reqwest is built without a TLS crypto provider of its own here (the discovery crate
    // brings rustls on `ring`): an application installs the one it wants, once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let workers: Vec<_> = (0..8u64)
        .map(|worker| {
            let client = client.clone();
            let base = base.clone();
            tokio::spawn(async move {
                let mut id = worker * 1_000;
                while since_start() < run {
                    id += 1;
                    let started = Instant::now();
                    let result = get_user(&client, &base, id).await;
                    STATS.calls.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut latencies) = STATS.latencies.lock() {
                        latencies.push(started.elapsed());
                    }
                    match result {
                        Ok(user) if !user.ends_with("(cached)") => {
                            STATS.successes.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(error) => {
                            eprintln!("\nunexpected error (the fallback should catch all): {error}")
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        })
        .collect();

    let mut progress = tokio::time::interval(Duration::from_millis(250));
    while since_start() < run {
        progress.tick().await;
        let state = registry()
            .circuit_breaker("user-service")
            .map_or(CircuitState::Closed, |breaker| breaker.state());
        eprint!(
            "\r[{:>4.1}s] calls {:>5}  ok {:>5}  fallbacks {:>5}  timeouts {:>4}  breaker {:<8?}",
            since_start().as_secs_f64(),
            STATS.calls.load(Ordering::Relaxed),
            STATS.successes.load(Ordering::Relaxed),
            STATS.fallbacks.load(Ordering::Relaxed),
            STATS.timeouts.load(Ordering::Relaxed),
            state,
        );
    }
    for worker in workers {
        worker.await?;
    }
    eprintln!();

    let calls = STATS.calls.load(Ordering::Relaxed);
    let attempts = STATS.attempts.load(Ordering::Relaxed);
    let mut latencies = STATS
        .latencies
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    latencies.sort();
    let breaker = registry()
        .circuit_breaker("user-service")
        .ok_or("the breaker registers on the first call")?;
    let metrics = breaker.metrics();
    let mut rows: BTreeMap<&str, String> = BTreeMap::new();
    rows.insert("1 calls", calls.to_string());
    rows.insert(
        "2 successes (fresh data)",
        STATS.successes.load(Ordering::Relaxed).to_string(),
    );
    rows.insert(
        "3 fallbacks (cached data)",
        STATS.fallbacks.load(Ordering::Relaxed).to_string(),
    );
    rows.insert("4 attempts", attempts.to_string());
    rows.insert(
        "5 retries",
        STATS.retries.load(Ordering::Relaxed).to_string(),
    );
    rows.insert(
        "6 timeouts",
        STATS.timeouts.load(Ordering::Relaxed).to_string(),
    );
    rows.insert("7 breaker rejections", metrics.rejected.to_string());
    rows.insert(
        "8 latency p50",
        format!("{:.1?}", percentile(&latencies, 0.50)),
    );
    rows.insert(
        "9 latency p99",
        format!("{:.1?}", percentile(&latencies, 0.99)),
    );
    println!("\n{:<28}{:>12}", "summary", "");
    println!("{}", "-".repeat(40));
    for (label, value) in rows {
        println!("{:<28}{:>12}", &label[2..], value);
    }
    println!(
        "\nbreaker `user-service` transitions ({} times opened):",
        metrics.opened
    );
    let transitions = STATS
        .transitions
        .lock()
        .map(|t| t.clone())
        .unwrap_or_default();
    if transitions.is_empty() {
        println!("  none");
    }
    for (at, from, to) in transitions {
        println!("  {:>6.2}s  {from:<8} -> {to}", at.as_secs_f64());
    }
    Ok(())
}
