//! `window` and `min_calls` only apply to the rate mode.
use resilience::{ResilienceError, circuit_breaker};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[circuit_breaker(window = 10, min_calls = 5)]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
