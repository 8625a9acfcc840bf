//! `half_open_allowed_calls` must be at least 1.
use resilience::{ResilienceError, circuit_breaker};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[circuit_breaker(half_open_allowed_calls = 0)]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
