//! Cost of one random draw, as discovery and the retry loop draw them: `fastrand` against
//! `rand` 0.9 in the same process (criterion, then a summary table).
//!
//! The draws measured are the ones the code makes: an `f64` in [0, 1) (retry jitter, ejection
//! jitter, health-check jitter) and an index in `0..n` plus a `u32` (one weighted draw from the
//! alias table; a P2C pick makes two). Each generator is used the way a call site would use it
//! with nothing to carry between calls:
//! - `fastrand`: its thread-local wyrand (`fastrand::f64()`, `fastrand::usize(..n)`);
//! - `rand_thread_rng`: `rand::rng()` (the thread-local ChaCha12 `ThreadRng`, reseeded from the
//!   OS), fetched once per draw as `rand::random` does;
//! - `rand_thread_rng_held`: one `rand::rng()` handle for a whole pick's draws (for the single
//!   draws, one handle for the whole loop: `ThreadRng`'s best case, the thread-local access and
//!   `Rc` count paid once);
//! - `rand_small_rng`: `rand::rngs::SmallRng` (xoshiro256++) in a `thread_local!`, the nearest
//!   `rand` has to fastrand's design.
//!
//! # How it measures
//!
//! Single thread. Each sample is a loop of draws, each passed through `black_box`, so the loop
//! is in every figure alike. The clock is on-CPU time (`benches/support/on_cpu_time.rs`).
//! The summary is measured again after the criterion groups: every variant runs round by round,
//! interleaved, and each figure is the median over the rounds.
//!
//! # What it found
//!
//! ns per draw (and against fastrand), two runs on the 2-core VM agreeing within 0.1 ns:
//!
//! | draw | fastrand | `rand::rng()` per draw | `rand::rng()` held | `SmallRng` thread-local |
//! | --- | --- | --- | --- | --- |
//! | `f64` | 2.2 | 6.1 (2.7x) | 3.6 (1.6x) | 1.6 (0.7x) |
//! | weighted index | 4.1 | 7.7 (1.9x) | 6.1 (1.5x) | 6.0 (1.5x) |
//! | P2C pick (two indices) | 8.5 | 15.7 (1.8x) | 13.7 (1.6x) | 13.5 (1.6x) |
//!
//! So the crates keep fastrand: `rand`'s thread-local generator is slower for every draw, and
//! only a hand-kept `SmallRng` wins, on the `f64` alone (the jitter, drawn once per retry or
//! ejection, next to a sleep of milliseconds).
//!
//! Run: `cargo bench -p resilience-discovery --bench random` (about half a minute).
//! `cargo test --benches` runs each benchmark once and prints no figures.

use std::cell::RefCell;
use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

#[path = "../../benches/support/on_cpu_time.rs"]
mod on_cpu_time;

use on_cpu_time::OnCpuTime;

/// Instances in the index draws (any n not a power of two: a range draw then does its work).
const N: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Generator {
    Fastrand,
    RandThreadRng,
    RandThreadRngHeld,
    RandSmallRng,
}

impl Generator {
    const ALL: [Generator; 4] = [
        Generator::Fastrand,
        Generator::RandThreadRng,
        Generator::RandThreadRngHeld,
        Generator::RandSmallRng,
    ];

    fn name(self) -> &'static str {
        match self {
            Generator::Fastrand => "fastrand",
            Generator::RandThreadRng => "rand_thread_rng",
            Generator::RandThreadRngHeld => "rand_thread_rng_held",
            Generator::RandSmallRng => "rand_small_rng",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Draw {
    /// One `f64` in [0, 1).
    F64,
    /// One weighted index: `0..n` then a `u32` (`Table::weighted_index`).
    WeightedIndex,
    /// A P2C pick's draws: two weighted indices.
    P2cPick,
}

impl Draw {
    const ALL: [Draw; 3] = [Draw::F64, Draw::WeightedIndex, Draw::P2cPick];

    fn name(self) -> &'static str {
        match self {
            Draw::F64 => "f64",
            Draw::WeightedIndex => "weighted_index",
            Draw::P2cPick => "p2c_pick",
        }
    }
}

thread_local! {
    static SMALL_RNG: RefCell<SmallRng> = RefCell::new(SmallRng::from_rng(&mut rand::rng()));
}

/// A weighted index's two draws with a `rand` generator: `0..n`, then a `u32`.
#[inline(always)]
fn weighted_with(rng: &mut impl Rng, n: usize) -> (usize, u32) {
    (rng.random_range(..n), rng.random::<u32>())
}

/// `draws` draws, each passed through `black_box` (no sum: a chain of additions would put its
/// latency into every figure).
#[inline(always)]
fn repeat<T>(draws: u64, mut draw: impl FnMut() -> T) {
    for _ in 0..draws {
        black_box(draw());
    }
}

/// `draws` draws of one kind with one generator: one loop per pair, chosen before it starts.
#[inline(never)]
fn run(generator: Generator, draw: Draw, draws: u64) {
    let n = black_box(N);
    match (generator, draw) {
        (Generator::Fastrand, Draw::F64) => repeat(draws, fastrand::f64),
        (Generator::Fastrand, Draw::WeightedIndex) => {
            repeat(draws, || (fastrand::usize(..n), fastrand::u32(..)))
        }
        (Generator::Fastrand, Draw::P2cPick) => repeat(draws, || {
            (
                (fastrand::usize(..n), fastrand::u32(..)),
                (fastrand::usize(..n), fastrand::u32(..)),
            )
        }),
        (Generator::RandThreadRng, Draw::F64) => repeat(draws, rand::random::<f64>),
        (Generator::RandThreadRng, Draw::WeightedIndex) => {
            repeat(draws, || weighted_with(&mut rand::rng(), n))
        }
        (Generator::RandThreadRng, Draw::P2cPick) => repeat(draws, || {
            (
                weighted_with(&mut rand::rng(), n),
                weighted_with(&mut rand::rng(), n),
            )
        }),
        (Generator::RandThreadRngHeld, Draw::F64) => {
            let mut rng = rand::rng();
            repeat(draws, || rng.random::<f64>())
        }
        (Generator::RandThreadRngHeld, Draw::WeightedIndex) => {
            let mut rng = rand::rng();
            repeat(draws, || weighted_with(&mut rng, n))
        }
        (Generator::RandThreadRngHeld, Draw::P2cPick) => repeat(draws, || {
            let mut rng = rand::rng();
            (weighted_with(&mut rng, n), weighted_with(&mut rng, n))
        }),
        (Generator::RandSmallRng, Draw::F64) => repeat(draws, || {
            SMALL_RNG.with_borrow_mut(|rng| rng.random::<f64>())
        }),
        (Generator::RandSmallRng, Draw::WeightedIndex) => repeat(draws, || {
            SMALL_RNG.with_borrow_mut(|rng| weighted_with(rng, n))
        }),
        (Generator::RandSmallRng, Draw::P2cPick) => repeat(draws, || {
            SMALL_RNG.with_borrow_mut(|rng| (weighted_with(rng, n), weighted_with(rng, n)))
        }),
    }
}

/// ns per draw of `draws` draws.
fn measure(generator: Generator, draw: Draw, draws: u64) -> f64 {
    let started = OnCpuTime::begin();
    run(generator, draw, draws);
    OnCpuTime::finish(started).as_secs_f64() * 1e9 / draws as f64
}

fn criterion_groups(criterion: &mut Criterion<OnCpuTime>) {
    for draw in Draw::ALL {
        let mut group = criterion.benchmark_group(format!("draw/{}", draw.name()));
        for generator in Generator::ALL {
            group.bench_function(generator.name(), |b| {
                b.iter_custom(|iters| {
                    let started = OnCpuTime::begin();
                    run(generator, draw, iters);
                    OnCpuTime::finish(started)
                })
            });
        }
        group.finish();
    }
}

/// Every (draw, generator) again, interleaved round by round; prints the medians.
fn summary(rounds: usize, draws: u64, print: bool) {
    let mut samples = vec![vec![Vec::with_capacity(rounds); Generator::ALL.len()]; Draw::ALL.len()];
    for _ in 0..rounds {
        for (d, &draw) in Draw::ALL.iter().enumerate() {
            for (g, &generator) in Generator::ALL.iter().enumerate() {
                samples[d][g].push(measure(generator, draw, draws));
            }
        }
    }
    if !print {
        return;
    }
    println!();
    println!(
        "Summary: ns per draw, one thread, median of {rounds} interleaved rounds of {draws} draws \
         (n = {N})."
    );
    println!("Clock: {}.", OnCpuTime::name());
    println!();
    print!("{:<16}", "draw");
    for generator in Generator::ALL {
        print!(" {:>22}", generator.name());
    }
    println!();
    for (d, draw) in Draw::ALL.iter().enumerate() {
        print!("{:<16}", draw.name());
        let medians: Vec<f64> = samples[d]
            .iter_mut()
            .map(|s| {
                s.sort_by(f64::total_cmp);
                s[s.len() / 2]
            })
            .collect();
        for median in &medians {
            print!(
                " {:>22}",
                format!("{median:.2} ({:.2}x)", median / medians[0])
            );
        }
        println!();
    }
}

fn main() {
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let mut criterion = Criterion::default()
        .with_measurement(OnCpuTime)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
        .configure_from_args();
    criterion_groups(&mut criterion);
    criterion.final_summary();
    if benchmarking {
        summary(31, 1_000_000, true);
    } else {
        summary(1, 100, false);
    }
}
