//! The composition of CONTRACT §2.7, outermost first: retry → circuit breaker → timeout →
//! bulkhead → operation (the fallback is applied by the caller, around everything).
//!
//! Built for generated code: the policies are borrowed (`&'static` from a call site), the
//! classifiers are generic closures (zero-sized for a fn item), nothing is boxed and nothing is
//! `dyn`. The operation's own error stays `E` inside [`Failure::Operation`], apart from the
//! policies' rejections, until the outermost layer converts with [`Failure::into_error`].

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::bulkhead::Bulkhead;
use crate::circuit_breaker::CircuitBreaker;
use crate::error::ResilienceError;
use crate::retry::{RetryConfig, RetryDecision};

/// Why a pipeline run failed: the operation's own error, or a policy's rejection.
#[derive(Debug)]
pub enum Failure<E> {
    /// The operation returned `Err`.
    Operation(E),
    /// A policy rejected or abandoned the call.
    Rejected(ResilienceError),
}

impl<E> Failure<E> {
    /// The error the caller sees: the operation's own, or the rejection converted into `E`.
    #[inline]
    pub fn into_error(self) -> E
    where
        E: From<ResilienceError>,
    {
        match self {
            Failure::Operation(error) => error,
            Failure::Rejected(rejection) => E::from(rejection),
        }
    }
}

impl<E> From<ResilienceError> for Failure<E> {
    fn from(rejection: ResilienceError) -> Self {
        Failure::Rejected(rejection)
    }
}

/// The policies of one call site. `None` skips a layer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pipeline<'a> {
    /// Outermost: runs the attempts.
    pub retry: Option<&'a RetryConfig>,
    /// Checked before each attempt; records its outcome.
    pub circuit_breaker: Option<&'a CircuitBreaker>,
    /// Bounds each attempt, waiting in the bulkhead included.
    pub timeout: Option<Duration>,
    /// Innermost: a slot for the body.
    pub bulkhead: Option<&'a Bulkhead>,
}

impl Pipeline<'_> {
    /// Runs `operation` through the policies.
    ///
    /// `failure_if` says which operation errors count as breaker failures (the others count as
    /// successes); `retry_if` which are retried. Rejections are classified by the framework:
    /// `CircuitOpen` is never retried, `Timeout` and `BulkheadFull` are; a timeout is a breaker
    /// failure, `BulkheadFull` is neither a failure nor a success. When retries run out the last
    /// failure is returned.
    pub async fn run<T, E, Op, Fut, FailureIf, RetryIf>(
        &self,
        failure_if: FailureIf,
        retry_if: RetryIf,
        mut operation: Op,
    ) -> Result<T, Failure<E>>
    where
        Op: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        FailureIf: Fn(&E) -> bool,
        RetryIf: Fn(&E) -> bool,
    {
        let Some(retry) = self.retry else {
            return self.attempt(&failure_if, &mut operation).await;
        };
        let started = retry.max_duration.map(|_| Instant::now());
        let mut retries_done = 0;
        loop {
            let failure = match self.attempt(&failure_if, &mut operation).await {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            let retryable = match &failure {
                Failure::Operation(error) => retry_if(error),
                Failure::Rejected(rejection) => rejection.is_retryable(),
            };
            let elapsed = started.map_or(Duration::ZERO, |started| started.elapsed());
            match retry.decide(retries_done, elapsed, retryable, fastrand::f64()) {
                RetryDecision::GiveUp => return Err(failure),
                RetryDecision::RetryAfter(delay) => {
                    retries_done += 1;
                    tracing::debug!(target: "resilience", retry = retries_done, ?delay, "retrying after a failed attempt");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// One attempt: breaker → timeout → bulkhead → operation.
    #[inline]
    async fn attempt<T, E, Op, Fut, FailureIf>(
        &self,
        failure_if: &FailureIf,
        operation: &mut Op,
    ) -> Result<T, Failure<E>>
    where
        Op: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        FailureIf: Fn(&E) -> bool,
    {
        let permit = match self.circuit_breaker {
            Some(breaker) => Some(breaker.try_acquire()?),
            None => None,
        };
        let outcome = match self.timeout {
            Some(after) => tokio::time::timeout(after, self.guarded(operation))
                .await
                .unwrap_or_else(|_| Err(Failure::Rejected(ResilienceError::Timeout { after }))),
            None => self.guarded(operation).await,
        };
        if let Some(permit) = permit {
            let failed = match &outcome {
                Ok(_) => Some(false),
                Err(Failure::Operation(error)) => Some(failure_if(error)),
                Err(Failure::Rejected(rejection)) => rejection.is_breaker_failure().then_some(true),
            };
            match failed {
                Some(false) => permit.success(),
                Some(true) => permit.failure(),
                None => drop(permit),
            }
        }
        outcome
    }

    /// Bulkhead → operation.
    #[inline]
    async fn guarded<T, E, Op, Fut>(&self, operation: &mut Op) -> Result<T, Failure<E>>
    where
        Op: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let _slot = match self.bulkhead {
            Some(bulkhead) => Some(match bulkhead.try_acquire() {
                Some(slot) => slot,
                None => bulkhead.acquire_queued().await?,
            }),
            None => None,
        };
        operation().await.map_err(Failure::Operation)
    }
}
