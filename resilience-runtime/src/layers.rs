//! The layers of one attempt — circuit breaker → timeout → bulkhead → operation — as types, so
//! that a call site pays only for the layers it has.
//!
//! Each layer is a trait implemented for the policy (`&CircuitBreaker`, `Duration`,
//! `&Bulkhead`), for [`NoLayer`] (nothing to do: no code, no state in the future) and for
//! `Option` of the policy (decided at run time, as the programmatic [`Pipeline`] needs).
//! [`Pipeline`] builds [`Layers`] with `Option`s; [`Layers::attempt`] and `Pipeline::run`
//! expand one composition of the layers (`compose_attempt!`) into their own future. Generated
//! code builds [`Layers`] with concrete types and composes the same trait methods (and
//! [`breaker_outcome`]) inline, in the annotated function's own future: one state machine
//! instead of one per layer, and no code or state for a layer the function does not have.
//!
//! [`Pipeline`]: crate::Pipeline

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::bulkhead::{Bulkhead, BulkheadPermit};
use crate::circuit_breaker::{BreakerPermit, CircuitBreaker};
use crate::error::ResilienceError;
use crate::pipeline::Failure;

/// A layer that is not there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoLayer;

/// Admission to, and outcome recording of, a circuit breaker.
///
/// Implemented for references (`&'a CircuitBreaker`), whose permits borrow `'a`: plain
/// associated types rather than lifetime-generic ones, which async code could not prove `Send`
/// for every lifetime.
pub trait BreakerLayer {
    /// What an admitted call holds until its outcome is known.
    type Permit;
    /// A permit, or `None` for `CircuitOpen`.
    fn admit(&self) -> Option<Self::Permit>;
    /// The rejection when [`admit`](Self::admit) said `None`.
    fn rejection(&self) -> ResilienceError;
    /// Reports the outcome: `Some(failed)`, or `None` for neither (the permit is left to be
    /// dropped, which cancels it). Through a reference, so the permit is read where it lies
    /// (see [`BreakerPermit::settle`]).
    fn record(permit: &mut Self::Permit, failed: Option<bool>);
}

impl BreakerLayer for NoLayer {
    type Permit = ();
    #[inline(always)]
    fn admit(&self) -> Option<()> {
        Some(())
    }
    fn rejection(&self) -> ResilienceError {
        unreachable_rejection()
    }
    #[inline(always)]
    fn record(_: &mut (), _: Option<bool>) {}
}

impl<'a> BreakerLayer for &'a CircuitBreaker {
    type Permit = BreakerPermit<'a>;
    #[inline(always)]
    fn admit(&self) -> Option<BreakerPermit<'a>> {
        CircuitBreaker::admit(self)
    }
    fn rejection(&self) -> ResilienceError {
        CircuitBreaker::rejection(self)
    }
    #[inline(always)]
    fn record(permit: &mut BreakerPermit<'a>, failed: Option<bool>) {
        permit.settle(failed);
    }
}

impl<L: BreakerLayer> BreakerLayer for Option<L> {
    type Permit = Option<L::Permit>;
    #[inline]
    fn admit(&self) -> Option<Self::Permit> {
        match self {
            Some(layer) => layer.admit().map(Some),
            None => Some(None),
        }
    }
    fn rejection(&self) -> ResilienceError {
        match self {
            Some(layer) => layer.rejection(),
            None => unreachable_rejection(),
        }
    }
    #[inline]
    fn record(permit: &mut Self::Permit, failed: Option<bool>) {
        if let Some(permit) = permit {
            L::record(permit, failed);
        }
    }
}

/// A layer without rejections was asked for one: an internal error, reported rather than
/// panicking.
#[cold]
fn unreachable_rejection() -> ResilienceError {
    ResilienceError::Operation("resilience: a layer without rejections was asked for one".into())
}

/// Bounds the rest of the attempt in time.
pub trait TimeoutLayer {
    /// The bounded future.
    type Bounded<F: Future>: Future<Output = Result<F::Output, ResilienceError>>;
    /// `future`, failing with `Timeout` if it takes too long.
    fn bound<F: Future>(&self, future: F) -> Self::Bounded<F>;
}

impl TimeoutLayer for NoLayer {
    type Bounded<F: Future> = Unbounded<F>;
    #[inline(always)]
    fn bound<F: Future>(&self, future: F) -> Unbounded<F> {
        Unbounded { future }
    }
}

impl TimeoutLayer for Duration {
    type Bounded<F: Future> = Bounded<F>;
    #[inline(always)]
    fn bound<F: Future>(&self, future: F) -> Bounded<F> {
        Bounded {
            inner: tokio::time::timeout(*self, future),
            after: *self,
        }
    }
}

impl TimeoutLayer for Option<Duration> {
    type Bounded<F: Future> = MaybeBounded<F>;
    #[inline]
    fn bound<F: Future>(&self, future: F) -> MaybeBounded<F> {
        match self {
            Some(after) => MaybeBounded::Bounded {
                inner: after.bound(future),
            },
            None => MaybeBounded::Unbounded { future },
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`NoLayer`]'s timeout: the inner future, its output wrapped in `Ok`.
    #[derive(Debug)]
    pub struct Unbounded<F> {
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Unbounded<F> {
    type Output = Result<F::Output, ResilienceError>;
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().future.poll(cx).map(Ok)
    }
}

pin_project_lite::pin_project! {
    /// `tokio::time::timeout` with its expiry mapped to `ResilienceError::Timeout`, and nothing
    /// else: no extra state machine around tokio's future.
    #[derive(Debug)]
    pub struct Bounded<F> {
        #[pin]
        inner: tokio::time::Timeout<F>,
        after: Duration,
    }
}

impl<F: Future> Future for Bounded<F> {
    type Output = Result<F::Output, ResilienceError>;
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let after = *this.after;
        this.inner
            .poll(cx)
            .map(|result| result.map_err(|_| ResilienceError::Timeout { after }))
    }
}

pub use maybe::MaybeBounded;
use maybe::MaybeBoundedProjection;

mod maybe {
    // pin-project-lite takes no doc comments on variant fields.
    #![allow(missing_docs)]
    use super::Bounded;

    pin_project_lite::pin_project! {
        /// The future of an optional timeout.
        #[project = MaybeBoundedProjection]
        #[derive(Debug)]
        pub enum MaybeBounded<F> {
            /// With a timeout.
            Bounded { #[pin] inner: Bounded<F> },
            /// Without.
            Unbounded { #[pin] future: F },
        }
    }
}

impl<F: Future> Future for MaybeBounded<F> {
    type Output = Result<F::Output, ResilienceError>;
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            MaybeBoundedProjection::Bounded { inner } => inner.poll(cx),
            MaybeBoundedProjection::Unbounded { future } => future.poll(cx).map(Ok),
        }
    }
}

/// A slot in a bulkhead.
///
/// The waiting path is a named future type (not `impl Future`): an opaque type returned from a
/// trait method cannot be proven `Send` for every lifetime, which would stop callers from
/// spawning their annotated functions.
pub trait BulkheadLayer {
    /// A held slot, released when dropped.
    type Slot;
    /// The waiting path's future.
    type Queued: Future<Output = Result<Self::Slot, ResilienceError>>;
    /// A slot now, if one is free and nobody queues.
    fn try_admit(&self) -> Option<Self::Slot>;
    /// Waits in the queue (the slow path).
    fn admit_queued(&self) -> Self::Queued;
}

impl BulkheadLayer for NoLayer {
    type Slot = ();
    type Queued = std::future::Ready<Result<(), ResilienceError>>;
    #[inline(always)]
    fn try_admit(&self) -> Option<()> {
        Some(())
    }
    fn admit_queued(&self) -> Self::Queued {
        std::future::ready(Ok(()))
    }
}

/// The waiting path of a bulkhead (`Bulkhead::acquire_queued`, an `async fn` that joins the
/// queue and bounds the wait by `max_wait`): its future cannot be named, so it is boxed.
/// Only a caller that found every slot taken pays for the box, and the attempt's own future
/// stays small for everyone else.
pub type QueuedSlot<'a> =
    Pin<Box<dyn Future<Output = Result<BulkheadPermit<'a>, ResilienceError>> + Send + 'a>>;

impl<'a> BulkheadLayer for &'a Bulkhead {
    type Slot = BulkheadPermit<'a>;
    type Queued = QueuedSlot<'a>;
    #[inline(always)]
    fn try_admit(&self) -> Option<BulkheadPermit<'a>> {
        Bulkhead::try_acquire(self)
    }
    #[cold]
    fn admit_queued(&self) -> QueuedSlot<'a> {
        Box::pin(Bulkhead::acquire_queued(self))
    }
}

impl<L: BulkheadLayer> BulkheadLayer for Option<L> {
    type Slot = Option<L::Slot>;
    type Queued = OptionQueued<L::Queued>;
    #[inline]
    fn try_admit(&self) -> Option<Self::Slot> {
        match self {
            Some(layer) => layer.try_admit().map(Some),
            None => Some(None),
        }
    }
    fn admit_queued(&self) -> Self::Queued {
        OptionQueued {
            inner: self.as_ref().map(L::admit_queued),
        }
    }
}

pin_project_lite::pin_project! {
    /// The waiting path of an optional bulkhead.
    #[derive(Debug)]
    pub struct OptionQueued<Q> {
        #[pin]
        inner: Option<Q>,
    }
}

impl<S, Q: Future<Output = Result<S, ResilienceError>>> Future for OptionQueued<Q> {
    type Output = Result<Option<S>, ResilienceError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().inner.as_pin_mut() {
            Some(queued) => queued.poll(cx).map(|slot| slot.map(Some)),
            None => Poll::Ready(Ok(None)),
        }
    }
}

/// The layers of one attempt, outermost first.
#[derive(Debug, Clone, Copy, Default)]
pub struct Layers<B, T, H> {
    /// Checked before the attempt; records its outcome.
    pub circuit_breaker: B,
    /// Bounds the attempt, waiting in the bulkhead included.
    pub timeout: T,
    /// A slot for the body.
    pub bulkhead: H,
}

impl<B: BreakerLayer, T: TimeoutLayer, H: BulkheadLayer> Layers<B, T, H> {
    /// One attempt: breaker → timeout → bulkhead → `attempt`. The future is only polled once
    /// the breaker and the bulkhead have admitted it.
    ///
    /// `failure_if` says which operation errors count as breaker failures (the others count
    /// as successes); a timeout is a failure, `BulkheadFull` is neither.
    #[inline]
    pub async fn attempt<R, E, Fut, FailureIf>(
        &self,
        failure_if: &FailureIf,
        attempt: Fut,
    ) -> Result<R, Failure<E>>
    where
        Fut: Future<Output = Result<R, E>>,
        FailureIf: Fn(&E) -> bool,
    {
        compose_attempt!(self, failure_if, OperationErrors { future: attempt })
    }

    /// [`attempt`](Self::attempt) for an innermost step that may itself reject the call:
    /// `attempt` yields `Err(Failure::Rejected(..))` for a rejection (`#[discover]`'s
    /// `NoInstance`, raised after the bulkhead admitted the attempt) and
    /// `Err(Failure::Operation(..))` for the operation's own error.
    ///
    /// A rejection from `attempt` is classified like the layers' own: it counts as a breaker
    /// failure when [`ResilienceError::is_breaker_failure`] says so.
    #[inline]
    pub async fn attempt_or_reject<R, E, Fut, FailureIf>(
        &self,
        failure_if: &FailureIf,
        attempt: Fut,
    ) -> Result<R, Failure<E>>
    where
        Fut: Future<Output = Result<R, Failure<E>>>,
        FailureIf: Fn(&E) -> bool,
    {
        compose_attempt!(self, failure_if, attempt)
    }
}

/// One attempt, composed inline in the calling `async` function (breaker → timeout →
/// bulkhead → `$attempt`, whose output is `Result<R, Failure<E>>`): one state machine for
/// the composition, and only the timeout's future nested in it. [`Layers::attempt_or_reject`]
/// and `Pipeline::run` expand it; generated code composes the same trait methods itself.
macro_rules! compose_attempt {
    ($layers:expr, $failure_if:expr, $attempt:expr) => {{
        let layers = $layers;
        match $crate::layers::BreakerLayer::admit(&layers.circuit_breaker) {
            None => Err($crate::pipeline::Failure::Rejected(
                $crate::layers::BreakerLayer::rejection(&layers.circuit_breaker),
            )),
            Some(mut permit) => {
                let bulkhead = &layers.bulkhead;
                let attempt = $attempt;
                let bounded = $crate::layers::TimeoutLayer::bound(&layers.timeout, async move {
                    // Held until the attempt ends; dropped in place.
                    let _slot = match $crate::layers::BulkheadLayer::try_admit(bulkhead) {
                        Some(slot) => slot,
                        None => $crate::layers::BulkheadLayer::admit_queued(bulkhead).await?,
                    };
                    attempt.await
                });
                let outcome = match bounded.await {
                    Ok(outcome) => outcome,
                    Err(timeout) => Err($crate::pipeline::Failure::Rejected(timeout)),
                };
                $crate::layers::record(
                    &layers.circuit_breaker,
                    &mut permit,
                    $crate::layers::breaker_outcome(&outcome, $failure_if),
                );
                outcome
            }
        }
    }};
}
pub(crate) use compose_attempt;

/// [`BreakerLayer::record`] with the layer's type inferred from the layer.
#[inline(always)]
pub(crate) fn record<B: BreakerLayer>(_: &B, permit: &mut B::Permit, failed: Option<bool>) {
    B::record(permit, failed);
}

/// How an attempt's outcome counts for the breaker that admitted it: `Some(failed)`, or `None`
/// for neither. An operation error is a failure when `failure_if` says so (a success
/// otherwise); a rejection when [`ResilienceError::is_breaker_failure`] says so (a timeout,
/// `NoInstance`), neither otherwise (`BulkheadFull`).
#[inline(always)]
pub fn breaker_outcome<R, E>(
    outcome: &Result<R, Failure<E>>,
    failure_if: &impl Fn(&E) -> bool,
) -> Option<bool> {
    match outcome {
        Ok(_) => Some(false),
        Err(Failure::Operation(error)) => Some(failure_if(error)),
        Err(Failure::Rejected(rejection)) => rejection.is_breaker_failure().then_some(true),
    }
}

pin_project_lite::pin_project! {
    /// An operation's future with its error marked as the operation's own.
    pub(crate) struct OperationErrors<F> {
        #[pin]
        pub(crate) future: F,
    }
}

impl<R, E, F: Future<Output = Result<R, E>>> Future for OperationErrors<F> {
    type Output = Result<R, Failure<E>>;
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .future
            .poll(cx)
            .map(|result| result.map_err(Failure::Operation))
    }
}
