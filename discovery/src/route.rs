//! Routes: which instances of a service a call may use (metadata filters, a semver requirement,
//! the process's environment) and how it picks among them. A route caches its balancer-ready
//! table per revision of its own service, so a pick is a lock-free load plus the balancer's
//! draw, and a change to another service never invalidates it. Without filters the table is the
//! service's persistent list itself (O(1) per change); with filters the route keeps its own
//! persistent filtered list and applies the service's logged changes to it (O(k log n) for k
//! changes; a route more than `Service::LOG` publications behind, or whose service entered or
//! left panic mode, filters again in O(n)). Weights other than 1 still cost O(n) per change:
//! the alias table and the smooth-weighted-round-robin sequence are rebuilt whole.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use arc_swap::ArcSwapOption;

use crate::balancer::{Balancer, Table};
use crate::catalog::{Catalog, Endpoints, Service, find};
use crate::endpoint::Endpoint;
use crate::error::DiscoveryError;
use crate::sync::{AtomicU32, AtomicU64, AtomicUsize};

/// Which instances of a service a call may use, and how it picks one.
#[derive(Debug)]
pub struct Route {
    service: String,
    balancer: Balancer,
    version: Option<semver::VersionReq>,
    metadata: Vec<(String, String)>,
    cached: ArcSwapOption<Cached>,
    counter: AtomicUsize,
}

#[derive(Debug)]
struct Cached {
    origin: u64,
    /// The service's own revision (0: the service was absent).
    revision: u64,
    /// The last catalog (by generation) seen to hold that revision of the service: a pick on
    /// the same catalog skips looking the service up.
    seen: AtomicU64,
    table: Option<Table>,
    /// The filtered list (with filters; the table's endpoints, also kept when it is empty),
    /// whether it was filtered from the panic list, and how many of it have a weight other
    /// than 1.
    filtered: Endpoints,
    panic: bool,
    weighted: usize,
    /// The service's load counter and pickable count, for the bounded-load rule.
    service_load: Option<(Arc<AtomicU32>, usize)>,
}

impl Route {
    /// Every instance of `service`, picked with the default balancer (P2C peak-EWMA).
    pub fn new(service: impl Into<String>) -> Route {
        Route {
            service: service.into(),
            balancer: Balancer::default(),
            version: None,
            metadata: Vec::new(),
            cached: ArcSwapOption::empty(),
            counter: AtomicUsize::new(0),
        }
    }

    /// Picks with `balancer`.
    pub fn balancer(mut self, balancer: Balancer) -> Route {
        self.balancer = balancer;
        self.cached = ArcSwapOption::empty(); // Built under the old filters.
        self
    }

    /// Only instances whose `version` metadata satisfies `requirement` (e.g. `"^2"`).
    pub fn version(mut self, requirement: &str) -> Result<Route, DiscoveryError> {
        let parsed = semver::VersionReq::parse(requirement).map_err(|error| {
            DiscoveryError::InvalidRequirement {
                requirement: requirement.to_owned(),
                reason: error.to_string(),
            }
        })?;
        self.version = Some(parsed);
        self.cached = ArcSwapOption::empty(); // Built under the old filters.
        Ok(self)
    }

    /// Only instances whose metadata has `key = value` (all such filters must match).
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Route {
        self.metadata.push((key.into(), value.into()));
        self.cached = ArcSwapOption::empty(); // Built under the old filters.
        self
    }

    /// The service.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The balancer.
    pub fn balancer_kind(&self) -> Balancer {
        self.balancer
    }

    /// Whether the route filters at all (a route without filters shares its service's list).
    fn filters(&self) -> bool {
        self.version.is_some() || !self.metadata.is_empty()
    }

    fn admits(&self, endpoint: &Endpoint) -> bool {
        let attributes = &endpoint.attributes;
        if let Some(requirement) = &self.version {
            match &attributes.version {
                Some(version) if requirement.matches(version) => {}
                _ => return false,
            }
        }
        self.metadata
            .iter()
            .all(|(key, value)| endpoint.instance.metadata.get(key) == Some(value))
    }

    /// The route's table for `catalog`'s version of its service. Without filters the table
    /// shares the service's persistent list (O(1)); with filters it is the filtered list,
    /// brought up from `previous` by the service's logged changes when it can be (O(k log n)),
    /// else filtered again (O(n), once per revision of this service only: other services'
    /// changes leave it be).
    fn rebuild(&self, catalog: &Catalog, previous: Option<&Cached>) -> Arc<Cached> {
        let service = catalog.services.get(&self.service);
        let mut filtered = Endpoints::new();
        let (mut panic, mut weighted) = (false, 0);
        let table = service.and_then(|service| {
            let (pickable, any_weighted) = service.pickable();
            panic = service.panic;
            let (endpoints, weights) = if self.filters() {
                let (list, count) = previous
                    .filter(|previous| previous.origin == catalog.origin)
                    .and_then(|previous| self.follow(service, previous))
                    .unwrap_or_else(|| self.filter(pickable));
                filtered = list.clone();
                weighted = count;
                (list, count > 0)
            } else {
                (pickable.clone(), any_weighted)
            };
            (!endpoints.is_empty()).then(|| Table::new(endpoints, self.balancer, weights))
        });
        let cached = Arc::new(Cached {
            origin: catalog.origin,
            revision: service.map_or(0, |service| service.revision),
            seen: AtomicU64::new(catalog.generation),
            table,
            filtered,
            panic,
            weighted,
            service_load: service.map(|service| {
                let (pickable, _) = service.pickable();
                (Arc::clone(&service.load), pickable.len().max(1))
            }),
        });
        self.cached.store(Some(Arc::clone(&cached)));
        cached
    }

    /// The endpoints of `pickable` the route admits, and how many of them have a weight
    /// other than 1: O(n).
    fn filter(&self, pickable: &Endpoints) -> (Endpoints, usize) {
        #[cfg(test)]
        tests::FILTERED_AGAIN.with(|count| count.set(count.get() + 1));
        let list: Endpoints = pickable
            .iter()
            .filter(|endpoint| self.admits(endpoint))
            .cloned()
            .collect();
        let weighted = list.iter().filter(|e| e.weight() != 1).count();
        (list, weighted)
    }

    /// `previous`'s filtered list brought up to `service`'s revision by the changes logged
    /// since: O(log n) each. `None` when the log does not reach back that far.
    fn follow(&self, service: &Service, previous: &Cached) -> Option<(Endpoints, usize)> {
        let changes = service.changes_since(previous.revision, previous.panic)?;
        let (mut list, mut weighted) = (previous.filtered.clone(), previous.weighted);
        for change in changes {
            let endpoint = &change.endpoint;
            if !self.admits(endpoint) {
                continue;
            }
            let weight = usize::from(endpoint.weight() != 1);
            match (change.added, find(&list, &endpoint.instance.id)) {
                (true, Err(index)) => {
                    list.insert(index, Arc::clone(endpoint));
                    weighted += weight;
                }
                (true, Ok(index)) => {
                    // An endpoint of the same id the log has not removed (never the case):
                    // the newer one stands.
                    let replaced = list.set(index, Arc::clone(endpoint));
                    weighted =
                        (weighted + weight).saturating_sub(usize::from(replaced.weight() != 1));
                }
                (false, Ok(index)) if Arc::ptr_eq(&list[index], endpoint) => {
                    list.remove(index);
                    weighted = weighted.saturating_sub(weight);
                }
                // Already applied, or replaced meanwhile: the log says how it ends.
                _ => {}
            }
        }
        Some((list, weighted))
    }

    /// Picks an eligible endpoint, avoiding those `avoid` refuses when any other is available.
    pub(crate) fn pick(
        &self,
        catalog: &Catalog,
        max_imbalance: u32,
        avoid: impl Fn(&Endpoint) -> bool,
    ) -> Result<Arc<Endpoint>, DiscoveryError> {
        let guard = self.cached.load();
        let current = |cached: &Cached| {
            if cached.origin != catalog.origin {
                return false;
            }
            if cached.seen.load(Ordering::Relaxed) == catalog.generation {
                return true; // Nothing changed anywhere since.
            }
            let revision = catalog
                .services
                .get(&self.service)
                .map_or(0, |service| service.revision);
            // Another service changed: this one's table still holds.
            let holds = revision == cached.revision;
            if holds {
                cached.seen.fetch_max(catalog.generation, Ordering::Relaxed);
            }
            holds
        };
        let rebuilt;
        let cached = match &*guard {
            Some(cached) if current(cached) => cached,
            previous => {
                rebuilt = self.rebuild(catalog, previous.as_deref());
                &rebuilt
            }
        };
        let Some(table) = &cached.table else {
            return Err(DiscoveryError::NoInstance {
                service: self.service.clone(),
            });
        };
        let bound = match self.balancer {
            Balancer::P2cPeakEwma | Balancer::LeastConnections => {
                // `(100 + max_imbalance) %` of the service's mean (its whole load over its
                // pickable instances), rounded up, plus one; in integers, saturating.
                let (total, count) = cached
                    .service_load
                    .as_ref()
                    .map_or((0, 1), |(load, count)| {
                        (u64::from(load.load(Ordering::Relaxed)), *count as u64)
                    });
                let scaled = total.saturating_mul(100 + u64::from(max_imbalance));
                let bound = scaled.div_ceil(count.saturating_mul(100)).saturating_add(1);
                Some(u32::try_from(bound).unwrap_or(u32::MAX))
            }
            _ => None,
        };
        let index = table.pick(self.balancer, &self.counter, bound, |endpoint| {
            !avoid(endpoint)
        });
        Ok(Arc::clone(&table.endpoints[index]))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::discovery::ServiceDiscovery;
    use crate::instance::Instance;

    thread_local! {
        /// How many times a route on this thread filtered a whole list.
        pub(super) static FILTERED_AGAIN: Cell<usize> = const { Cell::new(0) };
    }

    fn filtered_again() -> usize {
        FILTERED_AGAIN.with(Cell::get)
    }

    fn instance(i: usize, zone: &str) -> Instance {
        Instance::new("svc", format!("i{i:03}"), "10.0.0.1", 80)
            .with_metadata("zone", zone)
            .with_metadata("weight", if i.is_multiple_of(3) { "2" } else { "1" })
    }

    /// The ids the route's table holds now (after a pick brought it up to date).
    fn table_ids(discovery: &ServiceDiscovery, route: &Route) -> Vec<String> {
        let _ = discovery.pick(route, |_| false);
        let cached = route.cached.load_full().expect("picked once");
        cached
            .table
            .as_ref()
            .map(|table| {
                table
                    .endpoints
                    .iter()
                    .map(|e| e.instance.id.id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What the table must hold: the eligible instances in zone `a`, by id.
    fn expected(discovery: &ServiceDiscovery) -> Vec<String> {
        let mut ids: Vec<String> = discovery
            .discover("svc")
            .unwrap()
            .into_iter()
            .filter(|i| i.metadata.get("zone").map(String::as_str) == Some("a"))
            .map(|i| i.id.id)
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn a_filtered_route_follows_its_services_changes_without_filtering_again() {
        let discovery = ServiceDiscovery::new();
        for i in 0..200 {
            discovery
                .register(instance(i, if i % 2 == 0 { "a" } else { "b" }))
                .unwrap();
        }
        let route = Route::new("svc").metadata("zone", "a");
        assert_eq!(table_ids(&discovery, &route), expected(&discovery));
        let before = filtered_again();
        let mut rng = fastrand::Rng::with_seed(7);
        for step in 0..2_000 {
            // One to five changes between two picks.
            for _ in 0..rng.usize(1..=5) {
                let i = rng.usize(0..220);
                let zone = if rng.bool() { "a" } else { "b" };
                let id = instance(i, zone).id;
                match rng.u8(0..4) {
                    0 => discovery.register(instance(i, zone)).unwrap(),
                    1 => drop(discovery.deregister(&id)),
                    // Unhealthy in a small share: the service stays out of panic mode.
                    2 => drop(discovery.set_healthy(&id, rng.u8(0..8) != 0)),
                    _ => drop(discovery.set_healthy(&id, true)),
                }
            }
            assert_eq!(
                table_ids(&discovery, &route),
                expected(&discovery),
                "after step {step}"
            );
        }
        assert_eq!(
            filtered_again(),
            before,
            "a change was followed by filtering again"
        );
    }

    #[test]
    fn a_route_too_far_behind_or_across_panic_mode_filters_again_and_stays_right() {
        let discovery = ServiceDiscovery::new();
        for i in 0..10 {
            discovery.register(instance(i, "a")).unwrap();
        }
        let route = Route::new("svc").metadata("zone", "a");
        assert_eq!(table_ids(&discovery, &route).len(), 10);
        // More publications than the log keeps, with no pick between.
        for round in 0..Service::LOG + 5 {
            discovery
                .set_healthy(&instance(0, "a").id, round % 2 == 1)
                .unwrap();
        }
        let before = filtered_again();
        assert_eq!(table_ids(&discovery, &route), expected(&discovery));
        assert_eq!(filtered_again(), before + 1);
        // Into panic mode (6 of 10 unhealthy): picks come from every instance in zone `a`.
        for i in 0..10 {
            discovery.set_healthy(&instance(i, "a").id, true).unwrap();
        }
        assert_eq!(table_ids(&discovery, &route).len(), 10);
        for i in 0..6 {
            discovery.set_healthy(&instance(i, "a").id, false).unwrap();
        }
        assert_eq!(
            table_ids(&discovery, &route).len(),
            10,
            "panic: all of zone a"
        );
        for i in 0..6 {
            discovery.set_healthy(&instance(i, "a").id, true).unwrap();
        }
        discovery.set_healthy(&instance(0, "a").id, false).unwrap();
        assert_eq!(table_ids(&discovery, &route), expected(&discovery));
        assert_eq!(expected(&discovery).len(), 9);
    }
}
