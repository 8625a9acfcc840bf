//! Pick cost of each balancer at 10, 100, 1,000 and 10,000 instances (criterion), against the
//! naive design in the same run, then a summary table.
//!
//! Each pick goes through the public path a call takes: `ServiceDiscovery::pick(&route, |_| false)`
//! (a lock-free load of the catalog, the route's table cached for that revision, the balancer's
//! draw, the in-flight guard), and the guard is dropped at once, so a pick's cost includes
//! beginning and ending the call. The instances have weights 1, 2, 3, 4, 1, 2, … so the weighted
//! balancers draw from non-trivial tables; no latency is reported, so P2C peak-EWMA compares the
//! seed estimate divided by weight.
//!
//! Compared in the same run, over the same instances:
//! - the naive design the balancers replace: a least-connections **scan** over a
//!   `std::sync::Mutex<Vec<_>>` (lock, find the fewest in flight per weight, count the call; lock
//!   again to end it). It is O(n) per pick and serialises every caller;
//! - `tower::balance::p2c::Balance` over a `ServiceList` of one always-ready service per instance
//!   (answering with the instance), with tower's `PeakEwma` load (30 ms seed RTT, 10 s decay, as
//!   ours) and with its `PendingRequests` load (least connections). A pick is `poll_ready` plus
//!   `call` plus polling the answer once, which is when tower's load handle is released. Tower's
//!   p2c has no weights.
//!
//! # How it measures
//!
//! Single thread, uncontended. The clock is on-CPU time: wall time minus the time the thread
//! waited in the run queue, from `/proc/thread-self/schedstat` (Linux; elsewhere wall time), as in
//! the workspace's `overhead` bench: on a machine shared with compilers it keeps the figures from
//! being inflated by other processes. The summary after the criterion groups is measured again in
//! the same process: every (variant, n) is run round by round, interleaved, and each figure is the
//! median over the rounds.
//!
//! Run: `cargo bench -p resilience-discovery --bench balancers` (about a minute).
//! `cargo test --benches` runs each benchmark once at 10 and 100 instances and prints no figures.

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use resilience_discovery::{Balancer, DiscoveryConfig, Instance, Route, ServiceDiscovery};
use tower::balance::p2c::Balance;
use tower::discover::ServiceList;
use tower::load::{CompleteOnResponse, Load, PeakEwma, PendingRequests};
use tower::{BoxError, Service};

const SERVICE: &str = "bench";
const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];
/// The flatness target: a pick at 10,000 instances costs at most this many times one at 10.
const FLAT_TARGET: f64 = 1.5;

/// One thing that picks an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// `ServiceDiscovery::pick` on a route with this balancer.
    Route(Balancer),
    /// The naive least-connections scan over a `Mutex<Vec<_>>`.
    NaiveScan,
    /// `tower::balance::p2c` with `PeakEwma` load.
    TowerPeakEwma,
    /// `tower::balance::p2c` with `PendingRequests` load.
    TowerPendingRequests,
}

impl Variant {
    fn all() -> Vec<Variant> {
        Balancer::NAMES
            .iter()
            .filter_map(|name| Balancer::from_name(name))
            .map(Variant::Route)
            .chain([
                Variant::NaiveScan,
                Variant::TowerPeakEwma,
                Variant::TowerPendingRequests,
            ])
            .collect()
    }

    fn name(self) -> &'static str {
        match self {
            Variant::Route(balancer) => Balancer::NAMES
                .iter()
                .copied()
                .find(|name| Balancer::from_name(name) == Some(balancer))
                .unwrap_or("unnamed balancer"),
            Variant::NaiveScan => "naive_scan_mutex_vec",
            Variant::TowerPeakEwma => "tower_p2c_peak_ewma",
            Variant::TowerPendingRequests => "tower_p2c_pending_reqs",
        }
    }
}

/// The naive design: every pick locks the list and scans it for the least loaded instance.
struct NaiveLeastConnections {
    slots: Mutex<Vec<Slot>>,
}

struct Slot {
    instance: Instance,
    weight: u32,
    in_flight: u32,
}

/// A call in flight on the naive balancer; dropping it ends the call (under the lock again).
struct NaiveCall<'a> {
    balancer: &'a NaiveLeastConnections,
    index: usize,
}

impl NaiveLeastConnections {
    fn new(instances: Vec<Instance>) -> Self {
        let slots = instances
            .into_iter()
            .map(|instance| Slot {
                weight: instance
                    .metadata
                    .get("weight")
                    .and_then(|weight| weight.parse().ok())
                    .unwrap_or(1),
                instance,
                in_flight: 0,
            })
            .collect();
        NaiveLeastConnections {
            slots: Mutex::new(slots),
        }
    }

    fn pick(&self) -> NaiveCall<'_> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        // Fewest in flight per unit of weight, compared without division.
        let index = (0..slots.len())
            .min_by(|&a, &b| {
                let (a, b) = (&slots[a], &slots[b]);
                (u64::from(a.in_flight) * u64::from(b.weight))
                    .cmp(&(u64::from(b.in_flight) * u64::from(a.weight)))
            })
            .expect("at least one instance");
        slots[index].in_flight += 1;
        black_box(&slots[index].instance);
        NaiveCall {
            balancer: self,
            index,
        }
    }
}

impl Drop for NaiveCall<'_> {
    fn drop(&mut self) {
        let mut slots = self
            .balancer
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        slots[self.index].in_flight -= 1;
    }
}

/// One instance as a tower service: always ready, answers with the instance.
#[derive(Debug, Clone)]
struct InstanceService(Arc<Instance>);

impl Service<()> for InstanceService {
    type Response = Arc<Instance>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Arc<Instance>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, (): ()) -> Self::Future {
        std::future::ready(Ok(Arc::clone(&self.0)))
    }
}

type TowerP2c<S> = RefCell<Balance<ServiceList<Vec<S>>, ()>>;

fn tower_p2c<S>(instances: &[Instance], wrap: impl Fn(InstanceService) -> S) -> TowerP2c<S>
where
    S: Service<()>,
    S::Error: Into<BoxError>,
{
    let services: Vec<S> = instances
        .iter()
        .map(|instance| wrap(InstanceService(Arc::new(instance.clone()))))
        .collect();
    RefCell::new(Balance::new(ServiceList::new(services)))
}

/// One pick on tower's balancer: ready, call, and the answer polled (which releases the load
/// handle, as dropping our guard does). Everything is ready, so a no-op waker does.
#[inline]
fn tower_pick<S>(balance: &mut Balance<ServiceList<Vec<S>>, ()>)
where
    S: Service<()> + Load,
    S::Error: Into<BoxError>,
    S::Metric: std::fmt::Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    match balance.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        _ => panic!("tower's balancer has ready instances"),
    }
    match pin!(balance.call(())).poll(&mut cx) {
        Poll::Ready(Ok(instance)) => drop(black_box(instance)),
        _ => panic!("the instance answers at once"),
    }
}

/// `n` instances registered in one discovery, a warmed-up route per balancer, and the naive and
/// tower balancers over the same instances.
struct Fixture {
    n: usize,
    discovery: ServiceDiscovery,
    routes: Vec<Route>,
    naive: NaiveLeastConnections,
    tower_peak_ewma: TowerP2c<PeakEwma<InstanceService>>,
    tower_pending: TowerP2c<PendingRequests<InstanceService>>,
}

impl Fixture {
    fn new(n: usize) -> Fixture {
        let discovery = ServiceDiscovery::with_config(DiscoveryConfig {
            max_instances: n,
            ..Default::default()
        });
        for index in 0..n {
            let instance = Instance::new(SERVICE, format!("i{index:05}"), "10.0.0.1", 8080)
                .with_metadata("weight", (index % 4 + 1).to_string());
            discovery
                .register(instance)
                .expect("a well-formed instance within max_instances");
        }
        let routes: Vec<Route> = Variant::all()
            .into_iter()
            .filter_map(|variant| match variant {
                Variant::Route(balancer) => Some(Route::new(SERVICE).balancer(balancer)),
                _ => None,
            })
            .collect();
        let instances = discovery.discover(SERVICE).expect("instances");
        let fixture = Fixture {
            n,
            tower_peak_ewma: tower_p2c(&instances, |service| {
                PeakEwma::new(
                    service,
                    Duration::from_millis(30),
                    Duration::from_secs(10).as_nanos() as f64,
                    CompleteOnResponse::default(),
                )
            }),
            tower_pending: tower_p2c(&instances, |service| {
                PendingRequests::new(service, CompleteOnResponse::default())
            }),
            naive: NaiveLeastConnections::new(instances),
            discovery,
            routes,
        };
        // The first pick on a route builds its table for this revision, and tower's first
        // `poll_ready` takes in its service list; not measured.
        for variant in Variant::all() {
            fixture.run(variant, 1);
        }
        fixture
    }

    /// `calls` picks with `variant`, each call ended at once.
    #[inline(never)]
    fn run(&self, variant: Variant, calls: u64) {
        match variant {
            Variant::Route(balancer) => {
                let route = self
                    .routes
                    .iter()
                    .find(|route| route.balancer_kind() == balancer)
                    .expect("a route per balancer");
                for _ in 0..calls {
                    let call = self
                        .discovery
                        .pick(route, |_| false)
                        .expect("an eligible instance");
                    drop(black_box(call));
                }
            }
            Variant::NaiveScan => {
                for _ in 0..calls {
                    drop(black_box(self.naive.pick()));
                }
            }
            Variant::TowerPeakEwma => {
                let mut balance = self.tower_peak_ewma.borrow_mut();
                for _ in 0..calls {
                    tower_pick(&mut balance);
                }
            }
            Variant::TowerPendingRequests => {
                let mut balance = self.tower_pending.borrow_mut();
                for _ in 0..calls {
                    tower_pick(&mut balance);
                }
            }
        }
    }
}

#[path = "../../benches/support/on_cpu_time.rs"]
mod on_cpu_time;

use on_cpu_time::OnCpuTime;

/// The criterion groups: one per variant, one benchmark per instance count.
fn criterion_groups(criterion: &mut Criterion<OnCpuTime>, fixtures: &[Fixture]) {
    for variant in Variant::all() {
        let mut group = criterion.benchmark_group(format!("pick/{}", variant.name()));
        for fixture in fixtures {
            group.bench_function(BenchmarkId::from_parameter(fixture.n), |b| {
                b.iter_custom(|iters| {
                    let started = OnCpuTime::begin();
                    fixture.run(variant, iters);
                    OnCpuTime::finish(started)
                })
            });
        }
        group.finish();
    }
}

/// ns per pick of `calls` picks.
fn measure(fixture: &Fixture, variant: Variant, calls: u32) -> f64 {
    let started = OnCpuTime::begin();
    fixture.run(variant, u64::from(calls));
    OnCpuTime::finish(started).as_secs_f64() * 1e9 / f64::from(calls)
}

/// Measures every (variant, n) again, interleaved round by round, and prints the tables.
fn summary(fixtures: &[Fixture], rounds: usize, round_time: Duration, print: bool) {
    let variants = Variant::all();
    // Calls per round for each (variant, n), so each round of each takes about `round_time`.
    let calls: Vec<Vec<u32>> = variants
        .iter()
        .map(|&variant| {
            fixtures
                .iter()
                .map(|fixture| {
                    let per_pick = measure(fixture, variant, 200).max(1.0);
                    ((round_time.as_secs_f64() * 1e9 / per_pick) as u32).clamp(10, 1_000_000)
                })
                .collect()
        })
        .collect();
    let mut samples = vec![vec![Vec::with_capacity(rounds); fixtures.len()]; variants.len()];
    for _ in 0..rounds {
        for (v, &variant) in variants.iter().enumerate() {
            for (f, fixture) in fixtures.iter().enumerate() {
                samples[v][f].push(measure(fixture, variant, calls[v][f]));
            }
        }
    }
    if !print {
        return;
    }
    let median: Vec<Vec<f64>> = samples
        .into_iter()
        .map(|per_n| {
            per_n
                .into_iter()
                .map(|mut s| {
                    s.sort_by(f64::total_cmp);
                    s[s.len() / 2]
                })
                .collect()
        })
        .collect();
    let index_of = |wanted: Variant| {
        variants
            .iter()
            .position(|&variant| variant == wanted)
            .expect("every variant is measured")
    };
    let (first, last) = (0, fixtures.len() - 1);
    let sizes: Vec<usize> = fixtures.iter().map(|fixture| fixture.n).collect();

    println!();
    println!(
        "Summary: ns per pick (pick + guard dropped), one thread, median of {rounds} interleaved \
         rounds of about {} ms each.",
        round_time.as_millis()
    );
    println!("Clock: {}.", OnCpuTime::name());
    println!();
    print!("{:<24}", "balancer");
    for n in &sizes {
        print!(" {:>10}", format!("n={n}"));
    }
    println!(
        " {:>14}  target <= {FLAT_TARGET}x",
        format!("n={}/n={}", sizes[last], sizes[first])
    );
    for (v, variant) in variants.iter().enumerate() {
        print!("{:<24}", variant.name());
        for figure in &median[v] {
            print!(" {figure:>10.1}");
        }
        let ratio = median[v][last] / median[v][first];
        let verdict = match variant {
            Variant::Route(_) if ratio <= FLAT_TARGET => "met",
            Variant::Route(_) => "MISSED",
            _ => "(baseline)",
        };
        println!(" {:>14}  {verdict}", format!("{ratio:.2}x"));
    }
    for (baseline, what) in [
        (Variant::NaiveScan, "the naive scan"),
        (Variant::TowerPeakEwma, "tower's p2c with PeakEwma"),
        (
            Variant::TowerPendingRequests,
            "tower's p2c with PendingRequests",
        ),
    ] {
        let b = index_of(baseline);
        println!();
        println!("Each balancer against {what} at the same n (ours / theirs; < 1 is faster):");
        print!("{:<24}", "balancer");
        for n in &sizes {
            print!(" {:>10}", format!("n={n}"));
        }
        println!();
        for (v, variant) in variants.iter().enumerate() {
            if !matches!(variant, Variant::Route(_)) {
                continue;
            }
            print!("{:<24}", variant.name());
            for (ours, theirs) in median[v].iter().zip(&median[b]) {
                print!(" {:>10}", format!("{:.3}x", ours / theirs));
            }
            println!();
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and criterion then runs
    // each benchmark once to check that it works (here on the small sizes only: registering
    // 10,000 instances unoptimised takes a while).
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let sizes: &[usize] = if benchmarking { &SIZES } else { &SIZES[..2] };
    let setup = Instant::now();
    let fixtures: Vec<Fixture> = sizes.iter().map(|&n| Fixture::new(n)).collect();
    if benchmarking {
        println!(
            "Clock: {}. Set-up (registering {} instances in all): {:.1} s.",
            OnCpuTime::name(),
            sizes.iter().sum::<usize>(),
            setup.elapsed().as_secs_f64()
        );
    }

    let mut criterion = Criterion::default()
        .with_measurement(OnCpuTime)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
        .configure_from_args();
    criterion_groups(&mut criterion, &fixtures);
    criterion.final_summary();

    if benchmarking {
        summary(&fixtures, 15, Duration::from_millis(10), true);
    } else {
        summary(&fixtures, 1, Duration::from_micros(10), false);
    }
}
