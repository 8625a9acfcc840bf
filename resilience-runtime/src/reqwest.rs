//! The whole pipeline as a [`reqwest-middleware`](https://docs.rs/reqwest-middleware)
//! middleware (cargo feature `reqwest`; contract §9): [`ResilienceMiddleware`].
//!
//! It is [`ResilienceLayer`] for reqwest: built from a registry
//! name and a [`ResilienceConfig`], it shares the registry's breaker and bulkhead of that name
//! (with the attributes, the facade and the tower layers), spends the retry budget of that name,
//! and classifies responses with [`HttpClassify`] by default (`5xx` and `429` are failures, a
//! `Retry-After` on `429`/`503` sets the next retry's delay, capped by `max_delay`).
//!
//! ```no_run
//! use resilience_runtime::reqwest::ResilienceMiddleware;
//! use resilience_runtime::ResilienceConfig;
//!
//! # async fn run() -> Result<(), reqwest_middleware::Error> {
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(ResilienceMiddleware::new("user-service", ResilienceConfig::default()))
//!     .build();
//! let response = client.get("http://127.0.0.1:8080/users/7").send().await?;
//! # let _ = response;
//! # Ok(())
//! # }
//! ```
//!
//! # Retries need a cloneable request
//!
//! Each attempt sends a clone of the request (`reqwest::Request::try_clone`). A request whose
//! body is a stream cannot be cloned: it is sent once, through the breaker, timeout and bulkhead,
//! and not retried.
//!
//! # Deadlines
//!
//! Within a [`deadline::scope`](crate::deadline::scope), each attempt carries the time left in
//! `x-request-timeout` (and `grpc-timeout` for a gRPC content type), its timeout is shortened to
//! it, and a request whose deadline has passed is not sent (`Timeout`).
//!
//! # Errors
//!
//! reqwest's own errors come back as [`reqwest_middleware::Error::Reqwest`]; the policies'
//! rejections as [`reqwest_middleware::Error::Middleware`] holding a
//! [`ResilienceError`] (`error.downcast_ref::<ResilienceError>()` on the
//! `anyhow::Error`). A failed response is returned as a response once the retries run out.

use std::sync::Arc;

use http::Extensions;
use reqwest_middleware::{Middleware, Next};

use crate::budget::RetryBudget;
use crate::error::{ConfigError, ResilienceError};
use crate::facade::ResilienceConfig;
use crate::failure::Failure;
use crate::tower::classify::{http_failure, http_retry_after};
use crate::tower::service::{Attempt, BudgetedRetries, Policies, every_failure};
use crate::tower::{Classify, HttpClassify, ResilienceLayer};

/// The pipeline of contract §2.7 below the fallback (retry, budgeted → circuit breaker →
/// timeout → bulkhead → the request) as a `reqwest-middleware` middleware. See the
/// [module](self).
#[derive(Debug, Clone)]
pub struct ResilienceMiddleware<C = HttpClassify> {
    policies: Arc<Policies>,
    classify: C,
}

impl ResilienceMiddleware {
    /// The pipeline `name` with `config`: the registry's breaker and bulkhead `name`, the budget
    /// `name`. A configuration out of range makes every request fail with `Config`, unsent.
    pub fn new(name: &str, config: ResilienceConfig) -> Self {
        Self::from(ResilienceLayer::new(name, config))
    }

    /// [`new`](Self::new), or the error of a configuration or name out of range.
    pub fn try_new(name: &str, config: ResilienceConfig) -> Result<Self, ConfigError> {
        ResilienceLayer::try_new(name, config).map(Self::from)
    }
}

impl<C> ResilienceMiddleware<C> {
    /// The same middleware with another classifier of responses.
    pub fn classify<C2>(self, classify: C2) -> ResilienceMiddleware<C2> {
        ResilienceMiddleware {
            policies: self.policies,
            classify,
        }
    }

    /// The same middleware with another retry budget (`None`: no budget).
    pub fn budget(self, budget: Option<Arc<RetryBudget>>) -> Self {
        let layer = ResilienceLayer {
            policies: self.policies,
            classify: self.classify,
        }
        .budget(budget);
        ResilienceMiddleware {
            policies: layer.policies,
            classify: layer.classify,
        }
    }
}

/// The middleware with the layer's policies (one breaker, bulkhead and budget between the two).
impl<C> From<ResilienceLayer<C>> for ResilienceMiddleware<C> {
    fn from(layer: ResilienceLayer<C>) -> Self {
        ResilienceMiddleware {
            policies: layer.policies,
            classify: layer.classify,
        }
    }
}

impl Classify<reqwest::Response> for HttpClassify {
    #[inline]
    fn is_failure(&self, response: &reqwest::Response) -> bool {
        http_failure(response.status())
    }

    fn retry_after(&self, response: &reqwest::Response) -> Option<std::time::Duration> {
        http_retry_after(response.status(), response.headers())
    }
}

type Outcome = Result<reqwest::Response, Failure<Attempt<reqwest::Response>>>;

/// One attempt: the time left into the headers, the rest of the chain, the classification.
async fn send<C: Classify<reqwest::Response>>(
    next: Next<'_>,
    mut request: reqwest::Request,
    extensions: &mut Extensions,
    classify: &C,
) -> Outcome {
    if !crate::deadline::write_headers(request.headers_mut()) {
        return Err(Failure::Rejected(crate::tower::deadline::expired()));
    }
    match next.run(request, extensions).await {
        Ok(response) if classify.is_failure(&response) => {
            Err(Failure::Operation(Attempt::Response(response)))
        }
        Ok(response) => Ok(response),
        // An inner middleware's rejection (a breaker of its own) is a rejection here too.
        Err(reqwest_middleware::Error::Middleware(error)) => {
            match error.downcast::<ResilienceError>() {
                Ok(rejection) => Err(Failure::Rejected(rejection)),
                Err(error) => Err(Failure::Operation(Attempt::Error(Box::new(
                    reqwest_middleware::Error::Middleware(error),
                )))),
            }
        }
        Err(error) => Err(Failure::Operation(Attempt::Error(Box::new(error)))),
    }
}

fn finish(outcome: Outcome) -> reqwest_middleware::Result<reqwest::Response> {
    match outcome {
        Ok(response) | Err(Failure::Operation(Attempt::Response(response))) => Ok(response),
        Err(Failure::Operation(Attempt::Error(error))) => {
            match error.downcast::<reqwest_middleware::Error>() {
                Ok(error) => Err(*error),
                Err(error) => Err(reqwest_middleware::Error::Middleware(
                    anyhow::Error::from_boxed(error),
                )),
            }
        }
        Err(Failure::Rejected(rejection)) => Err(reqwest_middleware::Error::middleware(rejection)),
    }
}

#[async_trait::async_trait]
impl<C: Classify<reqwest::Response>> Middleware for ResilienceMiddleware<C> {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let policies = &*self.policies;
        let classify = &self.classify;
        if let Err(rejection) = policies.check() {
            return Err(reqwest_middleware::Error::middleware(rejection));
        }
        let layers = policies.layers();
        let Some(mut template) = request.try_clone() else {
            // A streamed body: one attempt, no retry.
            let outcome = crate::__pipeline!(
                retry = none,
                breaker = some,
                timeout = some,
                bulkhead = some,
                layers = &layers,
                failure_if = &every_failure::<reqwest::Response>,
                attempt = send(next.clone(), request, extensions, classify).await,
            );
            return finish(outcome);
        };
        if let Some(budget) = &policies.budget {
            budget.deposit();
        }
        let mut first = Some(request);
        let outcome = crate::__pipeline!(
            retry = BudgetedRetries::new(policies, classify),
            retry_if = &every_failure::<reqwest::Response>,
            breaker = some,
            timeout = some,
            bulkhead = some,
            layers = &layers,
            failure_if = &every_failure::<reqwest::Response>,
            attempt = {
                let request = match first.take() {
                    Some(request) => request,
                    None => clone_of(&mut template),
                };
                send(next.clone(), request, extensions, classify).await
            },
        );
        finish(outcome)
    }
}

/// A clone of a request `try_clone` already cloned once (so its body is not a stream).
fn clone_of(template: &mut reqwest::Request) -> reqwest::Request {
    match template.try_clone() {
        Some(clone) => clone,
        // Not reached (a body that cloned once clones again); sending the template itself
        // is the best answer if it were.
        None => std::mem::replace(
            template,
            reqwest::Request::new(template.method().clone(), template.url().clone()),
        ),
    }
}
