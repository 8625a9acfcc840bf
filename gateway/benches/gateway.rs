//! The gateway on loopback against calling the upstream directly with a hyper client: the
//! latency it adds at p50 (sequential requests) and its throughput at 64 concurrent requests,
//! as ratios to the direct client's, same process, modes interleaved round by round.
//!
//! One axum upstream answering `ok`, registered in a memory discovery; the gateway in front of
//! it with one open route (no API key) and its default upstream policies (breaker, bulkhead,
//! timeout, budgeted retry). Both clients are hyper-util's pooled HTTP/1 client.
//!
//! Run: `cargo bench -p resilience-gateway --bench gateway`. Without `--bench`
//! (`cargo test -p resilience-gateway --benches`) each mode sends a handful of requests and
//! nothing is printed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use resilience::{Instance, ServiceDiscovery};
use resilience_gateway::{ApiKeys, Gateway};
use tokio::net::TcpListener;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

async fn get_once(client: &HttpClient, url: &str) {
    let response = client
        .request(Request::get(url).body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    assert!(response.status().is_success());
    response.into_body().collect().await.unwrap();
}

async fn latencies(client: &HttpClient, url: &str, requests: usize) -> Vec<Duration> {
    let mut figures = Vec::with_capacity(requests);
    for _ in 0..requests {
        let started = Instant::now();
        get_once(client, url).await;
        figures.push(started.elapsed());
    }
    figures
}

/// Requests per second with `concurrency` tasks sending `requests` in all.
async fn throughput(client: &HttpClient, url: &str, requests: usize, concurrency: usize) -> f64 {
    let url: Arc<str> = Arc::from(url);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let client = client.clone();
            let url = Arc::clone(&url);
            tokio::spawn(async move {
                for _ in 0..requests / concurrency {
                    get_once(&client, &url).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (requests / concurrency * concurrency) as f64 / started.elapsed().as_secs_f64()
}

fn percentile(figures: &mut [Duration], percent: usize) -> Duration {
    figures.sort_unstable();
    figures[(figures.len() * percent / 100).min(figures.len() - 1)]
}

async fn start() -> (SocketAddr, SocketAddr) {
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_address = upstream.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(upstream, Router::new().route("/ok", get(|| async { "ok" }))).await
    });
    let discovery = ServiceDiscovery::new();
    discovery
        .register(Instance::new(
            "bench",
            "one",
            "127.0.0.1",
            upstream_address.port(),
        ))
        .unwrap();
    let routes =
        "[upstream]\nmax_concurrent = 1024\n[[route]]\nprefix = \"/\"\nservice = \"bench\"\n";
    let gateway = Gateway::new(discovery, ApiKeys::default(), routes).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway_address = listener.local_addr().unwrap();
    tokio::spawn(async move { gateway.serve(listener, std::future::pending()).await });
    (upstream_address, gateway_address)
}

fn main() {
    let benchmarking = std::env::args().any(|argument| argument == "--bench");
    let (rounds, sequential, concurrent) = if benchmarking {
        (7, 2_000, 20_000)
    } else {
        (1, 10, 64)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (upstream, gateway) = start().await;
        let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
        let direct = format!("http://{upstream}/ok");
        let through = format!("http://{gateway}/ok");
        // Warm the pools and the gateway's route.
        latencies(&client, &direct, 100.min(sequential)).await;
        latencies(&client, &through, 100.min(sequential)).await;
        let (mut direct_latency, mut gateway_latency) = (Vec::new(), Vec::new());
        let (mut direct_rate, mut gateway_rate) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            direct_latency.extend(latencies(&client, &direct, sequential).await);
            gateway_latency.extend(latencies(&client, &through, sequential).await);
            direct_rate.push(throughput(&client, &direct, concurrent, 64).await);
            gateway_rate.push(throughput(&client, &through, concurrent, 64).await);
        }
        if !benchmarking {
            return;
        }
        let direct_p50 = percentile(&mut direct_latency, 50);
        let gateway_p50 = percentile(&mut gateway_latency, 50);
        let direct_p99 = percentile(&mut direct_latency, 99);
        let gateway_p99 = percentile(&mut gateway_latency, 99);
        direct_rate.sort_by(f64::total_cmp);
        gateway_rate.sort_by(f64::total_cmp);
        let (direct_rate, gateway_rate) = (direct_rate[rounds / 2], gateway_rate[rounds / 2]);
        println!("gateway vs direct hyper client, loopback, {rounds} interleaved rounds, 2 worker threads");
        println!(
            "p50 latency: direct {direct_p50:?}, gateway {gateway_p50:?} (+{:?}, {:.2}x)",
            gateway_p50.saturating_sub(direct_p50),
            gateway_p50.as_secs_f64() / direct_p50.as_secs_f64()
        );
        println!("p99 latency: direct {direct_p99:?}, gateway {gateway_p99:?}");
        println!(
            "throughput at 64 concurrent: direct {direct_rate:.0}/s, gateway {gateway_rate:.0}/s ({:.2}x)",
            gateway_rate / direct_rate
        );
    });
}
