//! Retry budget: the anti-retry-storm rule of Finagle and Linkerd. Retries may add at most
//! `retry_percent` to the request rate, plus `min_per_sec` retries per second, over a sliding
//! window of `ttl` (defaults: 20 %, 10 per second, 10 s) — tower's `TpsBudget` semantics.
//!
//! Every request [`deposit`](RetryBudget::deposit)s `retry_percent` of a retry; every retry
//! [`withdraw`](RetryBudget::withdraw)s one whole retry, and is not made when the balance over
//! the window (plus the `min_per_sec × ttl` reserve) cannot pay for it. A deposit is one relaxed
//! `fetch_add` (the clock is read on one deposit in 64 and on each withdrawal), so a budget costs
//! the happy path almost nothing; nothing takes a lock.
//!
//! A budget is a named, shared policy (one per upstream service): [`RetryBudget::named`] returns
//! the process-wide budget of a name, created on first use. This module must not know about
//! [`RetryConfig`](crate::RetryConfig): a budget caps the retries of every call that shares it,
//! whatever each call's own retry configuration.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::ConfigError;
// `std`'s atomics, not loom's: the budget is not (yet) in the loom suites.
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Configuration of a [`RetryBudget`] (tower's `TpsBudget::new(ttl, min_per_sec, retry_percent)`).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryBudgetConfig {
    /// How long a deposit counts. Default 10 s; in 1 s ..= 60 s.
    pub ttl: Duration,
    /// Retries per second allowed whatever the request rate (a reserve of `min_per_sec × ttl`
    /// retries per window). Default 10.
    pub min_per_sec: u32,
    /// Retries allowed per request, as a fraction: 0.2 lets retries add 20 % to the requests.
    /// Default 0.2; in 0 ..= 1000.
    pub retry_percent: f64,
}

impl RetryBudgetConfig {
    /// The Finagle and Linkerd defaults: 10 s, 10 retries per second, 20 %.
    pub const DEFAULT: RetryBudgetConfig = RetryBudgetConfig {
        ttl: Duration::from_secs(10),
        min_per_sec: 10,
        retry_percent: 0.2,
    };

    /// Checks every value against its range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&self.ttl) {
            return Err(ConfigError::new(
                POLICY,
                "ttl",
                "must be in 1s ..= 60s".to_owned(),
            ));
        }
        if !(0.0..=1000.0).contains(&self.retry_percent) {
            return Err(ConfigError::new(
                POLICY,
                "retry_percent",
                "must be in 0 ..= 1000".to_owned(),
            ));
        }
        Ok(())
    }
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

const POLICY: &str = "retry_budget";

/// The window is this many slots of `ttl / SLOTS`: the current one (`RetryBudget::current`)
/// and `SLOTS - 1` closed ones. A deposit expires between `ttl - ttl / SLOTS` and `ttl` after
/// it was made.
const SLOTS: usize = 10;

/// One retry, in the budget's fixed-point unit: a deposit of 20 % is 200.
const UNIT: i64 = 1000;

/// The clock is read on about one deposit in this many (a power of two).
const CLOCK_EVERY: i64 = 64;

/// A retry budget (see the [module](self)). Share it through an `Arc`; every method takes
/// `&self` and is lock-free.
#[derive(Debug)]
pub struct RetryBudget {
    name: String,
    config: RetryBudgetConfig,
    /// What a request adds, and a retry costs, in [`UNIT`]s.
    deposit: i64,
    withdrawal: i64,
    /// Always there: `min_per_sec × ttl` retries.
    reserve: i64,
    /// A deposit that moves the balance across a multiple of `1 << clock_shift` reads the clock:
    /// one in about [`CLOCK_EVERY`].
    clock_shift: u32,
    origin: Instant,
    slot_length: Duration,
    /// The slot `current` counts for (slots since `origin`).
    epoch: AtomicU64,
    /// The balance of the current slot.
    current: AtomicI64,
    /// The balance of each closed slot of the window, at `epoch % SLOTS`.
    closed: [AtomicI64; SLOTS],
}

impl RetryBudget {
    /// A budget of its own (not registered); fails when `config` is out of range.
    pub fn new(name: impl Into<String>, config: RetryBudgetConfig) -> Result<Self, ConfigError> {
        let name = name.into();
        crate::registry::validate_name(POLICY, &name)?;
        config.validate()?;
        let deposit = (config.retry_percent * UNIT as f64).round() as i64;
        let reserve = i64::from(config.min_per_sec)
            .saturating_mul(config.ttl.as_secs() as i64)
            .saturating_mul(UNIT);
        let clock_shift = (deposit.max(1) * CLOCK_EVERY).ilog2();
        Ok(RetryBudget {
            name,
            clock_shift,
            deposit,
            withdrawal: UNIT,
            reserve,
            origin: Instant::now(),
            slot_length: config.ttl / SLOTS as u32,
            epoch: AtomicU64::new(0),
            current: AtomicI64::new(0),
            closed: std::array::from_fn(|_| AtomicI64::new(0)),
            config,
        })
    }

    /// The process-wide budget named `name`, created with `config` on first use. A name already
    /// registered with another configuration keeps the first and logs a warning (the registry's
    /// rule, contract §4).
    pub fn named(name: &str, config: &RetryBudgetConfig) -> Result<Arc<RetryBudget>, ConfigError> {
        static BUDGETS: OnceLock<RwLock<BTreeMap<String, Arc<RetryBudget>>>> = OnceLock::new();
        let budgets = BUDGETS.get_or_init(Default::default);
        let existing = budgets
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(name)
            .cloned();
        let budget = match existing {
            Some(budget) => budget,
            None => {
                let created = RetryBudget::new(name, config.clone())?;
                budgets
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .entry(name.to_owned())
                    .or_insert_with(|| Arc::new(created))
                    .clone()
            }
        };
        if budget.config != *config {
            tracing::warn!(
                target: "resilience",
                policy = POLICY,
                name,
                kept = ?budget.config,
                ignored = ?config,
                "a policy name was reused with another configuration; keeping the first"
            );
        }
        Ok(budget)
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configuration it was created with.
    pub fn config(&self) -> &RetryBudgetConfig {
        &self.config
    }

    /// Records a request (call it once per request, not per attempt).
    #[inline]
    pub fn deposit(&self) {
        let before = self.current.fetch_add(self.deposit, Ordering::Relaxed);
        // The balance grows by `deposit` per call, so about one call in `CLOCK_EVERY` crosses a
        // multiple of `1 << clock_shift` and rotates the window. Deposits made while nobody
        // reads the clock count for the slot the window was last in, which only makes them
        // expire sooner.
        if (before >> self.clock_shift) != ((before + self.deposit) >> self.clock_shift) {
            self.rotate();
        }
    }

    /// Takes one retry from the budget: `true` if the retry may be made, `false` (and nothing
    /// taken) if the budget is exhausted.
    #[inline]
    pub fn withdraw(&self) -> bool {
        self.rotate();
        let others: i64 = self
            .closed
            .iter()
            .map(|slot| slot.load(Ordering::Relaxed))
            .sum::<i64>()
            + self.reserve;
        self.current
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |current| {
                (current + others >= self.withdrawal).then_some(current - self.withdrawal)
            })
            .is_ok()
    }

    /// Gives back a retry [`withdraw`](Self::withdraw)n for a retry that was then not made.
    #[inline]
    pub fn refund(&self) {
        self.current.fetch_add(self.withdrawal, Ordering::Relaxed);
    }

    /// The retries the budget would allow now (the balance over the window and the reserve,
    /// in whole retries).
    pub fn available(&self) -> u64 {
        self.rotate();
        let balance = self.current.load(Ordering::Relaxed)
            + self
                .closed
                .iter()
                .map(|slot| slot.load(Ordering::Relaxed))
                .sum::<i64>()
            + self.reserve;
        (balance.max(0) / self.withdrawal) as u64
    }

    /// Moves the window to the current slot if the clock has left the one it is in. One caller
    /// wins the move (a compare-and-swap of the epoch); the others go on with the old window.
    fn rotate(&self) {
        let slot = self.slot_length.as_nanos().max(1);
        let now = (self.origin.elapsed().as_nanos() / slot) as u64;
        let seen = self.epoch.load(Ordering::Acquire);
        if now <= seen
            || self
                .epoch
                .compare_exchange(seen, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let moved = self.current.swap(0, Ordering::AcqRel);
        let gap = now - seen;
        if gap >= SLOTS as u64 {
            // The whole window has passed, `seen`'s slot with it.
            for closed in &self.closed {
                closed.store(0, Ordering::Relaxed);
            }
            return;
        }
        // The slots between, and the one `now` will close into, held slots now expired.
        for epoch in seen + 1..=now {
            self.closed[epoch as usize % SLOTS].store(0, Ordering::Relaxed);
        }
        self.closed[seen as usize % SLOTS].store(moved, Ordering::Relaxed);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn budget(min_per_sec: u32, retry_percent: f64) -> RetryBudget {
        RetryBudget::new(
            "test",
            RetryBudgetConfig {
                min_per_sec,
                retry_percent,
                ..RetryBudgetConfig::DEFAULT
            },
        )
        .unwrap()
    }

    fn drain(budget: &RetryBudget) -> u64 {
        let mut taken = 0;
        while budget.withdraw() {
            taken += 1;
        }
        taken
    }

    #[tokio::test(start_paused = true)]
    async fn allows_the_reserve_without_requests() {
        assert_eq!(drain(&budget(10, 0.2)), 100);
        assert_eq!(drain(&budget(0, 0.2)), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn allows_a_fifth_of_the_requests_plus_the_reserve() {
        let budget = budget(10, 0.2);
        for _ in 0..1000 {
            budget.deposit();
        }
        assert_eq!(budget.available(), 300);
        assert_eq!(drain(&budget), 300);
        assert_eq!(budget.available(), 0);
        // Five more requests pay for one more retry.
        for _ in 0..5 {
            budget.deposit();
        }
        assert_eq!(drain(&budget), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refund_gives_the_retry_back() {
        let budget = budget(0, 1.0);
        budget.deposit();
        assert!(budget.withdraw());
        assert!(!budget.withdraw());
        budget.refund();
        assert!(budget.withdraw());
    }

    #[tokio::test(start_paused = true)]
    async fn deposits_expire_after_the_ttl() {
        let budget = budget(0, 1.0);
        for _ in 0..50 {
            budget.deposit();
        }
        tokio::time::advance(Duration::from_secs(5)).await;
        // A withdrawal (or `available`) moves the window at once; deposits only now and then.
        assert_eq!(budget.available(), 50);
        for _ in 0..30 {
            budget.deposit();
        }
        assert_eq!(budget.available(), 80);
        // The first 50 leave the window after 10 s, the other 30 after 15 s.
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(budget.available(), 30);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(budget.available(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn withdrawals_expire_too() {
        let budget = budget(1, 0.0);
        assert_eq!(drain(&budget), 10);
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(drain(&budget), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_quiet_time_clears_the_window() {
        let budget = budget(0, 1.0);
        for _ in 0..10 {
            budget.deposit();
        }
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(budget.available(), 0);
    }

    /// Withdrawals racing on two threads take exactly what the budget holds: the check and the
    /// subtraction are one compare-and-swap.
    #[test]
    fn concurrent_withdrawals_never_overdraw() {
        let budget = budget(10, 0.2);
        for _ in 0..1000 {
            budget.deposit();
        }
        let barrier = std::sync::Barrier::new(2);
        let taken: u64 = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        drain(&budget)
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|thread| thread.join().unwrap())
                .sum()
        });
        assert_eq!(taken, 300);
    }

    #[test]
    fn refuses_out_of_range_values() {
        for (config, key) in [
            (
                RetryBudgetConfig {
                    ttl: Duration::from_millis(999),
                    ..RetryBudgetConfig::DEFAULT
                },
                "ttl",
            ),
            (
                RetryBudgetConfig {
                    retry_percent: f64::NAN,
                    ..RetryBudgetConfig::DEFAULT
                },
                "retry_percent",
            ),
            (
                RetryBudgetConfig {
                    retry_percent: -0.1,
                    ..RetryBudgetConfig::DEFAULT
                },
                "retry_percent",
            ),
        ] {
            assert_eq!(RetryBudget::new("b", config).unwrap_err().key, key);
        }
        assert_eq!(
            RetryBudget::new(" ", RetryBudgetConfig::DEFAULT)
                .unwrap_err()
                .key,
            "name"
        );
    }

    #[tokio::test]
    async fn a_name_is_one_budget() {
        let first = RetryBudget::named("budget::shared", &RetryBudgetConfig::DEFAULT).unwrap();
        let second = RetryBudget::named(
            "budget::shared",
            &RetryBudgetConfig {
                min_per_sec: 1,
                ..RetryBudgetConfig::DEFAULT
            },
        )
        .unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(second.config(), &RetryBudgetConfig::DEFAULT);
    }
}
