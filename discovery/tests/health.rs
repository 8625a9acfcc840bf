//! Active health checks: HTTP (real axum servers on loopback), TCP connect and custom checks,
//! thresholds, jitter and membership changes, on tokio's paused clock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use resilience_discovery::{
    Balancer, HealthCheck, HealthCheckEvent, HealthChecker, Instance, InstanceId, Route,
    ServiceDiscovery,
};
use tokio::sync::broadcast;
use tokio::time::{Instant, sleep_until};

const SECOND: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

fn instance(service: &str, id: &str, port: u16) -> Instance {
    Instance::new(service, id, "127.0.0.1", port)
}

fn is_healthy(discovery: &ServiceDiscovery, service: &str, id: &str) -> bool {
    discovery
        .endpoints(service)
        .iter()
        .find(|endpoint| endpoint.instance().id.id == id)
        .unwrap_or_else(|| panic!("{service}/{id} is registered"))
        .is_healthy()
}

/// A loopback HTTP server whose `/health` answers the status it is set to.
struct Server {
    port: u16,
    status: Arc<AtomicU16>,
    hits: Arc<AtomicUsize>,
}

impl Server {
    async fn start(status: StatusCode) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(AtomicU16::new(status.as_u16()));
        let hits = Arc::new(AtomicUsize::new(0));
        let (answer, counter) = (Arc::clone(&state), Arc::clone(&hits));
        let app = axum::Router::new()
            .route(
                "/health",
                axum::routing::get(move || {
                    let (answer, counter) = (Arc::clone(&answer), Arc::clone(&counter));
                    async move {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let status = StatusCode::from_u16(answer.load(Ordering::SeqCst)).unwrap();
                        // A redirect leads somewhere that would pass.
                        (status, [(axum::http::header::LOCATION, "/elsewhere")])
                    }
                }),
            )
            .route("/elsewhere", axum::routing::get(|| async { "fine" }))
            .route(
                "/slow",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server {
            port,
            status: state,
            hits,
        }
    }

    fn answer(&self, status: StatusCode) {
        self.status.store(status.as_u16(), Ordering::SeqCst);
    }
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// The next finished check.
async fn next_check(events: &mut broadcast::Receiver<HealthCheckEvent>) -> HealthCheckEvent {
    events.recv().await.expect("the checker is running")
}

/// A custom check answering per instance id (`true` unless told otherwise), recording when
/// each instance is checked.
#[derive(Clone, Default)]
struct Switchboard {
    failing: Arc<Mutex<HashMap<String, bool>>>,
    checks: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl Switchboard {
    fn fail(&self, id: &str, failing: bool) {
        self.failing.lock().unwrap().insert(id.to_owned(), failing);
    }

    fn check(&self) -> HealthCheck {
        let board = self.clone();
        HealthCheck::custom(move |instance: Instance| {
            let board = board.clone();
            async move {
                let id = instance.id.id;
                board
                    .checks
                    .lock()
                    .unwrap()
                    .push((id.clone(), Instant::now()));
                !board
                    .failing
                    .lock()
                    .unwrap()
                    .get(&id)
                    .copied()
                    .unwrap_or(false)
            }
        })
    }

    fn times_checked(&self, id: &str) -> Vec<Instant> {
        self.checks
            .lock()
            .unwrap()
            .iter()
            .filter(|(checked, _)| checked == id)
            .map(|(_, at)| *at)
            .collect()
    }

    fn count(&self) -> usize {
        self.checks.lock().unwrap().len()
    }
}

#[tokio::test(start_paused = true)]
async fn an_instance_turns_unhealthy_on_the_third_failed_check_and_healthy_on_the_second_passed_one()
 {
    let discovery = ServiceDiscovery::new();
    discovery
        .register(instance("thresholds", "a", 1001))
        .unwrap();
    let board = Switchboard::default();
    board.fail("a", true);
    let start = Instant::now();
    // Defaults: every 10 s (the discovery's `health_check_interval`), 3 failures, 2 passes.
    let _checker = discovery.start_health_checks("thresholds", board.check().jitter_factor(0.0));

    sleep_until(start + 20 * SECOND - MS).await;
    assert_eq!(board.times_checked("a").len(), 2, "checked at 0 s and 10 s");
    assert!(
        is_healthy(&discovery, "thresholds", "a"),
        "two failures are not enough"
    );
    sleep_until(start + 20 * SECOND + MS).await;
    assert!(
        !is_healthy(&discovery, "thresholds", "a"),
        "the third failure, at 20 s"
    );

    board.fail("a", false);
    sleep_until(start + 30 * SECOND + MS).await;
    assert!(
        !is_healthy(&discovery, "thresholds", "a"),
        "one pass is not enough"
    );
    sleep_until(start + 40 * SECOND + MS).await;
    assert!(
        is_healthy(&discovery, "thresholds", "a"),
        "the second pass, at 40 s"
    );
    assert_eq!(
        board.times_checked("a"),
        (0..5).map(|n| start + n * 10 * SECOND).collect::<Vec<_>>()
    );
}

#[tokio::test(start_paused = true)]
async fn a_pass_between_failures_restarts_the_count() {
    let discovery = ServiceDiscovery::new();
    discovery.register(instance("restart", "a", 1001)).unwrap();
    let board = Switchboard::default();
    let checker = discovery.start_health_checks("restart", board.check().jitter_factor(0.0));
    let mut events = checker.events();
    for failing in [true, true, false, true, true] {
        board.fail("a", failing);
        let event = next_check(&mut events).await;
        assert_eq!(event.passed(), !failing);
        assert!(event.healthy, "no three failures in a row yet");
    }
    board.fail("a", true);
    let event = next_check(&mut events).await;
    assert!(!event.healthy && event.changed, "three in a row: {event:?}");
    assert!(!is_healthy(&discovery, "restart", "a"));
}

#[tokio::test(start_paused = true)]
async fn an_unhealthy_instance_gets_no_picks_until_it_is_healthy_again() {
    let discovery = ServiceDiscovery::new();
    discovery.register(instance("picks", "a", 1001)).unwrap();
    discovery.register(instance("picks", "b", 1002)).unwrap();
    let board = Switchboard::default();
    board.fail("a", true);
    let start = Instant::now();
    let _checker = discovery.start_health_checks("picks", board.check().jitter_factor(0.0));
    sleep_until(start + 20 * SECOND + MS).await;

    let ids = |instances: Vec<Instance>| -> Vec<String> {
        instances.into_iter().map(|i| i.id.id).collect()
    };
    assert_eq!(ids(discovery.discover("picks").unwrap()), ["b"]);
    for _ in 0..100 {
        assert_eq!(discovery.discover_one("picks").unwrap().id.id, "b");
    }
    for name in Balancer::NAMES {
        let route = Route::new("picks").balancer(Balancer::from_name(name).unwrap());
        for _ in 0..100 {
            let call = discovery.pick(&route, |_| false).unwrap();
            assert_eq!(call.endpoint().instance().id.id, "b", "{name}");
        }
    }

    board.fail("a", false);
    sleep_until(start + 40 * SECOND + MS).await;
    let mut back = ids(discovery.discover("picks").unwrap());
    back.sort();
    assert_eq!(back, ["a", "b"]);
    let route = Route::new("picks").balancer(Balancer::RoundRobin);
    let picked: Vec<String> = (0..4)
        .map(|_| {
            let call = discovery.pick(&route, |_| false).unwrap();
            call.endpoint().instance().id.id.clone()
        })
        .collect();
    assert_eq!(
        picked.iter().filter(|id| *id == "a").count(),
        2,
        "{picked:?}"
    );
    assert!((0..100).any(|_| discovery.discover_one("picks").unwrap().id.id == "a"));
}

#[tokio::test(start_paused = true)]
async fn http_check_against_a_real_server_follows_its_status_with_the_thresholds() {
    let server = Server::start(StatusCode::OK).await;
    let discovery = ServiceDiscovery::new();
    discovery
        .register(instance("http", "a", server.port))
        .unwrap();
    let start = Instant::now();
    let checker =
        discovery.start_health_checks("http", HealthCheck::http("/health").jitter_factor(0.0));
    assert!(checker.is_running());
    let mut events = checker.events();

    assert!(next_check(&mut events).await.passed());
    server.answer(StatusCode::SERVICE_UNAVAILABLE);
    for n in 1..=3 {
        let event = next_check(&mut events).await;
        assert_eq!(
            Instant::now(),
            start + n * 10 * SECOND,
            "checked every 10 s"
        );
        let failure = event.failure.as_deref().expect("503 fails");
        assert!(failure.contains("503"), "{failure}");
        assert_eq!(event.healthy, n < 3, "unhealthy on the third failure");
    }
    assert!(!is_healthy(&discovery, "http", "a"));
    assert!(discovery.discover("http").unwrap().is_empty());

    server.answer(StatusCode::NO_CONTENT);
    let first = next_check(&mut events).await;
    assert!(first.passed() && !first.healthy);
    let second = next_check(&mut events).await;
    assert!(second.passed() && second.healthy && second.changed);
    assert_eq!(discovery.discover("http").unwrap().len(), 1);
    assert_eq!(server.hits.load(Ordering::SeqCst), 6);
}

#[tokio::test(start_paused = true)]
async fn http_check_passes_only_the_expected_statuses() {
    let server = Server::start(StatusCode::OK).await;
    let discovery = ServiceDiscovery::new();
    discovery
        .register(instance("statuses", "a", server.port))
        .unwrap();

    // Default 200..=299; redirects are an answer, not followed.
    let default =
        discovery.start_health_checks("statuses", HealthCheck::http("/health").jitter_factor(0.0));
    let mut events = default.events();
    for (status, passes) in [
        (StatusCode::OK, true),
        (StatusCode::NO_CONTENT, true),
        (StatusCode::MOVED_PERMANENTLY, false),
        (StatusCode::NOT_FOUND, false),
        (StatusCode::INTERNAL_SERVER_ERROR, false),
    ] {
        server.answer(status);
        assert_eq!(next_check(&mut events).await.passed(), passes, "{status}");
    }
    default.stop();

    let custom = discovery.start_health_checks(
        "statuses",
        HealthCheck::http("/health")
            .expected_statuses([200..=200, 429..=429])
            .jitter_factor(0.0),
    );
    let mut events = custom.events();
    for (status, passes) in [
        (StatusCode::OK, true),
        (StatusCode::TOO_MANY_REQUESTS, true),
        (StatusCode::NO_CONTENT, false),
    ] {
        server.answer(status);
        assert_eq!(next_check(&mut events).await.passed(), passes, "{status}");
    }
}

#[tokio::test(start_paused = true)]
async fn http_check_requests_its_path() {
    let server = Server::start(StatusCode::OK).await;
    let discovery = ServiceDiscovery::new();
    discovery
        .register(instance("path", "a", server.port))
        .unwrap();
    let checker =
        discovery.start_health_checks("path", HealthCheck::http("/ready").jitter_factor(0.0));
    let event = next_check(&mut checker.events()).await;
    let failure = event.failure.expect("the server has no /ready");
    assert!(
        failure.contains("/ready") && failure.contains("404"),
        "{failure}"
    );
    assert_eq!(server.hits.load(Ordering::SeqCst), 0, "/health not asked");
}

#[tokio::test(start_paused = true)]
async fn http_check_without_an_answer_within_the_timeout_fails() {
    let server = Server::start(StatusCode::OK).await;
    let discovery = ServiceDiscovery::new();
    discovery
        .register(instance("slow", "a", server.port))
        .unwrap();
    let start = Instant::now();
    let checker = discovery.start_health_checks(
        "slow",
        HealthCheck::http("/slow")
            .timeout(2 * SECOND)
            .jitter_factor(0.0),
    );
    let event = next_check(&mut checker.events()).await;
    assert_eq!(
        Instant::now(),
        start + 2 * SECOND,
        "given up at the timeout"
    );
    let failure = event.failure.expect("the answer comes after 5 s");
    assert!(failure.contains("2s"), "{failure}");
}

#[tokio::test(start_paused = true)]
async fn tcp_check_marks_an_instance_on_a_closed_port_unhealthy() {
    let listening = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open = listening.local_addr().unwrap().port();
    let closed = closed_port().await;
    let discovery = ServiceDiscovery::new();
    discovery.register(instance("tcp", "open", open)).unwrap();
    discovery
        .register(instance("tcp", "closed", closed))
        .unwrap();
    let start = Instant::now();
    let checker = discovery.start_health_checks("tcp", HealthCheck::tcp().jitter_factor(0.0));
    let mut events = checker.events();
    let mut failures = 0;
    while failures < 3 {
        let event = next_check(&mut events).await;
        match event.instance.id.as_str() {
            "open" => assert!(event.passed(), "{event:?}"),
            _ => {
                let failure = event.failure.expect("nothing listens");
                assert!(failure.contains(&closed.to_string()), "{failure}");
                failures += 1;
            }
        }
    }
    assert_eq!(Instant::now(), start + 20 * SECOND);
    assert!(!is_healthy(&discovery, "tcp", "closed"));
    assert!(is_healthy(&discovery, "tcp", "open"));
    let eligible: Vec<u16> = discovery
        .discover("tcp")
        .unwrap()
        .iter()
        .map(|i| i.port)
        .collect();
    assert_eq!(eligible, [open]);
    drop(listening);
}

#[tokio::test(start_paused = true)]
async fn first_checks_are_jittered_not_all_at_start() {
    let discovery = ServiceDiscovery::new();
    for n in 0..20 {
        discovery
            .register(instance("jitter", &format!("i{n}"), 1000 + n))
            .unwrap();
    }
    let board = Switchboard::default();
    let start = Instant::now();
    // Default jitter: up to 10 % of the 10 s interval.
    let _checker = discovery.start_health_checks("jitter", board.check());
    sleep_until(start + 25 * SECOND).await;

    let mut firsts = Vec::new();
    let mut gaps = Vec::new();
    for n in 0..20 {
        let times = board.times_checked(&format!("i{n}"));
        assert!(times.len() >= 2, "i{n} checked {} times", times.len());
        assert!(times[0] <= start + SECOND, "first check within the jitter");
        let gap = times[1] - times[0];
        assert!(
            (10 * SECOND..=11 * SECOND).contains(&gap),
            "then the interval plus at most 10 %: {gap:?}"
        );
        firsts.push(times[0]);
        gaps.push(gap);
    }
    gaps.sort();
    gaps.dedup();
    assert!(gaps.len() > 10, "intervals jittered too: {gaps:?}");
    firsts.sort();
    firsts.dedup();
    assert!(
        firsts.len() > 10,
        "first checks spread out, not in lockstep: {} distinct times",
        firsts.len()
    );
    assert!(
        firsts.iter().any(|first| *first > start),
        "not all at t = 0"
    );
}

#[tokio::test(start_paused = true)]
async fn instances_registered_later_are_checked_and_deregistered_ones_no_longer() {
    let discovery = ServiceDiscovery::new();
    discovery.register(instance("members", "a", 1001)).unwrap();
    let board = Switchboard::default();
    let start = Instant::now();
    let _checker = discovery.start_health_checks("members", board.check().jitter_factor(0.0));

    sleep_until(start + 5 * SECOND).await;
    discovery
        .register(instance("members", "late", 1002))
        .unwrap();
    sleep_until(start + 5 * SECOND + MS).await;
    assert_eq!(
        board.times_checked("late"),
        [start + 5 * SECOND],
        "checked at once"
    );
    discovery
        .deregister(&InstanceId::new("members", "a"))
        .unwrap();
    sleep_until(start + 60 * SECOND).await;
    assert_eq!(
        board.times_checked("a"),
        [start],
        "not checked after deregistration at 5 s"
    );
    assert_eq!(board.times_checked("late").len(), 6, "5, 15, …, 55 s");
    // Other services are not this checker's business.
    discovery.register(instance("others", "x", 1003)).unwrap();
    sleep_until(start + 80 * SECOND).await;
    assert!(board.times_checked("x").is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_re_registered_instance_is_counted_afresh() {
    let discovery = ServiceDiscovery::new();
    discovery.register(instance("fresh", "a", 1001)).unwrap();
    let board = Switchboard::default();
    board.fail("a", true);
    let checker = discovery.start_health_checks("fresh", board.check().jitter_factor(0.0));
    let mut events = checker.events();
    next_check(&mut events).await;
    next_check(&mut events).await;
    // A new registration (say, the instance restarted on another port) starts healthy with
    // no failures counted.
    discovery.register(instance("fresh", "a", 2001)).unwrap();
    for _ in 0..2 {
        assert!(next_check(&mut events).await.healthy);
    }
    assert!(!next_check(&mut events).await.healthy);
}

#[tokio::test(start_paused = true)]
async fn stopping_the_checker_stops_checks_and_keeps_health_as_it_is() {
    let discovery = ServiceDiscovery::new();
    discovery.register(instance("stop", "a", 1001)).unwrap();
    let board = Switchboard::default();
    board.fail("a", true);
    let start = Instant::now();
    let checker = discovery.start_health_checks("stop", board.check().jitter_factor(0.0));
    sleep_until(start + 25 * SECOND).await;
    assert_eq!(board.count(), 3);
    assert!(!is_healthy(&discovery, "stop", "a"));

    checker.stop();
    board.fail("a", false);
    sleep_until(start + 200 * SECOND).await;
    assert_eq!(board.count(), 3, "no check after stop");
    assert!(!is_healthy(&discovery, "stop", "a"));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_checker_stops_checks() {
    let discovery = ServiceDiscovery::new();
    discovery.register(instance("drop", "a", 1001)).unwrap();
    let board = Switchboard::default();
    let start = Instant::now();
    let checker: HealthChecker =
        discovery.start_health_checks("drop", board.check().jitter_factor(0.0));
    assert_eq!(checker.service(), "drop");
    sleep_until(start + 15 * SECOND).await;
    assert_eq!(board.count(), 2);
    drop(checker);
    sleep_until(start + 200 * SECOND).await;
    assert_eq!(board.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_custom_check_that_panics_or_hangs_fails_and_checking_goes_on() {
    let discovery = ServiceDiscovery::new();
    discovery
        .register(instance("wild", "panics", 1001))
        .unwrap();
    discovery.register(instance("wild", "hangs", 1002)).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let check = HealthCheck::custom(move |instance: Instance| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if instance.id.id == "panics" {
                panic!("a custom check panicked (this panic is expected by the test)");
            }
            std::future::pending::<bool>().await
        }
    })
    .jitter_factor(0.0);
    let checker = discovery.start_health_checks("wild", check);
    let mut events = checker.events();
    let mut failures: HashMap<String, usize> = HashMap::new();
    while failures.values().filter(|n| **n >= 3).count() < 2 {
        let event = next_check(&mut events).await;
        let failure = event.failure.expect("neither passes");
        let expected = if event.instance.id == "panics" {
            "panicked"
        } else {
            "no answer within 2s"
        };
        assert!(failure.contains(expected), "{failure}");
        *failures.entry(event.instance.id).or_default() += 1;
    }
    assert!(checker.is_running());
    assert!(discovery.discover("wild").unwrap().is_empty());
    assert!(calls.load(Ordering::SeqCst) >= 6);
}

#[tokio::test(start_paused = true)]
async fn the_interval_and_timeout_default_to_the_discovery_configuration() {
    let discovery = ServiceDiscovery::with_config(resilience_discovery::DiscoveryConfig {
        health_check_interval: 3 * SECOND,
        health_check_timeout: 500 * MS,
        ..Default::default()
    });
    discovery
        .register(instance("configured", "a", 1001))
        .unwrap();
    let start = Instant::now();
    let check = HealthCheck::custom(|_| std::future::pending::<bool>()).jitter_factor(0.0);
    let checker = discovery.start_health_checks("configured", check);
    let mut events = checker.events();
    for n in 0..3 {
        let event = next_check(&mut events).await;
        // Each check gives up after 500 ms; the next starts 3 s after that.
        assert_eq!(
            Instant::now(),
            start + n * (3 * SECOND + 500 * MS) + 500 * MS
        );
        assert!(!event.passed());
    }
}
