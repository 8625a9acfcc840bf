//! The runtime monitor of the retry loop (debug builds only): every decision `Retries::after`
//! takes is checked against `specs/Retry.tla`, written here from the spec and not from
//! [`RetryConfig::decide`]. Release builds compile none of it.
//!
//! - `AttemptBound`: at most `max_retries + 1` attempts end in one call (one without a retry
//!   configuration), and each attempt after the first is a retry counted in `retries_done`, so
//!   no attempt follows a `GiveUp` or a success;
//! - `RetryAfter(d)`: only a retryable failure, only while retries remain, with `d` in the
//!   backoff's `DelayRange` (jitter included, at most `max_delay`), and with `max_duration` only
//!   when the next attempt starts before it (`NoAttemptAfterMaxDuration`);
//! - `GiveUp`: only for a failure that is not retryable, with no retry left, or with
//!   `max_duration` when some delay of the range would reach it.
//!
//! What `after` adds outside the spec (a request's deadline, the retry budget) only ends calls
//! earlier; those ends are not checked here.

use std::time::Duration;

use super::{RetryConfig, RetryDecision};

/// What the monitor keeps of one call: the attempts that ended so far.
#[derive(Debug, Default)]
pub(crate) struct RetryMonitor {
    attempts: u32,
}

impl RetryMonitor {
    /// An attempt ended and `after` is deciding on it, with `retries_done` retries made so far.
    #[track_caller]
    pub(crate) fn attempt_ended(&mut self, retries_done: u32, config: Option<&RetryConfig>) {
        assert_eq!(
            self.attempts,
            retries_done,
            "retry: attempt {} ended with {retries_done} retries counted (an attempt after the \
             call ended, or a retry not counted)",
            self.attempts + 1,
        );
        self.attempts += 1;
        let max_attempts = config.map_or(1, |config| config.max_retries.saturating_add(1));
        assert!(
            self.attempts <= max_attempts,
            "retry: attempt {} of at most {max_attempts} (AttemptBound)",
            self.attempts
        );
    }
}

/// `decide`'s answer after a failure, checked against the spec's `RetryAfter` and `GiveUp`.
#[track_caller]
pub(crate) fn decided(
    config: &RetryConfig,
    retries_done: u32,
    elapsed: Duration,
    retryable: bool,
    decision: RetryDecision,
) {
    let n = retries_done.saturating_add(1);
    let (lo, hi) = delay_range(config, n);
    match decision {
        RetryDecision::RetryAfter(delay) => {
            assert!(retryable, "retry: a failure that is not retryable retried");
            assert!(
                retries_done < config.max_retries,
                "retry: retry {n} of at most {}",
                config.max_retries
            );
            assert!(
                delay <= config.max_delay && within(delay, lo, hi),
                "retry: delay {delay:?} before retry {n} outside {lo:?} ..= {hi:?} \
                 (DelayWithinBounds)"
            );
            if let Some(max) = config.max_duration {
                assert!(
                    elapsed.saturating_add(delay) < max,
                    "retry: retry {n} would start at {:?}, max_duration {max:?} \
                     (NoAttemptAfterMaxDuration)",
                    elapsed.saturating_add(delay)
                );
            }
        }
        RetryDecision::GiveUp => {
            let reaches_max_duration = config
                .max_duration
                .is_some_and(|max| elapsed.saturating_add(hi) >= max);
            assert!(
                !retryable || retries_done >= config.max_retries || reaches_max_duration,
                "retry: gave up on a retryable failure after {retries_done} of {} retries, at \
                 {elapsed:?} of {:?}",
                config.max_retries,
                config.max_duration
            );
        }
    }
}

/// The spec's `DelayRange(backoff, n)` in seconds: the nominal delay capped at `max_delay`,
/// spread by the jitter, the top capped at `max_delay`.
fn delay_range(config: &RetryConfig, n: u32) -> (Duration, Duration) {
    let nominal = config.nominal_delay(n).min(config.max_delay).as_secs_f64();
    let jitter = config.jitter_factor;
    let lo = Duration::try_from_secs_f64(nominal * (1.0 - jitter)).unwrap_or(config.max_delay);
    let hi = Duration::try_from_secs_f64(nominal * (1.0 + jitter))
        .map_or(config.max_delay, |hi| hi.min(config.max_delay));
    (lo.min(config.max_delay), hi)
}

/// `delay` within `lo ..= hi`, up to the rounding of `f64` seconds (a nanosecond, or a part in
/// 2^40 of the delay).
fn within(delay: Duration, lo: Duration, hi: Duration) -> bool {
    let slack = |d: Duration| Duration::from_nanos(1).max(d / (1 << 20) / (1 << 20));
    delay.saturating_add(slack(delay)) >= lo && delay <= hi.saturating_add(slack(hi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::Backoff;

    fn config() -> RetryConfig {
        RetryConfig {
            max_retries: 3,
            backoff: Backoff::Exponential,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            jitter_factor: 0.5,
            max_duration: Some(Duration::from_secs(1)),
        }
    }

    /// Every decision `decide` takes on a grid is one the spec allows.
    #[test]
    fn the_spec_allows_every_decision_of_decide() {
        let config = config();
        let mut retried = 0;
        for retries_done in 0..=4 {
            for elapsed_ms in [0, 500, 800, 999, 1_000, 2_000] {
                let elapsed = Duration::from_millis(elapsed_ms);
                for retryable in [false, true] {
                    for unit in [0.0, 0.1, 0.5, 0.99, 1.0] {
                        let decision = config.decide(retries_done, elapsed, retryable, unit);
                        decided(&config, retries_done, elapsed, retryable, decision);
                        retried += usize::from(decision != RetryDecision::GiveUp);
                    }
                }
            }
        }
        assert!(retried > 20, "{retried}");
    }

    /// The monitor refuses what the spec does not allow.
    #[test]
    fn the_monitor_refuses_decisions_the_spec_does_not_allow() {
        let config = config();
        let refuses = |retries_done, elapsed_ms, retryable, decision| {
            std::panic::catch_unwind(|| {
                decided(
                    &config,
                    retries_done,
                    Duration::from_millis(elapsed_ms),
                    retryable,
                    decision,
                )
            })
            .is_err()
        };
        let after = |ms| RetryDecision::RetryAfter(Duration::from_millis(ms));
        assert!(refuses(0, 0, false, after(100)), "not retryable");
        assert!(refuses(3, 0, true, after(100)), "no retry left");
        assert!(refuses(0, 0, true, after(40)), "below the jitter");
        assert!(refuses(2, 0, true, after(301)), "past max_delay");
        assert!(refuses(0, 950, true, after(60)), "past max_duration");
        assert!(refuses(0, 0, true, RetryDecision::GiveUp), "gave up early");
        assert!(!refuses(0, 0, true, after(100)));
        assert!(!refuses(0, 950, true, RetryDecision::GiveUp));

        let mut monitor = RetryMonitor::default();
        monitor.attempt_ended(0, Some(&config));
        monitor.attempt_ended(1, Some(&config));
        let uncounted = std::panic::catch_unwind(move || monitor.attempt_ended(1, Some(&config)));
        assert!(uncounted.is_err(), "an attempt after a GiveUp");
        let mut monitor = RetryMonitor::default();
        monitor.attempt_ended(0, None);
        let second = std::panic::catch_unwind(move || monitor.attempt_ended(1, None));
        assert!(
            second.is_err(),
            "a second attempt without a retry configuration"
        );
    }
}
