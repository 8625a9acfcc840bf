//! `#[retry]`: a call that fails twice succeeds on the third attempt, with exponential backoff.
//! Run with `cargo run --example retry`.

use std::sync::atomic::{AtomicU32, Ordering};

use resilience::{ResilienceError, retry};
use tokio::time::Instant;

#[derive(Debug)]
#[allow(dead_code)] // the fields are shown through `Debug`
enum ApiError {
    Flaky,
    Rejected(ResilienceError),
}

impl From<ResilienceError> for ApiError {
    fn from(rejection: ResilienceError) -> Self {
        ApiError::Rejected(rejection)
    }
}

static ATTEMPTS: AtomicU32 = AtomicU32::new(0);

#[retry(
    max_retries = 4,
    base_delay = "50ms",
    backoff = "exponential",
    jitter_factor = 0.0
)]
async fn fetch(started: Instant, key: String) -> Result<String, ApiError> {
    let attempt = ATTEMPTS.fetch_add(1, Ordering::Relaxed) + 1;
    println!(
        "attempt {attempt} at {:>4} ms",
        started.elapsed().as_millis()
    );
    if attempt < 3 {
        return Err(ApiError::Flaky);
    }
    Ok(format!("value of {key}"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let outcome = fetch(Instant::now(), "greeting".to_owned()).await;
    println!("result: {outcome:?}");
}
