//! Issue 10's defects under faults, each a test that failed before its fix: outlier detection
//! that took a service down, ejections that outlasted their configuration, registrations past
//! `max_instances`, panics on configuration values and lease TTLs, hosts that were not hosts,
//! and a `check_all_health` that ran its checks one after another without a timeout.

use std::collections::HashSet;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use resilience_discovery::{
    Balancer, CallOutcome, DiscoveryConfig, DiscoveryError, Endpoint, Instance, InstanceId,
    MemoryRegistry, OutlierConfig, Route, ServiceDiscovery,
};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

fn discovery_with(service: &str, ids: &[&str], outlier: OutlierConfig) -> ServiceDiscovery {
    let discovery = ServiceDiscovery::with_config(DiscoveryConfig {
        outlier,
        ..Default::default()
    });
    for (n, id) in ids.iter().enumerate() {
        discovery
            .register(Instance::new(service, *id, "127.0.0.1", 1000 + n as u16))
            .unwrap();
    }
    discovery
}

fn no_jitter() -> OutlierConfig {
    OutlierConfig {
        jitter_factor: 0.0,
        ..Default::default()
    }
}

fn endpoint(discovery: &ServiceDiscovery, service: &str, id: &str) -> Arc<Endpoint> {
    discovery
        .endpoints(service)
        .into_iter()
        .find(|endpoint| endpoint.instance().id.id == id)
        .unwrap_or_else(|| panic!("{service}/{id} is registered"))
}

/// Reports `times` failed calls that went to `id` (picked by avoiding every other instance).
fn fail(discovery: &ServiceDiscovery, service: &str, id: &str, times: usize) {
    let route = Route::new(service);
    for _ in 0..times {
        let call = discovery
            .pick(&route, |endpoint| endpoint.instance().id.id != id)
            .unwrap();
        assert_eq!(
            call.endpoint().instance().id.id,
            id,
            "the pick lands on {id}"
        );
        discovery.report(call, CallOutcome::Failure);
    }
}

fn set_healthy(discovery: &ServiceDiscovery, service: &str, id: &str, healthy: bool) {
    discovery
        .set_healthy(&InstanceId::new(service, id), healthy)
        .unwrap();
}

/// The ids picked by `picks` round-robin picks.
fn picked(discovery: &ServiceDiscovery, service: &str, picks: usize) -> HashSet<String> {
    let route = Route::new(service).balancer(Balancer::RoundRobin);
    (0..picks)
        .map(|_| {
            let call = discovery.pick(&route, |_| false).unwrap();
            call.endpoint().instance().id.id.clone()
        })
        .collect()
}

// --- Outlier rules that never cause an outage ---------------------------------------------

#[tokio::test(start_paused = true)]
async fn the_last_healthy_instance_is_never_ejected() {
    // `b` is unhealthy: `a` is the only instance that works. Before, the cap (half of the two
    // registered) let its failures eject it, and every call got `NoInstance` for 30 s.
    let discovery = discovery_with("last", &["a", "b"], no_jitter());
    set_healthy(&discovery, "last", "b", false);
    fail(&discovery, "last", "a", 5);
    assert!(!endpoint(&discovery, "last", "a").is_ejected());
    assert_eq!(discovery.discover_one("last").unwrap().id.id, "a");
}

#[tokio::test(start_paused = true)]
async fn the_ejection_cap_is_a_share_of_the_healthy_instances() {
    // Four registered, two healthy: 50 % of the healthy is one ejection, not two.
    let discovery = discovery_with("cap", &["a", "b", "c", "d"], no_jitter());
    set_healthy(&discovery, "cap", "c", false);
    set_healthy(&discovery, "cap", "d", false);
    fail(&discovery, "cap", "a", 5);
    assert!(endpoint(&discovery, "cap", "a").is_ejected());
    fail(&discovery, "cap", "b", 5);
    assert!(
        !endpoint(&discovery, "cap", "b").is_ejected(),
        "a second ejection would leave no healthy instance"
    );
    assert_eq!(
        discovery
            .discover("cap")
            .unwrap()
            .iter()
            .map(|instance| instance.id.id.as_str())
            .collect::<Vec<_>>(),
        ["b"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_single_instance_is_never_ejected() {
    let discovery = discovery_with(
        "single",
        &["a"],
        OutlierConfig {
            max_ejected_percent: 100,
            ..no_jitter()
        },
    );
    fail(&discovery, "single", "a", 20);
    assert!(!endpoint(&discovery, "single", "a").is_ejected());
}

#[tokio::test(start_paused = true)]
async fn with_fewer_than_half_healthy_picks_spread_over_every_instance() {
    // Envoy's panic threshold: one healthy instance of three would take all the traffic.
    let discovery = discovery_with("panic", &["a", "b", "c"], no_jitter());
    set_healthy(&discovery, "panic", "b", false);
    set_healthy(&discovery, "panic", "c", false);
    assert_eq!(picked(&discovery, "panic", 30).len(), 3);
    // `discover` still lists the healthy ones only (contract §5).
    assert_eq!(discovery.discover("panic").unwrap().len(), 1);
    // Half healthy is not below the threshold: back to the healthy ones.
    set_healthy(&discovery, "panic", "b", true);
    assert_eq!(
        picked(&discovery, "panic", 30),
        HashSet::from(["a".to_owned(), "b".to_owned()])
    );
    // None healthy: no panic, the pick is refused (contract §2.6: `NoInstance`).
    for id in ["a", "b"] {
        set_healthy(&discovery, "panic", id, false);
    }
    assert!(matches!(
        discovery.discover_one("panic"),
        Err(DiscoveryError::NoInstance { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn an_ejection_lasts_from_the_ejection_not_from_when_its_timer_task_first_ran() {
    // The runtime is busy for 10 s after the ejection (here: the clock moves before the
    // spawned readmission task is first polled). The ejection still ends 30 s after it began.
    let discovery = discovery_with("deadline", &["a", "b", "c"], no_jitter());
    fail(&discovery, "deadline", "a", 5);
    let ejected_at = Instant::now();
    assert!(endpoint(&discovery, "deadline", "a").is_ejected());
    tokio::time::advance(10 * SECOND).await;
    tokio::time::sleep_until(ejected_at + 30 * SECOND - MS).await;
    assert!(endpoint(&discovery, "deadline", "a").is_ejected());
    tokio::time::sleep_until(ejected_at + 30 * SECOND + MS).await;
    assert!(
        !endpoint(&discovery, "deadline", "a").is_ejected(),
        "readmitted 30 s after the ejection"
    );
}

// --- No panic on configuration values or lease TTLs --------------------------------------

/// Ejects an instance under `outlier` and waits for its readmission (if it ever comes).
async fn eject_under(outlier: OutlierConfig) {
    let discovery = discovery_with("config", &["a", "b", "c"], outlier);
    fail(&discovery, "config", "a", 5);
    tokio::time::sleep(400 * SECOND).await;
    // Whatever the configuration became, the service still answers.
    discovery.discover_one("config").unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_nan_or_negative_or_infinite_jitter_does_not_panic_an_ejection() {
    for jitter_factor in [f64::NAN, -1.0, f64::INFINITY, 1e300] {
        eject_under(OutlierConfig {
            jitter_factor,
            ..Default::default()
        })
        .await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_duration_max_ejection_does_not_panic() {
    eject_under(OutlierConfig {
        base_ejection: Duration::MAX,
        max_ejection: Duration::MAX,
        ..Default::default()
    })
    .await;
    eject_under(OutlierConfig {
        base_ejection: Duration::MAX,
        max_ejection: SECOND,
        decay_interval: Duration::MAX,
        ..Default::default()
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_lease_of_duration_max_does_not_panic_and_never_expires() {
    let discovery = ServiceDiscovery::new();
    let lease = discovery
        .register_with_lease(Instance::new("ttl", "a", "127.0.0.1", 80), Duration::MAX)
        .unwrap();
    discovery.heartbeat(lease).unwrap();
    tokio::time::sleep(Duration::from_secs(86_400 * 365)).await;
    assert_eq!(discovery.discover("ttl").unwrap().len(), 1);
}

// --- Hosts ---------------------------------------------------------------------------------

fn host_error(host: &str) -> Option<DiscoveryError> {
    ServiceDiscovery::new()
        .register(Instance::new("hosts", "a", host, 8080))
        .err()
}

#[test]
fn a_host_with_a_port_or_a_path_or_spaces_is_refused() {
    for host in [
        "127.0.0.1:9000",
        "example.com:80",
        "http://example.com",
        "example.com/x",
        "exa mple.com",
        "-example.com",
        "example-.com",
        "exa..mple.com",
        "[::1",
        "::1]",
        "[127.0.0.1]",
        "1.2.3.4.5:6",
        "user@example.com",
        "fe80::1%eth0",
        &"a".repeat(64),
        &format!("{}.com", "a.".repeat(130)),
    ] {
        match host_error(host) {
            Some(DiscoveryError::InvalidInstance { reason, .. }) => {
                assert!(reason.contains("host"), "{host}: {reason}");
            }
            other => panic!("{host:?} was not refused: {other:?}"),
        }
    }
}

#[test]
fn ip_literals_and_dns_names_are_accepted_and_ipv6_is_bracketed_in_urls() {
    for (host, url) in [
        ("127.0.0.1", "http://127.0.0.1:8080"),
        ("::1", "http://[::1]:8080"),
        ("[::1]", "http://[::1]:8080"),
        ("2001:db8::7", "http://[2001:db8::7]:8080"),
        ("localhost", "http://localhost:8080"),
        (
            "users-1.prod.svc.cluster.local",
            "http://users-1.prod.svc.cluster.local:8080",
        ),
        ("example.com.", "http://example.com.:8080"),
        ("x_y.internal", "http://x_y.internal:8080"),
    ] {
        assert_eq!(host_error(host), None, "{host}");
        assert_eq!(Instance::new("s", "a", host, 8080).base_url(), url);
    }
}

// --- max_instances -------------------------------------------------------------------------

#[test]
fn concurrent_registrations_never_exceed_max_instances() {
    const MAX: usize = 4;
    const THREADS: usize = 8;
    for round in 0..200 {
        let discovery = ServiceDiscovery::with_config(DiscoveryConfig {
            max_instances: MAX,
            ..Default::default()
        });
        let barrier = Arc::new(Barrier::new(THREADS));
        let threads: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (discovery, barrier) = (discovery.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    for n in 0..4 {
                        let id = format!("{thread}-{n}");
                        let _ = discovery.register(Instance::new("max", id, "127.0.0.1", 80));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let count = discovery.endpoints("max").len();
        assert!(
            count <= MAX,
            "round {round}: {count} instances, the maximum is {MAX}"
        );
        assert_eq!(count, MAX, "round {round}: the maximum is reached");
    }
}

#[tokio::test(start_paused = true)]
async fn a_lease_registration_refused_at_max_instances_leaves_no_lease_behind() {
    let registry = MemoryRegistry::new();
    let discovery = ServiceDiscovery::with_registry(
        Arc::clone(&registry),
        DiscoveryConfig {
            max_instances: 1,
            ..Default::default()
        },
    );
    discovery
        .register(Instance::new("full", "a", "127.0.0.1", 80))
        .unwrap();
    let error = discovery
        .register_with_lease(Instance::new("full", "b", "127.0.0.1", 81), SECOND)
        .unwrap_err();
    assert!(matches!(error, DiscoveryError::TooManyInstances { .. }));
    assert!(
        format!("{registry:?}").contains("leases: 0"),
        "{registry:?}"
    );
}

// --- check_all_health ----------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn check_all_health_runs_checks_concurrently_each_bounded_by_the_timeout() {
    let discovery = ServiceDiscovery::with_config(DiscoveryConfig {
        health_check_timeout: 200 * MS,
        ..Default::default()
    });
    for (n, id) in ["slow-1", "slow-2", "slow-3", "hangs", "fast"]
        .iter()
        .enumerate()
    {
        discovery
            .register(Instance::new("checks", *id, "127.0.0.1", 1000 + n as u16))
            .unwrap();
    }
    let started = Instant::now();
    let pass = discovery.check_all_health(|instance| async move {
        match instance.id.id.as_str() {
            "fast" => true,
            "hangs" => std::future::pending().await,
            _ => {
                tokio::time::sleep(SECOND).await;
                true
            }
        }
    });
    tokio::time::timeout(10 * SECOND, pass)
        .await
        .expect("a check that hangs does not stall the pass")
        .unwrap();
    let took = started.elapsed();
    assert!(
        took <= 200 * MS + MS,
        "one timeout, not one per check: {took:?}"
    );
    for id in ["slow-1", "slow-2", "slow-3", "hangs"] {
        assert!(
            !endpoint(&discovery, "checks", id).is_healthy(),
            "{id}: a timeout is a failed check"
        );
    }
    assert!(endpoint(&discovery, "checks", "fast").is_healthy());
}

#[tokio::test(start_paused = true)]
async fn check_all_health_checks_many_instances_with_bounded_concurrency() {
    let discovery = ServiceDiscovery::new();
    for n in 0..500u16 {
        discovery
            .register(Instance::new("many", format!("{n}"), "127.0.0.1", 1000 + n))
            .unwrap();
    }
    let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    discovery
        .check_all_health(|instance| {
            let (running, most) = (Arc::clone(&running), Arc::clone(&most));
            async move {
                use std::sync::atomic::Ordering::SeqCst;
                let now = running.fetch_add(1, SeqCst) + 1;
                most.fetch_max(now, SeqCst);
                tokio::time::sleep(100 * MS).await;
                running.fetch_sub(1, SeqCst);
                instance.port % 2 == 0
            }
        })
        .await
        .unwrap();
    let most = most.load(std::sync::atomic::Ordering::SeqCst);
    assert!((2..=64).contains(&most), "{most} checks at once");
    assert!(started.elapsed() < 5 * SECOND, "{:?}", started.elapsed());
    let healthy = discovery.discover("many").unwrap();
    assert_eq!(healthy.len(), 250);
    assert!(healthy.iter().all(|instance| instance.port % 2 == 0));
}

// --- New instances are not starved ---------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_new_instance_gets_traffic_next_to_instances_with_a_low_latency_estimate() {
    // `a` and `b` answer in 5 ms. A new instance used to start at the 30 ms seed estimate, so
    // P2C passed it over for either of them on every pick: no traffic until they slowed down.
    let discovery = discovery_with("fresh", &["a", "b"], no_jitter());
    let route = Route::new("fresh");
    for _ in 0..5 {
        // A faster sample decays in over seconds (peak-EWMA's 10 s).
        tokio::time::advance(20 * SECOND).await;
        for id in ["a", "b"] {
            let call = discovery
                .pick(&route, |endpoint| endpoint.instance().id.id != id)
                .unwrap();
            tokio::time::advance(5 * MS).await;
            discovery.report(call, CallOutcome::Success);
        }
    }
    discovery
        .register(Instance::new("fresh", "c", "127.0.0.1", 2000))
        .unwrap();
    let estimate = endpoint(&discovery, "fresh", "c").latency_estimate();
    assert!(
        estimate <= 6 * MS,
        "the new instance starts at the service's mean, not at 30 ms: {estimate:?}"
    );
    let picks = (0..300)
        .filter(|_| {
            let call = discovery.pick(&route, |_| false).unwrap();
            call.endpoint().instance().id.id == "c"
        })
        .count();
    assert!(
        (50..=200).contains(&picks),
        "the new instance got {picks} of 300 picks"
    );
}
