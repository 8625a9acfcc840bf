//! The async-free driver: the state word as one `AtomicU64`, moved by [`step`] in a
//! compare-and-swap loop. Admission in Closed and a success in Closed with no failure pending are
//! single loads: the fast paths below return exactly what `step` would (debug builds check it).
//!
//! The word's epoch has 14 bits and wraps every 16,384 transitions. Beside the word, the breaker
//! keeps `transitions`, the full count, published after each transition and read only off the
//! fast paths: a half-open trial's permit carries the full count of its phase, and its outcome
//! or cancellation applies only while that phase lasts, so a trial held across a wrap cannot
//! free or settle a newer trial's slot. A permit admitted in Closed cannot count in a HalfOpen
//! phase (HalfOpen admits only trials). What a wrap can still alias is a permit admitted in
//! Closed, held across 16,384 transitions, reporting in a Closed phase of the same epoch: it
//! counts there like an outcome of that phase (a failure toward the threshold, a success
//! resetting the count). Ruling that out would put a second load on the closed fast paths,
//! which stay one load each.

use crate::striped::StripedCounter;
use crate::sync::{AtomicU64, Ordering};

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::time::Instant;

use super::CircuitBreakerConfig;
use super::state::{CircuitState, Decision, EPOCH_BITS, Event, Limits, Micros, Phase, State, step};
use super::window::Window;
use crate::error::{ConfigError, ResilienceError};

/// The rate mode's window: one per epoch, swapped whole on every transition. Kept in count
/// mode too (off), so that an override can switch the mode of a live breaker (contract §7).
struct RateWindow {
    /// Whether the breaker is in rate mode: read on every outcome recorded.
    on: AtomicU64,
    /// The shape of the windows to come.
    shape: ArcSwap<WindowShape>,
    current: ArcSwap<EpochWindow>,
}

/// A rate window's size, minimum of calls and failure rate.
#[derive(Debug, Clone, Copy)]
struct WindowShape {
    size: u32,
    min_calls: u32,
    rate: f64,
}

impl WindowShape {
    /// The shape `config` asks for, and whether it is in rate mode.
    fn of(config: &CircuitBreakerConfig) -> (WindowShape, bool) {
        let shape = WindowShape {
            size: config.window,
            min_calls: config.effective_min_calls(),
            rate: config.failure_rate.unwrap_or(1.0),
        };
        (shape, config.failure_rate.is_some())
    }

    fn window(self) -> Window {
        Window::new(self.size, self.min_calls, self.rate)
    }
}

struct EpochWindow {
    epoch: u16,
    window: Window,
}

/// A named circuit breaker (contract §2.1). Usually reached through the registry; the pipeline
/// holds a `&'static` one per call site.
pub struct CircuitBreaker {
    name: String,
    config: CircuitBreakerConfig,
    /// The configuration in force: `config` until an override changes it in place.
    current: ArcSwap<CircuitBreakerConfig>,
    limits: LiveLimits,
    word: AtomicU64,
    /// Transitions so far, full width (the word's epoch is this modulo 2^14). Published with
    /// `fetch_max` right after each transition, so it lags only by transitions whose threads are
    /// between their compare-and-swap and that `fetch_max`; see [`widen`].
    transitions: AtomicU64,
    window: RateWindow,
    origin: Instant,
    counters: Counters,
    /// The breaker of call sites whose breaker an override disabled: it records no failure, so
    /// it never leaves Closed (see [`CircuitBreaker::passthrough`]).
    passthrough: bool,
    /// The `metrics` handles (zero-sized without the feature).
    metrics: crate::metrics::BreakerMetrics,
}

/// The [`Limits`] in force, changed in place by an override (contract §7). Read with relaxed
/// loads: the call path never reads them in Closed, and a transition racing with an override
/// uses either the old or the new limits, both valid.
struct LiveLimits {
    /// `u64::MAX` for `None` (rate mode).
    max_failures: AtomicU64,
    reset_timeout: AtomicU64,
    half_open_allowed_calls: AtomicU64,
}

impl LiveLimits {
    fn new(limits: Limits) -> Self {
        let live = LiveLimits {
            max_failures: AtomicU64::new(u64::MAX),
            reset_timeout: AtomicU64::new(0),
            half_open_allowed_calls: AtomicU64::new(0),
        };
        live.store(limits);
        live
    }

    fn store(&self, limits: Limits) {
        self.max_failures.store(
            limits.max_failures.map_or(u64::MAX, u64::from),
            Ordering::Relaxed,
        );
        self.reset_timeout
            .store(limits.reset_timeout, Ordering::Relaxed);
        self.half_open_allowed_calls
            .store(u64::from(limits.half_open_allowed_calls), Ordering::Relaxed);
    }

    #[inline]
    fn load(&self) -> Limits {
        let max_failures = self.max_failures.load(Ordering::Relaxed);
        Limits {
            max_failures: u32::try_from(max_failures).ok(),
            reset_timeout: self.reset_timeout.load(Ordering::Relaxed),
            half_open_allowed_calls: u32::try_from(
                self.half_open_allowed_calls.load(Ordering::Relaxed),
            )
            .unwrap_or(u32::MAX),
        }
    }
}

fn limits_of(config: &CircuitBreakerConfig) -> Limits {
    Limits {
        max_failures: config.failure_rate.is_none().then_some(config.max_failures),
        reset_timeout: micros_rounded_up(config.reset_timeout),
        half_open_allowed_calls: config.half_open_allowed_calls,
    }
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
    ///
    /// The state machine counts time in whole microseconds: a `reset_timeout` with a fraction of
    /// a microsecond is rounded UP (1 ns waits 1 µs), never down to an instant trial. A
    /// `reset_timeout` too long for the clock (`Duration::MAX`) keeps the breaker open until
    /// [`reset`](Self::reset), like [`force_open`](Self::force_open).
    ///
    /// A `name` that is empty or only whitespace is refused (key `name`), as the attributes do.
    pub fn new(name: impl Into<String>, config: CircuitBreakerConfig) -> Result<Self, ConfigError> {
        let name = name.into();
        crate::registry::validate_name("circuit_breaker", &name)?;
        config.validate()?;
        let limits = LiveLimits::new(limits_of(&config));
        let (shape, rate_mode) = WindowShape::of(&config);
        let window = RateWindow {
            on: AtomicU64::new(u64::from(rate_mode)),
            shape: ArcSwap::from_pointee(shape),
            current: ArcSwap::from_pointee(EpochWindow {
                epoch: State::INITIAL.epoch,
                window: shape.window(),
            }),
        };
        Ok(CircuitBreaker {
            current: ArcSwap::from_pointee(config.clone()),
            config,
            limits,
            word: AtomicU64::new(State::INITIAL.encode()),
            transitions: AtomicU64::new(u64::from(State::INITIAL.epoch)),
            window,
            origin: Instant::now(),
            counters: Counters::default(),
            passthrough: false,
            metrics: crate::metrics::BreakerMetrics::new(&name),
            name,
        })
    }

    /// The one breaker that every disabled call site (`enabled = false`, contract §7) uses in
    /// place of its own: always Closed, it admits every call and ignores failures, so generated
    /// code keeps its concrete layer and a disabled breaker costs what an enabled one does.
    pub(crate) fn passthrough() -> &'static CircuitBreaker {
        static PASSTHROUGH: std::sync::LazyLock<CircuitBreaker> = std::sync::LazyLock::new(|| {
            let mut breaker =
                CircuitBreaker::new("resilience::disabled", CircuitBreakerConfig::default())
                    .expect("the default configuration is valid");
            breaker.passthrough = true;
            breaker
        });
        &PASSTHROUGH
    }

    /// The registry name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configuration it was created with.
    pub fn config(&self) -> &CircuitBreakerConfig {
        &self.config
    }

    /// The configuration in force (the creation's, or an override's).
    pub fn current_config(&self) -> CircuitBreakerConfig {
        (**self.current.load()).clone()
    }

    /// Applies `config` in place (contract §7), keeping the state and the counts: the next
    /// transitions use the new `max_failures`, `reset_timeout` and `half_open_allowed_calls`
    /// (an open breaker keeps the deadline it has).
    ///
    /// A change of mode or of the rate window (`failure_rate`, `window`, `min_calls`) starts
    /// afresh instead, as [`reset`](Self::reset) does: back to Closed with every count cleared
    /// (the old window's outcomes say nothing about the new rule). A call admitted before and
    /// recorded after counts under the new rule, or not at all if it was a trial.
    pub fn reconfigure(&self, config: CircuitBreakerConfig) -> Result<(), ConfigError> {
        config.validate()?;
        let current = self.current.load();
        let same_window = current.failure_rate == config.failure_rate
            && (config.failure_rate.is_none()
                || (current.window == config.window
                    && current.effective_min_calls() == config.effective_min_calls()));
        self.limits.store(limits_of(&config));
        if !same_window {
            let (shape, rate_mode) = WindowShape::of(&config);
            self.window.shape.store(Arc::new(shape));
            self.window
                .on
                .store(u64::from(rate_mode), Ordering::Release);
            self.current.store(Arc::new(config));
            // A new epoch: `on_transition` gives it a window of the new shape.
            self.reset();
            return Ok(());
        }
        self.current.store(Arc::new(config));
        Ok(())
    }

    /// The current state. An Open breaker whose reset timeout has elapsed still reports Open
    /// until the next call moves it to HalfOpen (contract §2.1: "checked on the next call").
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
                step(state, Event::Acquire, &self.limits.load(), 0).1,
                Decision::Admitted {
                    epoch: state.epoch,
                    trial: false
                }
            );
            return Some(BreakerPermit::new(self, state.epoch, None));
        }
        self.admit_slow()
    }

    #[cold]
    fn admit_slow(&self) -> Option<BreakerPermit<'_>> {
        match self.apply(Event::Acquire) {
            Decision::Admitted { epoch, trial } => Some(BreakerPermit::new(
                self,
                epoch,
                // The transition into HalfOpen, if this admission made it, is published by now.
                trial.then(|| widen(self.transitions.load(Ordering::Acquire), epoch)),
            )),
            _ => {
                self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                self.metrics.rejected();
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
        self.apply_for(event, None)
    }

    /// [`apply`](Self::apply) of the outcome or cancellation of the permit with `ticket`:
    /// ignored unless the permit belongs to the current phase (see the module doc).
    fn apply_for(&self, event: Event, ticket: Option<u64>) -> Decision {
        let now = self.now();
        let mut current = self.word.load(Ordering::Acquire);
        loop {
            let state = State::decode(current);
            if let Some(ticket) = ticket
                && !self.is_current(ticket, state)
            {
                #[cfg(any(debug_assertions, loom))]
                super::monitor::dropped(&self.name, state, event, now);
                return Decision::Ignored;
            }
            let limits = self.limits.load();
            let (next, decision) = step(state, event, &limits, now);
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
                    // Debug and loom builds: a step of the spec, into its invariant.
                    #[cfg(any(debug_assertions, loom))]
                    super::monitor::transition(
                        &self.name, state, event, next, decision, &limits, now,
                    );
                    self.on_transition(state, next);
                    return decision;
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// Whether the permit with `ticket` was admitted in the phase of `state`.
    fn is_current(&self, ticket: u64, state: State) -> bool {
        if u64::from(state.epoch) != ticket & EPOCH_TICKET_MASK {
            return false;
        }
        let half_open = matches!(state.phase, Phase::HalfOpen { .. });
        if ticket & TRIAL == 0 {
            // HalfOpen admits only trials: a permit from Closed with this epoch is from a
            // phase 16,384 transitions ago.
            return !half_open;
        }
        half_open
            && widen(self.transitions.load(Ordering::Acquire), state.epoch) & GENERATION_MASK
                == ticket >> GENERATION_SHIFT
    }

    /// Whether outcomes go to the rate window (`failure_rate` set) rather than the state word's
    /// count.
    #[inline(always)]
    fn rate_mode(&self) -> bool {
        self.window.on.load(Ordering::Acquire) != 0
    }

    fn on_transition(&self, from: State, to: State) {
        if from.epoch == to.epoch {
            return;
        }
        let published = self.transitions.load(Ordering::Acquire);
        self.transitions
            .fetch_max(widen(published, to.epoch), Ordering::AcqRel);
        if self.rate_mode() {
            // A fresh window for the new epoch, never a clear of one a racing `record` may be
            // writing to.
            self.window.current.store(Arc::new(EpochWindow {
                epoch: to.epoch,
                window: self.window.shape.load().window(),
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
        self.metrics.transition(to);
        tracing::info!(
            target: "resilience",
            circuit_breaker = %self.name,
            ?from,
            ?to,
            "circuit breaker transition"
        );
        crate::events::emit(|| crate::events::Event::CircuitBreakerTransition {
            name: self.name.clone(),
            from,
            to,
        });
    }

    /// Records an outcome. The common case, a success in Closed with no failure pending,
    /// changes nothing but the count and is inlined into the caller; the rest is not.
    ///
    /// `ticket` is the permit's: for a permit admitted in Closed, exactly its epoch, so the
    /// fast path compares one word as before; a trial's ticket never matches it.
    #[inline(always)]
    fn record(&self, ticket: u64, failed: bool) {
        if !failed && !self.rate_mode() {
            self.counters.successful.increment();
            self.metrics.success();
            let state = self.load();
            if u64::from(state.epoch) == ticket && state.phase == (Phase::Closed { failures: 0 }) {
                #[cfg(any(debug_assertions, loom))]
                super::monitor::settled_without_step(
                    &self.name,
                    state,
                    Event::Success { epoch: state.epoch },
                    false,
                );
                return; // `step` would leave the state as it is.
            }
            return self.record_slow(state, ticket, false);
        }
        self.record_counted(ticket, failed);
    }

    /// [`record`](Self::record) of a failure, or of any outcome in rate mode.
    #[inline(never)]
    fn record_counted(&self, ticket: u64, failed: bool) {
        if self.passthrough {
            return;
        }
        if failed {
            self.counters.failed.fetch_add(1, Ordering::Relaxed);
            self.metrics.failure();
        } else {
            self.counters.successful.increment();
            self.metrics.success();
        }
        self.record_slow(self.load(), ticket, failed);
    }

    /// The outcome, already counted, against the state `state` it was read in.
    #[inline(never)]
    fn record_slow(&self, state: State, ticket: u64, failed: bool) {
        let epoch = ticket as u16;
        if ticket & TRIAL == 0 {
            if let (true, Phase::Closed { .. }) = (self.rate_mode(), state.phase) {
                let current = self.window.current.load();
                if state.epoch == epoch && current.epoch == epoch && current.window.record(failed) {
                    self.apply_for(Event::Trip { epoch }, Some(ticket));
                    return;
                }
                #[cfg(any(debug_assertions, loom))]
                super::monitor::settled_without_step(
                    &self.name,
                    state,
                    outcome(epoch, failed),
                    true,
                );
                return;
            }
            if !failed && state.epoch == epoch && state.phase == (Phase::Closed { failures: 0 }) {
                #[cfg(any(debug_assertions, loom))]
                super::monitor::settled_without_step(
                    &self.name,
                    state,
                    outcome(epoch, failed),
                    false,
                );
                return; // `step` would leave the state as it is.
            }
        }
        self.apply_for(outcome(epoch, failed), Some(ticket));
    }
}

/// The event of an outcome reported with `epoch`.
fn outcome(epoch: u16, failed: bool) -> Event {
    if failed {
        Event::Failure { epoch }
    } else {
        Event::Success { epoch }
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
    /// The epoch it was admitted in (low 16 bits), whether it holds a trial slot ([`TRIAL`])
    /// and, for a trial, the full count of transitions of its phase (from bit
    /// [`GENERATION_SHIFT`]): one word, so that storing it into a future and reading it back are
    /// accesses of one size, which the CPU forwards (mixed sizes stall). A permit admitted in
    /// Closed has only its epoch.
    ticket: u64,
}

/// The `ticket` bits of the epoch.
const EPOCH_TICKET_MASK: u64 = 0xffff;
/// The `ticket` bit of a half-open trial.
const TRIAL: u64 = 1 << 16;
/// Where a trial's ticket keeps the full count of transitions (its low 47 bits: 1.4 · 10^14
/// transitions before that wraps in turn).
const GENERATION_SHIFT: u32 = 17;
const GENERATION_MASK: u64 = u64::MAX >> GENERATION_SHIFT;

/// The full count of transitions whose low bits are `epoch`, nearest to `published` (a recent
/// value of `transitions`). Exact while `published` is within 8,192 transitions of it, i.e.
/// unless 8,192 transitions happen between a thread's read of the word and its read of
/// `transitions` (a few instructions apart), or 8,192 threads stall between their
/// compare-and-swap and their publication.
fn widen(published: u64, epoch: u16) -> u64 {
    const PERIOD: u64 = 1 << EPOCH_BITS;
    const HALF: u64 = PERIOD / 2;
    let candidate = (published & !(PERIOD - 1)) | (u64::from(epoch) & (PERIOD - 1));
    if candidate > published.saturating_add(HALF) && candidate >= PERIOD {
        candidate - PERIOD
    } else if candidate.saturating_add(HALF) < published {
        candidate.saturating_add(PERIOD)
    } else {
        candidate
    }
}

/// `duration` in whole microseconds, rounded up, saturating at `u64::MAX`.
fn micros_rounded_up(duration: std::time::Duration) -> Micros {
    u64::try_from(duration.as_nanos().div_ceil(1_000)).unwrap_or(Micros::MAX)
}

impl BreakerPermit<'_> {
    /// The call succeeded (or failed in a way that does not count).
    #[inline]
    pub fn success(self) {
        self.breaker.record(self.ticket, false);
        std::mem::forget(self);
    }

    /// The call failed.
    #[inline]
    pub fn failure(self) {
        self.breaker.record(self.ticket, true);
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
            self.breaker.record(self.ticket, failed);
            // Settled: the drop has nothing to cancel.
            self.ticket &= !TRIAL;
        }
    }

    /// Whether this permit holds a half-open trial slot.
    pub fn is_trial(&self) -> bool {
        self.ticket & TRIAL != 0
    }

    /// A permit of `epoch`; `trial` is the full count of transitions of a trial's phase.
    fn new(breaker: &CircuitBreaker, epoch: u16, trial: Option<u64>) -> BreakerPermit<'_> {
        let trial = trial.map_or(0, |generation| TRIAL | generation << GENERATION_SHIFT);
        BreakerPermit {
            breaker,
            ticket: u64::from(epoch) | trial,
        }
    }
}

impl Drop for BreakerPermit<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.is_trial() {
            self.breaker.apply_for(
                Event::Cancel {
                    epoch: self.ticket as u16,
                },
                Some(self.ticket),
            );
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::widen;

    #[test]
    fn widen_recovers_the_full_count_near_the_published_one() {
        const PERIOD: u64 = 1 << super::EPOCH_BITS;
        for full in [0, 1, PERIOD - 1, PERIOD, 5 * PERIOD + 3, u64::MAX / 2] {
            let epoch = (full % PERIOD) as u16;
            for published in [full.saturating_sub(8_000), full, full.saturating_add(8_000)] {
                assert_eq!(widen(published, epoch), full, "{full} from {published}");
            }
        }
        // Near the ends nothing wraps or panics.
        assert_eq!(widen(0, (PERIOD - 1) as u16), PERIOD - 1);
        let _ = widen(u64::MAX, 0);
    }
}
