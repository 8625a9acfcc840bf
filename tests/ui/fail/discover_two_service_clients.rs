//! Two `ServiceClient` parameters: `#[discover]` injects one.
use resilience::{ResilienceError, ServiceClient, discover};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[discover("user-service")]
async fn get(first: ServiceClient, second: ServiceClient) -> Result<u16, MyError> {
    Ok(first.instance().port + second.instance().port)
}

fn main() {}
