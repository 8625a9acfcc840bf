//! The API gateway as a program.
//!
//! ```text
//! GATEWAY_ROUTES=routes.toml      # the routes file (watched; see `resilience_gateway::config`)
//! GATEWAY_KEYS="web=s3cret"       # API keys, or GATEWAY_KEYS_FILE=keys.txt
//! GATEWAY_POLICIES=policies.toml  # optional: policy overrides (contract §7), watched
//! GATEWAY_LISTEN=127.0.0.1:8080
//! cargo run -p resilience-gateway --example gateway
//! ```
//!
//! Without `GATEWAY_ROUTES` it runs a demonstration: three local instances of a service `users`
//! (one healthy, one failing with 500s, one answering after 5 s), registered in a memory
//! discovery, behind a route `/users` that needs the key `demo=demo-key`. Try
//! `curl -H 'x-api-key: demo-key' http://127.0.0.1:8080/users/7` (always answered by the healthy
//! instance), `curl http://127.0.0.1:8080/health` and `curl http://127.0.0.1:8080/metrics`
//! (Prometheus text). Ctrl-C drains the requests in flight and stops.

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::any;
use resilience::{Instance, ServiceDiscovery};
use resilience_gateway::{ApiKeys, Gateway};
use tokio::net::TcpListener;

const DEMO_ROUTES: &str = r#"
[upstream]
timeout = "500ms"
max_retries = 2

[[route]]
prefix = "/users"
service = "users"
version = "^1"
keys = ["demo"]
"#;

async fn demo_instance(
    discovery: &ServiceDiscovery,
    id: &str,
    status: StatusCode,
    delay: Duration,
) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let port = listener.local_addr().expect("a bound address").port();
    let name = id.to_owned();
    let app = Router::new().fallback(any(move || {
        let name = name.clone();
        async move {
            tokio::time::sleep(delay).await;
            (status, format!("answered by {name}\n"))
        }
    }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    if let Err(error) = discovery
        .register(Instance::new("users", id, "127.0.0.1", port).with_metadata("version", "1.0.0"))
    {
        eprintln!("cannot register {id}: {error}");
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_target(false).init();
    if let Err(error) = run().await {
        eprintln!("gateway: {error}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let discovery = ServiceDiscovery::new();
    let listen = std::env::var("GATEWAY_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    let keys = match std::env::var_os("GATEWAY_KEYS_FILE") {
        Some(path) => ApiKeys::from_file(path)?,
        None => ApiKeys::from_env("GATEWAY_KEYS")?,
    };
    // Policy overrides for the gateway's breakers and bulkheads (`gateway.<service>`).
    let _policies = match std::env::var_os("GATEWAY_POLICIES") {
        Some(path) => Some(resilience::config::watch(path, "GATEWAY")?),
        None => None,
    };
    let (gateway, _watcher) = match std::env::var_os("GATEWAY_ROUTES") {
        Some(path) => {
            let gateway = Gateway::new(discovery, keys, "")?;
            let watcher = gateway.watch_routes(path)?;
            (gateway, Some(watcher))
        }
        None => {
            demo_instance(
                &discovery,
                "healthy",
                StatusCode::OK,
                Duration::from_millis(2),
            )
            .await;
            demo_instance(
                &discovery,
                "failing",
                StatusCode::INTERNAL_SERVER_ERROR,
                Duration::ZERO,
            )
            .await;
            demo_instance(&discovery, "slow", StatusCode::OK, Duration::from_secs(5)).await;
            let keys = ApiKeys::parse("demo=demo-key")?;
            (Gateway::new(discovery, keys, DEMO_ROUTES)?, None)
        }
    };
    let listener = TcpListener::bind(&listen).await?;
    println!(
        "gateway on http://{}, routes {:?}",
        listener.local_addr()?,
        gateway.routes()
    );
    gateway
        .serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
            println!("shutting down: draining the requests in flight");
        })
        .await?;
    Ok(())
}
