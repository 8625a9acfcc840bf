//! Every unknown key is reported, not only the first.
use resilience::{ResilienceError, retry};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[retry(max_retry = 3, base_dealy = "1ms")]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

fn main() {}
