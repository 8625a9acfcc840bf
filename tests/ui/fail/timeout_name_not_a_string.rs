//! A timeout's `name` is a string literal; the duration is given once.
use resilience::{ResilienceError, timeout};

#[timeout("500ms", name = 5)]
async fn get(id: u64) -> Result<u64, ResilienceError> {
    Ok(id)
}

#[timeout("500ms", duration = "1s")]
async fn put(id: u64) -> Result<u64, ResilienceError> {
    Ok(id)
}

fn main() {}
