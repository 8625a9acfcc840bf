//! Mistakes in `#[discover]` and its signature are reported together, stacked or not.
use resilience::{ResilienceError, discover, retry};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[retry(max_retries = 1001)]
#[discover("user-service", balancer = "fastest", version = "^x")]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
