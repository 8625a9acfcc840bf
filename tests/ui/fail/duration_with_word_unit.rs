//! Units are `ns`, `us`, `ms`, `s`, `m`, `h`, not words.
use resilience::{ResilienceError, timeout};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[timeout("10 sec")]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
