//! Load balancing through `ServiceDiscovery::pick` and `discover_one`: each balancer's
//! distribution, health and ejection, `avoid`, version / metadata / environment routing, in-flight
//! accounting and concurrent picks.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use resilience_discovery::{
    Balancer, CallOutcome, DiscoveryConfig, DiscoveryError, InFlight, Instance, InstanceId,
    MemoryRegistry, Route, ServiceDiscovery,
};

const SERVICE: &str = "orders";

const BALANCERS: [Balancer; 5] = [
    Balancer::P2cPeakEwma,
    Balancer::RoundRobin,
    Balancer::LeastConnections,
    Balancer::Random,
    Balancer::WeightedRoundRobin,
];

/// An instance of [`SERVICE`] with `metadata`.
fn instance(id: &str, metadata: &[(&str, &str)]) -> Instance {
    metadata.iter().fold(
        Instance::new(SERVICE, id, "127.0.0.1", 8080),
        |instance, (key, value)| instance.with_metadata(*key, *value),
    )
}

/// A discovery with one instance of [`SERVICE`] per `(id, metadata)`.
fn discovery_with(instances: &[(&str, &[(&str, &str)])]) -> ServiceDiscovery {
    discovery_with_config(DiscoveryConfig::default(), instances)
}

fn discovery_with_config(
    config: DiscoveryConfig,
    instances: &[(&str, &[(&str, &str)])],
) -> ServiceDiscovery {
    let discovery = ServiceDiscovery::with_config(config);
    for (id, metadata) in instances {
        discovery
            .register(instance(id, metadata))
            .expect("a well-formed instance");
    }
    discovery
}

fn id(instance: &str) -> InstanceId {
    InstanceId::new(SERVICE, instance)
}

fn id_of(call: &InFlight) -> String {
    call.endpoint().instance().id.id.clone()
}

/// The instance ids of `picks` picks on `route`, each call ended at once.
fn pick_ids(discovery: &ServiceDiscovery, route: &Route, picks: usize) -> Vec<String> {
    (0..picks)
        .map(|_| {
            id_of(
                &discovery
                    .pick(route, |_| false)
                    .expect("an eligible instance"),
            )
        })
        .collect()
}

/// How many of `picks` picks on `route` went to each instance.
fn pick_counts(
    discovery: &ServiceDiscovery,
    route: &Route,
    picks: usize,
) -> BTreeMap<String, usize> {
    count(pick_ids(discovery, route, picks))
}

fn count(ids: impl IntoIterator<Item = String>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for id in ids {
        *counts.entry(id).or_default() += 1;
    }
    counts
}

/// Every one of `picks` picks on `instance`.
fn only(instance: &str, picks: usize) -> BTreeMap<String, usize> {
    BTreeMap::from([(instance.to_owned(), picks)])
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

/// One call on `target`, forced there by avoiding every other instance.
fn pick_on(discovery: &ServiceDiscovery, route: &Route, target: &str) -> InFlight {
    let call = discovery
        .pick(route, |endpoint| endpoint.instance().id.id != target)
        .expect("an eligible instance");
    assert_eq!(id_of(&call), target, "avoid steers the pick to {target}");
    call
}

fn in_flight(discovery: &ServiceDiscovery, instance: &str) -> u32 {
    discovery
        .endpoints(SERVICE)
        .iter()
        .find(|endpoint| endpoint.instance().id.id == instance)
        .map(|endpoint| endpoint.in_flight())
        .expect("a registered instance")
}

fn total_in_flight(discovery: &ServiceDiscovery) -> u32 {
    discovery
        .endpoints(SERVICE)
        .iter()
        .map(|endpoint| endpoint.in_flight())
        .sum()
}

#[test]
fn round_robin_gives_each_instance_exactly_one_turn_per_cycle_whatever_its_weight() {
    let discovery = discovery_with(&[
        ("a", &[("weight", "5")]),
        ("b", &[]),
        ("c", &[("weight", "2")]),
        ("d", &[]),
    ]);
    let route = Route::new(SERVICE).balancer(Balancer::RoundRobin);
    let ids = pick_ids(&discovery, &route, 400);
    for (index, picked) in ids.iter().enumerate() {
        assert_eq!(picked, &ids[index % 4], "pick {index} repeats the cycle");
    }
    assert_eq!(
        set(&ids[..4].iter().map(String::as_str).collect::<Vec<_>>()),
        set(&["a", "b", "c", "d"])
    );
    assert!(count(ids).values().all(|&picks| picks == 100));
}

#[test]
fn weighted_round_robin_gives_each_instance_exactly_its_weight_per_period() {
    let discovery = discovery_with(&[
        ("a", &[("weight", "5")]),
        ("b", &[]),
        ("c", &[]),
        ("d", &[("weight", "3")]),
    ]);
    let route = Route::new(SERVICE).balancer(Balancer::WeightedRoundRobin);
    let ids = pick_ids(&discovery, &route, 10 * 100);
    for (period, picks) in ids.chunks(10).enumerate() {
        let counts = count(picks.iter().cloned());
        let expected: BTreeMap<String, usize> = [("a", 5), ("b", 1), ("c", 1), ("d", 3)]
            .map(|(id, n)| (id.to_owned(), n))
            .into();
        assert_eq!(counts, expected, "period {period}: {picks:?}");
    }
    // Smooth (nginx's): the heavy instance's turns are spread over the period, never more than
    // two in a row here.
    assert!(
        ids.windows(3)
            .all(|w| !(w[0] == "a" && w[1] == "a" && w[2] == "a")),
        "{:?}",
        &ids[..10]
    );
}

#[test]
fn weighted_random_shares_are_within_5_percent_of_the_weight_ratios_over_10_000_picks() {
    // Reproducible draws; the tolerance is still about three standard deviations of the
    // smallest share, so any seed passes with a correct alias table.
    fastrand::seed(0x5eed_0004);
    let discovery = discovery_with(&[("a", &[]), ("b", &[("weight", "3")])]);
    let route = Route::new(SERVICE).balancer(Balancer::Random);
    let counts = pick_counts(&discovery, &route, 10_000);
    for (instance, weight) in [("a", 1.0), ("b", 3.0)] {
        let expected = weight / 4.0;
        let share = counts.get(instance).copied().unwrap_or(0) as f64 / 10_000.0;
        assert!(
            (share - expected).abs() <= 0.05 * expected,
            "{instance}: share {share:.4}, weight ratio {expected:.4} ({counts:?})"
        );
    }
}

#[test]
fn least_connections_prefers_the_instance_with_fewer_calls_in_flight() {
    let discovery = discovery_with(&[("a", &[]), ("b", &[])]);
    let route = Route::new(SERVICE).balancer(Balancer::LeastConnections);
    let on_a: Vec<InFlight> = (0..3).map(|_| pick_on(&discovery, &route, "a")).collect();
    assert_eq!(pick_counts(&discovery, &route, 50), only("b", 50));
    // b fills up to a's load, call by call.
    let on_b: Vec<InFlight> = (0..3)
        .map(|_| discovery.pick(&route, |_| false).unwrap())
        .collect();
    assert!(on_b.iter().all(|call| id_of(call) == "b"));
    drop(on_a);
    assert_eq!(pick_counts(&discovery, &route, 50), only("a", 50));
    drop(on_b);
    assert_eq!(total_in_flight(&discovery), 0);
}

#[test]
fn least_connections_spreads_held_calls_evenly() {
    fastrand::seed(0x5eed_0002);
    let discovery = discovery_with(&[("a", &[]), ("b", &[]), ("c", &[]), ("d", &[])]);
    let route = Route::new(SERVICE).balancer(Balancer::LeastConnections);
    let held: Vec<InFlight> = (0..400)
        .map(|_| discovery.pick(&route, |_| false).unwrap())
        .collect();
    for instance in ["a", "b", "c", "d"] {
        let load = in_flight(&discovery, instance);
        // Two choices keep every instance within a few calls of the mean (a simulation of
        // 20,000 runs never strayed more than 5).
        assert!(
            (90..=110).contains(&load),
            "{instance}: {load} of 400 in flight"
        );
    }
    drop(held);
    assert_eq!(total_in_flight(&discovery), 0);
}

#[test]
fn least_connections_spreads_held_calls_in_proportion_to_weight() {
    let discovery = discovery_with(&[("a", &[]), ("b", &[("weight", "3")])]);
    let route = Route::new(SERVICE).balancer(Balancer::LeastConnections);
    let held: Vec<InFlight> = (0..400)
        .map(|_| discovery.pick(&route, |_| false).unwrap())
        .collect();
    let (a, b) = (in_flight(&discovery, "a"), in_flight(&discovery, "b"));
    assert!((98..=102).contains(&a), "a: {a}, b: {b}");
    assert_eq!(a + b, 400);
    drop(held);
}

/// Calls on `fast` and `slow` reported as taking `fast_rtt` and `slow_rtt` on the paused clock.
async fn report_latencies(
    discovery: &ServiceDiscovery,
    route: &Route,
    (fast, fast_rtt): (&str, Duration),
    (slow, slow_rtt): (&str, Duration),
) {
    for _ in 0..3 {
        for (instance, rtt) in [(fast, fast_rtt), (slow, slow_rtt)] {
            let call = pick_on(discovery, route, instance);
            tokio::time::advance(rtt).await;
            discovery.report(call, CallOutcome::Success);
        }
    }
}

fn latency_estimate(discovery: &ServiceDiscovery, instance: &str) -> Duration {
    discovery
        .endpoints(SERVICE)
        .iter()
        .find(|endpoint| endpoint.instance().id.id == instance)
        .map(|endpoint| endpoint.latency_estimate())
        .expect("a registered instance")
}

#[tokio::test(start_paused = true)]
async fn p2c_peak_ewma_prefers_the_faster_instance_after_latency_reports() {
    let discovery = discovery_with(&[("fast", &[]), ("slow", &[])]);
    let route = Route::new(SERVICE);
    assert_eq!(route.balancer_kind(), Balancer::P2cPeakEwma);
    // Long enough after registration for fast samples to pull the 30 ms seed down.
    tokio::time::advance(Duration::from_secs(20)).await;
    report_latencies(
        &discovery,
        &route,
        ("fast", Duration::from_millis(5)),
        ("slow", Duration::from_millis(80)),
    )
    .await;
    let (fast, slow) = (
        latency_estimate(&discovery, "fast"),
        latency_estimate(&discovery, "slow"),
    );
    assert!(fast < Duration::from_millis(30), "fast: {fast:?}");
    assert!(
        slow >= Duration::from_millis(80),
        "slow (the peak): {slow:?}"
    );
    assert_eq!(pick_counts(&discovery, &route, 100), only("fast", 100));
    assert_eq!(
        (0..100)
            .map(|_| discovery.discover_one(SERVICE).unwrap().id.id)
            .collect::<BTreeSet<_>>(),
        set(&["fast"]),
        "discover_one uses the same default balancer"
    );
}

#[tokio::test(start_paused = true)]
async fn p2c_peak_ewma_costs_latency_times_calls_in_flight_plus_one() {
    let discovery = discovery_with(&[("fast", &[]), ("slow", &[])]);
    let route = Route::new(SERVICE).balancer(Balancer::P2cPeakEwma);
    // Right after registration fast samples barely move the 30 ms seed (decay 10 s); a slow
    // sample replaces it at once (the peak).
    report_latencies(
        &discovery,
        &route,
        ("fast", Duration::from_millis(5)),
        ("slow", Duration::from_millis(80)),
    )
    .await;
    let fast = latency_estimate(&discovery, "fast");
    assert!(
        fast > Duration::from_millis(27) && fast <= Duration::from_millis(30),
        "{fast:?}"
    );
    let first = pick_on(&discovery, &route, "fast");
    // 30 ms × 2 = 60 ms < 80 ms × 1.
    assert_eq!(pick_counts(&discovery, &route, 20), only("fast", 20));
    let second = pick_on(&discovery, &route, "fast");
    // 30 ms × 3 = 90 ms > 80 ms × 1.
    assert_eq!(pick_counts(&discovery, &route, 20), only("slow", 20));
    drop((first, second));
    assert_eq!(total_in_flight(&discovery), 0);
}

#[test]
fn p2c_peak_ewma_spreads_held_calls_in_proportion_to_weight() {
    let discovery = discovery_with(&[("a", &[]), ("b", &[("weight", "3")])]);
    let route = Route::new(SERVICE).balancer(Balancer::P2cPeakEwma);
    // With no latency reported yet both have the seed estimate: the cost per unit of weight
    // decides, so b takes three calls for each of a's.
    let held: Vec<InFlight> = (0..400)
        .map(|_| discovery.pick(&route, |_| false).unwrap())
        .collect();
    let (a, b) = (in_flight(&discovery, "a"), in_flight(&discovery, "b"));
    assert!((98..=102).contains(&a), "a: {a}, b: {b}");
    drop(held);
    assert_eq!(total_in_flight(&discovery), 0);
}

#[test]
fn discover_one_spreads_over_the_eligible_instances_only() {
    fastrand::seed(0x5eed_0001);
    let discovery = discovery_with(&[("a", &[]), ("b", &[]), ("c", &[]), ("down", &[])]);
    discovery.set_healthy(&id("down"), false).unwrap();
    let counts = count((0..3_000).map(|_| discovery.discover_one(SERVICE).unwrap().id.id));
    assert_eq!(
        counts.keys().cloned().collect::<BTreeSet<_>>(),
        set(&["a", "b", "c"])
    );
    for (instance, picks) in &counts {
        assert!(
            (850..=1_150).contains(picks),
            "{instance}: {picks} of 3000 ({counts:?})"
        );
    }
}

#[test]
fn unhealthy_instances_get_nothing_until_healthy_again() {
    for balancer in BALANCERS {
        let discovery = discovery_with(&[("a", &[]), ("b", &[("weight", "2")]), ("c", &[])]);
        let route = Route::new(SERVICE).balancer(balancer);
        discovery.set_healthy(&id("b"), false).unwrap();
        let counts = pick_counts(&discovery, &route, 300);
        assert_eq!(
            counts.keys().cloned().collect::<BTreeSet<_>>(),
            set(&["a", "c"]),
            "{balancer:?}"
        );
        assert!(
            (0..100).all(|_| discovery.discover_one(SERVICE).unwrap().id.id != "b"),
            "{balancer:?}"
        );
        let listed: BTreeSet<String> = discovery
            .discover(SERVICE)
            .unwrap()
            .into_iter()
            .map(|instance| instance.id.id)
            .collect();
        assert_eq!(listed, set(&["a", "c"]));

        discovery.set_healthy(&id("b"), true).unwrap();
        let counts = pick_counts(&discovery, &route, 300);
        assert!(
            counts.get("b").copied().unwrap_or(0) >= 30,
            "{balancer:?}: {counts:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn ejected_instances_get_nothing_and_come_back_after_the_ejection() {
    let discovery = discovery_with(&[("a", &[]), ("b", &[]), ("c", &[]), ("d", &[])]);
    let routes = BALANCERS.map(|balancer| Route::new(SERVICE).balancer(balancer));
    // Five consecutive failures (the default) eject b.
    for failure in 1..=5 {
        let call = pick_on(&discovery, &routes[0], "b");
        discovery.report(call, CallOutcome::Failure);
        let ejected = discovery
            .endpoints(SERVICE)
            .iter()
            .any(|endpoint| endpoint.instance().id.id == "b" && endpoint.is_ejected());
        assert_eq!(ejected, failure == 5, "after {failure} failures");
    }
    for route in &routes {
        let counts = pick_counts(&discovery, route, 300);
        assert_eq!(
            counts.keys().cloned().collect::<BTreeSet<_>>(),
            set(&["a", "c", "d"]),
            "{:?}",
            route.balancer_kind()
        );
    }
    assert!(
        !discovery
            .discover(SERVICE)
            .unwrap()
            .iter()
            .any(|i| i.id.id == "b")
    );

    // 30 s for a first ejection, plus at most 10 % jitter.
    tokio::time::sleep(Duration::from_secs(34)).await;
    for route in &routes {
        let counts = pick_counts(&discovery, route, 300);
        assert!(
            counts.get("b").copied().unwrap_or(0) >= 30,
            "{:?}: {counts:?}",
            route.balancer_kind()
        );
    }
    assert_eq!(total_in_flight(&discovery), 0);
}

#[test]
fn avoid_is_honoured_while_another_instance_is_eligible() {
    for balancer in BALANCERS {
        let discovery = discovery_with(&[("a", &[("weight", "4")]), ("b", &[]), ("c", &[])]);
        let route = Route::new(SERVICE).balancer(balancer);
        let picked: Vec<String> = (0..300)
            .map(|_| {
                id_of(
                    &discovery
                        .pick(&route, |e| e.instance().id.id == "a")
                        .unwrap(),
                )
            })
            .collect();
        assert_eq!(
            picked.into_iter().collect::<BTreeSet<_>>(),
            set(&["b", "c"]),
            "{balancer:?}"
        );
        let picked: BTreeSet<String> = (0..100)
            .map(|_| {
                id_of(
                    &discovery
                        .pick(&route, |e| e.instance().id.id != "c")
                        .unwrap(),
                )
            })
            .collect();
        assert_eq!(picked, set(&["c"]), "{balancer:?}");
    }
}

#[test]
fn avoid_is_ignored_when_no_other_instance_is_eligible() {
    for balancer in BALANCERS {
        let discovery = discovery_with(&[("a", &[]), ("b", &[]), ("down", &[])]);
        discovery.set_healthy(&id("down"), false).unwrap();
        let route = Route::new(SERVICE).balancer(balancer);
        let picked: BTreeSet<String> = (0..200)
            .map(|_| {
                let call = discovery
                    .pick(&route, |_| true)
                    .expect("avoiding every instance still picks one");
                id_of(&call)
            })
            .collect();
        assert!(
            !picked.is_empty() && picked.is_subset(&set(&["a", "b"])),
            "{balancer:?}: {picked:?}"
        );

        let single = discovery_with(&[("only", &[])]);
        let call = single
            .pick(&route, |endpoint| endpoint.instance().id.id == "only")
            .expect("the only instance, though avoided");
        assert_eq!(id_of(&call), "only", "{balancer:?}");
    }
}

#[test]
fn version_requirements_route_to_matching_instances_only() {
    let discovery = discovery_with(&[
        ("v1", &[("version", "1.9.0")]),
        ("v2", &[("version", "2.0.0")]),
        ("v2-7", &[("version", "2.7.1")]),
        ("v3", &[("version", "3.0.0")]),
        ("unversioned", &[]),
    ]);
    for balancer in BALANCERS {
        let route = Route::new(SERVICE)
            .balancer(balancer)
            .version("^2")
            .unwrap();
        let counts = pick_counts(&discovery, &route, 300);
        assert_eq!(
            counts.keys().cloned().collect::<BTreeSet<_>>(),
            set(&["v2", "v2-7"]),
            "{balancer:?}"
        );
    }
    let route = Route::new(SERVICE).version(">=2.5, <4").unwrap();
    assert_eq!(
        pick_counts(&discovery, &route, 300)
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>(),
        set(&["v2-7", "v3"])
    );
    let route = Route::new(SERVICE).version("^4").unwrap();
    assert_eq!(
        discovery.pick(&route, |_| false).map(|call| id_of(&call)),
        Err(DiscoveryError::NoInstance {
            service: SERVICE.into()
        })
    );
    assert!(matches!(
        Route::new(SERVICE).version("two"),
        Err(DiscoveryError::InvalidRequirement { requirement, .. }) if requirement == "two"
    ));
}

#[test]
fn metadata_filters_route_to_instances_matching_all_of_them() {
    let discovery = discovery_with(&[
        ("eu-gold", &[("zone", "eu"), ("tier", "gold")]),
        ("eu-silver", &[("zone", "eu"), ("tier", "silver")]),
        ("us-gold", &[("zone", "us"), ("tier", "gold")]),
        ("eu-gold-2", &[("zone", "eu"), ("tier", "gold")]),
    ]);
    for balancer in BALANCERS {
        let route = Route::new(SERVICE)
            .balancer(balancer)
            .metadata("zone", "eu");
        assert_eq!(
            pick_counts(&discovery, &route, 300)
                .keys()
                .cloned()
                .collect::<BTreeSet<_>>(),
            set(&["eu-gold", "eu-silver", "eu-gold-2"]),
            "{balancer:?}"
        );
        let route = Route::new(SERVICE)
            .balancer(balancer)
            .metadata("zone", "eu")
            .metadata("tier", "gold");
        assert_eq!(
            pick_counts(&discovery, &route, 300)
                .keys()
                .cloned()
                .collect::<BTreeSet<_>>(),
            set(&["eu-gold", "eu-gold-2"]),
            "{balancer:?}"
        );
    }
    let route = Route::new(SERVICE).metadata("zone", "ap");
    assert!(matches!(
        discovery.pick(&route, |_| false),
        Err(DiscoveryError::NoInstance { .. })
    ));
}

#[test]
fn environments_never_mix() {
    let instances: &[(&str, &[(&str, &str)])] = &[
        ("prod-a", &[("env", "prod"), ("version", "2.0.0")]),
        ("prod-b", &[("env", "prod"), ("version", "1.0.0")]),
        ("staging", &[("env", "staging"), ("version", "2.0.0")]),
        ("no-env", &[("version", "2.0.0")]),
    ];
    let prod = DiscoveryConfig {
        env: Some("prod".into()),
        ..Default::default()
    };
    let discovery = discovery_with_config(prod.clone(), instances);
    let listed: BTreeSet<String> = discovery
        .discover(SERVICE)
        .unwrap()
        .into_iter()
        .map(|instance| instance.id.id)
        .collect();
    assert_eq!(listed, set(&["prod-a", "prod-b"]));
    let one: BTreeSet<String> = (0..200)
        .map(|_| discovery.discover_one(SERVICE).unwrap().id.id)
        .collect();
    assert_eq!(one, set(&["prod-a", "prod-b"]));
    for balancer in BALANCERS {
        let route = Route::new(SERVICE).balancer(balancer);
        assert_eq!(
            pick_counts(&discovery, &route, 300)
                .keys()
                .cloned()
                .collect::<BTreeSet<_>>(),
            set(&["prod-a", "prod-b"]),
            "{balancer:?}"
        );
        // Even a caller that avoids every prod instance never leaves prod.
        let call = discovery
            .pick(&route, |endpoint| {
                endpoint.instance().id.id.starts_with("prod")
            })
            .unwrap();
        assert!(id_of(&call).starts_with("prod"), "{balancer:?}");
        drop(call);
        let route = Route::new(SERVICE)
            .balancer(balancer)
            .version("^2")
            .unwrap();
        assert_eq!(
            pick_counts(&discovery, &route, 100)
                .keys()
                .cloned()
                .collect::<BTreeSet<_>>(),
            set(&["prod-a"]),
            "{balancer:?}"
        );
    }

    // A service with no instance in prod has none to give.
    let staging_only = discovery_with_config(prod, &[("staging", &[("env", "staging")])]);
    assert!(staging_only.discover(SERVICE).unwrap().is_empty());
    assert_eq!(
        staging_only.discover_one(SERVICE),
        Err(DiscoveryError::NoInstance {
            service: SERVICE.into()
        })
    );

    // Without an environment configured, nothing is filtered.
    let everything = discovery_with(instances);
    assert_eq!(everything.discover(SERVICE).unwrap().len(), 4);
}

#[test]
fn one_route_used_with_two_discoveries_picks_each_ones_own_instances() {
    // Two environments' discoveries over one shared registry (two processes sharing etcd, or
    // one gateway serving both), and one `Route` value used with each.
    let registry = MemoryRegistry::new();
    let prod = ServiceDiscovery::with_registry(
        Arc::clone(&registry),
        DiscoveryConfig {
            env: Some("prod".into()),
            ..Default::default()
        },
    );
    let staging = ServiceDiscovery::with_registry(
        registry,
        DiscoveryConfig {
            env: Some("staging".into()),
            ..Default::default()
        },
    );
    prod.register(instance("p", &[("env", "prod")])).unwrap();
    prod.register(instance("s", &[("env", "staging")])).unwrap();
    for balancer in BALANCERS {
        let route = Route::new(SERVICE).balancer(balancer);
        assert_eq!(
            id_of(&prod.pick(&route, |_| false).unwrap()),
            "p",
            "{balancer:?}"
        );
        assert_eq!(
            id_of(&staging.pick(&route, |_| false).unwrap()),
            "s",
            "{balancer:?}: a staging caller was sent to prod"
        );
    }
}

#[test]
fn a_route_refined_after_use_applies_its_new_filters() {
    let discovery = discovery_with(&[
        ("v1", &[("version", "1.0.0"), ("zone", "us")]),
        ("v2", &[("version", "2.0.0"), ("zone", "eu")]),
    ]);
    for balancer in BALANCERS {
        let route = Route::new(SERVICE).balancer(balancer);
        assert_eq!(
            pick_counts(&discovery, &route, 100).len(),
            2,
            "{balancer:?}"
        );
        // Nothing changed in the registry since: the route's table is as fresh as the catalog,
        // but it was built without the filters added now.
        let route = route.version("^2").unwrap();
        assert_eq!(
            pick_counts(&discovery, &route, 100),
            only("v2", 100),
            "{balancer:?} + version"
        );
        let route = Route::new(SERVICE).balancer(balancer);
        assert_eq!(
            pick_counts(&discovery, &route, 100).len(),
            2,
            "{balancer:?}"
        );
        let route = route.metadata("zone", "us");
        assert_eq!(
            pick_counts(&discovery, &route, 100),
            only("v1", 100),
            "{balancer:?} + metadata"
        );
    }
    // And a balancer changed after use takes effect: round robin alternates exactly.
    let route = Route::new(SERVICE).balancer(Balancer::Random);
    pick_ids(&discovery, &route, 1);
    let route = route.balancer(Balancer::WeightedRoundRobin);
    let ids = pick_ids(&discovery, &route, 100);
    assert_eq!(
        count(ids),
        BTreeMap::from([("v1".into(), 50), ("v2".into(), 50)])
    );
}

#[tokio::test(start_paused = true)]
async fn in_flight_counts_return_to_zero_after_cancelled_and_dropped_calls() {
    let discovery = discovery_with(&[("a", &[]), ("b", &[])]);
    let route = Arc::new(Route::new(SERVICE).balancer(Balancer::LeastConnections));

    // A task aborted while its call is in flight.
    let (started, started_rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn({
        let (discovery, route) = (discovery.clone(), Arc::clone(&route));
        async move {
            let call = discovery.pick(&route, |_| false).unwrap();
            started.send(()).unwrap();
            tokio::time::sleep(Duration::from_secs(3_600)).await;
            discovery.report(call, CallOutcome::Success);
        }
    });
    started_rx.await.unwrap();
    assert_eq!(total_in_flight(&discovery), 1);
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(total_in_flight(&discovery), 0, "after abort");

    // A call abandoned by a timeout.
    let timed_out = tokio::time::timeout(Duration::from_secs(1), async {
        let call = discovery.pick(&route, |_| false).unwrap();
        let also = discovery.pick(&route, |_| false).unwrap();
        assert_eq!(total_in_flight(&discovery), 2);
        std::future::pending::<()>().await;
        drop((call, also));
    })
    .await;
    assert!(timed_out.is_err());
    assert_eq!(total_in_flight(&discovery), 0, "after timeout");

    // Reported calls, whatever their outcome, and calls simply dropped.
    for outcome in [
        CallOutcome::Success,
        CallOutcome::Failure,
        CallOutcome::Timeout,
    ] {
        let call = discovery.pick(&route, |_| false).unwrap();
        discovery.report(call, outcome);
    }
    let held: Vec<InFlight> = (0..10)
        .map(|_| discovery.pick(&route, |_| false).unwrap())
        .collect();
    assert_eq!(total_in_flight(&discovery), 10);
    drop(held);
    assert_eq!(total_in_flight(&discovery), 0, "after report and drop");

    // A call whose instance is deregistered while it is in flight.
    let call = pick_on(&discovery, &route, "a");
    let endpoint = Arc::clone(call.endpoint());
    discovery.deregister(&id("a")).unwrap();
    assert_eq!(endpoint.in_flight(), 1);
    discovery.report(call, CallOutcome::Success);
    assert_eq!(endpoint.in_flight(), 0);
    assert_eq!(total_in_flight(&discovery), 0);
}

#[test]
fn concurrent_picks_from_many_threads_stay_within_the_eligible_set() {
    const THREADS: usize = 8;
    const PICKS: usize = 20_000;
    let discovery = discovery_with(&[
        ("a", &[]),
        ("b", &[("weight", "3")]),
        ("c", &[]),
        ("flapping", &[]),
        ("down", &[]),
    ]);
    discovery.set_healthy(&id("down"), false).unwrap();
    let allowed = set(&["a", "b", "c", "flapping"]);
    for balancer in BALANCERS {
        let route = Route::new(SERVICE).balancer(balancer);
        let done = AtomicBool::new(false);
        let picked = std::thread::scope(|scope| {
            // Health changes publish new catalog revisions while the pickers run, so routes
            // rebuild their tables under load.
            let flapper = scope.spawn(|| {
                let mut healthy = false;
                while !done.load(Ordering::Relaxed) {
                    discovery.set_healthy(&id("flapping"), healthy).unwrap();
                    healthy = !healthy;
                    std::thread::yield_now();
                }
                discovery.set_healthy(&id("flapping"), true).unwrap();
            });
            let pickers: Vec<_> = (0..THREADS)
                .map(|_| {
                    scope.spawn(|| {
                        let mut held = VecDeque::new();
                        let mut seen = BTreeSet::new();
                        for _ in 0..PICKS {
                            let call = discovery.pick(&route, |_| false).unwrap();
                            let picked = id_of(&call);
                            assert_ne!(picked, "down", "{balancer:?}");
                            seen.insert(picked);
                            held.push_back(call);
                            if held.len() > 4 {
                                held.pop_front();
                            }
                        }
                        seen
                    })
                })
                .collect();
            let seen: Vec<BTreeSet<String>> = pickers
                .into_iter()
                .map(|picker| picker.join().expect("a picker thread"))
                .collect();
            done.store(true, Ordering::Relaxed);
            flapper.join().expect("the flapping thread");
            seen.into_iter().flatten().collect::<BTreeSet<_>>()
        });
        assert!(picked.is_subset(&allowed), "{balancer:?}: {picked:?}");
        assert!(
            set(&["a", "b", "c"]).is_subset(&picked),
            "{balancer:?}: {picked:?}"
        );
        assert_eq!(total_in_flight(&discovery), 0, "{balancer:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn bounded_load_passes_over_an_instance_far_above_the_mean_in_flight() {
    let mut picked = Vec::new();
    // Percentages (contract §5): 50 % and 10,000 %.
    for max_imbalance in [50, 10_000] {
        let discovery = discovery_with_config(
            DiscoveryConfig {
                max_imbalance,
                ..DiscoveryConfig::default()
            },
            &[("fast", &[]), ("slow", &[])],
        );
        let route = Route::new(SERVICE);
        tokio::time::advance(Duration::from_secs(20)).await;
        report_latencies(
            &discovery,
            &route,
            ("fast", Duration::from_millis(5)),
            ("slow", Duration::from_millis(200)),
        )
        .await;
        // 10 calls held on the fast instance: its cost (under 10 ms × 11) is still below the
        // slow one's (200 ms × 1), but 10 in flight is above 150 % of the mean of 5, plus one.
        let held: Vec<InFlight> = (0..10)
            .map(|_| pick_on(&discovery, &route, "fast"))
            .collect();
        picked.push(pick_counts(&discovery, &route, 20));
        drop(held);
    }
    assert_eq!(picked, [only("slow", 20), only("fast", 20)]);
}
