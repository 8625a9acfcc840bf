//! Discovery beyond one process: three instances of a small HTTP service, each a separate
//! process that registers itself in etcd, and a client process that balances across them while
//! one instance is killed (`kill -9`) and restarted, and then etcd itself is killed and
//! restarted. Every second it prints each instance's share of the traffic and the client's
//! success rate (the goal is 100 %: a failed attempt is retried once on another instance, and
//! while etcd is down the client keeps calling the instances of its last snapshot).
//!
//! Run with `cargo run --example etcd_cluster --features etcd` (about 25 seconds). It starts a
//! throw-away etcd on free ports (Debian: `apt-get install etcd-server`).

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use resilience::discovery::ServiceClient;
use resilience::{Balancer, CallOutcome, EtcdOptions, Instance, Route, ServiceDiscovery};
use tokio::time::Instant;

type Error = Box<dyn std::error::Error + Send + Sync>;

const SERVICE: &str = "hello";
const TTL: Duration = Duration::from_secs(3);

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `example instance <id> <port> <etcd>`: serve `GET /` and stay registered until killed.
async fn instance(id: String, port: u16, endpoint: String) -> Result<(), Error> {
    let answer = format!("hello from {id}");
    let app = axum::Router::new().route("/", axum::routing::get(move || async move { answer }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let discovery =
        ServiceDiscovery::connect_etcd(EtcdOptions::new([endpoint]).lease_ttl(TTL)).await?;
    discovery.register(Instance::new(SERVICE, id, "127.0.0.1", port))?;
    axum::serve(listener, app).await?;
    Ok(())
}

/// A throw-away etcd on free ports, restartable on the same ports and data.
struct Etcd {
    child: Option<Child>,
    args: Vec<String>,
    dir: std::path::PathBuf,
    endpoint: String,
}

impl Etcd {
    fn start() -> Result<Etcd, Error> {
        let (client, peer) = (free_port()?, free_port()?);
        let dir = std::env::temp_dir().join(format!("etcd-cluster-example-{}", std::process::id()));
        let endpoint = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let args = vec![
            "--data-dir".into(),
            dir.join("data").display().to_string(),
            "--listen-client-urls".into(),
            endpoint.clone(),
            "--advertise-client-urls".into(),
            endpoint.clone(),
            "--listen-peer-urls".into(),
            peer_url.clone(),
            "--initial-advertise-peer-urls".into(),
            peer_url.clone(),
            "--initial-cluster".into(),
            format!("default={peer_url}"),
        ];
        let mut etcd = Etcd {
            child: None,
            args,
            dir,
            endpoint,
        };
        etcd.spawn()?;
        Ok(etcd)
    }

    fn spawn(&mut self) -> Result<(), Error> {
        let child = Command::new("etcd")
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("cannot start etcd (apt-get install etcd-server): {error}"))?;
        self.child = Some(child);
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spawn_instance(id: &str, port: u16, endpoint: &str) -> Result<Child, Error> {
    Ok(Command::new(std::env::current_exe()?)
        .args(["instance", id, &port.to_string(), endpoint])
        .spawn()?)
}

/// One call: pick, send, report; on failure, once more on another instance.
async fn call(discovery: &ServiceDiscovery, route: &Route) -> Option<String> {
    let mut failed: Option<String> = None;
    for _ in 0..2 {
        let avoid = failed.clone();
        let Ok(call) = discovery.pick(route, |e| Some(&e.instance().id.id) == avoid.as_ref())
        else {
            continue;
        };
        let id = call.endpoint().instance().id.id.clone();
        let Ok(client) = ServiceClient::new(Arc::clone(call.endpoint())) else {
            continue;
        };
        let sent = tokio::time::timeout(Duration::from_millis(500), async {
            client
                .get("/")
                .send()
                .await?
                .error_for_status()?
                .text()
                .await
        })
        .await;
        if let Ok(Ok(_)) = sent {
            discovery.report(call, CallOutcome::Success);
            return Some(id);
        }
        discovery.report(call, CallOutcome::Failure);
        failed = Some(id);
    }
    None
}

async fn client() -> Result<(), Error> {
    let mut etcd = Etcd::start()?;
    let endpoint = etcd.endpoint.clone();
    // Wait until etcd answers (connect_etcd checks it).
    let deadline = Instant::now() + Duration::from_secs(20);
    let discovery = loop {
        match ServiceDiscovery::connect_etcd(EtcdOptions::new([endpoint.clone()]).lease_ttl(TTL))
            .await
        {
            Ok(discovery) => break discovery,
            Err(error) if Instant::now() > deadline => return Err(error.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let ports = [free_port()?, free_port()?, free_port()?];
    let mut children: Vec<Child> = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        children.push(spawn_instance(&format!("i{}", i + 1), *port, &endpoint)?);
    }
    // Round robin, so that each instance's share shows membership: a fair third each.
    let route = Route::new(SERVICE).balancer(Balancer::RoundRobin);
    let started = Instant::now();
    let (mut ok, mut calls) = (0u64, 0u64);
    let mut shares: BTreeMap<String, u64> = BTreeMap::new();
    let mut second = 0;
    println!("second  calls  success  stale  known  share per instance");
    while second < 25 {
        if started.elapsed() >= Duration::from_secs(second + 1) {
            second += 1;
            let events = match second {
                5 => {
                    let _ = children[1].kill();
                    let _ = children[1].wait();
                    "  <- i2 killed (-9)"
                }
                9 => {
                    children[1] = spawn_instance("i2", ports[1], &endpoint)?;
                    "  <- i2 restarted"
                }
                13 => {
                    etcd.kill();
                    "  <- etcd killed (-9)"
                }
                18 => {
                    etcd.spawn()?;
                    "  <- etcd restarted"
                }
                _ => "",
            };
            let share: Vec<String> = shares
                .iter()
                .map(|(id, n)| format!("{id} {:>3.0} %", *n as f64 * 100.0 / calls.max(1) as f64))
                .collect();
            println!(
                "{second:>6}  {calls:>5}  {:>6.2} %  {:>5}  {:>5}  {}{events}",
                ok as f64 * 100.0 / calls.max(1) as f64,
                discovery.is_stale(),
                discovery.endpoints(SERVICE).len(),
                share.join("  "),
            );
            (ok, calls) = (0, 0);
            shares.clear();
        }
        if discovery.discover(SERVICE)?.is_empty() {
            // Not registered yet (start-up): not a failed call.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        calls += 1;
        if let Some(id) = call(&discovery, &route).await {
            ok += 1;
            *shares.entry(id).or_default() += 1;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("instance") if args.len() == 5 => {
            instance(args[2].clone(), args[3].parse()?, args[4].clone()).await
        }
        _ => client().await,
    }
}
