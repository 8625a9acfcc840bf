//! `min_calls` cannot exceed the default `window` (20).
use resilience::{ResilienceError, circuit_breaker};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[circuit_breaker(failure_rate = 0.5, min_calls = 21)]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
