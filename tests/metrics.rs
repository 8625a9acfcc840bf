//! The `metrics` feature (contract §8): every name and label, read back through `metrics-util`'s
//! debugging recorder, installed before the first call (handles are resolved once per policy).

use std::collections::BTreeMap;
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use resilience::{ResilienceError, bulkhead, circuit_breaker, retry, timeout};

#[circuit_breaker(name = "m-breaker", max_failures = 1)]
async fn breaker(fail: bool) -> Result<(), ResilienceError> {
    if fail {
        Err(ResilienceError::Operation("down".into()))
    } else {
        Ok(())
    }
}

#[retry(name = "m-retry", max_retries = 1, base_delay = "1ms")]
#[timeout("50ms", name = "m-timeout")]
async fn retried(sleep: bool) -> Result<(), ResilienceError> {
    if sleep {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}

#[bulkhead(name = "m-bulkhead", max_concurrent_calls = 1, max_queue_size = 0)]
async fn guarded(hold: Option<tokio::sync::oneshot::Receiver<()>>) -> Result<(), ResilienceError> {
    if let Some(release) = hold {
        let _ = release.await;
    }
    Ok(())
}

/// `name{label=value,...}` → value, for every metric recorded so far.
fn recorded(snapshotter: &metrics_util::debugging::Snapshotter) -> BTreeMap<String, String> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<String> = key
                .labels()
                .map(|label| format!("{}={}", label.key(), label.value()))
                .collect();
            labels.sort();
            let value = match value {
                DebugValue::Counter(n) => n.to_string(),
                DebugValue::Gauge(g) => g.into_inner().to_string(),
                DebugValue::Histogram(samples) => format!("{} samples", samples.len()),
            };
            (format!("{}{{{}}}", key.name(), labels.join(",")), value)
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn every_policy_records_the_contract_names_and_labels() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the first recorder of this binary");

    breaker(false).await.unwrap();
    assert!(breaker(true).await.is_err()); // opens it
    assert!(breaker(false).await.is_err()); // rejected
    retried(false).await.unwrap();
    retried(true).await.unwrap_err(); // times out twice: max_retries
    let (release, hold) = tokio::sync::oneshot::channel();
    let running = tokio::spawn(guarded(Some(hold)));
    tokio::task::yield_now().await;
    assert!(guarded(None).await.is_err()); // full
    release.send(()).unwrap();
    running.await.unwrap().unwrap();

    let got = recorded(&snapshotter);
    let expect = |key: &str, value: &str| {
        assert_eq!(
            got.get(key).map(String::as_str),
            Some(value),
            "{key} in {got:#?}"
        );
    };
    expect(
        "resilience_circuit_breaker_calls_total{name=m-breaker,result=success}",
        "1",
    );
    expect(
        "resilience_circuit_breaker_calls_total{name=m-breaker,result=failure}",
        "1",
    );
    expect(
        "resilience_circuit_breaker_calls_total{name=m-breaker,result=rejected}",
        "1",
    );
    expect(
        "resilience_circuit_breaker_opened_total{name=m-breaker}",
        "1",
    );
    expect(
        "resilience_circuit_breaker_state{name=m-breaker,state=open}",
        "1",
    );
    expect(
        "resilience_circuit_breaker_state{name=m-breaker,state=closed}",
        "0",
    );
    expect(
        "resilience_circuit_breaker_state{name=m-breaker,state=half_open}",
        "0",
    );
    expect(
        "resilience_retry_calls_total{name=m-retry,result=success,retried=false}",
        "1",
    );
    expect(
        "resilience_retry_calls_total{name=m-retry,result=max_retries,retried=true}",
        "1",
    );
    expect("resilience_retry_retries_total{name=m-retry}", "1");
    expect(
        "resilience_timeout_calls_total{name=m-timeout,timed_out=false}",
        "1",
    );
    expect(
        "resilience_timeout_calls_total{name=m-timeout,timed_out=true}",
        "2",
    );
    expect(
        "resilience_bulkhead_calls_total{name=m-bulkhead,result=accepted}",
        "1",
    );
    expect(
        "resilience_bulkhead_calls_total{name=m-bulkhead,result=rejected}",
        "1",
    );
    expect("resilience_bulkhead_running{name=m-bulkhead}", "0");
    // Every name is the contract's: nothing else under `resilience_`.
    for key in got.keys() {
        let name = key.split('{').next().unwrap();
        assert!(
            [
                "resilience_circuit_breaker_calls_total",
                "resilience_circuit_breaker_opened_total",
                "resilience_circuit_breaker_state",
                "resilience_retry_calls_total",
                "resilience_retry_retries_total",
                "resilience_timeout_calls_total",
                "resilience_bulkhead_calls_total",
                "resilience_bulkhead_running",
                "resilience_bulkhead_waiting",
                "resilience_bulkhead_wait_seconds",
            ]
            .contains(&name),
            "{key}"
        );
    }
}
