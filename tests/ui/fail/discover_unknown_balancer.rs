//! An unknown balancer: the message lists the valid ones.
use resilience::{ResilienceError, ServiceClient, discover};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[discover("user-service", balancer = "fastest")]
async fn get(client: ServiceClient) -> Result<u16, MyError> {
    Ok(client.instance().port)
}

fn main() {}
