//! Passive health: outlier detection on the outcomes of `#[discover]` calls (Envoy's
//! consecutive-errors detector). Ejection lasts `base_ejection × times ejected` (capped, with
//! jitter; the count drops by one per `decay_interval` spent readmitted), from a deadline fixed
//! at the ejection; never more than `max_ejected_percent` of a service's *healthy* instances
//! are out, and never the last healthy one (an ejection never causes an outage); a readmitted
//! instance is on probation, and one failure ejects it again.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::catalog::Catalog;
use crate::config::OutlierConfig;
use crate::endpoint::{Ejection, Endpoint};
use tokio::time::Instant;

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
    /// The detector's configuration (`DiscoveryConfig::outlier`, validated).
    fn outlier_config(&self) -> &OutlierConfig;
    /// The current catalog.
    fn catalog(&self) -> arc_swap::Guard<Arc<Catalog>>;
    /// Publishes `endpoint`'s service again with its ejection applied.
    fn refresh(&self, endpoint: &Arc<Endpoint>);
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

/// How many of a service's endpoints may be ejected at once when `healthy` of them pass their
/// health checks: `max_percent` of those, and never all of them, so at least one healthy
/// endpoint is never ejected.
pub(crate) fn ejection_limit(healthy: usize, max_percent: u32) -> usize {
    let share = healthy.saturating_mul(max_percent.min(100) as usize) / 100;
    share.min(healthy.saturating_sub(1))
}

/// How long the `times`-th ejection lasts: `base × times`, at most `max`, lengthened by a
/// random share up to `jitter_factor` (never past `max`, unless `base` alone is longer).
/// Saturating: no value of the configuration overflows or panics.
pub(crate) fn ejection_length(config: &OutlierConfig, times: u32) -> Duration {
    let nominal = config
        .base_ejection
        .saturating_mul(times)
        .min(config.max_ejection);
    let factor = if config.jitter_factor.is_finite() {
        config.jitter_factor.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let jitter = Duration::try_from_secs_f64(nominal.as_secs_f64() * factor * fastrand::f64())
        .unwrap_or(Duration::ZERO);
    nominal
        .saturating_add(jitter)
        .min(config.max_ejection.max(nominal))
}

fn eject<S: Services>(services: &Arc<S>, endpoint: &Arc<Endpoint>) {
    let config = services.outlier_config();
    let id = &endpoint.instance.id;
    let catalog = services.catalog();
    let Some(entry) = catalog.services.get(&id.service) else {
        return; // Deregistered meanwhile.
    };
    if !entry
        .find(id)
        .is_some_and(|current| Arc::ptr_eq(current, endpoint))
    {
        return; // Replaced or deregistered meanwhile: a stale report.
    }
    let limit = ejection_limit(entry.healthy, config.max_ejected_percent);
    let times = match endpoint.eject(&entry.ejected, limit, config.decay_interval) {
        Ejection::Ejected { times } => times,
        Ejection::AtLimit => {
            tracing::debug!(target: "resilience::discovery", instance = %id, limit, "not ejecting: the service is at its ejection limit");
            return;
        }
        Ejection::AlreadyEjected => return,
    };
    drop(catalog);
    // The deadline is fixed now, at the ejection: however late the timer task first runs,
    // the instance is out for `duration`, not longer.
    let duration = ejection_length(config, times);
    let deadline = deadline_after(Instant::now(), duration);
    tracing::info!(target: "resilience::discovery", instance = %id, ?duration, times, "instance ejected");
    #[cfg(feature = "metrics")]
    metrics::counter!("resilience_discovery_ejections_total", "service" => id.service.clone())
        .increment(1);
    resilience_runtime::events::emit(|| resilience_runtime::events::Event::InstanceEjected {
        service: id.service.clone(),
        instance: id.id.clone(),
        duration,
    });
    services.refresh(endpoint);
    readmit_at(services, endpoint, deadline);
}

/// `now + duration`, or about 30 years from now when that overflows (tokio's "far future").
pub(crate) fn deadline_after(now: Instant, duration: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);
    now.checked_add(duration.min(FAR))
        .unwrap_or_else(|| now + Duration::from_secs(86_400))
}

fn readmit_at<S: Services>(services: &Arc<S>, endpoint: &Arc<Endpoint>, deadline: Instant) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        // Outcomes are reported from async calls, so a runtime is there; without one, readmit
        // at once rather than eject forever.
        readmit(&**services, endpoint);
        return;
    };
    let (services, endpoint) = (Arc::downgrade(services), Arc::downgrade(endpoint));
    runtime.spawn(async move {
        tokio::time::sleep_until(deadline).await;
        if let (Some(services), Some(endpoint)) = (services.upgrade(), endpoint.upgrade()) {
            readmit(&*services, &endpoint);
        }
    });
}

fn readmit(services: &impl Services, endpoint: &Arc<Endpoint>) {
    endpoint.mark_readmitted();
    endpoint.on_probation.store(true, Ordering::Release);
    let catalog = services.catalog();
    let entry = catalog.services.get(&endpoint.instance.id.service);
    if !endpoint.end_ejection(entry.map(|entry| &*entry.ejected)) {
        return; // Deregistered (or replaced) meanwhile, which released its place already.
    }
    drop(catalog);
    tracing::info!(target: "resilience::discovery", instance = %endpoint.instance.id, "instance readmitted on probation");
    services.refresh(endpoint);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ejection_limit_never_takes_the_last_healthy_endpoint() {
        assert_eq!(ejection_limit(0, 50), 0);
        assert_eq!(ejection_limit(1, 100), 0);
        assert_eq!(ejection_limit(2, 100), 1);
        assert_eq!(ejection_limit(4, 50), 2);
        assert_eq!(ejection_limit(3, 50), 1);
        assert!(ejection_limit(usize::MAX, u32::MAX) < usize::MAX);
    }

    #[test]
    fn ejection_lengths_saturate() {
        let config = OutlierConfig {
            base_ejection: Duration::MAX,
            max_ejection: Duration::MAX,
            jitter_factor: 1.0,
            ..OutlierConfig::default()
        };
        assert_eq!(ejection_length(&config, u32::MAX), Duration::MAX);
        let nan = OutlierConfig {
            jitter_factor: f64::NAN,
            ..OutlierConfig::default()
        };
        assert_eq!(ejection_length(&nan, 1), Duration::from_secs(30));
        let now = Instant::now();
        assert!(deadline_after(now, Duration::MAX) > now);
    }

    /// A finite ejection ends `duration` after now; an unbounded one at tokio's far future,
    /// 30 years on, exactly (a mutation run found nothing checking that bound).
    #[test]
    fn an_ejection_ends_after_its_duration_or_in_30_years() {
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        assert_eq!(deadline_after(now, minute) - now, minute);
        let thirty_years = Duration::from_secs(30 * 365 * 86_400);
        assert_eq!(deadline_after(now, Duration::MAX) - now, thirty_years);
        assert_eq!(deadline_after(now, thirty_years * 2) - now, thirty_years);
    }
}
