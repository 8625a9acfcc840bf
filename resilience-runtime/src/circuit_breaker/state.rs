//! The circuit breaker as a pure state machine: no atomics, no clock, no tokio. Time is an input
//! (`now`, in microseconds since the breaker was created).
//!
//! [`step`](crate::circuit_breaker::state::step) is the whole behaviour of contract §2.1 for the breaker's state word; the driver in
//! `breaker.rs` applies it with a compare-and-swap loop, and the model checker (specs/) explores
//! it. The rate mode's sliding window lives outside the word (`window.rs`): when it trips, the
//! driver feeds [`Event::Trip`](crate::circuit_breaker::state::Event::Trip).

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
    /// Rejecting until `until` ([`FOREVER`] after `force_open`, or when the reset timeout
    /// reaches past the end of `Micros`).
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
///
/// The epoch has 14 bits (it shares the word with the phase), so it comes back every 16,384
/// transitions. The driver keeps the full count of transitions beside the word and checks it on
/// the trial path (`breaker.rs`), so a permit held across a wrap cannot free or settle a newer
/// half-open phase's trial slot.
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

/// An `until` that is never reached: the breaker stays open until `reset()`. Deadlines
/// saturate to it: `now + reset_timeout` past `u64::MAX` µs (584,000 years) is forever.
pub const FOREVER: Micros = Micros::MAX;

/// Bits of [`State::epoch`] in the word.
pub const EPOCH_BITS: u32 = 14;
const EPOCH_MASK: u64 = (1 << EPOCH_BITS) - 1;
const PAYLOAD_BITS: u32 = 48;
const PAYLOAD_MASK: u64 = (1 << PAYLOAD_BITS) - 1;
const COUNT_BITS: u32 = 24;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
const TAG_CLOSED: u64 = 0;
const TAG_OPEN: u64 = 1;
const TAG_HALF_OPEN: u64 = 2;
/// Open deadlines below this (2^47 µs, 4.4 years of a breaker's life) are stored exactly.
const EXACT_UNTIL: u64 = 1 << 47;
/// Later deadlines keep this many significant bits (the top one implicit), rounded up.
const MANTISSA_BITS: u32 = 42;
const MANTISSA_MASK: u64 = (1 << MANTISSA_BITS) - 1;
const SHIFT_MASK: u64 = 0b1_1111;

/// An Open deadline as the word's 48-bit payload: exact below [`EXACT_UNTIL`]; above it a
/// float (flag bit 47, 5-bit shift, 42-bit mantissa under an implicit leading 1) rounded UP, so
/// a breaker past 4.4 years of age keeps each deadline to 43 significant bits (late by at most
/// 2^-42 of its age, 128 µs at 20 years) and never lets a trial in early. [`FOREVER`] is the
/// all-ones payload.
fn encode_until(until: Micros) -> u64 {
    if until < EXACT_UNTIL {
        return until;
    }
    if until == FOREVER {
        return PAYLOAD_MASK;
    }
    let mut shift = (u64::BITS - until.leading_zeros()) - (MANTISSA_BITS + 1);
    let mut mantissa = until.div_ceil(1 << shift);
    if mantissa >> (MANTISSA_BITS + 1) != 0 {
        // Rounding up carried into a new bit.
        shift += 1;
        mantissa >>= 1;
    }
    if u64::from(shift) > SHIFT_MASK
        || mantissa
            .checked_shl(shift)
            .is_none_or(|v| v >> shift != mantissa)
    {
        return PAYLOAD_MASK; // rounded past `u64::MAX`: forever
    }
    EXACT_UNTIL | u64::from(shift) << MANTISSA_BITS | (mantissa & MANTISSA_MASK)
}

/// The inverse of [`encode_until`] (exact on what it produces).
fn decode_until(payload: u64) -> Micros {
    if payload < EXACT_UNTIL {
        return payload;
    }
    if payload == PAYLOAD_MASK {
        return FOREVER;
    }
    let shift = ((payload >> MANTISSA_BITS) & SHIFT_MASK) as u32;
    let mantissa = (payload & MANTISSA_MASK) | 1 << MANTISSA_BITS;
    match mantissa.checked_shl(shift) {
        Some(until) if until >> shift == mantissa => until,
        _ => FOREVER,
    }
}

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
            Phase::Open { until } => (TAG_OPEN, encode_until(until)),
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

    /// Unpacks a word made by [`encode`](Self::encode). An Open deadline past 2^47 µs comes
    /// back rounded up (see `encode_until`); every other field comes back exactly.
    #[inline]
    pub fn decode(word: u64) -> State {
        let epoch = ((word >> PAYLOAD_BITS) & EPOCH_MASK) as u16;
        let payload = word & PAYLOAD_MASK;
        let phase = match word >> 62 {
            TAG_CLOSED => Phase::Closed {
                failures: payload as u32,
            },
            TAG_OPEN => Phase::Open {
                until: decode_until(payload),
            },
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
            until: now.saturating_add(limits.reset_timeout),
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
        (Phase::Open { until }, Event::Acquire) if until != FOREVER && now >= until => (
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
    fn open_deadlines_are_exact_below_2_pow_47_and_never_early_above() {
        for until in [0, 1, 10_000_000, EXACT_UNTIL - 1, FOREVER] {
            assert_eq!(decode_until(encode_until(until)), until);
        }
        let mut until = EXACT_UNTIL;
        while until < FOREVER / 2 {
            for probe in [until - 1, until, until + 1, until + until / 3] {
                let stored = decode_until(encode_until(probe));
                assert!(stored >= probe, "{probe} stored as {stored}: early");
                assert!(
                    stored - probe <= probe >> MANTISSA_BITS,
                    "{probe} stored as {stored}"
                );
                assert_eq!(decode_until(encode_until(stored)), stored, "stable");
            }
            until += until / 2;
        }
        for probe in [FOREVER - 1, FOREVER - (1 << 20), FOREVER / 2 + 1] {
            assert!(decode_until(encode_until(probe)) >= probe);
        }
    }

    #[test]
    fn open_forever_never_admits_and_deadlines_saturate_to_forever() {
        let forever = State {
            epoch: 1,
            phase: Phase::Open { until: FOREVER },
        };
        for now in [0, EXACT_UNTIL, FOREVER - 1, FOREVER] {
            assert_eq!(
                step(forever, Event::Acquire, &LIMITS, now).1,
                Decision::Rejected
            );
        }
        let limits = Limits {
            reset_timeout: Micros::MAX,
            ..LIMITS
        };
        let closed = State {
            epoch: 0,
            phase: Phase::Closed { failures: 2 },
        };
        let (open, _) = step(closed, Event::Failure { epoch: 0 }, &limits, 5);
        assert_eq!(open.phase, Phase::Open { until: FOREVER });
    }

    #[test]
    fn a_breaker_past_2_pow_48_micros_still_times_its_open_phase() {
        let now = 20 * 365 * 24 * 3600 * 1_000_000; // 20 years
        let closed = State {
            epoch: 0,
            phase: Phase::Closed { failures: 2 },
        };
        let (open, _) = step(closed, Event::Failure { epoch: 0 }, &LIMITS, now);
        let open = State::decode(open.encode());
        assert_eq!(
            step(open, Event::Acquire, &LIMITS, now).1,
            Decision::Rejected
        );
        let Phase::Open { until } = open.phase else {
            panic!("{open:?}")
        };
        assert!(until >= now + LIMITS.reset_timeout && until < now + 2 * LIMITS.reset_timeout);
        assert!(matches!(
            step(open, Event::Acquire, &LIMITS, until).1,
            Decision::Admitted { trial: true, .. }
        ));
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
