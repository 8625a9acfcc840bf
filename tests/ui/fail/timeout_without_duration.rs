//! `#[timeout]` needs a duration.
use resilience::{ResilienceError, timeout};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[timeout]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
