//! An unknown key of `#[timeout]`.
use resilience::{ResilienceError, timeout};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[timeout(durration = "1s")]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
