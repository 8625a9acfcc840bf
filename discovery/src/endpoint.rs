//! One registered instance with its live state: health, ejection, in-flight calls and latency.
//! Everything that changes per call is an atomic, so picks and reports take no lock.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use crate::instance::{Attributes, Instance};
use crate::sync::{AtomicBool, AtomicU32, AtomicU64};

/// Linkerd's defaults for peak-EWMA: the estimate before any sample, and the decay time.
pub(crate) const DEFAULT_RTT: Duration = Duration::from_millis(30);
pub(crate) const DECAY: Duration = Duration::from_secs(10);

/// A registered instance and its live state.
///
/// Laid out for picks: the fields a balancer reads and writes on every call come first, right
/// after the `Arc`'s counts (which a pick also touches), so a candidate costs one or two cache
/// lines whatever the size of the instance's metadata. (Aligning the struct to a line would
/// push it a whole line away from those counts.)
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
    /// Times ejected, decayed (ejection length grows with it).
    pub(crate) times_ejected: AtomicU32,
    /// When it was last readmitted, in nanoseconds since `origin` (0: never ejected).
    readmitted_at: AtomicU64,
    origin: Instant,
    /// Whether the writer counted it healthy and listed it eligible in its service's last
    /// state (written under the writer's lock only, so a change of `healthy` or `ejected` is
    /// applied to the lists exactly once).
    pub(crate) listed_healthy: std::sync::atomic::AtomicBool,
    pub(crate) listed_eligible: std::sync::atomic::AtomicBool,
    pub(crate) instance: Instance,
    pub(crate) attributes: Attributes,
    /// `http://host:port`, built once (a call's `ServiceClient` borrows it).
    base_url: Box<str>,
}

impl Endpoint {
    pub(crate) fn new(
        instance: Instance,
        attributes: Attributes,
        service_load: Arc<AtomicU32>,
    ) -> Arc<Endpoint> {
        Arc::new(Endpoint {
            base_url: instance.base_url().into_boxed_str(),
            weight: attributes.weight,
            instance,
            attributes,
            healthy: AtomicBool::new(true),
            ejected: AtomicBool::new(false),
            consecutive_failures: AtomicU32::new(0),
            times_ejected: AtomicU32::new(0),
            readmitted_at: AtomicU64::new(0),
            on_probation: AtomicBool::new(false),
            in_flight: AtomicU32::new(0),
            service_load,
            ewma_nanos: AtomicU64::new((DEFAULT_RTT.as_nanos() as f64).to_bits()),
            ewma_stamp: AtomicU64::new(0),
            origin: Instant::now(),
            listed_healthy: std::sync::atomic::AtomicBool::new(false),
            listed_eligible: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The instance as registered.
    pub fn instance(&self) -> &Instance {
        &self.instance
    }

    /// The instance's base URL, `http://host:port` (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base_url
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
        self.nanos_at(Instant::now())
    }

    /// `at` in nanoseconds since the endpoint was created.
    fn nanos_at(&self, at: Instant) -> u64 {
        nanos(at.saturating_duration_since(self.origin))
    }

    /// The estimate as of now: it decays towards nothing between samples only through new
    /// samples (Linkerd's peak-EWMA decays at sample time), so reading is one load.
    fn ewma_now(&self) -> f64 {
        f64::from_bits(self.ewma_nanos.load(Ordering::Relaxed))
    }

    /// Feeds one latency observed at `at`: a slower sample replaces the estimate at once (the
    /// peak), a faster one decays in with weight `1 − exp(−Δt / decay)`.
    pub(crate) fn observe_latency(&self, rtt: Duration, at: Instant) {
        let now = self.nanos_at(at);
        let sample = nanos(rtt) as f64;
        let last = self.ewma_stamp.swap(now, Ordering::Relaxed);
        let _ = self
            .ewma_nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                let estimate = f64::from_bits(bits);
                let next = if sample > estimate {
                    sample
                } else {
                    let weight = decay_weight(now.saturating_sub(last) as f64);
                    estimate + (sample - estimate) * weight
                };
                Some(next.to_bits())
            });
    }

    /// Starts the latency estimate at `estimate` (a new endpoint joining a service whose
    /// instances already have estimates: at their mean, so that P2C does not pass it over for
    /// every established instance until those slow down).
    pub(crate) fn seed_latency(&self, estimate: f64) {
        if estimate.is_finite() && estimate > 0.0 {
            self.ewma_nanos.store(estimate.to_bits(), Ordering::Relaxed);
        }
    }

    /// The raw latency estimate in nanoseconds.
    pub(crate) fn latency_nanos(&self) -> f64 {
        self.ewma_now()
    }

    /// A call on it succeeded: the run of failures ends, and so does probation.
    pub(crate) fn record_success(&self) {
        self.consecutive_failures.store(0, Ordering::Relaxed);
        self.on_probation.store(false, Ordering::Relaxed);
    }

    /// A call on it failed. True when it should now be ejected: `threshold` consecutive
    /// failures, or one while on probation, and not ejected already.
    pub(crate) fn record_failure(&self, threshold: u32) -> bool {
        let failures = self.consecutive_failures.fetch_add(1, Ordering::AcqRel) + 1;
        let probation = self.on_probation.load(Ordering::Acquire);
        (failures >= threshold || probation) && !self.is_ejected()
    }

    /// Ejects it, taking a place in its service's count of ejected endpoints (`ejected`) only
    /// while fewer than `limit` are taken: the place is taken with one compare-and-swap, so
    /// concurrent ejections cannot together pass the limit, and given back if another caller
    /// ejected this endpoint first. So `ejected` always counts the endpoints marked ejected.
    ///
    /// The count of ejections it returns first drops by one for every `decay` that passed since
    /// the last readmission (only the caller that ejects writes it).
    pub(crate) fn eject(&self, ejected: &AtomicU32, limit: usize, decay: Duration) -> Ejection {
        let taken = ejected.fetch_update(Ordering::AcqRel, Ordering::Acquire, |count| {
            ((count as usize) < limit).then_some(count + 1)
        });
        if taken.is_err() {
            return Ejection::AtLimit;
        }
        if self.ejected.swap(true, Ordering::AcqRel) {
            ejected.fetch_sub(1, Ordering::AcqRel);
            return Ejection::AlreadyEjected;
        }
        let stayed = self
            .elapsed_nanos()
            .saturating_sub(self.readmitted_at.load(Ordering::Relaxed));
        let decayed = match nanos(decay) {
            0 => u32::MAX,
            decay => u32::try_from(stayed / decay).unwrap_or(u32::MAX),
        };
        let times = self
            .times_ejected
            .load(Ordering::Acquire)
            .saturating_sub(decayed)
            .saturating_add(1);
        self.times_ejected.store(times, Ordering::Release);
        self.consecutive_failures.store(0, Ordering::Relaxed);
        self.on_probation.store(false, Ordering::Relaxed);
        Ejection::Ejected { times }
    }

    /// Notes a readmission now: the count of ejections decays from here.
    pub(crate) fn mark_readmitted(&self) {
        self.readmitted_at
            .store(self.elapsed_nanos(), Ordering::Relaxed);
    }

    /// Ends its ejection (readmitted, deregistered or replaced), giving its place in `ejected`
    /// back. False if it was not ejected (another caller ended the ejection first).
    pub(crate) fn end_ejection(&self, ejected: Option<&AtomicU32>) -> bool {
        if !self.ejected.swap(false, Ordering::AcqRel) {
            return false;
        }
        if let Some(ejected) = ejected {
            ejected.fetch_sub(1, Ordering::AcqRel);
        }
        true
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

/// The values the atomics hold, as they read (the latency estimate is stored as `f64` bits,
/// instants as nanoseconds since the endpoint was created): what a reader of a log needs.
impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let since_creation = |nanos: u64| Duration::from_nanos(nanos);
        let readmitted_at = match self.readmitted_at.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(since_creation(nanos)),
        };
        f.debug_struct("Endpoint")
            .field("instance", &self.instance)
            .field("base_url", &self.base_url)
            .field("weight", &self.weight)
            .field("in_flight", &self.in_flight())
            .field(
                "service_in_flight",
                &self.service_load.load(Ordering::Relaxed),
            )
            .field("latency_estimate", &self.latency_estimate())
            .field(
                "latency_sampled_at",
                &since_creation(self.ewma_stamp.load(Ordering::Relaxed)),
            )
            .field("healthy", &self.is_healthy())
            .field("ejected", &self.is_ejected())
            .field("on_probation", &self.on_probation.load(Ordering::Relaxed))
            .field(
                "consecutive_failures",
                &self.consecutive_failures.load(Ordering::Relaxed),
            )
            .field("times_ejected", &self.times_ejected.load(Ordering::Relaxed))
            .field("readmitted_at", &readmitted_at)
            .field("attributes", &self.attributes)
            .finish_non_exhaustive()
    }
}

/// A duration in whole nanoseconds, saturating (584 years); cheaper than `as_nanos`' `u128`.
#[inline]
fn nanos(duration: Duration) -> u64 {
    duration
        .as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(duration.subsec_nanos()))
}

/// What [`Endpoint::eject`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ejection {
    /// Ejected, for the `times`-th time.
    Ejected { times: u32 },
    /// Not ejected: the service is at its ejection limit.
    AtLimit,
    /// Not ejected again: another caller ejected it first.
    AlreadyEjected,
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

/// `1 − exp(−Δt / DECAY)` for `Δt` in nanoseconds: a sample's weight in the estimate. Between
/// calls made close together (Δt ≪ DECAY, the case of every busy instance) a Taylor polynomial,
/// equal to `exp_m1`'s value within 10^-10 of it (a test checks), at a fraction of its cost
/// (`exp_m1` was about a tenth of `#[discover]`'s per-call time); otherwise `exp_m1`.
#[inline]
fn decay_weight(dt_nanos: f64) -> f64 {
    let x = dt_nanos / (DECAY.as_secs_f64() * 1e9);
    if x < 1e-3 {
        x * (1.0 - x * (0.5 - x * (1.0 / 6.0)))
    } else {
        -(-x).exp_m1()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_decay_weight_is_exp_m1s_within_1e_10_of_it() {
        let decay = super::DECAY.as_secs_f64() * 1e9;
        let mut dt = 1.0;
        while dt < decay * 50.0 {
            let exact = -(-dt / decay).exp_m1();
            let fast = decay_weight(dt);
            assert!(
                (fast - exact).abs() <= exact * 1e-10,
                "dt = {dt} ns: {fast} against {exact}"
            );
            dt *= 1.37;
        }
        assert_eq!(decay_weight(0.0), 0.0);
    }

    fn endpoint() -> Arc<Endpoint> {
        let instance = Instance::new("prices", "a", "127.0.0.1", 8081);
        let attributes = instance.attributes().unwrap();
        Endpoint::new(instance, attributes, Arc::new(AtomicU32::new(0)))
    }

    #[test]
    fn debug_shows_the_latency_estimate_as_a_duration_not_as_f64_bits() {
        let endpoint = endpoint();
        endpoint.observe_latency(Duration::from_millis(50), Instant::now());
        let _call = endpoint.begin();
        let debug = format!("{endpoint:?}");
        assert!(debug.contains("latency_estimate: 50ms"), "{debug}");
        let bits = (50_000_000_f64).to_bits().to_string();
        assert!(!debug.contains(&bits), "raw f64 bits in {debug}");
        assert!(debug.contains("in_flight: 1"), "{debug}");
        assert!(debug.contains("service_in_flight: 1"), "{debug}");
        assert!(debug.contains("healthy: true"), "{debug}");
        assert!(
            debug.contains(r#"base_url: "http://127.0.0.1:8081""#),
            "{debug}"
        );
    }
}

/// Every interleaving of the per-call counters (`scripts/test` builds this crate alone with
/// `--cfg loom`; see `sync.rs`).
#[cfg(all(test, loom))]
pub(crate) mod loom {
    use std::sync::Arc;
    use std::time::Duration;

    use ::loom::thread;
    use tokio::time::Instant;

    use super::{Ejection, Endpoint};
    use crate::instance::Instance;
    use crate::sync::AtomicU32;
    use std::sync::atomic::Ordering;

    /// Endpoints `0`, `1`, … of one service, sharing its load counter.
    pub(crate) fn endpoints(count: usize) -> (Vec<Arc<Endpoint>>, Arc<AtomicU32>) {
        let load = Arc::new(AtomicU32::new(0));
        let endpoints = (0..count)
            .map(|index| {
                let instance =
                    Instance::new("svc", format!("{index}"), "127.0.0.1", 8080 + index as u16);
                let attributes = instance.attributes().unwrap();
                Endpoint::new(instance, attributes, Arc::clone(&load))
            })
            .collect();
        (endpoints, load)
    }

    const DECAY: Duration = Duration::from_secs(10);

    /// Endpoints marked ejected: what the service's ejection count must equal once quiescent.
    fn marked(endpoints: &[Arc<Endpoint>]) -> u32 {
        endpoints.iter().filter(|e| e.is_ejected()).count() as u32
    }

    #[test]
    fn concurrent_calls_leave_in_flight_and_the_service_load_at_zero() {
        ::loom::model(|| {
            let (endpoints, load) = endpoints(1);
            // One caller checks the counts while it is in flight; the other only comes and goes.
            let threads: Vec<_> = [true, false]
                .into_iter()
                .map(|checks| {
                    let (endpoint, load) = (Arc::clone(&endpoints[0]), Arc::clone(&load));
                    thread::spawn(move || {
                        let call = endpoint.begin();
                        if checks {
                            let (own, total) = (endpoint.in_flight(), load.load(Ordering::Relaxed));
                            assert!((1..=2).contains(&own), "{own} in flight on the endpoint");
                            assert!((1..=2).contains(&total), "{total} in flight in the service");
                        }
                        drop(call);
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            assert_eq!(endpoints[0].in_flight(), 0);
            assert_eq!(load.load(Ordering::Relaxed), 0);
        });
    }

    #[test]
    fn concurrent_ejections_never_pass_the_limit() {
        ::loom::model(|| {
            // Two endpoints at 50 %: one place.
            let (endpoints, _) = endpoints(2);
            let ejected = Arc::new(AtomicU32::new(0));
            let threads: Vec<_> = endpoints
                .iter()
                .map(|endpoint| {
                    let (endpoint, ejected) = (Arc::clone(endpoint), Arc::clone(&ejected));
                    thread::spawn(move || {
                        let outcome = endpoint.eject(&ejected, 1, DECAY);
                        let seen = ejected.load(Ordering::Acquire);
                        assert!(seen <= 1, "{seen} ejected, the limit is 1");
                        outcome
                    })
                })
                .collect();
            let outcomes: Vec<Ejection> = threads.into_iter().map(|t| t.join().unwrap()).collect();
            let taken = outcomes
                .iter()
                .filter(|o| matches!(o, Ejection::Ejected { times: 1 }))
                .count();
            assert_eq!(taken, 1, "exactly one ejection: {outcomes:?}");
            assert!(outcomes.contains(&Ejection::AtLimit));
            assert_eq!(ejected.load(Ordering::Acquire), 1);
            assert_eq!(marked(&endpoints), 1);
        });
    }

    #[test]
    fn failures_racing_at_the_threshold_eject_once() {
        ::loom::model(|| {
            // Room for two ejections, so only the race on the one endpoint decides.
            let (endpoints, _) = endpoints(1);
            let ejected = Arc::new(AtomicU32::new(0));
            let endpoint = &endpoints[0];
            endpoint.record_failure(3);
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let (endpoint, ejected) = (Arc::clone(endpoint), Arc::clone(&ejected));
                    thread::spawn(move || {
                        endpoint
                            .record_failure(3)
                            .then(|| endpoint.eject(&ejected, 2, DECAY))
                    })
                })
                .collect();
            let outcomes: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
            let ejections = outcomes
                .iter()
                .filter(|o| matches!(o, Some(Ejection::Ejected { .. })))
                .count();
            assert_eq!(ejections, 1, "the third failure ejects, once: {outcomes:?}");
            assert!(endpoint.is_ejected());
            assert_eq!(endpoint.times_ejected.load(Ordering::Acquire), 1);
            assert_eq!(ejected.load(Ordering::Acquire), 1);
        });
    }

    #[test]
    fn an_ejection_racing_a_readmission_keeps_the_count_equal_to_the_ejected() {
        ::loom::model(|| {
            // `a` is ejected and holds the only place; `b` is ejected while `a` comes back.
            let (endpoints, _) = endpoints(2);
            let ejected = Arc::new(AtomicU32::new(0));
            assert_eq!(
                endpoints[0].eject(&ejected, 1, DECAY),
                Ejection::Ejected { times: 1 }
            );
            let readmission = {
                let (a, ejected) = (Arc::clone(&endpoints[0]), Arc::clone(&ejected));
                thread::spawn(move || a.end_ejection(Some(&ejected)))
            };
            let ejection = {
                let (b, ejected) = (Arc::clone(&endpoints[1]), Arc::clone(&ejected));
                thread::spawn(move || b.eject(&ejected, 1, DECAY))
            };
            assert!(readmission.join().unwrap());
            let outcome = ejection.join().unwrap();
            assert!(
                matches!(outcome, Ejection::Ejected { .. } | Ejection::AtLimit),
                "{outcome:?}"
            );
            assert_eq!(ejected.load(Ordering::Acquire), marked(&endpoints));
            assert!(!endpoints[0].is_ejected());
        });
    }

    #[test]
    fn an_ejection_racing_two_ends_of_it_gives_its_place_back_once() {
        ::loom::model(|| {
            // One endpoint, ejected by a caller while its deregistration and its readmission
            // timer both end the ejection.
            let (endpoints, _) = endpoints(1);
            let ejected = Arc::new(AtomicU32::new(0));
            let endpoint = &endpoints[0];
            let ejection = {
                let (endpoint, ejected) = (Arc::clone(endpoint), Arc::clone(&ejected));
                thread::spawn(move || endpoint.eject(&ejected, 1, DECAY))
            };
            let ends: Vec<_> = (0..2)
                .map(|_| {
                    let (endpoint, ejected) = (Arc::clone(endpoint), Arc::clone(&ejected));
                    thread::spawn(move || endpoint.end_ejection(Some(&ejected)))
                })
                .collect();
            assert_eq!(ejection.join().unwrap(), Ejection::Ejected { times: 1 });
            let ended = ends
                .into_iter()
                .map(|t| t.join().unwrap())
                .filter(|&ended| ended)
                .count() as u32;
            assert!(ended <= 1, "an ejection ends once, ended {ended} times");
            let count = ejected.load(Ordering::Acquire);
            assert_eq!(count, marked(&endpoints));
            assert_eq!(
                count + ended,
                1,
                "the place is held or was given back, once"
            );
        });
    }

    #[test]
    fn concurrent_latency_samples_keep_the_peak() {
        ::loom::model(|| {
            let (endpoints, _) = endpoints(1);
            let threads: Vec<_> = [50, 40]
                .into_iter()
                .map(|millis| {
                    let endpoint = Arc::clone(&endpoints[0]);
                    thread::spawn(move || {
                        endpoint.observe_latency(Duration::from_millis(millis), Instant::now())
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            // Both samples exceed the 30 ms seed; whichever lands last, the 50 ms peak stays
            // (a faster sample decays in over seconds, and microseconds passed here).
            let estimate = endpoints[0].latency_estimate();
            assert!(
                estimate.abs_diff(Duration::from_millis(50)) < Duration::from_millis(1),
                "estimate {estimate:?}"
            );
        });
    }
}
