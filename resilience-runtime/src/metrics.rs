//! The `metrics` facade's names of contract §8, recorded with the cargo feature `metrics`.
//!
//! Without the feature every function here is an empty `#[inline(always)]` one and the handle
//! types are zero-sized: no code, no state. With it, a policy resolves its hot-path handles once
//! (a breaker or bulkhead when it is created, a call site at its first call) and each call pays
//! an increment on a resolved handle; with no recorder installed that is one load and a branch.
//! Cold paths (rejections, retries, timeouts, transitions) resolve their handle when they happen.
//!
//! Handles resolved before a recorder is installed stay no-ops (the `metrics` crate's rule for
//! cached handles): install the recorder before the first call.

#[cfg(feature = "metrics")]
mod enabled {
    use std::sync::OnceLock;

    use metrics::{Counter, Gauge, counter, gauge, histogram};

    use crate::circuit_breaker::CircuitState;
    use crate::site::RetryOutcome;
    use crate::snapshot::state_label;

    const STATES: [CircuitState; 3] = [
        CircuitState::Closed,
        CircuitState::Open,
        CircuitState::HalfOpen,
    ];

    /// A breaker's handles, resolved when it is created.
    pub(crate) struct BreakerMetrics {
        success: Counter,
        failure: Counter,
        rejected: Counter,
        opened: Counter,
        state: [Gauge; 3],
    }

    impl BreakerMetrics {
        pub(crate) fn new(name: &str) -> Self {
            let calls = |result: &'static str| counter!("resilience_circuit_breaker_calls_total", "name" => name.to_owned(), "result" => result);
            let metrics = BreakerMetrics {
                success: calls("success"),
                failure: calls("failure"),
                rejected: calls("rejected"),
                opened: counter!("resilience_circuit_breaker_opened_total", "name" => name.to_owned()),
                state: STATES.map(|state| {
                    gauge!("resilience_circuit_breaker_state", "name" => name.to_owned(), "state" => state_label(state))
                }),
            };
            metrics.state(CircuitState::Closed);
            metrics
        }
        #[inline(always)]
        pub(crate) fn success(&self) {
            self.success.increment(1);
        }
        pub(crate) fn failure(&self) {
            self.failure.increment(1);
        }
        pub(crate) fn rejected(&self) {
            self.rejected.increment(1);
        }
        pub(crate) fn transition(&self, to: CircuitState) {
            if to == CircuitState::Open {
                self.opened.increment(1);
            }
            self.state(to);
        }
        fn state(&self, current: CircuitState) {
            for (state, gauge) in STATES.iter().zip(&self.state) {
                gauge.set(if *state == current { 1.0 } else { 0.0 });
            }
        }
    }

    /// A bulkhead's handles, resolved when it is created.
    pub(crate) struct BulkheadMetrics {
        accepted: Counter,
        rejected: Counter,
        running: Gauge,
        waiting: Gauge,
        name: String,
    }

    impl BulkheadMetrics {
        pub(crate) fn new(name: &str) -> Self {
            let calls = |result: &'static str| counter!("resilience_bulkhead_calls_total", "name" => name.to_owned(), "result" => result);
            BulkheadMetrics {
                accepted: calls("accepted"),
                rejected: calls("rejected"),
                running: gauge!("resilience_bulkhead_running", "name" => name.to_owned()),
                waiting: gauge!("resilience_bulkhead_waiting", "name" => name.to_owned()),
                name: name.to_owned(),
            }
        }
        #[inline(always)]
        pub(crate) fn admitted(&self) {
            self.accepted.increment(1);
            self.running.increment(1.0);
        }
        #[inline(always)]
        pub(crate) fn released(&self) {
            self.running.decrement(1.0);
        }
        pub(crate) fn rejected(&self) {
            self.rejected.increment(1);
        }
        pub(crate) fn queued(&self) {
            self.waiting.increment(1.0);
        }
        pub(crate) fn left_queue(&self, waited: std::time::Duration) {
            self.waiting.decrement(1.0);
            histogram!("resilience_bulkhead_wait_seconds", "name" => self.name.clone())
                .record(waited.as_secs_f64());
        }
    }

    /// A hot-path counter of a call site, resolved at its first call.
    pub(crate) struct SiteHandle(OnceLock<Counter>);

    impl SiteHandle {
        pub(crate) const fn new() -> Self {
            SiteHandle(OnceLock::new())
        }
        #[inline(always)]
        pub(crate) fn increment(&self, resolve: impl FnOnce() -> Counter) {
            self.0.get_or_init(resolve).increment(1);
        }
    }

    pub(crate) fn retry_success_first_try(name: &'static str) -> Counter {
        counter!("resilience_retry_calls_total", "name" => name, "retried" => "false", "result" => "success")
    }

    pub(crate) fn retry_call(name: &'static str, retried: bool, outcome: RetryOutcome) {
        counter!(
            "resilience_retry_calls_total",
            "name" => name,
            "retried" => if retried { "true" } else { "false" },
            "result" => outcome.label()
        )
        .increment(1);
    }

    pub(crate) fn retry_retried(name: &'static str) {
        counter!("resilience_retry_retries_total", "name" => name).increment(1);
    }

    pub(crate) fn timeout_call(name: &'static str) -> Counter {
        counter!("resilience_timeout_calls_total", "name" => name, "timed_out" => "false")
    }

    pub(crate) fn timed_out(name: &'static str) {
        counter!("resilience_timeout_calls_total", "name" => name, "timed_out" => "true")
            .increment(1);
    }
}

#[cfg(not(feature = "metrics"))]
mod disabled {
    use crate::circuit_breaker::CircuitState;
    use crate::site::RetryOutcome;

    /// Zero-sized without the feature.
    #[derive(Debug)]
    pub(crate) struct BreakerMetrics;

    impl BreakerMetrics {
        #[inline(always)]
        pub(crate) fn new(_: &str) -> Self {
            BreakerMetrics
        }
        #[inline(always)]
        pub(crate) fn success(&self) {}
        #[inline(always)]
        pub(crate) fn failure(&self) {}
        #[inline(always)]
        pub(crate) fn rejected(&self) {}
        #[inline(always)]
        pub(crate) fn transition(&self, _: CircuitState) {}
    }

    /// Zero-sized without the feature.
    #[derive(Debug)]
    pub(crate) struct BulkheadMetrics;

    impl BulkheadMetrics {
        #[inline(always)]
        pub(crate) fn new(_: &str) -> Self {
            BulkheadMetrics
        }
        #[inline(always)]
        pub(crate) fn admitted(&self) {}
        #[inline(always)]
        pub(crate) fn released(&self) {}
        #[inline(always)]
        pub(crate) fn rejected(&self) {}
        #[inline(always)]
        pub(crate) fn queued(&self) {}
        #[inline(always)]
        pub(crate) fn left_queue(&self, _: std::time::Duration) {}
    }

    /// Zero-sized without the feature.
    #[derive(Debug)]
    pub(crate) struct SiteHandle;

    impl SiteHandle {
        pub(crate) const fn new() -> Self {
            SiteHandle
        }
        #[inline(always)]
        pub(crate) fn increment(&self, _: impl FnOnce()) {}
    }

    #[inline(always)]
    pub(crate) fn retry_success_first_try(_: &'static str) {}
    #[inline(always)]
    pub(crate) fn retry_call(_: &'static str, _: bool, _: RetryOutcome) {}
    #[inline(always)]
    pub(crate) fn retry_retried(_: &'static str) {}
    #[inline(always)]
    pub(crate) fn timeout_call(_: &'static str) {}
    #[inline(always)]
    pub(crate) fn timed_out(_: &'static str) {}
}

#[cfg(feature = "metrics")]
macro_rules! opaque_debug {
    ($($type:ty),*) => {$(
        impl std::fmt::Debug for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($type), " { .. }"))
            }
        }
    )*};
}
#[cfg(feature = "metrics")]
opaque_debug!(
    enabled::BreakerMetrics,
    enabled::BulkheadMetrics,
    enabled::SiteHandle
);

#[cfg(not(feature = "metrics"))]
pub(crate) use disabled::*;
#[cfg(feature = "metrics")]
pub(crate) use enabled::*;
