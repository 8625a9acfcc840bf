//! The fallback is an `async fn`.
use resilience::{ResilienceError, fallback};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

fn cached(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

#[fallback(cached)]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
