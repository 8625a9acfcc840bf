//! What readers see: an immutable snapshot of every service's endpoints, swapped whole with
//! `arc-swap` on each change. Reads never lock and never do I/O.
//!
//! Every list is persistent (`imbl`: a tree of 64-entry chunks, shared between versions): a
//! change to one endpoint copies O(log n) of its service's lists, and the catalog's map of
//! services shares every other service with the previous catalog. Each service carries its own
//! revision, so a route rebuilds its table only when its own service changed.

use std::sync::Arc;

use crate::endpoint::Endpoint;
use crate::id::InstanceId;
use crate::sync::AtomicU32;

/// Endpoints sorted by id, structurally shared between snapshots.
pub(crate) type Endpoints = imbl::Vector<Arc<Endpoint>>;

/// Every service at one moment.
#[derive(Debug, Default, Clone)]
pub(crate) struct Catalog {
    /// Which discovery this catalog belongs to (a route may serve several).
    pub(crate) origin: u64,
    /// Unique to this catalog within its discovery, increasing with each publication.
    pub(crate) generation: u64,
    pub(crate) services: imbl::HashMap<String, Arc<Service>>,
}

/// One service's endpoints, at one of its revisions.
#[derive(Debug, Default, Clone)]
pub(crate) struct Service {
    /// Unique to this version of the service within its discovery (never reused), bumped by
    /// every change of its membership, health or ejections.
    pub(crate) revision: u64,
    /// Every registered endpoint, sorted by id (other environments' too).
    pub(crate) endpoints: Endpoints,
    /// Those of this process's environment, sorted by id.
    pub(crate) in_env: Endpoints,
    /// Those of them healthy and not ejected, sorted by id: what `discover` lists.
    pub(crate) eligible: Endpoints,
    /// Endpoints of this environment that active health checks pass (ejected or not): the base
    /// of the ejection limit.
    pub(crate) healthy: usize,
    /// Endpoints in `in_env` / `eligible` whose weight is not 1 (a table with none needs no
    /// weighted draw).
    pub(crate) weighted_in_env: usize,
    pub(crate) weighted_eligible: usize,
    /// Fewer than the panic threshold are eligible: picks balance over `in_env`.
    pub(crate) panic: bool,
    /// Calls in flight over all the service's endpoints (for the bounded-load rule).
    pub(crate) load: Arc<AtomicU32>,
    /// Endpoints ejected now (the outlier detector's limit is checked and taken on it).
    pub(crate) ejected: Arc<AtomicU32>,
    /// How `in_env` and `eligible` changed at each of the service's last publications (at
    /// most [`Service::LOG`]), oldest first: a filtered route applies them to its own list
    /// instead of filtering the whole list again.
    pub(crate) log: imbl::Vector<Arc<Delta>>,
    /// The writer's changes since the last publication (empty in published copies).
    pub(crate) pending: Vec<ListChange>,
}

/// The changes of one publication of a service.
#[derive(Debug)]
pub(crate) struct Delta {
    /// The service's revision before the publication: a route built at it applies this delta.
    pub(crate) since: u64,
    pub(crate) changes: Vec<ListChange>,
}

/// One endpoint added to or removed from one of a service's derived lists.
#[derive(Debug, Clone)]
pub(crate) struct ListChange {
    /// `in_env` (true) or `eligible` (false).
    pub(crate) in_env: bool,
    pub(crate) added: bool,
    pub(crate) endpoint: Arc<Endpoint>,
}

impl Service {
    /// How many publications the log keeps: a route further behind rebuilds its list.
    pub(crate) const LOG: usize = 64;

    /// The changes of the lists picks are made from since `revision` (in order), if the log
    /// reaches back to it and the service did not enter or leave panic mode meanwhile (then
    /// picks come from the other list). `None`: rebuild.
    pub(crate) fn changes_since(
        &self,
        revision: u64,
        panic: bool,
    ) -> Option<impl Iterator<Item = &ListChange>> {
        if panic != self.panic || revision == 0 {
            return None;
        }
        let start = self.log.iter().position(|delta| delta.since == revision)?;
        Some(
            self.log
                .iter()
                .skip(start)
                .flat_map(|delta| delta.changes.iter())
                .filter(move |change| change.in_env == panic),
        )
    }

    /// What balancers pick from: the eligible endpoints, or all of this environment's in
    /// panic; and whether any of them has a weight other than 1.
    pub(crate) fn pickable(&self) -> (&Endpoints, bool) {
        if self.panic {
            (&self.in_env, self.weighted_in_env > 0)
        } else {
            (&self.eligible, self.weighted_eligible > 0)
        }
    }

    /// The registered endpoint with `id`, in O(log² n).
    pub(crate) fn find(&self, id: &InstanceId) -> Option<&Arc<Endpoint>> {
        find(&self.endpoints, id)
            .ok()
            .map(|index| &self.endpoints[index])
    }
}

/// Where `id` is in `endpoints` (sorted by id), or where it would go.
pub(crate) fn find(endpoints: &Endpoints, id: &InstanceId) -> Result<usize, usize> {
    endpoints.binary_search_by(|endpoint| endpoint.instance.id.cmp(id))
}
