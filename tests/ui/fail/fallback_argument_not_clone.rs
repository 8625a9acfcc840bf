//! Owned arguments are passed again to the fallback: they must be `Clone`.
use resilience::{ResilienceError, fallback};

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

async fn cached(request: Request) -> Result<u64, MyError> {
    Ok(request.id)
}

#[fallback(cached)]
async fn send(request: Request) -> Result<u64, MyError> {
    Ok(request.id)
}

fn main() {}
