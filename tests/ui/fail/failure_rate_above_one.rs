//! `failure_rate` must be in (0, 1].
use resilience::{ResilienceError, circuit_breaker};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[circuit_breaker(failure_rate = 1.5)]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
