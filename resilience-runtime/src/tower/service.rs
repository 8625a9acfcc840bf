//! The services the layers build: [`Resilient`] runs one attempt through the breaker, the
//! timeout and the bulkhead; [`Retrying`] runs the retry loop around them. Both expand the
//! runtime's one composition, [`__pipeline!`](crate::__pipeline), as the attributes and
//! [`Pipeline::run`](crate::Pipeline::run) do: the order of contract §2.7 is defined there and
//! only there.

use std::future::poll_fn;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;
use tower_service::Service;

use super::classify::Classify;
use super::future::ResponseFuture;
use crate::budget::RetryBudget;
use crate::bulkhead::Bulkhead;
use crate::circuit_breaker::CircuitBreaker;
use crate::deadline;
use crate::error::{BoxError, ConfigError, ResilienceError};
use crate::failure::Failure;
use crate::layers::Layers;
use crate::pipeline::Retries;
use crate::retry::RetryConfig;

/// The policies of one layer, shared by its clones and every service it built.
#[derive(Debug, Default)]
pub(crate) struct Policies {
    pub(crate) circuit_breaker: Option<Arc<CircuitBreaker>>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) bulkhead: Option<Arc<Bulkhead>>,
    pub(crate) retry: Option<RetryConfig>,
    pub(crate) budget: Option<Arc<RetryBudget>>,
    /// A configuration out of range: every call fails with it, nothing is run.
    pub(crate) invalid: Option<ConfigError>,
}

impl Policies {
    /// The layers of one attempt, as `Option`s (each attempt's timeout is shortened to the
    /// request's time left by `Duration`'s [`TimeoutLayer`] itself).
    pub(crate) fn layers(
        &self,
    ) -> Layers<Option<&CircuitBreaker>, Option<Duration>, Option<&Bulkhead>> {
        Layers {
            circuit_breaker: self.circuit_breaker.as_deref(),
            timeout: self.timeout,
            bulkhead: self.bulkhead.as_deref(),
        }
    }

    /// The layers with their concrete types, when every policy is there (`ResilienceLayer`).
    #[inline]
    pub(crate) fn all(&self) -> Option<Layers<&CircuitBreaker, Duration, &Bulkhead>> {
        match (&self.circuit_breaker, self.timeout, &self.bulkhead) {
            (Some(circuit_breaker), Some(timeout), Some(bulkhead)) => Some(Layers {
                circuit_breaker,
                timeout,
                bulkhead,
            }),
            _ => None,
        }
    }

    /// The configuration's error, or `Timeout` when the request's deadline has passed (a call
    /// that cannot finish in time is not started).
    #[inline]
    pub(crate) fn check(&self) -> Result<(), ResilienceError> {
        match &self.invalid {
            Some(error) => Err(ResilienceError::Config(error.clone())),
            None if deadline::expired() => Err(super::deadline::expired()),
            None => Ok(()),
        }
    }
}

/// A failed attempt, as the pipeline sees it: a response the classifier called a failure, or
/// the inner service's error.
#[derive(Debug)]
pub(crate) enum Attempt<Response> {
    Response(Response),
    Error(BoxError),
}

/// One attempt: the inner service's readiness, then its call, then the classification. A
/// [`ResilienceError`] from an inner layer (a breaker or bulkhead of its own) is classified by
/// the framework, as a rejection, not as an operation error.
async fn attempt<S, Request, C>(
    mut service: S,
    request: Request,
    classify: &C,
) -> Result<S::Response, Failure<Attempt<S::Response>>>
where
    S: Service<Request>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response>,
{
    // The inner error is converted where it is produced: `S::Error` need not be `Send`.
    if let Err(error) = poll_fn(|cx| service.poll_ready(cx)).await {
        return Err(inner_error(error.into()));
    }
    match service.call(request).await {
        Ok(response) if classify.is_failure(&response) => {
            Err(Failure::Operation(Attempt::Response(response)))
        }
        Ok(response) => Ok(response),
        Err(error) => Err(inner_error(error.into())),
    }
}

pub(crate) fn inner_error<Response>(error: BoxError) -> Failure<Attempt<Response>> {
    match error.downcast::<ResilienceError>() {
        Ok(rejection) => Failure::Rejected(*rejection),
        Err(error) => Failure::Operation(Attempt::Error(error)),
    }
}

/// What the caller gets: the response (a failed one too, once the retries ran out), or the
/// inner service's error, or the policy's rejection, both as a [`BoxError`].
pub(crate) fn finish<Response>(
    outcome: Result<Response, Failure<Attempt<Response>>>,
) -> Result<Response, BoxError> {
    match outcome {
        Ok(response) | Err(Failure::Operation(Attempt::Response(response))) => Ok(response),
        Err(Failure::Operation(Attempt::Error(error))) => Err(error),
        Err(Failure::Rejected(rejection)) => Err(Box::new(rejection)),
    }
}

pub(crate) fn every_failure<Response>(_: &Attempt<Response>) -> bool {
    true
}

/// The service of [`CircuitBreakerLayer`](super::CircuitBreakerLayer),
/// [`TimeoutLayer`](super::TimeoutLayer) and [`BulkheadLayer`](super::BulkheadLayer): one
/// attempt through the layer's policies.
///
/// # `poll_ready`
///
/// Always ready. Admission is decided per request, in the response future: an open breaker
/// fails it with `CircuitOpen`, a full bulkhead queues it (up to `max_queue_size`, for at most
/// `max_wait`) or fails it with `BulkheadFull` at once — load shedding, never backpressure that
/// lasts as long as the overload. The inner service's own `poll_ready` is awaited inside the
/// attempt, on a clone of it, after admission and within the timeout (so an inner service that
/// never becomes ready times out instead of hanging the caller). That is why the inner service
/// must be `Clone` (wrap one that is not in `tower::buffer::Buffer`).
#[derive(Debug, Clone)]
pub struct Resilient<S, C> {
    pub(crate) inner: S,
    pub(crate) policies: Arc<Policies>,
    pub(crate) classify: C,
}

impl<S, C, Request> Service<Request> for Resilient<S, C>
where
    S: Service<Request> + Clone + Send + 'static,
    S::Response: Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    Request: Send + 'static,
    C: Classify<S::Response>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Response>;

    #[inline]
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let inner = self.inner.clone();
        let policies = Arc::clone(&self.policies);
        let classify = self.classify.clone();
        Box::pin(async move {
            policies.check()?;
            let outcome = crate::layers::dispatch!(
                retry = none,
                breaker = policies.circuit_breaker.as_deref(),
                timeout = policies.timeout,
                bulkhead = policies.bulkhead.as_deref(),
                failure_if = &every_failure::<S::Response>,
                attempt = attempt(inner, request, &classify).await,
            );
            finish(outcome)
        })
    }
}

/// The service of [`RetryLayer`](super::RetryLayer) and
/// [`ResilienceLayer`](super::ResilienceLayer): the retry loop around one attempt through the
/// layer's other policies.
///
/// # Requests are cloned
///
/// Each attempt sends a clone of the request, so `Request: Clone` is a bound of its `Service`
/// impl: a request whose body is a stream cannot be retried. For HTTP, buffer the body first
/// (`http::Request<http_body_util::Full<Bytes>>`, or `Request<String>`); axum's
/// `Request<Body>` is not `Clone`, so put the retry on the client side of a hop, or collect the
/// body before it.
///
/// # `poll_ready`
///
/// As for [`Resilient`]: always ready; the inner service's readiness is awaited inside each
/// attempt, on a clone of it.
///
/// # Retry budget
///
/// With a budget (the default), each request deposits into it and each retry withdraws from
/// it; a retry the budget cannot pay for is not made and the caller gets the last error (or
/// failed response) at once.
#[derive(Debug, Clone)]
pub struct Retrying<S, C> {
    pub(crate) inner: S,
    pub(crate) policies: Arc<Policies>,
    pub(crate) classify: C,
}

impl<S, C, Request> Service<Request> for Retrying<S, C>
where
    S: Service<Request> + Clone + Send + 'static,
    S::Response: Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    Request: Clone + Send + 'static,
    C: Classify<S::Response>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Response>;

    #[inline]
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let inner = self.inner.clone();
        let policies = Arc::clone(&self.policies);
        let classify = self.classify.clone();
        if let Some(budget) = &policies.budget {
            budget.deposit();
        }
        Box::pin(async move {
            policies.check()?;
            let mut attempts = Attempts {
                service: inner,
                request,
            };
            // `ResilienceLayer` has every policy: the composition with concrete layer types,
            // inline. `RetryLayer` (retry alone) takes the run-time form, in a future of its own
            // so that this one's state stays near the size of the first (`dispatch!`'s sixteen
            // expansions made it 824 bytes, this 576, and the request 10 ns faster).
            let outcome = match policies.all() {
                Some(layers) => crate::__pipeline!(
                    retry = BudgetedRetries::new(&policies, &classify),
                    retry_if = &every_failure::<S::Response>,
                    breaker = some,
                    timeout = some,
                    bulkhead = some,
                    layers = &layers,
                    failure_if = &every_failure::<S::Response>,
                    attempt = {
                        let (service, request) = attempts.next();
                        attempt(service, request, &classify).await
                    },
                ),
                None => {
                    async {
                        let layers = policies.layers();
                        crate::__pipeline!(
                            retry = BudgetedRetries::new(&policies, &classify),
                            retry_if = &every_failure::<S::Response>,
                            breaker = some,
                            timeout = some,
                            bulkhead = some,
                            layers = &layers,
                            failure_if = &every_failure::<S::Response>,
                            attempt = {
                                let (service, request) = attempts.next();
                                attempt(service, request, &classify).await
                            },
                        )
                    }
                    .await
                }
            };
            finish(outcome)
        })
    }
}

/// The inner service and the request each attempt clones. The composition polls each attempt
/// inside an `async` block that borrows what the attempt's expression names; a `&mut` borrow
/// (this `next`) is `Send` when the service and the request are, a shared one would need them
/// `Sync`.
struct Attempts<S, Request> {
    service: S,
    request: Request,
}

impl<S: Clone, Request: Clone> Attempts<S, Request> {
    #[inline]
    fn next(&mut self) -> (S, Request) {
        (self.service.clone(), self.request.clone())
    }
}

/// The retry state of one request: the runtime's [`Retries`] (backoff, jitter, `max_retries`,
/// `max_duration`, the framework's classification of rejections), with the budget and
/// `Retry-After` applied around its decision. The pipeline calls its `after` as it calls
/// [`Retries::after`].
pub(crate) struct BudgetedRetries<'a, C> {
    retries: Retries<'a>,
    config: Option<&'a RetryConfig>,
    budget: Option<&'a RetryBudget>,
    classify: &'a C,
    retries_done: u32,
    started: Option<Instant>,
}

impl<'a, C> BudgetedRetries<'a, C> {
    pub(crate) fn new(policies: &'a Policies, classify: &'a C) -> Self {
        let config = policies.retry.as_ref();
        BudgetedRetries {
            retries: Retries::new(config),
            config,
            budget: policies.budget.as_deref(),
            classify,
            retries_done: 0,
            started: config
                .and_then(|retry| retry.max_duration)
                .map(|_| Instant::now()),
        }
    }

    pub(crate) fn after<Response, RetryIf>(
        &mut self,
        outcome: Result<Response, Failure<Attempt<Response>>>,
        retry_if: &RetryIf,
    ) -> ControlFlow<Result<Response, Failure<Attempt<Response>>>, Duration>
    where
        C: Classify<Response>,
        RetryIf: Fn(&Attempt<Response>) -> bool,
    {
        let Some(config) = self.config else {
            return ControlFlow::Break(outcome);
        };
        if outcome.is_ok() || self.retries_done >= config.max_retries {
            return ControlFlow::Break(outcome);
        }
        let asked = match &outcome {
            Err(Failure::Operation(Attempt::Response(response))) => self
                .classify
                .retry_after(response)
                .map(|delay| delay.min(config.max_delay)),
            _ => None,
        };
        if let (Some(asked), Some(max), Some(started)) = (asked, config.max_duration, self.started)
            && started.elapsed().saturating_add(asked) >= max
        {
            return ControlFlow::Break(outcome);
        }
        // A retry that would start after the request's deadline is not made.
        if let (Some(asked), Some(left)) = (asked, deadline::remaining())
            && asked >= left
        {
            return ControlFlow::Break(outcome);
        }
        if let Some(budget) = self.budget
            && !budget.withdraw()
        {
            tracing::debug!(target: "resilience", budget = budget.name(), "retry budget exhausted: not retrying");
            return ControlFlow::Break(outcome);
        }
        match self.retries.after(outcome, retry_if) {
            ControlFlow::Break(result) => {
                if let Some(budget) = self.budget {
                    budget.refund();
                }
                ControlFlow::Break(result)
            }
            ControlFlow::Continue(delay) => {
                let delay = asked.unwrap_or(delay);
                if let Some(left) = deadline::remaining()
                    && delay >= left
                {
                    // The backoff's delay outlasts the deadline; the failed outcome is gone
                    // (the decision consumed it), so the caller gets the deadline's `Timeout`.
                    if let Some(budget) = self.budget {
                        budget.refund();
                    }
                    return ControlFlow::Break(Err(Failure::Rejected(super::deadline::expired())));
                }
                self.retries_done += 1;
                ControlFlow::Continue(delay)
            }
        }
    }
}
