//! `max_failures` (consecutive mode) and `failure_rate` (rate mode) exclude each other.
use resilience::{ResilienceError, circuit_breaker};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[circuit_breaker(max_failures = 5, failure_rate = 0.5)]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
