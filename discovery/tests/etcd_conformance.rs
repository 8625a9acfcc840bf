//! One conformance suite, two backends: each check runs over two discoveries sharing the
//! in-memory registry (like processes sharing a cluster) and over two discoveries connected to
//! a real etcd (`support::Etcd`; skipped with a notice when etcd is not installed, never under
//! `scripts/test`). Real clocks on both sides: etcd's leases cannot be paused.

mod support;

use std::future::Future;
use std::time::Duration;

use resilience_discovery::{
    DiscoveryConfig, DiscoveryError, EtcdOptions, Instance, InstanceId, MemoryRegistry, Route,
    ServiceDiscovery,
};
use support::{Etcd, eventually};

const VISIBLE: Duration = Duration::from_secs(2);

fn ids(discovery: &ServiceDiscovery, service: &str) -> Vec<String> {
    let mut ids: Vec<String> = discovery
        .discover(service)
        .unwrap()
        .into_iter()
        .map(|instance| instance.id.id)
        .collect();
    ids.sort();
    ids
}

/// Runs `check` on two discoveries over one in-memory registry.
async fn on_memory<F, Fut>(config: DiscoveryConfig, check: F)
where
    F: FnOnce(ServiceDiscovery, ServiceDiscovery) -> Fut,
    Fut: Future<Output = ()>,
{
    let registry = MemoryRegistry::new();
    let a = ServiceDiscovery::with_registry(registry.clone(), config.clone());
    let b = ServiceDiscovery::with_registry(registry, config);
    check(a, b).await;
}

/// Runs `check` on two discoveries connected to a fresh etcd.
async fn on_etcd<F, Fut>(test: &str, config: DiscoveryConfig, check: F)
where
    F: FnOnce(ServiceDiscovery, ServiceDiscovery) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(etcd) = Etcd::start(test) else {
        return;
    };
    let options = || {
        EtcdOptions::new([etcd.endpoint()])
            .lease_ttl(Duration::from_secs(5))
            .config(config.clone())
    };
    let a = ServiceDiscovery::connect_etcd(options()).await.unwrap();
    let b = ServiceDiscovery::connect_etcd(options()).await.unwrap();
    check(a, b).await;
    drop(etcd);
}

macro_rules! conformance {
    ($check:ident, $config:expr) => {
        mod $check {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                on_memory($config, super::$check).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn etcd() {
                on_etcd(stringify!($check), $config, super::$check).await;
            }
        }
    };
}

async fn registered_instances_are_visible_everywhere_until_deregistered(
    a: ServiceDiscovery,
    b: ServiceDiscovery,
) {
    a.register(Instance::new("users", "u1", "10.0.0.1", 80))
        .unwrap();
    b.register(Instance::new("users", "u2", "10.0.0.2", 80))
        .unwrap();
    assert!(
        ids(&a, "users").contains(&"u1".to_owned()),
        "own registrations show at once"
    );
    assert!(eventually(VISIBLE, || ids(&a, "users") == ["u1", "u2"]).await);
    assert!(eventually(VISIBLE, || ids(&b, "users") == ["u1", "u2"]).await);
    a.deregister(&InstanceId::new("users", "u1")).unwrap();
    assert_eq!(
        ids(&a, "users"),
        ["u2"],
        "a deregistered instance vanishes at once"
    );
    assert!(eventually(VISIBLE, || ids(&b, "users") == ["u2"]).await);
    let unknown = a
        .deregister(&InstanceId::new("users", "nobody"))
        .unwrap_err();
    assert!(
        matches!(unknown, DiscoveryError::UnknownInstance { .. }),
        "{unknown}"
    );
}
conformance!(
    registered_instances_are_visible_everywhere_until_deregistered,
    DiscoveryConfig::default()
);

async fn an_instance_whose_lease_is_not_renewed_expires(a: ServiceDiscovery, b: ServiceDiscovery) {
    let ttl = Duration::from_secs(2);
    let lease = a
        .register_with_lease(Instance::new("users", "leased", "10.0.0.1", 80), ttl)
        .unwrap();
    assert!(eventually(VISIBLE, || ids(&b, "users") == ["leased"]).await);
    // Renewed for two TTLs: still there.
    for _ in 0..6 {
        tokio::time::sleep(ttl / 3).await;
        a.heartbeat(lease).unwrap();
    }
    assert_eq!(ids(&b, "users"), ["leased"]);
    // Then no more heartbeats: gone within TTL + 1 s, here and there.
    assert!(eventually(ttl + Duration::from_secs(1), || ids(&b, "users").is_empty()).await);
    assert!(eventually(VISIBLE, || ids(&a, "users").is_empty()).await);
}
conformance!(
    an_instance_whose_lease_is_not_renewed_expires,
    DiscoveryConfig::default()
);

async fn a_version_route_picks_only_matching_instances(a: ServiceDiscovery, b: ServiceDiscovery) {
    a.register(Instance::new("users", "v1", "10.0.0.1", 80).with_metadata("version", "1.4.0"))
        .unwrap();
    a.register(Instance::new("users", "v2", "10.0.0.2", 80).with_metadata("version", "2.1.0"))
        .unwrap();
    assert!(eventually(VISIBLE, || ids(&b, "users") == ["v1", "v2"]).await);
    let route = Route::new("users").version("^2").unwrap();
    for _ in 0..20 {
        let call = b.pick(&route, |_| false).unwrap();
        assert_eq!(call.endpoint().instance().id.id, "v2");
    }
}
conformance!(
    a_version_route_picks_only_matching_instances,
    DiscoveryConfig::default()
);

async fn registrations_beyond_max_instances_are_refused(a: ServiceDiscovery, b: ServiceDiscovery) {
    a.register(Instance::new("users", "u1", "10.0.0.1", 80))
        .unwrap();
    a.register(Instance::new("users", "u2", "10.0.0.2", 80))
        .unwrap();
    let refused = a
        .register(Instance::new("users", "u3", "10.0.0.3", 80))
        .unwrap_err();
    assert!(
        matches!(refused, DiscoveryError::TooManyInstances { max: 2, .. }),
        "{refused}"
    );
    // Replacing one is not one more.
    a.register(Instance::new("users", "u2", "10.0.0.2", 81))
        .unwrap();
    assert!(eventually(VISIBLE, || ids(&b, "users") == ["u1", "u2"]).await);
    let refused = b
        .register(Instance::new("users", "u4", "10.0.0.4", 80))
        .unwrap_err();
    assert!(
        matches!(refused, DiscoveryError::TooManyInstances { .. }),
        "{refused}"
    );
}
conformance!(
    registrations_beyond_max_instances_are_refused,
    DiscoveryConfig {
        max_instances: 2,
        ..DiscoveryConfig::default()
    }
);

async fn health_is_local_to_each_discovery(a: ServiceDiscovery, b: ServiceDiscovery) {
    a.register(Instance::new("users", "u1", "10.0.0.1", 80))
        .unwrap();
    a.register(Instance::new("users", "u2", "10.0.0.2", 80))
        .unwrap();
    assert!(eventually(VISIBLE, || ids(&b, "users") == ["u1", "u2"]).await);
    b.set_healthy(&InstanceId::new("users", "u1"), false)
        .unwrap();
    assert_eq!(ids(&b, "users"), ["u2"]);
    for _ in 0..10 {
        assert_eq!(b.discover_one("users").unwrap().id.id, "u2");
    }
    // Never written back to the registry: the other discovery still uses it.
    assert_eq!(ids(&a, "users"), ["u1", "u2"]);
}
conformance!(
    health_is_local_to_each_discovery,
    DiscoveryConfig::default()
);
