//! Linkerd's "Beyond Round Robin" on loopback: ten HTTP instances, one of them 20× slower for a
//! while, requests at a fixed rate with a deadline each, through our discovery's balancers.
//!
//! Ten axum servers on 127.0.0.1 (ports chosen by the system) answer `GET /` after 4 to 8 ms.
//! During the middle third of each run, instance `i0` answers 20× slower (80 to 160 ms), past
//! the deadline. Requests are sent open loop, at a fixed rate (one task per tick, whether or not
//! earlier requests are done, as traffic arrives in production): each picks an instance with
//! `ServiceDiscovery::pick`, sends the request through that instance's `ServiceClient` (reqwest
//! on the shared pool), gives up at the deadline, and reports the outcome and latency with
//! `ServiceDiscovery::report` (which feeds the peak-EWMA estimate and the outlier detector).
//!
//! Each balancer runs on a fresh discovery over the same servers: round robin, least connections
//! and P2C peak-EWMA, each without and with outlier detection (5 consecutive failures eject,
//! for 1 s at first). Reported: the share of requests answered `200` within the deadline, and
//! the p50/p99/p99.9 latency of all requests (one that missed the deadline counts as the
//! deadline), and the share of the requests sent while `i0` was slow that went to `i0`.
//!
//! Settings (environment): `PEERS_SCENARIO_SECS` per run (default 5; the six runs are held to
//! two minutes in all), `PEERS_SCENARIO_RPS` (default 400), `PEERS_SCENARIO_DEADLINE_MS`
//! (default 50). `cargo test --all-targets` runs each for a moment and prints nothing.
//!
//! Run: `cargo bench -p resilience-peers --bench scenario` (about 35 s by default).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use resilience::{
    Balancer, CallOutcome, DiscoveryConfig, Instance, OutlierConfig, Route, ServiceClient,
    ServiceDiscovery,
};
use tokio::time::{Instant, MissedTickBehavior};

const SERVICE: &str = "scenario";
const INSTANCES: usize = 10;
/// How much slower the slow instance gets.
const SLOWDOWN: u32 = 20;
/// The longest the six runs may take in all.
const TOTAL_LIMIT: Duration = Duration::from_secs(110);

/// Starts one instance on 127.0.0.1; it answers 20× slower while `slow` is set.
async fn start_instance(slow: Arc<AtomicBool>) -> std::io::Result<SocketAddr> {
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let slow = Arc::clone(&slow);
            async move {
                let mut latency = Duration::from_micros(fastrand::u64(4_000..8_000));
                if slow.load(Ordering::Relaxed) {
                    latency *= SLOWDOWN;
                }
                tokio::time::sleep(latency).await;
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(address)
}

/// One request's fate.
#[derive(Debug, Clone, Copy)]
struct Sample {
    latency: Duration,
    success: bool,
    /// Sent while the slow instance was slow.
    during_slowdown: bool,
    /// Sent to the slow instance.
    to_slow: bool,
}

/// Pick, send with a deadline, report.
async fn one_request(
    discovery: &ServiceDiscovery,
    route: &Route,
    deadline: Duration,
    during_slowdown: bool,
) -> Sample {
    let started = Instant::now();
    let Ok(call) = discovery.pick(route, |_| false) else {
        return Sample {
            latency: deadline,
            success: false,
            during_slowdown,
            to_slow: false,
        };
    };
    let to_slow = call.endpoint().instance().id.id == "i0";
    let outcome = match ServiceClient::new(Arc::clone(call.endpoint())) {
        Ok(client) => match tokio::time::timeout(deadline, async {
            let response = client.get("/").send().await?;
            let status = response.status();
            response.bytes().await?;
            Ok::<_, reqwest::Error>(status)
        })
        .await
        {
            Ok(Ok(status)) if status.is_success() => CallOutcome::Success,
            Ok(_) => CallOutcome::Failure,
            Err(_) => CallOutcome::Timeout,
        },
        Err(_) => CallOutcome::Failure,
    };
    let latency = started.elapsed().min(deadline);
    discovery.report(call, outcome);
    Sample {
        latency,
        success: outcome == CallOutcome::Success,
        during_slowdown,
        to_slow,
    }
}

struct Settings {
    run: Duration,
    warm_up: Duration,
    rate: u32,
    deadline: Duration,
}

/// One run: warm-up (not recorded), then `settings.run` at the fixed rate, `i0` slow during its
/// middle third.
async fn run(
    addresses: &[SocketAddr],
    slow: &AtomicBool,
    balancer: Balancer,
    outlier: bool,
    settings: &Settings,
) -> Vec<Sample> {
    let discovery = Arc::new(ServiceDiscovery::with_config(DiscoveryConfig {
        outlier: OutlierConfig {
            enabled: outlier,
            base_ejection: Duration::from_secs(1),
            max_ejection: Duration::from_secs(10),
            ..OutlierConfig::default()
        },
        ..DiscoveryConfig::default()
    }));
    for (index, address) in addresses.iter().enumerate() {
        discovery
            .register(Instance::new(
                SERVICE,
                format!("i{index}"),
                address.ip().to_string(),
                address.port(),
            ))
            .expect("a well-formed instance");
    }
    let route = Arc::new(Route::new(SERVICE).balancer(balancer));
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / settings.rate.max(1));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let warm_up_end = Instant::now() + settings.warm_up;
    let start = warm_up_end;
    let (slow_from, slow_until) = (start + settings.run / 3, start + settings.run * 2 / 3);
    let end = start + settings.run;
    let mut requests = Vec::new();
    loop {
        let now = ticks.tick().await;
        if now >= end {
            break;
        }
        let during_slowdown = now >= slow_from && now < slow_until;
        slow.store(during_slowdown, Ordering::Relaxed);
        let (discovery, route, samples) = (
            Arc::clone(&discovery),
            Arc::clone(&route),
            Arc::clone(&samples),
        );
        let deadline = settings.deadline;
        let recorded = now >= warm_up_end;
        requests.push(tokio::spawn(async move {
            let sample = one_request(&discovery, &route, deadline, during_slowdown).await;
            if recorded {
                samples
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(sample);
            }
        }));
    }
    slow.store(false, Ordering::Relaxed);
    for request in requests {
        let _ = request.await;
    }
    let samples = samples.lock().unwrap_or_else(|e| e.into_inner());
    samples.clone()
}

/// The latency at `quantile` (nearest rank) of sorted `latencies`.
fn quantile(sorted: &[Duration], quantile: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * quantile).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1e3)
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

const RUNS: [(Balancer, &str, bool); 6] = [
    (Balancer::RoundRobin, "round robin", false),
    (Balancer::RoundRobin, "round robin", true),
    (Balancer::LeastConnections, "least connections", false),
    (Balancer::LeastConnections, "least connections", true),
    (Balancer::P2cPeakEwma, "P2C peak-EWMA", false),
    (Balancer::P2cPeakEwma, "P2C peak-EWMA", true),
];

fn main() {
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let warm_up = if benchmarking {
        Duration::from_millis(500)
    } else {
        Duration::ZERO
    };
    let per_run_limit = TOTAL_LIMIT / RUNS.len() as u32 - warm_up;
    let settings = if benchmarking {
        Settings {
            run: Duration::from_secs(env_number("PEERS_SCENARIO_SECS", 5).max(1))
                .min(per_run_limit),
            warm_up,
            rate: env_number("PEERS_SCENARIO_RPS", 400).clamp(1, 5_000) as u32,
            deadline: Duration::from_millis(env_number("PEERS_SCENARIO_DEADLINE_MS", 50).max(1)),
        }
    } else {
        Settings {
            run: Duration::from_millis(150),
            warm_up,
            rate: 100,
            deadline: Duration::from_millis(50),
        }
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let slow = Arc::new(AtomicBool::new(false));
        let mut addresses = Vec::new();
        for index in 0..INSTANCES {
            let flag = if index == 0 {
                Arc::clone(&slow)
            } else {
                Arc::new(AtomicBool::new(false))
            };
            addresses.push(start_instance(flag).await.expect("a loopback listener"));
        }
        if benchmarking {
            println!(
                "{INSTANCES} instances on 127.0.0.1 answering in 4-8 ms; `i0` {SLOWDOWN}× slower \
                 during the middle third of each run. {} requests/s for {:.1} s per run (after \
                 {:.1} s of warm-up), deadline {} ms each.",
                settings.rate,
                settings.run.as_secs_f64(),
                settings.warm_up.as_secs_f64(),
                settings.deadline.as_millis()
            );
            println!();
            println!(
                "| balancer | outlier detection | requests | success within deadline | p50 | p99 | p99.9 | to `i0` while slow |"
            );
            println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        }
        for (balancer, name, outlier) in RUNS {
            let samples = run(&addresses, &slow, balancer, outlier, &settings).await;
            let mut latencies: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
            latencies.sort();
            let successes = samples.iter().filter(|s| s.success).count();
            let slowed: Vec<&Sample> = samples.iter().filter(|s| s.during_slowdown).collect();
            let to_slow = slowed.iter().filter(|s| s.to_slow).count();
            if benchmarking {
                println!(
                    "| {name} | {} | {} | {:.2} % | {} | {} | {} | {:.1} % |",
                    if outlier { "on" } else { "off" },
                    samples.len(),
                    100.0 * successes as f64 / samples.len().max(1) as f64,
                    millis(quantile(&latencies, 0.5)),
                    millis(quantile(&latencies, 0.99)),
                    millis(quantile(&latencies, 0.999)),
                    100.0 * to_slow as f64 / slowed.len().max(1) as f64,
                );
            }
        }
    });
}
