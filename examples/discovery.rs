//! Load balancing over five instances of a service on loopback: round robin against P2C
//! peak-EWMA with outlier detection.
//!
//! Five axum servers on 127.0.0.1 are registered in a `ServiceDiscovery` as instances of
//! `catalog`. Three are healthy (10 to 20 ms per request), one is slow (200 ms), one fails fast
//! (`500` after 1 ms). 16 workers send 2,000 requests in all; each request picks an instance
//! with `discovery.pick(&route, ..)`, sends `GET /price` with reqwest (through `ServiceClient`,
//! on the shared connection pool) and reports the outcome with `discovery.report(..)`, which
//! feeds the instance's latency estimate and the outlier detector.
//!
//! The run is made twice, on fresh discoveries over the same servers: round robin with outlier
//! detection off (every instance gets a fifth, whatever it does), then the default balancer, P2C
//! peak-EWMA, with outlier detection on (the slow instance's latency estimate keeps it out of
//! the pairs' choice; five consecutive failures eject the failing one for 30 s). Each run prints
//! every instance's share of the traffic, success rate and p99 latency.
//!
//! Run with `cargo run --example discovery` (about ten seconds).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use resilience::discovery::ServiceClient;
use resilience::{
    Balancer, CallOutcome, DiscoveryConfig, Instance, OutlierConfig, Route, ServiceDiscovery,
};
use tokio::time::Instant;

const SERVICE: &str = "catalog";
const REQUESTS: usize = 2_000;
const CONCURRENCY: usize = 16;
/// A request not answered within this is a timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
const SLOW: Duration = Duration::from_millis(200);

/// What an instance does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// Answers `200` after 10 to 20 ms.
    Healthy,
    /// Answers `200` after 200 ms.
    Slow,
    /// Answers `500` after 1 ms.
    Failing,
}

impl Behaviour {
    fn describe(self) -> &'static str {
        match self {
            Behaviour::Healthy => "healthy (10-20 ms)",
            Behaviour::Slow => "slow (200 ms)",
            Behaviour::Failing => "failing (500s)",
        }
    }

    async fn answer(self) -> (StatusCode, &'static str) {
        match self {
            Behaviour::Healthy => {
                tokio::time::sleep(Duration::from_micros(fastrand::u64(10_000..20_000))).await;
                (StatusCode::OK, "42.00")
            }
            Behaviour::Slow => {
                tokio::time::sleep(SLOW).await;
                (StatusCode::OK, "42.00")
            }
            Behaviour::Failing => {
                tokio::time::sleep(Duration::from_millis(1)).await;
                (StatusCode::INTERNAL_SERVER_ERROR, "database unavailable")
            }
        }
    }
}

/// Starts one instance on 127.0.0.1 (port chosen by the system).
async fn start_instance(behaviour: Behaviour) -> std::io::Result<SocketAddr> {
    let app = axum::Router::new().route(
        "/price",
        axum::routing::get(move || async move { behaviour.answer().await }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(address)
}

/// What one instance saw during a run.
#[derive(Debug, Default)]
struct InstanceStats {
    requests: usize,
    successes: usize,
    latencies: Vec<Duration>,
}

/// The `percent`th percentile of `latencies` (nearest rank).
fn percentile(latencies: &[Duration], percent: usize) -> Option<Duration> {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    let rank = (sorted.len() * percent).div_ceil(100);
    sorted.get(rank.checked_sub(1)?).copied()
}

/// What a whole run gave, for the comparison at the end.
#[derive(Debug, Clone, Copy)]
struct RunSummary {
    elapsed: Duration,
    success_rate: f64,
    p99: Option<Duration>,
}

fn millis(duration: Option<Duration>) -> String {
    match duration {
        Some(duration) => format!("{:.1} ms", duration.as_secs_f64() * 1e3),
        None => "-".into(),
    }
}

/// One request: pick, send, report. Returns the instance and what happened.
async fn one_request(
    discovery: &ServiceDiscovery,
    route: &Route,
) -> Result<(String, CallOutcome, Duration), Box<dyn std::error::Error + Send + Sync>> {
    let call = discovery.pick(route, |_| false)?;
    let instance = call.endpoint().instance().id.id.clone();
    let client = ServiceClient::new(Arc::clone(call.endpoint()))?;
    let started = Instant::now();
    let outcome = match tokio::time::timeout(REQUEST_TIMEOUT, async {
        let response = client.get("/price").send().await?;
        let status = response.status();
        response.bytes().await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(status)
    })
    .await
    {
        Ok(Ok(status)) if status.is_success() => CallOutcome::Success,
        Ok(_) => CallOutcome::Failure,
        Err(_) => CallOutcome::Timeout,
    };
    let latency = started.elapsed();
    discovery.report(call, outcome);
    Ok((instance, outcome, latency))
}

/// Sends [`REQUESTS`] requests, [`CONCURRENCY`] at a time, and prints the table.
async fn run(
    title: &str,
    discovery: ServiceDiscovery,
    route: Route,
    behaviours: &BTreeMap<String, Behaviour>,
) -> Result<RunSummary, Box<dyn std::error::Error + Send + Sync>> {
    let (discovery, route) = (Arc::new(discovery), Arc::new(route));
    let stats: Arc<Mutex<BTreeMap<String, InstanceStats>>> = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (discovery, route, stats, next) = (
                Arc::clone(&discovery),
                Arc::clone(&route),
                Arc::clone(&stats),
                Arc::clone(&next),
            );
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < REQUESTS {
                    let (instance, outcome, latency) = one_request(&discovery, &route).await?;
                    let mut stats = stats.lock().unwrap_or_else(|e| e.into_inner());
                    let entry = stats.entry(instance).or_default();
                    entry.requests += 1;
                    entry.successes += usize::from(outcome == CallOutcome::Success);
                    entry.latencies.push(latency);
                }
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    let elapsed = started.elapsed();

    let stats = stats.lock().unwrap_or_else(|e| e.into_inner());
    let endpoints = discovery.endpoints(SERVICE);
    println!();
    println!(
        "{title}: {REQUESTS} requests, {CONCURRENCY} at a time, in {:.2} s",
        elapsed.as_secs_f64()
    );
    println!(
        "  {:<9} {:<18} {:>8} {:>9} {:>10} {:>10} {:>13}  state",
        "instance", "behaviour", "share", "success", "p50", "p99", "EWMA latency"
    );
    for (instance, behaviour) in behaviours {
        let seen = stats.get(instance);
        let requests = seen.map_or(0, |s| s.requests);
        let success = match seen {
            Some(s) if s.requests > 0 => {
                format!("{:.1} %", 100.0 * s.successes as f64 / s.requests as f64)
            }
            _ => "-".into(),
        };
        let endpoint = endpoints
            .iter()
            .find(|endpoint| &endpoint.instance().id.id == instance);
        let state = match endpoint {
            Some(endpoint) if endpoint.is_ejected() => "ejected",
            Some(_) => "in rotation",
            None => "deregistered",
        };
        println!(
            "  {instance:<9} {:<18} {:>8} {success:>9} {:>10} {:>10} {:>13}  {state}",
            behaviour.describe(),
            format!("{:.1} %", 100.0 * requests as f64 / REQUESTS as f64),
            millis(seen.and_then(|s| percentile(&s.latencies, 50))),
            millis(seen.and_then(|s| percentile(&s.latencies, 99))),
            millis(endpoint.map(|endpoint| endpoint.latency_estimate())),
        );
    }
    let all: Vec<Duration> = stats
        .values()
        .flat_map(|s| s.latencies.iter().copied())
        .collect();
    let successes: usize = stats.values().map(|s| s.successes).sum();
    let summary = RunSummary {
        elapsed,
        success_rate: 100.0 * successes as f64 / REQUESTS as f64,
        p99: percentile(&all, 99),
    };
    println!(
        "  {:<9} {:<18} {:>8} {:>9} {:>10} {:>10}",
        "all",
        "",
        "100.0 %",
        format!("{:.1} %", summary.success_rate),
        millis(percentile(&all, 50)),
        millis(summary.p99),
    );
    Ok(summary)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // Shows the outlier detector's ejections as they happen.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_target(false)
        .init();

    let behaviours = [
        Behaviour::Healthy,
        Behaviour::Slow,
        Behaviour::Healthy,
        Behaviour::Failing,
        Behaviour::Healthy,
    ];
    let mut instances = Vec::new();
    for (index, behaviour) in behaviours.into_iter().enumerate() {
        let address = start_instance(behaviour).await?;
        let id = format!("i{}", index + 1);
        println!("{id}: {} on {address}", behaviour.describe());
        instances.push((
            Instance::new(SERVICE, id, address.ip().to_string(), address.port()),
            behaviour,
        ));
    }
    let by_id: BTreeMap<String, Behaviour> = instances
        .iter()
        .map(|(instance, behaviour)| (instance.id.id.clone(), *behaviour))
        .collect();
    let discovery_of = |outlier: OutlierConfig| {
        let discovery = ServiceDiscovery::with_config(DiscoveryConfig {
            outlier,
            ..Default::default()
        });
        for (instance, _) in &instances {
            discovery.register(instance.clone())?;
        }
        Ok::<_, resilience::DiscoveryError>(discovery)
    };

    let round_robin = run(
        "Round robin, outlier detection off",
        discovery_of(OutlierConfig {
            enabled: false,
            ..Default::default()
        })?,
        Route::new(SERVICE).balancer(Balancer::RoundRobin),
        &by_id,
    )
    .await?;
    let p2c = run(
        "P2C peak-EWMA (the default), outlier detection on",
        discovery_of(OutlierConfig::default())?,
        Route::new(SERVICE).balancer(Balancer::P2cPeakEwma),
        &by_id,
    )
    .await?;
    println!();
    println!(
        "P2C peak-EWMA + outlier detection against round robin: success {:.1} % against {:.1} %, \
         p99 {} against {}, {:.2} s against {:.2} s for the same {REQUESTS} requests.",
        p2c.success_rate,
        round_robin.success_rate,
        millis(p2c.p99),
        millis(round_robin.p99),
        p2c.elapsed.as_secs_f64(),
        round_robin.elapsed.as_secs_f64(),
    );
    Ok(())
}
