//! The async-free driver: the state word as one `AtomicU64`, moved by [`step`] in a
//! compare-and-swap loop. Admission in Closed and a success in Closed with no failure pending are
//! single loads: the fast paths below return exactly what `step` would (debug builds check it).

use crate::striped::StripedCounter;
use crate::sync::{AtomicU64, Ordering};

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::time::Instant;

use super::CircuitBreakerConfig;
use super::state::{CircuitState, Decision, Event, Limits, Micros, Phase, State, step};
use super::window::Window;
use crate::error::{ConfigError, ResilienceError};

/// The rate mode's window: one per epoch, swapped whole on every transition.
struct RateWindow {
    size: u32,
    min_calls: u32,
    rate: f64,
    current: ArcSwap<EpochWindow>,
}

struct EpochWindow {
    epoch: u16,
    window: Window,
}

/// A named circuit breaker (CONTRACT §2.1). Usually reached through the registry; the pipeline
/// holds a `&'static` one per call site.
pub struct CircuitBreaker {
    name: String,
    config: CircuitBreakerConfig,
    limits: Limits,
    word: AtomicU64,
    window: Option<RateWindow>,
    origin: Instant,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    /// Added to by every successful call: striped, so concurrent callers do not contend.
    successful: StripedCounter,
    failed: AtomicU64,
    rejected: AtomicU64,
    opened: AtomicU64,
}

/// Counts since the breaker was created or last [`reset`](CircuitBreaker::reset).
///
/// `successful` and `failed` count every outcome reported, including one from a call admitted
/// before the last transition (which no longer moves the state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CircuitBreakerMetrics {
    /// Outcomes recorded as successes (including errors `failure_if` does not count).
    pub successful: u64,
    /// Outcomes recorded as failures (timeouts included).
    pub failed: u64,
    /// Calls rejected with `CircuitOpen`.
    pub rejected: u64,
    /// Transitions into Open.
    pub opened: u64,
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.name)
            .field("state", &self.load())
            .field("config", &self.config)
            .finish()
    }
}

impl CircuitBreaker {
    /// A closed breaker; fails when `config` is out of the contract's ranges.
    pub fn new(name: impl Into<String>, config: CircuitBreakerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let limits = Limits {
            max_failures: config.failure_rate.is_none().then_some(config.max_failures),
            reset_timeout: u64::try_from(config.reset_timeout.as_micros()).unwrap_or(u64::MAX),
            half_open_allowed_calls: config.half_open_allowed_calls,
        };
        let window = config.failure_rate.map(|rate| RateWindow {
            size: config.window,
            min_calls: config.effective_min_calls(),
            rate,
            current: ArcSwap::from_pointee(EpochWindow {
                epoch: State::INITIAL.epoch,
                window: Window::new(config.window, config.effective_min_calls(), rate),
            }),
        });
        Ok(CircuitBreaker {
            name: name.into(),
            config,
            limits,
            word: AtomicU64::new(State::INITIAL.encode()),
            window,
            origin: Instant::now(),
            counters: Counters::default(),
        })
    }

    /// The registry name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configuration it was created with.
    pub fn config(&self) -> &CircuitBreakerConfig {
        &self.config
    }

    /// The current state. An Open breaker whose reset timeout has elapsed still reports Open
    /// until the next call moves it to HalfOpen (CONTRACT: "checked on the next call").
    pub fn state(&self) -> CircuitState {
        self.load().circuit_state()
    }

    /// The full pure state (for tests and the model checker's refinement check).
    pub fn snapshot(&self) -> State {
        self.load()
    }

    /// Counts since creation or the last reset.
    pub fn metrics(&self) -> CircuitBreakerMetrics {
        CircuitBreakerMetrics {
            successful: self.counters.successful.sum(),
            failed: self.counters.failed.load(Ordering::Relaxed),
            rejected: self.counters.rejected.load(Ordering::Relaxed),
            opened: self.counters.opened.load(Ordering::Relaxed),
        }
    }

    /// Back to Closed with every count cleared.
    pub fn reset(&self) {
        self.apply(Event::Reset);
        self.counters.successful.clear();
        for counter in [
            &self.counters.failed,
            &self.counters.rejected,
            &self.counters.opened,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }

    /// Open until the next [`reset`](Self::reset), whatever the reset timeout.
    pub fn force_open(&self) {
        self.apply(Event::ForceOpen);
    }

    /// Asks to run one call: a permit to report the outcome on, or `CircuitOpen`.
    #[inline]
    pub fn try_acquire(&self) -> Result<BreakerPermit<'_>, ResilienceError> {
        self.admit().ok_or_else(|| self.rejection())
    }

    /// [`try_acquire`](Self::try_acquire) without building the rejection: `None` is
    /// `CircuitOpen` (get it from [`rejection`](Self::rejection)). The pipeline uses this so the
    /// happy path carries a permit, not a `Result` sized for an error with a `String`.
    #[inline]
    pub fn admit(&self) -> Option<BreakerPermit<'_>> {
        let word = self.word.load(Ordering::Acquire);
        let state = State::decode(word);
        if let Phase::Closed { .. } = state.phase {
            debug_assert_eq!(
                step(state, Event::Acquire, &self.limits, 0).1,
                Decision::Admitted {
                    epoch: state.epoch,
                    trial: false
                }
            );
            return Some(BreakerPermit::new(self, state.epoch, false));
        }
        self.admit_slow()
    }

    #[cold]
    fn admit_slow(&self) -> Option<BreakerPermit<'_>> {
        match self.apply(Event::Acquire) {
            Decision::Admitted { epoch, trial } => Some(BreakerPermit::new(self, epoch, trial)),
            _ => {
                self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// The `CircuitOpen` error naming this breaker.
    #[cold]
    pub fn rejection(&self) -> ResilienceError {
        ResilienceError::CircuitOpen {
            name: self.name.clone(),
        }
    }

    fn now(&self) -> Micros {
        u64::try_from(
            Instant::now()
                .saturating_duration_since(self.origin)
                .as_micros(),
        )
        .unwrap_or(u64::MAX)
    }

    #[inline]
    fn load(&self) -> State {
        State::decode(self.word.load(Ordering::Acquire))
    }

    /// Applies `event` with a compare-and-swap loop; the one place the word changes.
    fn apply(&self, event: Event) -> Decision {
        let now = self.now();
        let mut current = self.word.load(Ordering::Acquire);
        loop {
            let state = State::decode(current);
            let (next, decision) = step(state, event, &self.limits, now);
            if next == state {
                return decision;
            }
            match self.word.compare_exchange_weak(
                current,
                next.encode(),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    debug_assert!(
                        next.invariant_holds(&self.limits),
                        "circuit breaker `{}` broke its invariant: {state:?} --{event:?}--> {next:?}",
                        self.name
                    );
                    self.on_transition(state, next);
                    return decision;
                }
                Err(actual) => current = actual,
            }
        }
    }

    fn on_transition(&self, from: State, to: State) {
        if from.epoch == to.epoch {
            return;
        }
        if let Some(window) = &self.window {
            // A fresh window for the new epoch, never a clear of one a racing `record` may be
            // writing to.
            window.current.store(Arc::new(EpochWindow {
                epoch: to.epoch,
                window: Window::new(window.size, window.min_calls, window.rate),
            }));
        }
        let (from, to) = (from.circuit_state(), to.circuit_state());
        if from == to {
            // `reset()` of a closed breaker: a new epoch, but no transition to report.
            return;
        }
        if to == CircuitState::Open {
            self.counters.opened.fetch_add(1, Ordering::Relaxed);
        }
        tracing::info!(
            target: "resilience",
            circuit_breaker = %self.name,
            ?from,
            ?to,
            "circuit breaker transition"
        );
    }

    /// Records an outcome. The common case, a success in Closed with no failure pending,
    /// changes nothing but the count and is inlined into the caller; the rest is not.
    #[inline(always)]
    fn record(&self, epoch: u16, failed: bool) {
        if !failed && self.window.is_none() {
            self.counters.successful.increment();
            let state = self.load();
            if state.epoch == epoch && state.phase == (Phase::Closed { failures: 0 }) {
                return; // `step` would leave the state as it is.
            }
            return self.record_slow(state, epoch, false);
        }
        self.record_counted(epoch, failed);
    }

    /// [`record`](Self::record) of a failure, or of any outcome in rate mode.
    #[inline(never)]
    fn record_counted(&self, epoch: u16, failed: bool) {
        if failed {
            self.counters.failed.fetch_add(1, Ordering::Relaxed);
        } else {
            self.counters.successful.increment();
        }
        self.record_slow(self.load(), epoch, failed);
    }

    /// The outcome, already counted, against the state `state` it was read in.
    #[inline(never)]
    fn record_slow(&self, state: State, epoch: u16, failed: bool) {
        if let (Some(window), Phase::Closed { .. }) = (&self.window, state.phase) {
            let current = window.current.load();
            if state.epoch == epoch && current.epoch == epoch && current.window.record(failed) {
                self.apply(Event::Trip { epoch });
            }
            return;
        }
        if !failed && state.epoch == epoch && state.phase == (Phase::Closed { failures: 0 }) {
            return; // `step` would leave the state as it is.
        }
        self.apply(if failed {
            Event::Failure { epoch }
        } else {
            Event::Success { epoch }
        });
    }
}

/// The right to run one call through a breaker. Report the outcome with
/// [`success`](Self::success) or [`failure`](Self::failure); dropping it instead (the caller's
/// future was cancelled, or a later layer rejected the call) counts as neither and frees a
/// half-open trial slot.
#[must_use = "report the outcome, or drop the permit to cancel"]
#[derive(Debug)]
pub struct BreakerPermit<'a> {
    breaker: &'a CircuitBreaker,
    /// The epoch it was admitted in (low 16 bits) and whether it holds a trial slot
    /// ([`TRIAL`]): one word, so that storing it into a future and reading it back are
    /// accesses of one size, which the CPU forwards (mixed sizes stall).
    ticket: u64,
}

/// The `ticket` bit of a half-open trial.
const TRIAL: u64 = 1 << 16;

impl BreakerPermit<'_> {
    /// The call succeeded (or failed in a way that does not count).
    #[inline]
    pub fn success(self) {
        self.breaker.record(self.epoch(), false);
        std::mem::forget(self);
    }

    /// The call failed.
    #[inline]
    pub fn failure(self) {
        self.breaker.record(self.epoch(), true);
        std::mem::forget(self);
    }

    /// Reports the outcome through a reference: `Some(failed)` records it (and the permit's
    /// drop then does nothing), `None` leaves the permit to be dropped (cancelled).
    ///
    /// Generated code uses this rather than [`success`](Self::success) /
    /// [`failure`](Self::failure): the permit lives in the function's future across the body's
    /// `await`, and reading its fields in place, rather than moving it out whole, lets the
    /// CPU forward the stores that put it there (a whole-struct copy right after field-wise
    /// stores stalls).
    #[inline(always)]
    pub fn settle(&mut self, failed: Option<bool>) {
        if let Some(failed) = failed {
            self.breaker.record(self.epoch(), failed);
            self.ticket &= !TRIAL;
        }
    }

    /// Whether this permit holds a half-open trial slot.
    pub fn is_trial(&self) -> bool {
        self.ticket & TRIAL != 0
    }

    fn new(breaker: &CircuitBreaker, epoch: u16, trial: bool) -> BreakerPermit<'_> {
        BreakerPermit {
            breaker,
            ticket: u64::from(epoch) | if trial { TRIAL } else { 0 },
        }
    }

    fn epoch(&self) -> u16 {
        self.ticket as u16
    }
}

impl Drop for BreakerPermit<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.is_trial() {
            self.breaker.apply(Event::Cancel {
                epoch: self.epoch(),
            });
        }
    }
}
