//! The etcd backend against a real etcd (started by `support::Etcd`): visibility across
//! discoveries, lease expiry of a dead process, malformed keys, etcd killed and restarted, a
//! partition long enough for a compaction. Skipped with a notice when etcd is not installed
//! (never under `scripts/test`, which sets `RESILIENCE_REQUIRE_ETCD=1`).

mod support;

use std::time::Duration;

use resilience_discovery::{DiscoveryError, EtcdOptions, Instance, InstanceId, ServiceDiscovery};
use support::{Etcd, Proxy, eventually};

const PREFIX: &str = "/resilience/test";
const VISIBLE: Duration = Duration::from_secs(2);

async fn connect(endpoint: &str, ttl: Duration) -> ServiceDiscovery {
    ServiceDiscovery::connect_etcd(
        EtcdOptions::new([endpoint])
            .prefix(PREFIX)
            .lease_ttl(ttl)
            .request_timeout(Duration::from_millis(500)),
    )
    .await
    .expect("etcd answers")
}

fn ids(discovery: &ServiceDiscovery, service: &str) -> Vec<String> {
    let mut ids: Vec<String> = discovery
        .discover(service)
        .unwrap()
        .into_iter()
        .map(|instance| instance.id.id)
        .collect();
    ids.sort();
    ids
}

fn has(discovery: &ServiceDiscovery, service: &str, id: &str) -> bool {
    ids(discovery, service).iter().any(|seen| seen == id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_an_endpoint_that_does_not_answer_is_an_error() {
    // A port nobody listens on: the lazy channel would connect, the first request cannot.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = ServiceDiscovery::connect_etcd(
        EtcdOptions::new([format!("http://127.0.0.1:{port}")])
            .request_timeout(Duration::from_millis(300)),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, DiscoveryError::Backend { .. }), "{error}");
    assert!(
        error.to_string().contains("no etcd endpoint answers"),
        "{error}"
    );

    let error = ServiceDiscovery::connect_etcd(
        EtcdOptions::new(["http://127.0.0.1:1"]).lease_ttl(Duration::from_secs(1)),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("minimum of 2 s"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_is_visible_at_once_locally_and_within_2s_in_another_discovery() {
    let Some(etcd) = Etcd::start("a_registration_is_visible") else {
        return;
    };
    let a = connect(&etcd.endpoint(), Duration::from_secs(5)).await;
    let b = connect(&etcd.endpoint(), Duration::from_secs(5)).await;
    a.register(Instance::new("users", "u1", "10.0.0.1", 8080).with_metadata("version", "2.1.0"))
        .unwrap();
    // Own snapshot: at once, no waiting.
    assert_eq!(ids(&a, "users"), ["u1"]);
    assert!(eventually(VISIBLE, || has(&b, "users", "u1")).await);
    let seen = b.discover_one("users").unwrap();
    assert_eq!(seen.host, "10.0.0.1");
    assert_eq!(
        seen.metadata.get("version").map(String::as_str),
        Some("2.1.0")
    );
    // The key layout and the JSON value of the contract.
    let value = etcd.ctl(&["get", "--print-value-only", &format!("{PREFIX}/users/u1")]);
    assert!(
        value.contains("\"service\":\"users\"") && value.contains("\"port\":8080"),
        "{value}"
    );

    a.deregister(&InstanceId::new("users", "u1")).unwrap();
    assert!(ids(&a, "users").is_empty());
    assert!(eventually(VISIBLE, || ids(&b, "users").is_empty()).await);
    assert!(!a.is_stale() && !b.is_stale());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_discovery_revokes_its_lease() {
    let Some(etcd) = Etcd::start("dropping_a_discovery_revokes_its_lease") else {
        return;
    };
    let a = connect(&etcd.endpoint(), Duration::from_secs(15)).await;
    let b = connect(&etcd.endpoint(), Duration::from_secs(15)).await;
    a.register(Instance::new("users", "u1", "10.0.0.1", 8080))
        .unwrap();
    assert!(eventually(VISIBLE, || has(&b, "users", "u1")).await);
    drop(a);
    // Far sooner than the 15 s TTL: the lease was revoked.
    assert!(eventually(VISIBLE, || ids(&b, "users").is_empty()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_that_stops_heart_beating_disappears_within_ttl_plus_1s() {
    let Some(etcd) = Etcd::start("a_process_that_stops_heart_beating") else {
        return;
    };
    let ttl = Duration::from_secs(2);
    let observer = connect(&etcd.endpoint(), ttl).await;
    // Another "process": its own runtime, dropped without the discovery ever being dropped,
    // so nothing revokes the lease and nothing keeps it alive.
    let endpoint = etcd.endpoint();
    let dead = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let discovery = connect(&endpoint, ttl).await;
            discovery
                .register(Instance::new("users", "dying", "10.0.0.9", 80))
                .unwrap();
            // Heart-beats for a while (several keep-alives) before it dies.
            tokio::time::sleep(ttl * 2).await;
            std::mem::forget(discovery);
        });
    });
    assert!(eventually(VISIBLE, || has(&observer, "users", "dying")).await);
    tokio::task::spawn_blocking(move || dead.join().unwrap())
        .await
        .unwrap();
    // Still there after 2 TTLs of life: the keep-alive worked.
    let died = tokio::time::Instant::now();
    assert!(
        eventually(ttl + Duration::from_secs(1), || ids(&observer, "users")
            .is_empty())
        .await,
        "still registered {:?} after the process died",
        died.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_keys_are_skipped_and_the_other_instances_still_resolve() {
    let Some(etcd) = Etcd::start("malformed_keys_are_skipped") else {
        return;
    };
    let good = |id: &str| {
        format!(r#"{{"service":"users","id":"{id}","host":"10.0.0.1","port":80,"metadata":{{}}}}"#)
    };
    // Before the discovery lists...
    etcd.ctl(&["put", &format!("{PREFIX}/users/listed"), &good("listed")]);
    etcd.ctl(&["put", &format!("{PREFIX}/users/garbage"), "not json"]);
    etcd.ctl(&[
        "put",
        &format!("{PREFIX}/users/other"),
        &good("someone-else"),
    ]);
    etcd.ctl(&["put", &format!("{PREFIX}/loose-key"), &good("loose")]);
    let discovery = connect(&etcd.endpoint(), Duration::from_secs(5)).await;
    assert_eq!(ids(&discovery, "users"), ["listed"]);
    // ...and while it watches.
    etcd.ctl(&["put", &format!("{PREFIX}/users/watched"), &good("watched")]);
    etcd.ctl(&[
        "put",
        &format!("{PREFIX}/users/garbage2"),
        "{\"service\":1}",
    ]);
    etcd.ctl(&[
        "put",
        &format!("{PREFIX}/users/bad-weight"),
        r#"{"service":"users","id":"bad-weight","host":"h","port":1,"metadata":{"weight":"x"}}"#,
    ]);
    assert!(eventually(VISIBLE, || has(&discovery, "users", "watched")).await);
    // A valid instance overwritten by garbage is gone.
    etcd.ctl(&["put", &format!("{PREFIX}/users/listed"), "garbage"]);
    assert!(eventually(VISIBLE, || !has(&discovery, "users", "listed")).await);
    assert_eq!(ids(&discovery, "users"), ["watched"]);
    assert_eq!(discovery.discover_one("users").unwrap().id.id, "watched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_etcd_killed_reads_serve_the_snapshot_and_a_restart_restores_everything() {
    let Some(mut etcd) = Etcd::start("with_etcd_killed") else {
        return;
    };
    let ttl = Duration::from_secs(3);
    let a = connect(&etcd.endpoint(), ttl).await;
    let b = connect(&etcd.endpoint(), ttl).await;
    a.register(Instance::new("users", "u1", "10.0.0.1", 80))
        .unwrap();
    a.register(Instance::new("users", "u2", "10.0.0.2", 80))
        .unwrap();
    assert!(eventually(VISIBLE, || ids(&b, "users") == ["u1", "u2"]).await);

    etcd.kill();
    assert!(
        eventually(Duration::from_secs(5), || b.is_stale()).await,
        "b never noticed"
    );
    assert!(
        eventually(Duration::from_secs(5), || a.is_stale()).await,
        "a never noticed"
    );
    // Longer than the TTL without etcd: nothing is dropped, every pick succeeds.
    let down = tokio::time::Instant::now();
    while down.elapsed() < ttl + Duration::from_secs(1) {
        assert!(b.discover_one("users").is_ok());
        assert_eq!(ids(&b, "users"), ["u1", "u2"]);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Registering while etcd is down returns at once and shows locally.
    a.register(Instance::new("users", "u3", "10.0.0.3", 80))
        .unwrap();
    assert_eq!(ids(&a, "users"), ["u1", "u2", "u3"]);
    assert!(b.is_stale());

    tokio::task::block_in_place(|| etcd.restart());
    assert!(eventually(Duration::from_secs(10), || !b.is_stale() && !a.is_stale()).await);
    assert!(
        eventually(Duration::from_secs(10), || ids(&b, "users")
            == ["u1", "u2", "u3"])
        .await,
        "b sees {:?}",
        ids(&b, "users")
    );
    a.register(Instance::new("users", "u4", "10.0.0.4", 80))
        .unwrap();
    assert!(eventually(VISIBLE, || has(&b, "users", "u4")).await);
    // Still registered a TTL later: the keep-alive runs again.
    tokio::time::sleep(ttl + Duration::from_secs(1)).await;
    assert_eq!(ids(&b, "users"), ["u1", "u2", "u3", "u4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_registrations_come_back_after_their_lease_is_revoked_in_etcd() {
    let Some(etcd) = Etcd::start("own_registrations_come_back") else {
        return;
    };
    let ttl = Duration::from_secs(3);
    let a = connect(&etcd.endpoint(), ttl).await;
    let b = connect(&etcd.endpoint(), ttl).await;
    a.register(Instance::new("users", "u1", "10.0.0.1", 80))
        .unwrap();
    assert!(eventually(VISIBLE, || has(&b, "users", "u1")).await);
    for line in etcd.ctl(&["lease", "list"]).lines().skip(1) {
        etcd.ctl(&["lease", "revoke", line.trim()]);
    }
    assert!(eventually(VISIBLE, || !has(&b, "users", "u1")).await);
    // The next keep-alive (every ttl/3) finds the lease gone: re-granted, re-put.
    assert!(eventually(ttl + Duration::from_secs(1), || has(&b, "users", "u1")).await);
    // The own snapshot never lost it.
    assert_eq!(ids(&a, "users"), ["u1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_cancelled_by_compaction_recovers_without_losing_a_change() {
    let Some(etcd) = Etcd::start("a_watch_cancelled_by_compaction") else {
        return;
    };
    let ttl = Duration::from_secs(15);
    let mut proxy = Proxy::start(etcd.client_port()).await;
    let writer = connect(&etcd.endpoint(), ttl).await;
    let reader = connect(&proxy.endpoint(), ttl).await;
    writer
        .register(Instance::new("users", "kept", "10.0.0.1", 80))
        .unwrap();
    writer
        .register(Instance::new("users", "removed", "10.0.0.2", 80))
        .unwrap();
    assert!(eventually(VISIBLE, || ids(&reader, "users") == ["kept", "removed"]).await);

    // A partition: the reader's watch breaks and it cannot reach etcd.
    proxy.cut();
    assert!(eventually(Duration::from_secs(5), || reader.is_stale()).await);
    writer
        .deregister(&InstanceId::new("users", "removed"))
        .unwrap();
    writer
        .register(Instance::new("users", "added", "10.0.0.3", 80))
        .unwrap();
    writer
        .register(Instance::new("users", "kept", "10.0.0.1", 81))
        .unwrap();
    let expected = ["added", "kept"];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while etcd
        .ctl(&["get", "--prefix", "--keys-only", PREFIX])
        .lines()
        .filter(|l| !l.is_empty())
        .count()
        != 2
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the writer's changes never reached etcd"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Compacting past every change: the reader's resumed watch starts before the compaction.
    etcd.ctl(&["compact", &etcd.revision().to_string()]);
    proxy.resume().await;
    assert!(
        eventually(Duration::from_secs(10), || ids(&reader, "users")
            == expected
            && reader
                .discover("users")
                .unwrap()
                .iter()
                .any(|i| i.port == 81))
        .await,
        "reader sees {:?}",
        ids(&reader, "users")
    );
    assert!(eventually(Duration::from_secs(5), || !reader.is_stale()).await);
    // And it follows changes again.
    writer
        .register(Instance::new("users", "later", "10.0.0.4", 80))
        .unwrap();
    assert!(eventually(VISIBLE, || has(&reader, "users", "later")).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_etcd_recreated_empty_gets_every_registration_back() {
    let Some(mut etcd) = Etcd::start("an_etcd_recreated_empty") else {
        return;
    };
    let ttl = Duration::from_secs(3);
    let a = connect(&etcd.endpoint(), ttl).await;
    let b = connect(&etcd.endpoint(), ttl).await;
    // Enough changes in etcd that the old revisions are well ahead of the new store's.
    for i in 0..10 {
        a.register(Instance::new("users", format!("u{i}"), "10.0.0.1", 80))
            .unwrap();
        assert!(eventually(VISIBLE, || has(&b, "users", &format!("u{i}"))).await);
    }
    for i in 1..10 {
        a.deregister(&InstanceId::new("users", format!("u{i}")))
            .unwrap();
    }
    // Another process's instance, which the recreated etcd will not have.
    etcd.ctl(&[
        "put",
        &format!("{PREFIX}/users/gone"),
        r#"{"service":"users","id":"gone","host":"10.0.0.9","port":80}"#,
    ]);
    assert!(eventually(VISIBLE, || ids(&b, "users") == ["gone", "u0"]).await);
    tokio::task::block_in_place(|| etcd.recreate());
    // a re-grants its lease and re-puts u0; b lists again (and drops `gone`) instead of
    // waiting for revisions the new store has not reached.
    a.register(Instance::new("users", "fresh", "10.0.0.2", 80))
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || ids(&b, "users")
            == ["fresh", "u0"])
        .await,
        "b sees {:?}",
        ids(&b, "users")
    );
    assert!(!b.is_stale());
}

/// The events of target `resilience::discovery` emitted on the capturing thread: (level,
/// message).
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<(tracing::Level, String)>>>);

impl Captured {
    fn count(&self, level: tracing::Level, message: &str) -> usize {
        let events = self.0.lock().unwrap();
        events
            .iter()
            .filter(|(at, text)| *at == level && text.starts_with(message))
            .count()
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Captured {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        if event.metadata().target() != "resilience::discovery" {
            return;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let level = *event.metadata().level();
        self.0.lock().unwrap().push((level, message.0));
    }
}

const OUTAGE: &str = "etcd is unreachable";
const RETRY: &str = "etcd watch attempt failed";

/// Kills etcd, then calls through the discovery until it is stale and its watcher has failed
/// to reach etcd `attempts` more times; whether that happened within 20 s. Every call succeeds.
async fn outage(etcd: &mut Etcd, discovery: &ServiceDiscovery, log: &Captured, attempts: usize) {
    let before = log.count(tracing::Level::DEBUG, RETRY);
    etcd.kill();
    let mut calls = 0;
    let reached = eventually(Duration::from_secs(20), || {
        for _ in 0..100 {
            assert_eq!(discovery.discover_one("users").unwrap().id.id, "u1");
            calls += 1;
        }
        discovery.is_stale() && log.count(tracing::Level::DEBUG, RETRY) >= before + attempts
    })
    .await;
    assert!(reached, "no outage seen: stale {}", discovery.is_stale());
    assert!(calls >= 100);
}

// One thread (tokio's default test runtime): every task of the discovery runs on the thread
// whose default subscriber captures, and no other test's events reach it.
#[tokio::test]
async fn an_etcd_outage_is_warned_once_however_many_calls_and_retries_it_lasts() {
    use tracing_subscriber::layer::SubscriberExt;
    let Some(mut etcd) = Etcd::start("an_etcd_outage_is_warned_once") else {
        return;
    };
    let log = Captured::default();
    let _capture =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(log.clone()));
    let discovery = connect(&etcd.endpoint(), Duration::from_secs(3)).await;
    discovery
        .register(Instance::new("users", "u1", "10.0.0.1", 80))
        .unwrap();
    assert_eq!(log.count(tracing::Level::WARN, OUTAGE), 0);

    // Hundreds of calls and several failed reconnections: one warning.
    outage(&mut etcd, &discovery, &log, 3).await;
    assert_eq!(log.count(tracing::Level::WARN, OUTAGE), 1);

    // etcd back, then down again: a second outage, a second warning.
    etcd.restart();
    assert!(eventually(Duration::from_secs(10), || !discovery.is_stale()).await);
    assert_eq!(log.count(tracing::Level::WARN, OUTAGE), 1);
    outage(&mut etcd, &discovery, &log, 3).await;
    assert_eq!(log.count(tracing::Level::WARN, OUTAGE), 2);
}
