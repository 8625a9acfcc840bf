//! The error type must take the framework's rejections: `From<ResilienceError>`.
use resilience::retry;

#[derive(Debug)]
pub enum ApiError {
    NotFound,
}

#[retry]
async fn get(id: u64) -> Result<u64, ApiError> {
    if id == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(id)
}

fn main() {}
