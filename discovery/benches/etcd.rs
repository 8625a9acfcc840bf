//! The etcd backend over a local etcd that this bench starts (like the tests, `tests/support`),
//! each figure against the in-memory backend in the same process:
//!
//! 1. **register → visible** in another discovery (its watch applied the change to its
//!    snapshot), p50/p99/max over 1,000 registrations;
//! 2. **a watch applying 10^4 changes to a 10^4-instance service** (issue 15):
//!    - *catch-up*: the observer is cut off from etcd (a TCP proxy in front of it drops every
//!      connection), 10^4 instances are written, the proxy lets it through again and its watch
//!      resumes from its last revision: the 10^4 events arrive as fast as etcd streams them, so
//!      the time from the first change visible to the last is the observer's own cost per change
//!      (decode, view, snapshot) while the service grows from 0 to 10^4. Flatness: the last tenth
//!      of the changes against the first tenth (target ≤ 2×);
//!    - *live*: rounds of 10^4 updates (each instance re-put with new metadata), written by 16
//!      concurrent etcd clients while the observer watches: the time from the first put to the
//!      last change visible in the observer, and per change;
//!    - the in-memory baseline: the same changes through `register` on a discovery sharing a
//!      `MemoryRegistry` with the observer (its snapshot is updated before `register` returns),
//!      rounds interleaved with the etcd ones;
//!    - picks meanwhile: a thread picks (`discover_one`) on the observer throughout, each batch
//!      tagged with what ran during it (idle, live etcd changes, catch-up); target: within 20 %
//!      of an idle pick;
//! 3. **reads with etcd up and down** (static stability): `discover_one` over 10 instances with
//!    the in-memory backend and with the etcd backend (criterion groups, then interleaved rounds),
//!    then etcd killed and the etcd backend measured again against memory: reads never touch
//!    etcd, so the cost is the same.
//!
//! Clock for the read figures: on-CPU time (wall time minus the run queue wait, see
//! `benches/support/on_cpu_time.rs`); medians over interleaved rounds.
//!
//! `cargo bench -p resilience-discovery --features etcd --bench etcd` (about a minute and a
//! half). `cargo test --benches --features etcd` runs it once at 1/100 of the sizes. It measures
//! and prints; it asserts nothing.

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "../../benches/support/on_cpu_time.rs"]
mod on_cpu_time;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use criterion::Criterion;
use on_cpu_time::OnCpuTime;
use resilience_discovery::{
    Change, DiscoveryConfig, EtcdOptions, Instance, MemoryRegistry, ServiceDiscovery,
};

const PREFIX: &str = "/resilience/bench";
/// Section 2's own prefix: the discoveries of sections 1 and 3 do not watch its changes.
const WATCH_PREFIX: &str = "/resilience/bench-watch";
const WATCHED: &str = "watched";
const PICKED: &str = "picked";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn config() -> DiscoveryConfig {
    DiscoveryConfig {
        max_instances: 1_000_000,
        ..DiscoveryConfig::default()
    }
}

fn options(endpoint: &str, prefix: &str) -> EtcdOptions {
    EtcdOptions::new([endpoint])
        .prefix(prefix)
        .lease_ttl(Duration::from_secs(15))
        .config(config())
}

fn instance(n: usize, round: usize) -> Instance {
    Instance::new(WATCHED, format!("i{n:06}"), "10.0.0.1", 80)
        .with_metadata("round", round.to_string())
}

fn json(n: usize, round: usize) -> String {
    format!(
        r#"{{"service":"{WATCHED}","id":"i{n:06}","host":"10.0.0.1","port":80,"metadata":{{"round":"{round}"}}}}"#
    )
}

/// Writes changes `0..n` of `round` straight into etcd with 16 clients at once.
async fn write_etcd(endpoint: &str, n: usize, round: usize) {
    const WRITERS: usize = 16;
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let endpoint = endpoint.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut client = etcd_client::Client::connect([endpoint], None)
                .await
                .expect("etcd answers");
            for i in (writer..n).step_by(WRITERS) {
                let key = format!("{WATCH_PREFIX}/{WATCHED}/i{i:06}");
                client
                    .put(key, json(i, round), None)
                    .await
                    .expect("etcd takes the put");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// When each of the next `n` changes of `observer`'s service became visible (its snapshot is
/// updated before its watchers are told). Events the channel dropped (a lagging receiver) are
/// counted and have no time.
fn record(observer: &ServiceDiscovery, n: usize) -> tokio::task::JoinHandle<(Vec<Instant>, usize)> {
    let (_, mut events) = observer.watch();
    tokio::spawn(async move {
        let mut seen = Vec::with_capacity(n);
        let mut lagged = 0;
        while seen.len() + lagged < n {
            match events.recv().await {
                Ok(event) => {
                    if matches!(&event.change, Change::Put(put) if put.id.service == WATCHED) {
                        seen.push(Instant::now());
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    lagged += missed as usize;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
        (seen, lagged)
    })
}

/// The observer's count of instances of its service, polled about every millisecond from the
/// first one visible until `n` are (or 60 s passed): (when, how many).
async fn poll_growth(observer: &ServiceDiscovery, n: usize) -> Vec<(Instant, usize)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut samples = Vec::new();
    loop {
        let count = observer.endpoints(WATCHED).len();
        if count > 0 {
            samples.push((Instant::now(), count));
        }
        if count >= n || Instant::now() > deadline {
            if samples.is_empty() {
                samples.push((Instant::now(), count));
            }
            return samples;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Mean cost per change of the first and the last tenth of `times` (each change's time since
/// the one before, `start` before the first).
fn tenths(start: Instant, times: &[Instant]) -> (Duration, Duration) {
    let tenth = (times.len() / 10).max(1);
    let first = times[tenth - 1].duration_since(start) / tenth as u32;
    let last = times[times.len() - 1].duration_since(times[times.len() - 1 - tenth]) / tenth as u32;
    (first, last)
}

/// What the picking thread's batches ran alongside.
const IDLE: u8 = 0;
const LIVE: u8 = 1;
const CATCH_UP: u8 = 2;
const MEMORY: u8 = 3;
const CONTROL: u8 = 4;

/// Picks on `observer` in batches until `stop`, each batch's ns per pick tagged with the phase
/// it ran in whole (batches that saw the phase change are dropped).
fn picker(
    observer: ServiceDiscovery,
    phase: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<(u8, f64)>> {
    std::thread::spawn(move || {
        const BATCH: u32 = 2_000;
        let mut samples = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let before = phase.load(Ordering::Relaxed);
            let started = OnCpuTime::begin();
            for _ in 0..BATCH {
                if let Ok(instance) = observer.discover_one(black_box(WATCHED)) {
                    black_box(instance);
                }
            }
            let elapsed = OnCpuTime::finish(started);
            if phase.load(Ordering::Relaxed) == before {
                samples.push((before, elapsed.as_secs_f64() * 1e9 / f64::from(BATCH)));
            }
        }
        samples
    })
}

async fn watch_section(etcd: &support::Etcd, n: usize, rounds: usize, print: bool) {
    let mut proxy = support::Proxy::start(etcd.client_port()).await;
    let observer = ServiceDiscovery::connect_etcd(options(&proxy.endpoint(), WATCH_PREFIX))
        .await
        .unwrap();
    let registry = MemoryRegistry::new();
    let memory_writer = ServiceDiscovery::with_registry(Arc::clone(&registry), config());
    let memory_observer = ServiceDiscovery::with_registry(registry, config());

    let phase = Arc::new(AtomicU8::new(IDLE));
    let stop = Arc::new(AtomicBool::new(false));
    let picks = picker(observer.clone(), Arc::clone(&phase), Arc::clone(&stop));

    // Catch-up: the service grows from 0 to n while the observer is cut off.
    proxy.cut();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !observer.is_stale() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    write_etcd(&etcd.endpoint(), n, 0).await;
    phase.store(CATCH_UP, Ordering::Relaxed);
    proxy.resume().await;
    let growth = poll_growth(&observer, n).await;
    phase.store(IDLE, Ordering::Relaxed);
    let visible = observer.endpoints(WATCHED).len();

    // The same growth in memory.
    let started = Instant::now();
    let mut grown = Vec::with_capacity(n);
    phase.store(MEMORY, Ordering::Relaxed);
    for i in 0..n {
        memory_writer.register(instance(i, 0)).unwrap();
        grown.push(Instant::now());
    }
    phase.store(IDLE, Ordering::Relaxed);
    let memory_grow = (started, grown);

    // Live updates, rounds interleaved: etcd, memory, etcd, memory...
    let mut live = Vec::new();
    let mut memory = Vec::new();
    for round in 1..=rounds {
        let recorder = record(&observer, n);
        phase.store(LIVE, Ordering::Relaxed);
        let started = Instant::now();
        write_etcd(&etcd.endpoint(), n, round).await;
        let written = started.elapsed();
        let (times, lagged) = recorder.await.unwrap();
        phase.store(IDLE, Ordering::Relaxed);
        live.push((started, written, times, lagged));
        // Idle picks between the phases, as many as the others.
        tokio::time::sleep(Duration::from_millis(300)).await;

        phase.store(MEMORY, Ordering::Relaxed);
        let started = Instant::now();
        let mut times = Vec::with_capacity(n);
        for i in 0..n {
            memory_writer.register(instance(i, round)).unwrap();
            times.push(Instant::now());
        }
        phase.store(IDLE, Ordering::Relaxed);
        memory.push((started, times));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The control: this thread allocating and computing, nothing of discovery (does any busy
    // neighbour slow the picks on this machine?).
    phase.store(CONTROL, Ordering::Relaxed);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(if print { 3 } else { 0 }) {
        let strings: Vec<String> = (0..1_000).map(|i| format!("i{i:06}")).collect();
        black_box(strings);
    }
    phase.store(IDLE, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let samples = tokio::task::spawn_blocking(move || picks.join().unwrap())
        .await
        .unwrap();
    assert_eq!(memory_observer.endpoints(WATCHED).len(), n);
    if !print {
        return;
    }

    println!();
    println!("2. A watch applying {n} changes to a service of up to {n} instances");
    println!();
    let at = |count: usize| {
        growth
            .iter()
            .find(|(_, seen)| *seen >= count)
            .map_or(growth[growth.len() - 1].0, |(time, _)| *time)
    };
    let tenth = (n / 10).max(1);
    let (start, first_tenth, last_tenth, end) = (at(1), at(tenth), at(n - tenth), at(n));
    let first = first_tenth.duration_since(start) / tenth as u32;
    let last = end.duration_since(last_tenth) / tenth as u32;
    let total = end.duration_since(start);
    let (memory_first, memory_last) = tenths(memory_grow.0, &memory_grow.1);
    let memory_total = memory_grow.1[n - 1].duration_since(memory_grow.0);
    let per = |total: Duration| total.as_secs_f64() * 1e6 / n as f64;
    println!(
        "catch-up after a partition (service grows 0 -> {n}; {visible} visible at the end; \
         the observer's count polled every millisecond, {} polls):",
        growth.len()
    );
    println!(
        "  etcd observer: first to last change visible {:.1} ms, {:.2} us/change; first tenth \
         {:.2} us/change, last tenth {:.2} us/change: last/first {:.2}x (target <= 2x: {})",
        total.as_secs_f64() * 1e3,
        per(total),
        first.as_secs_f64() * 1e6,
        last.as_secs_f64() * 1e6,
        last.as_secs_f64() / first.as_secs_f64(),
        if last.as_secs_f64() <= 2.0 * first.as_secs_f64() {
            "met"
        } else {
            "MISSED"
        }
    );
    let deciles: Vec<String> = (1..=10)
        .map(|d| {
            format!(
                "{:.0}",
                at(n * d / 10).duration_since(start).as_secs_f64() * 1e3
            )
        })
        .collect();
    println!(
        "  etcd observer: ms from the first change visible until 10 %, 20 %, ... 100 % are: {}",
        deciles.join(", ")
    );
    println!(
        "  memory (register, same growth): {:.1} ms, {:.2} us/change; first tenth {:.2}, last \
         tenth {:.2} us/change: last/first {:.2}x",
        memory_total.as_secs_f64() * 1e3,
        per(memory_total),
        memory_first.as_secs_f64() * 1e6,
        memory_last.as_secs_f64() * 1e6,
        memory_last.as_secs_f64() / memory_first.as_secs_f64(),
    );
    println!(
        "  etcd observer / memory, per change: {:.2}x",
        per(total) / per(memory_total)
    );
    println!();
    println!(
        "live updates ({n} re-puts of existing instances per round, 16 etcd writers in this \
         process; the etcd figure is bound by etcd's write rate here):"
    );
    for ((started, written, times, lagged), (memory_started, memory_times)) in
        live.iter().zip(&memory)
    {
        let visible = times[times.len() - 1].duration_since(*started);
        let memory_total = memory_times[n - 1].duration_since(*memory_started);
        let (first, last) = tenths(*started, times);
        println!(
            "  etcd: first put -> last change visible {:.1} ms ({:.2} us/change; writes took \
             {:.1} ms; last/first tenth {:.2}x; {lagged} untimed) | memory {:.1} ms ({:.2} \
             us/change) | etcd/memory {:.1}x",
            visible.as_secs_f64() * 1e3,
            per(visible),
            written.as_secs_f64() * 1e3,
            last.as_secs_f64() / first.as_secs_f64(),
            memory_total.as_secs_f64() * 1e3,
            per(memory_total),
            visible.as_secs_f64() / memory_total.as_secs_f64(),
        );
    }
    println!();
    let of = |tag: u8| -> Option<(f64, usize)> {
        let mut picked: Vec<f64> = samples
            .iter()
            .filter(|(at, _)| *at == tag)
            .map(|(_, ns)| *ns)
            .collect();
        (!picked.is_empty()).then(|| (median(&mut picked), picked.len()))
    };
    println!(
        "picks on the observer meanwhile (discover_one, {n} instances; median ns per pick, \
         on-CPU, batches of 2,000):"
    );
    let idle = of(IDLE);
    for (tag, name) in [
        (IDLE, "idle"),
        (LIVE, "during live etcd changes"),
        (CATCH_UP, "during the catch-up"),
        (MEMORY, "during memory changes (other discovery)"),
        (CONTROL, "control: another thread allocating"),
    ] {
        match (of(tag), idle) {
            (Some((ns, batches)), Some((idle, _))) => println!(
                "  {name:<42} {ns:>8.1} ns ({batches} batches) {:.2}x idle{}",
                ns / idle,
                match tag {
                    LIVE | CATCH_UP if ns <= idle * 1.2 => " (target <= 1.2x: met)",
                    LIVE | CATCH_UP => " (target <= 1.2x: MISSED)",
                    _ => "",
                }
            ),
            _ => println!("  {name:<42} no whole batch"),
        }
    }
}

/// Mean ns per `discover_one` over `calls` calls, on-CPU.
fn read_cost(discovery: &ServiceDiscovery, calls: u64) -> f64 {
    let started = OnCpuTime::begin();
    for _ in 0..calls {
        black_box(discovery.discover_one(black_box(PICKED)).unwrap());
    }
    OnCpuTime::finish(started).as_secs_f64() * 1e9 / calls as f64
}

fn read_groups(
    criterion: &mut Criterion<OnCpuTime>,
    label: &str,
    pairs: &[(&str, &ServiceDiscovery)],
) {
    let mut group = criterion.benchmark_group(format!("discover_one/{label}"));
    for (name, discovery) in pairs {
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                let started = OnCpuTime::begin();
                for _ in 0..iters {
                    black_box(discovery.discover_one(black_box(PICKED)).unwrap());
                }
                OnCpuTime::finish(started)
            })
        });
    }
    group.finish();
}

/// Interleaved rounds of memory and etcd; their medians.
fn read_rounds(
    memory: &ServiceDiscovery,
    etcd: &ServiceDiscovery,
    rounds: usize,
    calls: u64,
) -> (f64, f64) {
    let (mut m, mut e) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        m.push(read_cost(memory, calls));
        e.push(read_cost(etcd, calls));
    }
    (median(&mut m), median(&mut e))
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then one small run.
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let (changes, registrations, rounds) = if benchmarking {
        (10_000, 1_000, 3)
    } else {
        (100, 10, 1)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let Some(mut etcd) = support::Etcd::start("bench etcd") else {
            return;
        };
        let a = ServiceDiscovery::connect_etcd(options(&etcd.endpoint(), PREFIX))
            .await
            .unwrap();
        let b = ServiceDiscovery::connect_etcd(options(&etcd.endpoint(), PREFIX))
            .await
            .unwrap();

        // 1. register -> visible.
        let (_, mut changes_seen) = b.watch();
        let mut latencies = Vec::with_capacity(registrations);
        for i in 0..registrations {
            let instance = Instance::new("bench", format!("i{i}"), "10.0.0.1", 80);
            let id = instance.id.clone();
            let started = Instant::now();
            a.register(instance).unwrap();
            // b's snapshot is updated before its watchers are told.
            loop {
                let event = changes_seen.recv().await.unwrap();
                if matches!(&event.change, Change::Put(put) if put.id == id) {
                    break;
                }
            }
            latencies.push(started.elapsed());
        }
        drop(changes_seen);
        latencies.sort();
        if benchmarking {
            println!("Clock for the picks and reads: {}.", OnCpuTime::name());
            println!(
                "1. register -> visible in another discovery over local etcd ({registrations}): \
                 p50 {:?}, p99 {:?}, max {:?}",
                percentile(&latencies, 0.5),
                percentile(&latencies, 0.99),
                latencies[latencies.len() - 1]
            );
        }

        // 2. the watch.
        watch_section(&etcd, changes, rounds, benchmarking).await;

        // 3. reads, etcd up then down.
        let memory = ServiceDiscovery::new();
        for i in 0..10 {
            let instance = Instance::new(PICKED, format!("p{i}"), "10.0.0.1", 80);
            memory.register(instance.clone()).unwrap();
            a.register(instance).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while b.discover(PICKED).unwrap().len() < 10 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (read_rounds_n, calls) = if benchmarking {
            (15, 100_000)
        } else {
            (1, 100)
        };
        let mut criterion = Criterion::default()
            .with_measurement(OnCpuTime)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .sample_size(20)
            .configure_from_args();
        tokio::task::block_in_place(|| {
            read_groups(
                &mut criterion,
                "etcd_up",
                &[("memory", &memory), ("etcd", &b)],
            )
        });
        let up = tokio::task::block_in_place(|| read_rounds(&memory, &b, read_rounds_n, calls));
        etcd.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !b.is_stale() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let stale = b.is_stale();
        tokio::task::block_in_place(|| {
            read_groups(
                &mut criterion,
                "etcd_down",
                &[("memory", &memory), ("etcd", &b)],
            )
        });
        let down = tokio::task::block_in_place(|| read_rounds(&memory, &b, read_rounds_n, calls));
        criterion.final_summary();
        if benchmarking {
            println!();
            println!(
                "3. discover_one over {} instances, ns per read (on-CPU; median of {read_rounds_n} \
                 interleaved rounds of {calls}):",
                10
            );
            println!(
                "  etcd up:   memory {:.1}, etcd backend {:.1}: etcd/memory {:.3}x",
                up.0,
                up.1,
                up.1 / up.0
            );
            println!(
                "  etcd down (stale: {stale}): memory {:.1}, etcd backend {:.1}: etcd/memory \
                 {:.3}x; etcd down/up {:.3}x",
                down.0,
                down.1,
                down.1 / down.0,
                (down.1 / down.0) / (up.1 / up.0)
            );
        }
    });
}
