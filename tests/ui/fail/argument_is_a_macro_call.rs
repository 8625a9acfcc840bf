//! Macros are not expanded in attribute arguments, named or positional.
use resilience::{ResilienceError, bulkhead, circuit_breaker, discover, retry, timeout};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[retry(max_retries = env!("MAX_RETRIES"))]
async fn get(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

#[circuit_breaker(name = concat!("user", "-service"), max_failures = 3)]
async fn put(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

#[bulkhead(std::env!("MAX_CONCURRENT_CALLS"))]
async fn post(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

#[timeout(env!("T"))]
async fn patch(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

#[discover(concat!("user", "-service"))]
async fn delete(client: resilience::ServiceClient, id: u64) -> Result<u64, MyError> {
    let _ = client;
    Ok(id)
}

fn main() {}
