//! The fallback returns the same type.
use resilience::{ResilienceError, fallback};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

async fn cached(id: u64) -> Result<String, MyError> {
    Ok(id.to_string())
}

#[fallback(cached)]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
