//! `failure_if` must name a function in scope.
use resilience::{ResilienceError, circuit_breaker};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[circuit_breaker(failure_if = "is_down")]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
