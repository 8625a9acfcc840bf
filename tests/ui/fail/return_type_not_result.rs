//! The return type must be a `Result`.
use resilience::{ResilienceError, retry};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[retry]
async fn get(id: u32) -> u32 {
    id
}

fn main() {}
