//! The retry budget per request (contract of issue 14: lock-free, at most 5 ns per call when not
//! exhausted), against same-process baselines: an empty call, one relaxed `fetch_add` (the floor
//! of any shared counter) and tower's `TpsBudget` (the same rule, with a mutex around its
//! window).
//!
//! Every variant is called through the same `&dyn Fn()`, the baseline's whole cost.
//! Variants are interleaved round by round on the on-CPU clock (`support/on_cpu_time.rs`); each
//! figure is the median over the rounds, the best round in brackets.
//!
//! Run: `cargo bench --bench budget`. Without `--bench` (`cargo test --benches`) each variant
//! runs a handful of calls and nothing is printed.

use std::hint::black_box;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use resilience::{RetryBudget, RetryBudgetConfig};
use tower::retry::budget::{Budget as _, TpsBudget};

#[path = "support/on_cpu_time.rs"]
mod on_cpu_time;

use on_cpu_time::OnCpuTime;

fn main() {
    let benchmarking = std::env::args().any(|argument| argument == "--bench");
    let (rounds, calls) = if benchmarking {
        (21, 2_000_000u64)
    } else {
        (1, 10)
    };
    let ours = RetryBudget::new("bench::budget", RetryBudgetConfig::default()).unwrap();
    let plenty = RetryBudget::new(
        "bench::budget_plenty",
        RetryBudgetConfig {
            min_per_sec: u32::MAX,
            ..RetryBudgetConfig::default()
        },
    )
    .unwrap();
    let tower = TpsBudget::new(Duration::from_secs(10), 10, 0.2);
    let counter = AtomicI64::new(0);

    type Variant<'a> = (&'static str, Box<dyn Fn() + 'a>);
    let variants: Vec<Variant> = vec![
        (
            "empty call (baseline)",
            Box::new(|| {
                black_box(());
            }),
        ),
        (
            "AtomicI64::fetch_add, relaxed",
            Box::new(|| {
                black_box(&counter).fetch_add(1, Ordering::Relaxed);
            }),
        ),
        (
            "RetryBudget::deposit (per request)",
            Box::new(|| {
                black_box(&ours).deposit();
            }),
        ),
        (
            "tower TpsBudget::deposit",
            Box::new(|| {
                black_box(&tower).deposit();
            }),
        ),
        (
            "RetryBudget::withdraw + refund (a paid retry)",
            Box::new(|| {
                let budget = black_box(&plenty);
                if budget.withdraw() {
                    budget.refund();
                }
            }),
        ),
        (
            "tower TpsBudget::withdraw + deposit",
            Box::new(|| {
                let budget = black_box(&tower);
                if budget.withdraw() {
                    budget.deposit();
                }
            }),
        ),
    ];

    let mut figures = vec![Vec::new(); variants.len()];
    for _ in 0..rounds {
        for (index, (_, variant)) in variants.iter().enumerate() {
            let started = OnCpuTime::begin();
            for _ in 0..calls {
                variant();
            }
            let elapsed = OnCpuTime::finish(started);
            figures[index].push(elapsed.as_nanos() as f64 / calls as f64);
        }
    }
    if !benchmarking {
        return;
    }
    println!(
        "retry budget, ns per call ({}), {rounds} rounds of {calls} calls",
        OnCpuTime::name()
    );
    let baseline = median(&mut figures[0].clone());
    for ((name, _), figures) in variants.iter().zip(&mut figures) {
        let median = median(figures);
        let best = figures.iter().cloned().fold(f64::INFINITY, f64::min);
        println!(
            "{name:<48} {median:>7.2} ns  [{best:>6.2}]  (+{:.2} ns over the empty call)",
            median - baseline
        );
    }
}

fn median(figures: &mut [f64]) -> f64 {
    figures.sort_by(f64::total_cmp);
    figures[figures.len() / 2]
}
