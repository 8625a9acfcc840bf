//! Every mistake across stacked attributes is reported in one build.
use resilience::{ResilienceError, circuit_breaker, retry, timeout};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[circuit_breaker(max_failures = 0)]
#[retry(max_retries = 1001, jitter_factor = 2.0)]
#[timeout("0s")]
fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
