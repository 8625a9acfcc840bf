//! Configuration overrides (contract §7): a real TOML file on disk and the environment's
//! variables over the attributes' arguments, by normalised name, all or nothing.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use resilience::config::{Origin, OverrideError, Overrides, normalize};
use resilience::{
    BulkheadConfig, CircuitBreakerConfig, PolicyConfig, PolicyKind, Registry, ResilienceError,
    RetryConfig, TimeoutConfig, bulkhead, circuit_breaker, registry, retry, timeout,
};

/// A file in a fresh directory of the system's temporary one, removed when dropped.
struct TempFile {
    dir: PathBuf,
    path: PathBuf,
}

impl TempFile {
    fn new(text: &str) -> TempFile {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "resilience-config-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("resilience.toml");
        std::fs::write(&path, text).unwrap();
        TempFile { dir, path }
    }
}

impl TempFile {
    /// Replaces the file's content at once, as editors and deployment tools do (a new file
    /// renamed over it): the watch never reads it half written.
    fn replace(&self, text: &str) {
        let staged = self.dir.join("resilience.toml.new");
        std::fs::write(&staged, text).unwrap();
        std::fs::rename(&staged, &self.path).unwrap();
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn listed_config(kind: PolicyKind, name: &str) -> PolicyConfig {
    registry()
        .policies()
        .into_iter()
        .find(|policy| policy.kind == kind && policy.name == name)
        .unwrap_or_else(|| panic!("{kind} `{name}` not listed"))
        .config
}

#[test]
fn names_normalise_by_case_and_runs_of_other_characters() {
    assert_eq!(normalize("user-service"), "user_service");
    assert_eq!(normalize("USER_SERVICE"), "user_service");
    assert_eq!(normalize("User  --Service"), "user_service");
    assert_eq!(normalize("my_app::get_user"), "my_app_get_user");
}

#[test]
fn a_file_parses_into_overrides_by_kind_and_normalised_name() {
    let file = TempFile::new(
        r#"
[circuit_breaker."user-service"]
max_failures = 10
reset_timeout = "30s"
[retry."my_app::get_user"]
max_retries = 5
[bulkhead."user-service"]
max_concurrent_calls = 50
enabled = false
[timeout."my_app::get_user"]
duration = "2s"
"#,
    );
    let overrides = Overrides::from_file(&file.path).unwrap();
    assert_eq!(
        overrides.names(),
        vec![
            (PolicyKind::CircuitBreaker, "user-service".to_owned()),
            (PolicyKind::Retry, "my_app::get_user".to_owned()),
            (PolicyKind::Timeout, "my_app::get_user".to_owned()),
            (PolicyKind::Bulkhead, "user-service".to_owned()),
        ]
    );
}

#[test]
fn errors_name_the_file_the_line_and_the_key() {
    let file = TempFile::new("[retry.\"a\"]\nmax_retries = 2\nmax_retrys = 3\n");
    let error = Overrides::from_file(&file.path).unwrap_err();
    let OverrideError::Invalid(invalid) = &error else {
        panic!("{error:?}")
    };
    let (origin, key, name) = (&invalid.origin, &invalid.key, &invalid.name);
    assert_eq!(
        origin,
        &Origin::File {
            path: file.path.clone(),
            line: 3
        }
    );
    assert_eq!((key.as_str(), name.as_str()), ("max_retrys", "a"));
    let message = error.to_string();
    assert!(message.contains("resilience.toml:3"), "{message}");
    assert!(message.contains("max_retries"), "lists the keys: {message}");

    // Not TOML at all: the line of the syntax error.
    let broken = TempFile::new("[retry.\"a\"]\nmax_retries = = 2\n");
    match Overrides::from_file(&broken.path).unwrap_err() {
        OverrideError::Parse { path, line, .. } => {
            assert_eq!((path, line), (broken.path.clone(), 2));
        }
        other => panic!("{other:?}"),
    }
    // A missing file names it.
    let missing = broken.dir.join("missing.toml");
    let error = Overrides::from_file(&missing).unwrap_err();
    assert!(error.to_string().contains("missing.toml"), "{error}");
    // An unknown section.
    let section = TempFile::new("\n[circuit_braker.\"a\"]\nmax_failures = 2\n");
    let error = Overrides::from_file(&section.path).unwrap_err();
    assert!(
        matches!(&error, OverrideError::Parse { line: 2, .. }),
        "{error:?}"
    );
}

#[circuit_breaker(name = "cfg-precedence", max_failures = 3)]
#[retry(name = "cfg-precedence", max_retries = 1, base_delay = "1ms")]
async fn precedence_target() -> Result<(), ResilienceError> {
    Ok(())
}

#[test]
fn the_environment_wins_over_the_file_which_wins_over_the_attribute() {
    let file = TempFile::new(
        "[circuit_breaker.\"cfg-precedence\"]\nmax_failures = 10\nreset_timeout = \"30s\"\n[retry.cfg_precedence]\nmax_retries = 4\n",
    );
    let registry = Registry::new();
    let overrides = Overrides::from_file(&file.path)
        .unwrap()
        .with_vars(
            "RESILIENCE",
            [
                (
                    "RESILIENCE__CIRCUIT_BREAKER__CFG_PRECEDENCE__MAX_FAILURES",
                    "12",
                ),
                ("UNRELATED__RETRY__X__MAX_RETRIES", "nonsense"),
            ],
        )
        .unwrap();
    registry.apply(&overrides).unwrap();
    // The breaker is not used yet: its first use gets the overrides.
    let breaker = registry
        .circuit_breaker_or_register(
            "cfg-precedence",
            &CircuitBreakerConfig {
                max_failures: 3,
                ..CircuitBreakerConfig::DEFAULT
            },
        )
        .unwrap();
    assert_eq!(
        breaker.config(),
        &CircuitBreakerConfig {
            max_failures: 12,
            reset_timeout: Duration::from_secs(30),
            ..CircuitBreakerConfig::DEFAULT
        }
    );
    // A key neither overrides is the attribute's; one nobody wrote is the default.
    let plain = registry
        .bulkhead_or_register("cfg-untouched", &BulkheadConfig::DEFAULT)
        .unwrap();
    assert_eq!(plain.config(), &BulkheadConfig::DEFAULT);
}

#[test]
fn env_variables_that_name_no_kind_or_key_are_errors_naming_them() {
    let error = Overrides::new()
        .with_vars(
            "RESILIENCE",
            [("RESILIENCE__CIRCUIT_BREAKER__X__MAX_FAILURE", "3")],
        )
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("RESILIENCE__CIRCUIT_BREAKER__X__MAX_FAILURE"),
        "{message}"
    );
    let error = Overrides::new()
        .with_vars(
            "RESILIENCE",
            [("RESILIENCE__BREAKER__X__MAX_FAILURES", "3")],
        )
        .unwrap_err();
    assert!(error.to_string().contains("policy kind"), "{error}");
}

#[test]
fn an_out_of_range_value_is_refused_and_changes_nothing() {
    let registry = Registry::new();
    let good = Overrides::from_toml(
        "[bulkhead.\"cfg-range\"]\nmax_concurrent_calls = 5\n",
        "a.toml",
    )
    .unwrap();
    registry.apply(&good).unwrap();
    let bad = Overrides::from_toml(
        "[bulkhead.\"cfg-range\"]\nmax_concurrent_calls = 0\n[retry.\"cfg-range\"]\njitter_factor = 2.5\n",
        "b.toml",
    )
    .unwrap();
    let error = registry.apply(&bad).unwrap_err();
    let OverrideError::Several(errors) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(errors.len(), 2, "{errors:?}");
    let message = error.to_string();
    assert!(
        message.contains("b.toml:2") && message.contains("max_concurrent_calls"),
        "{message}"
    );
    assert!(
        message.contains("b.toml:4") && message.contains("jitter_factor"),
        "{message}"
    );
    // The good overrides stay.
    let bulkhead = registry
        .bulkhead_or_register("cfg-range", &BulkheadConfig::DEFAULT)
        .unwrap();
    assert_eq!(bulkhead.max_concurrent_calls(), 5);
}

#[test]
fn two_registered_names_that_normalise_alike_make_apply_an_error_naming_both() {
    let registry = Registry::new();
    registry
        .circuit_breaker_or_register("pay-service", &CircuitBreakerConfig::DEFAULT)
        .unwrap();
    registry
        .circuit_breaker_or_register("PAY_SERVICE", &CircuitBreakerConfig::DEFAULT)
        .unwrap();
    let error = registry.apply(&Overrides::new()).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("pay-service") && message.contains("PAY_SERVICE"),
        "{message}"
    );
}

#[test]
fn overrides_for_names_never_used_are_reported() {
    let registry = Registry::new();
    let overrides = Overrides::from_toml(
        "[circuit_breaker.\"usr-service\"]\nmax_failures = 2\n",
        "c.toml",
    )
    .unwrap();
    registry.apply(&overrides).unwrap();
    assert_eq!(
        registry.unmatched_overrides(),
        vec![(PolicyKind::CircuitBreaker, "usr-service".to_owned())]
    );
}

/// Held by the tests that apply overrides to the process-wide registry: each `apply` replaces
/// the previous overrides as a whole.
static PROCESS_WIDE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

static CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(
    name = "cfg-hot-retry",
    max_retries = 1,
    base_delay = "1ms",
    jitter_factor = 0.0
)]
#[timeout("10s", name = "cfg-hot-timeout")]
async fn always_fails() -> Result<(), ResilienceError> {
    CALLS.fetch_add(1, Ordering::SeqCst);
    Err(ResilienceError::Operation("down".into()))
}

#[tokio::test(start_paused = true)]
async fn retry_and_timeout_overrides_apply_to_the_next_call_and_can_be_disabled() {
    // The process-wide registry: the attributes' sites are in it. Only this test names them.
    let _only_us = PROCESS_WIDE.lock().await;
    CALLS.store(0, Ordering::SeqCst);
    always_fails().await.unwrap_err();
    assert_eq!(CALLS.swap(0, Ordering::SeqCst), 2);

    let overrides = Overrides::from_toml(
        "[retry.cfg_hot_retry]\nmax_retries = 4\n[timeout.cfg-hot-timeout]\nduration = \"3s\"\n",
        "d.toml",
    )
    .unwrap();
    registry().apply(&overrides).unwrap();
    always_fails().await.unwrap_err();
    assert_eq!(CALLS.swap(0, Ordering::SeqCst), 5);
    assert_eq!(
        listed_config(PolicyKind::Retry, "cfg-hot-retry"),
        PolicyConfig::Retry(RetryConfig {
            max_retries: 4,
            base_delay: Duration::from_millis(1),
            jitter_factor: 0.0,
            ..RetryConfig::DEFAULT
        })
    );
    assert_eq!(
        listed_config(PolicyKind::Timeout, "cfg-hot-timeout"),
        PolicyConfig::Timeout(TimeoutConfig {
            timeout: Duration::from_secs(3)
        })
    );

    // `enabled = false`: one attempt.
    let disabled = Overrides::new()
        .with_vars(
            "RESILIENCE",
            [("RESILIENCE__RETRY__CFG_HOT_RETRY__ENABLED", "false")],
        )
        .unwrap();
    registry().apply(&disabled).unwrap();
    always_fails().await.unwrap_err();
    assert_eq!(CALLS.swap(0, Ordering::SeqCst), 1);

    // Empty overrides: the attribute's configuration again.
    registry().apply(&Overrides::new()).unwrap();
    always_fails().await.unwrap_err();
    assert_eq!(CALLS.swap(0, Ordering::SeqCst), 2);
}

#[timeout("50ms", name = "cfg-timeout-disabled")]
async fn slow() -> Result<(), ResilienceError> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(())
}

#[bulkhead(
    name = "cfg-bulkhead-disabled",
    max_concurrent_calls = 1,
    max_queue_size = 0
)]
async fn held(release: tokio::sync::oneshot::Receiver<()>) -> Result<(), ResilienceError> {
    let _ = release.await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_disabled_timeout_or_bulkhead_passes_calls_through() {
    let _only_us = PROCESS_WIDE.lock().await;
    assert!(matches!(slow().await, Err(ResilienceError::Timeout { .. })));
    let (release, first) = tokio::sync::oneshot::channel();
    let holder = tokio::spawn(held(first));
    tokio::task::yield_now().await;
    let (_keep, second) = tokio::sync::oneshot::channel::<()>();
    assert!(matches!(
        held(second).await,
        Err(ResilienceError::BulkheadFull { .. })
    ));

    let overrides = Overrides::from_toml(
        "[timeout.cfg-timeout-disabled]\nenabled = false\n[bulkhead.cfg-bulkhead-disabled]\nenabled = false\n",
        "e.toml",
    )
    .unwrap();
    registry().apply(&overrides).unwrap();
    slow().await.unwrap();
    let (done, third) = tokio::sync::oneshot::channel();
    done.send(()).unwrap();
    held(third).await.unwrap();
    assert!(
        !registry()
            .policies()
            .into_iter()
            .find(|p| p.name == "cfg-bulkhead-disabled")
            .unwrap()
            .enabled
    );
    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
    registry().apply(&Overrides::new()).unwrap();
}

/// Lets every other task of this current-thread runtime run until it waits.
async fn settle() {
    for _ in 0..16 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_bulkhead_limit_raised_and_lowered_under_load_drops_nobody() {
    let registry = Registry::new();
    let bulkhead = registry
        .bulkhead_or_register(
            "cfg-resize",
            &BulkheadConfig {
                max_concurrent_calls: 2,
                max_queue_size: 10,
                max_wait: None,
            },
        )
        .unwrap();
    let (admitted_tx, mut admitted) = tokio::sync::mpsc::unbounded_channel();
    let mut releases = Vec::new();
    let mut callers = Vec::new();
    for caller in 0..5 {
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        releases.push(Some(release));
        let (bulkhead, admitted_tx) = (bulkhead.clone(), admitted_tx.clone());
        callers.push(tokio::spawn(async move {
            let permit = bulkhead.acquire().await.expect("a caller was dropped");
            admitted_tx.send(caller).unwrap();
            let _ = released.await;
            drop(permit);
        }));
        settle().await;
    }
    let mut admitted_now = |expected: usize| {
        let mut got = Vec::new();
        while let Ok(caller) = admitted.try_recv() {
            got.push(caller);
        }
        assert_eq!(got.len(), expected, "admitted {got:?}");
        got
    };
    assert_eq!(admitted_now(2), vec![0, 1]);
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (2, 3));

    let resize = |limit: usize| {
        Overrides::new()
            .with_vars(
                "RESILIENCE",
                [(
                    "RESILIENCE__BULKHEAD__CFG_RESIZE__MAX_CONCURRENT_CALLS",
                    limit.to_string(),
                )],
            )
            .unwrap()
    };
    // Raised: two queued callers are admitted at once, in their order.
    registry.apply(&resize(4)).unwrap();
    settle().await;
    assert_eq!(admitted_now(2), vec![2, 3]);
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (4, 1));
    assert_eq!(bulkhead.max_concurrent_calls(), 4);

    // Lowered to 1: the four running keep running, the queued one keeps waiting.
    registry.apply(&resize(1)).unwrap();
    settle().await;
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (4, 1));
    for release in &mut releases[..3] {
        release.take().unwrap().send(()).unwrap();
        settle().await;
        admitted_now(0);
    }
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (1, 1));
    // The last of the four leaves: the queued caller gets the one slot.
    releases[3].take().unwrap().send(()).unwrap();
    settle().await;
    assert_eq!(admitted_now(1), vec![4]);
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (1, 0));
    releases[4].take().unwrap().send(()).unwrap();
    for caller in callers {
        caller.await.unwrap();
    }
    assert_eq!(bulkhead.in_flight(), 0);
    // Back to the attribute's configuration.
    registry.apply(&Overrides::new()).unwrap();
    assert_eq!(bulkhead.max_concurrent_calls(), 2);
    assert!(bulkhead.try_acquire().is_some());
}

#[test]
fn a_breaker_keeps_its_state_and_counts_through_an_override() {
    use resilience::CircuitState;
    let registry = Registry::new();
    let breaker = registry
        .circuit_breaker_or_register(
            "cfg-breaker-in-place",
            &CircuitBreakerConfig {
                max_failures: 3,
                ..CircuitBreakerConfig::DEFAULT
            },
        )
        .unwrap();
    for _ in 0..2 {
        breaker.try_acquire().unwrap().failure();
    }
    let raise = Overrides::from_toml(
        "[circuit_breaker.cfg_breaker_in_place]\nmax_failures = 4\n",
        "f.toml",
    )
    .unwrap();
    registry.apply(&raise).unwrap();
    assert_eq!(breaker.current_config().max_failures, 4);
    // Two failures were kept: two more open it (at 4), not three.
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), CircuitState::Closed);
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    let metrics = breaker.metrics();
    assert_eq!((metrics.failed, metrics.opened), (4, 1));
    assert_eq!(
        registry
            .policies()
            .into_iter()
            .find(|p| p.name == "cfg-breaker-in-place")
            .unwrap()
            .config,
        PolicyConfig::CircuitBreaker(CircuitBreakerConfig {
            max_failures: 4,
            ..CircuitBreakerConfig::DEFAULT
        })
    );
    // Overrides removed: the attribute's configuration, still open.
    registry.apply(&Overrides::new()).unwrap();
    assert_eq!(breaker.current_config().max_failures, 3);
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[bulkhead(name = "cfg-reported-once")]
async fn reported_once() -> Result<(), ResilienceError> {
    Ok(())
}

#[tokio::test]
async fn a_bad_value_for_a_policy_in_use_is_reported_once() {
    // In use: both the declaration and the registered bulkhead check the override.
    reported_once().await.unwrap();
    let bad = Overrides::from_toml(
        "[bulkhead.cfg_reported_once]\nmax_concurrent_calls = 0\n",
        "once.toml",
    )
    .unwrap();
    let message = resilience::registry().apply(&bad).unwrap_err().to_string();
    assert_eq!(message.matches("once.toml:2").count(), 1, "{message}");
}

#[test]
fn a_mode_change_on_a_live_breaker_starts_afresh_under_the_new_rule() {
    use resilience::CircuitState;
    let registry = Registry::new();
    let breaker = registry
        .circuit_breaker_or_register(
            "cfg-breaker-mode",
            &CircuitBreakerConfig {
                max_failures: 3,
                ..CircuitBreakerConfig::DEFAULT
            },
        )
        .unwrap();
    for _ in 0..2 {
        breaker.try_acquire().unwrap().failure();
    }
    // Count mode → rate mode: the two failures are forgotten, the rate rule applies at once.
    let rate = Overrides::from_toml(
        "[circuit_breaker.cfg_breaker_mode]\nfailure_rate = 0.5\nwindow = 4\nmin_calls = 4\n",
        "f.toml",
    )
    .unwrap();
    registry.apply(&rate).unwrap();
    assert_eq!(breaker.current_config().failure_rate, Some(0.5));
    assert_eq!(breaker.metrics().failed, 0, "counts reset by a mode change");
    assert_eq!(breaker.state(), CircuitState::Closed);
    // Under count mode (max 3) a third failure would open it; under the rate rule three
    // outcomes are below min_calls = 4.
    breaker.try_acquire().unwrap().failure();
    breaker.try_acquire().unwrap().success();
    breaker.try_acquire().unwrap().success();
    assert_eq!(breaker.state(), CircuitState::Closed);
    // The fourth outcome completes the window: 2 failures of 4 = 0.5, open.
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    // Back to count mode: closed again, counting from zero.
    registry.apply(&Overrides::new()).unwrap();
    assert_eq!(breaker.current_config().failure_rate, None);
    assert_eq!(breaker.state(), CircuitState::Closed);
    for _ in 0..2 {
        breaker.try_acquire().unwrap().failure();
    }
    assert_eq!(breaker.state(), CircuitState::Closed);
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[retry(name = "cfg-watch-retry", max_retries = 1)]
async fn watched() -> Result<(), ResilienceError> {
    Ok(())
}

fn watched_retries() -> u32 {
    match listed_config(PolicyKind::Retry, "cfg-watch-retry") {
        PolicyConfig::Retry(config) => config.max_retries,
        other => panic!("{other:?}"),
    }
}

/// The next event about `source` that `wanted` accepts, within a wall-clock deadline.
async fn next_event_about(
    events: &mut tokio::sync::broadcast::Receiver<resilience::events::Event>,
    source: &str,
    wanted: impl Fn(&resilience::events::Event) -> bool,
) -> resilience::events::Event {
    use resilience::events::Event;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("the watch reacted within 20 s")
            .expect("the event stream is open");
        let about_source = match &event {
            Event::ConfigReloaded { source: s } | Event::ConfigReloadFailed { source: s, .. } => {
                s == source
            }
            _ => false,
        };
        if about_source && wanted(&event) {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_file_is_reapplied_when_it_changes_and_a_broken_one_changes_nothing() {
    use resilience::events::Event;
    let _only_us = PROCESS_WIDE.lock().await;
    watched().await.unwrap();
    let file = TempFile::new("[retry.cfg-watch-retry]\nmax_retries = 2\n");
    let source = file.path.display().to_string();
    let guard = resilience::config::watch(&file.path, "RESILIENCE_WATCH_TEST").unwrap();
    assert_eq!(watched_retries(), 2, "applied at once");

    let mut events = registry().subscribe();
    file.replace("[retry.cfg-watch-retry]\nmax_retries = 6\n");
    next_event_about(&mut events, &source, |e| {
        matches!(e, Event::ConfigReloaded { .. })
    })
    .await;
    assert_eq!(watched_retries(), 6);

    file.replace("[retry.cfg-watch-retry]\nmax_retries = \n");
    let failed = next_event_about(&mut events, &source, |e| {
        matches!(e, Event::ConfigReloadFailed { .. })
    })
    .await;
    let Event::ConfigReloadFailed { error, .. } = failed else {
        unreachable!()
    };
    assert!(error.contains("resilience.toml:2"), "{error}");
    assert_eq!(watched_retries(), 6, "the last good configuration stays");

    // Out of range: refused by validation, also nothing changes.
    file.replace("[retry.cfg-watch-retry]\nmax_retries = 100000\n");
    next_event_about(&mut events, &source, |e| {
        matches!(e, Event::ConfigReloadFailed { .. })
    })
    .await;
    assert_eq!(watched_retries(), 6);

    drop(guard);
    registry().apply(&Overrides::new()).unwrap();
    assert_eq!(watched_retries(), 1);
}

#[test]
fn watching_a_broken_file_fails_at_once_and_applies_nothing() {
    let file = TempFile::new("[retry.cfg-watch-broken\nmax_retries = 2\n");
    let error = resilience::config::watch(&file.path, "RESILIENCE_WATCH_TEST").unwrap_err();
    assert!(
        matches!(error, OverrideError::Parse { line: 1, .. }),
        "{error:?}"
    );
}
