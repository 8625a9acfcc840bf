//! An unknown key of `#[circuit_breaker]` lists the valid keys and suggests the nearest.
use resilience::{ResilienceError, circuit_breaker};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[circuit_breaker(max_failure = 3)]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
