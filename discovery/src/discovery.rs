//! [`ServiceDiscovery`]: the seed-compatible API over a registry backend, serving reads from a
//! local snapshot (no lock, no I/O) and feeding call outcomes to passive health.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::catalog::{Catalog, Delta, Endpoints, ListChange, Service, find};
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

/// How many checks [`ServiceDiscovery::check_all_health`] runs at once.
const CHECK_ALL_CONCURRENCY: usize = 64;

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
    /// Held from a registration's `max_instances` check to its put: concurrent registrations
    /// through this discovery cannot together pass the limit.
    admission: Mutex<()>,
    writer: Mutex<Writer>,
    catalog: ArcSwap<Catalog>,
    routes: ArcSwap<HashMap<String, Arc<Route>>>,
}

/// The writer's side: each service's state, of which the catalog holds published copies
/// (sharing their structure).
#[derive(Default)]
struct Writer {
    /// The last revision given to a published service (each publication takes the next).
    revision: u64,
    services: HashMap<String, Service>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceDiscovery")
            .field("config", &self.config)
            .field("services", &self.catalog.load().services.len())
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
    ///
    /// A value out of range ([`DiscoveryConfig::validate`]) is logged at error level and
    /// replaced by the nearest value in range ([`DiscoveryConfig::sanitized`]); use
    /// [`try_with_config`](Self::try_with_config) to get the error instead.
    pub fn with_config(config: DiscoveryConfig) -> Self {
        Self::with_registry(MemoryRegistry::new(), config)
    }

    /// An in-memory discovery with `config`, or the first value out of range
    /// ([`DiscoveryError::InvalidConfig`]).
    pub fn try_with_config(config: DiscoveryConfig) -> Result<Self, DiscoveryError> {
        config.validate()?;
        Ok(Self::with_config(config))
    }

    /// A discovery over a shared in-memory `registry` (several discoveries over one registry
    /// behave like processes sharing an etcd cluster). `config` is sanitized as by
    /// [`with_config`](Self::with_config).
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
        crate::client::install_crypto_provider();
        if let Err(error) = config.validate() {
            tracing::error!(target: "resilience::discovery", %error, "ServiceDiscovery built with an invalid configuration; using the nearest valid values");
        }
        let config = config.sanitized();
        let backend: Arc<dyn RegistryBackend> = Arc::new(backend);
        let inner = Arc::new(Inner {
            env: config.env.clone(),
            config,
            backend: Arc::clone(&backend),
            admission: Mutex::new(()),
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

    /// The configuration (sanitized: every value in range).
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

    fn admission(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner
            .admission
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `instance` may be put: well-formed, and within `max_instances`. Called with
    /// the admission lock held until the put.
    fn check(&self, instance: &Instance) -> Result<(), DiscoveryError> {
        instance.attributes()?;
        let writer = self.inner.lock();
        // The others (one with this id would be replaced).
        let count = writer
            .services
            .get(&instance.id.service)
            .map_or(0, |state| {
                let present = find(&state.endpoints, &instance.id).is_ok();
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
    /// instance (bad `weight` or `version` metadata, a host that is not an IP address or a
    /// DNS name, port 0) or one beyond `max_instances` is refused and nothing changes.
    ///
    /// [`deregister`]: Self::deregister
    pub fn register(&self, instance: Instance) -> Result<(), DiscoveryError> {
        let _admission = self.admission();
        self.check(&instance)?;
        self.inner.backend.put(instance, None).map(drop)
    }

    /// Registers `instance` under a lease of `ttl` (more than zero; `Duration::MAX` never
    /// expires): it disappears unless [`heartbeat`](Self::heartbeat) renews the lease within
    /// each `ttl`. Refused as [`register`](Self::register) is, leaving no lease behind.
    pub fn register_with_lease(
        &self,
        instance: Instance,
        ttl: Duration,
    ) -> Result<LeaseId, DiscoveryError> {
        if ttl.is_zero() {
            return Err(DiscoveryError::InvalidInstance {
                id: instance.id,
                reason: "the lease TTL is zero".into(),
            });
        }
        let _admission = self.admission();
        self.check(&instance)?;
        let lease = self.inner.backend.grant(ttl)?;
        if let Err(error) = self.inner.backend.put(instance, Some(lease)) {
            let _ = self.inner.backend.revoke(lease);
            return Err(error);
        }
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
                    .map(|endpoint| endpoint.instance.clone())
                    .collect()
            }))
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
        route.pick(&catalog, self.inner.config.max_imbalance, avoid)
    }

    /// Picks an instance for one call on `route` and counts the call in flight until the
    /// returned guard is dropped or [`report`](Self::report)ed. Instances `avoid` refuses (those
    /// that already failed this call) are passed over when any other is eligible.
    ///
    /// When fewer than `panic_threshold_percent` of the service's instances are eligible,
    /// the pick is among all of them (Envoy's panic mode).
    pub fn pick(
        &self,
        route: &Route,
        avoid: impl Fn(&Endpoint) -> bool,
    ) -> Result<InFlight, DiscoveryError> {
        Ok(self.pick_endpoint(route, avoid)?.begin())
    }

    /// Picks an instance for one call on `route` among those `exclude` does not refuse (those
    /// this call already tried), as [`pick`](Self::pick) does, but strictly: when every
    /// pickable instance is excluded, [`DiscoveryError::NoInstance`] rather than an excluded
    /// one. What a requeue needs: another instance, or none.
    pub fn pick_excluding(
        &self,
        route: &Route,
        exclude: impl Fn(&Endpoint) -> bool,
    ) -> Result<InFlight, DiscoveryError> {
        let endpoint = self.pick_endpoint(route, &exclude)?;
        // The balancer returns an excluded endpoint only when no other is pickable.
        if exclude(&endpoint) {
            return Err(DiscoveryError::NoInstance {
                service: route.service().to_owned(),
            });
        }
        Ok(endpoint.begin())
    }

    /// Reports a call that never reached its instance (refused at connect): a failure for the
    /// outlier detector, and no latency sample (a refusal's few microseconds would make a
    /// dead instance look like the fastest).
    pub(crate) fn report_refused(&self, call: InFlight) {
        outlier::record(&self.inner, call.endpoint(), CallOutcome::Failure);
        drop(call);
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
            .map_or_else(Vec::new, |entry| entry.endpoints.iter().cloned().collect())
    }

    /// The registered endpoint with `id`.
    pub(crate) fn endpoint(&self, id: &InstanceId) -> Option<Arc<Endpoint>> {
        let catalog = self.inner.catalog.load();
        catalog.services.get(&id.service)?.find(id).cloned()
    }

    /// Marks an instance healthy or not (what active health checks do).
    pub fn set_healthy(&self, id: &InstanceId, healthy: bool) -> Result<(), DiscoveryError> {
        let endpoint = self
            .endpoint(id)
            .ok_or_else(|| DiscoveryError::UnknownInstance { id: id.clone() })?;
        if endpoint.healthy.swap(healthy, Ordering::AcqRel) != healthy {
            tracing::info!(target: "resilience::discovery", instance = %id, healthy, "health changed");
        }
        // Always: a concurrent change of the same flag is then published by one of the two.
        self.inner.refresh(&endpoint);
        Ok(())
    }

    /// Checks every registered instance once with `check` and marks each healthy or not by
    /// its answer (the seed's one-shot check; see `health` for periodic checks).
    ///
    /// Up to 64 checks run at once, each bounded by `health_check_timeout`: a check that has
    /// not answered by then failed (a check that hangs cannot stall the pass). Each result is
    /// applied as it comes.
    pub async fn check_all_health<F, Fut>(&self, check: F) -> Result<(), DiscoveryError>
    where
        F: Fn(Instance) -> Fut,
        Fut: Future<Output = bool>,
    {
        async fn bounded<Fut: Future<Output = bool>>(
            endpoint: Arc<Endpoint>,
            check: Fut,
            timeout: Duration,
        ) -> (Arc<Endpoint>, bool) {
            let healthy = tokio::time::timeout(timeout, check).await.unwrap_or(false);
            (endpoint, healthy)
        }
        let timeout = self.inner.config.health_check_timeout;
        let catalog = self.inner.catalog.load_full();
        let mut pending = catalog
            .services
            .values()
            .flat_map(|service| service.endpoints.iter());
        let mut running = Vec::new();
        loop {
            while running.len() < CHECK_ALL_CONCURRENCY {
                let Some(endpoint) = pending.next() else {
                    break;
                };
                let future = check(endpoint.instance.clone());
                running.push(Box::pin(bounded(Arc::clone(endpoint), future, timeout)));
            }
            if running.is_empty() {
                return Ok(());
            }
            let (endpoint, healthy) = std::future::poll_fn(|cx| {
                for index in 0..running.len() {
                    if let std::task::Poll::Ready(done) = running[index].as_mut().poll(cx) {
                        drop(running.swap_remove(index));
                        return std::task::Poll::Ready(done);
                    }
                }
                std::task::Poll::Pending
            })
            .await;
            // An instance deregistered meanwhile is no error: it is simply gone.
            match self.set_healthy(&endpoint.instance.id, healthy) {
                Ok(()) | Err(DiscoveryError::UnknownInstance { .. }) => {}
                Err(other) => return Err(other),
            }
        }
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

    fn in_env(&self, endpoint: &Endpoint) -> bool {
        match &self.env {
            Some(env) => endpoint.attributes.env.as_ref() == Some(env),
            None => true,
        }
    }

    fn apply(&self, change: &Change) {
        self.apply_all(std::slice::from_ref(change));
    }

    /// Applies `changes` under one lock and publishes each service they touch once. Each
    /// change costs O(log n) on its service's persistent lists, whatever the service's size.
    fn apply_all(&self, changes: &[Change]) {
        let mut writer = self.lock();
        let mut touched = std::collections::BTreeSet::new();
        for change in changes {
            if let Some(service) = self.apply_locked(&mut writer, change) {
                touched.insert(service);
            }
        }
        for service in touched {
            self.publish(&mut writer, &service);
        }
    }

    /// Applies one change to the writer's state; the service to publish, if anything changed.
    fn apply_locked(&self, writer: &mut Writer, change: &Change) -> Option<String> {
        match change {
            Change::Put(instance) => {
                let Ok(attributes) = instance.attributes() else {
                    // Another writer of a shared registry stored something malformed: keep
                    // serving the rest.
                    tracing::warn!(target: "resilience::discovery", instance = %instance.id, "ignoring a malformed instance in the registry");
                    return None;
                };
                let service = match writer.services.get_mut(&instance.id.service) {
                    Some(service) => service,
                    None => writer
                        .services
                        .entry(instance.id.service.clone())
                        .or_default(),
                };
                match find(&service.endpoints, &instance.id) {
                    // The same instance put again (a watch resync, a repeated registration)
                    // keeps its live state: health, ejection, latency.
                    Ok(index) if service.endpoints[index].instance == *instance => return None,
                    Ok(index) => {
                        let replaced = service.endpoints.remove(index);
                        self.unlist(service, &replaced);
                        let endpoint =
                            Endpoint::new(instance.clone(), attributes, Arc::clone(&service.load));
                        service.endpoints.insert(index, Arc::clone(&endpoint));
                        self.list(service, endpoint);
                    }
                    Err(index) => {
                        let endpoint =
                            Endpoint::new(instance.clone(), attributes, Arc::clone(&service.load));
                        insert_at(&mut service.endpoints, index, Arc::clone(&endpoint));
                        self.list(service, endpoint);
                    }
                }
                Some(instance.id.service.clone())
            }
            Change::Delete(id) => {
                let service = writer.services.get_mut(&id.service)?;
                let index = find(&service.endpoints, id).ok()?;
                let removed = service.endpoints.remove(index);
                self.unlist(service, &removed);
                Some(id.service.clone())
            }
        }
    }

    /// Adds a new endpoint (just inserted in `endpoints`) to the lists derived from it.
    fn list(&self, service: &mut Service, endpoint: Arc<Endpoint>) {
        if !self.in_env(&endpoint) {
            return;
        }
        if endpoint.weight() != 1 {
            service.weighted_in_env += 1;
        }
        if let Some(mean) = sampled_mean_latency(&service.eligible) {
            endpoint.seed_latency(mean);
        }
        if let Err(index) = find(&service.in_env, &endpoint.instance.id) {
            insert_at(&mut service.in_env, index, Arc::clone(&endpoint));
            service.pending.push(ListChange {
                in_env: true,
                added: true,
                endpoint: Arc::clone(&endpoint),
            });
        }
        self.update(service, &endpoint);
    }

    /// Removes an endpoint (just removed from `endpoints`) from the lists derived from it,
    /// and gives its place in the ejection limit back if it was ejected.
    fn unlist(&self, service: &mut Service, endpoint: &Arc<Endpoint>) {
        endpoint.end_ejection(Some(&service.ejected));
        if !self.in_env(endpoint) {
            return;
        }
        if let Ok(index) = find(&service.in_env, &endpoint.instance.id)
            && Arc::ptr_eq(&service.in_env[index], endpoint)
        {
            service.in_env.remove(index);
            service.pending.push(ListChange {
                in_env: true,
                added: false,
                endpoint: Arc::clone(endpoint),
            });
            if endpoint.weight() != 1 {
                service.weighted_in_env -= 1;
            }
        }
        if endpoint.listed_healthy.swap(false, Ordering::Relaxed) {
            service.healthy -= 1;
        }
        if endpoint.listed_eligible.swap(false, Ordering::Relaxed) {
            if let Ok(index) = find(&service.eligible, &endpoint.instance.id) {
                service.eligible.remove(index);
                service.pending.push(ListChange {
                    in_env: false,
                    added: false,
                    endpoint: Arc::clone(endpoint),
                });
            }
            if endpoint.weight() != 1 {
                service.weighted_eligible -= 1;
            }
        }
        self.update_panic(service);
    }

    /// Brings `service`'s counts and eligible list in line with `endpoint`'s health and
    /// ejection now. True if anything changed.
    fn update(&self, service: &mut Service, endpoint: &Arc<Endpoint>) -> bool {
        let mut changed = false;
        let healthy = endpoint.is_healthy();
        if endpoint.listed_healthy.swap(healthy, Ordering::Relaxed) != healthy {
            if healthy {
                service.healthy += 1;
            } else {
                service.healthy -= 1;
            }
            changed = true;
        }
        let eligible = endpoint.is_eligible();
        if endpoint.listed_eligible.swap(eligible, Ordering::Relaxed) != eligible {
            let weighted = usize::from(endpoint.weight() != 1);
            match (eligible, find(&service.eligible, &endpoint.instance.id)) {
                (true, Err(index)) => {
                    insert_at(&mut service.eligible, index, Arc::clone(endpoint));
                    service.weighted_eligible += weighted;
                    service.pending.push(ListChange {
                        in_env: false,
                        added: true,
                        endpoint: Arc::clone(endpoint),
                    });
                }
                (false, Ok(index)) => {
                    service.eligible.remove(index);
                    service.weighted_eligible -= weighted;
                    service.pending.push(ListChange {
                        in_env: false,
                        added: false,
                        endpoint: Arc::clone(endpoint),
                    });
                }
                _ => {}
            }
            changed = true;
        }
        self.update_panic(service);
        changed
    }

    fn update_panic(&self, service: &mut Service) {
        let threshold = self.config.panic_threshold_percent as usize;
        // With none eligible there is no panic: the call is refused (`NoInstance`, contract
        // §2.6) rather than sent where every health signal says it fails.
        service.panic = !service.eligible.is_empty()
            && service.eligible.len().saturating_mul(100)
                < threshold.saturating_mul(service.in_env.len());
    }

    /// `endpoint`'s health or ejection changed: its service's lists follow, and are published
    /// if that changed anything.
    fn refresh(&self, endpoint: &Arc<Endpoint>) {
        let mut writer = self.lock();
        let id = &endpoint.instance.id;
        let Some(service) = writer.services.get_mut(&id.service) else {
            return;
        };
        let current = find(&service.endpoints, id)
            .ok()
            .is_some_and(|index| Arc::ptr_eq(&service.endpoints[index], endpoint));
        if !current || !self.in_env(endpoint) {
            return; // Deregistered or replaced meanwhile, or never picked here.
        }
        if self.update(service, endpoint) {
            self.publish(&mut writer, &id.service);
        }
    }

    /// Publishes `service`'s current state under a new revision of its own; the other
    /// services of the catalog are shared with the previous one.
    fn publish(&self, writer: &mut Writer, service: &str) {
        writer.revision += 1;
        let revision = writer.revision;
        let mut catalog = Catalog::clone(&self.catalog.load());
        catalog.generation = revision;
        match writer.services.get_mut(service) {
            Some(state) if !state.endpoints.is_empty() => {
                let delta = Delta {
                    since: state.revision,
                    changes: std::mem::take(&mut state.pending),
                };
                if state.log.len() >= Service::LOG {
                    state.log.pop_front();
                }
                state.log.push_back(Arc::new(delta));
                state.revision = revision;
                catalog
                    .services
                    .insert(service.to_owned(), Arc::new(state.clone()));
            }
            _ => {
                catalog.services.remove(service);
            }
        }
        self.catalog.store(Arc::new(catalog));
    }
}

/// The mean latency estimate of the last (by id) 8 of `endpoints`: O(1) and cache-friendly
/// (random samples of a large service would each miss the cache), an estimate of the service's
/// mean to start a new endpoint at (ids say nothing of latency).
fn sampled_mean_latency(endpoints: &Endpoints) -> Option<f64> {
    const SAMPLE: usize = 8;
    let sample = endpoints.len().min(SAMPLE);
    if sample == 0 {
        return None;
    }
    let total: f64 = endpoints
        .iter()
        .rev()
        .take(sample)
        .map(|endpoint| endpoint.latency_nanos())
        .sum();
    Some(total / sample as f64)
}

/// Inserts at `index`: at the end (the common case of ids registered in order) by a push.
fn insert_at(endpoints: &mut Endpoints, index: usize, endpoint: Arc<Endpoint>) {
    if index == endpoints.len() {
        endpoints.push_back(endpoint);
    } else {
        endpoints.insert(index, endpoint);
    }
}

impl outlier::Services for Inner {
    fn outlier_config(&self) -> &OutlierConfig {
        &self.config.outlier
    }

    fn catalog(&self) -> arc_swap::Guard<Arc<Catalog>> {
        self.catalog.load()
    }

    fn refresh(&self, endpoint: &Arc<Endpoint>) {
        Inner::refresh(self, endpoint);
    }
}

impl Listener for Inner {
    fn changed(&self, event: &WatchEvent) {
        self.apply(&event.change);
    }

    fn changed_all(&self, events: &[WatchEvent]) {
        let changes: Vec<Change> = events.iter().map(|event| event.change.clone()).collect();
        self.apply_all(&changes);
    }
}

/// A number unique to each discovery, so a route used with several never mixes their catalogs.
fn next_origin() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
