//! What readers see: an immutable snapshot of every service's endpoints, swapped whole with
//! `arc-swap` on each change. Reads never lock and never do I/O.

use std::collections::HashMap;
use std::sync::Arc;

use crate::endpoint::Endpoint;
use crate::sync::AtomicU32;

/// Every service at one catalog revision.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    /// Which discovery this catalog belongs to (a route may serve several).
    pub(crate) origin: u64,
    /// Bumped by every change of membership, health or ejection.
    pub(crate) revision: u64,
    pub(crate) services: HashMap<String, Arc<Service>>,
}

/// One service's endpoints.
#[derive(Debug, Default)]
pub(crate) struct Service {
    /// Every registered endpoint, by id.
    pub(crate) endpoints: Vec<Arc<Endpoint>>,
    /// Those healthy and not ejected: what balancers pick from.
    pub(crate) eligible: Arc<[Arc<Endpoint>]>,
    /// Calls in flight over all the service's endpoints (for the bounded-load rule).
    pub(crate) load: Arc<AtomicU32>,
    /// Endpoints ejected now (the outlier detector's limit is checked and taken on it).
    pub(crate) ejected: Arc<AtomicU32>,
}

impl Service {
    pub(crate) fn new(
        endpoints: Vec<Arc<Endpoint>>,
        load: Arc<AtomicU32>,
        ejected: Arc<AtomicU32>,
    ) -> Service {
        let eligible = endpoints
            .iter()
            .filter(|endpoint| endpoint.is_eligible())
            .cloned()
            .collect();
        Service {
            endpoints,
            eligible,
            load,
            ejected,
        }
    }
}
