//! The attributes go on the impl's method, which has a body, not on the trait's declaration.
use resilience::{ResilienceError, retry};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

trait Store {
    #[retry]
    async fn load(&self, id: u64) -> Result<u64, MyError>;
}

fn main() {}
