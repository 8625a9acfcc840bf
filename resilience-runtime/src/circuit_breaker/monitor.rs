//! The runtime monitor of the breaker's compare-and-swap loop (debug and loom builds only).
//!
//! Every transition the driver makes on its word, `from --event--> to` (the compare-and-swap
//! succeeded), is checked against the actions of `specs/CircuitBreaker.tla`, written here a
//! second time from the spec and not from [`step`]: a `step` that drifts from the spec fails
//! here, in every test, loom interleaving and storm that runs the real breaker, not only in the
//! model checker. Outcomes the driver drops without a compare-and-swap, because their permit
//! belongs to an earlier phase, are checked to be ones `step` ignores too, when their epoch
//! differs (a permit of the same epoch 16,384 transitions ago is the wrap the spec does not
//! model, see the driver's module doc). Outcomes it settles without calling `step` at all (a
//! success in Closed with no failure counted, a rate-mode outcome the window keeps) are checked
//! to be ones `step` would leave unchanged. Release builds compile none of it.

use super::state::{Decision, EPOCH_BITS, Event, Limits, Micros, Phase, State, step};

/// Whether `from --event--> to` (with `decision`, at `now`) is a step of the spec: `to` differs
/// from `from`, so one of the spec's actions changed the breaker's variables. The spec's
/// `epoch` is unbounded; the word's is modulo 2^14, hence `bumped`.
fn spec_allows(
    from: State,
    event: Event,
    to: State,
    decision: Decision,
    limits: &Limits,
    now: Micros,
) -> bool {
    let bumped = u32::from(to.epoch) == (u32::from(from.epoch) + 1) % (1 << EPOCH_BITS);
    let same = to.epoch == from.epoch;
    let current = |epoch: u16| epoch == from.epoch;
    let opened = |to: State| matches!(to.phase, Phase::Open { until } if until >= now.saturating_add(limits.reset_timeout));
    let recorded = decision == Decision::Recorded;
    match (from.phase, event) {
        // Reset and ForceOpen.
        (_, Event::Reset) => bumped && recorded && to.phase == Phase::Closed { failures: 0 },
        (_, Event::ForceOpen) => {
            bumped
                && recorded
                && to.phase
                    == Phase::Open {
                        until: super::state::FOREVER,
                    }
        }
        // Acquire(c): Open whose timeout elapsed becomes HalfOpen, the caller its first trial;
        // HalfOpen admits while a slot is free. Closed admits without changing the breaker.
        (Phase::Open { until }, Event::Acquire) => {
            until != super::state::FOREVER
                && now >= until
                && bumped
                && to.phase
                    == Phase::HalfOpen {
                        admitted: 1,
                        succeeded: 0,
                    }
                && decision
                    == Decision::Admitted {
                        epoch: to.epoch,
                        trial: true,
                    }
        }
        (
            Phase::HalfOpen {
                admitted,
                succeeded,
            },
            Event::Acquire,
        ) => {
            admitted < limits.half_open_allowed_calls
                && same
                && to.phase
                    == Phase::HalfOpen {
                        admitted: admitted + 1,
                        succeeded,
                    }
                && decision
                    == Decision::Admitted {
                        epoch: from.epoch,
                        trial: true,
                    }
        }
        // Succeed(c), current: a trial counts (all of them: Closed); in Closed the count
        // restarts.
        (
            Phase::HalfOpen {
                admitted,
                succeeded,
            },
            Event::Success { epoch },
        ) if current(epoch) => {
            recorded
                && if succeeded + 1 >= limits.half_open_allowed_calls {
                    bumped && to.phase == Phase::Closed { failures: 0 }
                } else {
                    same && to.phase
                        == Phase::HalfOpen {
                            admitted,
                            succeeded: succeeded + 1,
                        }
                }
        }
        (Phase::Closed { failures }, Event::Success { epoch }) if current(epoch) => {
            failures > 0 && same && recorded && to.phase == Phase::Closed { failures: 0 }
        }
        // Fail(c), current: a trial reopens; consecutive mode counts, opening at the threshold.
        // Rate mode's failures in Closed only feed the window (no change: never here).
        (Phase::HalfOpen { .. }, Event::Failure { epoch }) if current(epoch) => {
            bumped && recorded && opened(to)
        }
        (Phase::Closed { failures }, Event::Failure { epoch }) if current(epoch) => {
            match limits.max_failures {
                Some(max) if failures + 1 >= max => bumped && recorded && opened(to),
                Some(_) => {
                    same && recorded
                        && to.phase
                            == Phase::Closed {
                                failures: failures + 1,
                            }
                }
                None => false,
            }
        }
        // Trip(c): rate mode, Closed, current. The mode is not checked: an override can switch
        // a live breaker's mode (contract §7), and a trip racing that switch is applied under
        // the new limits; the switch's reset then starts a new behaviour of the spec.
        (Phase::Closed { .. }, Event::Trip { epoch }) if current(epoch) => {
            bumped && recorded && opened(to)
        }
        // Cancel(c): a current trial frees its slot.
        (
            Phase::HalfOpen {
                admitted,
                succeeded,
            },
            Event::Cancel { epoch },
        ) if current(epoch) => {
            admitted > 0
                && same
                && to.phase
                    == Phase::HalfOpen {
                        admitted: admitted - 1,
                        succeeded,
                    }
        }
        // Anything else (a stale outcome, Open receiving one, Trip in HalfOpen, ...) changes
        // nothing in the spec.
        _ => false,
    }
}

/// A transition the driver made on its word: must be a step of the spec, into a state within
/// its invariant.
#[track_caller]
pub(super) fn transition(
    name: &str,
    from: State,
    event: Event,
    to: State,
    decision: Decision,
    limits: &Limits,
    now: Micros,
) {
    assert!(
        to.invariant_holds(limits),
        "circuit breaker `{name}` broke its invariant: {from:?} --{event:?}--> {to:?}"
    );
    assert!(
        spec_allows(from, event, to, decision, limits, now),
        "circuit breaker `{name}`: {from:?} --{event:?}--> {to:?} ({decision:?}) at {now} µs is \
         not a step of specs/CircuitBreaker.tla"
    );
}

/// An outcome or cancellation the driver dropped because its permit is not of the phase of
/// `state`: when its epoch differs, `step` ignores it too (the spec: a stale permit changes
/// nothing).
#[track_caller]
pub(super) fn dropped(name: &str, state: State, event: Event, now: Micros) {
    let epoch = match event {
        Event::Success { epoch }
        | Event::Failure { epoch }
        | Event::Trip { epoch }
        | Event::Cancel { epoch } => epoch,
        // No permit, so never stale.
        Event::Acquire | Event::Reset | Event::ForceOpen => return,
    };
    if epoch != state.epoch {
        // Both modes' limits: a stale outcome is ignored whatever they are (and reading the
        // live ones here would add loads for loom to interleave).
        for max_failures in [Some(1), None] {
            let limits = Limits {
                max_failures,
                reset_timeout: 1,
                half_open_allowed_calls: 1,
            };
            assert_eq!(
                step(state, event, &limits, now).0,
                state,
                "circuit breaker `{name}`: a stale {event:?} would change {state:?}"
            );
        }
    }
}

/// An outcome the driver settled without calling `step`: a success in Closed with no failure
/// counted (the fast path of `record`, and `record_slow`'s), or, with `rate_mode`, an outcome
/// that went to the rate window only. `step` leaves `state` as it is too (the spec: the caller's
/// permit is released, no breaker variable changes), in both modes for the fast path.
#[track_caller]
pub(super) fn settled_without_step(name: &str, state: State, event: Event, rate_mode: bool) {
    if rate_mode && matches!(state.phase, Phase::Closed { failures } if failures > 0) {
        // A count of consecutive mode, stored before an override switched the mode; the
        // switch resets the breaker (a new behaviour of the spec).
        return;
    }
    let modes: &[Option<u32>] = if rate_mode { &[None] } else { &[Some(1), None] };
    for &max_failures in modes {
        // Fixed limits: the phases settled here are Closed, whose steps read only the mode
        // (and reading the live limits would add loads for loom to interleave).
        let limits = Limits {
            max_failures,
            reset_timeout: 1,
            half_open_allowed_calls: 1,
        };
        assert_eq!(
            step(state, event, &limits, 0).0,
            state,
            "circuit breaker `{name}`: {event:?} settled without a transition would change \
             {state:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_failures: Some(2),
        reset_timeout: 10,
        half_open_allowed_calls: 2,
    };

    /// Every transition `step` makes from a few states is one the spec allows, and a step that
    /// opens too early or admits one trial too many is not.
    #[test]
    fn the_spec_allows_what_step_does_and_not_its_mutations() {
        let states = [
            Phase::Closed { failures: 0 },
            Phase::Closed { failures: 1 },
            Phase::Open { until: 5 },
            Phase::Open {
                until: super::super::state::FOREVER,
            },
            Phase::HalfOpen {
                admitted: 1,
                succeeded: 0,
            },
            Phase::HalfOpen {
                admitted: 2,
                succeeded: 1,
            },
        ];
        let events = [
            Event::Acquire,
            Event::Success { epoch: 7 },
            Event::Failure { epoch: 7 },
            Event::Cancel { epoch: 7 },
            Event::Success { epoch: 6 },
            Event::Reset,
            Event::ForceOpen,
        ];
        let mut transitions = 0;
        for phase in states {
            let from = State { epoch: 7, phase };
            for event in events {
                let (to, decision) = step(from, event, &LIMITS, 20);
                if to != from {
                    transitions += 1;
                    assert!(
                        spec_allows(from, event, to, decision, &LIMITS, 20),
                        "{from:?} --{event:?}--> {to:?}"
                    );
                }
            }
        }
        assert!(transitions > 10);
        let closed = State {
            epoch: 7,
            phase: Phase::Closed { failures: 0 },
        };
        let early = State {
            epoch: 8,
            phase: Phase::Open { until: 25 },
        };
        assert!(!spec_allows(
            closed,
            Event::Failure { epoch: 7 },
            early,
            Decision::Recorded,
            &LIMITS,
            20
        ));
        let full = State {
            epoch: 7,
            phase: Phase::HalfOpen {
                admitted: 2,
                succeeded: 0,
            },
        };
        let extra = State {
            epoch: 7,
            phase: Phase::HalfOpen {
                admitted: 3,
                succeeded: 0,
            },
        };
        let admitted = Decision::Admitted {
            epoch: 7,
            trial: true,
        };
        assert!(!spec_allows(
            full,
            Event::Acquire,
            extra,
            admitted,
            &LIMITS,
            20
        ));
    }

    /// The early returns' check passes what `step` leaves alone and refuses an outcome that
    /// `step` would count.
    #[test]
    fn an_outcome_settled_without_a_step_must_change_nothing() {
        let closed = |failures| State {
            epoch: 3,
            phase: Phase::Closed { failures },
        };
        settled_without_step("t", closed(0), Event::Success { epoch: 3 }, false);
        settled_without_step("t", closed(0), Event::Failure { epoch: 3 }, true);
        settled_without_step("t", closed(0), Event::Success { epoch: 2 }, true);
        let counted = std::panic::catch_unwind(|| {
            settled_without_step("t", closed(1), Event::Success { epoch: 3 }, false)
        });
        assert!(counted.is_err(), "a success resets a count of failures");
        let counted = std::panic::catch_unwind(|| {
            settled_without_step("t", closed(0), Event::Failure { epoch: 3 }, false)
        });
        assert!(counted.is_err(), "a consecutive-mode failure counts");
    }
}
