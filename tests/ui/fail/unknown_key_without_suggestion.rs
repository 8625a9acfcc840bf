//! An unknown key far from every valid key lists them without a suggestion.
use resilience::{ResilienceError, circuit_breaker};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[circuit_breaker(colour = "red")]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
