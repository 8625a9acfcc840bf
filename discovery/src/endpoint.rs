//! One registered instance with its live state: health, ejection, in-flight calls and latency.
//! Everything that changes per call is an atomic, so picks and reports take no lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::instance::{Attributes, Instance};

/// Linkerd's defaults for peak-EWMA: the estimate before any sample, and the decay time.
pub(crate) const DEFAULT_RTT: Duration = Duration::from_millis(30);
pub(crate) const DECAY: Duration = Duration::from_secs(10);

/// A registered instance and its live state.
///
/// Laid out for picks: the fields a balancer reads and writes on every call come first, right
/// after the `Arc`'s counts (which a pick also touches), so a candidate costs one or two cache
/// lines whatever the size of the instance's metadata. (Aligning the struct to a line would
/// push it a whole line away from those counts.)
#[derive(Debug)]
#[repr(C)]
pub struct Endpoint {
    in_flight: AtomicU32,
    weight: u32,
    /// Peak-EWMA latency estimate in nanoseconds (f64 bits) and when it was last updated.
    ewma_nanos: AtomicU64,
    ewma_stamp: AtomicU64,
    /// The service's total in flight, shared by its endpoints.
    service_load: Arc<AtomicU32>,
    /// Active health: false after `unhealthy_threshold` failed checks.
    pub(crate) healthy: AtomicBool,
    /// Passive health: ejected by the outlier detector.
    pub(crate) ejected: AtomicBool,
    /// Readmitted after an ejection and not yet proven: one failure ejects again.
    pub(crate) on_probation: AtomicBool,
    /// Consecutive failed calls (outlier detection).
    pub(crate) consecutive_failures: AtomicU32,
    /// Times ejected so far (ejection length grows with it).
    pub(crate) times_ejected: AtomicU32,
    origin: Instant,
    pub(crate) instance: Instance,
    pub(crate) attributes: Attributes,
}

impl Endpoint {
    pub(crate) fn new(
        instance: Instance,
        attributes: Attributes,
        service_load: Arc<AtomicU32>,
    ) -> Arc<Endpoint> {
        Arc::new(Endpoint {
            weight: attributes.weight,
            instance,
            attributes,
            healthy: AtomicBool::new(true),
            ejected: AtomicBool::new(false),
            consecutive_failures: AtomicU32::new(0),
            times_ejected: AtomicU32::new(0),
            on_probation: AtomicBool::new(false),
            in_flight: AtomicU32::new(0),
            service_load,
            ewma_nanos: AtomicU64::new((DEFAULT_RTT.as_nanos() as f64).to_bits()),
            ewma_stamp: AtomicU64::new(0),
            origin: Instant::now(),
        })
    }

    /// The instance as registered.
    pub fn instance(&self) -> &Instance {
        &self.instance
    }

    /// The instance's weight (metadata `weight`, default 1).
    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// Calls in flight now.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Whether active health checks currently pass.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    /// Whether the outlier detector has ejected it.
    pub fn is_ejected(&self) -> bool {
        self.ejected.load(Ordering::Acquire)
    }

    /// Healthy and not ejected.
    pub fn is_eligible(&self) -> bool {
        self.is_healthy() && !self.is_ejected()
    }

    /// The peak-EWMA latency estimate, decayed to now.
    pub fn latency_estimate(&self) -> Duration {
        Duration::from_nanos(self.ewma_now() as u64)
    }

    /// Peak-EWMA cost: latency estimate × (in-flight + 1).
    pub(crate) fn cost(&self) -> f64 {
        self.ewma_now() * f64::from(self.in_flight() + 1)
    }

    fn elapsed_nanos(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The estimate as of now: it decays towards nothing between samples only through new
    /// samples (Linkerd's peak-EWMA decays at sample time), so reading is one load.
    fn ewma_now(&self) -> f64 {
        f64::from_bits(self.ewma_nanos.load(Ordering::Relaxed))
    }

    /// Feeds one observed latency: a slower sample replaces the estimate at once (the peak), a
    /// faster one decays in with weight `1 − exp(−Δt / decay)`.
    pub(crate) fn observe_latency(&self, rtt: Duration) {
        let now = self.elapsed_nanos();
        let sample = rtt.as_nanos() as f64;
        let last = self.ewma_stamp.swap(now, Ordering::Relaxed);
        let _ = self
            .ewma_nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                let estimate = f64::from_bits(bits);
                let next = if sample > estimate {
                    sample
                } else {
                    let dt = now.saturating_sub(last) as f64;
                    let weight = 1.0 - (-dt / DECAY.as_nanos() as f64).exp();
                    estimate + (sample - estimate) * weight
                };
                Some(next.to_bits())
            });
    }

    /// Counts one call in flight until the guard is dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.service_load.fetch_add(1, Ordering::Relaxed);
        InFlight {
            endpoint: Arc::clone(self),
            started: Instant::now(),
        }
    }
}

/// One call in flight on an endpoint; dropping it (the call finished, failed, timed out or was
/// cancelled) ends it.
#[derive(Debug)]
pub struct InFlight {
    endpoint: Arc<Endpoint>,
    started: Instant,
}

impl InFlight {
    /// The endpoint.
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }

    /// When the call started.
    pub fn started(&self) -> Instant {
        self.started
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.endpoint.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.endpoint.service_load.fetch_sub(1, Ordering::Relaxed);
    }
}
