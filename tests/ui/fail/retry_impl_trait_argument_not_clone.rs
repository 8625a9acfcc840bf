//! An `impl Trait` argument under `#[retry]` must be `Clone` too.
use resilience::{ResilienceError, retry};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[retry]
async fn send(body: impl AsRef<[u8]>) -> Result<usize, MyError> {
    Ok(body.as_ref().len())
}

fn main() {}
