//! The gateway on loopback against calling the upstream directly with a hyper client: the
//! latency it adds at p50 (sequential requests) and its throughput at 64 concurrent requests,
//! as ratios to the direct client's, same process, modes interleaved round by round.
//!
//! One axum upstream answering `ok`, registered in a memory discovery; the gateway in front of
//! it with one open route (no API key) and its default upstream policies (breaker, bulkhead,
//! timeout, budgeted retry), its `/metrics` recorder installed. All clients are hyper-util's
//! pooled HTTP/1 client.
//!
//! The second baseline is a bare proxy: hyper's HTTP/1 server and hyper-util's client, the
//! request forwarded as it came (URI rewritten, body streamed), no routing, no headers, no
//! policies. A proxy does at least twice the socket work of a direct call (it reads and writes
//! both sides), on the same cores as the client and the upstream: the bare proxy's ratio to the
//! direct client is the ceiling of any proxy here, and the gateway's ratio to the bare proxy is
//! what the gateway's own work costs.
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
use http::{Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
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

/// The process's CPU time so far (user and system, all threads), where `/proc/self/stat` says
/// it (Linux); `None` elsewhere. On a machine other jobs share, the CPU a request costs is a
/// steadier figure than requests per second.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command's closing parenthesis: utime and stime are the 12th and
    // 13th, in clock ticks (100 per second on every Linux this runs on).
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let ticks: u64 = fields.next()?.parse::<u64>().ok()? + fields.next()?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn percentile(figures: &mut [Duration], percent: usize) -> Duration {
    figures.sort_unstable();
    figures[(figures.len() * percent / 100).min(figures.len() - 1)]
}

type BareClient = Client<HttpConnector, Incoming>;

/// The bare proxy's one step: the request, to the upstream at `authority`, as it came.
async fn forward(
    client: BareClient,
    authority: Arc<str>,
    mut request: Request<Incoming>,
) -> Result<http::Response<Incoming>, Box<dyn std::error::Error + Send + Sync>> {
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |path| path.as_str());
    *request.uri_mut() = Uri::builder()
        .scheme("http")
        .authority(&*authority)
        .path_and_query(path)
        .build()?;
    Ok(client.request(request).await?)
}

/// The bare proxy in front of `upstream` (see the module's documentation).
async fn start_bare_proxy(upstream: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: BareClient = Client::builder(TokioExecutor::new()).build(connector);
    let authority: Arc<str> = Arc::from(upstream.to_string());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let _ = stream.set_nodelay(true);
            let (client, authority) = (client.clone(), Arc::clone(&authority));
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    forward(client.clone(), Arc::clone(&authority), request)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
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
        let bare = start_bare_proxy(upstream).await;
        let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
        let urls = [
            format!("http://{upstream}/ok"),
            format!("http://{bare}/ok"),
            format!("http://{gateway}/ok"),
        ];
        // Warm the pools and the gateway's route.
        for url in &urls {
            latencies(&client, url, 100.min(sequential)).await;
        }
        let mut latency: [Vec<Duration>; 3] = Default::default();
        let mut rate: [Vec<f64>; 3] = Default::default();
        let mut cpu: [Option<Duration>; 3] = [Some(Duration::ZERO); 3];
        for _ in 0..rounds {
            for (mode, url) in urls.iter().enumerate() {
                latency[mode].extend(latencies(&client, url, sequential).await);
            }
            for (mode, url) in urls.iter().enumerate() {
                let before = process_cpu();
                rate[mode].push(throughput(&client, url, concurrent, 64).await);
                let spent = process_cpu().zip(before).map(|(after, before)| after - before);
                cpu[mode] = cpu[mode].zip(spent).map(|(total, spent)| total + spent);
            }
        }
        if !benchmarking {
            return;
        }
        let p50 = latency.each_mut().map(|figures| percentile(figures, 50));
        let p99 = latency.each_mut().map(|figures| percentile(figures, 99));
        let rate = rate.map(|mut rates| {
            rates.sort_by(f64::total_cmp);
            rates[rounds / 2]
        });
        let [direct, bare, gateway] = [0, 1, 2];
        println!(
            "gateway vs bare proxy vs direct hyper client, loopback, {rounds} interleaved rounds, 2 worker threads"
        );
        for (name, mode) in [("bare proxy", bare), ("gateway", gateway)] {
            println!(
                "p50 latency: direct {:?}, {name} {:?} (+{:?}, {:.2}x)",
                p50[direct],
                p50[mode],
                p50[mode].saturating_sub(p50[direct]),
                p50[mode].as_secs_f64() / p50[direct].as_secs_f64()
            );
        }
        println!(
            "p99 latency: direct {:?}, bare proxy {:?}, gateway {:?}",
            p99[direct], p99[bare], p99[gateway]
        );
        println!(
            "throughput at 64 concurrent: direct {:.0}/s, bare proxy {:.0}/s ({:.2}x), gateway {:.0}/s ({:.2}x of direct, {:.2}x of the bare proxy)",
            rate[direct],
            rate[bare],
            rate[bare] / rate[direct],
            rate[gateway],
            rate[gateway] / rate[direct],
            rate[gateway] / rate[bare]
        );
        if let [Some(direct_cpu), Some(bare_cpu), Some(gateway_cpu)] = cpu {
            // Client and upstream are the same in each mode: the difference is the proxy's.
            let per_request = |total: Duration| total.as_secs_f64() * 1e6 / (rounds * concurrent) as f64;
            println!(
                "process CPU per request at 64 concurrent: direct {:.1}µs, bare proxy {:.1}µs, gateway {:.1}µs ({:.2}x of the bare proxy's)",
                per_request(direct_cpu),
                per_request(bare_cpu),
                per_request(gateway_cpu),
                gateway_cpu.as_secs_f64() / bare_cpu.as_secs_f64()
            );
        }
    });
}
