//! Operating a service that uses the attributes: an axum service whose outgoing calls go through
//! `#[retry]`, `#[circuit_breaker]`, `#[timeout]` and `#[bulkhead]`, with
//!
//! - `GET /health`: `resilience::registry().snapshot()` as JSON;
//! - `GET /metrics`: Prometheus text (`metrics-exporter-prometheus`'s recorder);
//! - a `resilience.toml` hot-reloaded through `resilience::config::watch`;
//! - admin actions (`POST /admin/circuit-breakers/{name}/reset`, `…/force-open`) on a listener
//!   of their own, on 127.0.0.1 only, behind `Authorization: Bearer $RESILIENCE_ADMIN_TOKEN`;
//!   without that variable the admin listener is not started at all.
//!
//! `cargo run --example operations` runs a demo that edits the file while the service runs,
//! prints the effects and exits; `RESILIENCE_DEMO=0` keeps serving until Ctrl-C. Settings (all
//! optional): `RESILIENCE_EXAMPLE_ADDR` (default `127.0.0.1:0`), `RESILIENCE_ADMIN_ADDR`
//! (loopback only, default `127.0.0.1:0`), `RESILIENCE_ADMIN_TOKEN` (16 or more visible ASCII
//! characters), and the overrides' own `RESILIENCE__<KIND>__<NAME>__<KEY>` variables.

mod admin;
mod demo;
mod overrides_file;
mod service;
mod settings;

use std::process::ExitCode;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use resilience::registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::overrides_file::{INITIAL, OverridesFile};
use crate::service::{AppState, Upstream, UpstreamMode, public_router, spawn_server};
use crate::settings::Settings;

type Error = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().with_target(false).init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn bind(addr: std::net::SocketAddr, what: &str) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| format!("cannot listen on {addr} for {what}: {error}").into())
}

async fn run() -> Result<(), Error> {
    let settings = Settings::from_env()?;
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|error| format!("cannot install the Prometheus recorder: {error}"))?;
    let (stop, stopped) = watch::channel(false);

    let upstream = Upstream::start(UpstreamMode::Flaky, stopped.clone()).await?;
    let file = OverridesFile::create(INITIAL)?;
    // The first load is done when `watch` returns (its error, if any, is returned); the demo
    // listens for the reloads after it.
    let _watch = resilience::config::watch(file.path(), "RESILIENCE")?;
    let events = registry().subscribe();

    let listener = bind(settings.http_addr, "the service").await?;
    let service = listener.local_addr()?;
    let mut servers = vec![spawn_server(
        listener,
        public_router(AppState::new(upstream.addr(), metrics)?),
        stopped.clone(),
    )];
    println!("service   http://{service}  (GET /quote, /health, /metrics)");
    println!("upstream  http://{}/quote  (local, flaky)", upstream.addr());
    println!(
        "overrides {}  (hot-reloaded; RESILIENCE__<KIND>__<NAME>__<KEY> variables win over it)",
        file.path().display()
    );

    let admin = match &settings.admin {
        Some(admin) => {
            let listener = bind(admin.addr, "the admin actions").await?;
            let addr = listener.local_addr()?;
            servers.push(spawn_server(
                listener,
                admin::router(admin.token.clone()),
                stopped.clone(),
            ));
            println!(
                "admin     http://{addr}  (POST /admin/circuit-breakers/{{name}}/reset|force-open, \
                 Authorization: Bearer $RESILIENCE_ADMIN_TOKEN)"
            );
            Some((addr, &admin.token))
        }
        None => {
            println!("admin     not started: RESILIENCE_ADMIN_TOKEN is not set");
            None
        }
    };

    let outcome = if settings.demo {
        demo::run(demo::Running {
            service,
            admin,
            upstream: &upstream,
            file: &file,
            events,
        })
        .await
    } else {
        tokio::signal::ctrl_c().await.map_err(Into::into)
    };

    let _ = stop.send(true);
    for server in servers {
        match tokio::time::timeout(Duration::from_secs(5), server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => eprintln!("a listener failed: {error}"),
            Ok(Err(error)) => eprintln!("a listener's task failed: {error}"),
            Err(_) => eprintln!("a listener still had open connections after 5 s"),
        }
    }
    outcome
}
