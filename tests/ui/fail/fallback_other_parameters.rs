//! The fallback takes the same parameters.
use resilience::{ResilienceError, fallback};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

async fn cached(id: u64, verbose: bool) -> Result<u64, MyError> {
    let _ = verbose;
    Ok(id)
}

#[fallback(cached)]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
