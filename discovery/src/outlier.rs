//! Passive health: outlier detection on the outcomes of `#[discover]` calls (Envoy's
//! consecutive-errors detector). Ejection lasts `base_ejection × times ejected` (capped, with
//! jitter; the count drops by one per `decay_interval` spent readmitted); never more than
//! `max_ejected_percent` of a service's instances are out; a readmitted instance is on
//! probation, and one failure ejects it again.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::discovery::{CallOutcome, Inner};
use crate::endpoint::{Ejection, Endpoint};

pub(crate) fn record(inner: &Arc<Inner>, endpoint: &Arc<Endpoint>, outcome: CallOutcome) {
    let config = &inner.config.outlier;
    if !config.enabled {
        return;
    }
    if outcome == CallOutcome::Success {
        endpoint.record_success();
    } else if endpoint.record_failure(config.consecutive_failures) {
        eject(inner, endpoint);
    }
}

fn eject(inner: &Arc<Inner>, endpoint: &Arc<Endpoint>) {
    let config = &inner.config.outlier;
    let service = &endpoint.instance.id.service;
    let catalog = inner.catalog.load();
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
    inner.refresh(service);
    readmit_after(inner, endpoint, duration);
}

fn readmit_after(inner: &Arc<Inner>, endpoint: &Arc<Endpoint>, duration: Duration) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        // Outcomes are reported from async calls, so a runtime is there; without one, readmit
        // at once rather than eject forever.
        readmit(inner, endpoint);
        return;
    };
    let (inner, endpoint) = (Arc::downgrade(inner), Arc::downgrade(endpoint));
    runtime.spawn(async move {
        tokio::time::sleep(duration).await;
        if let (Some(inner), Some(endpoint)) = (inner.upgrade(), endpoint.upgrade()) {
            readmit(&inner, &endpoint);
        }
    });
}

fn readmit(inner: &Inner, endpoint: &Endpoint) {
    endpoint.mark_readmitted();
    endpoint.on_probation.store(true, Ordering::Release);
    let catalog = inner.catalog.load();
    let entry = catalog.services.get(&endpoint.instance.id.service);
    if !endpoint.end_ejection(entry.map(|entry| &*entry.ejected)) {
        return; // Deregistered (or replaced) meanwhile, which released its place already.
    }
    tracing::info!(target: "resilience::discovery", instance = %endpoint.instance.id, "instance readmitted on probation");
    inner.refresh(&endpoint.instance.id.service);
}
