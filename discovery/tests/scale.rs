//! Costs that must not grow with the number of instances (issue 10): each failed before its
//! fix by a wide margin (registration and deregistration O(n) each, lease expiry quadratic,
//! every route rebuilt in O(n) after a change to any service). Ratios, not absolute times, so
//! they hold in debug builds and on a loaded machine; `benches/scale.rs` gives the figures.

use std::time::{Duration, Instant};

use resilience_discovery::{DiscoveryConfig, Instance, InstanceId, Route, ServiceDiscovery};

fn discovery() -> ServiceDiscovery {
    ServiceDiscovery::with_config(DiscoveryConfig {
        max_instances: 1_000_000,
        ..Default::default()
    })
}

fn instance(service: &str, n: usize) -> Instance {
    Instance::new(service, format!("i{n:07}"), "10.0.0.1", 8080)
}

/// The time each tenth of `op(0..n)` took.
fn tenths(n: usize, mut op: impl FnMut(usize)) -> Vec<Duration> {
    let tenth = n / 10;
    (0..10)
        .map(|part| {
            let started = Instant::now();
            for i in part * tenth..(part + 1) * tenth {
                op(i);
            }
            started.elapsed()
        })
        .collect()
}

fn assert_flat(what: &str, tenths: &[Duration]) {
    let (first, last) = (tenths[0], tenths[9]);
    let ratio = last.as_secs_f64() / first.as_secs_f64();
    assert!(
        ratio <= 3.0,
        "{what}: the last tenth took {last:?}, {ratio:.1}x the first ({first:?}): {tenths:?}"
    );
}

#[test]
fn registering_and_deregistering_one_by_one_costs_the_same_at_any_size() {
    const N: usize = 20_000;
    let discovery = discovery();
    let registering = tenths(N, |i| discovery.register(instance("big", i)).unwrap());
    assert_eq!(discovery.endpoints("big").len(), N);
    assert_flat("registration", &registering);
    // Deregistered from the last: the list is largest at the start.
    let deregistering = tenths(N, |i| {
        discovery
            .deregister(&instance("big", N - 1 - i).id)
            .unwrap()
    });
    assert!(discovery.endpoints("big").is_empty());
    let mut reversed = deregistering.clone();
    reversed.reverse();
    assert_flat("deregistration", &reversed);
}

#[test]
fn thousands_of_leases_expiring_at_once_take_time_linear_in_their_number() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let expire = |n: usize| {
            let discovery = discovery();
            for i in 0..n {
                discovery
                    .register_with_lease(instance("leased", i), Duration::from_secs(5))
                    .unwrap();
            }
            discovery
        };
        let mut took = Vec::new();
        for n in [1_000, 8_000] {
            let discovery = expire(n);
            // The reaper runs on this thread, at the deadline (the paused clock jumps there at
            // once): time until all are gone.
            let started = Instant::now();
            tokio::time::sleep(Duration::from_secs(5)).await;
            while !discovery.endpoints("leased").is_empty() {
                tokio::task::yield_now().await;
            }
            took.push(started.elapsed());
        }
        let ratio = took[1].as_secs_f64() / took[0].as_secs_f64();
        // 8x the leases: 8x the time (16x allowed for noise), not 64x.
        assert!(
            ratio <= 16.0,
            "8x the leases took {ratio:.1}x the time: {took:?}"
        );
    });
}

#[test]
fn a_pick_after_another_service_changed_costs_the_same_at_any_size() {
    let rounds = |size: usize| {
        let discovery = discovery();
        for i in 0..size {
            discovery.register(instance("picked", i)).unwrap();
        }
        let route = Route::new("picked");
        drop(discovery.pick(&route, |_| false).unwrap());
        let started = Instant::now();
        for round in 0..500 {
            // Another service changes, then a pick on this one.
            let other = instance("other", round % 2);
            if round % 4 < 2 {
                discovery.register(other).unwrap();
            } else {
                discovery
                    .deregister(&InstanceId::new("other", other.id.id))
                    .unwrap();
            }
            drop(discovery.pick(&route, |_| false).unwrap());
        }
        started.elapsed()
    };
    let (small, large) = (rounds(10), rounds(10_000));
    let ratio = large.as_secs_f64() / small.as_secs_f64();
    assert!(
        ratio <= 4.0,
        "at 10,000 instances {large:?}, {ratio:.1}x the time at 10 ({small:?})"
    );
}
