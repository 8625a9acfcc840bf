//! The demo (on by default): calls the service, edits the overrides file while it runs and
//! prints what the operator would see in `/health`, `/metrics` and the admin answers. Every
//! wait is for an event or an answer, bounded by a deadline, so the demo ends by itself.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::StatusCode;
use resilience::events::Event;
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::admin::AdminToken;
use crate::overrides_file::{BROKEN, OverridesFile, RAISED};
use crate::service::{POLICY, Upstream, UpstreamMode};

type DemoError = Box<dyn std::error::Error>;

/// How long the demo waits for any one thing (a reload is debounced by 200 ms).
const PATIENCE: Duration = Duration::from_secs(10);

/// What the demo needs of the running example.
pub(crate) struct Running<'a> {
    pub(crate) service: SocketAddr,
    pub(crate) admin: Option<(SocketAddr, &'a AdminToken)>,
    pub(crate) upstream: &'a Upstream,
    pub(crate) file: &'a OverridesFile,
    pub(crate) events: broadcast::Receiver<Event>,
}

pub(crate) async fn run(mut running: Running<'_>) -> Result<(), DemoError> {
    let client = crate::service::http_client()?;
    let base = format!("http://{}", running.service);
    let source = running.file.path().display().to_string();

    println!("\n== 1. calls through the policies (the upstream fails every third request)");
    show_limits(
        &client,
        &base,
        "attribute max_failures = 5, max_concurrent_calls = 4; file",
        (3, 2),
    )
    .await?;
    for _ in 0..3 {
        let (status, body) = get(&client, &format!("{base}/quote")).await?;
        println!("GET /quote -> {status} {body}");
    }
    println!(
        "the upstream saw {} requests for 3 calls: the retry hid its failures",
        running.upstream.requests()
    );

    println!("\n== 2. the file is edited while the service runs");
    running.file.replace(RAISED)?;
    next_reload(&mut running.events, &source, Reload::Applied).await?;
    println!("reloaded {source}");
    show_limits(&client, &base, "now", (6, 16)).await?;

    println!("\n== 3. a broken edit is refused; the last good configuration stays");
    running.file.replace(BROKEN)?;
    if let Event::ConfigReloadFailed { error, .. } =
        next_reload(&mut running.events, &source, Reload::Refused).await?
    {
        println!("refused: {error}");
    }
    show_limits(&client, &base, "still", (6, 16)).await?;

    println!("\n== 4. the upstream goes down: the breaker opens at the reloaded threshold");
    running.upstream.set_mode(UpstreamMode::Down);
    for _ in 0..3 {
        let (status, body) = get(&client, &format!("{base}/quote")).await?;
        println!("GET /quote -> {status} {body}");
    }
    show_breaker(&client, &base, "open").await?;

    println!("\n== 5. admin actions");
    running.upstream.set_mode(UpstreamMode::Healthy);
    match running.admin {
        None => println!(
            "no admin listener: RESILIENCE_ADMIN_TOKEN is not set (try \
             RESILIENCE_ADMIN_TOKEN=$(openssl rand -hex 32) cargo run --example operations)"
        ),
        Some((admin, token)) => {
            let reset = format!("http://{admin}/admin/circuit-breakers/{POLICY}/reset");
            let status = client.post(&reset).send().await?.status();
            println!("POST {reset} without a token -> {status}");
            expect_status(status, StatusCode::UNAUTHORIZED)?;
            let status = client
                .post(&reset)
                .header(reqwest::header::AUTHORIZATION, "Bearer not-the-admin-token")
                .send()
                .await?
                .status();
            println!("POST {reset} with a wrong token -> {status}");
            expect_status(status, StatusCode::FORBIDDEN)?;
            let response = client
                .post(&reset)
                .header(reqwest::header::AUTHORIZATION, token.authorization())
                .send()
                .await?;
            let status = response.status();
            println!(
                "POST {reset} with the token -> {status} {}",
                response.text().await?
            );
            expect_status(status, StatusCode::OK)?;
            show_breaker(&client, &base, "closed").await?;
            let (status, body) = get(&client, &format!("{base}/quote")).await?;
            println!("GET /quote -> {status} {body}");
            let force = format!("http://{admin}/admin/circuit-breakers/{POLICY}/force-open");
            let response = client
                .post(&force)
                .header(reqwest::header::AUTHORIZATION, token.authorization())
                .send()
                .await?;
            let status = response.status();
            println!(
                "POST {force} with the token -> {status} {}",
                response.text().await?
            );
            expect_status(status, StatusCode::OK)?;
            show_breaker(&client, &base, "open").await?;
            let (status, body) = get(&client, &format!("{base}/quote")).await?;
            println!("GET /quote -> {status} {body}");
        }
    }

    println!("\n== 6. GET /metrics (the samples, without the # HELP and # TYPE lines)");
    let (status, metrics) = get(&client, &format!("{base}/metrics")).await?;
    println!("{status}");
    let mut samples: Vec<&str> = metrics
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    samples.sort_unstable();
    for line in &samples {
        println!("  {line}");
    }
    if !cfg!(feature = "metrics") {
        println!(
            "  (built without the `metrics` feature, so only the example's own counter: \
             `cargo run --example operations --features metrics` adds the runtime's \
             resilience_* series)"
        );
    }

    println!(
        "\ndemo over. RESILIENCE_DEMO=0 keeps the service running (Ctrl-C stops it): edit the file \
         above and watch GET /health"
    );
    Ok(())
}

async fn get(client: &reqwest::Client, url: &str) -> Result<(StatusCode, String), DemoError> {
    let response = tokio::time::timeout(PATIENCE, client.get(url).send())
        .await
        .map_err(|_| format!("GET {url}: no answer within {PATIENCE:?}"))??;
    let status = response.status();
    Ok((status, response.text().await?))
}

/// The policy `POLICY` of `kind` in `GET /health`.
async fn policy(
    client: &reqwest::Client,
    base: &str,
    kind: &str,
) -> Result<serde_json::Value, DemoError> {
    let (_, body) = get(client, &format!("{base}/health")).await?;
    let health: serde_json::Value = serde_json::from_str(&body)?;
    health["policies"]
        .as_array()
        .and_then(|policies| {
            policies
                .iter()
                .find(|p| p["kind"] == kind && p["name"] == POLICY)
                .cloned()
        })
        .ok_or_else(|| format!("GET /health lists no {kind} `{POLICY}`: {body}").into())
}

/// Prints the limits `/health` shows; an error unless they are `expected`
/// (`(max_failures, max_concurrent_calls)`).
async fn show_limits(
    client: &reqwest::Client,
    base: &str,
    label: &str,
    expected: (u64, u64),
) -> Result<(), DemoError> {
    let breaker = policy(client, base, "circuit_breaker").await?;
    let bulkhead = policy(client, base, "bulkhead").await?;
    let limits = (
        breaker["config"]["max_failures"].as_u64(),
        bulkhead["config"]["max_concurrent_calls"].as_u64(),
    );
    println!(
        "{label}: GET /health says circuit_breaker.max_failures = {}, bulkhead.max_concurrent_calls = {} \
         (breaker {}, counters {})",
        breaker["config"]["max_failures"],
        bulkhead["config"]["max_concurrent_calls"],
        breaker
            .get("state")
            .map_or_else(|| "not used yet".to_owned(), ToString::to_string),
        breaker
            .get("counters")
            .map_or_else(|| "none yet".to_owned(), ToString::to_string),
    );
    if limits != (Some(expected.0), Some(expected.1)) {
        return Err(format!(
            "expected max_failures = {}, max_concurrent_calls = {} (a RESILIENCE__… variable \
             naming `{POLICY}` wins over the file)",
            expected.0, expected.1
        )
        .into());
    }
    Ok(())
}

fn expect_status(status: StatusCode, expected: StatusCode) -> Result<(), DemoError> {
    if status == expected {
        Ok(())
    } else {
        Err(format!("expected {expected}, got {status}").into())
    }
}

/// Prints the breaker as `/health` shows it; an error unless its state is `expected`.
async fn show_breaker(
    client: &reqwest::Client,
    base: &str,
    expected: &str,
) -> Result<(), DemoError> {
    let breaker = policy(client, base, "circuit_breaker").await?;
    println!(
        "GET /health: breaker `{POLICY}` is {} with max_failures = {}, counters {}",
        breaker["state"].as_str().unwrap_or("not used yet"),
        breaker["config"]["max_failures"],
        breaker["counters"]
    );
    if breaker["state"] != expected {
        return Err(format!("expected the breaker to be {expected}").into());
    }
    Ok(())
}

/// Which reload event the demo waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reload {
    Applied,
    Refused,
}

/// The next reload event of the `wanted` kind about `source`. Others are skipped: one save can
/// be seen as two changes, each reloaded.
async fn next_reload(
    events: &mut broadcast::Receiver<Event>,
    source: &str,
    wanted: Reload,
) -> Result<Event, DemoError> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let event = match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => {
                return Err(format!("{source}: no {wanted:?} reload within {PATIENCE:?}").into());
            }
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(broadcast::error::RecvError::Closed)) => {
                return Err("the event stream closed".into());
            }
            Ok(Ok(event)) => event,
        };
        let seen = match &event {
            Event::ConfigReloaded { source: s } if s == source => Reload::Applied,
            Event::ConfigReloadFailed { source: s, .. } if s == source => Reload::Refused,
            _ => continue,
        };
        if seen == wanted {
            return Ok(event);
        }
    }
}
