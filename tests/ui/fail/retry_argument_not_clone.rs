//! Owned arguments are passed again to each attempt: they must be `Clone`.
use resilience::{ResilienceError, retry};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

pub struct Request {
    pub id: u64,
}

#[retry]
async fn send(id: u64, request: Request) -> Result<u64, MyError> {
    Ok(id + request.id)
}

fn main() {}
