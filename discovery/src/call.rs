//! One `#[discover]` attempt on one picked instance: the call site's route (built once), the
//! pick that avoids instances which already failed this call, and the report of the outcome to
//! passive health — exactly once, `Timeout` if the attempt was dropped (timed out or
//! cancelled) before it finished.
//!
//! This module must not decide retries or timeouts: the pipeline around the attempt does.

use std::sync::{Arc, OnceLock};

use resilience_runtime::{ConfigError, Failure, ResilienceError};

use crate::balancer::Balancer;
use crate::client::ServiceClient;
use crate::discovery::ServiceDiscovery;
use crate::endpoint::{Endpoint, InFlight};
use crate::outlier::CallOutcome;
use crate::route::Route;

/// The `#[discover("service", ...)]` of one function: its route, as `const` data, built on the
/// first call and kept for every later one.
#[derive(Debug)]
pub struct DiscoverSite {
    service: &'static str,
    balancer: Balancer,
    version: Option<&'static str>,
    metadata: &'static [(&'static str, &'static str)],
    route: OnceLock<Result<Route, ConfigError>>,
}

impl DiscoverSite {
    /// A site that has not been called yet.
    pub const fn new(
        service: &'static str,
        balancer: Balancer,
        version: Option<&'static str>,
        metadata: &'static [(&'static str, &'static str)],
    ) -> DiscoverSite {
        DiscoverSite {
            service,
            balancer,
            version,
            metadata,
            route: OnceLock::new(),
        }
    }

    /// The route, built on the first call. A version requirement that does not parse (the
    /// macro checks it at compile time) is a configuration error.
    pub fn route(&self) -> Result<&Route, ConfigError> {
        let route = self.route.get_or_init(|| {
            let mut route = Route::new(self.service).balancer(self.balancer);
            if let Some(requirement) = self.version {
                route = route.version(requirement).map_err(|error| ConfigError {
                    policy: "discover",
                    key: "version",
                    problem: error.to_string(),
                })?;
            }
            for (key, value) in self.metadata {
                route = route.metadata(*key, *value);
            }
            Ok(route)
        });
        match route {
            Ok(route) => Ok(route),
            Err(error) => Err(error.clone()),
        }
    }

    /// Picks an instance of the global discovery ([`global`](crate::global)) for one attempt,
    /// avoiding those in `failed` when any other is eligible.
    pub fn begin<'a>(
        &'a self,
        failed: &'a mut FailedInstances,
    ) -> Result<(InstanceCall<'a>, ServiceClient), ResilienceError> {
        let route = self.route().map_err(ResilienceError::Config)?;
        InstanceCall::begin(crate::global(), route, failed)
    }
}

/// The instances that failed one call so far, so that its next attempt goes elsewhere.
///
/// Fixed size and allocation-free: it remembers the last [`CAPACITY`](Self::CAPACITY) failed
/// instances (a call that failed on more instances than that may come back to the oldest).
#[derive(Default)]
pub struct FailedInstances {
    slots: [Option<Arc<Endpoint>>; FailedInstances::CAPACITY],
    next: usize,
}

/// The ids of the instances remembered (each endpoint's whole state would drown them).
impl std::fmt::Debug for FailedInstances {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.slots
                    .iter()
                    .flatten()
                    .map(|endpoint| &endpoint.instance().id),
            )
            .finish()
    }
}

impl FailedInstances {
    /// How many failed instances are remembered.
    pub const CAPACITY: usize = 8;

    /// None yet.
    pub const fn new() -> FailedInstances {
        FailedInstances {
            slots: [const { None }; FailedInstances::CAPACITY],
            next: 0,
        }
    }

    /// Whether `endpoint` failed this call.
    #[inline]
    pub fn contains(&self, endpoint: &Endpoint) -> bool {
        self.slots
            .iter()
            .flatten()
            .any(|failed| std::ptr::eq(Arc::as_ptr(failed), endpoint))
    }

    /// Remembers that `endpoint` failed this call (forgetting the oldest when full).
    pub fn insert(&mut self, endpoint: &Arc<Endpoint>) {
        if self.contains(endpoint) {
            return;
        }
        self.slots[self.next % Self::CAPACITY] = Some(Arc::clone(endpoint));
        self.next = self.next.wrapping_add(1);
    }

    /// How many are remembered.
    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(Option::is_none)
    }
}

/// One attempt on a picked instance, counted in flight until it ends. Its outcome goes to the
/// instance's latency estimate and outlier detector exactly once: through
/// [`finish`](Self::finish), or as [`CallOutcome::Timeout`] when the attempt is dropped first
/// (the timeout fired, or the caller gave up).
#[derive(Debug)]
pub struct InstanceCall<'a> {
    discovery: &'a ServiceDiscovery,
    in_flight: Option<InFlight>,
    failed: &'a mut FailedInstances,
}

impl<'a> InstanceCall<'a> {
    /// Picks an instance of `route` from `discovery`, avoiding those in `failed` when any
    /// other is eligible, and gives the call with a client bound to it.
    ///
    /// No eligible instance: [`ResilienceError::NoInstance`].
    pub fn begin(
        discovery: &'a ServiceDiscovery,
        route: &Route,
        failed: &'a mut FailedInstances,
    ) -> Result<(InstanceCall<'a>, ServiceClient), ResilienceError> {
        let in_flight = discovery.pick(route, |endpoint| failed.contains(endpoint))?;
        let client = ServiceClient::new(Arc::clone(in_flight.endpoint()))
            .map_err(|error| ResilienceError::Operation(Box::new(error)))?;
        let call = InstanceCall {
            discovery,
            in_flight: Some(in_flight),
            failed,
        };
        Ok((call, client))
    }

    /// The picked instance.
    pub fn endpoint(&self) -> Option<&Arc<Endpoint>> {
        self.in_flight.as_ref().map(InFlight::endpoint)
    }

    /// Reports the body's result (`Ok` a success, `Err` a failure) and hands it on with its
    /// error marked as the operation's own.
    #[inline]
    pub fn finish<T, E>(mut self, result: Result<T, E>) -> Result<T, Failure<E>> {
        let outcome = match result {
            Ok(_) => CallOutcome::Success,
            Err(_) => CallOutcome::Failure,
        };
        self.report(outcome);
        result.map_err(Failure::Operation)
    }

    fn report(&mut self, outcome: CallOutcome) {
        let Some(in_flight) = self.in_flight.take() else {
            return;
        };
        if outcome != CallOutcome::Success {
            self.failed.insert(in_flight.endpoint());
        }
        self.discovery.report(in_flight, outcome);
    }
}

impl Drop for InstanceCall<'_> {
    fn drop(&mut self) {
        self.report(CallOutcome::Timeout);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::Instance;

    fn discovery_with(ids: &[&str], service: &str) -> ServiceDiscovery {
        let discovery = ServiceDiscovery::new();
        for (port, id) in (1..).zip(ids) {
            discovery
                .register(Instance::new(service, *id, "127.0.0.1", port))
                .unwrap();
        }
        discovery
    }

    #[test]
    fn a_failed_instance_is_avoided_by_the_next_pick() {
        let discovery = discovery_with(&["a", "b"], "svc");
        let route = Route::new("svc").balancer(Balancer::Random);
        let mut failed = FailedInstances::new();
        let (call, _) = InstanceCall::begin(&discovery, &route, &mut failed).unwrap();
        let first = Arc::clone(call.endpoint().unwrap());
        assert!(call.finish(Err::<(), _>("down")).is_err());
        for _ in 0..50 {
            let (call, client) = InstanceCall::begin(&discovery, &route, &mut failed).unwrap();
            assert_ne!(client.instance().id, first.instance().id);
            assert!(call.finish(Ok::<_, ()>(())).is_ok());
        }
    }

    #[test]
    fn every_instance_failed_still_gives_one() {
        let discovery = discovery_with(&["a"], "svc");
        let route = Route::new("svc");
        let mut failed = FailedInstances::new();
        let (call, _) = InstanceCall::begin(&discovery, &route, &mut failed).unwrap();
        assert!(call.finish(Err::<(), _>("down")).is_err());
        assert_eq!(failed.len(), 1);
        assert!(InstanceCall::begin(&discovery, &route, &mut failed).is_ok());
    }

    #[test]
    fn debug_of_the_failed_instances_lists_their_ids() {
        let discovery = discovery_with(&["a"], "svc");
        let mut failed = FailedInstances::new();
        failed.insert(&discovery.endpoints("svc")[0]);
        let debug = format!("{failed:?}");
        assert_eq!(debug, r#"[InstanceId { service: "svc", id: "a" }]"#);
    }

    #[test]
    fn dropping_an_unfinished_call_releases_it_and_counts_as_failed() {
        let discovery = discovery_with(&["a"], "svc");
        let route = Route::new("svc");
        let mut failed = FailedInstances::new();
        let (call, _client) = InstanceCall::begin(&discovery, &route, &mut failed).unwrap();
        assert_eq!(discovery.endpoints("svc")[0].in_flight(), 1);
        drop(call);
        assert_eq!(discovery.endpoints("svc")[0].in_flight(), 0);
        assert_eq!(failed.len(), 1);
    }

    #[test]
    fn no_instance_is_a_rejection_naming_the_service() {
        let discovery = ServiceDiscovery::new();
        let route = Route::new("nowhere");
        let mut failed = FailedInstances::new();
        match InstanceCall::begin(&discovery, &route, &mut failed) {
            Err(ResilienceError::NoInstance { service }) => assert_eq!(service, "nowhere"),
            other => panic!("expected NoInstance, got {other:?}"),
        }
    }

    #[test]
    fn the_record_keeps_the_last_failures_without_growing() {
        let discovery = discovery_with(&["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"], "s");
        let mut failed = FailedInstances::new();
        let endpoints = discovery.endpoints("s");
        for endpoint in &endpoints {
            failed.insert(endpoint);
            failed.insert(endpoint);
        }
        assert_eq!(failed.len(), FailedInstances::CAPACITY);
        assert!(!failed.contains(&endpoints[0]));
        assert!(failed.contains(&endpoints[9]));
    }

    #[test]
    fn a_version_requirement_that_does_not_parse_is_a_configuration_error() {
        let site = DiscoverSite::new("svc", Balancer::RoundRobin, Some("not a requirement"), &[]);
        let error = site.route().unwrap_err();
        assert_eq!(error.key, "version");
    }
}
