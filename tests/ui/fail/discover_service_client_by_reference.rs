//! A `ServiceClient` taken by reference: `#[discover]` injects an owned one per attempt.
use resilience::{ResilienceError, ServiceClient, discover};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[discover("user-service")]
async fn get(client: &ServiceClient) -> Result<u16, MyError> {
    Ok(client.instance().port)
}

fn main() {}
