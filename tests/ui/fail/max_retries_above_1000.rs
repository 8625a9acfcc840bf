//! `max_retries` is at most 1000.
use resilience::{ResilienceError, retry};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[retry(max_retries = 1001)]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
