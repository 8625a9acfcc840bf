//! The layers of one attempt — circuit breaker → timeout → bulkhead → operation — as types, so
//! that a call site pays only for the layers it has, and [`__pipeline!`](crate::__pipeline), the
//! one composition of them (with retry around) that every entry point expands.
//!
//! Each layer is a trait implemented for the policy (`&CircuitBreaker`, `Duration`,
//! `&Bulkhead`), for [`NoLayer`] (nothing to do: no code, no state in the future) and for
//! `Option` of the policy (decided at run time, as the programmatic [`Pipeline`] needs).
//! Generated code builds [`Layers`] of concrete types, [`Pipeline`] of `Option`s; both expand
//! the same macro into their own future: one state machine instead of one per layer.
//!
//! This module must not know about the attributes' syntax or about discovery: `#[discover]`'s
//! step is an `attempt` like any other.
//!
//! [`Pipeline`]: crate::Pipeline

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::bulkhead::{Bulkhead, BulkheadPermit};
use crate::circuit_breaker::{BreakerPermit, CircuitBreaker};
use crate::error::ResilienceError;
use crate::failure::Failure;

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
    /// Called once when a bounded attempt ran out of time (a call site counts it and sends
    /// its event).
    #[inline(always)]
    fn timed_out(&self) {}
    /// Called once when a bounded attempt ended in time (a call site counts it).
    #[inline(always)]
    fn finished(&self) {}
}

impl TimeoutLayer for NoLayer {
    type Bounded<F: Future> = Unbounded<F>;
    #[inline(always)]
    fn bound<F: Future>(&self, future: F) -> Unbounded<F> {
        Unbounded { future }
    }
}

/// A timeout of this long, shortened to the request's time left ([`crate::deadline`]) when the
/// attempt starts: every entry point (attributes, [`Pipeline`](crate::Pipeline), the facade,
/// the tower layers) bounds its attempts here. See [`Bounded`] for when its timer is armed.
impl TimeoutLayer for Duration {
    type Bounded<F: Future> = Bounded<F>;
    #[inline(always)]
    fn bound<F: Future>(&self, future: F) -> Bounded<F> {
        // Within a request's deadline (`deadline::scope`), the attempt gets at most the time
        // left, and none once it has passed (it is then not started): the clock is read now.
        // Without one, not before the attempt first waits.
        let (after, at) = crate::deadline::bound_from_now(*self).unwrap_or((*self, None));
        Bounded {
            future,
            timer: None,
            after,
            at,
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
    /// A future bounded in time, failing with `ResilienceError::Timeout` when its time is up.
    ///
    /// The timer (a tokio `Sleep`) is armed when the future first returns `Pending`, not
    /// before: an attempt that completes in its first poll (a cache hit, an in-memory
    /// dependency, the success path of most benchmarks) reads no clock and touches no timer,
    /// where `tokio::time::timeout` reads the clock, clones the runtime's handle and builds
    /// its timer entry for every call (about 80 % of its cost on this project's machines).
    /// The time is counted from that first `Pending`: an attempt whose first poll blocks its
    /// thread gets that much longer. (No async timeout interrupts a blocked thread anyway;
    /// within a request's deadline the clock is read at the start, and the attempt ends at the
    /// deadline whatever its first poll did.) A zero duration fails at once without polling
    /// the future: an attempt with no time left is not started. `Duration::MAX` (a disabled
    /// timeout) arms no timer at all.
    pub struct Bounded<F> {
        #[pin]
        future: F,
        // `unconstrained`: the timer's poll uses none of the task's coop budget, so it fires
        // even when the future used it all (what `tokio::time::Timeout` does).
        #[pin]
        timer: Option<tokio::task::Unconstrained<tokio::time::Sleep>>,
        after: Duration,
        // When the time is up, if known at the start (within a request's deadline).
        at: Option<tokio::time::Instant>,
    }
}

impl<F> std::fmt::Debug for Bounded<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bounded")
            .field("after", &self.after)
            .field("at", &self.at)
            .field("armed", &self.timer.is_some())
            .finish_non_exhaustive()
    }
}

impl<F: Future> Future for Bounded<F> {
    type Output = Result<F::Output, ResilienceError>;
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let after = *this.after;
        if after.is_zero() {
            // No time at all (the request's deadline has passed): the attempt is not started.
            return Poll::Ready(Err(ResilienceError::Timeout { after }));
        }
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        if this.timer.is_none() {
            let Some(at) = this
                .at
                .or_else(|| tokio::time::Instant::now().checked_add(after))
            else {
                return Poll::Pending; // Beyond any instant: never.
            };
            this.timer
                .set(Some(tokio::task::unconstrained(tokio::time::sleep_until(
                    at,
                ))));
        }
        match this.timer.as_pin_mut().map(|timer| timer.poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Err(ResilienceError::Timeout { after })),
            _ => Poll::Pending,
        }
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

/// One call through the pipeline of contract §2.7 below the fallback — retry → circuit breaker
/// → timeout → bulkhead → `attempt` — composed inline in the calling `async` block: one state
/// machine for the whole composition, with only the timeout's future nested in it.
///
/// This is the ONE definition of the order. The attributes' expansion and
/// [`ResilienceFacade::execute`] expand it directly; [`Pipeline::run`] and the tower services,
/// whose layers are decided at run time, through `dispatch!` (one expansion per combination
/// of layers present). Each caller applies its fallback around it.
///
/// - `retry = none` runs one attempt; `retry = $retries` (a [`Retries`]) drives the attempts,
///   with `retry_if: Fn(&E) -> bool` classifying operation errors.
/// - `breaker`, `timeout`, `bulkhead`: `some` or `none`, whether the caller has that layer. A
///   `none` layer gets no code and no state in the caller's future (what generated code knows at
///   compile time); `some` works with any [`BreakerLayer`], [`TimeoutLayer`], [`BulkheadLayer`],
///   `Option`s included (what [`Pipeline`] decides at run time).
/// - `layers` is a `&Layers<B, T, H>` of the layers ([`NoLayer`] for a `none` one), as an
///   expression evaluated at each use (`&layers`: no local of the macro's own in the future).
/// - `failure_if: &impl Fn(&E) -> bool` says which operation errors count as breaker failures.
/// - `attempt` is an expression of type `Result<R, Failure<E>>`, spliced into the attempt (so
///   it may `.await`), evaluated once per attempt and only after the breaker and the bulkhead
///   admitted that attempt: a rejected call runs none of the caller's code (no argument is
///   cloned, no body is started).
///
/// A body that panics is recorded as a breaker failure while the panic unwinds (see
/// [`PanicGuard`]).
///
/// [`Pipeline`]: crate::Pipeline
/// [`Pipeline::run`]: crate::Pipeline::run
/// [`ResilienceFacade::execute`]: crate::ResilienceFacade::execute
/// [`Retries`]: crate::Retries
#[doc(hidden)]
#[macro_export]
macro_rules! __pipeline {
    (
        retry = none,
        breaker = $breaker:ident, timeout = $timeout:ident, bulkhead = $bulkhead:ident,
        layers = $layers:expr, failure_if = $failure_if:expr, attempt = $attempt:expr $(,)?
    ) => {{
        // Unused when every layer is `none` (a `Pipeline` with no policy).
        #[allow(unused_variables)]
        let layers = $layers;
        $crate::__breaker!(
            $breaker,
            layers,
            $failure_if,
            $crate::__timeout!(
                $timeout,
                layers,
                $crate::__bulkhead!($bulkhead, layers, $attempt)
            )
        )
    }};
    (
        retry = $retries:expr, retry_if = $retry_if:expr,
        breaker = $breaker:ident, timeout = $timeout:ident, bulkhead = $bulkhead:ident,
        layers = $layers:expr, failure_if = $failure_if:expr, attempt = $attempt:expr $(,)?
    ) => {{
        let mut retries = $retries;
        // Unused when every layer is `none` (a `Pipeline` with no policy).
        #[allow(unused_variables)]
        let layers = $layers;
        loop {
            let outcome = $crate::__breaker!(
                $breaker,
                layers,
                $failure_if,
                $crate::__timeout!(
                    $timeout,
                    layers,
                    $crate::__bulkhead!($bulkhead, layers, $attempt)
                )
            );
            match retries.after(outcome, $retry_if) {
                ::core::ops::ControlFlow::Break(result) => break result,
                ::core::ops::ControlFlow::Continue(delay) => {
                    // No bulkhead slot and no breaker permit is held here: both belong to the
                    // attempt, which has ended. A zero delay retries at once: tokio's
                    // `sleep(0)` would wait for the timer's next millisecond tick.
                    if !delay.is_zero() {
                        $crate::__generated::sleep(delay).await
                    }
                }
            }
        }
    }};
}

/// [`__pipeline!`] for layers decided at run time (`Option`s), expanded once per combination of
/// the layers present, each with its layers' concrete types: a call through one policy runs
/// the code the attributes generate for that policy alone, not the code of four optional
/// layers (`Pipeline::run` of a breaker alone: 67 -> 13 ns per call in the peer bench).
///
/// `retry` is `none` (one attempt) or an `Option` of the retry state (`None`: one attempt); `breaker`, `timeout` and
/// `bulkhead` are `Option`s of the layers. The other arguments are `__pipeline!`'s, with
/// `attempt` spliced into each of the sixteen expansions (one of them runs).
macro_rules! dispatch {
    (
        retry = none,
        breaker = $breaker:expr, timeout = $timeout:expr, bulkhead = $bulkhead:expr,
        failure_if = $failure_if:expr, attempt = $attempt:expr $(,)?
    ) => {
        $crate::layers::dispatch!(
            @breaker [retry = none,], ($breaker, $timeout, $bulkhead), $failure_if, $attempt
        )
    };
    (
        retry = $retry:expr, retry_if = $retry_if:expr,
        breaker = $breaker:expr, timeout = $timeout:expr, bulkhead = $bulkhead:expr,
        failure_if = $failure_if:expr, attempt = $attempt:expr $(,)?
    ) => {
        match $retry {
            ::core::option::Option::Some(retries) => $crate::layers::dispatch!(
                @breaker [retry = retries, retry_if = $retry_if,],
                ($breaker, $timeout, $bulkhead), $failure_if, $attempt
            ),
            ::core::option::Option::None => $crate::layers::dispatch!(
                @breaker [retry = none,],
                ($breaker, $timeout, $bulkhead), $failure_if, $attempt
            ),
        }
    };
    (@breaker [$($retry:tt)*], ($breaker:expr, $timeout:expr, $bulkhead:expr), $failure_if:expr, $attempt:expr) => {
        match $breaker {
            ::core::option::Option::Some(breaker) => $crate::layers::dispatch!(
                @timeout [$($retry)*], [some, breaker], ($timeout, $bulkhead), $failure_if, $attempt
            ),
            ::core::option::Option::None => $crate::layers::dispatch!(
                @timeout [$($retry)*], [none, $crate::layers::NoLayer], ($timeout, $bulkhead),
                $failure_if, $attempt
            ),
        }
    };
    (@timeout [$($retry:tt)*], $breaker:tt, ($timeout:expr, $bulkhead:expr), $failure_if:expr, $attempt:expr) => {
        match $timeout {
            ::core::option::Option::Some(timeout) => $crate::layers::dispatch!(
                @bulkhead [$($retry)*], $breaker, [some, timeout], ($bulkhead), $failure_if, $attempt
            ),
            ::core::option::Option::None => $crate::layers::dispatch!(
                @bulkhead [$($retry)*], $breaker, [none, $crate::layers::NoLayer], ($bulkhead),
                $failure_if, $attempt
            ),
        }
    };
    (@bulkhead [$($retry:tt)*], $breaker:tt, $timeout:tt, ($bulkhead:expr), $failure_if:expr, $attempt:expr) => {
        match $bulkhead {
            ::core::option::Option::Some(bulkhead) => $crate::layers::dispatch!(
                @run [$($retry)*], $breaker, $timeout, [some, bulkhead], $failure_if, $attempt
            ),
            ::core::option::Option::None => $crate::layers::dispatch!(
                @run [$($retry)*], $breaker, $timeout, [none, $crate::layers::NoLayer],
                $failure_if, $attempt
            ),
        }
    };
    (
        @run [$($retry:tt)*], [some, $breaker:expr], [some, $timeout:expr],
        [some, $bulkhead:expr], $failure_if:expr, $attempt:expr
    ) => {{
        // Every layer (the facade's, `ResilienceLayer`'s case): inline in the caller's future,
        // as the attributes expand it. A nested future here cost `ResilienceLayer` 15 ns.
        let layers = $crate::layers::Layers {
            circuit_breaker: $breaker,
            timeout: $timeout,
            bulkhead: $bulkhead,
        };
        $crate::__pipeline!(
            $($retry)*
            breaker = some,
            timeout = some,
            bulkhead = some,
            layers = &layers,
            failure_if = $failure_if,
            attempt = $attempt,
        )
    }};
    (
        @run [$($retry:tt)*], [$b:ident, $breaker:expr], [$t:ident, $timeout:expr],
        [$h:ident, $bulkhead:expr], $failure_if:expr, $attempt:expr
    ) => {
        // Its own future, awaited at once: the caller's future holds one combination's state
        // at a time (the sixteen overlap), not the union of all of them.
        async {
            let layers = $crate::layers::Layers {
                circuit_breaker: $breaker,
                timeout: $timeout,
                bulkhead: $bulkhead,
            };
            $crate::__pipeline!(
                $($retry)*
                breaker = $b,
                timeout = $t,
                bulkhead = $h,
                layers = &layers,
                failure_if = $failure_if,
                attempt = $attempt,
            )
        }
        .await
    };
}
pub(crate) use dispatch;

/// The breaker's part of an attempt (see [`__pipeline!`]): admit, run `$admitted` (evaluated
/// only once admitted), record its outcome.
#[doc(hidden)]
#[macro_export]
macro_rules! __breaker {
    (none, $layers:expr, $failure_if:expr, $admitted:expr) => {
        $admitted
    };
    (some, $layers:expr, $failure_if:expr, $admitted:expr) => {
        '__resilience_breaker: {
            // A `let`, not a `match` around the attempt: the scrutinee of a `match` lives until
            // the match ends, so the permit would be kept twice in the caller's future.
            let mut permit =
                match $crate::__generated::BreakerLayer::admit(&$layers.circuit_breaker) {
                    ::core::option::Option::Some(permit) => permit,
                    ::core::option::Option::None => {
                        break '__resilience_breaker ::core::result::Result::Err(
                            $crate::__generated::Failure::Rejected(
                                $crate::__generated::BreakerLayer::rejection(
                                    &$layers.circuit_breaker,
                                ),
                            ),
                        );
                    }
                };
            let guard = $crate::__generated::panic_guard(&$layers.circuit_breaker, &mut permit);
            let outcome = $admitted;
            ::core::mem::forget(guard);
            $crate::__generated::record_outcome(
                &$layers.circuit_breaker,
                &mut permit,
                $crate::__generated::breaker_outcome(&outcome, $failure_if),
            );
            outcome
        }
    };
}

/// The timeout's part of an attempt (see [`__pipeline!`]): `$inner` bounded in time, the wait in
/// the bulkhead included (MicroProfile's order).
#[doc(hidden)]
#[macro_export]
macro_rules! __timeout {
    (none, $layers:expr, $inner:expr) => {
        $inner
    };
    (some, $layers:expr, $inner:expr) => {
        match $crate::__generated::TimeoutLayer::bound(&$layers.timeout, async { $inner }).await {
            ::core::result::Result::Ok(outcome) => {
                $crate::__generated::TimeoutLayer::finished(&$layers.timeout);
                outcome
            }
            ::core::result::Result::Err(timeout) => {
                $crate::__generated::TimeoutLayer::timed_out(&$layers.timeout);
                ::core::result::Result::Err($crate::__generated::Failure::Rejected(timeout))
            }
        }
    };
}

/// The bulkhead's part of an attempt (see [`__pipeline!`]): a slot (now, or after waiting in the
/// queue), then `$attempt`, the slot held until it ends.
#[doc(hidden)]
#[macro_export]
macro_rules! __bulkhead {
    (none, $layers:expr, $attempt:expr) => {
        $attempt
    };
    (some, $layers:expr, $attempt:expr) => {
        '__resilience_slot: {
            // Held until the attempt ends, dropped in place: moving it out to drop it would copy
            // it whole right after its stores.
            let _slot = match $crate::__generated::BulkheadLayer::try_admit(&$layers.bulkhead) {
                ::core::option::Option::Some(slot) => slot,
                ::core::option::Option::None => {
                    match $crate::__generated::BulkheadLayer::admit_queued(&$layers.bulkhead).await
                    {
                        ::core::result::Result::Ok(slot) => slot,
                        ::core::result::Result::Err(rejection) => {
                            break '__resilience_slot ::core::result::Result::Err(
                                $crate::__generated::Failure::Rejected(rejection),
                            );
                        }
                    }
                }
            };
            $attempt
        }
    };
}

/// [`BreakerLayer::record`] with the layer's type inferred from the layer.
#[doc(hidden)]
#[inline(always)]
pub fn record_outcome<B: BreakerLayer>(_: &B, permit: &mut B::Permit, failed: Option<bool>) {
    B::record(permit, failed);
}

/// How an attempt's outcome counts for the breaker that admitted it: `Some(failed)`, or `None`
/// for neither. An operation error is a failure when `failure_if` says so (a success
/// otherwise); a rejection when [`ResilienceError::is_breaker_failure`] says so (a timeout,
/// `NoInstance`), neither otherwise (`BulkheadFull`).
#[doc(hidden)]
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

/// A guard over an admitted attempt's permit that records a breaker failure if it is dropped
/// while a panic unwinds (the attempt's body panicked), before the panic continues.
///
/// Without it a dependency that panics would count as neither outcome: the permit alone, dropped
/// while unwinding, counts as a cancelled call. The guard is a pointer kept in the caller's
/// future and forgotten once the attempt ends, so the success path pays nothing; dropped without
/// a panic (the call's future was dropped: a cancellation), it does nothing.
#[doc(hidden)]
#[inline(always)]
pub fn panic_guard<'p, B: BreakerLayer>(_: &B, permit: &'p mut B::Permit) -> PanicGuard<'p, B> {
    PanicGuard { permit }
}

/// See [`panic_guard`].
#[doc(hidden)]
pub struct PanicGuard<'p, B: BreakerLayer> {
    permit: &'p mut B::Permit,
}

impl<B: BreakerLayer> Drop for PanicGuard<'_, B> {
    #[cold]
    fn drop(&mut self) {
        if std::thread::panicking() {
            B::record(self.permit, Some(true));
        }
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

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use super::TimeoutLayer;
    use crate::error::ResilienceError;

    /// An attempt that completes in its first poll arms no timer: it needs no tokio runtime
    /// at all (`tokio::time::timeout` would panic without one).
    #[test]
    fn an_attempt_ready_at_once_reads_no_clock_and_arms_no_timer() {
        let mut context = Context::from_waker(Waker::noop());
        let bounded = pin!(Duration::from_secs(1).bound(async { 7 }));
        assert!(matches!(bounded.poll(&mut context), Poll::Ready(Ok(7))));
        // A disabled timeout never arms one, even when the attempt waits.
        let mut bounded = pin!(Duration::MAX.bound(std::future::pending::<()>()));
        assert!(bounded.as_mut().poll(&mut context).is_pending());
        assert!(bounded.as_mut().poll(&mut context).is_pending());
    }

    /// The timer is armed at the first `Pending` and fires `after` later.
    #[tokio::test(start_paused = true)]
    async fn the_timer_is_armed_at_the_first_wait_and_fires_after_the_timeout() {
        let started = tokio::time::Instant::now();
        let outcome = Duration::from_millis(300)
            .bound(tokio::time::sleep(Duration::from_secs(5)))
            .await;
        assert!(matches!(
            outcome,
            Err(ResilienceError::Timeout { after }) if after == Duration::from_millis(300)
        ));
        assert_eq!(started.elapsed(), Duration::from_millis(300));
        // In time: the body's output.
        let outcome = Duration::from_millis(300)
            .bound(async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                "done"
            })
            .await;
        assert!(matches!(outcome, Ok("done")));
        assert_eq!(started.elapsed(), Duration::from_millis(500));
    }

    /// Within a request's deadline the time is fixed at the start: the attempt ends at the
    /// deadline, not `after` past its first wait.
    #[tokio::test(start_paused = true)]
    async fn within_a_deadline_the_attempt_ends_at_the_deadline() {
        let started = tokio::time::Instant::now();
        let outcome = crate::deadline::scope(
            started + Duration::from_millis(100),
            // Bound where the attempt starts, within the scope (as the composition does).
            async {
                Duration::from_secs(1)
                    .bound(tokio::time::sleep(Duration::from_secs(5)))
                    .await
            },
        )
        .await;
        assert!(matches!(
            outcome,
            Err(ResilienceError::Timeout { after }) if after == Duration::from_millis(100)
        ));
        assert_eq!(started.elapsed(), Duration::from_millis(100));
    }
}
