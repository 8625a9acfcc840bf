//! [`ServiceDiscovery`]: the seed-compatible API over a registry backend, serving reads from a
//! local snapshot (no lock, no I/O) and feeding call outcomes to passive health.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::catalog::{Catalog, Service};
use crate::config::{DiscoveryConfig, OutlierConfig};
use crate::endpoint::{Endpoint, InFlight};
use crate::error::DiscoveryError;
use crate::id::InstanceId;
use crate::instance::Instance;
use crate::outlier::{self, CallOutcome};
use crate::route::Route;
use crate::store::{
    Change, LeaseId, Listener, MemoryRegistry, RegistryBackend, Snapshot, WatchEvent,
};
use crate::sync::AtomicU32;

/// Service discovery: a registry of instances, their health, and load-balanced picks
/// (contract §5). Cloning gives another handle to the same discovery.
#[derive(Debug, Clone)]
pub struct ServiceDiscovery {
    inner: Arc<Inner>,
}

struct Inner {
    config: DiscoveryConfig,
    env: Option<String>,
    backend: Arc<dyn RegistryBackend>,
    writer: Mutex<Writer>,
    catalog: ArcSwap<Catalog>,
    routes: ArcSwap<HashMap<String, Arc<Route>>>,
}

#[derive(Default)]
struct Writer {
    revision: u64,
    services: HashMap<String, ServiceState>,
}

/// A service's endpoints and the counters shared by all its snapshots.
#[derive(Default)]
struct ServiceState {
    endpoints: Vec<Arc<Endpoint>>,
    load: Arc<AtomicU32>,
    ejected: Arc<AtomicU32>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceDiscovery")
            .field("config", &self.config)
            .field("revision", &self.catalog.load().revision)
            .finish()
    }
}

impl Default for ServiceDiscovery {
    fn default() -> Self {
        Self::new()
    }
}

impl ServiceDiscovery {
    /// An in-memory discovery with the default configuration.
    pub fn new() -> Self {
        Self::with_config(DiscoveryConfig::default())
    }

    /// An in-memory discovery with `config`.
    pub fn with_config(config: DiscoveryConfig) -> Self {
        Self::with_registry(MemoryRegistry::new(), config)
    }

    /// A discovery over a shared in-memory `registry` (several discoveries over one registry
    /// behave like processes sharing an etcd cluster).
    pub fn with_registry(registry: Arc<MemoryRegistry>, config: DiscoveryConfig) -> Self {
        Self::with_backend_and_config(registry, config)
    }

    /// A discovery over `backend` with the default configuration: reads serve the same
    /// lock-free snapshot whatever the backend, kept in step through
    /// [`RegistryBackend::listen`].
    pub fn with_backend(backend: impl RegistryBackend) -> Self {
        Self::with_backend_and_config(backend, DiscoveryConfig::default())
    }

    /// A discovery over `backend` with `config`.
    pub fn with_backend_and_config(backend: impl RegistryBackend, config: DiscoveryConfig) -> Self {
        let backend: Arc<dyn RegistryBackend> = Arc::new(backend);
        let inner = Arc::new(Inner {
            env: config.env.clone(),
            config,
            backend: Arc::clone(&backend),
            writer: Mutex::new(Writer::default()),
            catalog: ArcSwap::from_pointee(Catalog {
                origin: next_origin(),
                ..Catalog::default()
            }),
            routes: ArcSwap::from_pointee(HashMap::new()),
        });
        let listener: Weak<dyn Listener> =
            Arc::downgrade(&(Arc::clone(&inner) as Arc<dyn Listener>));
        let snapshot = backend.listen(listener);
        let puts: Vec<Change> = snapshot.instances.into_iter().map(Change::Put).collect();
        inner.apply_all(&puts);
        ServiceDiscovery { inner }
    }

    /// The configuration.
    pub fn config(&self) -> &DiscoveryConfig {
        &self.inner.config
    }

    /// The registry backend.
    pub fn registry(&self) -> &Arc<dyn RegistryBackend> {
        &self.inner.backend
    }

    /// Whether the backend's store is unreachable now, so that reads serve the last snapshot
    /// it gave (contract §5: nothing is dropped for that reason). Never true in memory.
    pub fn is_stale(&self) -> bool {
        self.inner.backend.is_stale()
    }

    fn check(&self, instance: &Instance) -> Result<(), DiscoveryError> {
        instance.attributes()?;
        let writer = self.inner.lock();
        // The others (one with this id would be replaced): endpoints are sorted by id.
        let count = writer
            .services
            .get(&instance.id.service)
            .map_or(0, |state| {
                let present = state
                    .endpoints
                    .binary_search_by(|e| e.instance.id.cmp(&instance.id))
                    .is_ok();
                state.endpoints.len() - usize::from(present)
            });
        if count >= self.inner.config.max_instances {
            return Err(DiscoveryError::TooManyInstances {
                service: instance.id.service.clone(),
                max: self.inner.config.max_instances,
            });
        }
        Ok(())
    }

    /// Registers `instance` (replacing one with the same id) until [`deregister`]. A malformed
    /// instance (bad `weight` or `version` metadata, empty host, port 0) or one beyond
    /// `max_instances` is refused and nothing changes.
    ///
    /// [`deregister`]: Self::deregister
    pub fn register(&self, instance: Instance) -> Result<(), DiscoveryError> {
        self.check(&instance)?;
        self.inner.backend.put(instance, None).map(drop)
    }

    /// Registers `instance` under a lease of `ttl`: it disappears unless
    /// [`heartbeat`](Self::heartbeat) renews the lease within each `ttl`.
    pub fn register_with_lease(
        &self,
        instance: Instance,
        ttl: Duration,
    ) -> Result<LeaseId, DiscoveryError> {
        self.check(&instance)?;
        let lease = self.inner.backend.grant(ttl)?;
        self.inner.backend.put(instance, Some(lease))?;
        Ok(lease)
    }

    /// Renews a lease.
    pub fn heartbeat(&self, lease: LeaseId) -> Result<(), DiscoveryError> {
        self.inner.backend.keep_alive(lease)
    }

    /// Removes an instance: it gets no new traffic from this moment, healthy or not.
    pub fn deregister(&self, id: &InstanceId) -> Result<(), DiscoveryError> {
        self.inner.backend.delete(id).map(drop)
    }

    /// The eligible (healthy, not ejected, in this process's environment) instances of
    /// `service`; empty when there are none.
    pub fn discover(&self, service: &str) -> Result<Vec<Instance>, DiscoveryError> {
        let catalog = self.inner.catalog.load();
        Ok(catalog
            .services
            .get(service)
            .map_or_else(Vec::new, |entry| {
                entry
                    .eligible
                    .iter()
                    .filter(|endpoint| self.in_env(endpoint))
                    .map(|endpoint| endpoint.instance.clone())
                    .collect()
            }))
    }

    fn in_env(&self, endpoint: &Endpoint) -> bool {
        match &self.inner.env {
            Some(env) => endpoint.attributes.env.as_ref() == Some(env),
            None => true,
        }
    }

    /// One eligible instance of `service`, chosen by the default balancer (P2C peak-EWMA).
    pub fn discover_one(&self, service: &str) -> Result<Instance, DiscoveryError> {
        let route = self.default_route(service);
        let endpoint = self.pick_endpoint(&route, |_| false)?;
        Ok(endpoint.instance.clone())
    }

    fn default_route(&self, service: &str) -> Arc<Route> {
        if let Some(route) = self.inner.routes.load().get(service) {
            return Arc::clone(route);
        }
        let route = Arc::new(Route::new(service));
        self.inner.routes.rcu(|routes| {
            let mut routes = HashMap::clone(routes);
            routes
                .entry(service.to_owned())
                .or_insert_with(|| Arc::clone(&route));
            routes
        });
        route
    }

    fn pick_endpoint(
        &self,
        route: &Route,
        avoid: impl Fn(&Endpoint) -> bool,
    ) -> Result<Arc<Endpoint>, DiscoveryError> {
        let catalog = self.inner.catalog.load();
        route.pick(
            &catalog,
            self.inner.env.as_deref(),
            self.inner.config.max_imbalance,
            avoid,
        )
    }

    /// Picks an instance for one call on `route` and counts the call in flight until the
    /// returned guard is dropped or [`report`](Self::report)ed. Instances `avoid` refuses (those
    /// that already failed this call) are passed over when any other is eligible.
    pub fn pick(
        &self,
        route: &Route,
        avoid: impl Fn(&Endpoint) -> bool,
    ) -> Result<InFlight, DiscoveryError> {
        Ok(self.pick_endpoint(route, avoid)?.begin())
    }

    /// Feeds a call's outcome to the instance's latency estimate and outlier detector.
    pub fn report(&self, call: InFlight, outcome: CallOutcome) {
        // One clock read for both the call's latency and the estimate's decay.
        let now = tokio::time::Instant::now();
        let endpoint = call.endpoint();
        endpoint.observe_latency(now.saturating_duration_since(call.started()), now);
        outlier::record(&self.inner, endpoint, outcome);
        // The call ends (leaves the in-flight counts) once its outcome is recorded.
        drop(call);
    }

    /// Every registered endpoint of `service` with its live state (health, ejection, in
    /// flight, latency), eligible or not.
    pub fn endpoints(&self, service: &str) -> Vec<Arc<Endpoint>> {
        self.inner
            .catalog
            .load()
            .services
            .get(service)
            .map_or_else(Vec::new, |entry| entry.endpoints.clone())
    }

    /// Marks an instance healthy or not (what active health checks do).
    pub fn set_healthy(&self, id: &InstanceId, healthy: bool) -> Result<(), DiscoveryError> {
        let endpoint = self
            .endpoints(&id.service)
            .into_iter()
            .find(|endpoint| &endpoint.instance.id == id)
            .ok_or_else(|| DiscoveryError::UnknownInstance { id: id.clone() })?;
        if endpoint.healthy.swap(healthy, Ordering::AcqRel) != healthy {
            tracing::info!(target: "resilience::discovery", instance = %id, healthy, "health changed");
            self.inner.refresh(&id.service);
        }
        Ok(())
    }

    /// Checks every registered instance once with `check` and marks each healthy or not by
    /// its answer (the seed's one-shot check; see `health` for periodic checks).
    pub async fn check_all_health<F, Fut>(&self, check: F) -> Result<(), DiscoveryError>
    where
        F: Fn(Instance) -> Fut,
        Fut: Future<Output = bool>,
    {
        let services: Vec<String> = self.inner.catalog.load().services.keys().cloned().collect();
        for service in services {
            for endpoint in self.endpoints(&service) {
                let healthy = check(endpoint.instance.clone()).await;
                // An instance deregistered meanwhile is no error: it is simply gone.
                match self.set_healthy(&endpoint.instance.id, healthy) {
                    Ok(()) | Err(DiscoveryError::UnknownInstance { .. }) => {}
                    Err(other) => return Err(other),
                }
            }
        }
        Ok(())
    }

    /// The registry's instances now and every change after (see [`RegistryBackend::watch`]).
    pub fn watch(&self) -> (Snapshot, tokio::sync::broadcast::Receiver<WatchEvent>) {
        self.inner.backend.watch()
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn apply(&self, change: &Change) {
        self.apply_all(std::slice::from_ref(change));
    }

    /// Applies `changes` under one lock and publishes each service they touch once: a
    /// snapshot of n instances costs O(n log n), not n publications of O(n) each.
    fn apply_all(&self, changes: &[Change]) {
        let mut writer = self.lock();
        let mut touched = std::collections::BTreeSet::new();
        for change in changes {
            if let Some(service) = Self::apply_locked(&mut writer, change) {
                touched.insert(service);
            }
        }
        for service in touched {
            self.publish(&mut writer, &service);
        }
    }

    /// Applies one change to the writer's state; the service to publish, if anything changed.
    fn apply_locked(writer: &mut Writer, change: &Change) -> Option<String> {
        Some(match change {
            Change::Put(instance) => {
                let Ok(attributes) = instance.attributes() else {
                    // Another writer of a shared registry stored something malformed: keep
                    // serving the rest.
                    tracing::warn!(target: "resilience::discovery", instance = %instance.id, "ignoring a malformed instance in the registry");
                    return None;
                };
                let state = writer
                    .services
                    .entry(instance.id.service.clone())
                    .or_default();
                match state
                    .endpoints
                    .binary_search_by(|e| e.instance.id.cmp(&instance.id))
                {
                    // The same instance put again (a watch resync, a repeated registration)
                    // keeps its live state: health, ejection, latency.
                    Ok(index) if state.endpoints[index].instance == *instance => return None,
                    Ok(index) => {
                        let endpoint =
                            Endpoint::new(instance.clone(), attributes, Arc::clone(&state.load));
                        let replaced = std::mem::replace(&mut state.endpoints[index], endpoint);
                        release_ejection(state, &replaced);
                    }
                    Err(index) => {
                        let endpoint =
                            Endpoint::new(instance.clone(), attributes, Arc::clone(&state.load));
                        state.endpoints.insert(index, endpoint);
                    }
                }
                instance.id.service.clone()
            }
            Change::Delete(id) => {
                if let Some(state) = writer.services.get_mut(&id.service)
                    && let Ok(index) = state.endpoints.binary_search_by(|e| e.instance.id.cmp(id))
                {
                    let removed = state.endpoints.remove(index);
                    release_ejection(state, &removed);
                }
                id.service.clone()
            }
        })
    }

    /// Rebuilds `service`'s entry (membership, health or ejection changed) and publishes a
    /// new catalog revision.
    fn refresh(&self, service: &str) {
        let mut writer = self.lock();
        self.publish(&mut writer, service);
    }

    fn publish(&self, writer: &mut Writer, service: &str) {
        writer.revision += 1;
        let current = self.catalog.load();
        let mut services = current.services.clone();
        match writer.services.get(service) {
            Some(state) if !state.endpoints.is_empty() => {
                services.insert(
                    service.to_owned(),
                    Arc::new(Service::new(
                        state.endpoints.clone(),
                        Arc::clone(&state.load),
                        Arc::clone(&state.ejected),
                    )),
                );
            }
            _ => {
                services.remove(service);
            }
        }
        self.catalog.store(Arc::new(Catalog {
            origin: current.origin,
            revision: writer.revision,
            services,
        }));
    }
}

impl outlier::Services for Inner {
    fn outlier_config(&self) -> &OutlierConfig {
        &self.config.outlier
    }

    fn catalog(&self) -> arc_swap::Guard<Arc<Catalog>> {
        self.catalog.load()
    }

    fn refresh(&self, service: &str) {
        Inner::refresh(self, service);
    }
}

impl Listener for Inner {
    fn changed(&self, event: &WatchEvent) {
        self.apply(&event.change);
    }
}

/// A removed or replaced endpoint that was ejected gives its place in the ejection limit back.
fn release_ejection(state: &ServiceState, endpoint: &Endpoint) {
    endpoint.end_ejection(Some(&state.ejected));
}

/// A number unique to each discovery, so a route used with several never mixes their catalogs.
fn next_origin() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
