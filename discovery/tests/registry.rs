//! The in-memory registry through `ServiceDiscovery`: registration, leases, routing basics.

use std::time::Duration;

use resilience_discovery::{
    Balancer, DiscoveryConfig, DiscoveryError, Instance, InstanceId, Route, ServiceDiscovery,
};

fn instance(id: &str, port: u16) -> Instance {
    Instance::new("users", id, "127.0.0.1", port)
}

#[tokio::test(start_paused = true)]
async fn registered_instances_are_discovered_and_deregistered_ones_vanish() {
    let discovery = ServiceDiscovery::new();
    discovery.register(instance("a", 1001)).unwrap();
    discovery.register(instance("b", 1002)).unwrap();
    let mut ids: Vec<String> = discovery
        .discover("users")
        .unwrap()
        .into_iter()
        .map(|i| i.id.id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["a", "b"]);
    discovery
        .deregister(&InstanceId::new("users", "a"))
        .unwrap();
    assert_eq!(discovery.discover("users").unwrap().len(), 1);
    assert_eq!(
        discovery.deregister(&InstanceId::new("users", "a")),
        Err(DiscoveryError::UnknownInstance {
            id: InstanceId::new("users", "a")
        })
    );
}

#[tokio::test(start_paused = true)]
async fn an_instance_whose_lease_is_not_renewed_expires() {
    let discovery = ServiceDiscovery::new();
    let lease = discovery
        .register_with_lease(instance("a", 1001), Duration::from_secs(3))
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    discovery.heartbeat(lease).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        discovery.discover("users").unwrap().len(),
        1,
        "renewed at 2 s"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        discovery.discover("users").unwrap().is_empty(),
        "expired at 5 s"
    );
    assert!(matches!(
        discovery.heartbeat(lease),
        Err(DiscoveryError::UnknownLease { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn malformed_registrations_are_refused_without_disturbing_the_rest() {
    let discovery = ServiceDiscovery::with_config(DiscoveryConfig {
        max_instances: 2,
        ..Default::default()
    });
    discovery.register(instance("a", 1001)).unwrap();
    for bad in [
        instance("b", 1002).with_metadata("weight", "x"),
        instance("b", 1002).with_metadata("version", "two"),
        instance("b", 0),
    ] {
        assert!(matches!(
            discovery.register(bad),
            Err(DiscoveryError::InvalidInstance { .. })
        ));
    }
    discovery.register(instance("b", 1002)).unwrap();
    assert!(matches!(
        discovery.register(instance("c", 1003)),
        Err(DiscoveryError::TooManyInstances { max: 2, .. })
    ));
    discovery
        .register(instance("a", 2001))
        .expect("a duplicate id replaces, within max_instances");
    let ports: Vec<u16> = discovery
        .discover("users")
        .unwrap()
        .iter()
        .map(|i| i.port)
        .collect();
    assert_eq!(ports, [2001, 1002]);
}

#[tokio::test(start_paused = true)]
async fn round_robin_takes_each_instance_in_turn() {
    let discovery = ServiceDiscovery::new();
    for (id, port) in [("a", 1), ("b", 2), ("c", 3)] {
        discovery.register(instance(id, port)).unwrap();
    }
    let route = Route::new("users").balancer(Balancer::RoundRobin);
    let ports: Vec<u16> = (0..6)
        .map(|_| {
            discovery
                .pick(&route, |_| false)
                .unwrap()
                .endpoint()
                .instance()
                .port
        })
        .collect();
    assert_eq!(ports, [1, 2, 3, 1, 2, 3]);
}

#[tokio::test(start_paused = true)]
async fn no_eligible_instance_is_an_error_naming_the_service() {
    let discovery = ServiceDiscovery::new();
    assert_eq!(
        discovery.discover_one("nobody"),
        Err(DiscoveryError::NoInstance {
            service: "nobody".into()
        })
    );
}

#[tokio::test(start_paused = true)]
async fn a_discovery_over_a_populated_registry_sees_every_service_and_skips_malformed_entries() {
    use resilience_discovery::{MemoryRegistry, RegistryBackend};

    // Another process filled the registry first: two services, and one entry with a weight
    // no discovery would accept, written straight to the registry.
    let registry = MemoryRegistry::new();
    for id in ["c", "a", "b"] {
        registry.put(instance(id, 1001), None).unwrap();
    }
    registry
        .put(Instance::new("orders", "x", "127.0.0.1", 2001), None)
        .unwrap();
    registry
        .put(
            Instance::new("orders", "bad", "127.0.0.1", 2002).with_metadata("weight", "0"),
            None,
        )
        .unwrap();

    let discovery = ServiceDiscovery::with_registry(registry, DiscoveryConfig::default());
    let ids = |service: &str| -> Vec<String> {
        let mut ids: Vec<String> = discovery
            .discover(service)
            .unwrap()
            .into_iter()
            .map(|i| i.id.id)
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids("users"), ["a", "b", "c"]);
    assert_eq!(
        ids("orders"),
        ["x"],
        "the malformed entry is skipped, the rest served"
    );
    // And it follows later changes as before.
    discovery.register(instance("d", 1004)).unwrap();
    assert_eq!(ids("users"), ["a", "b", "c", "d"]);
}
