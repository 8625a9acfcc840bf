//! A retry's `name` cannot be empty or only whitespace.
use resilience::{ResilienceError, retry};

#[retry(name = "  ", max_retries = 2)]
async fn get(id: u64) -> Result<u64, ResilienceError> {
    Ok(id)
}

fn main() {}
