//! A generic argument under `#[retry]` needs a `Clone` bound.
use resilience::{ResilienceError, retry};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[retry]
async fn send<B: AsRef<[u8]>>(body: B) -> Result<usize, MyError> {
    Ok(body.as_ref().len())
}

fn main() {}
