//! The unit goes right after the number: `"10s"`, not `"10 s"`.
use resilience::{ResilienceError, timeout};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[timeout("10 s")]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
