//! `retry_if` is a `fn(&E) -> bool` on the function's error type.
use resilience::{ResilienceError, retry};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

fn is_transient(message: &str) -> bool {
    message.contains("again")
}

#[retry(retry_if = is_transient)]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
