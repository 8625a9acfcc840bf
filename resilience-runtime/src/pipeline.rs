//! The composition of contract §2.7, outermost first: retry → circuit breaker → timeout →
//! bulkhead → operation (the fallback is applied by the caller, around everything).
//!
//! Built for generated code: the policies are borrowed (`&'static` from a call site), the
//! classifiers are generic closures (zero-sized for a fn item), nothing is boxed and nothing is
//! `dyn`. The operation's own error stays `E` inside [`Failure::Operation`], apart from the
//! policies' rejections, until the outermost layer converts with [`Failure::into_error`].

use std::future::Future;
use std::ops::ControlFlow;
use std::time::Duration;

use tokio::time::Instant;

use crate::bulkhead::Bulkhead;
use crate::circuit_breaker::CircuitBreaker;
use crate::failure::Failure;
use crate::layers::OperationErrors;
use crate::retry::{RetryConfig, RetryDecision};
use crate::site::{RetryOutcome, RetrySite};

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
        // `operation()` is called inside the attempt, after the breaker and the bulkhead
        // admitted it: a rejected call runs none of the caller's code.
        crate::layers::dispatch!(
            retry = self.retry.map(|retry| Retries::new(Some(retry))),
            retry_if = &retry_if,
            breaker = self.circuit_breaker,
            timeout = self.timeout,
            bulkhead = self.bulkhead,
            failure_if = &failure_if,
            attempt = OperationErrors {
                future: operation(),
            }
            .await,
        )
    }
}

/// The retry configuration of one call: the call site's own (borrowed), or the override in
/// force when the call started (shared).
#[derive(Debug, Clone)]
pub enum RetryRef<'a> {
    /// A configuration that outlives the call.
    Borrowed(&'a RetryConfig),
    /// An override's.
    Shared(std::sync::Arc<RetryConfig>),
}

impl std::ops::Deref for RetryRef<'_> {
    type Target = RetryConfig;
    #[inline]
    fn deref(&self) -> &RetryConfig {
        match self {
            RetryRef::Borrowed(config) => config,
            RetryRef::Shared(config) => config,
        }
    }
}

/// The retry state of one call: how many retries ran and since when, and the call site it
/// counts on (contract §8), if any.
#[derive(Debug)]
pub struct Retries<'a> {
    config: Option<RetryRef<'a>>,
    site: Option<&'a RetrySite>,
    started: Option<Instant>,
    retries_done: u32,
    #[cfg(debug_assertions)]
    monitor: crate::retry::monitor::RetryMonitor,
}

impl<'a> Retries<'a> {
    /// The retry state of a call that starts now; `None` means a single attempt.
    #[inline]
    pub fn new(config: Option<&'a RetryConfig>) -> Self {
        Self::owned(config.map(RetryRef::Borrowed))
    }

    /// [`new`](Self::new) with the configuration read for this call (a call site's, which an
    /// override may change between calls).
    #[inline]
    pub fn owned(config: Option<RetryRef<'a>>) -> Self {
        Retries {
            started: config
                .as_deref()
                .and_then(|retry| retry.max_duration)
                .map(|_| Instant::now()),
            config,
            site: None,
            retries_done: 0,
            #[cfg(debug_assertions)]
            monitor: Default::default(),
        }
    }

    /// A call of an annotated function's retry: the site's configuration in force (an
    /// override's, if any), its outcome and retries counted on the site, its retries named
    /// after it in `tracing` and in the event stream.
    #[inline]
    pub fn of_site(site: &'a RetrySite) -> Self {
        if let Some(budget) = site.budget() {
            budget.deposit();
        }
        Retries {
            site: Some(site),
            ..Self::owned(site.config())
        }
    }

    #[inline(always)]
    fn done(&self, outcome: RetryOutcome) {
        if let Some(site) = self.site {
            site.count(self.retries_done, outcome);
        }
    }

    /// After an attempt: `Break` with the call's result, or `Continue` with the delay to sleep
    /// before the next attempt.
    ///
    /// Rejections are classified by the framework (`CircuitOpen` never retried, `Timeout`,
    /// `BulkheadFull` and `NoInstance` retried); operation errors by `retry_if`.
    #[inline]
    pub fn after<T, E, RetryIf>(
        &mut self,
        outcome: Result<T, Failure<E>>,
        retry_if: &RetryIf,
    ) -> ControlFlow<Result<T, Failure<E>>, Duration>
    where
        RetryIf: Fn(&E) -> bool,
    {
        #[cfg(debug_assertions)]
        self.monitor
            .attempt_ended(self.retries_done, self.config.as_deref());
        let Err(failure) = &outcome else {
            self.done(RetryOutcome::Success);
            return ControlFlow::Break(outcome);
        };
        let Some(retry) = self.config.as_deref() else {
            self.done(RetryOutcome::Failure);
            return ControlFlow::Break(outcome);
        };
        let retryable = match failure {
            Failure::Operation(error) => retry_if(error),
            Failure::Rejected(rejection) => rejection.is_retryable(),
        };
        let elapsed = self
            .started
            .map_or(Duration::ZERO, |started| started.elapsed());
        let decision = retry.decide(self.retries_done, elapsed, retryable, fastrand::f64());
        #[cfg(debug_assertions)]
        crate::retry::monitor::decided(retry, self.retries_done, elapsed, retryable, decision);
        match decision {
            RetryDecision::GiveUp => {
                self.done(if !retryable {
                    RetryOutcome::NotRetryable
                } else if self.retries_done >= retry.max_retries {
                    RetryOutcome::MaxRetries
                } else {
                    RetryOutcome::MaxDuration
                });
                ControlFlow::Break(outcome)
            }
            RetryDecision::RetryAfter(delay) => {
                // Within a request's deadline, a retry that could not start before it is not
                // made: the call ends with its last error (as `max_duration` does).
                if let Some(left) = crate::deadline::remaining()
                    && delay >= left
                {
                    self.done(RetryOutcome::MaxDuration);
                    return ControlFlow::Break(outcome);
                }
                if let Some(budget) = self.site.and_then(RetrySite::budget)
                    && !budget.withdraw()
                {
                    self.budget_exhausted(budget);
                    return ControlFlow::Break(outcome);
                }
                self.retries_done += 1;
                self.retrying(delay, failure);
                ControlFlow::Continue(delay)
            }
        }
    }

    /// The budget refused a retry: the call ends with its last error.
    #[cold]
    fn budget_exhausted(&self, budget: &crate::budget::RetryBudget) {
        let name = self.site.map_or("", |site| site.name());
        tracing::debug!(target: "resilience", retry = name, budget = budget.name(), "retry budget exhausted; not retrying");
        self.done(RetryOutcome::Failure);
    }

    /// A retry is about to start after `delay`: counted, logged and sent as an event naming
    /// the policy.
    #[cold]
    fn retrying<E>(&self, delay: Duration, failure: &Failure<E>) {
        let name = self.site.map_or("", |site| site.name());
        let attempt = self.retries_done + 1;
        tracing::debug!(target: "resilience", retry = name, attempt, ?delay, "retrying after a failed attempt");
        if let Some(site) = self.site {
            site.count_retry();
            crate::events::emit(|| crate::events::Event::Retry {
                name: name.to_owned(),
                attempt,
                delay,
                error: match failure {
                    Failure::Rejected(rejection) => rejection.to_string(),
                    Failure::Operation(_) => {
                        format!("an error of type `{}`", std::any::type_name::<E>())
                    }
                },
            });
        }
    }
}
