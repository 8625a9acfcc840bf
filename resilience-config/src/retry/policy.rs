//! Retry as a pure decision: given how many retries were made, how long the call has taken and
//! whether the last failure may be retried, either give up or retry after a delay. The random
//! jitter is an input too (`unit` in [0, 1)), so the decision is a function.

use std::time::Duration;

use super::{Backoff, RetryConfig};

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Return the last error to the caller.
    GiveUp,
    /// Sleep this long, then run attempt `retries_done + 2`.
    RetryAfter(Duration),
}

impl RetryConfig {
    /// The nominal delay before retry `n` (1-based), before jitter and cap. Saturates at
    /// `Duration::MAX` (base·2^(n−1) for n = 1000 is no overflow, only a very long delay).
    pub fn nominal_delay(&self, n: u32) -> Duration {
        match self.backoff {
            Backoff::Fixed => self.base_delay,
            Backoff::Linear => self.base_delay.saturating_mul(n),
            Backoff::Exponential => times_power_of_two(self.base_delay, n.saturating_sub(1)),
        }
    }

    /// The delay before retry `n`: min(nominal, `max_delay`) × (1 − j + 2j·unit), capped at
    /// `max_delay`. Jitter applies to the capped delay, so once the backoff has reached
    /// `max_delay` the retries still spread out below it instead of all firing at the cap.
    ///
    /// Never panics: a product past `Duration::MAX` is `max_delay`, and a `unit` outside
    /// [0, 1] (NaN included) is taken as the nearest end (NaN as 0.5, no jitter).
    pub fn delay(&self, n: u32, unit: f64) -> Duration {
        let nominal = self.nominal_delay(n).min(self.max_delay);
        let unit = if unit.is_nan() {
            0.5
        } else {
            unit.clamp(0.0, 1.0)
        };
        let factor = 1.0 - self.jitter_factor + 2.0 * self.jitter_factor * unit;
        if factor == 1.0 {
            return nominal;
        }
        // `Duration::mul_f64` panics on overflow (`Duration::MAX` × 1.5); this saturates.
        Duration::try_from_secs_f64(nominal.as_secs_f64() * factor)
            .map_or(self.max_delay, |delay| delay.min(self.max_delay))
    }

    /// The decision after a failed attempt.
    ///
    /// `retries_done` retries have already run; `elapsed` is the time since the first attempt
    /// started. With `max_duration`, a retry that could only start at or after it is not made:
    /// the caller gets the last error at once instead of after a pointless sleep.
    pub fn decide(
        &self,
        retries_done: u32,
        elapsed: Duration,
        retryable: bool,
        unit: f64,
    ) -> RetryDecision {
        if !retryable || retries_done >= self.max_retries {
            return RetryDecision::GiveUp;
        }
        let delay = self.delay(retries_done + 1, unit);
        match self.max_duration {
            Some(max) if elapsed.saturating_add(delay) >= max => RetryDecision::GiveUp,
            _ => RetryDecision::RetryAfter(delay),
        }
    }
}

/// `duration` × 2^`exponent`, saturating at `Duration::MAX`.
fn times_power_of_two(duration: Duration, exponent: u32) -> Duration {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return Duration::ZERO;
    }
    if exponent >= nanos.leading_zeros() {
        return Duration::MAX;
    }
    let nanos = nanos << exponent;
    match u64::try_from(nanos / 1_000_000_000) {
        Ok(secs) => Duration::new(secs, (nanos % 1_000_000_000) as u32),
        Err(_) => Duration::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(backoff: Backoff) -> RetryConfig {
        RetryConfig {
            backoff,
            jitter_factor: 0.0,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..RetryConfig::DEFAULT
        }
    }

    #[test]
    fn exponential_doubles_from_base_and_caps_at_max_delay() {
        let c = config(Backoff::Exponential);
        let delays: Vec<_> = (1..=5).map(|n| c.delay(n, 0.5).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000]);
    }

    #[test]
    fn linear_grows_by_base() {
        let c = config(Backoff::Linear);
        let delays: Vec<_> = (1..=3).map(|n| c.delay(n, 0.5).as_millis()).collect();
        assert_eq!(delays, [100, 200, 300]);
    }

    #[test]
    fn fixed_stays_at_base() {
        let c = config(Backoff::Fixed);
        assert_eq!(c.delay(7, 0.5), Duration::from_millis(100));
    }

    #[test]
    fn jitter_stays_within_factor_and_under_max_delay() {
        let c = RetryConfig {
            jitter_factor: 0.5,
            ..config(Backoff::Fixed)
        };
        assert_eq!(c.delay(1, 0.0), Duration::from_millis(50));
        assert_eq!(c.delay(1, 1.0), Duration::from_millis(150));
        let capped = RetryConfig {
            jitter_factor: 1.0,
            max_delay: Duration::from_millis(120),
            ..config(Backoff::Fixed)
        };
        assert_eq!(capped.delay(1, 1.0), Duration::from_millis(120));
    }

    #[test]
    fn times_power_of_two_is_exact_then_saturates() {
        let second = Duration::from_secs(1);
        assert_eq!(times_power_of_two(second, 0), second);
        assert_eq!(times_power_of_two(second, 10), Duration::from_secs(1024));
        assert_eq!(
            times_power_of_two(Duration::from_nanos(3), 40),
            Duration::from_nanos(3 << 40)
        );
        assert_eq!(times_power_of_two(second, 64), Duration::MAX);
        assert_eq!(times_power_of_two(second, u32::MAX), Duration::MAX);
        assert_eq!(times_power_of_two(Duration::MAX, 1), Duration::MAX);
        assert_eq!(times_power_of_two(Duration::ZERO, u32::MAX), Duration::ZERO);
    }

    #[test]
    fn delays_at_duration_max_saturate_instead_of_panicking() {
        for backoff in [Backoff::Exponential, Backoff::Linear, Backoff::Fixed] {
            let c = RetryConfig {
                base_delay: Duration::MAX,
                max_delay: Duration::MAX,
                jitter_factor: 1.0,
                backoff,
                ..RetryConfig::DEFAULT
            };
            for unit in [0.0, 0.5, 1.0, f64::NAN] {
                for n in [1, 2, 1000, u32::MAX] {
                    assert!(c.delay(n, unit) <= Duration::MAX);
                }
            }
            assert_eq!(c.delay(1, 1.0), Duration::MAX);
            assert_eq!(c.delay(1, 0.0), Duration::ZERO);
        }
    }

    #[test]
    fn huge_attempt_numbers_saturate_instead_of_overflowing() {
        let c = config(Backoff::Exponential);
        assert_eq!(c.delay(1000, 0.5), Duration::from_secs(1));
    }

    #[test]
    fn gives_up_when_retries_run_out_or_error_not_retryable() {
        let c = config(Backoff::Fixed);
        assert_eq!(
            c.decide(3, Duration::ZERO, true, 0.5),
            RetryDecision::GiveUp
        );
        assert_eq!(
            c.decide(0, Duration::ZERO, false, 0.5),
            RetryDecision::GiveUp
        );
        assert_eq!(
            c.decide(2, Duration::ZERO, true, 0.5),
            RetryDecision::RetryAfter(Duration::from_millis(100))
        );
    }

    #[test]
    fn no_attempt_starts_at_or_after_max_duration() {
        let c = RetryConfig {
            max_duration: Some(Duration::from_millis(350)),
            ..config(Backoff::Fixed)
        };
        assert!(matches!(
            c.decide(0, Duration::from_millis(249), true, 0.5),
            RetryDecision::RetryAfter(_)
        ));
        assert_eq!(
            c.decide(0, Duration::from_millis(250), true, 0.5),
            RetryDecision::GiveUp
        );
    }
}
