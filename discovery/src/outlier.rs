//! Passive health: outlier detection on the outcomes of `#[discover]` calls (Envoy's
//! consecutive-errors detector). Ejection lasts `base_ejection × times ejected` (capped, with
//! jitter); never more than `max_ejected_percent` of a service's instances are out; a readmitted
//! instance is on probation, and one failure ejects it again.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::discovery::{CallOutcome, Inner};
use crate::endpoint::Endpoint;

pub(crate) fn record(inner: &Arc<Inner>, endpoint: &Arc<Endpoint>, outcome: CallOutcome) {
    let config = &inner.config.outlier;
    if !config.enabled {
        return;
    }
    if outcome == CallOutcome::Success {
        endpoint.consecutive_failures.store(0, Ordering::Relaxed);
        endpoint.on_probation.store(false, Ordering::Relaxed);
        return;
    }
    let failures = endpoint.consecutive_failures.fetch_add(1, Ordering::AcqRel) + 1;
    let probation = endpoint.on_probation.load(Ordering::Acquire);
    if (failures >= config.consecutive_failures || probation) && !endpoint.is_ejected() {
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
    // Take a place in the ejection limit atomically, so concurrent ejections cannot together
    // pass it.
    let total = entry.endpoints.len();
    let limit = total * config.max_ejected_percent as usize / 100;
    let taken = entry
        .ejected
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |ejected| {
            ((ejected as usize) < limit).then_some(ejected + 1)
        });
    if taken.is_err() {
        tracing::debug!(target: "resilience::discovery", instance = %endpoint.instance.id, "not ejecting: the service is at its ejection limit");
        return;
    }
    if endpoint.ejected.swap(true, Ordering::AcqRel) {
        entry.ejected.fetch_sub(1, Ordering::AcqRel);
        return; // Another caller ejected it first.
    }
    let times = endpoint.times_ejected.fetch_add(1, Ordering::AcqRel) + 1;
    let nominal = config
        .base_ejection
        .saturating_mul(times)
        .min(config.max_ejection);
    let jitter = nominal.mul_f64(config.jitter_factor * fastrand::f64());
    let duration = (nominal + jitter).min(config.max_ejection.max(nominal));
    endpoint.consecutive_failures.store(0, Ordering::Relaxed);
    endpoint.on_probation.store(false, Ordering::Relaxed);
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
    endpoint.on_probation.store(true, Ordering::Release);
    if !endpoint.ejected.swap(false, Ordering::AcqRel) {
        return; // Deregistered (or replaced) meanwhile, which released its place already.
    }
    if let Some(entry) = inner
        .catalog
        .load()
        .services
        .get(&endpoint.instance.id.service)
    {
        entry.ejected.fetch_sub(1, Ordering::AcqRel);
    }
    tracing::info!(target: "resilience::discovery", instance = %endpoint.instance.id, "instance readmitted on probation");
    inner.refresh(&endpoint.instance.id.service);
}
