//! Passive health: outlier detection on the outcomes of `#[discover]` calls (Envoy's
//! consecutive-errors detector). Ejection lasts `base_ejection × times ejected` (capped, with
//! jitter; the count drops by one per `decay_interval` spent readmitted); never more than
//! `max_ejected_percent` of a service's instances are out; a readmitted instance is on
//! probation, and one failure ejects it again.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::catalog::Catalog;
use crate::config::OutlierConfig;
use crate::endpoint::{Ejection, Endpoint};

/// How a call through a picked instance ended, for passive health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// The call succeeded.
    Success,
    /// The call failed.
    Failure,
    /// The call timed out or was cancelled.
    Timeout,
}

/// The services whose endpoints the detector ejects: what it reads, and how it publishes a
/// service again once an endpoint is ejected or readmitted. The discovery's shared state
/// implements it, so this module needs nothing from `discovery.rs`, which calls it.
pub(crate) trait Services: Send + Sync + 'static {
    /// The detector's configuration (`DiscoveryConfig::outlier`).
    fn outlier_config(&self) -> &OutlierConfig;
    /// The current catalog.
    fn catalog(&self) -> arc_swap::Guard<Arc<Catalog>>;
    /// Publishes a new catalog revision with `service`'s entry rebuilt.
    fn refresh(&self, service: &str);
}

/// Feeds one call's outcome to `endpoint`'s detector, ejecting it at the threshold.
pub(crate) fn record<S: Services>(
    services: &Arc<S>,
    endpoint: &Arc<Endpoint>,
    outcome: CallOutcome,
) {
    let config = services.outlier_config();
    if !config.enabled {
        return;
    }
    if outcome == CallOutcome::Success {
        endpoint.record_success();
    } else if endpoint.record_failure(config.consecutive_failures) {
        eject(services, endpoint);
    }
}

fn eject<S: Services>(services: &Arc<S>, endpoint: &Arc<Endpoint>) {
    let config = services.outlier_config();
    let service = &endpoint.instance.id.service;
    let catalog = services.catalog();
    let Some(entry) = catalog.services.get(service) else {
        return; // Deregistered meanwhile.
    };
    if !Arc::ptr_eq(
        entry
            .endpoints
            .iter()
            .find(|e| e.instance.id == endpoint.instance.id)
            .unwrap_or(endpoint),
        endpoint,
    ) {
        return; // Replaced or deregistered meanwhile: a stale report.
    }
    let limit = entry.endpoints.len() * config.max_ejected_percent as usize / 100;
    let times = match endpoint.eject(&entry.ejected, limit, config.decay_interval) {
        Ejection::Ejected { times } => times,
        Ejection::AtLimit => {
            tracing::debug!(target: "resilience::discovery", instance = %endpoint.instance.id, "not ejecting: the service is at its ejection limit");
            return;
        }
        Ejection::AlreadyEjected => return,
    };
    let nominal = config
        .base_ejection
        .saturating_mul(times)
        .min(config.max_ejection);
    let jitter = nominal.mul_f64(config.jitter_factor * fastrand::f64());
    let duration = (nominal + jitter).min(config.max_ejection.max(nominal));
    tracing::info!(target: "resilience::discovery", instance = %endpoint.instance.id, ?duration, times, "instance ejected");
    services.refresh(service);
    readmit_after(services, endpoint, duration);
}

fn readmit_after<S: Services>(services: &Arc<S>, endpoint: &Arc<Endpoint>, duration: Duration) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        // Outcomes are reported from async calls, so a runtime is there; without one, readmit
        // at once rather than eject forever.
        readmit(&**services, endpoint);
        return;
    };
    let (services, endpoint) = (Arc::downgrade(services), Arc::downgrade(endpoint));
    runtime.spawn(async move {
        tokio::time::sleep(duration).await;
        if let (Some(services), Some(endpoint)) = (services.upgrade(), endpoint.upgrade()) {
            readmit(&*services, &endpoint);
        }
    });
}

fn readmit(services: &impl Services, endpoint: &Endpoint) {
    endpoint.mark_readmitted();
    endpoint.on_probation.store(true, Ordering::Release);
    let catalog = services.catalog();
    let entry = catalog.services.get(&endpoint.instance.id.service);
    if !endpoint.end_ejection(entry.map(|entry| &*entry.ejected)) {
        return; // Deregistered (or replaced) meanwhile, which released its place already.
    }
    tracing::info!(target: "resilience::discovery", instance = %endpoint.instance.id, "instance readmitted on probation");
    services.refresh(&endpoint.instance.id.service);
}
