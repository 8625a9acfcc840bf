//! `#[discover]` on a function without a `ServiceClient` parameter.
use resilience::{ResilienceError, discover};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[discover("user-service")]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
