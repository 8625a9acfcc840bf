//! docs/CONTRACT.md §2.7: the order the attributes are written in never changes their meaning. Every
//! pair of the five, and all five, is defined twice with the attributes in two orders and driven
//! through the same scenario; both must behave identically, and as the contract says.

use resilience::{CircuitState, bulkhead, circuit_breaker, fallback, retry, timeout};

use super::{
    FALLBACK, Observed, Round, Script, Step, TestError, counts, ms, observe, scripted_fallback,
};

/// Defines `async fn $name(script: Script) -> Result<u32, TestError>` running `script`, with the
/// listed attributes in the order listed, each with one fixed configuration so that two orders
/// differ only in order:
/// - `circuit_breaker("name")`: `max_failures = 2`, `reset_timeout = "1s"`;
/// - `retry`: `max_retries = 2`, a fixed 100 ms backoff, no jitter;
/// - `timeout`: 50 ms;
/// - `bulkhead("name")`: one slot, no queue;
/// - `fallback`: [`scripted_fallback`], which returns `Ok(FALLBACK)`.
macro_rules! scripted_fn {
    ($name:ident [$($attrs:tt)*]) => {
        $($attrs)*
        async fn $name(script: Script) -> Result<u32, TestError> {
            script.run().await
        }
    };
    ($name:ident [$($attrs:tt)*] circuit_breaker($breaker:tt) $(, $($rest:tt)*)?) => {
        scripted_fn!($name [$($attrs)*
            #[circuit_breaker(name = $breaker, max_failures = 2, reset_timeout = "1s")]
        ] $($($rest)*)?);
    };
    ($name:ident [$($attrs:tt)*] retry $(, $($rest:tt)*)?) => {
        scripted_fn!($name [$($attrs)*
            #[retry(max_retries = 2, backoff = "fixed", base_delay = "100ms", jitter_factor = 0.0)]
        ] $($($rest)*)?);
    };
    ($name:ident [$($attrs:tt)*] timeout $(, $($rest:tt)*)?) => {
        scripted_fn!($name [$($attrs)* #[timeout("50ms")]] $($($rest)*)?);
    };
    ($name:ident [$($attrs:tt)*] bulkhead($bulkhead:tt) $(, $($rest:tt)*)?) => {
        scripted_fn!($name [$($attrs)*
            #[bulkhead(name = $bulkhead, max_concurrent_calls = 1, max_queue_size = 0)]
        ] $($($rest)*)?);
    };
    ($name:ident [$($attrs:tt)*] fallback $(, $($rest:tt)*)?) => {
        scripted_fn!($name [$($attrs)* #[fallback(scripted_fallback)]] $($($rest)*)?);
    };
}

/// The breaker name in a `scripted_fn!` attribute list, if any.
macro_rules! breaker_name {
    () => { None };
    (circuit_breaker($breaker:tt) $(, $($rest:tt)*)?) => { Some($breaker) };
    ($kind:ident $(($($args:tt)*))? $(, $($rest:tt)*)?) => { breaker_name!($($($rest)*)?) };
}

/// The bulkhead name in a `scripted_fn!` attribute list, if any.
macro_rules! bulkhead_name {
    () => { None };
    (bulkhead($bulkhead:tt) $(, $($rest:tt)*)?) => { Some($bulkhead) };
    ($kind:ident $(($($args:tt)*))? $(, $($rest:tt)*)?) => { bulkhead_name!($($($rest)*)?) };
}

/// A test defining the same scripted function with its attributes in two orders, running the
/// same scenario on both, asserting they behave identically, then checking what they did.
macro_rules! same_behaviour_in_both_orders {
    (
        $test:ident {
            first: [$($first:tt)*],
            second: [$($second:tt)*],
            steps: [$($step:expr),* $(,)?],
            rounds: [$($round:expr),* $(,)?],
            expect: |$observed:ident| $expect:block $(,)?
        }
    ) => {
        #[tokio::test(start_paused = true)]
        async fn $test() {
            scripted_fn!(first_order [] $($first)*);
            scripted_fn!(second_order [] $($second)*);
            let steps = [$($step),*];
            let rounds = [$($round),*];
            let first = observe(
                first_order,
                breaker_name!($($first)*),
                bulkhead_name!($($first)*),
                &steps,
                &rounds,
            )
            .await;
            let second = observe(
                second_order,
                breaker_name!($($second)*),
                bulkhead_name!($($second)*),
                &steps,
                &rounds,
            )
            .await;
            assert_eq!(
                first, second,
                "[{}] and [{}] behave differently",
                stringify!($($first)*),
                stringify!($($second)*),
            );
            let $observed: Observed = first;
            $expect
        }
    };
}

fn circuit_open() -> Result<u32, TestError> {
    Err(TestError::CircuitOpen {
        name: String::new(),
    })
}

fn bulkhead_full() -> Result<u32, TestError> {
    Err(TestError::BulkheadFull {
        name: String::new(),
    })
}

fn timed_out() -> Result<u32, TestError> {
    Err(TestError::Timeout { after: ms(50) })
}

same_behaviour_in_both_orders!(circuit_breaker_and_retry_mean_the_same_in_either_order {
    first: [circuit_breaker("stacking.cb+retry.1"), retry],
    second: [retry, circuit_breaker("stacking.cb+retry.2")],
    steps: [Step::Err(1), Step::Err(2), Step::Ok(7)],
    rounds: [Round::Call, Round::Call, Round::Wait(1000), Round::Call],
    expect: |observed| {
        // Two attempts open the breaker; the third attempt fails fast and is not retried.
        assert_eq!(
            observed.results,
            [
                (circuit_open(), ms(200)),
                (circuit_open(), ms(200)),
                (Ok(7), ms(1200))
            ]
        );
        assert_eq!(observed.body_runs, 3);
        assert_eq!(
            observed.breaker,
            Some((CircuitState::Closed, counts(1, 2, 2, 1)))
        );
    },
});

same_behaviour_in_both_orders!(circuit_breaker_and_timeout_mean_the_same_in_either_order {
    first: [circuit_breaker("stacking.cb+timeout.1"), timeout],
    second: [timeout, circuit_breaker("stacking.cb+timeout.2")],
    steps: [Step::Hang, Step::Hang],
    rounds: [Round::Call, Round::Call, Round::Call],
    expect: |observed| {
        assert_eq!(
            observed.results,
            [
                (timed_out(), ms(50)),
                (timed_out(), ms(100)),
                (circuit_open(), ms(100))
            ]
        );
        assert_eq!(observed.body_runs, 2);
        assert_eq!(
            observed.breaker,
            Some((CircuitState::Open, counts(0, 2, 1, 1)))
        );
    },
});

same_behaviour_in_both_orders!(circuit_breaker_and_bulkhead_mean_the_same_in_either_order {
    first: [
        circuit_breaker("stacking.cb+bulkhead.1"),
        bulkhead("stacking.cb+bulkhead.1")
    ],
    second: [
        bulkhead("stacking.cb+bulkhead.2"),
        circuit_breaker("stacking.cb+bulkhead.2")
    ],
    steps: [Step::Slow(30, 1), Step::Err(2)],
    rounds: [Round::Concurrent, Round::Call],
    expect: |observed| {
        assert_eq!(
            observed.results,
            [
                (Ok(1), ms(30)),
                (bulkhead_full(), ms(0)),
                (Err(TestError::Op(2)), ms(30))
            ]
        );
        // The rejection by the bulkhead is neither a success nor a failure of the breaker.
        assert_eq!(
            observed.breaker,
            Some((CircuitState::Closed, counts(1, 1, 0, 0)))
        );
        assert_eq!(observed.bulkhead_in_flight, Some(0));
    },
});

same_behaviour_in_both_orders!(circuit_breaker_and_fallback_mean_the_same_in_either_order {
    first: [circuit_breaker("stacking.cb+fallback.1"), fallback],
    second: [fallback, circuit_breaker("stacking.cb+fallback.2")],
    steps: [Step::Err(1), Step::Err(2)],
    rounds: [Round::Call, Round::Call, Round::Call],
    expect: |observed| {
        assert_eq!(
            observed.results,
            [
                (Ok(FALLBACK), ms(0)),
                (Ok(FALLBACK), ms(0)),
                (Ok(FALLBACK), ms(0))
            ]
        );
        assert_eq!((observed.body_runs, observed.fallback_runs), (2, 3));
        assert_eq!(
            observed.breaker,
            Some((CircuitState::Open, counts(0, 2, 1, 1)))
        );
    },
});

same_behaviour_in_both_orders!(retry_and_timeout_mean_the_same_in_either_order {
    first: [retry, timeout],
    second: [timeout, retry],
    steps: [Step::Hang, Step::Slow(10, 4)],
    rounds: [Round::Call],
    expect: |observed| {
        // 50 ms timeout, 100 ms backoff, 10 ms second attempt.
        assert_eq!(observed.results, [(Ok(4), ms(160))]);
        assert_eq!(observed.body_runs, 2);
    },
});

same_behaviour_in_both_orders!(retry_and_bulkhead_mean_the_same_in_either_order {
    first: [retry, bulkhead("stacking.retry+bulkhead.1")],
    second: [bulkhead("stacking.retry+bulkhead.2"), retry],
    steps: [Step::Slow(30, 1), Step::Ok(2)],
    rounds: [Round::Concurrent],
    expect: |observed| {
        // The second call is refused by the full bulkhead, and retried after the backoff.
        assert_eq!(observed.results, [(Ok(1), ms(30)), (Ok(2), ms(100))]);
        assert_eq!(observed.body_runs, 2);
        assert_eq!(observed.bulkhead_in_flight, Some(0));
    },
});

same_behaviour_in_both_orders!(retry_and_fallback_mean_the_same_in_either_order {
    first: [retry, fallback],
    second: [fallback, retry],
    steps: [Step::Err(1), Step::Err(2), Step::Err(3)],
    rounds: [Round::Call],
    expect: |observed| {
        assert_eq!(observed.results, [(Ok(FALLBACK), ms(200))]);
        assert_eq!((observed.body_runs, observed.fallback_runs), (3, 1));
    },
});

same_behaviour_in_both_orders!(timeout_and_bulkhead_mean_the_same_in_either_order {
    first: [timeout, bulkhead("stacking.timeout+bulkhead.1")],
    second: [bulkhead("stacking.timeout+bulkhead.2"), timeout],
    steps: [Step::Hang, Step::Slow(10, 3)],
    rounds: [Round::Concurrent, Round::Call],
    expect: |observed| {
        // The timed-out body's slot is free again for the third call.
        assert_eq!(
            observed.results,
            [
                (timed_out(), ms(50)),
                (bulkhead_full(), ms(0)),
                (Ok(3), ms(60))
            ]
        );
        assert_eq!(observed.bulkhead_in_flight, Some(0));
    },
});

same_behaviour_in_both_orders!(timeout_and_fallback_mean_the_same_in_either_order {
    first: [timeout, fallback],
    second: [fallback, timeout],
    steps: [Step::Hang],
    rounds: [Round::Call],
    expect: |observed| {
        assert_eq!(observed.results, [(Ok(FALLBACK), ms(50))]);
        assert_eq!((observed.body_runs, observed.fallback_runs), (1, 1));
    },
});

same_behaviour_in_both_orders!(bulkhead_and_fallback_mean_the_same_in_either_order {
    first: [bulkhead("stacking.bulkhead+fallback.1"), fallback],
    second: [fallback, bulkhead("stacking.bulkhead+fallback.2")],
    steps: [Step::Slow(30, 1)],
    rounds: [Round::Concurrent],
    expect: |observed| {
        assert_eq!(observed.results, [(Ok(1), ms(30)), (Ok(FALLBACK), ms(0))]);
        assert_eq!((observed.body_runs, observed.fallback_runs), (1, 1));
        assert_eq!(observed.bulkhead_in_flight, Some(0));
    },
});

/// What all five attributes do in the scenario below, whatever their order:
/// - A's first attempt takes the bulkhead's slot and hangs; B is refused by the bulkhead
///   (retried, not a breaker failure);
/// - A times out at 50 ms (breaker failure 1), retries at 150 ms;
/// - B's second attempt at 100 ms fails (breaker failure 2: Open), would retry at 200 ms;
/// - A's retry at 150 ms and B's at 200 ms fail fast with `CircuitOpen`, not retried: fallback;
/// - so does the third call at 200 ms; after the reset timeout a trial call closes the breaker.
fn expect_all_five(observed: Observed) {
    assert_eq!(
        observed.results,
        [
            (Ok(FALLBACK), ms(150)),
            (Ok(FALLBACK), ms(200)),
            (Ok(FALLBACK), ms(200)),
            (Ok(3), ms(1210)),
        ]
    );
    assert_eq!((observed.body_runs, observed.fallback_runs), (3, 3));
    assert_eq!(
        observed.breaker,
        Some((CircuitState::Closed, counts(1, 2, 3, 1)))
    );
    assert_eq!(observed.bulkhead_in_flight, Some(0));
}

same_behaviour_in_both_orders!(all_five_mean_the_same_in_reverse_order {
    first: [
        fallback,
        retry,
        circuit_breaker("stacking.all.canonical"),
        timeout,
        bulkhead("stacking.all.canonical"),
    ],
    second: [
        bulkhead("stacking.all.reversed"),
        timeout,
        circuit_breaker("stacking.all.reversed"),
        retry,
        fallback,
    ],
    steps: [Step::Hang, Step::Err(2), Step::Slow(10, 3)],
    rounds: [
        Round::Concurrent,
        Round::Call,
        Round::Wait(1000),
        Round::Call
    ],
    expect: |observed| {
        expect_all_five(observed);
    },
});

same_behaviour_in_both_orders!(all_five_mean_the_same_in_a_shuffled_order {
    first: [
        timeout,
        fallback,
        bulkhead("stacking.all.shuffled"),
        retry,
        circuit_breaker("stacking.all.shuffled"),
    ],
    second: [
        circuit_breaker("stacking.all.shuffled.2"),
        bulkhead("stacking.all.shuffled.2"),
        fallback,
        timeout,
        retry,
    ],
    steps: [Step::Hang, Step::Err(2), Step::Slow(10, 3)],
    rounds: [
        Round::Concurrent,
        Round::Call,
        Round::Wait(1000),
        Round::Call
    ],
    expect: |observed| {
        expect_all_five(observed);
    },
});

// The same five, some written `resilience::…` or `::resilience::…`: whichever expands first
// collects the others, bare or qualified.

#[resilience::retry(
    max_retries = 2,
    backoff = "fixed",
    base_delay = "100ms",
    jitter_factor = 0.0
)]
#[circuit_breaker(
    name = "stacking.qualified.outer",
    max_failures = 2,
    reset_timeout = "1s"
)]
#[resilience::timeout("50ms")]
#[bulkhead(
    name = "stacking.qualified.outer",
    max_concurrent_calls = 1,
    max_queue_size = 0
)]
#[::resilience::fallback(scripted_fallback)]
async fn qualified_outermost(script: Script) -> Result<u32, TestError> {
    script.run().await
}

#[fallback(scripted_fallback)]
#[resilience::bulkhead(
    name = "stacking.qualified.inner",
    max_concurrent_calls = 1,
    max_queue_size = 0
)]
#[::resilience::circuit_breaker(
    name = "stacking.qualified.inner",
    max_failures = 2,
    reset_timeout = "1s"
)]
#[timeout("50ms")]
#[resilience::retry(
    max_retries = 2,
    backoff = "fixed",
    base_delay = "100ms",
    jitter_factor = 0.0
)]
async fn bare_outermost(script: Script) -> Result<u32, TestError> {
    script.run().await
}

#[tokio::test(start_paused = true)]
async fn path_qualified_attributes_stack_with_bare_ones() {
    let steps = [Step::Hang, Step::Err(2), Step::Slow(10, 3)];
    let rounds = [
        Round::Concurrent,
        Round::Call,
        Round::Wait(1000),
        Round::Call,
    ];
    let qualified = observe(
        qualified_outermost,
        Some("stacking.qualified.outer"),
        Some("stacking.qualified.outer"),
        &steps,
        &rounds,
    )
    .await;
    let bare = observe(
        bare_outermost,
        Some("stacking.qualified.inner"),
        Some("stacking.qualified.inner"),
        &steps,
        &rounds,
    )
    .await;
    assert_eq!(qualified, bare);
    expect_all_five(qualified);
}
