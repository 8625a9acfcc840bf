//! `max_concurrent_calls` must be at least 1.
use resilience::{ResilienceError, bulkhead};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[bulkhead(max_concurrent_calls = 0)]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
