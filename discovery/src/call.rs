//! One `#[discover]` attempt on one picked instance: the call site's route (built once), the
//! pick that avoids instances which already failed this call, and the report of the outcome to
//! passive health — exactly once, `Timeout` if the attempt was dropped (timed out or
//! cancelled) before it finished.
//!
//! An attempt whose body runs through [`InstanceCall::run`] also knows what the shared HTTP
//! client saw of its requests to the instance (`observe.rs`): a request refused at connect
//! (it never reached the instance, so [`InstanceCall::settle`] moves the call to another
//! instance at once: a requeue, as Finagle does), and a `5xx`/`429` answer (a failure for the
//! instance's passive health even when the body returns `Ok`).
//!
//! This module must not decide retries or timeouts: the pipeline around the attempt does. A
//! requeue is not a retry: it spends none and waits for no backoff.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use resilience_runtime::{ConfigError, Failure, ResilienceError};

use crate::balancer::Balancer;
use crate::client::ServiceClient;
use crate::discovery::ServiceDiscovery;
use crate::endpoint::{Endpoint, InFlight};
use crate::observe::{self, Seen};
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
    requeues: usize,
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

    /// The most requeues of one call ([`InstanceCall::settle`]): each goes to an instance this
    /// call has not tried yet, so no instance is tried twice for a refusal.
    pub const MAX_REQUEUES: usize = FailedInstances::CAPACITY;

    /// None yet.
    pub const fn new() -> FailedInstances {
        FailedInstances {
            slots: [const { None }; FailedInstances::CAPACITY],
            next: 0,
            requeues: 0,
        }
    }

    /// How many times this call moved to another instance after a refusal at connect.
    pub fn requeues(&self) -> usize {
        self.requeues
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

/// One attempt on a picked instance, counted in flight until it ends: the call guard of
/// `#[discover]`. Its outcome goes to the instance's latency estimate and outlier detector
/// exactly once: through [`finish`](Self::finish) or [`settle`](Self::settle), or as
/// [`CallOutcome::Timeout`] when the attempt is dropped first (the timeout fired, or the
/// caller gave up).
///
/// Run the body through [`run`](Self::run) so that the attempt knows what its requests met:
/// [`refused_at_connect`](Self::refused_at_connect) (then [`settle`](Self::settle) requeues
/// the call on another instance) and [`answered_failure`](Self::answered_failure) (a `5xx` or
/// `429`, a failure for the instance's passive health).
#[derive(Debug)]
pub struct InstanceCall<'a> {
    discovery: &'a ServiceDiscovery,
    route: &'a Route,
    in_flight: Option<InFlight>,
    failed: &'a mut FailedInstances,
    seen: Seen,
}

/// What [`InstanceCall::settle`] made of an attempt.
#[derive(Debug)]
pub enum Settled<'a, T, E> {
    /// The attempt is over and reported: its result, its error marked as the operation's own
    /// (what [`InstanceCall::finish`] returns).
    Done(Result<T, Failure<E>>),
    /// The attempt was refused at connect and the call moved to another instance, which this
    /// call had not tried yet: run the body again, at once, with this call and its client. No
    /// retry is spent and no backoff waited: the request never reached an instance.
    Requeued(InstanceCall<'a>, ServiceClient),
}

impl<'a> InstanceCall<'a> {
    /// Picks an instance of `route` from `discovery`, avoiding those in `failed` when any
    /// other is eligible, and gives the call with a client bound to it.
    ///
    /// No eligible instance: [`ResilienceError::NoInstance`].
    pub fn begin(
        discovery: &'a ServiceDiscovery,
        route: &'a Route,
        failed: &'a mut FailedInstances,
    ) -> Result<(InstanceCall<'a>, ServiceClient), ResilienceError> {
        let in_flight = discovery.pick(route, |endpoint| failed.contains(endpoint))?;
        let client = client_for(&in_flight)?;
        let call = InstanceCall {
            discovery,
            route,
            in_flight: Some(in_flight),
            failed,
            seen: Seen::default(),
        };
        Ok((call, client))
    }

    /// The picked instance.
    pub fn endpoint(&self) -> Option<&Arc<Endpoint>> {
        self.in_flight.as_ref().map(InFlight::endpoint)
    }

    /// Runs the attempt's body, recording what the shared HTTP client of [`ServiceClient`]
    /// sees of its requests to the picked instance: a request that failed to connect
    /// ([`refused_at_connect`](Self::refused_at_connect)) and a `5xx`/`429` answer
    /// ([`answered_failure`](Self::answered_failure)).
    ///
    /// Only requests awaited by the body's own task are seen (not those of a task it spawns),
    /// sent to the picked instance's host and port through a [`ServiceClient`] (or its
    /// [`http_client`](ServiceClient::http_client)), with a body reqwest can copy (not a
    /// stream). Costs a task-local scope around the body (no allocation); each request made
    /// through the shared client costs reqwest a copy of its headers.
    pub async fn run<F: Future>(&mut self, body: F) -> F::Output {
        let Some(endpoint) = self.endpoint().map(Arc::clone) else {
            return body.await;
        };
        let (output, seen) = observe::observe(endpoint, body).await;
        self.seen = seen;
        output
    }

    /// Whether a request of the body (run through [`run`](Self::run)) to the picked instance
    /// failed before it was sent: reqwest's `is_connect()` (connection refused, connect
    /// timeout, a DNS or TLS failure). The request never reached the instance, so trying
    /// another instance at once is safe whatever the request does.
    pub fn refused_at_connect(&self) -> bool {
        self.seen.refused_at_connect
    }

    /// Whether the picked instance answered a request of the body (run through
    /// [`run`](Self::run)) with a `5xx` or a `429`. Such an attempt is reported to passive
    /// health as a failure even when the body returns `Ok` (the same rule as the tower
    /// layers' `HttpClassify`).
    pub fn answered_failure(&self) -> bool {
        self.seen.failure_status
    }

    /// Reports the attempt (`Err`, or an instance that answered `5xx`/`429`: a failure; else a
    /// success) and hands the result on with its error marked as the operation's own.
    #[inline]
    pub fn finish<T, E>(mut self, result: Result<T, E>) -> Result<T, Failure<E>> {
        let outcome = match result {
            Ok(_) if !self.seen.failure_status => CallOutcome::Success,
            _ => CallOutcome::Failure,
        };
        self.report(outcome);
        result.map_err(Failure::Operation)
    }

    /// Ends the attempt: when its body failed (`Err`) after a request was
    /// [`refused_at_connect`](Self::refused_at_connect), the refusal is reported to the
    /// instance's passive health (as a failure, with no latency sample: the instance never
    /// answered) and the call moves to an instance it has not tried yet
    /// ([`Settled::Requeued`]), at most [`FailedInstances::MAX_REQUEUES`] times per call and
    /// never twice to one instance, so at most once per other instance. Otherwise, or when
    /// every other instance was tried, the attempt ends as [`finish`](Self::finish) ends it
    /// ([`Settled::Done`]).
    pub fn settle<T, E>(mut self, result: Result<T, E>) -> Settled<'a, T, E> {
        let requeue = result.is_err()
            && self.seen.refused_at_connect
            && self.failed.requeues < FailedInstances::MAX_REQUEUES;
        if !requeue {
            return Settled::Done(self.finish(result));
        }
        let Some(refused) = self.in_flight.take() else {
            return Settled::Done(self.finish(result));
        };
        self.failed.insert(refused.endpoint());
        self.discovery.report_refused(refused);
        let failed = &*self.failed;
        let next = self
            .discovery
            .pick_excluding(self.route, |endpoint| failed.contains(endpoint));
        let Ok(next) = next else {
            // Every other instance was tried: the refusal is the attempt's failure.
            return Settled::Done(result.map_err(Failure::Operation));
        };
        match client_for(&next) {
            Ok(client) => {
                self.failed.requeues += 1;
                self.in_flight = Some(next);
                self.seen = Seen::default();
                Settled::Requeued(self, client)
            }
            // The shared client could not be built (then the first attempt could not have
            // been made either): this attempt's failure stands.
            Err(_) => Settled::Done(result.map_err(Failure::Operation)),
        }
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

/// A client bound to the picked instance.
fn client_for(in_flight: &InFlight) -> Result<ServiceClient, ResilienceError> {
    ServiceClient::new(Arc::clone(in_flight.endpoint()))
        .map_err(|error| ResilienceError::Operation(Box::new(error)))
}

impl Drop for InstanceCall<'_> {
    fn drop(&mut self) {
        self.report(CallOutcome::Timeout);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

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

    /// A port on 127.0.0.1 that refuses connections: bound, then closed.
    fn refused_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .unwrap()
    }

    /// A real HTTP server on 127.0.0.1 answering every `GET /` with `status`; its port.
    async fn server(status: u16) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let status = axum::http::StatusCode::from_u16(status).unwrap();
        let app = axum::Router::new().route("/", axum::routing::get(move || async move { status }));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        port
    }

    fn discovery_at(ports: &[(&str, u16)]) -> ServiceDiscovery {
        let discovery = ServiceDiscovery::new();
        for (id, port) in ports {
            discovery
                .register(Instance::new("svc", *id, "127.0.0.1", *port))
                .unwrap();
        }
        discovery
    }

    /// The body of an attempt: one `GET /` on the picked instance, its status.
    async fn get(client: ServiceClient) -> Result<u16, reqwest::Error> {
        let response = client.get("/").send().await?;
        Ok(response.status().as_u16())
    }

    /// What the macro's attempt step does with the API: run, settle, run again on a requeue.
    /// The instances tried, in order, and the call's result.
    async fn call_with_requeues(
        discovery: &ServiceDiscovery,
        route: &Route,
        failed: &mut FailedInstances,
    ) -> (Vec<String>, Result<u16, Failure<reqwest::Error>>) {
        let mut tried = Vec::new();
        let mut next = InstanceCall::begin(discovery, route, failed);
        loop {
            let (mut call, client) = next.unwrap();
            tried.push(client.instance().id.id.clone());
            let result = call.run(get(client)).await;
            match call.settle(result) {
                Settled::Done(result) => return (tried, result),
                Settled::Requeued(call, client) => next = Ok((call, client)),
            }
        }
    }

    #[tokio::test]
    async fn a_connection_refused_moves_the_call_to_another_instance_at_once() {
        let up = server(200).await;
        // Round robin starts at the first instance by id: the refusing one.
        let discovery = discovery_at(&[("a-refuses", refused_port()), ("b-up", up)]);
        let route = Route::new("svc").balancer(Balancer::RoundRobin);
        let mut failed = FailedInstances::new();
        let (tried, result) = call_with_requeues(&discovery, &route, &mut failed).await;
        assert_eq!(tried, ["a-refuses", "b-up"]);
        assert_eq!(result.ok(), Some(200));
        assert_eq!(failed.requeues(), 1);
        // The refusal is a failure for the refusing instance's passive health, with no latency
        // sample; the requeued attempt a success.
        let endpoints = discovery.endpoints("svc");
        assert_eq!(endpoints[0].consecutive_failures.load(Ordering::Relaxed), 1);
        assert_eq!(
            endpoints[0].latency_estimate(),
            crate::endpoint::DEFAULT_RTT
        );
        assert_eq!(endpoints[1].consecutive_failures.load(Ordering::Relaxed), 0);
        assert!(endpoints.iter().all(|endpoint| endpoint.in_flight() == 0));
    }

    #[tokio::test]
    async fn with_every_instance_refusing_each_is_tried_once_then_the_refusal_is_the_error() {
        let discovery = discovery_at(&[
            ("a", refused_port()),
            ("b", refused_port()),
            ("c", refused_port()),
        ]);
        let route = Route::new("svc");
        let mut failed = FailedInstances::new();
        let (mut tried, result) = call_with_requeues(&discovery, &route, &mut failed).await;
        tried.sort();
        assert_eq!(tried, ["a", "b", "c"]);
        assert_eq!(failed.requeues(), 2);
        match result {
            Err(Failure::Operation(error)) => assert!(error.is_connect(), "{error}"),
            other => panic!("expected the connect error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn requeues_are_bounded_per_call() {
        let ports: Vec<(String, u16)> = (0..12)
            .map(|i| (format!("i{i:02}"), refused_port()))
            .collect();
        let named: Vec<(&str, u16)> = ports
            .iter()
            .map(|(id, port)| (id.as_str(), *port))
            .collect();
        let discovery = discovery_at(&named);
        let route = Route::new("svc").balancer(Balancer::Random);
        let mut failed = FailedInstances::new();
        let (tried, result) = call_with_requeues(&discovery, &route, &mut failed).await;
        assert!(result.is_err());
        assert_eq!(failed.requeues(), FailedInstances::MAX_REQUEUES);
        assert_eq!(tried.len(), FailedInstances::MAX_REQUEUES + 1);
        let mut distinct = tried.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            tried.len(),
            "an instance tried twice: {tried:?}"
        );
    }

    #[tokio::test]
    async fn a_refusal_the_body_recovered_from_is_not_requeued() {
        let discovery = discovery_at(&[("a", refused_port()), ("b", server(200).await)]);
        let route = Route::new("svc").balancer(Balancer::RoundRobin);
        let mut failed = FailedInstances::new();
        let (mut call, client) = InstanceCall::begin(&discovery, &route, &mut failed).unwrap();
        let result: Result<u16, ()> = call.run(async { Ok(get(client).await.unwrap_or(0)) }).await;
        assert!(call.refused_at_connect());
        assert!(matches!(call.settle(result), Settled::Done(Ok(0))));
        assert_eq!(failed.requeues(), 0);
    }

    #[tokio::test]
    async fn only_requests_to_the_picked_instance_are_the_attempts() {
        let other = refused_port();
        let discovery = discovery_at(&[("a", server(200).await)]);
        let route = Route::new("svc");
        let mut failed = FailedInstances::new();
        let (mut call, client) = InstanceCall::begin(&discovery, &route, &mut failed).unwrap();
        let status = call
            .run(async move {
                // Another host's refusal, on the same shared client.
                let elsewhere = format!("http://127.0.0.1:{other}/");
                assert!(client.http_client().get(elsewhere).send().await.is_err());
                get(client).await
            })
            .await;
        assert!(!call.refused_at_connect());
        assert_eq!(status.unwrap(), 200);
        // A body not run through `run` is not observed at all.
        let (call, client) = {
            let result = call.finish(Ok::<_, ()>(()));
            assert!(result.is_ok());
            InstanceCall::begin(&discovery, &route, &mut failed).unwrap()
        };
        let _ = get(client).await;
        assert!(!call.refused_at_connect() && !call.answered_failure());
    }

    #[tokio::test]
    async fn a_5xx_or_429_answer_is_a_failure_for_passive_health_even_when_the_body_returns_ok() {
        for (status, failure) in [
            (200, false),
            (404, false),
            (429, true),
            (500, true),
            (503, true),
        ] {
            let discovery = discovery_at(&[("a", server(status).await)]);
            let route = Route::new("svc");
            let mut failed = FailedInstances::new();
            let (mut call, client) = InstanceCall::begin(&discovery, &route, &mut failed).unwrap();
            let result = call.run(get(client)).await;
            assert_eq!(call.answered_failure(), failure, "status {status}");
            assert!(!call.refused_at_connect());
            // The body's result is handed on as it is: only passive health sees the failure.
            assert_eq!(call.finish(result).ok(), Some(status));
            let endpoint = &discovery.endpoints("svc")[0];
            let failures = endpoint.consecutive_failures.load(Ordering::Relaxed);
            assert_eq!(failures, u32::from(failure), "status {status}");
            assert_eq!(failed.len(), usize::from(failure), "status {status}");
        }
    }

    #[test]
    fn a_run_attempt_is_as_send_as_its_body() {
        fn send<T: Send>(_: &T) {}
        let discovery = discovery_at(&[("a", 1)]);
        let route = Route::new("svc");
        let mut failed = FailedInstances::new();
        let (mut call, client) = InstanceCall::begin(&discovery, &route, &mut failed).unwrap();
        let attempt = call.run(get(client));
        send(&attempt);
    }

    #[test]
    fn the_failure_statuses_are_the_tower_layers_ones() {
        use reqwest::StatusCode;
        for (status, failure) in [
            (StatusCode::OK, false),
            (StatusCode::NOT_FOUND, false),
            (StatusCode::TOO_MANY_REQUESTS, true),
            (StatusCode::INTERNAL_SERVER_ERROR, true),
            (StatusCode::BAD_GATEWAY, true),
            (StatusCode::from_u16(599).unwrap(), true),
        ] {
            assert_eq!(observe::is_failure_status(status), failure, "{status}");
        }
    }

    #[test]
    fn a_version_requirement_that_does_not_parse_is_a_configuration_error() {
        let site = DiscoverSite::new("svc", Balancer::RoundRobin, Some("not a requirement"), &[]);
        let error = site.route().unwrap_err();
        assert_eq!(error.key, "version");
    }
}
