//! A function without a return type has no error to report rejections through.
use resilience::{ResilienceError, retry};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[retry]
async fn get(id: u64) {
    let _ = id;
}

fn main() {}
