//! The circuit breaker as a pure state machine: no atomics, no clock, no tokio. Time is an input
//! (`now`, in microseconds since the breaker was created).
//!
//! [`step`] is the whole behaviour of CONTRACT §2.1 for the breaker's state word; the driver in
//! `breaker.rs` applies it with a compare-and-swap loop, and the model checker (specs/) explores
//! it. The rate mode's sliding window lives outside the word (`window.rs`): when it trips, the
//! driver feeds [`Event::Trip`].

/// Microseconds since the breaker was created.
pub type Micros = u64;

/// The public view of a breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CircuitState {
    /// Calls pass and their outcomes are recorded.
    Closed,
    /// Calls are rejected with `CircuitOpen` until the reset timeout has elapsed.
    Open,
    /// A bounded number of trial calls pass; the rest are rejected.
    HalfOpen,
}

/// What the breaker is doing, with the data each phase needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Consecutive failures so far (always 0 in rate mode, whose window is kept apart).
    Closed {
        /// Failures in a row since the last success or transition.
        failures: u32,
    },
    /// Rejecting until `until` (`FOREVER` after `force_open`).
    Open {
        /// When the next call may become a half-open trial.
        until: Micros,
    },
    /// Trial calls admitted so far and how many of them succeeded.
    HalfOpen {
        /// Trials admitted and not cancelled.
        admitted: u32,
        /// Trials that succeeded.
        succeeded: u32,
    },
}

/// The breaker's whole state: the phase plus an epoch that changes on every transition, so an
/// outcome reported by a call admitted in an earlier phase is recognised and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct State {
    /// Transition counter, modulo 2^14.
    pub epoch: u16,
    /// The phase.
    pub phase: Phase,
}

/// An input to the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A caller asks to run the operation.
    Acquire,
    /// A call admitted at `epoch` succeeded (or failed in a way `failure_if` does not count).
    Success {
        /// The epoch of its admission.
        epoch: u16,
    },
    /// A call admitted at `epoch` failed.
    Failure {
        /// The epoch of its admission.
        epoch: u16,
    },
    /// Rate mode: the window reached the failure rate for calls admitted at `epoch`.
    Trip {
        /// The epoch of the admission whose outcome tripped the window.
        epoch: u16,
    },
    /// A call admitted at `epoch` was dropped (or rejected further in) before it had an outcome.
    Cancel {
        /// The epoch of its admission.
        epoch: u16,
    },
    /// `reset()`: back to Closed, everything cleared.
    Reset,
    /// `force_open()`: Open until the next `reset()`.
    ForceOpen,
}

/// What the breaker tells the caller of [`step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Run the operation; report its outcome with `epoch`. `trial` when admitted in HalfOpen.
    Admitted {
        /// The epoch to report the outcome with.
        epoch: u16,
        /// Whether this call holds a half-open trial slot.
        trial: bool,
    },
    /// Do not run the operation: `CircuitOpen`.
    Rejected,
    /// The event was taken into account.
    Recorded,
    /// The event belongs to an earlier epoch (or changes nothing) and was ignored.
    Ignored,
}

/// The breaker's parameters as the state machine sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// `Some(n)`: consecutive-failure mode opening at `n`; `None`: rate mode (opens on `Trip`).
    pub max_failures: Option<u32>,
    /// Open → HalfOpen after this many microseconds.
    pub reset_timeout: Micros,
    /// Trials admitted in HalfOpen.
    pub half_open_allowed_calls: u32,
}

/// An `until` that is never reached: the breaker stays open until `reset()`.
pub const FOREVER: Micros = PAYLOAD_MASK;

const EPOCH_BITS: u32 = 14;
const EPOCH_MASK: u64 = (1 << EPOCH_BITS) - 1;
const PAYLOAD_BITS: u32 = 48;
const PAYLOAD_MASK: u64 = (1 << PAYLOAD_BITS) - 1;
const COUNT_BITS: u32 = 24;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
const TAG_CLOSED: u64 = 0;
const TAG_OPEN: u64 = 1;
const TAG_HALF_OPEN: u64 = 2;

impl State {
    /// The state of a new breaker.
    pub const INITIAL: State = State {
        epoch: 0,
        phase: Phase::Closed { failures: 0 },
    };

    /// The public view of the phase.
    pub fn circuit_state(self) -> CircuitState {
        match self.phase {
            Phase::Closed { .. } => CircuitState::Closed,
            Phase::Open { .. } => CircuitState::Open,
            Phase::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    /// Packs the state into one word: tag (2 bits) | epoch (14) | payload (48).
    #[inline]
    pub fn encode(self) -> u64 {
        let (tag, payload) = match self.phase {
            Phase::Closed { failures } => (TAG_CLOSED, u64::from(failures)),
            Phase::Open { until } => (TAG_OPEN, until.min(PAYLOAD_MASK)),
            Phase::HalfOpen {
                admitted,
                succeeded,
            } => (
                TAG_HALF_OPEN,
                (u64::from(admitted) & COUNT_MASK) << COUNT_BITS
                    | (u64::from(succeeded) & COUNT_MASK),
            ),
        };
        tag << 62 | (u64::from(self.epoch) & EPOCH_MASK) << PAYLOAD_BITS | payload
    }

    /// Unpacks a word made by [`encode`](Self::encode).
    #[inline]
    pub fn decode(word: u64) -> State {
        let epoch = ((word >> PAYLOAD_BITS) & EPOCH_MASK) as u16;
        let payload = word & PAYLOAD_MASK;
        let phase = match word >> 62 {
            TAG_CLOSED => Phase::Closed {
                failures: payload as u32,
            },
            TAG_OPEN => Phase::Open { until: payload },
            _ => Phase::HalfOpen {
                admitted: (payload >> COUNT_BITS) as u32,
                succeeded: (payload & COUNT_MASK) as u32,
            },
        };
        State { epoch, phase }
    }

    fn next(self, phase: Phase) -> State {
        State {
            epoch: ((u64::from(self.epoch) + 1) & EPOCH_MASK) as u16,
            phase,
        }
    }

    fn open(self, limits: &Limits, now: Micros) -> State {
        self.next(Phase::Open {
            until: now.saturating_add(limits.reset_timeout).min(FOREVER - 1),
        })
    }

    /// The safety invariant of `specs/CircuitBreaker.tla`: half-open never admits more than
    /// `half_open_allowed_calls` nor counts more successes than it admitted, and the consecutive
    /// count stays below the threshold in Closed.
    pub fn invariant_holds(self, limits: &Limits) -> bool {
        match self.phase {
            Phase::Closed { failures } => limits.max_failures.is_none_or(|max| failures < max),
            Phase::Open { .. } => true,
            Phase::HalfOpen {
                admitted,
                succeeded,
            } => admitted <= limits.half_open_allowed_calls && succeeded <= admitted,
        }
    }
}

/// The breaker's transition function.
pub fn step(state: State, event: Event, limits: &Limits, now: Micros) -> (State, Decision) {
    use Decision::*;
    let current = |epoch: u16| epoch == state.epoch;
    match (state.phase, event) {
        (_, Event::Reset) => (state.next(Phase::Closed { failures: 0 }), Recorded),
        (_, Event::ForceOpen) => (state.next(Phase::Open { until: FOREVER }), Recorded),

        (Phase::Closed { .. }, Event::Acquire) => (
            state,
            Admitted {
                epoch: state.epoch,
                trial: false,
            },
        ),
        (Phase::Open { until }, Event::Acquire) if now >= until => (
            state.next(Phase::HalfOpen {
                admitted: 1,
                succeeded: 0,
            }),
            Admitted {
                epoch: (state.next(state.phase)).epoch,
                trial: true,
            },
        ),
        (Phase::Open { .. }, Event::Acquire) => (state, Rejected),
        (
            Phase::HalfOpen {
                admitted,
                succeeded,
            },
            Event::Acquire,
        ) if admitted < limits.half_open_allowed_calls => (
            State {
                epoch: state.epoch,
                phase: Phase::HalfOpen {
                    admitted: admitted + 1,
                    succeeded,
                },
            },
            Admitted {
                epoch: state.epoch,
                trial: true,
            },
        ),
        (Phase::HalfOpen { .. }, Event::Acquire) => (state, Rejected),

        (
            _,
            Event::Success { epoch }
            | Event::Failure { epoch }
            | Event::Trip { epoch }
            | Event::Cancel { epoch },
        ) if !current(epoch) => (state, Ignored),

        (Phase::Closed { failures: 0 }, Event::Success { .. }) => (state, Recorded),
        (Phase::Closed { .. }, Event::Success { .. }) => (
            State {
                epoch: state.epoch,
                phase: Phase::Closed { failures: 0 },
            },
            Recorded,
        ),
        (Phase::Closed { failures }, Event::Failure { .. }) => match limits.max_failures {
            Some(max) if failures + 1 >= max => (state.open(limits, now), Recorded),
            Some(_) => (
                State {
                    epoch: state.epoch,
                    phase: Phase::Closed {
                        failures: failures + 1,
                    },
                },
                Recorded,
            ),
            None => (state, Recorded),
        },
        (Phase::Closed { .. }, Event::Trip { .. }) => (state.open(limits, now), Recorded),
        (Phase::Closed { .. }, Event::Cancel { .. }) => (state, Ignored),

        (
            Phase::HalfOpen {
                admitted,
                succeeded,
            },
            Event::Success { .. },
        ) => {
            let succeeded = succeeded + 1;
            if succeeded >= limits.half_open_allowed_calls {
                (state.next(Phase::Closed { failures: 0 }), Recorded)
            } else {
                (
                    State {
                        epoch: state.epoch,
                        phase: Phase::HalfOpen {
                            admitted,
                            succeeded,
                        },
                    },
                    Recorded,
                )
            }
        }
        (Phase::HalfOpen { .. }, Event::Failure { .. } | Event::Trip { .. }) => {
            (state.open(limits, now), Recorded)
        }
        (
            Phase::HalfOpen {
                admitted,
                succeeded,
            },
            Event::Cancel { .. },
        ) => (
            State {
                epoch: state.epoch,
                phase: Phase::HalfOpen {
                    admitted: admitted.saturating_sub(1).max(succeeded),
                    succeeded,
                },
            },
            Recorded,
        ),

        // An Open phase has admitted nobody in its own epoch: any outcome with the current epoch
        // is impossible, and ignoring it is the safe answer.
        (Phase::Open { .. }, _) => (state, Ignored),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_failures: Some(3),
        reset_timeout: 1_000,
        half_open_allowed_calls: 2,
    };

    #[test]
    fn encode_decode_round_trips_every_phase() {
        for phase in [
            Phase::Closed { failures: 0 },
            Phase::Closed {
                failures: 4_000_000,
            },
            Phase::Open { until: 0 },
            Phase::Open { until: FOREVER },
            Phase::HalfOpen {
                admitted: 7,
                succeeded: 3,
            },
            Phase::HalfOpen {
                admitted: MAX as u32,
                succeeded: MAX as u32,
            },
        ] {
            for epoch in [0, 1, 16_383] {
                let state = State { epoch, phase };
                assert_eq!(State::decode(state.encode()), state);
            }
        }
    }
    const MAX: u64 = COUNT_MASK;

    #[test]
    fn epoch_wraps_within_its_bits() {
        let state = State {
            epoch: 16_383,
            phase: Phase::Closed { failures: 0 },
        };
        let (next, _) = step(state, Event::Reset, &LIMITS, 0);
        assert_eq!(next.epoch, 0);
    }

    #[test]
    fn stale_outcomes_are_ignored() {
        let (open, _) = step(State::INITIAL, Event::ForceOpen, &LIMITS, 0);
        let (after, decision) = step(open, Event::Failure { epoch: 0 }, &LIMITS, 0);
        assert_eq!((after, decision), (open, Decision::Ignored));
    }

    #[test]
    fn cancelled_trial_frees_its_slot() {
        let half_open = State {
            epoch: 5,
            phase: Phase::HalfOpen {
                admitted: 2,
                succeeded: 0,
            },
        };
        let (after, _) = step(half_open, Event::Cancel { epoch: 5 }, &LIMITS, 0);
        assert_eq!(
            after.phase,
            Phase::HalfOpen {
                admitted: 1,
                succeeded: 0
            }
        );
        let (_, decision) = step(after, Event::Acquire, &LIMITS, 0);
        assert!(matches!(decision, Decision::Admitted { trial: true, .. }));
    }
}
