//! `#[discover]` without the service name.
use resilience::{ResilienceError, ServiceClient, discover};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[discover(balancer = "random")]
async fn get(client: ServiceClient) -> Result<u16, MyError> {
    Ok(client.instance().port)
}

fn main() {}
