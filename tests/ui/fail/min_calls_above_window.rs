//! `min_calls` cannot exceed `window`.
use resilience::{ResilienceError, circuit_breaker};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[circuit_breaker(failure_rate = 0.5, window = 10, min_calls = 11)]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
