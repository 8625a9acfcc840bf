//! The function is emitted beside the error: callers compile, so the only error is ours (no
//! "cannot find function" cascading from it).
use resilience::{ResilienceError, circuit_breaker, retry};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[circuit_breaker(max_failure = 3)]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

struct Client;

impl Client {
    #[retry(max_retries = 1001)]
    async fn fetch(&self, id: u64) -> Result<u64, MyError> {
        Ok(id)
    }
}

async fn use_them() -> Result<u64, MyError> {
    let first = get(1).await?;
    let second = Client.fetch(2).await?;
    Ok(first + second)
}

fn main() {
    let _ = use_them();
}
