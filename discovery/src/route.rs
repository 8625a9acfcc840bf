//! Routes: which instances of a service a call may use (metadata filters, a semver requirement,
//! the process's environment) and how it picks among them. A route caches its balancer-ready
//! table per revision of its own service, so a pick is a lock-free load plus the balancer's
//! draw, and a change to another service never invalidates it. Without filters the table is the
//! service's persistent list itself (O(1) per change); with filters (or weights other than 1)
//! it is rebuilt in O(n) on the first pick after a change of its service.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use arc_swap::ArcSwapOption;

use crate::balancer::{Balancer, Table};
use crate::catalog::{Catalog, Endpoints};
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
    /// shares the service's persistent list (O(1)); with filters it is the filtered list
    /// (O(n), once per revision of this service only: other services' changes leave it be).
    fn rebuild(&self, catalog: &Catalog) -> Arc<Cached> {
        let service = catalog.services.get(&self.service);
        let table = service.and_then(|service| {
            let (pickable, weighted) = service.pickable();
            let (endpoints, weighted) = if self.filters() {
                let endpoints: Endpoints = pickable
                    .iter()
                    .filter(|endpoint| self.admits(endpoint))
                    .cloned()
                    .collect();
                let weighted = weighted && endpoints.iter().any(|e| e.weight() != 1);
                (endpoints, weighted)
            } else {
                (pickable.clone(), weighted)
            };
            (!endpoints.is_empty()).then(|| Table::new(endpoints, self.balancer, weighted))
        });
        let cached = Arc::new(Cached {
            origin: catalog.origin,
            revision: service.map_or(0, |service| service.revision),
            seen: AtomicU64::new(catalog.generation),
            table,
            service_load: service.map(|service| {
                let (pickable, _) = service.pickable();
                (Arc::clone(&service.load), pickable.len().max(1))
            }),
        });
        self.cached.store(Some(Arc::clone(&cached)));
        cached
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
            _ => {
                rebuilt = self.rebuild(catalog);
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
