//! A qualified attribute is the same attribute as the bare one.
use resilience::{ResilienceError, retry};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[retry(max_retries = 1)]
#[resilience::retry(max_retries = 2)]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
