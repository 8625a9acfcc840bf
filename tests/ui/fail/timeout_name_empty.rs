//! A timeout's `name` cannot be empty, in either form of the attribute.
use resilience::{ResilienceError, timeout};

#[timeout("500ms", name = "")]
async fn get(id: u64) -> Result<u64, ResilienceError> {
    Ok(id)
}

#[timeout(duration = "500ms", name = "")]
async fn put(id: u64) -> Result<u64, ResilienceError> {
    Ok(id)
}

fn main() {}
