//! `#[retry = ..]` is not an attribute form we take.
use resilience::{ResilienceError, retry, timeout};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[timeout("1s")]
#[retry = 3]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
