//! An unknown key of `#[retry]`.
use resilience::{ResilienceError, retry};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[retry(max_retry = 3)]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
