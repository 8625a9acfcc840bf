//! Routes: which instances of a service a call may use (metadata filters, a semver requirement,
//! the process's environment) and how it picks among them. A route caches its filtered,
//! balancer-ready table per catalog revision, so a pick is a lock-free load plus the balancer's
//! O(1) draw; the O(n) filtering happens once per change of the service, not per call.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use arc_swap::ArcSwapOption;

use crate::balancer::{Balancer, Table};
use crate::catalog::Catalog;
use crate::endpoint::Endpoint;
use crate::error::DiscoveryError;
use crate::sync::{AtomicU32, AtomicUsize};

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
    revision: u64,
    table: Option<Table>,
    /// The service's load counter and eligible count, for the bounded-load rule (kept here so
    /// a pick does not look the service up again).
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

    fn admits(&self, endpoint: &Endpoint, env: Option<&str>) -> bool {
        let attributes = &endpoint.attributes;
        if let Some(env) = env
            && attributes.env.as_deref() != Some(env)
        {
            return false;
        }
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

    /// The route's table at `catalog`'s revision, built when the revision moved.
    fn rebuild(&self, catalog: &Catalog, env: Option<&str>) -> Arc<Cached> {
        let service = catalog.services.get(&self.service);
        let table = service.and_then(|service| {
            let endpoints: Arc<[Arc<Endpoint>]> = service
                .eligible
                .iter()
                .filter(|endpoint| self.admits(endpoint, env))
                .cloned()
                .collect();
            (!endpoints.is_empty()).then(|| Table::new(endpoints, self.balancer))
        });
        let cached = Arc::new(Cached {
            origin: catalog.origin,
            revision: catalog.revision,
            table,
            service_load: service
                .map(|service| (Arc::clone(&service.load), service.eligible.len().max(1))),
        });
        self.cached.store(Some(Arc::clone(&cached)));
        cached
    }

    /// Picks an eligible endpoint, avoiding those `avoid` refuses when any other is available.
    pub(crate) fn pick(
        &self,
        catalog: &Catalog,
        env: Option<&str>,
        max_imbalance: f64,
        avoid: impl Fn(&Endpoint) -> bool,
    ) -> Result<Arc<Endpoint>, DiscoveryError> {
        let guard = self.cached.load();
        let rebuilt;
        let cached = match &*guard {
            Some(cached)
                if cached.revision == catalog.revision && cached.origin == catalog.origin =>
            {
                cached
            }
            _ => {
                rebuilt = self.rebuild(catalog, env);
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
                // The service's mean: its whole load over all its eligible instances.
                let (total, eligible) = cached
                    .service_load
                    .as_ref()
                    .map_or((0, 1), |(load, eligible)| {
                        (load.load(Ordering::Relaxed), *eligible)
                    });
                let mean = f64::from(total) / eligible as f64;
                Some(((1.0 + max_imbalance) * mean).ceil() as u32 + 1)
            }
            _ => None,
        };
        let index = table.pick(self.balancer, &self.counter, bound, |endpoint| {
            !avoid(endpoint)
        });
        Ok(Arc::clone(&table.endpoints[index]))
    }
}
