//! Arguments are literals: the attribute reads them before a const has a value.
use resilience::{ResilienceError, circuit_breaker, retry};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

pub const MAX: u32 = 5;

#[circuit_breaker(max_failures = MAX)]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

#[retry(max_retries = limits::RETRIES, jitter_factor = JITTER * 2.0)]
async fn put(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

pub mod limits {
    pub const RETRIES: u32 = 3;
}
pub const JITTER: f64 = 0.1;

fn main() {}
