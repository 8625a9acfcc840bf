//! An unknown key of `#[bulkhead]`.
use resilience::{ResilienceError, bulkhead};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[bulkhead(max_concurrent = 4)]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
