//! The backend seam: `ServiceDiscovery::with_backend` over a backend of the user's own, which
//! implements only the required methods (here by delegating to a shared in-memory registry):
//! the default `listen` keeps the discovery's snapshot in step from the backend's watch.

use std::sync::Arc;
use std::time::Duration;

use resilience_discovery::{
    DiscoveryError, Instance, InstanceId, LeaseId, MemoryRegistry, RegistryBackend, Revision,
    ServiceDiscovery, Snapshot, WatchEvent,
};

struct Delegating(Arc<MemoryRegistry>);

impl RegistryBackend for Delegating {
    fn grant(&self, ttl: Duration) -> Result<LeaseId, DiscoveryError> {
        self.0.grant(ttl)
    }
    fn keep_alive(&self, lease: LeaseId) -> Result<(), DiscoveryError> {
        self.0.keep_alive(lease)
    }
    fn revoke(&self, lease: LeaseId) -> Result<(), DiscoveryError> {
        self.0.revoke(lease)
    }
    fn put(&self, instance: Instance, lease: Option<LeaseId>) -> Result<Revision, DiscoveryError> {
        self.0.put(instance, lease)
    }
    fn delete(&self, id: &InstanceId) -> Result<Revision, DiscoveryError> {
        self.0.delete(id)
    }
    fn watch(&self) -> (Snapshot, tokio::sync::broadcast::Receiver<WatchEvent>) {
        self.0.watch()
    }
}

async fn until(mut condition: impl FnMut() -> bool) {
    tokio::time::timeout(Duration::from_secs(2), async {
        while !condition() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the condition held within 2 s");
}

#[tokio::test]
async fn a_backend_of_ones_own_feeds_the_same_snapshot_through_the_default_listen() {
    let registry = MemoryRegistry::new();
    registry
        .put(Instance::new("users", "before", "10.0.0.1", 80), None)
        .unwrap();
    let discovery = ServiceDiscovery::with_backend(Delegating(Arc::clone(&registry)));
    // What was there is loaded at once.
    assert_eq!(discovery.discover("users").unwrap().len(), 1);
    assert!(!discovery.is_stale());

    discovery
        .register(Instance::new("users", "after", "10.0.0.2", 80))
        .unwrap();
    registry
        .put(Instance::new("users", "elsewhere", "10.0.0.3", 80), None)
        .unwrap();
    until(|| discovery.discover("users").unwrap().len() == 3).await;
    discovery
        .deregister(&InstanceId::new("users", "before"))
        .unwrap();
    until(|| discovery.discover("users").unwrap().len() == 2).await;
    assert!(discovery.discover_one("users").is_ok());
}
