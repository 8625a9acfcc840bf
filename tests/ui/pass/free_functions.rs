//! Each attribute alone on a free `async fn`, with every key.
use resilience::{ResilienceError, bulkhead, circuit_breaker, fallback, retry, timeout};

#[derive(Debug)]
pub enum MyError {
    Down,
    Rejected(ResilienceError),
}

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError::Rejected(error)
    }
}

fn is_down(error: &MyError) -> bool {
    matches!(error, MyError::Down)
}

#[circuit_breaker]
async fn breaker_defaults(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

#[circuit_breaker(
    name = "pass-free-consecutive",
    max_failures = 3,
    reset_timeout = "30s",
    half_open_allowed_calls = 2,
    failure_if = is_down
)]
async fn breaker_consecutive(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

#[circuit_breaker(
    name = "pass-free-rate",
    failure_rate = 0.5,
    window = 10,
    min_calls = 4,
    reset_timeout = "1m",
    failure_if = is_down
)]
async fn breaker_rate(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

#[circuit_breaker(failure_rate = 1.0)]
async fn breaker_rate_default_window() -> Result<(), MyError> {
    Ok(())
}

#[retry]
async fn retry_defaults(name: String) -> Result<String, MyError> {
    Ok(name)
}

#[retry(
    max_retries = 5,
    backoff = "linear",
    base_delay = "50ms",
    max_delay = "1s",
    jitter_factor = 0.25,
    max_duration = "10s",
    retry_if = is_down
)]
async fn retry_every_key(name: String) -> Result<String, MyError> {
    Ok(name)
}

#[retry(max_retries = 0, backoff = "fixed", jitter_factor = 0.0)]
async fn retry_never(name: String) -> Result<String, MyError> {
    Ok(name)
}

#[retry(max_retries = 1000, backoff = "exponential", jitter_factor = 1.0)]
async fn retry_upper_bounds() -> Result<(), MyError> {
    Ok(())
}

#[timeout("500ms")]
async fn timeout_positional() -> Result<(), MyError> {
    Ok(())
}

#[timeout(duration = "1s")]
async fn timeout_named() -> Result<(), MyError> {
    Ok(())
}

#[bulkhead]
async fn bulkhead_defaults() -> Result<(), MyError> {
    Ok(())
}

#[bulkhead(
    name = "pass-free-bulkhead",
    max_concurrent_calls = 4,
    max_queue_size = 0,
    max_wait = "250ms"
)]
async fn bulkhead_every_key() -> Result<(), MyError> {
    Ok(())
}

#[fallback(cached)]
async fn with_fallback(id: u64, name: String) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(name)
}

async fn cached(id: u64, name: String) -> Result<String, MyError> {
    Ok(format!("cached {name}#{id}"))
}

mod backup {
    use super::MyError;

    pub(crate) async fn cached(id: u64) -> Result<u64, MyError> {
        Ok(id)
    }
}

#[resilience::fallback(backup::cached)]
async fn with_fallback_in_module(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {
    let _ = (
        breaker_defaults(1),
        breaker_consecutive(1),
        breaker_rate(1),
        breaker_rate_default_window(),
        retry_defaults(String::new()),
        retry_every_key(String::new()),
        retry_never(String::new()),
        retry_upper_bounds(),
        timeout_positional(),
        timeout_named(),
        bulkhead_defaults(),
        bulkhead_every_key(),
        with_fallback(1, String::new()),
        with_fallback_in_module(1),
    );
    let _ = MyError::Rejected(ResilienceError::CircuitOpen {
        name: String::new(),
    });
}
