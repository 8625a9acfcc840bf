//! `reset_timeout` must be more than 0.
use resilience::{ResilienceError, circuit_breaker};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[circuit_breaker(reset_timeout = "0s")]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
