//! The error type behind a `Result` alias must take the framework's rejections too.
use resilience::timeout;

#[derive(Debug)]
pub struct StoreError;

type Result<T> = std::result::Result<T, StoreError>;

#[timeout("1s")]
async fn get(id: u64) -> Result<u64> {
    Ok(id)
}

fn main() {}
