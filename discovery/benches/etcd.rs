//! The etcd backend over a local etcd (started like the tests do, `tests/support`):
//!
//! - register in one discovery → visible in another (the other's watch applied it to its
//!   snapshot), p50/p99/max over 1,000 registrations;
//! - a pick (`discover_one`) with the etcd backend against the in-memory one, and with etcd
//!   killed: reads serve the local snapshot and never touch etcd.
//!
//! `cargo bench -p resilience-discovery --features etcd --bench etcd`. It measures and prints;
//! it asserts nothing.

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use resilience_discovery::{Change, EtcdOptions, Instance, ServiceDiscovery};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// Mean cost of one `discover_one` over a service of 10 instances.
fn pick_cost(discovery: &ServiceDiscovery) -> Duration {
    const PICKS: u32 = 200_000;
    let started = Instant::now();
    for _ in 0..PICKS {
        black_box(discovery.discover_one(black_box("picked")).unwrap());
    }
    started.elapsed() / PICKS
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let Some(mut etcd) = support::Etcd::start("bench etcd") else {
            return;
        };
        let options = || EtcdOptions::new([etcd.endpoint()]).lease_ttl(Duration::from_secs(15));
        let a = ServiceDiscovery::connect_etcd(options()).await.unwrap();
        let b = ServiceDiscovery::connect_etcd(options()).await.unwrap();

        const REGISTRATIONS: usize = 1_000;
        let (_, mut changes) = b.watch();
        let mut latencies = Vec::with_capacity(REGISTRATIONS);
        for i in 0..REGISTRATIONS {
            let instance = Instance::new("bench", format!("i{i}"), "10.0.0.1", 80);
            let id = instance.id.clone();
            let started = Instant::now();
            a.register(instance).unwrap();
            // b's snapshot is updated before its watchers are told.
            loop {
                let event = changes.recv().await.unwrap();
                if matches!(&event.change, Change::Put(put) if put.id == id) {
                    break;
                }
            }
            latencies.push(started.elapsed());
        }
        latencies.sort();
        println!(
            "register -> visible in another discovery over local etcd ({REGISTRATIONS}): \
             p50 {:?}, p99 {:?}, max {:?}",
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies[latencies.len() - 1]
        );

        let memory = ServiceDiscovery::new();
        for i in 0..10 {
            let instance = Instance::new("picked", format!("p{i}"), "10.0.0.1", 80);
            memory.register(instance.clone()).unwrap();
            a.register(instance).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while b.discover("picked").unwrap().len() < 10 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Interleaved rounds, the same process: memory, etcd, memory, etcd...
        let mut rounds = Vec::new();
        for _ in 0..3 {
            rounds.push((pick_cost(&memory), pick_cost(&b)));
        }
        etcd.kill();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !b.is_stale() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let down = pick_cost(&b);
        for (memory, etcd) in &rounds {
            println!("discover_one, 10 instances: memory {memory:?}, etcd backend {etcd:?}");
        }
        println!(
            "discover_one, 10 instances, etcd killed (stale: {}): {down:?}",
            b.is_stale()
        );
    });
}
