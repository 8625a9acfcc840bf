//! `circuit_breaker::state::step` on arbitrary states as the word stores them (epochs near the
//! 14-bit wrap, Open deadlines near 2^47 µs and near the end of `Micros`, any limits), under any
//! event: each step, mapped back to the spec's variables, is a step of `specs/CircuitBreaker.tla`
//! (one of its actions for one caller, or the caller's own permit released by a stale outcome),
//! where the model checks only the concrete states of `concretize`.

use proptest::prelude::*;
use resilience_runtime::circuit_breaker::state::{
    Decision, EPOCH_BITS, Event, FOREVER, Limits, Micros, Phase, State, step,
};
use resilience_verification::circuit_breaker as cb;

const PERIOD: u32 = 1 << EPOCH_BITS;

fn epoch() -> impl Strategy<Value = u16> {
    let last = (PERIOD - 1) as u16;
    prop_oneof![Just(0u16), Just(1u16), Just(last - 1), Just(last), 0..=last,]
}

/// Instants and deadlines: small, around 2^47 µs (where the word stops storing deadlines
/// exactly), near `FOREVER`, and anywhere.
fn micros() -> impl Strategy<Value = Micros> {
    const EXACT: Micros = 1 << 47;
    prop_oneof![
        0..1_000u64,
        (EXACT - 1_000)..(EXACT + 1_000),
        (FOREVER - 1_000_000)..=FOREVER,
        any::<u64>(),
    ]
}

fn limits() -> impl Strategy<Value = Limits> {
    (
        prop_oneof![Just(None), (1..6u32).prop_map(Some)],
        prop_oneof![1..2_000u64, micros()].prop_map(|timeout| timeout.max(1)),
        1..6u32,
    )
        .prop_map(
            |(max_failures, reset_timeout, half_open_allowed_calls)| Limits {
                max_failures,
                reset_timeout,
                half_open_allowed_calls,
            },
        )
}

/// A phase within `invariant_holds` (the monitor asserts it of every state the driver stores).
fn phase(limits: Limits) -> impl Strategy<Value = Phase> {
    let max = limits.max_failures.unwrap_or(1);
    let allowed = limits.half_open_allowed_calls;
    prop_oneof![
        (0..max).prop_map(move |failures| Phase::Closed {
            failures: if limits.max_failures.is_some() {
                failures
            } else {
                0
            },
        }),
        micros().prop_map(|until| Phase::Open { until }),
        (0..=allowed)
            .prop_flat_map(|admitted| (Just(admitted), 0..=admitted))
            .prop_map(|(admitted, succeeded)| Phase::HalfOpen {
                admitted,
                succeeded,
            }),
    ]
}

/// An outcome's epoch relative to the state's: current, one before, one after (a permit of
/// 16,383 transitions ago), or any.
fn outcome_epoch(current: u16) -> impl Strategy<Value = u16> {
    let wrap = |e: u32| (e % PERIOD) as u16;
    let c = u32::from(current);
    prop_oneof![
        3 => Just(current),
        1 => Just(wrap(c + PERIOD - 1)),
        1 => Just(wrap(c + 1)),
        1 => (0..PERIOD).prop_map(|e| e as u16),
    ]
}

fn event(current: u16, rate_mode: bool) -> impl Strategy<Value = Event> {
    outcome_epoch(current).prop_flat_map(move |epoch| {
        let mut events = vec![
            Event::Acquire,
            Event::Success { epoch },
            Event::Failure { epoch },
            Event::Cancel { epoch },
            Event::Reset,
            Event::ForceOpen,
        ];
        // The driver feeds `Trip` only from a rate-mode window.
        if rate_mode {
            events.push(Event::Trip { epoch });
        }
        proptest::sample::select(events)
    })
}

/// A state as the driver holds it (decoded from its word), the limits, an event and `now`.
fn case() -> impl Strategy<Value = (State, Limits, Event, Micros)> {
    limits().prop_flat_map(|limits| {
        (epoch(), phase(limits)).prop_flat_map(move |(epoch, phase)| {
            let state = State::decode(State { epoch, phase }.encode());
            let now = match phase {
                // Around the deadline as often as anywhere.
                Phase::Open { until } => prop_oneof![
                    Just(until),
                    Just(until.saturating_sub(1)),
                    Just(until.saturating_add(1)),
                    micros(),
                ]
                .boxed(),
                _ => micros().boxed(),
            };
            (
                Just(state),
                Just(limits),
                event(state.epoch, limits.max_failures.is_none()),
                now,
            )
        })
    })
}

/// The spec's constants for one caller under `limits`.
fn constants(limits: &Limits) -> cb::Constants {
    let mode = if limits.max_failures.is_some() {
        cb::Mode::Consecutive
    } else {
        cb::Mode::Rate
    };
    cb::Constants {
        callers: 1,
        modes: vec![mode],
        max_failures: limits.max_failures.unwrap_or(1),
        half_open_allowed: limits.half_open_allowed_calls,
        max_epoch: u32::MAX,
    }
}

/// The spec's epoch of the word's `epoch`: one period up, so that older permits (up to a
/// period before) have spec epochs too. Compared modulo the period.
fn spec_epoch(epoch: u16) -> u32 {
    u32::from(epoch) + PERIOD
}

fn event_epoch(event: Event) -> Option<u16> {
    match event {
        Event::Success { epoch }
        | Event::Failure { epoch }
        | Event::Trip { epoch }
        | Event::Cancel { epoch } => Some(epoch),
        Event::Acquire | Event::Reset | Event::ForceOpen => None,
    }
}

/// The spec's variables of `state` at `now` with caller 0 holding `permit`; `forced` says
/// whether an Open phase forever is the spec's `forced` (`ForceOpen`) or a deadline past the end
/// of `Micros` (saturated: Open, never elapsing).
fn abstraction(
    state: State,
    now: Micros,
    k: &cb::Constants,
    permit: cb::Permit,
    forced: bool,
) -> cb::Vars {
    let mut env = cb::Vars {
        mode: k.modes[0],
        phase: cb::Phase::Closed,
        failures: 0,
        forced: false,
        elapsed: false,
        admitted: 0,
        succeeded: 0,
        epoch: 0,
        permit: vec![permit],
    };
    env = cb::abstraction(state, now, &env);
    env.epoch = spec_epoch(state.epoch);
    if let Phase::Open { until: FOREVER } = state.phase {
        env.forced = forced;
        env.elapsed = false;
    }
    env
}

fn modulo_period(mut s: cb::Vars) -> cb::Vars {
    s.epoch %= PERIOD;
    for permit in &mut s.permit {
        permit.epoch %= PERIOD;
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// Each step of `step` is a step of the spec: the abstraction of its result is the spec's
    /// successor of the abstraction of its input by some action of caller 0 (or `Reset`,
    /// `ForceOpen`), epochs compared modulo 2^14 (an outcome of the next epoch modulo 2^14 is
    /// a permit of 16,383 transitions ago). A permit of exactly 16,384 transitions ago cannot be
    /// told from a current one: the wrap the spec does not model (the driver's module doc).
    #[test]
    fn every_step_on_an_encoded_state_is_a_spec_step((state, limits, event, now) in case()) {
        let k = constants(&limits);
        let current = event_epoch(event).is_none_or(|epoch| epoch == state.epoch);
        let trial = matches!(state.phase, Phase::HalfOpen { admitted, succeeded } if admitted > succeeded);
        // Caller 0's permit: the one the outcome is reported on (a current trial needs an
        // admitted trial outstanding), none for an admission, a reset or a forced open.
        let permit = match event_epoch(event) {
            Some(_) if current && matches!(state.phase, Phase::HalfOpen { .. }) && !trial => {
                return Ok(()); // no trial outstanding: no spec state has such a permit
            }
            Some(_) if current && matches!(state.phase, Phase::Open { .. }) => {
                return Ok(()); // `OpenAdmitsNobody`: no current permit in Open
            }
            Some(epoch) => cb::Permit {
                held: true,
                epoch: spec_epoch(state.epoch)
                    - (u32::from(state.epoch) + PERIOD - u32::from(epoch)) % PERIOD,
                trial: current && trial,
            },
            None => cb::NO_PERMIT,
        };
        let (next, decision) = step(state, event, &limits, now);
        prop_assert!(next.invariant_holds(&limits), "{state:?} --{event:?}--> {next:?}");
        // What the driver stores and reads back: exact, but for a deadline rounded up.
        let stored = State::decode(next.encode());
        if let (Phase::Open { until }, Phase::Open { until: back }) = (next.phase, stored.phase) {
            prop_assert!(back >= until, "{until} stored early as {back}");
        } else {
            prop_assert_eq!(stored, next);
        }
        // An Open phase forever is `forced` to the spec (`ForceOpen`, or a deadline saturated
        // at the end of `Micros`: both wait for `reset()`).
        let was_forced = true;
        let pre = abstraction(state, now, &k, permit, was_forced);
        let mut post_permit = cb::NO_PERMIT;
        if let (Event::Acquire, Decision::Admitted { epoch, trial }) = (event, decision) {
            post_permit = cb::Permit { held: true, epoch: spec_epoch(epoch), trial };
            if epoch != state.epoch {
                post_permit.epoch = spec_epoch(state.epoch) + 1;
            }
        }
        let forced = if next == state { was_forced } else { event == Event::ForceOpen };
        let post = modulo_period(abstraction(next, now, &k, post_permit, forced));
        let successors: Vec<cb::Vars> = cb::Action::all(&k)
            .into_iter()
            .filter_map(|action| cb::spec_next(&k, &pre, action))
            .map(modulo_period)
            .collect();
        if let (Phase::Open { until: FOREVER }, false) = (next.phase, forced) {
            // Opened with a deadline past the end of `Micros`: open until `reset()`. The spec
            // opens with a deadline it reaches; the word keeps the phase, never elapsing.
            prop_assert!(now.saturating_add(limits.reset_timeout) == FOREVER);
        }
        prop_assert!(
            successors.contains(&post),
            "{state:?} --{event:?}--> {next:?} ({decision:?}) at {now}\n  spec from {pre:?}\n  \
             -> one of {successors:?}\n  got {post:?}"
        );
    }

    /// `invariant_holds` is the spec's `ClosedBelowThreshold` and `HalfOpenBound` exactly,
    /// on states inside and outside them.
    #[test]
    fn invariant_holds_is_the_spec_invariant(
        limits in limits(),
        failures in 0..8u32,
        admitted in 0..8u32,
        succeeded in 0..8u32,
        until in micros(),
        epoch in epoch(),
    ) {
        let k = constants(&limits);
        for phase in [
            Phase::Closed { failures },
            Phase::Open { until },
            Phase::HalfOpen { admitted, succeeded },
        ] {
            if limits.max_failures.is_none() && phase == (Phase::Closed { failures }) && failures > 0 {
                continue; // rate mode keeps no count in the word
            }
            let state = State { epoch, phase };
            let s = abstraction(state, 0, &k, cb::NO_PERMIT, true);
            prop_assert_eq!(
                state.invariant_holds(&limits),
                cb::closed_below_threshold(&k, &s) && cb::half_open_bound(&k, &s),
                "{:?} under {:?}", state, limits
            );
        }
    }
}
