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
    let shown = opaque(1).await?.to_string();
    let counted = opaque_iterator(2).await?.count();
    assert_eq!((shown.as_str(), counted), ("1", 2));
    Ok(())
}

fn main() {
    let _ = use_them();
}
