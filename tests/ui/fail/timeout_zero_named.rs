//! A timeout must be more than 0, in the `duration = ..` form too.
use resilience::{ResilienceError, timeout};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[timeout(duration = "0ms")]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
