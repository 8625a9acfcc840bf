//! Passive health (outlier detection, docs/CONTRACT.md §5) through `ServiceDiscovery::report`:
//! ejection after consecutive failures, its length, the ejection limit, probation, and the
//! in-flight guard, on tokio's paused clock.

use std::sync::Arc;
use std::time::Duration;

use resilience_discovery::{
    Balancer, CallOutcome, DiscoveryConfig, Endpoint, Instance, InstanceId, OutlierConfig, Route,
    ServiceDiscovery,
};
use tokio::time::{Instant, sleep_until};

const SECOND: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

fn service(name: &str, ids: &[&str]) -> ServiceDiscovery {
    service_with(name, ids, OutlierConfig::default())
}

fn service_with(name: &str, ids: &[&str], outlier: OutlierConfig) -> ServiceDiscovery {
    let discovery = ServiceDiscovery::with_config(DiscoveryConfig {
        outlier,
        ..Default::default()
    });
    for (n, id) in ids.iter().enumerate() {
        discovery
            .register(Instance::new(name, *id, "127.0.0.1", 1000 + n as u16))
            .unwrap();
    }
    discovery
}

fn endpoint(discovery: &ServiceDiscovery, service: &str, id: &str) -> Arc<Endpoint> {
    discovery
        .endpoints(service)
        .into_iter()
        .find(|endpoint| endpoint.instance().id.id == id)
        .unwrap_or_else(|| panic!("{service}/{id} is registered"))
}

fn is_ejected(discovery: &ServiceDiscovery, service: &str, id: &str) -> bool {
    endpoint(discovery, service, id).is_ejected()
}

/// Reports `outcome` for one call that went to `id` (which must be eligible).
fn report(discovery: &ServiceDiscovery, service: &str, id: &str, outcome: CallOutcome) {
    let route = Route::new(service);
    let call = discovery
        .pick(&route, |endpoint| endpoint.instance().id.id != id)
        .unwrap();
    assert_eq!(
        call.endpoint().instance().id.id,
        id,
        "{id} is eligible, so the pick lands on it"
    );
    discovery.report(call, outcome);
}

fn fail(discovery: &ServiceDiscovery, service: &str, id: &str, times: usize) {
    for _ in 0..times {
        report(discovery, service, id, CallOutcome::Failure);
    }
}

/// Asserts that no way of picking from `service` ever gives `id`.
fn assert_gets_no_picks(discovery: &ServiceDiscovery, service: &str, id: &str) {
    assert!(
        discovery
            .discover(service)
            .unwrap()
            .iter()
            .all(|instance| instance.id.id != id),
        "discover lists {id}"
    );
    for _ in 0..100 {
        assert_ne!(discovery.discover_one(service).unwrap().id.id, id);
    }
    for name in Balancer::NAMES {
        let route = Route::new(service).balancer(Balancer::from_name(name).unwrap());
        for _ in 0..100 {
            let call = discovery.pick(&route, |_| false).unwrap();
            assert_ne!(call.endpoint().instance().id.id, id, "{name} picked {id}");
        }
        // Even when every other instance is to be avoided.
        let call = discovery
            .pick(&route, |endpoint| endpoint.instance().id.id != id)
            .unwrap();
        assert_ne!(call.endpoint().instance().id.id, id, "{name} picked {id}");
    }
}

#[tokio::test(start_paused = true)]
async fn five_consecutive_failures_eject_an_instance_which_then_gets_no_picks() {
    let mut events = resilience_runtime::registry().subscribe();
    let discovery = service("eject", &["a", "b"]);
    fail(&discovery, "eject", "a", 4);
    assert!(!is_ejected(&discovery, "eject", "a"), "four are not enough");
    fail(&discovery, "eject", "a", 1);
    assert!(is_ejected(&discovery, "eject", "a"));
    // The ejection is an event (contract §8), naming the service and the instance.
    let ejected = std::iter::from_fn(|| events.try_recv().ok()).find_map(|event| match event {
        resilience_runtime::events::Event::InstanceEjected {
            service,
            instance,
            duration,
        } if service == "eject" => Some((instance, duration)),
        _ => None,
    });
    let (instance, duration) = ejected.expect("an InstanceEjected event");
    assert_eq!(instance, "a");
    assert!(duration >= Duration::from_secs(27), "{duration:?}");
    assert!(
        endpoint(&discovery, "eject", "a").is_healthy(),
        "ejection is not active health"
    );
    assert_gets_no_picks(&discovery, "eject", "a");
}

#[tokio::test(start_paused = true)]
async fn timeouts_count_as_failures() {
    let discovery = service("timeouts", &["a", "b"]);
    for _ in 0..5 {
        report(&discovery, "timeouts", "a", CallOutcome::Timeout);
    }
    assert!(is_ejected(&discovery, "timeouts", "a"));
}

#[tokio::test(start_paused = true)]
async fn a_success_resets_the_count_of_consecutive_failures() {
    let discovery = service("reset", &["a", "b"]);
    fail(&discovery, "reset", "a", 4);
    report(&discovery, "reset", "a", CallOutcome::Success);
    fail(&discovery, "reset", "a", 4);
    assert!(
        !is_ejected(&discovery, "reset", "a"),
        "4 + 4 failures, not 5 in a row"
    );
    fail(&discovery, "reset", "a", 1);
    assert!(is_ejected(&discovery, "reset", "a"));
}

#[tokio::test(start_paused = true)]
async fn an_ejected_instance_is_readmitted_after_30_s_with_at_most_10_percent_jitter() {
    let discovery = service("readmit", &["a", "b"]);
    fail(&discovery, "readmit", "a", 5);
    let ejected_at = Instant::now();
    sleep_until(ejected_at + 30 * SECOND - MS).await;
    assert!(
        is_ejected(&discovery, "readmit", "a"),
        "out for 30 s at least"
    );
    assert_gets_no_picks(&discovery, "readmit", "a");
    sleep_until(ejected_at + 33 * SECOND + 5 * MS).await;
    assert!(
        !is_ejected(&discovery, "readmit", "a"),
        "back within 30 s + 10 %"
    );
    let mut ids: Vec<String> = discovery
        .discover("readmit")
        .unwrap()
        .into_iter()
        .map(|i| i.id.id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["a", "b"]);
    let route = Route::new("readmit").balancer(Balancer::RoundRobin);
    assert!((0..2).any(|_| {
        discovery
            .pick(&route, |_| false)
            .unwrap()
            .endpoint()
            .instance()
            .id
            .id
            == "a"
    }));
}

#[tokio::test(start_paused = true)]
async fn each_ejection_lasts_30_s_times_the_ejections_so_far_up_to_300_s() {
    // Failing again within the jitter after each readmission (up to 30 s later): with no
    // decay, so every ejection counts.
    let no_decay = OutlierConfig {
        decay_interval: Duration::from_secs(3600),
        ..Default::default()
    };
    let discovery = service_with("lengths", &["a", "b"], no_decay);
    let mut jittered = 0;
    for times in 1..=12u32 {
        // The first ejection takes five failures; a readmitted instance is on probation and
        // one failure ejects it again.
        fail(&discovery, "lengths", "a", if times == 1 { 5 } else { 1 });
        let ejected_at = Instant::now();
        assert!(is_ejected(&discovery, "lengths", "a"), "ejection {times}");
        let nominal = (30 * SECOND * times).min(300 * SECOND);
        let longest = nominal.mul_f64(1.1).min(300 * SECOND);
        sleep_until(ejected_at + nominal - MS).await;
        assert!(
            is_ejected(&discovery, "lengths", "a"),
            "ejection {times} lasts at least {nominal:?}"
        );
        sleep_until(ejected_at + nominal + 5 * MS).await;
        if is_ejected(&discovery, "lengths", "a") {
            jittered += 1;
        }
        sleep_until(ejected_at + longest + 5 * MS).await;
        assert!(
            !is_ejected(&discovery, "lengths", "a"),
            "ejection {times} lasts at most {longest:?}"
        );
    }
    assert!(
        jittered >= 5,
        "ejections below the cap are lengthened by jitter ({jittered} of 9 were)"
    );
}

/// Ejects `id` with one failure (it is on probation, or `first`: five), and returns when the
/// ejection ended, checking that it lasted `nominal` (+ at most 10 % jitter).
async fn ejection_lasts(discovery: &ServiceDiscovery, id: &str, first: bool, nominal: Duration) {
    fail(discovery, "decay", id, if first { 5 } else { 1 });
    let ejected_at = Instant::now();
    assert!(is_ejected(discovery, "decay", id));
    sleep_until(ejected_at + nominal - MS).await;
    assert!(
        is_ejected(discovery, "decay", id),
        "the ejection lasts at least {nominal:?}"
    );
    sleep_until(ejected_at + nominal.mul_f64(1.1) + MS).await;
    assert!(
        !is_ejected(discovery, "decay", id),
        "the ejection lasts at most {nominal:?} + 10 %"
    );
}

#[tokio::test(start_paused = true)]
async fn the_count_of_ejections_drops_by_one_per_10_s_an_instance_stays_in() {
    let discovery = service("decay", &["a", "b"]);
    ejection_lasts(&discovery, "a", true, 30 * SECOND).await;
    // Back at once: the second ejection is twice as long.
    ejection_lasts(&discovery, "a", false, 60 * SECOND).await;
    // In for 10 s (one interval; the jitter above leaves it up to 6 s more): the count drops
    // from 2 to 1, so the third ejection is 2 × 30 s, not 3 × 30 s.
    tokio::time::sleep(10 * SECOND).await;
    ejection_lasts(&discovery, "a", false, 60 * SECOND).await;
    // In for 20 s: the count drops from 2 to 0, and the next ejection is the first again.
    tokio::time::sleep(20 * SECOND).await;
    ejection_lasts(&discovery, "a", false, 30 * SECOND).await;
}

#[tokio::test(start_paused = true)]
async fn never_more_than_half_of_a_services_instances_are_ejected() {
    let discovery = service("half", &["a", "b", "c", "d"]);
    for id in ["a", "b", "c", "d"] {
        fail(&discovery, "half", id, 5);
    }
    let ejected: Vec<bool> = ["a", "b", "c", "d"]
        .iter()
        .map(|id| is_ejected(&discovery, "half", id))
        .collect();
    assert_eq!(ejected, [true, true, false, false]);
    assert_eq!(discovery.discover("half").unwrap().len(), 2);

    let odd = service("odd", &["a", "b", "c"]);
    for id in ["a", "b", "c"] {
        fail(&odd, "odd", id, 5);
    }
    assert_eq!(odd.discover("odd").unwrap().len(), 2, "1 of 3 out, not 2");

    let single = service("single", &["only"]);
    fail(&single, "single", "only", 50);
    assert!(
        !is_ejected(&single, "single", "only"),
        "the last instance stays"
    );
}

#[tokio::test(start_paused = true)]
async fn once_one_is_readmitted_another_over_the_threshold_is_ejected_on_its_next_failure() {
    let discovery = service("limit", &["a", "b"]);
    fail(&discovery, "limit", "a", 5);
    fail(&discovery, "limit", "b", 5);
    assert!(
        !is_ejected(&discovery, "limit", "b"),
        "the limit holds b back"
    );
    let start = Instant::now();
    sleep_until(start + 34 * SECOND).await;
    assert!(!is_ejected(&discovery, "limit", "a"));
    // a is back on probation and b still failing: b's next failure ejects it, leaving a.
    fail(&discovery, "limit", "b", 1);
    assert!(is_ejected(&discovery, "limit", "b"));
    assert_gets_no_picks(&discovery, "limit", "b");
}

#[tokio::test(start_paused = true)]
async fn a_readmitted_instance_is_on_probation_and_one_failure_ejects_it_again() {
    let discovery = service("probation", &["a", "b"]);
    fail(&discovery, "probation", "a", 5);
    let first = Instant::now();
    sleep_until(first + 34 * SECOND).await;
    assert!(!is_ejected(&discovery, "probation", "a"));
    fail(&discovery, "probation", "a", 1);
    assert!(
        is_ejected(&discovery, "probation", "a"),
        "one failure on probation"
    );
    let second = Instant::now();
    sleep_until(second + 60 * SECOND - MS).await;
    assert!(
        is_ejected(&discovery, "probation", "a"),
        "the second ejection lasts 60 s"
    );
}

#[tokio::test(start_paused = true)]
async fn a_success_on_probation_ends_it() {
    let discovery = service("proven", &["a", "b"]);
    fail(&discovery, "proven", "a", 5);
    let start = Instant::now();
    sleep_until(start + 34 * SECOND).await;
    report(&discovery, "proven", "a", CallOutcome::Success);
    fail(&discovery, "proven", "a", 4);
    assert!(
        !is_ejected(&discovery, "proven", "a"),
        "off probation: five in a row again"
    );
    fail(&discovery, "proven", "a", 1);
    assert!(is_ejected(&discovery, "proven", "a"));
}

#[tokio::test(start_paused = true)]
async fn outlier_detection_can_be_turned_off() {
    let discovery = ServiceDiscovery::with_config(DiscoveryConfig {
        outlier: OutlierConfig {
            enabled: false,
            ..Default::default()
        },
        ..Default::default()
    });
    for id in ["a", "b"] {
        discovery
            .register(Instance::new("off", id, "127.0.0.1", 1000))
            .unwrap();
    }
    fail(&discovery, "off", "a", 50);
    assert!(!is_ejected(&discovery, "off", "a"));
}

#[tokio::test(start_paused = true)]
async fn a_deregistered_instance_stops_getting_traffic_at_once() {
    let discovery = service("gone", &["a", "b", "c"]);
    let routes: Vec<Route> = Balancer::NAMES
        .iter()
        .map(|name| Route::new("gone").balancer(Balancer::from_name(name).unwrap()))
        .collect();
    // Every route has served a (and cached its table) before the deregistration.
    for route in &routes {
        let call = discovery
            .pick(route, |endpoint| endpoint.instance().id.id != "a")
            .unwrap();
        assert_eq!(call.endpoint().instance().id.id, "a");
    }
    let in_flight = discovery
        .pick(&routes[0], |endpoint| endpoint.instance().id.id != "a")
        .unwrap();

    discovery.deregister(&InstanceId::new("gone", "a")).unwrap();
    assert!(discovery.endpoints("gone").len() == 2);
    for route in &routes {
        for _ in 0..100 {
            let call = discovery
                .pick(route, |endpoint| endpoint.instance().id.id != "a")
                .unwrap();
            assert_ne!(call.endpoint().instance().id.id, "a");
        }
    }
    for _ in 0..100 {
        assert_ne!(discovery.discover_one("gone").unwrap().id.id, "a");
    }
    assert_eq!(discovery.discover("gone").unwrap().len(), 2);

    // A call that was under way when it left ends without disturbing the others.
    discovery.report(in_flight, CallOutcome::Failure);
    assert_eq!(discovery.discover("gone").unwrap().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_unhealthy_or_ejected_instance_deregistered_stays_gone() {
    let discovery = service("both", &["a", "b", "c", "d"]);
    fail(&discovery, "both", "a", 5);
    discovery
        .set_healthy(&InstanceId::new("both", "b"), false)
        .unwrap();
    for id in ["a", "b"] {
        discovery.deregister(&InstanceId::new("both", id)).unwrap();
    }
    let start = Instant::now();
    sleep_until(start + 400 * SECOND).await;
    let mut ids: Vec<String> = discovery
        .discover("both")
        .unwrap()
        .into_iter()
        .map(|i| i.id.id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["c", "d"], "readmission does not bring a back");
}

#[tokio::test(start_paused = true)]
async fn in_flight_counts_return_to_zero_after_cancelled_calls() {
    let discovery = service("cancel", &["a", "b"]);
    let route = Route::new("cancel").balancer(Balancer::LeastConnections);
    let endpoints = discovery.endpoints("cancel");
    let total = || endpoints.iter().map(|e| e.in_flight()).sum::<u32>();

    // Calls cut short by a timeout.
    for _ in 0..10 {
        let call = discovery.pick(&route, |_| false).unwrap();
        let slow = async move {
            let _call = call;
            tokio::time::sleep(10 * SECOND).await;
        };
        assert!(tokio::time::timeout(SECOND, slow).await.is_err());
    }
    assert_eq!(total(), 0, "after timeouts");

    // Calls in tasks that are aborted while holding their guard.
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let call = discovery.pick(&route, |_| false).unwrap();
        tasks.push(tokio::spawn(async move {
            let _call = call;
            std::future::pending::<()>().await;
        }));
    }
    assert_eq!(total(), 50);
    assert!(
        endpoints.iter().all(|e| e.in_flight() > 0),
        "least connections spreads them"
    );
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        assert!(task.await.unwrap_err().is_cancelled());
    }
    assert_eq!(total(), 0, "after aborted tasks");

    // Calls that lose a select.
    for _ in 0..10 {
        let call = discovery.pick(&route, |_| false).unwrap();
        tokio::select! {
            () = async move { let _call = call; tokio::time::sleep(10 * SECOND).await } => unreachable!(),
            () = tokio::time::sleep(MS) => {}
        }
    }
    assert_eq!(total(), 0, "after lost selects");

    // A reported call releases its slot too, and the balancer sees no phantom load.
    let call = discovery.pick(&route, |_| false).unwrap();
    discovery.report(call, CallOutcome::Success);
    assert_eq!(total(), 0);
    let mut counts = [0usize; 2];
    for _ in 0..1000 {
        let call = discovery.pick(&route, |_| false).unwrap();
        let index = usize::from(call.endpoint().instance().id.id == "b");
        counts[index] += 1;
    }
    assert!(
        counts.iter().all(|n| *n > 300),
        "both instances picked: {counts:?}"
    );
}
