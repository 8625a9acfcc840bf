//! `max_wait` must be more than 0.
use resilience::{ResilienceError, bulkhead};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[bulkhead(max_wait = "0s")]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
