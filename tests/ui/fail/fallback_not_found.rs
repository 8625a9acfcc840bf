//! The fallback must exist.
use resilience::{ResilienceError, fallback};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[fallback(cached_user)]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
