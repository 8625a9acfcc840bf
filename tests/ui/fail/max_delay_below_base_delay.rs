//! `max_delay` must be at least `base_delay`.
use resilience::{ResilienceError, retry};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[retry(base_delay = "1s", max_delay = "500ms")]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
