//! Active health checks (Envoy's health checking): a background task probes every registered
//! instance of one service on an interval (HTTP, TCP connect, or a custom async check), and
//! marks an instance unhealthy after `unhealthy_threshold` consecutive failed checks and
//! healthy again after `healthy_threshold` consecutive passed ones.
//!
//! The checker only flips health flags through [`ServiceDiscovery::set_healthy`]; it never
//! touches the registry (registrations and leases are the owners' business) nor the outlier
//! detector's ejections.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::future::Future;
use std::ops::RangeInclusive;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::task::{AbortHandle, JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::discovery::ServiceDiscovery;
use crate::endpoint::Endpoint;
use crate::error::DiscoveryError;
use crate::id::InstanceId;
use crate::instance::Instance;
use crate::store::Change;

/// The health check function of [`HealthProbe::Custom`].
pub type CustomCheck =
    Arc<dyn Fn(Instance) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// What one health check does to an instance.
#[derive(Clone)]
#[non_exhaustive]
pub enum HealthProbe {
    /// `GET http://host:port{path}`: passes when the answer's status is in one of
    /// `expected_statuses` (redirects are not followed: a 3xx is the instance's answer).
    Http {
        /// The path requested, e.g. `"/health"`.
        path: String,
        /// Statuses that pass. Default `200..=299`.
        expected_statuses: Vec<RangeInclusive<u16>>,
    },
    /// Passes when a TCP connection to `host:port` is established (then closed at once).
    Tcp,
    /// Passes when the function answers `true`.
    Custom(CustomCheck),
}

impl fmt::Debug for HealthProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HealthProbe::Http {
                path,
                expected_statuses,
            } => f
                .debug_struct("Http")
                .field("path", path)
                .field("expected_statuses", expected_statuses)
                .finish(),
            HealthProbe::Tcp => f.write_str("Tcp"),
            HealthProbe::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// An active health check of a service's instances (Envoy's health checking): what to probe,
/// how often, and how many checks in a row change an instance's health.
///
/// ```
/// # use std::time::Duration;
/// # use resilience_discovery::HealthCheck;
/// let check = HealthCheck::http("/health")
///     .expected_statuses([200..=299, 429..=429])
///     .interval(Duration::from_secs(5))
///     .unhealthy_threshold(2);
/// ```
#[derive(Debug, Clone)]
pub struct HealthCheck {
    /// What one check does. Default: TCP connect.
    pub probe: HealthProbe,
    /// Time between the end of one check of an instance and the start of the next. Default
    /// `None`: the discovery's `health_check_interval` (10 s unless configured).
    pub interval: Option<Duration>,
    /// A check not finished within it fails. Default `None`: the discovery's
    /// `health_check_timeout` (2 s unless configured).
    pub timeout: Option<Duration>,
    /// Each wait is lengthened by a random share of the interval up to this fraction, and
    /// each instance's first check waits a random share of the interval up to it (Envoy's
    /// initial jitter), so a fleet is not checked in lockstep. Default 0.1.
    pub jitter_factor: f64,
    /// Consecutive failed checks that make a healthy instance unhealthy. Default 3.
    pub unhealthy_threshold: u32,
    /// Consecutive passed checks that make an unhealthy instance healthy again. Default 2.
    pub healthy_threshold: u32,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            probe: HealthProbe::Tcp,
            interval: None,
            timeout: None,
            jitter_factor: 0.1,
            unhealthy_threshold: 3,
            healthy_threshold: 2,
        }
    }
}

impl HealthCheck {
    /// An HTTP check: `GET path` must answer a status in `200..=299`.
    pub fn http(path: impl Into<String>) -> Self {
        let mut path = path.into();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        HealthCheck {
            probe: HealthProbe::Http {
                path,
                expected_statuses: vec![200..=299],
            },
            ..HealthCheck::default()
        }
    }

    /// A TCP check: a connection to the instance's port must be accepted.
    pub fn tcp() -> Self {
        HealthCheck::default()
    }

    /// A custom check: `check(instance)` answers whether the instance is healthy.
    pub fn custom<F, Fut>(check: F) -> Self
    where
        F: Fn(Instance) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        HealthCheck {
            probe: HealthProbe::Custom(Arc::new(move |instance| Box::pin(check(instance)))),
            ..HealthCheck::default()
        }
    }

    /// The statuses that pass an HTTP check (replacing the default `200..=299`); other
    /// probes have no status and ignore it.
    pub fn expected_statuses(
        mut self,
        statuses: impl IntoIterator<Item = RangeInclusive<u16>>,
    ) -> Self {
        if let HealthProbe::Http {
            expected_statuses, ..
        } = &mut self.probe
        {
            *expected_statuses = statuses.into_iter().collect();
        }
        self
    }

    /// Sets [`interval`](Self::interval).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// Sets [`timeout`](Self::timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets [`jitter_factor`](Self::jitter_factor).
    pub fn jitter_factor(mut self, jitter_factor: f64) -> Self {
        self.jitter_factor = jitter_factor;
        self
    }

    /// Sets [`unhealthy_threshold`](Self::unhealthy_threshold).
    pub fn unhealthy_threshold(mut self, failures: u32) -> Self {
        self.unhealthy_threshold = failures;
        self
    }

    /// Sets [`healthy_threshold`](Self::healthy_threshold).
    pub fn healthy_threshold(mut self, successes: u32) -> Self {
        self.healthy_threshold = successes;
        self
    }
}

/// One finished health check, as [`HealthChecker::events`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckEvent {
    /// The instance checked.
    pub instance: InstanceId,
    /// Why the check failed (`None`: it passed).
    pub failure: Option<String>,
    /// Whether the instance is healthy after this check (thresholds applied).
    pub healthy: bool,
    /// Whether this check crossed a threshold and changed the instance's health.
    pub changed: bool,
}

impl HealthCheckEvent {
    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// The running health checks of one service, from
/// [`ServiceDiscovery::start_health_checks`]. Dropping it (or [`stop`](Self::stop)) stops
/// them.
#[derive(Debug)]
#[must_use = "health checks stop when the `HealthChecker` is dropped"]
pub struct HealthChecker {
    service: String,
    task: Option<JoinHandle<()>>,
    events: broadcast::Sender<HealthCheckEvent>,
}

impl HealthChecker {
    /// The service checked.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Whether checks are running: false once stopped, or when they could not start (the
    /// reason is logged at error level).
    pub fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|task| !task.is_finished())
    }

    /// Every check finished from now on (a receiver that falls more than 1,024 events
    /// behind loses the oldest).
    pub fn events(&self) -> broadcast::Receiver<HealthCheckEvent> {
        self.events.subscribe()
    }

    /// Stops the checks: none starts after this, and one under way is cancelled. Instances
    /// keep the health they have.
    pub fn stop(mut self) {
        self.abort();
    }

    fn abort(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for HealthChecker {
    fn drop(&mut self) {
        self.abort();
    }
}

const EVENTS_CAPACITY: usize = 1024;

impl ServiceDiscovery {
    /// Starts active health checks of every instance of `service`: one background task checks
    /// each instance registered now or later (a deregistered one is dropped), on
    /// `check`'s interval, and marks it unhealthy (no picks) or healthy again when a threshold
    /// is crossed. Checks run until the returned [`HealthChecker`] is dropped or stopped; the
    /// checker keeps this discovery alive meanwhile.
    ///
    /// An HTTP check whose client cannot be built does not start: the error is logged and
    /// [`HealthChecker::is_running`] is false.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, like [`tokio::spawn`].
    pub fn start_health_checks(&self, service: &str, check: HealthCheck) -> HealthChecker {
        let (events, _) = broadcast::channel(EVENTS_CAPACITY);
        let mut checker = HealthChecker {
            service: service.to_owned(),
            task: None,
            events: events.clone(),
        };
        let prober = match Prober::new(&check.probe) {
            Ok(prober) => Arc::new(prober),
            Err(reason) => {
                tracing::error!(target: "resilience::discovery", service, %reason, "health checks cannot start");
                return checker;
            }
        };
        let settings = Settings::new(&check, self);
        let driver = Driver {
            discovery: self.clone(),
            service: service.to_owned(),
            prober,
            settings,
            events,
            targets: HashMap::new(),
            running: JoinSet::new(),
            checking: HashMap::new(),
            generation: 0,
            schedule: BinaryHeap::new(),
        };
        checker.task = Some(tokio::spawn(driver.run()));
        checker
    }
}

/// The check's numbers, resolved against the discovery's defaults and made safe to compute
/// with (no zero interval, no negative or NaN jitter, thresholds at least 1).
#[derive(Debug, Clone, Copy)]
struct Settings {
    interval: Duration,
    timeout: Duration,
    jitter: Duration,
    unhealthy_threshold: u32,
    healthy_threshold: u32,
}

impl Settings {
    fn new(check: &HealthCheck, discovery: &ServiceDiscovery) -> Settings {
        let config = discovery.config();
        let interval = check
            .interval
            .unwrap_or(config.health_check_interval)
            .max(Duration::from_millis(1));
        let factor = if check.jitter_factor.is_finite() && check.jitter_factor > 0.0 {
            check.jitter_factor
        } else {
            0.0
        };
        let jitter =
            Duration::try_from_secs_f64(interval.as_secs_f64() * factor).unwrap_or(Duration::MAX);
        Settings {
            interval,
            timeout: check.timeout.unwrap_or(config.health_check_timeout),
            jitter,
            unhealthy_threshold: check.unhealthy_threshold.max(1),
            healthy_threshold: check.healthy_threshold.max(1),
        }
    }

    /// A random wait in `0 ..= jitter`.
    fn jitter(&self) -> Duration {
        Duration::try_from_secs_f64(self.jitter.as_secs_f64() * fastrand::f64())
            .map_or(self.jitter, |jitter| jitter.min(self.jitter))
    }
}

/// `now + wait`, or far in the future when that overflows.
fn after(now: Instant, wait: Duration) -> Instant {
    now.checked_add(wait)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

/// Consecutive check results counted towards a change of health. Only results that argue
/// for a change count (failures while healthy, successes while unhealthy), so a health set
/// from elsewhere starts a fresh count.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    failures: u32,
    successes: u32,
}

impl Tally {
    /// Counts one check of an instance whose health is `healthy`; returns the new health when
    /// a threshold is crossed.
    fn record(&mut self, passed: bool, healthy: bool, settings: &Settings) -> Option<bool> {
        if passed {
            self.failures = 0;
            if healthy {
                self.successes = 0;
                return None;
            }
            self.successes += 1;
            if self.successes >= settings.healthy_threshold {
                self.successes = 0;
                return Some(true);
            }
        } else {
            self.successes = 0;
            if !healthy {
                self.failures = 0;
                return None;
            }
            self.failures += 1;
            if self.failures >= settings.unhealthy_threshold {
                self.failures = 0;
                return Some(false);
            }
        }
        None
    }
}

/// How checks are carried out, built once per checker (the HTTP client and its connection
/// pool are shared by all its checks).
enum Prober {
    Http {
        client: reqwest::Client,
        path: String,
        expected_statuses: Vec<RangeInclusive<u16>>,
    },
    Tcp,
    Custom(CustomCheck),
}

impl Prober {
    fn new(probe: &HealthProbe) -> Result<Prober, String> {
        Ok(match probe {
            HealthProbe::Http {
                path,
                expected_statuses,
            } => Prober::Http {
                client: http_client()?,
                path: path.clone(),
                expected_statuses: expected_statuses.clone(),
            },
            HealthProbe::Tcp => Prober::Tcp,
            HealthProbe::Custom(check) => Prober::Custom(Arc::clone(check)),
        })
    }

    /// One check of `instance`: `Ok` if it passed, else why not.
    async fn check(&self, instance: Instance, timeout: Duration) -> Result<(), String> {
        tokio::time::timeout(timeout, self.probe(instance))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")))
    }

    async fn probe(&self, instance: Instance) -> Result<(), String> {
        match self {
            Prober::Http {
                client,
                path,
                expected_statuses,
            } => {
                let url = format!("{}{path}", instance.base_url());
                let response = client
                    .get(&url)
                    .send()
                    .await
                    .map_err(|error| format!("GET {url}: {}", error_chain(&error)))?;
                let status = response.status().as_u16();
                if expected_statuses
                    .iter()
                    .any(|expected| expected.contains(&status))
                {
                    Ok(())
                } else {
                    Err(format!(
                        "GET {url} answered {status}, expected {expected_statuses:?}"
                    ))
                }
            }
            Prober::Tcp => tokio::net::TcpStream::connect((instance.host.as_str(), instance.port))
                .await
                .map(drop)
                .map_err(|error| {
                    format!(
                        "TCP connect to {}:{}: {error}",
                        instance.host, instance.port
                    )
                }),
            Prober::Custom(check) => {
                if check(instance).await {
                    Ok(())
                } else {
                    Err("the custom check answered unhealthy".to_owned())
                }
            }
        }
    }
}

/// The client of HTTP checks: plain HTTP to the instance's address, no proxy (a check must
/// reach the instance itself), no redirects. TLS is preconfigured with the `ring` provider so
/// that building never depends on a process-wide rustls provider being installed (reqwest
/// panics without one); checks use `http://` only, so no root certificates are needed.
fn http_client() -> Result<reqwest::Client, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("could not configure TLS for the HTTP client: {error}"))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(1)
        .user_agent(concat!(
            "resilience-health-check/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .map_err(|error| {
            format!(
                "could not build the HTTP client of health checks: {}",
                error_chain(&error)
            )
        })
}

/// An error and its sources, `: `-separated (reqwest's own message rarely says what failed).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// One checked instance.
struct Target {
    /// The registration checked; a re-registration (a new endpoint) starts afresh.
    endpoint: Arc<Endpoint>,
    generation: u64,
    tally: Tally,
    /// When the next check starts (meaningless while one is under way).
    due: Instant,
    /// The check under way.
    check: Option<AbortHandle>,
}

/// A finished check, as the child task returns it.
struct Finished {
    id: InstanceId,
    generation: u64,
    result: Result<(), String>,
}

/// The checker's task: it owns the per-instance state; each check runs as a child task in a
/// `JoinSet` (dropped, so cancelled, with the driver), so a slow instance never delays the
/// others and a panicking custom check counts as a failed check, not a dead checker.
struct Driver {
    discovery: ServiceDiscovery,
    service: String,
    prober: Arc<Prober>,
    settings: Settings,
    events: broadcast::Sender<HealthCheckEvent>,
    targets: HashMap<InstanceId, Target>,
    running: JoinSet<Finished>,
    /// Which instance each child task checks, to attribute a panic.
    checking: HashMap<tokio::task::Id, (InstanceId, u64)>,
    generation: u64,
    /// When each target's next check is due, earliest first: an entry is current while its
    /// target has that generation and that due time and no check under way; others are
    /// dropped as they surface. Finding the next check is O(log n), not a scan.
    schedule: BinaryHeap<Reverse<(Instant, u64, InstanceId)>>,
}

impl Driver {
    fn is_scheduled(&self, (due, generation, id): &(Instant, u64, InstanceId)) -> bool {
        self.targets.get(id).is_some_and(|target| {
            target.generation == *generation && target.check.is_none() && target.due == *due
        })
    }

    /// The next due check, dropping the entries that are no longer current.
    fn next_due(&mut self) -> Option<Instant> {
        while let Some(Reverse(entry)) = self.schedule.peek() {
            if self.is_scheduled(entry) {
                return Some(entry.0);
            }
            self.schedule.pop();
        }
        None
    }

    async fn run(mut self) {
        let (_, mut changes) = self.discovery.watch();
        let mut watching = true;
        self.sync(Instant::now());
        loop {
            let mut next_due = self.next_due();
            if !watching {
                // Without a watch, new instances are found by reading membership at least
                // once an interval.
                let resync = after(Instant::now(), self.settings.interval);
                next_due = Some(next_due.map_or(resync, |due| due.min(resync)));
            }
            tokio::select! {
                Some(joined) = self.running.join_next_with_id(), if !self.running.is_empty() => {
                    match joined {
                        Ok((task, finished)) => {
                            self.checking.remove(&task);
                            self.finish(finished);
                        }
                        Err(error) => {
                            let checked = self.checking.remove(&error.id());
                            // A cancelled check was cancelled here, for an instance gone.
                            if let (Some((id, generation)), true) = (checked, error.is_panic()) {
                                let result = Err(format!("the check panicked: {error}"));
                                self.finish(Finished { id, generation, result });
                            }
                        }
                    }
                }
                change = changes.recv(), if watching => match change {
                    Ok(event) => {
                        let id = match &event.change {
                            Change::Put(instance) => &instance.id,
                            Change::Delete(id) => id,
                        };
                        if id.service == self.service {
                            self.sync_one(id, Instant::now());
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => self.sync(Instant::now()),
                    // No more changes will come: membership is still read at each check.
                    Err(broadcast::error::RecvError::Closed) => watching = false,
                },
                () = tokio::time::sleep_until(next_due.unwrap_or_else(Instant::now)), if next_due.is_some() => {
                    let now = Instant::now();
                    if !watching {
                        self.sync(now);
                    }
                    self.start_due(now);
                }
            }
        }
    }

    /// Brings the targets in line with the service's registered endpoints.
    fn sync(&mut self, now: Instant) {
        let endpoints = self.discovery.endpoints(&self.service);
        let mut current: HashMap<&InstanceId, &Arc<Endpoint>> = endpoints
            .iter()
            .map(|endpoint| (&endpoint.instance().id, endpoint))
            .collect();
        self.targets.retain(|id, target| {
            let keep = current
                .get(id)
                .is_some_and(|endpoint| Arc::ptr_eq(endpoint, &target.endpoint));
            if keep {
                current.remove(id);
            } else if let Some(check) = target.check.take() {
                check.abort();
            }
            keep
        });
        for (id, endpoint) in current {
            self.generation += 1;
            let due = after(now, self.settings.jitter());
            self.schedule
                .push(Reverse((due, self.generation, id.clone())));
            self.targets.insert(
                id.clone(),
                Target {
                    endpoint: Arc::clone(endpoint),
                    generation: self.generation,
                    tally: Tally::default(),
                    due,
                    check: None,
                },
            );
        }
    }

    /// Brings one target in line with the registration of `id` now (O(log n): a change of
    /// one instance of a large service does not rescan the service).
    fn sync_one(&mut self, id: &InstanceId, now: Instant) {
        let endpoint = self.discovery.endpoint(id);
        if let (Some(target), Some(endpoint)) = (self.targets.get(id), &endpoint)
            && Arc::ptr_eq(&target.endpoint, endpoint)
        {
            return; // The same registration: its checks go on.
        }
        if let Some(mut gone) = self.targets.remove(id)
            && let Some(check) = gone.check.take()
        {
            check.abort();
        }
        if let Some(endpoint) = endpoint {
            self.generation += 1;
            let due = after(now, self.settings.jitter());
            self.schedule
                .push(Reverse((due, self.generation, id.clone())));
            self.targets.insert(
                id.clone(),
                Target {
                    endpoint,
                    generation: self.generation,
                    tally: Tally::default(),
                    due,
                    check: None,
                },
            );
        }
    }

    fn start_due(&mut self, now: Instant) {
        while let Some(Reverse(entry)) = self.schedule.peek() {
            if entry.0 > now {
                break;
            }
            let Some(Reverse(entry)) = self.schedule.pop() else {
                break;
            };
            if !self.is_scheduled(&entry) {
                continue;
            }
            let (_, generation, id) = entry;
            let Some(target) = self.targets.get_mut(&id) else {
                continue;
            };
            let prober = Arc::clone(&self.prober);
            let instance = target.endpoint.instance().clone();
            let timeout = self.settings.timeout;
            let finished_id = id.clone();
            let handle = self.running.spawn(async move {
                let result = prober.check(instance, timeout).await;
                Finished {
                    id: finished_id,
                    generation,
                    result,
                }
            });
            self.checking.insert(handle.id(), (id, generation));
            target.check = Some(handle);
        }
    }

    fn finish(&mut self, finished: Finished) {
        let Some(target) = self.targets.get_mut(&finished.id) else {
            return; // Deregistered meanwhile.
        };
        if target.generation != finished.generation {
            return; // Re-registered meanwhile: that registration has its own checks.
        }
        target.check = None;
        let now = Instant::now();
        target.due = after(
            now,
            self.settings
                .interval
                .saturating_add(self.settings.jitter()),
        );
        self.schedule.push(Reverse((
            target.due,
            target.generation,
            finished.id.clone(),
        )));
        let passed = finished.result.is_ok();
        let was_healthy = target.endpoint.is_healthy();
        let change = target.tally.record(passed, was_healthy, &self.settings);
        if let Err(reason) = &finished.result {
            tracing::debug!(target: "resilience::discovery", instance = %finished.id, %reason, "health check failed");
        }
        let mut healthy = was_healthy;
        if let Some(new_health) = change {
            match self.discovery.set_healthy(&finished.id, new_health) {
                Ok(()) => healthy = new_health,
                Err(DiscoveryError::UnknownInstance { .. }) => return, // Deregistered just now.
                Err(error) => {
                    tracing::warn!(target: "resilience::discovery", instance = %finished.id, %error, "could not change health");
                }
            }
        }
        let _ = self.events.send(HealthCheckEvent {
            instance: finished.id,
            failure: finished.result.err(),
            healthy,
            changed: healthy != was_healthy,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
            jitter: Duration::ZERO,
            unhealthy_threshold: 3,
            healthy_threshold: 2,
        }
    }

    #[test]
    fn a_tally_turns_unhealthy_on_the_third_failure_in_a_row_only() {
        let settings = settings();
        let mut tally = Tally::default();
        assert_eq!(tally.record(false, true, &settings), None);
        assert_eq!(tally.record(false, true, &settings), None);
        assert_eq!(tally.record(true, true, &settings), None, "a pass resets");
        assert_eq!(tally.record(false, true, &settings), None);
        assert_eq!(tally.record(false, true, &settings), None);
        assert_eq!(tally.record(false, true, &settings), Some(false));
    }

    #[test]
    fn a_tally_turns_healthy_on_the_second_pass_in_a_row_only() {
        let settings = settings();
        let mut tally = Tally::default();
        assert_eq!(tally.record(true, false, &settings), None);
        assert_eq!(
            tally.record(false, false, &settings),
            None,
            "a failure resets"
        );
        assert_eq!(tally.record(true, false, &settings), None);
        assert_eq!(tally.record(true, false, &settings), Some(true));
    }

    #[test]
    fn settings_tolerate_nonsense_numbers() {
        let discovery = ServiceDiscovery::new();
        let check = HealthCheck::tcp()
            .interval(Duration::ZERO)
            .jitter_factor(f64::NAN)
            .unhealthy_threshold(0)
            .healthy_threshold(0);
        let settings = Settings::new(&check, &discovery);
        assert_eq!(settings.interval, Duration::from_millis(1));
        assert_eq!(settings.jitter, Duration::ZERO);
        assert_eq!(
            (settings.unhealthy_threshold, settings.healthy_threshold),
            (1, 1)
        );
        let huge = HealthCheck::tcp()
            .interval(Duration::MAX)
            .jitter_factor(1e300);
        assert_eq!(Settings::new(&huge, &discovery).jitter, Duration::MAX);
    }

    #[test]
    fn the_http_client_builds_without_a_process_wide_tls_provider() {
        http_client().expect("the client builds");
    }

    #[test]
    fn http_paths_get_a_leading_slash() {
        let check = HealthCheck::http("health");
        assert!(matches!(check.probe, HealthProbe::Http { ref path, .. } if path == "/health"));
    }
}
