//! The attributes beside `#[tracing::instrument]`, written before or after them.

use std::sync::atomic::{AtomicU32, Ordering};

use resilience::{fallback, retry, timeout};

use super::TestError;

static INSTRUMENT_OUTSIDE_CALLS: AtomicU32 = AtomicU32::new(0);

#[tracing::instrument(skip(log))]
#[retry(
    max_retries = 2,
    backoff = "fixed",
    base_delay = "1ms",
    jitter_factor = 0.0
)]
#[timeout("1s")]
async fn instrumented_outside(key: String, log: &mut Vec<String>) -> Result<u32, TestError> {
    log.push(key);
    Err(TestError::Op(
        INSTRUMENT_OUTSIDE_CALLS.fetch_add(1, Ordering::SeqCst) + 1,
    ))
}

#[tokio::test(start_paused = true)]
async fn instrument_written_before_the_attributes_keeps_retries() {
    let mut log = Vec::new();
    assert_eq!(
        instrumented_outside("k".into(), &mut log).await,
        Err(TestError::Op(3))
    );
    assert_eq!(log, ["k", "k", "k"]);
}

static INSTRUMENT_INSIDE_CALLS: AtomicU32 = AtomicU32::new(0);

async fn logged_fallback(key: String, log: &mut Vec<String>) -> Result<u32, TestError> {
    log.push(format!("fallback {key}"));
    Ok(100)
}

#[retry(
    max_retries = 2,
    backoff = "fixed",
    base_delay = "1ms",
    jitter_factor = 0.0
)]
#[tracing::instrument(skip(log))]
#[fallback(logged_fallback)]
async fn instrumented_inside(key: String, log: &mut Vec<String>) -> Result<u32, TestError> {
    log.push(key);
    Err(TestError::Op(
        INSTRUMENT_INSIDE_CALLS.fetch_add(1, Ordering::SeqCst) + 1,
    ))
}

#[tokio::test(start_paused = true)]
async fn instrument_written_between_the_attributes_keeps_retries_and_fallback() {
    let mut log = Vec::new();
    assert_eq!(instrumented_inside("k".into(), &mut log).await, Ok(100));
    assert_eq!(log, ["k", "k", "k", "fallback k"]);
    assert_eq!(INSTRUMENT_INSIDE_CALLS.load(Ordering::SeqCst), 3);
}

struct Client {
    attempts: u32,
}

impl Client {
    #[tracing::instrument(skip(self))]
    #[retry(
        max_retries = 2,
        backoff = "fixed",
        base_delay = "1ms",
        jitter_factor = 0.0
    )]
    async fn send(&mut self, payload: u32) -> Result<u32, TestError> {
        self.attempts += 1;
        Err(TestError::Op(payload + self.attempts))
    }
}

#[tokio::test(start_paused = true)]
async fn instrumented_mut_self_method_is_retried() {
    let mut client = Client { attempts: 0 };
    assert_eq!(client.send(10).await, Err(TestError::Op(13)));
    assert_eq!(client.attempts, 3);
}
