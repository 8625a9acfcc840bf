//! `impl Trait` in the `Ok` type of the return type: `Result<impl Display, E>` is a `Result<T, E>`.
use std::fmt::Display;

use resilience::{ResilienceError, retry, timeout};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[timeout("1s")]
async fn opaque(id: u64) -> Result<impl Display, MyError> {
    Ok(id)
}

#[retry(base_delay = "1ms")]
async fn opaque_iterator(len: usize) -> Result<impl Iterator<Item = usize>, MyError> {
    Ok(0..len)
}

async fn use_them() -> Result<(), MyError> {
    opaque(1).await?;
    opaque_iterator(2).await?;
    Ok(())
}

fn main() {
    let _ = use_them();
}
